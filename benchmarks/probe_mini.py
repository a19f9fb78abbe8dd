"""What a mini checkpoint perceives: is an object's colour in its image tokens, and does the
language model read it? (The ``mini`` profile's diagnosis; README "The method in miniature".)

For one or more checkpoints (e.g. ``runs/mini/warm_start/grounding/final``, ``.../dig/final``)
and, as the baseline in the same run, a freshly built mini model (random init, same
architecture), it prints:

- **colour probe**: a linear classifier (8 colours) fitted on the image tokens at the centre of
  every object of ``--train-images`` training images (subset ``stage1``, image *before*) and
  scored on the held-out ``eval`` images: how much of the colour the vision tower hands over.
  Chance is about 1/8.
- **yes/no questions** (:func:`dig_kit.train.warmstart.vqa_examples`, balanced, on held-out
  pairs): "is there a <colour> <shape> in the image / in both images?", answered by comparing
  the model's log-probabilities of the two complete answers: whether the language model uses it;
  for one image also after the thought the model writes itself (greedy, up to ``</think>``),
  as Qwen3-VL-Thinking answers, and with the question before the image (as the pretraining's
  ``yes_no_first`` asks it).
- **TWIN**: the mean probability of "yes" on held-out TWIN items, by item kind (positive, hard
  negative, easy negative): a model that perceives nothing gives every kind the same.

    python benchmarks/probe_mini.py --runs runs/mini runs/mini/warm_start/grounding/final runs/mini/warm_start/dig/final

``--runs`` is a mini reproduce's run dir (its ``data/`` and ``twin/``). CPU, about a minute per
checkpoint at the defaults.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np

from dig_kit.models.perception import (  # noqa: F401
    answer_inputs,
    answer_logprob,
    colour_samples,
    image_tokens,
    linear_probe,
    p_yes,
    thought_text,
)


def probe(path, runs: Path, train_images: int, eval_pairs: int, twin_items: int) -> dict:
    from dig_kit.data.reader import load_split
    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.scenes.attributes import COLORS
    from dig_kit.train.warmstart import vqa_examples

    model, processor = load_model_and_processor(path, dtype="fp32")
    model.eval()
    colours = list(COLORS)
    train = load_split(runs / "data", "stage1")
    held = load_split(runs / "data", "eval")
    x_tr, y_tr = colour_samples(model, processor, [train[i] for i in range(min(train_images, len(train)))], colours)
    x_te, y_te = colour_samples(model, processor, [held[i] for i in range(min(eval_pairs, len(held)))], colours)
    out = {"colour_probe": linear_probe(x_tr, y_tr, x_te, y_te, len(colours)), "colour_objects": [len(y_tr), len(y_te)]}

    rng = random.Random(0)
    correct = {
        "one image": [],
        "both images": [],
        "one image, after its own thought": [],
        "one image, question first": [],
    }
    for i in range(min(eval_pairs, len(held))):
        row = held[i]
        row = {**row, "before": row["before"].convert("RGB"), "after": row["after"].convert("RGB")}
        for kind, ex in zip(("one image", "both images"), vqa_examples(row, rng)):
            truth = ex["completion"] == "<answer>yes</answer>"
            correct[kind].append((p_yes(model, processor, ex["text"], ex["images"]) > 0.5) == truth)
            if kind == "one image":
                thought = thought_text(model, processor, ex["text"], ex["images"])
                p = p_yes(model, processor, ex["text"], ex["images"], thought)
                correct["one image, after its own thought"].append((p > 0.5) == truth)
                p = p_yes(model, processor, ex["text"], ex["images"], question_first=True)
                correct["one image, question first"].append((p > 0.5) == truth)
    out["vqa_accuracy"] = {k: float(np.mean(v)) for k, v in correct.items()}

    twin_dir = runs / "twin"
    if twin_items and (twin_dir / "eval").exists():
        twin = load_split(twin_dir, "eval")
        by_kind: dict[str, list[float]] = {}
        for i in range(min(twin_items, len(twin))):
            item = twin[i]
            p = p_yes(model, processor, item["question"], [im.convert("RGB") for im in item["images"]])
            by_kind.setdefault(item["candidate_kinds"][0], []).append(p)
        out["twin_p_yes"] = {k: (round(float(np.mean(v)), 3), len(v)) for k, v in sorted(by_kind.items())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="checkpoint dirs (the kit's layout)")
    ap.add_argument("--runs", type=Path, default=Path("runs/mini"), help="a mini run dir (data/, twin/)")
    ap.add_argument("--train-images", type=int, default=300)
    ap.add_argument("--eval-pairs", type=int, default=100)
    ap.add_argument("--twin-items", type=int, default=60)
    args = ap.parse_args()
    from dig_kit.config import ConfigError
    from dig_kit.data.reader import check_dataset_dir
    from dig_kit.models.mini import build_mini_model

    try:
        for subset in ("stage1", "eval"):
            check_dataset_dir(args.runs / "data", subset)
    except ConfigError as e:
        ap.error(str(e))
    missing = [m for m in args.models if not (Path(m) / "config.json").exists()]
    if missing:
        ap.error(f"not a checkpoint dir (no config.json): {', '.join(missing)}")
    with tempfile.TemporaryDirectory() as tmp:
        models = [("random init (same architecture, built now)", build_mini_model(Path(tmp) / "init"))]
        models += [(str(m), Path(m)) for m in args.models]
        print("chance: colour probe ~0.125, yes/no 0.5")
        for name, path in models:
            r = probe(path, args.runs, args.train_images, args.eval_pairs, args.twin_items)
            print(
                f"{name}\n  colour probe (held-out objects {r['colour_objects'][1]}): {r['colour_probe']:.3f}"
                f"\n  yes/no accuracy: "
                + ", ".join(f"{k} {v:.3f}" for k, v in r["vqa_accuracy"].items())
                + (f"\n  TWIN p(yes) by kind (mean, items): {r['twin_p_yes']}" if "twin_p_yes" in r else "")
            )


if __name__ == "__main__":
    main()
