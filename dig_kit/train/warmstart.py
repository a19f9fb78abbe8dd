"""Supervised warm start of a model built from scratch: what the paper's pretrained Qwen3-VL
already knows, taught first and cheaply, with trl's ``SFTTrainer`` (the ``mini`` profile).

Phase ``grounding``: one rendered image and :data:`dig_kit.prompts.GROUNDING_PROMPT`; the
target is every object's box (the per-object annotations ``objects_before`` /
``objects_after``, ``bbox_full``), left to right. Qwen3-VL arrives able to do this.
Phase ``dig``: the DiG prompt (the count stated for a ``warm_start.count_hint_share`` of the
pairs, as in stages 1-2; not for the others, as in stage 3 and the held-out test) on the pairs of the
training subsets; the target is the ground-truth boxes. A share of grounding rows is mixed in
so the first skill is kept.

The grounding phase also mixes in two yes/no questions per pair (:func:`vqa_examples`, with
``warm_start.vqa``): general VQA in ``<answer>`` tags, so the model can answer TWIN's question
format without ever having seen a same-or-not question.

Both answer as the DiG-trained model does: an empty thought, then the JSON list
(``</think>\\n\\n[[x1, y1, x2, y2], ...]``). With ``warm_start.augment`` each example is also
used mirrored left-right and (DiG) with before and after swapped, boxes transformed exactly: a
mirrored box is ``[W - x2, y1, W - x1, y2]``; swapping turns an add into a remove of the same
box and the reverse, and a changed object is boxed where it is in the new first image
(``bbox_full_after``). The held-out ``eval`` split is never read.

Layout: ``OUT/<phase>/final`` (weights, processor, config.yaml), ``OUT/<phase>/metrics.jsonl``
(loss every 10 steps, or more often in a short phase), checkpoints in
``OUT/<phase>/checkpoint-N``. A finished phase is not trained again; a killed one resumes from its
last complete checkpoint; one writer under torchrun/accelerate
(:func:`dig_kit.train.grpo.save_final`).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from dig_kit.config import ConfigError, KitConfig, save_config
from dig_kit.prompts import (
    ANSWER_PREFIX,
    GROUNDING_PROMPT,
    VQA_BOTH_TEMPLATE,
    VQA_ONE_TEMPLATE,
    chat_messages,
    dig_prompt,
)

PHASES = ("grounding", "dig")


def format_boxes(boxes) -> str:
    """``[[x1, y1, x2, y2], ...]`` in whole pixels, sorted left to right (then top to bottom)."""
    rounded = sorted([int(round(float(v))) for v in b] for b in boxes)
    return "[" + ", ".join("[" + ", ".join(map(str, b)) + "]" for b in rounded) + "]"


def mirror_box(box, width: int) -> list[float]:
    """The box of the left-right mirrored image."""
    x1, y1, x2, y2 = box
    return [width - x2, y1, width - x1, y2]


def _mirror(image):
    from PIL import ImageOps

    return ImageOps.mirror(image)


def grounding_examples(row: dict, augment: bool) -> list[dict]:
    """``{"text", "images", "completion"}`` examples of single-image grounding: both images of a
    rendered pair, every object's full box; mirrored copies with ``augment``."""
    out = []
    for image, objects in ((row["before"], row["objects_before"]), (row["after"], row["objects_after"])):
        boxes = [o["bbox_full"] for o in objects]
        out.append({"text": GROUNDING_PROMPT, "images": [image], "completion": format_boxes(boxes)})
        if augment:
            out.append(
                {
                    "text": GROUNDING_PROMPT,
                    "images": [_mirror(image)],
                    "completion": format_boxes([mirror_box(b, row["width"]) for b in boxes]),
                }
            )
    return out


def _things(objects) -> set[str]:
    return {f"{o['color']} {o['shape']}" for o in objects}


def vqa_examples(row: dict, rng: random.Random) -> list[dict]:
    """Two yes/no questions of a pair (general VQA, answered in ``<answer>`` tags): is there a
    <color> <shape> in the before image; in both images. Each is a yes or a no with
    probability 1/2 (a no names a colour-shape pair absent from the image, or from one of them)."""
    from dig_kit.scenes.attributes import COLORS, SHAPES

    every = sorted(f"{c} {s}" for c in COLORS for s in SHAPES)
    one = _things(row["objects_before"])
    both = one & _things(row["objects_after"])
    out = []
    for template, present, images in (
        (VQA_ONE_TEMPLATE, one, [row["before"]]),
        (VQA_BOTH_TEMPLATE, both, [row["before"], row["after"]]),
    ):
        absent = [t for t in every if t not in present]
        yes = bool(present) and (not absent or rng.random() < 0.5)
        thing = rng.choice(sorted(present) if yes else absent)
        out.append(
            {
                "text": template.format(thing=thing),
                "images": images,
                "completion": f"<answer>{'yes' if yes else 'no'}</answer>",
            }
        )
    return out


