"""Turn a rendered DiG dataset split into trl GRPO rows.

Each row: ``prompt`` (conversational: one user turn with two image parts, before then after,
and the DiG instruction; the count of differences is stated in the stages listed in
``train.count_hint_stages``), ``images`` ([before, after]), and the reward columns ``boxes``,
``width``, ``height``. trl attaches the images to the image parts itself.
"""

from __future__ import annotations

from pathlib import Path

from dig_kit.config import ConfigError, KitConfig
from dig_kit.prompts import chat_messages, dig_prompt


def check_dataset_dir(data_dir: str | Path, subset: str) -> Path:
    """Fail early, before any model is loaded, when the rendered data is missing or wrong."""
    root = Path(data_dir)
    if not (root / "README.md").exists() or not (root / "config.yaml").exists():
        raise ConfigError(f"{root}: not a dig_kit dataset directory (render one with `dig-kit render --out {root}`)")
    if not list((root / subset).glob("*/metadata.jsonl")):
        raise ConfigError(f"{root}: has no rendered {subset!r} subset (run `dig-kit render --subset {subset} --out {root}`)")
    return root


def load_split(data_dir: str | Path, subset: str):
    import datasets

    root = check_dataset_dir(data_dir, subset)
    return datasets.load_dataset(str(root), split=subset, cache_dir=str(root / ".hf_cache"))


def to_grpo_rows(split, count_hint: bool):
    """Map a rendered split to trl rows (lazy ``datasets.map``; images stay PIL images)."""

    def convert(row):
        text = dig_prompt(row["num_differences"] if count_hint else None)
        return {"prompt": chat_messages(text, 2), "images": [row["before"], row["after"]]}

    keep = {"boxes", "width", "height", "id", "num_differences"}
    return split.map(convert, remove_columns=[c for c in split.column_names if c not in keep])


def stage_dataset(cfg: KitConfig, data_dir: str | Path, stage: int):
    subset = cfg.train.stage_subsets[stage - 1]
    return to_grpo_rows(load_split(data_dir, subset), count_hint=stage in cfg.train.count_hint_stages)
