"""Turn rendered DiG data (and TWIN data) into trl GRPO rows.

Each row: ``prompt`` (conversational: one user turn with two image parts, before then after,
and the DiG instruction; the count of differences is stated in the stages listed in
``train.count_hint_stages``), ``images`` ([before, after]), and the reward columns ``boxes``,
``width``, ``height``. trl attaches the images to the image parts itself.
"""

from __future__ import annotations

from pathlib import Path

from dig_kit.config import KitConfig
from dig_kit.data.reader import load_split, load_twin_split
from dig_kit.prompts import chat_messages, dig_prompt


def to_grpo_rows(split, count_hint: bool):
    """Map a rendered split to trl rows (lazy ``datasets.map``; images stay PIL images)."""

    def convert(row):
        text = dig_prompt(row["num_differences"] if count_hint else None)
        return {"prompt": chat_messages(text, 2), "images": [row["before"], row["after"]]}

    keep = {"boxes", "width", "height", "id", "num_differences"}
    return split.map(convert, remove_columns=[c for c in split.column_names if c not in keep])


def to_twin_rows(split):
    """trl rows of TWIN items: the item's question with one image part per image; ``answer``."""

    def convert(row):
        return {
            "prompt": chat_messages(row["question"], len(row["images"])),
            "images": row["images"],
            "answer": str(row["answer"]).strip().lower(),
        }

    keep = {"id", "answer", "images"}
    return split.map(convert, remove_columns=[c for c in split.column_names if c not in keep])


def _with_columns(ds, columns: dict):
    for name, value in columns.items():
        if name not in ds.column_names:
            ds = ds.add_column(name, [value] * len(ds))
    return ds


def mix_datasets(dig, twin, twin_fraction: float, seed: int = 0):
    """DiG rows and TWIN rows together, ``twin_fraction`` of them TWIN (sampled with a fixed
    seed); every row keeps the columns of both kinds (None where not its own), so each row is
    scored by its own reward and the other returns None."""
    import datasets
    import numpy as np

    n_twin = max(1, round(len(dig) * twin_fraction / (1 - twin_fraction)))
    picks = np.random.default_rng(seed).choice(len(twin), size=n_twin, replace=n_twin > len(twin))
    twin = twin.select(picks.tolist())
    dig = _with_columns(dig.remove_columns([c for c in dig.column_names if c == "num_differences"]), {"answer": None})
    twin = _with_columns(twin, {"boxes": None, "width": None, "height": None})
    twin = twin.select_columns(dig.column_names)

    def typed(a, b):  # the column's real type: the one that is not all-None
        return b if isinstance(a, datasets.Value) and a.dtype == "null" else a

    features = datasets.Features({c: typed(dig.features[c], twin.features[c]) for c in dig.column_names})
    return datasets.concatenate_datasets([dig.cast(features), twin.cast(features)]).shuffle(seed=seed)


def stage_dataset(cfg: KitConfig, data_dir: str | Path, stage: int):
    """Training rows of a stage: DiG (``train.task=dig``), TWIN (``twin``: ``data_dir`` holds
    TWIN data) or both (``mix``: DiG from ``data_dir``, TWIN from ``train.twin_data``)."""
    task = cfg.train.task
    if task == "twin":
        return to_twin_rows(load_twin_split(data_dir, "train"))
    subset = cfg.train.stage_subsets[stage - 1]
    dig = to_grpo_rows(load_split(data_dir, subset), count_hint=stage in cfg.train.count_hint_stages)
    if task == "mix":
        twin = to_twin_rows(load_twin_split(cfg.train.twin_data, "train"))
        return mix_datasets(dig, twin, cfg.train.mix_twin_fraction, cfg.train.seed)
    return dig