def swapped_boxes(row: dict) -> list[list[float]]:
    """Ground truth of the pair with before and after swapped: each difference boxed on the
    after image (an add becomes a remove of the same box, a remove an add, a changed object is
    boxed where the after image shows it)."""
    return [d.get("bbox_full_after") or d.get("bbox_full_before") or d["bbox"] for d in row["differences"]]


def dig_examples(row: dict, augment: bool, count_hint: bool) -> list[dict]:
    """Supervised DiG examples of a pair (the DiG prompt, before then after, the boxes); with
    ``augment`` also mirrored, swapped, and both."""
    text = dig_prompt(row["num_differences"] if count_hint else None)
    before, after, w = row["before"], row["after"], row["width"]
    out = [{"text": text, "images": [before, after], "completion": format_boxes(row["boxes"])}]
    if augment:
        swapped = swapped_boxes(row)
        out += [
            {
                "text": text,
                "images": [_mirror(before), _mirror(after)],
                "completion": format_boxes([mirror_box(b, w) for b in row["boxes"]]),
            },
            {"text": text, "images": [after, before], "completion": format_boxes(swapped)},
            {
                "text": text,
                "images": [_mirror(after), _mirror(before)],
                "completion": format_boxes([mirror_box(b, w) for b in swapped]),
            },
        ]
    return out


def phase_examples(cfg: KitConfig, data_dir: str | Path, phase: str) -> list[dict]:
    """All examples of a phase from the warm start's training subsets (shuffled, seeded)."""
    from dig_kit.data.reader import load_split

    ws = cfg.warm_start
    rng = random.Random(ws.seed)
    grounding, dig = [], []
    for subset in ws.subsets:
        for row in load_split(data_dir, subset):
            row = {**row, "before": row["before"].convert("RGB"), "after": row["after"].convert("RGB")}
            grounding += grounding_examples(row, ws.augment)
            if ws.vqa:
                grounding += vqa_examples(row, rng)
            if phase == "dig" and row["num_differences"] > 0:
                dig += dig_examples(row, ws.augment, rng.random() < ws.count_hint_share)
    if phase == "grounding":
        examples = grounding
    else:
        share = ws.grounding_share
        n_ground = min(len(grounding), round(len(dig) * share / (1 - share))) if share > 0 else 0
        examples = dig + rng.sample(grounding, n_ground)
    rng.shuffle(examples)
    return examples


def sft_dataset(examples: list[dict], processor):
    """trl prompt-completion rows: ``prompt`` = the chat-templated user turn (image placeholders
    included, the template's opening ``<think>``), ``completion`` = answer + end of turn,
    ``images``. The images stay in memory and are attached on access (a ``datasets`` transform
    over row indices), so nothing is re-encoded; trl's vision collator builds pixels and labels
    (completion tokens only) per batch."""
    import datasets

    eos = processor.tokenizer.eos_token
    prompts = [
        processor.apply_chat_template(
            chat_messages(ex["text"], len(ex["images"])), add_generation_prompt=True, tokenize=False
        )
        for ex in examples
    ]

    def attach(batch):
        return {
            "prompt": [prompts[i] for i in batch["index"]],
            "completion": [ANSWER_PREFIX + examples[i]["completion"] + eos for i in batch["index"]],
            "images": [examples[i]["images"] for i in batch["index"]],
        }

    ds = datasets.Dataset.from_dict({"index": list(range(len(examples)))})
    ds.set_transform(attach)
    return ds


def phase_dir(out_dir: str | Path, phase: str) -> Path:
    return Path(out_dir) / phase


