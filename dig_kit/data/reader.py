"""Read rendered datasets: the metadata rows of each shard, which pairs are done.

Layout of a dataset directory (written by :mod:`dig_kit.data.writer`;
``datasets.load_dataset(DIR)`` loads it on its own, one split per subset, via the ``configs``
section of its README.md dataset card, which names each shard's ``metadata.parquet`` and
images)::

    DIR/
      README.md                       dataset card (splits, provenance)
      config.yaml                     the resolved KitConfig that made it
      stage1/shard-00000-of-00001/
        metadata.jsonl                one row per finished pair (appended, fsync'ed): the journal
        metadata.parquet              the same rows with explicit column types (dig_kit.data.schema),
                                      what `datasets` reads
        images/stage1-00000000_before.png, ..._after.png
"""

from __future__ import annotations

import json
from pathlib import Path

from dig_kit.config import ConfigError

METADATA = "metadata.jsonl"
METADATA_PARQUET = "metadata.parquet"
TWIN_COLUMNS = ("images", "question", "answer")


def read_rows(path: Path, repair: bool = False) -> list[dict]:
    """Rows of a metadata.jsonl; a torn last line (crash mid-write) is ignored, and cut off when ``repair``."""
    if not path.exists():
        return []
    data = path.read_bytes()
    rows, good_end = [], 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
        good_end += len(line)
    if repair and good_end != len(data):
        with open(path, "r+b") as f:
            f.truncate(good_end)
    return rows


def done_ids(subset_dir: Path) -> set[str]:
    return {r["id"] for m in subset_dir.glob(f"*/{METADATA}") for r in read_rows(m)}


def shard_name(index: int, count: int) -> str:
    return f"shard-{index:05d}-of-{count:05d}"


def check_dataset_dir(data_dir: str | Path, subset: str) -> Path:
    """Fail early, before any model is loaded, when the rendered data is missing or wrong."""
    root = Path(data_dir)
    if not (root / "README.md").exists() or not (root / "config.yaml").exists():
        raise ConfigError(f"{root}: not a dig_kit dataset directory (render one with `dig-kit render --out {root}`)")
    if not list((root / subset).glob(f"*/{METADATA}")):
        raise ConfigError(
            f"{root}: has no rendered {subset!r} subset (run `dig-kit render --subset {subset} --out {root}`)"
        )
    return root


def load_split(data_dir: str | Path, subset: str):
    """One subset as a Hugging Face dataset (what ``datasets.load_dataset(DIR)`` gives). A shard
    whose ``metadata.parquet`` lags its journal (a render killed mid-run) is an error naming it."""
    import datasets

    root = check_dataset_dir(data_dir, subset)
    if METADATA_PARQUET in (root / "README.md").read_text():
        from dig_kit.data.schema import stale_shards

        stale = stale_shards(root / subset)
        if stale:
            raise ConfigError(
                f"{stale[0]}: its {METADATA_PARQUET} (what `datasets` reads) does not hold the rows of "
                f"its {METADATA}: run the same `dig-kit render ... --out {root}` again (it completes the "
                "set and rewrites it)"
            )
    return datasets.load_dataset(str(root), split=subset, cache_dir=str(root / ".hf_cache"))


def load_twin_split(path: str | Path, split: str = "train"):
    """TWIN rows from a `dig-kit render-twin` directory or a local copy of the published TWIN
    pairs / FGVQA files as a Hugging Face dataset folder (columns: images list, question,
    answer, question type, source); a missing path or column is a clear error."""
    import datasets

    root = Path(path)
    if not root.exists():
        raise ConfigError(
            f"TWIN data not found at {root}: render it with `dig-kit render-twin --out {root}` or point "
            "to a local copy of the TWIN pairs (a Hugging Face dataset folder)"
        )
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
        raise ConfigError(
            f"{root}: TWIN rows need columns {list(TWIN_COLUMNS)} (plus question_type, source); missing {missing}"
        )
    return ds
