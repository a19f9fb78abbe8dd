"""The ``mini`` profile's report: DiG in miniature on a CPU (README "The method in miniature").

Everything here reads what the notebooks wrote under ``runs/mini/`` and turns it into
``runs/mini/results.json`` (machine-readable), ``tab_mini_results`` and ``fig_mini_heldout``:

- ``heldout.baseline_mean_box``: no model, the same box for every pair, the mean of the
  ground-truth boxes of the training subsets (what a model that learned only where differences
  usually are would score); scored by the ``dig_eval`` task like any model;
- ``heldout.backbone`` (or ``heldout.random_init`` for a model built at random init),
  ``heldout.after_grounding``, ``heldout.warm_start``: the starting weights, after the grounding
  phase (when it runs), after the supervised DiG phase (notebook 02a);
- ``backbone``: the perception-pretrained backbone the warm start began from (``dig-kit
  pretrain``'s ``pretrain.json``): ``{path, made_on, wall_s, examples_seen, yes_no_accuracy,
  yes_no_think_accuracy, yes_no_first_accuracy, colour_accuracy, named_colour_accuracy}``,
  held-out on Cycles renders (``yes_no_think_accuracy``: one image, answered after the model's
  own thought; ``yes_no_first_accuracy``: one image, the question before it; each null for a
  backbone made before that check; ``colour_accuracy``: the linear colour probe of
  ``benchmarks/probe_mini.py``); null for a random init;
- ``heldout.stage1..3``: after each GRPO curriculum stage (notebook 04);
- ``heldout_change``: each stage's F1 change against the warm start on the same held-out pairs,
  with a 95% paired-bootstrap interval (pairs resampled, both models scored on the same draw): a
  change whose interval spans 0 is within the noise of this many pairs;
- ``twin``: pair accuracy on the held-out TWIN split, with and without hard negatives, and the
  warm start's (notebook 05), against chance (50%: the labels are balanced);
- ``ablations``: curriculum and reward-component ablations, mean and spread over seeds
  (notebook 06);
- ``wall_s``, ``wall_s_lower_bound``, ``step_s``: added by ``dig-kit reproduce`` (the sum of the
  steps when all ran in one invocation, render included; else null and a lower bound).

Every metric is on the held-out ``eval`` split, as fractions in [0, 1] (the evaluation tasks
report percentages; they are divided by 100 here).
"""

from __future__ import annotations

import json
from pathlib import Path

HELDOUT_KEYS = ("f1", "miou", "precision", "recall", "format")
PHASE_LABELS = {  # results.json key -> label in the tables and figures
    "baseline_mean_box": "mean-box baseline (no model)",
    "random_init": "mini model, random init",
    "backbone": "mini backbone (dig-kit pretrain)",
    "after_grounding": "after SFT grounding",
    "warm_start": "warm start (after SFT DiG)",
    "stage1": "+ GRPO stage 1",
    "stage2": "+ GRPO stage 2",
    "stage3": "+ GRPO stage 3",
}
STANDIN = (
    "mini Qwen3-VL (2M parameters) perception-pretrained by the kit's own recipe (dig-kit pretrain, generated "
    "scenes) and warm-started by supervised DiG, standing in for Qwen3-VL; not the paper's model or numbers"
)
INIT_LABELS = {"backbone": "pretrained backbone", "random_init": "random init"}
"""Notebook 02a's label of the starting weights, by results.json key."""


def init_label(cfg) -> str:
    """Notebook 02a's label of the warm start's starting weights."""
    return INIT_LABELS["backbone" if cfg.warm_start.backbone else "random_init"]


