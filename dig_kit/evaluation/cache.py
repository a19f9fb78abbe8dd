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
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable


def model_id(model: str) -> str:
    """The model as it enters the cache key: an existing local path made absolute (so the same
    checkpoint from another working directory hits the same cache), else the name as given."""
    p = Path(model).expanduser()
    return str(p.resolve()) if p.exists() else str(model)


def cache_key(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


class PredictionCache:
    """The predictions file of one evaluation (see the module docstring)."""

    def __init__(self, out_dir: str | Path, fields: dict):
        self.out_dir = Path(out_dir)
        self.fields = dict(fields)
        self.key = cache_key(self.fields)
        self.path = self.out_dir / f"predictions-{self.key}.jsonl"
        self.sidecar = self.out_dir / f"predictions-{self.key}.json"

    def load(self) -> dict[str, dict]:
        """``id -> record`` of the finished items (a torn last line is ignored)."""
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
        if not self.sidecar.exists():
            self.sidecar.write_text(json.dumps({"key": self.key, **self.fields}, indent=2, sort_keys=True) + "\n")
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
            raise ValueError(f"{path}:{n}: a prediction needs an id ({'/'.join(ID_KEYS)}) and the raw output "
                             f"({'/'.join(OUTPUT_KEYS)})")
        out[str(ident)] = {**rec, "id": str(ident), "output": text}
    return list(out.values())
