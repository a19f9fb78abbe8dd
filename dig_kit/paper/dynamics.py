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


def plot_dynamics(rows: list[dict], title: str = ""):
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.2))
    steps = [r["step"] for r in rows]
    for ax, (keys, label) in zip(axes.flat, PANELS):
        for key in (keys if isinstance(keys, tuple) else (keys,)):
            ys = [r.get(key) for r in rows]
            if any(y is not None for y in ys):
                ax.plot(steps, [float("nan") if y is None else y for y in ys], marker="o", ms=2.5, lw=1.2, label=key)
        ax.set_title(label)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if isinstance(keys, tuple):
            ax.legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def figure_name(stage: int) -> str:
    """fig8_dynamics_stage1, fig9_dynamics_stage2, fig10_dynamics_stage3 (supplement numbering)."""
    return f"fig{7 + stage}_dynamics_stage{stage}"


def curve_viewer(run_dir: str | Path):
    """An ipywidgets viewer of a run's training curves (JupyterLab): pick stage and metrics."""
    import ipywidgets as widgets
    from IPython.display import display

    stages = sorted(p.parent.name for p in Path(run_dir).glob("stage*/metrics.jsonl"))
    if not stages:
        raise ValueError(f"{run_dir}: no stage*/metrics.jsonl yet")
    metrics = ["overall", "format", "accuracy", "f1", "miou", "kl", "entropy", "grad_norm", "response_length",
               "cpu_memory_gb", "kept_fraction", "step_time_s"]
    stage = widgets.Dropdown(options=stages, description="stage")
    chosen = widgets.SelectMultiple(options=metrics, value=("overall", "format"), description="metrics", rows=6)
    out = widgets.Output()

    def show(change=None):
        with out:
            out.clear_output(wait=True)
            rows = read_metrics(Path(run_dir) / stage.value / "metrics.jsonl")
            fig, ax = plt.subplots(figsize=(6, 3))
            for key in chosen.value:
                ax.plot([r["step"] for r in rows], [r.get(key, float("nan")) for r in rows], marker="o", ms=3, label=key)
            ax.set_xlabel("step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=7, frameon=False)
            display(fig)
            plt.close(fig)

    stage.observe(show, names="value")
    chosen.observe(show, names="value")
    show()
    return widgets.VBox([widgets.HBox([stage, chosen]), out])