def backbone_summary(model_dir: str | Path) -> dict | None:
    """``results.json``'s ``backbone``: what the warm start began from (``backbone.json`` and
    ``pretrain.json`` of the copy in ``model_dir``); None for a model built at random init."""
    model_dir = Path(model_dir)
    source, card = _read(model_dir / "backbone.json"), _read(model_dir / "pretrain.json")
    if not source or not card:
        return None
    held = card.get("heldout") or {}
    path = Path(source["path"])
    try:
        path = path.relative_to(Path(__file__).resolve().parents[2])
    except ValueError:
        pass
    return {
        "path": str(path),
        "made_on": card.get("made_on"),
        "wall_s": card.get("wall_s"),
        "examples_seen": card.get("examples_seen"),
        "yes_no_accuracy": held.get("yes_no"),
        "yes_no_think_accuracy": held.get("yes_no_think"),
        "yes_no_first_accuracy": held.get("yes_no_first"),
        "colour_accuracy": held.get("colour_probe"),
        "named_colour_accuracy": held.get("named_color"),
    }


def heldout_summary(metrics: dict | None) -> dict | None:
    """``{f1, miou, precision, recall, format}`` (fractions) of a ``dig_eval`` metrics dict."""
    if not metrics or metrics.get("status") not in (None, "scored") or metrics.get("f1") is None:
        return None
    return {k: round(float(metrics[k]) / 100.0, 4) for k in HELDOUT_KEYS if metrics.get(k) is not None}


def mean_box(data_dir: str | Path, subsets=("stage1", "stage2", "stage3")) -> list[float]:
    """The mean ground-truth difference box of the training subsets (pixels)."""
    from dig_kit.data.reader import read_rows

    boxes = []
    for subset in subsets:
        for meta in sorted((Path(data_dir) / subset).glob("*/metadata.jsonl")):
            boxes += [b for r in read_rows(meta) for b in r["boxes"]]
    if not boxes:
        raise ValueError(f"{data_dir}: no ground-truth boxes in subsets {list(subsets)}")
    return [round(sum(b[i] for b in boxes) / len(boxes), 1) for i in range(4)]


def mean_box_baseline(data_dir: str | Path) -> dict:
    """``dig_eval`` metrics of answering :func:`mean_box` for every held-out pair."""
    from dig_kit.evaluation.tasks import get_task

    task = get_task("dig_eval")
    docs = task.load(data_dir)
    box = mean_box(data_dir)
    answer = "</think>\n\n[" + json.dumps(box) + "]"
    metrics, _ = task.score(docs, {d["id"]: {"output": answer} for d in docs}, thinking=True)
    return {**metrics, "box": box}


def _score_rows(settings: dict | None, runs: Path) -> dict[str, tuple[int, int, int]] | None:
    """Per held-out pair ``(tp, n_pred, n_gt)`` from the ``scores-*.jsonl`` an evaluation wrote
    (``settings["scores"]``, as written: relative to where the run started). Looked for below
    ``runs`` first (the runs directory may have moved since), then as written."""
    path = Path((settings or {}).get("scores") or "")
    if not path.name:
        return None
    parts = path.parts
    below = [runs.joinpath(*parts[i + 1 :]) for i, part in enumerate(parts) if part == runs.name]
    candidates = below[::-1] + [path]
    for candidate in candidates:
        if candidate.is_file():
            rows = [json.loads(line) for line in candidate.read_text().splitlines() if line.strip()]
            return {r["id"]: (int(r.get("tp", 0)), int(r.get("n_pred", 0)), int(r.get("n_gt", 0))) for r in rows}
    return None


def f1_change(base: dict, other: dict, n_resamples: int = 2000, seed: int = 0) -> dict | None:
    """Micro F1 of ``other`` minus ``base`` (both ``{id: (tp, n_pred, n_gt)}``) on their shared
    pairs, and its 95% paired-bootstrap interval (percentile); fractions. None without shared pairs."""
    import numpy as np

    ids = sorted(set(base) & set(other))
    if not ids:
        return None
    a = np.array([base[i] for i in ids], dtype=float)
    b = np.array([other[i] for i in ids], dtype=float)

    def f1(counts):  # counts [..., 3] summed over pairs: 2 tp / (n_pred + n_gt)
        denom = counts[..., 1] + counts[..., 2]
        return np.where(denom > 0, 2 * counts[..., 0] / np.maximum(denom, 1), 0.0)

    draw = np.random.default_rng(seed).integers(0, len(ids), size=(n_resamples, len(ids)))
    deltas = f1(b[draw].sum(axis=1)) - f1(a[draw].sum(axis=1))
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    return {
        "f1_delta": round(float(f1(b.sum(axis=0)) - f1(a.sum(axis=0))), 4),
        "ci95": [round(float(lo), 4), round(float(hi), 4)],
        "n": len(ids),
    }


