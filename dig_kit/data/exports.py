"""Exports of rendered data to the formats other tools read.

- :func:`export_easyr1`: DiG pairs as the parquet files EasyR1's RL data loader reads
  (``problem`` with one ``<image>`` per image, ``answer`` = the reward's ground truth,
  ``images``), one file per split.
- :func:`export_fgvqa`: held-out TWIN items as the FGVQA JSONL the evaluation scores.
"""

from __future__ import annotations

import json
from pathlib import Path

from dig_kit.config import ConfigError, load_config
from dig_kit.data.reader import METADATA, check_dataset_dir, read_rows


def export_easyr1(data_dir: str | Path, out_dir: str | Path, subsets: list[str] | None = None) -> dict[str, Path]:
    """Write ``OUT/<subset>.parquet`` for EasyR1 (the columns of its example config
    ``examples/config.yaml``: ``data.prompt_key: problem``, ``answer_key: answer``,
    ``image_key: images``; its ``DataConfig`` default prompt key is ``prompt``, so keep
    ``data.prompt_key: problem`` in the config): ``problem`` = ``<image><image>`` + the DiG
    prompt (the count of differences stated for the subsets of ``train.count_hint_stages``,
    as in training), ``answer`` = :func:`dig_kit.rewards.easyr1.make_ground_truth` (what
    ``dig_kit/rewards/easyr1.py:compute_score`` reads), ``images`` = [before, after] as PNG
    bytes, plus ``id`` and ``num_differences``. Returns ``{subset: path}``."""
    import datasets

    from dig_kit.prompts import dig_prompt
    from dig_kit.rewards.easyr1 import make_ground_truth

    root = Path(data_dir)
    if not (root / "config.yaml").exists():
        raise ConfigError(f"{root}: not a dig_kit dataset directory (no config.yaml)")
    cfg = load_config(str(root / "config.yaml"))
    hinted = {cfg.train.stage_subsets[i - 1] for i in cfg.train.count_hint_stages}
    names = subsets or [s for s in cfg.data.subsets if any((root / s).glob(f"*/{METADATA}"))]
    for s in names:
        check_dataset_dir(root, s)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "problem": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "num_differences": datasets.Value("int32"),
            "images": datasets.Sequence(datasets.Image()),
        }
    )
    written = {}
    for s in names:
        rows = []
        for meta in sorted((root / s).glob(f"*/{METADATA}")):
            for r in read_rows(meta):
                prompt = dig_prompt(r["num_differences"] if s in hinted else None)
                rows.append(
                    {
                        "id": r["id"],
                        "problem": "<image><image>" + prompt,
                        "answer": make_ground_truth(r["boxes"], r["width"], r["height"]),
                        "num_differences": r["num_differences"],
                        "images": [
                            {"bytes": (meta.parent / r[f"{k}_file_name"]).read_bytes(), "path": None}
                            for k in ("before", "after")
                        ],
                    }
                )
        rows.sort(key=lambda r: r["id"])
        path = out / f"{s}.parquet"
        datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))
        written[s] = path
    return written


def export_fgvqa(
    twin_dir: str | Path, splits: tuple[str, ...] = ("eval", "eval_multi"), source: str = "dig_kit-synthetic"
) -> Path:
    """Write ``fgvqa.jsonl`` in ``twin_dir``: its held-out splits in the FGVQA format the
    evaluation reads (id, images, answer, type pair/multi, source), so synthetic TWIN items are
    scored exactly like the published benchmark."""
    root = Path(twin_dir)
    lines = []
    for split in splits:
        for meta in sorted((root / split).glob(f"*/{METADATA}")):
            for row in read_rows(meta):
                lines.append(
                    {
                        "id": row["id"],
                        "images": [str(meta.parent.relative_to(root) / f) for f in row["file_names"]],
                        "answer": row["answer"],
                        "type": row["question_type"],
                        "source": source,
                        "question": row["question"],
                    }
                )
    if not lines:
        raise FileNotFoundError(f"{root}: no rendered {list(splits)} items to export (run `dig-kit render-twin` first)")
    path = root / "fgvqa.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path
