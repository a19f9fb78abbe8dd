"""Read benchmark files in the formats the community distributes them in. Pure (pandas,
pyarrow, PIL; ``datasets`` only for folders written by ``save_to_disk``).

- **VLMEvalKit TSV** (:func:`read_vlmeval_tsv`): one row per question; ``index``, ``question``,
  ``answer``, option columns ``A``, ``B``, ... (empty when absent), ``hint``, ``category``,
  ``l2-category``...; ``image`` holds the base64-encoded image, or a JSON/Python list of
  base64 strings for multi-image rows, or (when it is at most 64 characters) the ``index``
  of another row whose image it shares (VLMEvalKit stores repeated images once). Rows
  without ``image`` may name a file in ``image_path``. Cells are read as strings and only
  empty cells count as missing (pandas' default would also read options such as "None" or
  "NA" as missing).
- **Hugging Face datasets** (:func:`read_table`): a parquet file, a hub snapshot folder of
  parquet shards (``data/<split>-00000-of-00001.parquet`` or ``<split>/*.parquet``), or a
  ``save_to_disk`` folder; image columns hold ``{"bytes", "path"}`` structs.
- **JSON Lines / JSON / CSV** question files whose images are files beside them.

Images are kept as :class:`ImageRef` (base64, bytes or a path) and decoded only when a model
needs them (:meth:`ImageRef.open`) or a scorer needs their size (:meth:`ImageRef.size`,
header only).
"""

from __future__ import annotations

import ast
import base64
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BenchmarkDataError(FileNotFoundError):
    """A benchmark's data is missing or not in the expected format (the message says which)."""


@dataclass(frozen=True)
class ImageRef:
    """A lazily decoded image: ``kind`` is ``"b64"``, ``"bytes"``, ``"path"`` or ``"pil"``."""

    kind: str
    value: Any

    def _fp(self):
        if self.kind == "b64":
            return io.BytesIO(base64.b64decode(self.value))
        if self.kind == "bytes":
            return io.BytesIO(self.value)
        if self.kind == "path":
            p = Path(self.value)
            if not p.exists():
                raise BenchmarkDataError(f"image file not found: {p}")
            return open(p, "rb")
        raise ValueError(self.kind)

    def open(self):
        """The image as an RGB ``PIL.Image`` (decoded now)."""
        from PIL import Image

        if self.kind == "pil":
            return self.value.convert("RGB")
        with self._fp() as f:
            img = Image.open(f)
            img.load()
        return img.convert("RGB")

    def size(self) -> tuple[int, int]:
        """``(width, height)``, reading only the header."""
        from PIL import Image

        if self.kind == "pil":
            return tuple(self.value.size)
        with self._fp() as f:
            return tuple(Image.open(f).size)


def image_ref(value: Any, root: Path | None = None) -> ImageRef | None:
    """An :class:`ImageRef` of a cell: a HF ``{"bytes", "path"}`` struct, raw bytes, a PIL image,
    a base64 string (long) or a file path (relative to ``root``)."""
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("bytes"):
            return ImageRef("bytes", value["bytes"])
        if value.get("path"):
            return image_ref(str(value["path"]), root)
        return None
    if isinstance(value, (bytes, bytearray)):
        return ImageRef("bytes", bytes(value))
    if hasattr(value, "convert") and hasattr(value, "size"):
        return ImageRef("pil", value)
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if len(s) > 4096 or ("." not in s and len(s) > 64):  # base64 has no "."; paths have extensions
            return ImageRef("b64", s)
        p = Path(s)
        if not p.is_absolute() and root is not None:
            p = Path(root) / p
        return ImageRef("path", str(p))
    raise BenchmarkDataError(f"cannot read an image from a {type(value).__name__}")


def image_refs(value: Any, root: Path | None = None) -> list[ImageRef]:
    """All images of a cell (a list of images, or one)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in image_refs(v, root)]
    r = image_ref(value, root)
    return [r] if r is not None else []


def _listish(s: str) -> list | None:
    s = s.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return None
    for parse in (json.loads, ast.literal_eval):
        try:
            v = parse(s)
            return v if isinstance(v, list) else None
        except (ValueError, SyntaxError):
            continue
    return None


def parse_list_cell(value) -> list:
    """A cell holding a list (``"['a', 'b']"`` as VLMEvalKit writes TextVQA's answers, or a
    real list); a plain string is a one-element list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    lst = _listish(str(value))
    return [str(v) for v in lst] if lst is not None else [str(value)]


