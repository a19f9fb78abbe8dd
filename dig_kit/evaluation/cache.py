"""Resumable predictions: one JSON Lines file per (model, benchmark, split, generation
settings).

``predictions-<key>.jsonl`` holds one line per generated item, ``{"id", "output",
"num_tokens", "finish_reason", "backend", "time"}``, appended (flushed and fsync'ed) after
every batch. ``<key>`` is the first 16 hex digits of the SHA-256 of the key fields (model,
benchmark, split, task version, max new tokens, temperature), which the sidecar
``predictions-<key>.json`` records in clear. An interrupted evaluation restarted with the
same command reads the file, generates only the items it lacks and appends them: nothing is
generated twice. A torn last line (a kill mid-write) is ignored and cut off before the next
append; a line that is not valid JSON elsewhere is an error (the file was edited by hand).

Several processes (one evaluation worker per GPU, or ``dig-kit evaluate --shard I/N`` jobs)
never write the same file: shard ``I`` of ``N`` appends to its own part file
``predictions-<key>.part-I-of-N.jsonl`` beside the main file (same record format, same
flush+fsync per batch, :meth:`PredictionCache.shard`). An item is done when the main file
or any part file holds it (:meth:`PredictionCache.load_all`). Only the one process that
scores writes the main file: :meth:`PredictionCache.merge_parts` appends the part records
it lacks, in document order, then removes the part files. A merge cut short leaves records
that the next merge finds already in the main file, so nothing is lost or duplicated,
whatever number of processes the next run uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path


def model_id(model: str) -> str:
    """The model as it enters the cache key: an existing local path made absolute (so the same
    checkpoint from another working directory hits the same cache), else the name as given."""
    p = Path(model).expanduser()
    return str(p.resolve()) if p.exists() else str(model)


def cache_key(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


class PredictionCache:
    """The predictions file of one evaluation (see the module docstring); with ``part=(I, N)``
    the part file of shard ``I`` of ``N`` instead (:meth:`shard`)."""

    def __init__(self, out_dir: str | Path, fields: dict, part: tuple[int, int] | None = None):
        self.out_dir = Path(out_dir)
        self.fields = dict(fields)
        self.key = cache_key(self.fields)
        self.main_path = self.out_dir / f"predictions-{self.key}.jsonl"
        self.sidecar = self.out_dir / f"predictions-{self.key}.json"
        self.part = None if part is None else (int(part[0]), int(part[1]))
        self.path = self.main_path if self.part is None else self.part_path(*self.part)

    # -- part files of shards -----------------------------------------------------------------
    def part_path(self, index: int, count: int) -> Path:
        """Where shard ``index`` of ``count`` appends its records."""
        return self.out_dir / f"predictions-{self.key}.part-{index}-of-{count}.jsonl"

    def shard(self, index: int, count: int) -> PredictionCache:
        """The cache a shard worker appends to: the part file of shard ``index`` of ``count``."""
        return PredictionCache(self.out_dir, self.fields, part=(index, count))

    def part_files(self) -> list[Path]:
        """Every part file of this key present now, whatever the number of shards that wrote it."""
        pattern = re.compile(rf"predictions-{self.key}\.part-(\d+)-of-(\d+)\.jsonl")
        found = []
        for p in self.out_dir.glob(f"predictions-{self.key}.part-*-of-*.jsonl"):
            m = pattern.fullmatch(p.name)
            if m:
                found.append(((int(m.group(2)), int(m.group(1))), p))
        return [p for _, p in sorted(found)]

    def load_all(self) -> dict[str, dict]:
        """``id -> record`` of the items done in the main file or any part file (the main
        file's record wins)."""
        done: dict[str, dict] = {}
        for p in reversed(self.part_files()):
            done.update({r["id"]: r for r in read_predictions(p, torn_ok=True)})
        done.update(PredictionCache(self.out_dir, self.fields).load())
        return done

    def merge_parts(self, order: Iterable[str] | None = None) -> int:
        """Fold the part files into the main file: the records whose id it lacks are appended
        (in the order of the ids in ``order``, the documents; others after them, in file
        order), then the part files are removed. Returns how many records were added. Only
        the process that scores calls this, when no shard is writing."""
        if self.part is not None:
            raise ValueError("merge_parts is called on the main cache, not on a part file")
        parts = self.part_files()
        if not parts:
            return 0
        done = self.load()
        new: dict[str, dict] = {}
        for p in parts:
            for r in read_predictions(p, torn_ok=True):
                if r["id"] not in done:
                    new.setdefault(r["id"], r)
        rank = {str(i): k for k, i in enumerate(order or ())}
        records = sorted(new.values(), key=lambda r: rank.get(r["id"], len(rank)))  # stable: file order after
        self.append(records)
        for p in parts:
            p.unlink(missing_ok=True)
        return len(records)

    # -- the file itself ------------------------------------------------------------------------
    def load(self) -> dict[str, dict]:
        """``id -> record`` of the finished items of this file (a torn last line is ignored)."""
        return {r["id"]: r for r in read_predictions(self.path, torn_ok=True)} if self.path.exists() else {}

    def _repair(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(end)

    def append(self, records: Iterable[dict]) -> None:
        records = list(records)
        if not records:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if not self.sidecar.exists():  # several shards may race here: each writes whole, then renames
            tmp = self.sidecar.with_name(f"{self.sidecar.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"key": self.key, **self.fields}, indent=2, sort_keys=True) + "\n")
            tmp.replace(self.sidecar)
        self._repair()
        with open(self.path, "a") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


ID_KEYS = ("id", "index", "question_id", "item_id")
OUTPUT_KEYS = ("output", "prediction", "response", "text", "completion")


def read_predictions(path: str | Path, torn_ok: bool = True) -> list[dict]:
    """Records ``{"id", "output", ...}`` of a predictions JSONL. The id may be named ``id``,
    ``index``, ``question_id`` or ``item_id``; the raw output ``output``, ``prediction``,
    ``response``, ``text`` or ``completion``. A later line for the same id wins. A torn last
    line is ignored when ``torn_ok``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"predictions file not found: {path}")
    data = path.read_text(encoding="utf-8")
    lines = data.split("\n")
    out: dict[str, dict] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if torn_ok and n == len(lines) and not data.endswith("\n"):
                break  # torn last line
            raise ValueError(f"{path}:{n}: not a JSON line") from None
        ident = next((rec[k] for k in ID_KEYS if k in rec), None)
        text = next((rec[k] for k in OUTPUT_KEYS if k in rec), None)
        if ident is None or text is None:
            raise ValueError(
                f"{path}:{n}: a prediction needs an id ({'/'.join(ID_KEYS)}) and the raw output "
                f"({'/'.join(OUTPUT_KEYS)})"
            )
        out[str(ident)] = {**rec, "id": str(ident), "output": text}
    return list(out.values())
