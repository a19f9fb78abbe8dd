"""Training dynamics figures (supplement Figs. 8-10) from a stage's own ``metrics.jsonl``.

Pure (json + matplotlib): the notebook reads the log the training run wrote, so the figure
shows what that run did. Panels follow the supplement: entropy, gradient norm, accuracy and
format rewards, response length, CPU memory (plus KL and the kept-group fraction when logged).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from dig_kit.paper.figures import readable_ticks

PANELS = [
    ("entropy", "entropy"),
    ("grad_norm", "gradient norm"),
    (("accuracy", "format"), "reward"),
    ("response_length", "response length (tokens)"),
    ("cpu_memory_gb", "CPU memory (GiB)"),
    ("kl", "KL to reference"),
]


def read_metrics(path: str | Path, split: str = "train") -> list[dict]:
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a killed run
        if row.get("split", "train") == split:
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no {split} rows (has the stage logged a step yet?)")
    return rows


MIN_REL_SPAN = 0.02  # a panel's y-range spans at least 2% of its level (and 1e-6 near 0)


def steady_ylim(ax, values, rel: float = MIN_REL_SPAN) -> None:
    """Plain tick labels (no offset, no shared exponent) and, for a near-constant series such
    as an entropy of 6.38150 +- 0.00002, a y-range of at least ``rel`` of its level, centred on
    it: noise then stays flat instead of filling the panel like a spike."""
    ys = [float(v) for v in values if v is not None and v == v]
    readable_ticks(ax)
    if not ys:
        return
    lo, hi = min(ys), max(ys)
    want = rel * max(abs(lo), abs(hi))  # 0 for an all-zero series: matplotlib's own margin then
    if hi - lo < want:
        mid = (lo + hi) / 2
        ax.set_ylim(mid - want / 2, mid + want / 2)


def plot_dynamics(rows: list[dict], title: str = ""):
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.2))
    steps = [r["step"] for r in rows]
    for ax, (keys, label) in zip(axes.flat, PANELS):
        shown = []
        for key in keys if isinstance(keys, tuple) else (keys,):
            ys = [r.get(key) for r in rows]
            if any(y is not None for y in ys):
                ax.plot(steps, [float("nan") if y is None else y for y in ys], marker="o", ms=2.5, lw=1.2, label=key)
                shown += ys
        ax.set_title(label)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        steady_ylim(ax, shown)
        if isinstance(keys, tuple):
            ax.legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def figure_name(stage: int) -> str:
    """fig8_dynamics_stage1, fig9_dynamics_stage2, fig10_dynamics_stage3 (supplement numbering)."""
    return f"fig{7 + stage}_dynamics_stage{stage}"


METRICS = {  # key -> y-axis label, in the viewer's order
    "overall": "overall reward",
    "accuracy": "accuracy reward",
    "format": "format reward",
    "f1": "F1",
    "miou": "mean IoU",
    "kl": "KL to reference",
    "entropy": "entropy",
    "grad_norm": "gradient norm",
    "response_length": "response length (tokens)",
    "cpu_memory_gb": "CPU memory (GiB)",
    "kept_fraction": "kept-group fraction",
    "step_time_s": "step time (s)",
}


def plot_curves(rows: list[dict], metrics, title: str = ""):
    """One small panel per metric (each with its own y-axis and label) against the step."""
    metrics = list(metrics)
    n = max(len(metrics), 1)
    ncols = min(n, 3)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.4 * nrows), squeeze=False)
    steps = [r["step"] for r in rows]
    for ax in axes.flat[len(metrics) :]:
        ax.set_axis_off()
    for ax, key in zip(axes.flat, metrics):
        ys = [r.get(key) for r in rows]
        ax.plot(steps, [float("nan") if y is None else y for y in ys], marker="o", ms=3, lw=1.2)
        ax.set_ylabel(METRICS.get(key, key))
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        steady_ylim(ax, ys)
        if all(y is None for y in ys):
            ax.text(0.5, 0.5, "not logged", transform=ax.transAxes, ha="center", va="center", color="0.5")
    if not metrics:
        axes.flat[0].text(0.5, 0.5, "tick a metric above", ha="center", va="center", color="0.5")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def curve_viewer(run_dir: str | Path, stage: int | str | None = None, metrics=("overall", "format", "kl", "entropy")):
    """An ipywidgets viewer of a run's training curves (JupyterLab): a stage menu that opens on
    ``stage`` (the notebook's), a tick box per metric, one labelled panel per ticked metric."""
    import ipywidgets as widgets
    from IPython.display import display

    stages = sorted((p.parent.name for p in Path(run_dir).glob("stage*/metrics.jsonl")), key=lambda n: (len(n), n))
    if not stages:
        raise ValueError(f"{run_dir}: no stage*/metrics.jsonl yet")
    want = f"stage{stage}" if stage is not None and not str(stage).startswith("stage") else stage
    menu = widgets.Dropdown(options=stages, value=want if want in stages else stages[-1], description="stage")
    boxes = {
        k: widgets.Checkbox(value=k in metrics, description=label, indent=False, layout=widgets.Layout(width="190px"))
        for k, label in METRICS.items()
    }
    out = widgets.Output()

    def show(change=None):
        with out:
            out.clear_output(wait=True)
            rows = read_metrics(Path(run_dir) / menu.value / "metrics.jsonl")
            chosen = [k for k, b in boxes.items() if b.value]
            fig = plot_curves(rows, chosen, title=f"{menu.value}: training curves ({Path(run_dir).name})")
            display(fig)
            plt.close(fig)

    for w in (menu, *boxes.values()):
        w.observe(show, names="value")
    show()
    grid = widgets.GridBox(list(boxes.values()), layout=widgets.Layout(grid_template_columns="repeat(4, 200px)"))
    return widgets.VBox([menu, grid, out])