def read_vlmeval_tsv(path: str | Path) -> list[dict]:
    """Rows of a VLMEvalKit TSV as dicts of strings (``None`` for empty cells), with
    ``images`` (a list of :class:`ImageRef`) resolved from ``image`` (base64, list of base64,
    or a reference to another row's index) or ``image_path`` (files beside the TSV)."""
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    except Exception as e:  # noqa: BLE001 - name the file and the format
        raise BenchmarkDataError(f"{path}: not a readable VLMEvalKit TSV ({e})") from None
    if "index" not in df.columns:
        raise BenchmarkDataError(f"{path}: a VLMEvalKit TSV needs an 'index' column, found {list(df.columns)}")
    df = df.astype(object).where(df.notna(), None)
    rows = df.to_dict(orient="records")
    if "image" in df.columns:
        by_index = {str(r["index"]): r.get("image") for r in rows}
        for r in rows:
            img = r.get("image")
            if img is not None and len(img) <= 64:  # shares the image of another row
                target = by_index.get(img)
                if target is None or len(target) <= 64:
                    raise BenchmarkDataError(f"{path}: row {r['index']}: image refers to unknown row {img!r}")
                img = target
            if img is None:
                r["images"] = image_refs(r.get("image_path"), path.parent)
            else:
                as_list = _listish(img) if img.startswith("[") else None
                r["images"] = [ImageRef("b64", s) for s in as_list] if as_list else [ImageRef("b64", img)]
            r["image_key"] = str(r["image"]) if r.get("image") and len(r["image"]) <= 64 else str(r["index"])
            r.pop("image", None)
    else:
        for r in rows:
            paths = r.get("image_path")
            lst = _listish(paths) if isinstance(paths, str) else None
            r["images"] = image_refs(lst if lst is not None else paths, path.parent)
            r["image_key"] = str(paths if paths is not None else r["index"])
    return rows


def read_parquet(paths: Iterable[str | Path]) -> list[dict]:
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for p in paths:
        rows.extend(pq.read_table(str(p)).to_pylist())
    return rows


def split_of(file: Path, base: Path) -> str:
    """The split a parquet shard belongs to: ``<split>-00000-of-00001.parquet`` (hub layout,
    under ``data/`` or not), ``<split>/<anything>.parquet``, or ``<split>.parquet``."""
    name = file.stem
    if "-of-" in name:
        return name.split("-")[0]
    parts = file.relative_to(base).parts
    if len(parts) > 1 and parts[0] != "data":
        return parts[0]
    return name


def read_table(path: str | Path, split: str | None = None, expected: str = "") -> list[dict]:
    """Rows of a parquet/JSONL/JSON/CSV file or a Hugging Face dataset folder (one split)."""
    path = Path(path)
    hint = f" ({expected})" if expected else ""
    if not path.exists():
        raise BenchmarkDataError(f"{path} does not exist{hint}")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return read_parquet([path])
        if suffix == ".jsonl":
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if suffix == ".json":
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                for key in ("data", "annotations", "questions", split or ""):
                    if isinstance(data.get(key), list):
                        return data[key]
                return list(data.values()) if all(isinstance(v, dict) for v in data.values()) else [data]
            return data
        if suffix == ".csv":
            import pandas as pd

            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            return df.astype(object).where(df.notna(), None).to_dict(orient="records")
        if suffix == ".tsv":
            return read_vlmeval_tsv(path)
        raise BenchmarkDataError(f"{path}: unknown file type{hint}")
    # a folder
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        import datasets

        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split is None:
                if len(ds) != 1:
                    raise BenchmarkDataError(f"{path}: several splits {list(ds)}; name one")
                split = next(iter(ds))
            if split not in ds:
                raise BenchmarkDataError(f"{path}: no split {split!r} (has {list(ds)}){hint}")
            ds = ds[split]
        return ds.with_format("arrow")[:].to_pylist()
    files = sorted(path.rglob("*.parquet"))
    if files:
        by_split: dict[str, list[Path]] = {}
        for f in files:
            by_split.setdefault(split_of(f, path), []).append(f)
        if split is None:
            chosen = files
        else:
            chosen = by_split.get(split, [])
            if not chosen:
                raise BenchmarkDataError(
                    f"{path}: no parquet files for split {split!r} (found {sorted(by_split)}){hint}"
                )
        return read_parquet(chosen)
    for name in ([f"{split}.jsonl", f"{split}.json"] if split else []) + ["test.jsonl", "data.jsonl"]:
        if (path / name).exists():
            return read_table(path / name)
    raise BenchmarkDataError(f"{path}: no parquet, JSONL or saved dataset found{hint}")


def locate(data: str | Path, names: Iterable[str], expected: str, root: bool = False) -> Path:
    """Where a benchmark's data is: ``data`` itself when it is a file, or a folder holding one
    of ``names`` (then that entry); a folder without them is taken as the benchmark's own
    folder, unless ``root`` says it is a data root holding many benchmarks. A
    :class:`BenchmarkDataError` naming what was expected otherwise."""
    data = Path(data)
    names = list(names)
    if data.is_file():
        return data
    if data.is_dir():
        for n in names:
            if (data / n).exists():
                return data / n
        if not root:
            return data
    raise BenchmarkDataError(f"benchmark data not found at {data}: expected {' or '.join(names)} ({expected})")
