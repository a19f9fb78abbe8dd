"""Reward sanity checks: the curves, tables, figures and widget of ``notebooks/02_reward_sanity``.

Each check asks whether the DiG reward behaves as the paper argues, on synthetic predictions
(no model): it decays smoothly as boxes drift (:func:`jitter_curve`), misses and extra boxes
cost what F1 says (:func:`missed_extra_curves`), a coordinate-convention mistake is punished
(:func:`coordinate_table`), and the slides' ablation variants rank the same predictions the way
the slides explain (:func:`variant_table`): IoU-only rewards one precise box among three
differences as much as finding all three, F1-only cannot tell loose boxes from tight ones.
:func:`case_study_table` scores the supplement's own case-study output.

Computation functions return plain data (tested); ``plot_*`` functions return matplotlib
figures; :func:`playground` builds an ipywidgets panel. matplotlib is imported here, so this
module is not imported by ``dig_kit.rewards`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dig_kit.rewards.dig import VARIANTS, dig_reward, dig_reward_group
from dig_kit.rewards.geometry import COORD_FORMATS

from .case_study import CASE_STUDY_BOXES, CASE_STUDY_IMAGE_SIZE, CASE_STUDY_OUTPUT
from .synthetic_outputs import jitter_boxes, random_gt_boxes, render_completion, to_coord_format

SOURCE = "synthetic predictions scored by dig_kit.rewards (no model)"
IMAGE_SIZE = (480, 320)
_CURVE_KEYS = ("overall", "f1", "miou", "format", "precision", "recall")


def scene(seed: int = 0, num_gt: int = 3, image_size: tuple[int, int] = IMAGE_SIZE) -> list[list[float]]:
    """Ground-truth boxes of one synthetic scene: ``num_gt`` non-overlapping boxes."""
    rng = np.random.default_rng(seed)
    while True:
        boxes = random_gt_boxes(rng, num_gt, image_size, min_size=40, max_size=90)
        b = np.asarray(boxes)
        ix = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
        iy = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
        overlap = (ix > 0) & (iy > 0)
        if overlap.sum() == num_gt:  # only the diagonal
            return boxes


def _scaled(boxes: Sequence[Sequence[float]], s: float) -> list[list[float]]:
    """Boxes scaled by ``s`` about their centres: a concentric box has IoU ``s**2`` (s < 1)."""
    b = np.asarray(boxes, dtype=np.float64)
    c, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) / 2 * s
    return np.concatenate([c - half, c + half], axis=1).tolist()


def _shifted(boxes: Sequence[Sequence[float]], d: float) -> list[list[float]]:
    """Boxes shifted right by ``d`` times their width: IoU ``(1 - d) / (1 + d)``."""
    b = np.asarray(boxes, dtype=np.float64).copy()
    w = b[:, 2] - b[:, 0]
    b[:, 0] += d * w
    b[:, 2] += d * w
    return b.tolist()


def jitter_curve(
    seed: int = 0, sigmas: Sequence[float] | None = None, trials: int = 200, num_gt: int = 3, **options: Any
) -> dict[str, np.ndarray]:
    """Mean reward components when every corner of a perfect answer moves by Gaussian noise of
    ``sigma`` x box size. Returns ``sigma`` and one mean and one std array per component."""
    sigmas = np.linspace(0.0, 0.5, 11) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    rng = np.random.default_rng(seed)
    gt = scene(seed, num_gt)
    out: dict[str, list] = {f"{k}{s}": [] for k in _CURVE_KEYS for s in ("", "_std")}
    for sigma in sigmas:
        texts = [render_completion(jitter_boxes(rng, gt, float(sigma))) for _ in range(trials)]
        r = dig_reward_group(texts, gt, IMAGE_SIZE, **options)
        for k in _CURVE_KEYS:
            out[k].append(r[k].mean())
            out[f"{k}_std"].append(r[k].std())
    return {"sigma": sigmas, **{k: np.asarray(v) for k, v in out.items()}}


def missed_extra_curves(seed: int = 0, num_gt: int = 4, max_extra: int = 6, trials: int = 100, **options: Any) -> dict:
    """Reward of a perfect answer with ``k`` ground-truth boxes left out (``missed``) or with
    ``k`` random boxes added (``extra``, averaged over ``trials`` draws)."""
    rng = np.random.default_rng(seed)
    gt = scene(seed, num_gt)
    missed = [dig_reward(render_completion(gt[k:]), gt, IMAGE_SIZE, **options) for k in range(num_gt + 1)]
    extra = []
    for k in range(max_extra + 1):
        texts = [render_completion(gt + random_gt_boxes(rng, k, IMAGE_SIZE)) for _ in range(trials)]
        r = dig_reward_group(texts, gt, IMAGE_SIZE, **options)
        extra.append({key: float(r[key].mean()) for key in _CURVE_KEYS})
    to_arrays = lambda rows: {key: np.asarray([row[key] for row in rows], dtype=float) for key in _CURVE_KEYS}  # noqa: E731
    return {
        "missed_k": np.arange(num_gt + 1), "missed": to_arrays(missed),
        "extra_k": np.arange(max_extra + 1), "extra": to_arrays(extra),
    }  # fmt: skip


def coordinate_table(seed: int = 0, trials: int = 50, sigma: float = 0.05, **options: Any) -> dict:
    """Mean overall reward when the model writes boxes in one convention (rows) and the reward
    reads them in another (columns); good answers (jitter ``sigma``) on a 480x320 image."""
    rng = np.random.default_rng(seed)
    gt = scene(seed)
    options.pop("coord_format", None)
    mat = np.zeros((len(COORD_FORMATS), len(COORD_FORMATS)))
    answers = [jitter_boxes(rng, gt, sigma) for _ in range(trials)]
    for i, written in enumerate(COORD_FORMATS):
        texts = [render_completion(to_coord_format(a, IMAGE_SIZE, written)) for a in answers]
        for j, read in enumerate(COORD_FORMATS):
            mat[i, j] = dig_reward_group(texts, gt, IMAGE_SIZE, coord_format=read, **options)["overall"].mean()
    return {"written": list(COORD_FORMATS), "read": list(COORD_FORMATS), "overall": mat}


def variant_scenarios(seed: int = 0) -> tuple[list[list[float]], list[tuple[str, str]]]:
    """Ground truth (3 boxes) and named synthetic answers that separate the reward variants."""
    rng = np.random.default_rng(seed)
    gt = scene(seed, 3)
    scenarios = [
        ("all 3 found, exact", gt),
        ("all 3 found, tight (IoU 0.9)", _scaled(gt, 0.9**0.5)),
        ("all 3 found, loose (IoU 0.55)", _scaled(gt, 0.55**0.5)),
        ("1 exact box, 2 missed", gt[:1]),
        ("3 exact + 3 hallucinated", gt + random_gt_boxes(rng, 3, IMAGE_SIZE)),
        ("3 misplaced (IoU 0.3)", _shifted(gt, 0.7 / 1.3)),
        ("empty list", []),
        ("no parsable answer", None),
    ]
    texts = [
        (name, render_completion(boxes) if boxes is not None else "I think the cube changed.")
        for name, boxes in scenarios
    ]
    return gt, texts


def variant_table(seed: int = 0, **options: Any) -> list[dict]:
    """One row per scenario of :func:`variant_scenarios`: its F1 and mIoU and the overall reward
    under each ablation variant of the slides (format / +IoU / +F1 / +IoU+F1)."""
    gt, scenarios = variant_scenarios(seed)
    options.pop("variant", None)
    rows = []
    for name, text in scenarios:
        base = dig_reward(text, gt, IMAGE_SIZE, **options)
        row = {"prediction": name, "F1": base["f1"], "mIoU": base["miou"]}
        for v in VARIANTS:
            row[v] = dig_reward(text, gt, IMAGE_SIZE, variant=v, **options)["overall"]
        rows.append(row)
    return rows


def case_study_table(**options: Any) -> list[dict]:
    """The supplement's case-study output (Fig. 11) scored against its own boxes, and the same
    output under deliberate mistakes, with the reward components."""
    gt, size = CASE_STUDY_BOXES, CASE_STUDY_IMAGE_SIZE
    options.pop("coord_format", None)
    thinking_only = CASE_STUDY_OUTPUT.split("</think>")[0]
    cases = [
        ("its own boxes (perfect)", CASE_STUDY_OUTPUT, gt, {}),
        ("one more difference it missed", CASE_STUDY_OUTPUT, gt + [[600, 300, 680, 380]], {}),
        ("one of its boxes is not a difference", CASE_STUDY_OUTPUT, gt[:2], {}),
        ("read as rel1000 (x1.024 on the assumed 1024 px)", CASE_STUDY_OUTPUT, gt, {"coord_format": "rel1000"}),
        ("read as rel1 (boxes pushed off the image)", CASE_STUDY_OUTPUT, gt, {"coord_format": "rel1"}),
        ("thinking only, answer cut off", thinking_only, gt, {}),
    ]
    rows = []
    for name, text, g, extra in cases:
        r = dig_reward(text, g, size, **{**options, **extra})
        rows.append(
            {"case": name, **{k: r[k] for k in ("overall", "format", "f1", "miou", "precision", "recall", "num_pred")}}
        )
    return rows


# --------------------------------------------------------------------------------- figures


def _plt():
    import matplotlib.pyplot as plt

    from dig_kit.paper.figures import apply_style

    apply_style()
    return plt


_COLORS = {
    "overall": "black", "f1": "tab:blue", "miou": "tab:orange",
    "format": "tab:green", "precision": "tab:purple", "recall": "tab:red",
}  # fmt: skip
_STYLES = {"miou": dict(ls="--", lw=2.2), "precision": dict(ls=":", lw=1.6)}
_LABELS = {
    "overall": "overall r", "f1": "F1", "miou": "mean IoU",
    "format": "format", "precision": "precision", "recall": "recall",
}  # fmt: skip


def plot_jitter(curve: dict):
    """Reward components against box jitter."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    for k in ("overall", "f1", "miou", "format"):
        ax.plot(curve["sigma"], curve[k], marker="o", ms=3, color=_COLORS[k], label=_LABELS[k], **_STYLES.get(k, {}))
        if k == "overall":
            ax.fill_between(
                curve["sigma"],
                curve[k] - curve[f"{k}_std"],
                curve[k] + curve[f"{k}_std"],
                color="0.8",
                lw=0,
                label="overall r, ±1 sd over trials",
            )
    ax.set_xlabel("corner jitter sigma (fraction of box size)")
    ax.set_ylabel("reward (mean over trials)")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title("DiG reward against box jitter (3 ground-truth boxes)")
    ax.legend(frameon=False, fontsize=7)
    return _room_for_source(fig)