def _read(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def collect_results(runs: str | Path, data_dir: str | Path | None = None) -> dict:
    """Gather the mini profile's numbers from ``runs`` (``runs/mini``) into one dict and write
    ``runs/results.json`` (keeping a ``wall_s`` the pipeline wrote before)."""
    runs = Path(runs)
    data_dir = Path(data_dir or runs / "data")
    # results.json key -> the model's label in notebook 02a's / 04's summary.json
    sources = {
        **{
            k: (runs / "warm_start" / "results.json", label)
            for k, label in (
                *INIT_LABELS.items(),
                ("after_grounding", "after grounding"),
                ("warm_start", "after DiG SFT"),
            )
        },
        **{f"stage{k}": (runs / "eval" / "summary.json", f"+ DiG stage {k}") for k in (1, 2, 3)},
    }
    summaries = {path: _read(path) or {} for path, _ in sources.values()}
    heldout = {"baseline_mean_box": heldout_summary(mean_box_baseline(data_dir))}
    grounding, settings = {}, {}
    for key, (path, label) in sources.items():
        dig = summaries[path].get(label, {}).get("dig_eval")
        heldout[key] = heldout_summary(dig)
        grounding[key] = heldout_summary(summaries[path].get(label, {}).get("dig_grounding"))
        settings[key] = (dig or {}).get("settings") if heldout[key] else None
    change, base = {}, _score_rows(settings["warm_start"], runs)
    for key in ("stage1", "stage2", "stage3"):
        other = _score_rows(settings[key], runs) if base else None
        if other:
            change[key] = f1_change(base, other)
    twin_metrics = _read(runs / "twin-train" / "summary.json") or {}

    def pair(name):
        m = twin_metrics.get(name) or {}
        return None if m.get("pair") is None else round(float(m["pair"]) / 100.0, 4)

    twin = {
        "pair_accuracy": pair("+ TWIN (synthetic)"),
        "pair_accuracy_no_hard_negatives": pair("+ TWIN w/o hard negatives (synthetic)"),
        "pair_accuracy_warm_start": pair("base policy"),
        "chance": 0.5,
        "n": (twin_metrics.get("+ TWIN (synthetic)") or {}).get("n"),
    }
    ablations = _read(runs / "ablations" / "summary.json") or {}
    old = _read(runs / "results.json") or {}
    results = {
        "profile": "mini",
        "model": STANDIN,
        "backbone": backbone_summary(runs / "model"),
        **{k: old.get(k) for k in ("wall_s", "wall_s_lower_bound", "wall_s_note", "step_s") if k in old},
        "heldout": heldout,
        "heldout_grounding": grounding,
        "heldout_change": {"vs": "warm_start", **change} if change else None,
        "twin": twin,
        "ablations": ablations,
        "notes": {
            "heldout": "DiG held-out split (eval subset), no count hint, IoU >= 0.5 after Hungarian matching; "
            "fractions",
            "heldout_change": "F1 of each stage minus the warm start's, same pairs; ci95: 2,000 paired bootstrap "
            "resamples of the pairs (percentile interval)",
            "wall_s": "dig-kit reproduce: sum of the steps when every step ran in one invocation, else null "
            "(wall_s_lower_bound: the sum of each step's last run)",
        },
    }
    (runs / "results.json").write_text(json.dumps(results, indent=1))
    return results


def results_rows(results: dict) -> list[dict]:
    """Rows of ``tab_mini_results``: the held-out metrics of each phase (percent)."""
    rows = []
    for key, label in PHASE_LABELS.items():
        m = results["heldout"].get(key)
        if m is None:
            continue
        g = (results.get("heldout_grounding") or {}).get(key) or {}
        c = (results.get("heldout_change") or {}).get(key)
        rows.append(
            {
                "Model": label,
                **{
                    k.upper() if k == "f1" else k.capitalize() if k != "miou" else "mIoU": round(100 * m[k], 1)
                    for k in HELDOUT_KEYS
                    if k in m
                },
                "Grounding F1 (1 image)": round(100 * g["f1"], 1) if "f1" in g else None,
                "F1 vs warm start [95% CI]": _change(c),
            }
        )
    return rows


def plot_heldout(results: dict):
    """Bars: held-out F1 and mIoU of the baseline, the warm-start phases and each GRPO stage."""
    import matplotlib.pyplot as plt

    keys = [k for k in PHASE_LABELS if results["heldout"].get(k)]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    width = 0.38
    for j, (metric, color) in enumerate((("f1", "#3b6fb6"), ("miou", "#e39b3b"))):
        vals = [100 * results["heldout"][k][metric] for k in keys]
        xs = [i + (j - 0.5) * width for i in range(len(keys))]
        ax.bar(xs, vals, width, label="F1 (IoU>=0.5)" if metric == "f1" else "mIoU", color=color)
        for x, v in zip(xs, vals):
            ax.text(x, v, f"{v:.0f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([PHASE_LABELS[k].replace(" (", "\n(") for k in keys], fontsize=6, rotation=20, ha="right")
    ax.set_ylabel("held-out DiG (%)")
    ax.set_title("DiG in miniature: held-out split after each phase")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def heldout_callbacks(cfg, data_dir: str | Path, max_new_tokens: int = 64):
    """``callbacks`` for :func:`dig_kit.train.warmstart.run_warm_start`: every
    ``warm_start.eval_every`` steps (and at the end), greedy-decode the first
    ``warm_start.eval_pairs`` held-out pairs with the model being trained and append
    ``{"split": "eval", "step", "benchmark", f1, miou, precision, recall, format}`` to the phase's
    metrics.jsonl: ``dig_grounding`` in the grounding phase, ``dig_eval`` (no count hint) in the
    DiG phase. Only the main process checks; training waits meanwhile (it is what the curve costs)."""
    ws = cfg.warm_start
    if ws.eval_every <= 0:
        return None
    from transformers import TrainerCallback

    from dig_kit.evaluation.runner import score_loaded

    def make(phase, processor, out):
        bench = "dig_grounding" if phase == "grounding" else "dig_eval"

        class HeldOut(TrainerCallback):
            def check(self, state, model):
                if not state.is_world_process_zero:
                    return
                metrics = score_loaded(
                    model, processor, bench, data_dir, limit=ws.eval_pairs, max_new_tokens=max_new_tokens
                )
                model.train()
                row = {
                    "split": "eval",
                    "step": state.global_step,
                    "benchmark": bench,
                    **(heldout_summary(metrics) or {}),
                }
                with open(Path(out) / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")

            def on_step_end(self, args, state, control, model=None, **kwargs):
                if state.global_step % ws.eval_every == 0 and state.global_step < state.max_steps:
                    self.check(state, model)

            def on_train_end(self, args, state, control, model=None, **kwargs):
                self.check(state, model)

        return [HeldOut()]

    return make


def plot_warm_start(run_dir: str | Path):
    """Left: training loss of the warm start's phases. Right: held-out F1 / mIoU against
    optimizer steps (grounding on single images, then DiG), when checks were logged."""
    import matplotlib.pyplot as plt

    from dig_kit.train.warmstart import PHASES, read_loss

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(8.0, 2.8))
    offset = 0
    for phase in PHASES:
        rows, checks = read_loss(run_dir, phase), read_loss(run_dir, phase, "eval")
        if rows:
            ax.plot([offset + r["step"] for r in rows], [r["loss"] for r in rows], label=f"SFT {phase}")
        for key, style in (("f1", "-o"), ("miou", "--s")):
            pts = [(offset + r["step"], 100 * r[key]) for r in checks if key in r]
            if pts:
                bx.plot(
                    *zip(*pts),
                    style,
                    markersize=3,
                    label=f"{'grounding' if phase == 'grounding' else 'DiG'} {'F1' if key == 'f1' else 'mIoU'}",
                )
        if rows:
            offset += rows[-1]["step"]
    ax.set_xlabel("optimizer step (phases in order)")
    ax.set_ylabel("loss (completion tokens)")
    ax.set_title("Warm start (stand-in for pretraining)")
    ax.legend(fontsize=7, frameon=False)
    bx.set_xlabel("optimizer step (phases in order)")
    bx.set_ylabel("held-out (%)")
    bx.set_title("Held-out checks against training budget")
    bx.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def warm_start_rows(results: dict[str, dict[str, dict]]) -> list[dict]:
    """Rows of ``tab_mini_warm_start``: what each warm-start phase buys on the held-out split."""
    rows = []
    for label, by_bench in results.items():
        dig = heldout_summary(by_bench.get("dig_eval")) or {}
        ground = heldout_summary(by_bench.get("dig_grounding")) or {}
        rows.append(
            {
                "Model": label,
                "DiG F1": _pct(dig.get("f1")),
                "DiG mIoU": _pct(dig.get("miou")),
                "DiG format": _pct(dig.get("format")),
                "Grounding F1": _pct(ground.get("f1")),
                "Grounding mIoU": _pct(ground.get("miou")),
            }
        )
    return rows


def _pct(v):
    return None if v is None else round(100 * v, 1)


def _change(c: dict | None) -> str | None:
    """``+1.2 [-3.0, +5.1]`` (percentage points) of a :func:`f1_change` result."""
    if not c:
        return None
    lo, hi = c["ci95"]
    return f"{100 * c['f1_delta']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


BACKBONE_CURVES = {
    "yes_no": "yes/no (chance 0.5)",
    "yes_no_think": "yes/no after its own thought (1 image)",
    "yes_no_first": "yes/no, question before the image (1 image)",
    "named_color": "colour named (chance 0.125)",
    "named_shape": "shape named (chance 0.33)",
    "named_material": "material named (chance 0.5)",
    "named_size": "size named (chance 0.33)",
    "grounding_f1": "grounding F1 (1 image)",
    "dig_f1": "DiG F1 (pairs, no count hint)",
}


def plot_backbone_curve(
    metrics: str | Path | list[dict], title: str = "mini backbone: held-out checks", marks: dict | None = None
):
    """The backbone's held-out checks (Cycles renders) against examples seen, one line per check,
    from ``dig-kit pretrain``'s ``metrics.jsonl`` rows (several runs: by ``examples_total``);
    ``marks``: label -> examples seen, drawn as vertical lines (e.g. where a continuation starts)."""
    import matplotlib.pyplot as plt

    if not isinstance(metrics, list):
        metrics = [json.loads(line) for line in Path(metrics).read_text().splitlines() if line.strip()]
    rows = [r for r in metrics if "yes_no" in r]
    xs = [r.get("examples_total", r["examples_seen"]) / 1000 for r in rows]
    fig, ax = plt.subplots(figsize=(6.8, 3.0))
    for key, label in BACKBONE_CURVES.items():  # a check some rows lack (older runs) is drawn where present
        pts = [(x, r[key]) for x, r in zip(xs, rows) if key in r]
        if pts:
            style = "--" if key.endswith("_f1") else "-"
            ax.plot(*zip(*pts), marker="o", markersize=3, ls=style, label=label)
    marks = marks or {}
    for i, (text, x) in enumerate(marks.items()):  # labels stacked above the data: none overprints a curve
        ax.axvline(x / 1000, color="0.3", lw=0.8, ls=":")
        right = xs and x / 1000 > (min(xs) + max(xs)) / 2  # a label in the right half ends at its line
        label = f"{text} " if right else f" {text}"
        ax.text(x / 1000, 1.01 + 0.06 * i, label, fontsize=6, color="0.3", va="bottom", ha="right" if right else "left")
    ax.axhline(0.9, color="0.6", lw=0.8, ls="--")
    ax.text(xs[0] if xs else 0, 0.91, "yes/no target 0.9", fontsize=6, color="0.4")
    ax.set_xlabel("training examples seen (thousands)")
    ax.set_ylabel("held-out accuracy / F1")
    ax.set_ylim(0, 1.02 + 0.06 * len(marks) if marks else 1)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
