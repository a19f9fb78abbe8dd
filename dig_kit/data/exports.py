"""Exports of rendered data to the formats other tools read.

- :func:`export_fgvqa`: held-out TWIN items as the FGVQA JSONL the evaluation scores.
"""

from __future__ import annotations

import json
from pathlib import Path

from dig_kit.data.reader import METADATA, read_rows


def export_fgvqa(twin_dir: str | Path, splits: tuple[str, ...] = ("eval", "eval_multi"), source: str = "dig_kit-synthetic") -> Path:
    """Write ``fgvqa.jsonl`` in ``twin_dir``: its held-out splits in the FGVQA format the
    evaluation reads (id, images, answer, type pair/multi, source), so synthetic TWIN items are
    scored exactly like the published benchmark."""
    root = Path(twin_dir)
    lines = []
    for split in splits:
        for meta in sorted((root / split).glob(f"*/{METADATA}")):
            for row in read_rows(meta):
                lines.append({"id": row["id"], "images": [str(meta.parent.relative_to(root) / f) for f in row["file_names"]],
                              "answer": row["answer"], "type": row["question_type"], "source": source,
                              "question": row["question"]})
    if not lines:
        raise FileNotFoundError(f"{root}: no rendered {list(splits)} items to export (run `dig-kit render-twin` first)")
    path = root / "fgvqa.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path