def _room_for_source(fig):
    """Keep the bottom strip free for the source line that ``save_figure`` stamps."""
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_missed_extra(curves: dict):
    """Reward components against missed and extra boxes."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), sharey=True)
    for ax, key, xlabel in ((axes[0], "missed", "ground-truth boxes missed"), (axes[1], "extra", "random extra boxes")):
        for k in ("overall", "f1", "miou", "precision", "recall"):
            ax.plot(
                curves[f"{key}_k"],
                curves[key][k],
                marker="o",
                ms=3,
                color=_COLORS[k],
                label=_LABELS[k],
                **_STYLES.get(k, {}),
            )
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("reward")
    axes[0].set_ylim(-0.02, 1.05)
    axes[0].set_title(f"misses (of {len(curves['missed_k']) - 1})")
    axes[1].set_title("extras (perfect answer + k random boxes)")
    # one legend for both panels (the same five series in each), above them
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=5, frameon=False, fontsize=7)
    fig.tight_layout(rect=(0, 0.07, 1, 0.9))
    return fig


def plot_coordinates(table: dict):
    """Heat map of the overall reward, convention written x convention read."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    im = ax.imshow(table["overall"], vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(table["read"])), table["read"])
    ax.set_yticks(range(len(table["written"])), table["written"])
    ax.set_xlabel("coord_format the reward reads")
    ax.set_ylabel("convention the model wrote")
    for i in range(table["overall"].shape[0]):
        for j in range(table["overall"].shape[1]):
            v = table["overall"][i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.5 else "black", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, label="mean overall reward")
    ax.set_title("coordinate conventions (480x320 image)")
    return _room_for_source(fig)


