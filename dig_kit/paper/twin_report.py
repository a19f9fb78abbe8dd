"""TWIN report helpers (pure): example picking for the figure, the results table.

The published numbers (the TWIN paper, Qwen2.5-VL 3B, real TWIN/FGVQA data) stand in their own,
labelled rows; measured rows come from the kit's evaluation metrics of the models it
trained on *synthetic* TWIN data, so the two are never mixed in one row.
"""

from __future__ import annotations

# TWIN summary, hard-negative ablation: total accuracy (%) of Qwen2.5-VL 3B.
PUBLISHED_ABLATION = [
    {"row": "Qwen2.5-VL-3B", "MEAN": 53.0, "TWIN-Eval": 50.1, "ILIAS": 43.5, "INQUIRE": 54.4},
    {"row": "+ TWIN w/o hard negatives", "MEAN": 58.6, "TWIN-Eval": 51.1, "ILIAS": 53.1, "INQUIRE": 60.9},
    {"row": "+ TWIN", "MEAN": 63.1, "TWIN-Eval": 65.3, "ILIAS": 58.4, "INQUIRE": 68.7},
]
PUBLISHED_SOURCE = "published (TWIN summary, Qwen2.5-VL 3B, real FGVQA data)"


def twin_examples(rows, per_kind: int = 2) -> list[dict]:
    """The first ``per_kind`` positive and hard-negative pair items (the figure's rows)."""
    picked: dict[str, list] = {"positive": [], "hard": []}
    for row in rows:
        kind = row["candidate_kinds"][0]
        if kind in picked and len(picked[kind]) < per_kind:
            picked[kind].append(row)
    return picked["positive"] + picked["hard"]


def results_table(measured: dict[str, dict], source: str) -> list[dict]:
    """Rows of the TWIN results table: measured synthetic-FGVQA accuracies, then the
    published ablation rows. ``measured`` maps a row name to the ``fgvqa`` metrics JSON."""
    cols = ["row", "source", "pair acc", "multi acc", "total", "MEAN", "TWIN-Eval", "ILIAS", "INQUIRE"]
    rows = []
    for name, m in measured.items():
        rows.append(
            {
                "row": name,
                "source": source,
                "pair acc": m.get("pair"),
                "multi acc": m.get("multi"),
                "total": m.get("total"),
            }
        )
    for r in PUBLISHED_ABLATION:
        rows.append({**r, "source": PUBLISHED_SOURCE})
    return [{c: r.get(c) for c in cols} for r in rows]
