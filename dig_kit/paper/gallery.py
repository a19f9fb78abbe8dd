"""Pictures of rendered pairs: the Fig. 7 grid and an interactive pair browser.

Rows are dataset rows (``datasets`` with ``before``/``after`` PIL images, or dicts with
image paths). Ground-truth boxes are drawn on the before image, as in the paper.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

CHANGE_COLORS = {
    "shape": "#e41a1c",
    "color": "#ff7f00",
    "size": "#4daf4a",
    "material": "#984ea3",
    "add": "#377eb8",
    "remove": "#f781bf",
}


def _image(value, root: Path | None = None):
    if isinstance(value, (str, Path)):
        from PIL import Image

        return Image.open(Path(root or ".") / value)
    return value


def draw_pair(ax_before, ax_after, row: dict, root: Path | None = None) -> None:
    before = _image(row.get("before", row.get("before_file_name")), root)
    after = _image(row.get("after", row.get("after_file_name")), root)
    ax_before.imshow(before)
    ax_after.imshow(after)
    for d in row["differences"]:
        x1, y1, x2, y2 = d["bbox"]
        c = CHANGE_COLORS.get(d["type"], "white")
        ax_before.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.5, ec=c))
        ax_before.text(
            x1,
            y1 - 2,
            d["type"],
            color=c,
            fontsize=6,
            va="bottom",
            bbox=dict(fc="white", ec="none", alpha=0.7, pad=0.5),
        )
    ax_before.set_title(f"{row['id']}  before (M={len(row['differences'])})", fontsize=7)
    ax_after.set_title("after", fontsize=7)
    for ax in (ax_before, ax_after):
        ax.set_axis_off()


def plot_pairs(rows: list[dict], ncols: int = 2, root: Path | None = None):
    """A grid of before/after pairs, ``ncols`` pairs per row, boxes on the before image."""
    n = len(rows)
    if n == 0:
        raise ValueError("plot_pairs: no rows to draw")
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(3.2 * ncols * 2, 2.3 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for k, row in enumerate(rows):
        r, c = divmod(k, ncols)
        draw_pair(axes[r][2 * c], axes[r][2 * c + 1], row, root)
    handles = [Rectangle((0, 0), 1, 1, fill=False, ec=c, label=t) for t, c in CHANGE_COLORS.items()]
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.02))
    return fig


def differences_table(row: dict) -> list[dict]:
    """The differences of a pair as table rows: change, object, before, after, box (rounded)."""
    out = []
    for d in row["differences"]:
        kind, before, after = d["type"], d.get("before") or {}, d.get("after") or {}

        def describe(o):
            return " ".join(str(o[k]) for k in ("size", "color", "material", "shape") if o.get(k)) or "-"

        if kind in ("add", "remove"):
            b, a = ("-", describe(after)) if kind == "add" else (describe(before), "-")
        else:
            b, a = str(before.get(kind, describe(before))), str(after.get(kind, describe(after)))
        obj = describe(before if kind != "add" else after)
        out.append(
            {
                "change": kind,
                "object": obj,
                "before": b,
                "after": a,
                "box (x1, y1, x2, y2)": ", ".join(f"{v:.0f}" for v in d["bbox"]),
            }
        )
    return out


def _html_table(rows: list[dict]) -> str:
    from html import escape

    if not rows:
        return "<p><i>no differences</i></p>"
    cols = list(rows[0])
    head = "".join(f"<th style='text-align:left;padding:2px 10px'>{escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 10px'>{escape(str(r[c]))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table class='dig-differences'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pair_browser(dataset, root: Path | None = None, split: str | None = None):
    """An ipywidgets pair browser (JupyterLab): a split menu (when given a ``DatasetDict`` or a
    dict of splits), a slider over its pairs, the pair with its boxes, the differences as a table."""
    import ipywidgets as widgets
    from IPython.display import display

    splits = dict(dataset) if hasattr(dataset, "keys") else {"split": dataset}
    names = list(splits)
    menu = widgets.Dropdown(options=names, value=split if split in splits else names[0], description="split")
    slider = widgets.IntSlider(min=0, max=max(len(splits[menu.value]) - 1, 0), description="pair")
    table = widgets.HTML()
    out = widgets.Output()

    def show(change=None):
        rows = splits[menu.value]
        if not len(rows):
            table.value = "<p><i>this split is empty</i></p>"
            return
        row = rows[min(slider.value, len(rows) - 1)]
        with out:
            out.clear_output(wait=True)
            fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
            draw_pair(a, b, row, root)
            fig.tight_layout()
            display(fig)
            plt.close(fig)
        table.value = _html_table(differences_table(row))

    def on_split(change):
        slider.max = max(len(splits[menu.value]) - 1, 0)
        slider.value = 0
        show()

    menu.observe(on_split, names="value")
    slider.observe(show, names="value")
    show()
    controls = [menu, slider] if len(names) > 1 else [slider]
    return widgets.VBox([widgets.HBox(controls), out, table])


def plot_twin_items(rows: list[dict], root: Path | None = None):
    """TWIN items side by side: the reference, then each candidate labelled with its kind
    (positive: same scene, new view; hard: one subtle change, named; easy: another scene)."""
    n = len(rows)
    if n == 0:
        raise ValueError("plot_twin_items: no rows to draw")
    width = max(len(r["images"] if "images" in r else r["file_names"]) for r in rows)
    fig, axes = plt.subplots(n, width, figsize=(2.6 * width, 2.0 * n), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, row in enumerate(rows):
        images = row["images"] if "images" in row else row["file_names"]
        for k, im in enumerate(images):
            ax = axes[i][k]
            ax.imshow(_image(im, root))
            if k == 0:
                ax.set_title(f"{row['id']}  reference  (answer: {row['answer']})", fontsize=7)
                continue
            kind = row["candidate_kinds"][k - 1]
            label = kind
            if kind == "hard":
                c = row["changes"][k - 1]
                what = {
                    "add": f"adds a {c['after']['color']} {c['after']['shape']}",
                    "remove": f"removes the {c['before']['color']} {c['before']['shape']}",
                }.get(c["type"], f"{c['type']}: {c['before'].get(c['type'])} -> {c['after'].get(c['type'])}")
                label = f"hard negative: {what}"
            ax.set_title(label, fontsize=7, color={"positive": "green", "hard": "red"}.get(kind, "black"))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