# ------------------------------------------------------------------------------ playground


def playground(
    gt_boxes: Sequence[Sequence[float]] | None = None,
    image_size: tuple[int, int] = IMAGE_SIZE,
    seed: int = 0,
    **options: Any,
):
    """An ipywidgets panel: move and resize one predicted box with two range sliders (x1-x2,
    y1-y2: the corners cannot swap), optionally add
    exact copies of the other ground-truth boxes, switch variant and IoU normalisation, and
    watch the reward components update. Needs ``ipywidgets`` (the ``notebooks`` extra)."""
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the reward playground needs ipywidgets: pip install 'dig-kit[notebooks]'") from e
    plt = _plt()
    from matplotlib.patches import Rectangle

    gt = [list(map(float, b)) for b in (gt_boxes if gt_boxes is not None else scene(seed, 3, image_size))]
    w, h = image_size
    first = [int(v) for v in gt[0]]
    # range sliders: x1 <= x2 and y1 <= y2 by construction, a box cannot turn inside out
    wide = widgets.Layout(width="420px")
    xs = widgets.IntRangeSlider(value=(first[0], first[2]), min=0, max=w, description="x1, x2", layout=wide)
    ys = widgets.IntRangeSlider(value=(first[1], first[3]), min=0, max=h, description="y1, y2", layout=wide)
    others = widgets.Checkbox(
        value=False,
        description="add the other ground-truth boxes exactly",
        indent=False,
        layout=widgets.Layout(width="auto"),
    )
    variant = widgets.Dropdown(
        options=list(VARIANTS), value=options.pop("variant", "format_iou_f1"), description="variant"
    )
    norm = widgets.Dropdown(
        options=["matched", "max_count"], value=options.pop("iou_normalization", "matched"), description="mIoU over"
    )
    out = widgets.Output()

    def update(*_):
        pred = [[xs.value[0], ys.value[0], xs.value[1], ys.value[1]]] + (gt[1:] if others.value else [])
        r = dig_reward(
            render_completion(pred), gt, image_size, variant=variant.value, iou_normalization=norm.value, **options
        )
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(5, 5 * h / w))
            ax.set_xlim(0, w)
            ax.set_ylim(h, 0)
            for k, b in enumerate(gt):
                ax.add_patch(
                    Rectangle(
                        (b[0], b[1]),
                        b[2] - b[0],
                        b[3] - b[1],
                        fill=False,
                        ec="tab:green",
                        lw=2,
                        label="ground truth" if k == 0 else None,
                    )
                )
            for k, (x1, y1, x2, y2) in enumerate(pred):
                ax.add_patch(
                    Rectangle(
                        (x1, y1),
                        x2 - x1,
                        y2 - y1,
                        fill=False,
                        ec="tab:red",
                        lw=1.5,
                        ls="--",
                        label="prediction" if k == 0 else None,
                    )
                )
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=7, frameon=False)
            ax.set_title(
                f"overall {r['overall']:.3f} | F1 {r['f1']:.2f} | mIoU {r['miou']:.2f} | "
                f"P {r['precision']:.2f} R {r['recall']:.2f} | format {r['format']:.0f}",
                fontsize=8,
            )
            ax.set_aspect("equal")
            display(fig)  # works whatever backend dig_kit.paper.figures left selected
            plt.close(fig)

    for wdg in (xs, ys, others, variant, norm):
        wdg.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([widgets.VBox([xs, ys]), widgets.VBox([variant, norm])]), others, out])
