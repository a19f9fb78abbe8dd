"""The paper's Tables 1-3 with measured rows beside the published ones.

Every row says where its numbers come from in a ``Source`` column: ``paper`` rows are the
slides' numbers (:mod:`.published`), ``measured`` rows come from this kit's metrics
(with the backend, and the item limit when not the full benchmark). A benchmark that was not
run, or not scored (MM-Vet without a judge), is left blank; Table 1's ``AVG`` is computed
only when all seven perception numbers exist, as in the paper.
"""

from __future__ import annotations

from pathlib import Path

from .published import CAPTIONS, COLUMNS, PAPER_TABLES, SOURCE_SLIDES

PAPER_LABEL = "paper (published)"


def _measured_label(metrics_by_bench: dict[str, dict], synthetic: bool = False) -> str:
    """``measured (backend[, first N items][, max T new tokens][, synthetic stand-in files])``:
    how far from the paper's protocol (full benchmarks, 4096 new tokens) the numbers are."""
    backends, limits, tokens = set(), set(), set()
    for m in metrics_by_bench.values():
        s = m.get("settings") or {}
        if s.get("backend"):
            backends.add(str(s["backend"]))
        if s.get("limit"):
            limits.add(int(s["limit"]))
        if s.get("max_new_tokens") and int(s["max_new_tokens"]) != 4096:
            tokens.add(int(s["max_new_tokens"]))
    notes = sorted(backends)
    notes += [f"first {max(limits)} items"] if limits else []
    notes += [f"max {max(tokens)} new tokens"] if tokens else []
    notes += ["synthetic stand-in files, not the benchmarks"] if synthetic else []
    return "measured" + (f" ({', '.join(notes)})" if notes else "")


def summary_rows(results: dict[str, dict[str, dict]]) -> list[dict]:
    """One row per (model, benchmark): the paper's number for it, the counts, or why it is blank."""
    rows = []
    for label, by_bench in results.items():
        for bench, m in by_bench.items():
            rows.append(
                {
                    "model": label,
                    "benchmark": bench,
                    "score": m.get("score"),
                    "metric": m.get("headline"),
                    "n": m.get("n"),
                    "truncated": m.get("truncated"),
                    "unparsed": m.get("unparsed"),
                    "status": m.get("status") or "scored",
                }
            )
    return rows


def table_rows(
    table: str, measured: dict[str, dict[str, dict]] | None = None, include_paper: bool = True, synthetic: bool = False
) -> list[dict]:
    """Rows of ``table`` (``tab1_perception``, ``tab2_general``, ``tab3_grounding``): the
    paper's rows, then one per measured model (``{label: {benchmark: metrics}}``); ``synthetic``:
    the measured rows ran on the kit's stand-in files in each benchmark's format (smoke runs),
    which their ``Source`` says."""
    if table not in COLUMNS:
        raise KeyError(f"unknown table {table!r}; tables: {', '.join(COLUMNS)}")
    paper = PAPER_TABLES[table]
    value_cols = [c for c in paper[0] if c not in ("Model", "LLM")]
    lead = ["Model", "Source"] + (["LLM"] if "LLM" in paper[0] else [])
    rows = []
    if include_paper:
        for r in paper:
            rows.append({**{c: None for c in lead + value_cols}, **r, "Source": PAPER_LABEL})
    for label, by_bench in (measured or {}).items():
        row = {c: None for c in lead + value_cols}
        row.update({"Model": label, "Source": _measured_label(by_bench, synthetic)})
        for col, (bench, key) in COLUMNS[table].items():
            m = by_bench.get(bench) or {}
            v = m.get(key) if m.get("status") in (None, "scored") else None
            row[col] = round(float(v), 1) if isinstance(v, (int, float)) else None
        if "AVG" in value_cols:
            vals = [row[c] for c in COLUMNS[table]]
            row["AVG"] = round(sum(vals) / len(vals), 1) if all(v is not None for v in vals) else None
        rows.append(row)
    return [{c: r.get(c) for c in lead + value_cols} for r in rows]


def save_paper_tables(
    measured: dict[str, dict[str, dict]],
    out_dir: str | Path = "figures",
    tables: tuple[str, ...] = ("tab1_perception", "tab2_general", "tab3_grounding"),
    synthetic: bool = False,
) -> list[Path]:
    """Write each table as CSV + Markdown + LaTeX (:func:`dig_kit.paper.figures.save_table`);
    ``synthetic``: the measured rows ran on stand-in files (:func:`table_rows`), said in the
    rows and the source note."""
    from dig_kit.paper.figures import save_table

    paths = []
    for t in tables:
        # one decimal, as the paper prints them (save_table's 4 significant digits would print 1592.4 as 1592)
        rows = [
            {k: f"{v:.1f}" if isinstance(v, float) else v for k, v in r.items()}
            for r in table_rows(t, measured, synthetic=synthetic)
        ]
        source = (
            f"rows '{PAPER_LABEL}': {SOURCE_SLIDES}; rows 'measured': dig_kit.evaluation "
            "(temperature 0, answer after </think>, rule-based extraction)"
            + (
                " on the kit's synthetic stand-in files in each benchmark's format (smoke run), not the real benchmarks"
                if synthetic
                else ""
            )
        )
        paths += save_table(rows, t, out_dir, source=source, caption=CAPTIONS[t])
    return paths


def summary_markdown(results: dict[str, dict[str, dict]]) -> str:
    """:func:`summary_rows` as a Markdown table (statuses cut to 160 characters)."""
    cols = ["model", "benchmark", "score", "metric", "n", "truncated", "unparsed", "status"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in summary_rows(results):
        cells = ["" if r[c] is None else str(r[c]) for c in cols]
        cells[-1] = cells[-1][:160].replace("|", "/").replace("\n", " ")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
