"""The column types of a rendered dataset's rows, written beside each shard's journal as
``metadata.parquet`` so that ``datasets.load_dataset(DIR)`` loads every split of any render.

Why a second metadata file: Hugging Face ``datasets`` (imagefolder) infers each split's
features from the first rows of its first metadata file, and refuses splits whose inferred
features differ, before it looks at any features a dataset card declares. In JSON a field
that is null (or an empty list) in every one of those rows has no type: a shard holding only
adds has no ``bbox_full_before``, only removes no ``bbox_full_after``, only no-change pairs no
``boxes``, TWIN positives no change boxes. ``metadata.jsonl`` stays the journal the kit
appends to (crash-safe, one fsync'ed line per pair), reads and resumes from;
``metadata.parquet`` is written from it with the explicit schema below (:data:`DIG_ROW`,
:data:`TWIN_ROW`), so every shard of every split carries the same types whatever it holds.
The dataset card's ``configs`` point ``datasets`` at the parquet files and the images.

:func:`sync_shard` rewrites a shard's parquet when its row count differs from the journal's
(whole, under a temporary name, renamed; re-checked after the rename), so any number of
processes may sync the same shard at once and the last state wins. A row field the schema
does not declare is an error naming it, never a column silently dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dig_kit.data.reader import METADATA, METADATA_PARQUET, read_rows

BOX = [float]
ATTRIBUTES = {"color": str, "material": str, "shape": str, "size": str}
DIFFERENCE = {
    "after": ATTRIBUTES,
    "bbox": BOX,
    "bbox_full_after": BOX,
    "bbox_full_before": BOX,
    "bbox_visible_after": BOX,
    "bbox_visible_before": BOX,
    "before": ATTRIBUTES,
    "direction": str,
    "object_id": int,
    "occupied_before": float,
    "type": str,
    "visible_pixels_after": int,
    "visible_pixels_before": int,
}
"""One difference (:class:`dig_kit.scenes.changes.Difference`); absent boxes are null."""
OBJECT = {
    "bbox_full": BOX,
    "bbox_visible": BOX,
    "color": str,
    "id": int,
    "mask": {"counts": str, "size": [int]},
    "material": str,
    "shape": str,
    "size": str,
    "visible_pixels": int,
}
"""One object of an image (:func:`dig_kit.render.pairs.annotate`), its mask as COCO RLE."""
DIG_ROW = {
    "after_file_name": str,
    "after_scene": str,
    "attempt": int,
    "before_file_name": str,
    "before_scene": str,
    "boxes": [BOX],
    "change_types": [str],
    "differences": [DIFFERENCE],
    "height": int,
    "id": str,
    "num_differences": int,
    "objects_after": [OBJECT],
    "objects_before": [OBJECT],
    "pair_type": str,
    "seed": int,
    "subset": str,
    "width": int,
}
"""A DiG pair's row (:func:`dig_kit.render.pairs.render_pair`)."""
TWIN_ROW = {
    "answer": str,
    "attempt": int,
    "candidate_kinds": [str],
    "changes": [DIFFERENCE],
    "file_names": [str],
    "height": int,
    "id": str,
    "index": int,
    "question": str,
    "question_type": str,
    "scenes": [str],
    "seed": int,
    "subset": str,
    "width": int,
}
"""A TWIN item's row (:func:`dig_kit.render.twin.render_twin_item`)."""
ROWS = {"dig": DIG_ROW, "twin": TWIN_ROW}


def arrow_type(spec: Any):
    """The pyarrow type of a spec: ``str``, ``int``, ``float``, ``[spec]`` (a list) or a dict (a
    struct, fields in key order, as the journal's sorted keys)."""
    import pyarrow as pa

    if isinstance(spec, dict):
        return pa.struct([(k, arrow_type(spec[k])) for k in sorted(spec)])
    if isinstance(spec, list):
        return pa.list_(arrow_type(spec[0]))
    return {str: pa.string(), int: pa.int64(), float: pa.float64()}[spec]


def arrow_schema(kind: str):
    """The pyarrow schema of a ``kind`` (``dig`` or ``twin``) row."""
    import pyarrow as pa

    if kind not in ROWS:
        raise ValueError(f"kind {kind!r}: must be one of {sorted(ROWS)}")
    return pa.schema([(k, arrow_type(ROWS[kind][k])) for k in sorted(ROWS[kind])])


def undeclared(value: Any, spec: Any, path: str = "") -> list[str]:
    """Fields of ``value`` (a row, or a part of one) that ``spec`` does not declare."""
    if isinstance(spec, dict) and isinstance(value, dict):
        out = []
        for k, v in value.items():
            where = f"{path}.{k}" if path else k
            out += [where] if k not in spec else undeclared(v, spec[k], where)
        return out
    if isinstance(spec, list) and isinstance(value, list):
        return [f for item in value for f in undeclared(item, spec[0], f"{path}[]")]
    return []


def parquet_rows(path: Path) -> int | None:
    """Rows of a metadata.parquet (``None`` when there is none, or it is unreadable)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except (OSError, ValueError):
        return None


def write_shard(shard_dir: str | Path, kind: str, rows: list[dict] | None = None) -> int:
    """Write ``shard_dir/metadata.parquet`` from its journal (or ``rows``), whole: under a name
    of this process, then renamed. Returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard_dir = Path(shard_dir)
    rows = read_rows(shard_dir / METADATA) if rows is None else rows
    spec = ROWS.get(kind)
    if spec is None:
        raise ValueError(f"kind {kind!r}: must be one of {sorted(ROWS)}")
    for row in rows:
        extra = undeclared(row, spec)
        if extra:
            raise ValueError(
                f"{shard_dir / METADATA}: row {row.get('id')!r} has field(s) {extra} that the {kind} "
                "schema (dig_kit/data/schema.py) does not declare; add them there"
            )
    table = pa.Table.from_pylist(rows, schema=arrow_schema(kind))
    tmp = shard_dir / f".{METADATA_PARQUET}.{os.getpid()}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, shard_dir / METADATA_PARQUET)
    return len(rows)


def sync_shard(shard_dir: str | Path, kind: str) -> bool:
    """Rewrite the shard's parquet when its row count is not the journal's; re-checked after
    each rename, so concurrent syncs (and the shard's writer) end on the journal's rows.
    Returns whether anything was written."""
    shard_dir = Path(shard_dir)
    wrote = False
    for _ in range(100):
        rows = read_rows(shard_dir / METADATA)
        if not rows and not (shard_dir / METADATA).exists():
            return wrote
        if parquet_rows(shard_dir / METADATA_PARQUET) == len(rows):
            return wrote
        write_shard(shard_dir, kind, rows)
        wrote = True
    raise RuntimeError(f"{shard_dir}: its journal kept growing while metadata.parquet was written")


def stale_shards(subset_dir: str | Path) -> list[Path]:
    """The shards of a subset whose metadata.parquet is missing or holds another row count."""
    return [
        m.parent
        for m in sorted(Path(subset_dir).glob(f"*/{METADATA}"))
        if parquet_rows(m.parent / METADATA_PARQUET) != len(read_rows(m))
    ]
