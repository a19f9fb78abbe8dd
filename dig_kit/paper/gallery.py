"""Pictures of rendered pairs: the Fig. 7 grid and an interactive pair browser.

Rows are dataset rows (``datasets`` with ``before``/``after`` PIL images, or dicts with
image paths). Ground-truth boxes are drawn on the before image, as in the paper.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

CHANGE_COLORS = {
    "shape": "#e41a1c", "color": "#ff7f00", "size": "#4daf4a",
    "material": "#984ea3", "add": "#377eb8", "remove": "#f781bf",
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
        ax_before.text(x1, y1 - 2, d["type"], color=c, fontsize=6, va="bottom",
                       bbox=dict(fc="white", ec="none", alpha=0.7, pad=0.5))
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


def pair_browser(dataset, root: Path | None = None):
    """An ipywidgets slider stepping through the pairs of a dataset split (JupyterLab)."""
    import ipywidgets as widgets
    from IPython.display import display

    out = widgets.Output()
    slider = widgets.IntSlider(min=0, max=max(len(dataset) - 1, 0), description="pair")

    def show(change=None):
        with out:
            out.clear_output(wait=True)
            row = dataset[slider.value]
            fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
            draw_pair(a, b, row, root)
            lines = [f"{d['type']}: {d['before']} -> {d['after']}  box={d['bbox']}" for d in row["differences"]]
            fig.suptitle("\n".join(lines), fontsize=7, y=0.02, va="bottom")
            display(fig)
            plt.close(fig)

    slider.observe(show, names="value")
    show()
    return widgets.VBox([slider, out])


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
                what = {"add": f"adds a {c['after']['color']} {c['after']['shape']}",
                        "remove": f"removes the {c['before']['color']} {c['before']['shape']}"}.get(
                    c["type"], f"{c['type']}: {c['before'].get(c['type'])} -> {c['after'].get(c['type'])}")
                label = f"hard negative: {what}"
            ax.set_title(label, fontsize=7, color={"positive": "green", "hard": "red"}.get(kind, "black"))
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