def check_phase(cfg: KitConfig, phase: str, data_dir: str | Path, init: str | Path) -> int:
    """Validate before anything heavy is loaded; return the phase's step count."""
    from dig_kit.data.reader import check_dataset_dir

    if phase not in PHASES:
        raise ConfigError(f"warm-start phase {phase!r}: choose from {PHASES}")
    for subset in cfg.warm_start.subsets:
        check_dataset_dir(data_dir, subset)
    if not (Path(init) / "config.json").exists():
        raise ConfigError(f"warm start: no model at {init} (build it first, e.g. dig_kit.models.mini.build_mini_model)")
    return cfg.warm_start.grounding_steps if phase == "grounding" else cfg.warm_start.dig_steps


def _callbacks(cfg: KitConfig, out: Path):
    from transformers import TrainerCallback

    class LossJSONL(TrainerCallback):
        def __init__(self):
            self.t = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs or not state.is_world_process_zero:
                return
            row = {
                "step": state.global_step,
                "loss": logs["loss"],
                "learning_rate": logs.get("learning_rate"),
                "elapsed_s": round(time.perf_counter() - self.t, 2),
            }
            if "mean_token_accuracy" in logs:
                row["token_accuracy"] = logs["mean_token_accuracy"]
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    from dig_kit.train.grpo import config_next_to_checkpoints

    return [LossJSONL(), config_next_to_checkpoints(cfg, out)]


def run_phase(
    cfg: KitConfig,
    phase: str,
    data_dir: str | Path,
    init: str | Path,
    out_dir: str | Path,
    callbacks: list | None = None,
) -> Path:
    """Train one warm-start phase from ``init``; return its ``final`` directory (``init`` itself
    when the phase has 0 steps). ``callbacks(phase, processor, out)`` may add transformers
    callbacks (e.g. held-out checks, :func:`dig_kit.paper.miniature.heldout_callbacks`)."""
    steps = check_phase(cfg, phase, data_dir, init)
    if steps == 0:
        print(f"warm start: phase {phase} has 0 steps, skipped")
        return Path(init)
    out = phase_dir(out_dir, phase)
    final = out / "final"
    if (final / "config.json").exists():
        print(f"warm start: phase {phase} already finished ({final}); delete it to train again")
        return final

    from trl import SFTConfig, SFTTrainer

    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.train.grpo import is_main_process, keep_metrics_until, last_complete_checkpoint, save_final

    ws = cfg.warm_start
    out.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        save_config(cfg, out / "config.yaml")
    model, processor = load_model_and_processor(init, dtype="fp32")
    dataset = sft_dataset(phase_examples(cfg, data_dir, phase), processor)
    import torch

    args = SFTConfig(
        output_dir=str(out),
        max_steps=steps,
        per_device_train_batch_size=ws.batch_size,
        learning_rate=ws.grounding_lr if phase == "grounding" else ws.dig_lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        weight_decay=0.0,
        max_grad_norm=1.0,
        logging_steps=max(1, min(10, steps // 5)),
        save_strategy="steps",
        save_steps=max(50, steps // 4),
        save_total_limit=1,
        report_to="none",
        seed=ws.seed,
        completion_only_loss=True,
        max_length=None,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        bf16=cfg.train.bf16,
        # trl's default is on; a small model needs no recompute
        gradient_checkpointing=cfg.train.gradient_checkpointing,
    )
    extra = callbacks(phase, processor, out) if callbacks else []
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=_callbacks(cfg, out) + list(extra),
    )
    last = last_complete_checkpoint(out)
    if last and trainer.accelerator.is_main_process:
        keep_metrics_until(out / "metrics.jsonl", int(Path(last).name.split("-")[-1]))
    trainer.accelerator.wait_for_everyone()
    trainer.train(resume_from_checkpoint=last)
    return save_final(trainer, cfg, processor, out)


def run_warm_start(
    cfg: KitConfig, data_dir: str | Path, init: str | Path, out_dir: str | Path, callbacks=None
) -> dict[str, Path]:
    """Phase ``grounding`` from ``init``, then phase ``dig`` from its result; return
    ``{"init": init, "grounding": ..., "dig": ...}`` (the weights after each phase)."""
    done = {"init": Path(init)}
    current = Path(init)
    for phase in PHASES:
        current = run_phase(cfg, phase, data_dir, current, out_dir, callbacks)
        done[phase] = current
    return done


def read_loss(out_dir: str | Path, phase: str, split: str = "train") -> list[dict]:
    """The logged rows of a phase (``[]`` before it ran): ``split="train"`` the loss rows,
    ``"eval"`` the held-out checks a callback wrote (``step``, ``benchmark``, metrics)."""
    path = phase_dir(out_dir, phase) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("split", "train") == split]
