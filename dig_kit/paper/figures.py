"""Plotting style and artifact writers: figures as PDF+PNG, tables as CSV/Markdown/LaTeX.

Every artifact states its source: ``save_figure`` stamps a one-line ``source`` note at the
bottom of the figure and writes it into the PDF metadata, ``save_table`` writes it as a
caption/comment. A figure made by a profile other than ``paper`` says so on its face:
``save_figure`` prefixes its suptitle with ``[smoke]``/``[mini]`` (or, without a suptitle, tags
its top-right corner), the profile read from ``profile=`` or from the ``profile '<name>'`` that
the notebooks' source notes carry, so a smoke figure is never mistaken for a paper one. Names follow what they reproduce
(``fig7_pairs``, ``tab4_reward_ablation``).
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def apply_style() -> None:
    plt.rcParams.update(STYLE)


def profile_tag(profile: str | None = None, source: str = "") -> str:
    """``[smoke]``, ``[mini]``, ...: the tag of a figure made by a profile other than ``paper``;
    ``""`` for the paper profile or when no profile is known. ``profile`` wins; else the first
    ``profile '<name>'`` in ``source`` (the notebooks' source notes name it that way)."""
    if profile is None:
        m = re.search(r"profile '([^']+)'", source)
        profile = m.group(1) if m else None
    return f"[{profile}]" if profile and profile != "paper" else ""


def tag_profile(fig, tag: str) -> None:
    """Put ``tag`` on ``fig``: before its suptitle if it has one, else in its top-right corner."""
    if not tag:
        return
    title = fig.get_suptitle()
    if title:  # edit the Text in place: fig.suptitle() again would reset its font size
        if not title.startswith(tag):
            fig._suptitle.set_text(f"{tag} {title}")
    else:
        fig.text(0.99, 1.0, tag, fontsize=8, color="C3", ha="right", va="bottom", fontweight="bold")


def save_figure(
    fig, name: str, out_dir: str | Path = "figures", source: str = "", profile: str | None = None
) -> list[Path]:
    """Save ``fig`` as ``<out_dir>/<name>.pdf`` and ``.png``; ``source`` is required and stamped on it.
    A non-paper ``profile`` (given, or read from ``source``: :func:`profile_tag`) tags the title.
    Returns the absolute paths (a notebook prints them; a relative one would depend on the kernel's folder)."""
    if not source:
        raise ValueError(f"save_figure({name!r}): say where the numbers come from (source=...)")
    tag_profile(fig, profile_tag(profile, source))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    note = textwrap.fill(f"Source: {source}", width=max(40, int(fig.get_figwidth() * 17)))
    fig.text(0.01, 0.0, note, fontsize=6, color="0.35", ha="left", va="top")  # below the axes, wrapped
    paths = []
    for ext in ("pdf", "png"):
        p = out / f"{name}.{ext}"
        meta = {"Subject": f"Source: {source}"} if ext == "pdf" else {"Source": source}
        fig.savefig(p, bbox_inches="tight", metadata=meta)
        paths.append(p.resolve())
    return paths


def readable_ticks(ax, axis: str = "y") -> None:
    """Plain tick labels: no offset (``+6.381``) and no shared exponent (``1e-7``) above the axis;
    each label carries just enough significant digits to differ from its neighbours."""
    from matplotlib.ticker import Formatter

    class _Distinct(Formatter):
        ticks: list = []

        def set_locs(self, locs):
            self.ticks = list(locs)

        def __call__(self, x, pos=None):
            locs = [v for v in self.ticks if v == v] or [x]
            for digits in range(1, 10):
                labels = [self._fmt(v, digits) for v in locs]
                if len(set(labels)) == len(labels):
                    break
            return self._fmt(x, digits)

        @staticmethod
        def _fmt(v, digits):
            if abs(v) < 1e-12:
                return "0"
            text = f"{v:.{digits}g}"
            if "e" in text:  # 1e-07 -> 1e-7
                mant, exp = text.split("e")
                text = f"{mant}e{int(exp)}"
            return text

    for a in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"{a}axis").set_major_formatter(_Distinct())


def save_table(
    rows: Sequence[dict], name: str, out_dir: str | Path = "figures", source: str = "", caption: str = ""
) -> list[Path]:
    """Write ``rows`` (dicts with the same keys) as CSV, Markdown and LaTeX, each naming its source."""
    if not source:
        raise ValueError(f"save_table({name!r}): say where the numbers come from (source=...)")
    if not rows:
        raise ValueError(f"save_table({name!r}): no rows")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = list(rows[0].keys())

    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))

    buf = io.StringIO()
    buf.write(f"# Source: {source}\n")
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    for r in rows:
        w.writerow({c: fmt(r.get(c)) for c in cols})
    (out / f"{name}.csv").write_text(buf.getvalue())

    md = [f"**{caption or name}**", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    md += ["", f"*Source: {source}*", ""]
    (out / f"{name}.md").write_text("\n".join(md))

    def tex(s: str) -> str:
        for a, b in (
            ("\\", r"\textbackslash{}"),
            ("&", r"\&"),
            ("%", r"\%"),
            ("_", r"\_"),
            ("#", r"\#"),
            ("✓", r"\checkmark{}"),
        ):  # \checkmark needs amssymb
            s = s.replace(a, b)
        return s

    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{" + "l" * len(cols) + "}", r"\toprule"]
    lines.append(" & ".join(tex(c) for c in cols) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(tex(fmt(r.get(c))) for c in cols) + r" \\" for r in rows]
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{tex(caption or name)}. Source: {tex(source)}}}",
        r"\end{table}",
        "",
    ]
    (out / f"{name}.tex").write_text("\n".join(lines))
    return [out / f"{name}.{e}" for e in ("csv", "md", "tex")]
