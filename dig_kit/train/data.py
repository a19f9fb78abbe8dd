"""Turn rendered DiG data (and TWIN data) into trl GRPO rows.

Each row: ``prompt`` (conversational: one user turn with two image parts, before then after,
and the DiG instruction; the count of differences is stated in the stages listed in
``train.count_hint_stages``), ``images`` ([before, after]), and the reward columns ``boxes``,
``width``, ``height``. trl attaches the images to the image parts itself.
"""

from __future__ import annotations

from pathlib import Path

from dig_kit.config import ConfigError, KitConfig
from dig_kit.prompts import chat_messages, dig_prompt

TWIN_COLUMNS = ("images", "question", "answer")


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


def load_twin_split(path: str | Path, split: str = "train"):
    """TWIN rows from a `dig-kit render-twin` directory or a local copy of the published TWIN
    pairs / FGVQA files as a Hugging Face dataset folder (columns: images list, question,
    answer, question type, source); a missing path or column is a clear error."""
    import datasets

    root = Path(path)
    if not root.exists():
        raise ConfigError(f"TWIN data not found at {root}: render it with `dig-kit render-twin --out {root}` or point "
                          "to a local copy of the TWIN pairs (a Hugging Face dataset folder)")
    try:
        if (root / "dataset_dict.json").exists() or (root / "dataset_info.json").exists():
            ds = datasets.load_from_disk(str(root))
        else:
            ds = datasets.load_dataset(str(root), cache_dir=str(root / ".hf_cache"))
    except Exception as e:  # noqa: BLE001 - name the path and the format we expected
        raise ConfigError(f"{root}: not a readable Hugging Face dataset folder ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise ConfigError(f"{root}: has no {split!r} split (splits: {list(ds)})")
        ds = ds[split]
    missing = [c for c in TWIN_COLUMNS if c not in ds.column_names]
    if missing:
        raise ConfigError(f"{root}: TWIN rows need columns {list(TWIN_COLUMNS)} (plus question_type, source); "
                          f"missing {missing}")
    return ds


def to_twin_rows(split):
    """trl rows of TWIN items: the item's question with one image part per image; ``answer``."""

    def convert(row):
        return {"prompt": chat_messages(row["question"], len(row["images"])), "images": row["images"],
                "answer": str(row["answer"]).strip().lower()}

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
