"""The paper's two ablations: curriculum scheduling (DiG-1 / DiG-2 / DiG-Mix) and reward
components (format / +IoU / +F1 / +IoU+F1), trained with :func:`dig_kit.train.grpo.run_stage`,
evaluated with :mod:`dig_kit.evaluation`, reported as a figure and a table.

**Curriculum scheduling** (slides "Ablation: Curriculum Scheduling"). :data:`CURRICULA` names,
for each variant, the curriculum stages whose data it trains on:

- ``DiG-1``: single-difference pairs only (the stage-1 subset, its prompt with the count);
- ``DiG-2``: double-difference pairs only (the stage-2 subset, its prompt with the count);
- ``DiG-Mix``: the three-stage curriculum as configured (stage 1 -> 2 -> 3).

The slides give no step budget for DiG-1/DiG-2. Ours: a single-subset variant is **one stage
with the same total number of optimizer steps as the whole curriculum** (``budget="total"``,
e.g. 60 + 20 + 30 = 110 in the paper preset), so the variants differ in their data, not in
compute; ``budget="stage"`` gives it its own stage's steps instead (60 for DiG-1, 20 for
DiG-2). Everything else (prompts per step, group size, learning rate, seed) is the run's
config. A single-subset variant runs as stage 1 of its own run directory with
``train.stage_subsets[0]`` set to its subset, ``train.stage_steps[0]`` to its budget and the
count hint as in its curriculum stage.

**Reward components** (slides "Ablation: Reward Components"): each of :data:`REWARD_VARIANTS`
is trained like the full model, with ``train.reward.variant=<variant>``, on the curriculum
stages given (``stages=(1, 2, 3)`` by default; ``(1,)`` trains stage 1 only, a cheaper proxy
for small budgets, and says so in the run directory's name). A variant identical to a run
that already exists (by default the full reward under the full curriculum is DiG-Mix) may
reuse that run's weights (``reuse=``) after its saved ``config.yaml`` is checked to match (with
``stages=(1,)``, the weights of that run's stage 1); likewise DiG-Mix may reuse the main
curriculum run (notebook 03's ``run_dir``).

Layout under ``run_dir``::

    curriculum/DiG-1/stage1/final      curriculum/DiG-Mix/stage{1,2,3}/final
    reward/<variant>/stage{1,2,3}/final        (stages given; e.g. reward-stage1/<variant>/...)

Every stage uses run_stage's resume semantics: a killed run continues from its last
checkpoint, a finished stage (``final/``) is not trained again, so re-running an ablation only
does what is missing.

This module imports nothing heavy at import time (training and evaluation are imported inside
the functions that need them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dig_kit.config import ConfigError, KitConfig, from_dict, to_dict

CURRICULA: dict[str, dict] = {
    "DiG-1": {"stages": [1], "description": "single-difference pairs only (stage-1 subset), one stage"},
    "DiG-2": {"stages": [2], "description": "double-difference pairs only (stage-2 subset), one stage"},
    "DiG-Mix": {"stages": [1, 2, 3], "description": "the three-stage curriculum (single -> double -> mixed)"},
}
"""Curriculum variant -> the curriculum stages whose data (subset and count hint) it trains on, in order."""

REWARD_VARIANTS = ["format", "format_iou", "format_f1", "format_iou_f1"]
"""``train.reward.variant`` values of the reward ablation, in the slides' row order."""

REWARD_COMPONENTS = {  # variant -> (Format, IoU, F1) used
    "format": (True, False, False),
    "format_iou": (True, True, False),
    "format_f1": (True, False, True),
    "format_iou_f1": (True, True, True),
}

CHECK = "✓"
PUBLISHED_SOURCE = "published (DiG slides, real RefCOCO; model not stated, its 88.6 = Qwen3-VL-4B + DiG in Table 3)"
"""The slides' reward ablation names no model; its full-reward RefCOCO val@50 (88.6) is the
4B + DiG number of Table 3 (8B + DiG: 90.0), so it is most likely the 4B model."""
TAB4_COLUMNS = [
    "Format",
    "IoU",
    "F1",
    "RefCOCO val Acc@0.5",
    "DiG held-out F1",
    "DiG held-out mIoU",
    "Source",
    "Variant",
]
TAB4_MEASURED = {  # column -> (benchmark, metric key of that benchmark's metrics JSON)
    "RefCOCO val Acc@0.5": ("refcoco_val", "acc@0.5"),
    "DiG held-out F1": ("dig_eval", "f1"),
    "DiG held-out mIoU": ("dig_eval", "miou"),
}
REWARD_BENCHMARKS = ["refcoco_val", "dig_eval"]
"""What the reward table needs evaluated."""
TAB4_CAPTION = (
    "Reward-component ablation (slides 'Ablation: Reward Components'): measured rows of this kit, "
    "then the published rows"
)
BUDGETS = ("total", "stage")


# ---------------------------------------------------------------------------------------
# Configs


def _rebuild(cfg: KitConfig, train: dict) -> KitConfig:
    data = to_dict(cfg)
    data["train"].update(train)
    return from_dict(data)  # validated like any other config


def curriculum_config(cfg: KitConfig, name: str, budget: str = "total") -> tuple[KitConfig, list[int]]:
    """``(config, stages to run)`` of curriculum variant ``name`` (:data:`CURRICULA`).

    The full curriculum is ``cfg`` itself. A single-subset variant becomes stage 1 of its own
    run: ``train.stage_subsets[0]`` is its subset, ``train.count_hint_stages`` states the count
    iff its curriculum stage does, ``train.stage_steps[0]`` is its budget (``"total"``: the sum
    of the curriculum's steps; ``"stage"``: its own stage's steps)."""
    if name not in CURRICULA:
        raise ConfigError(f"unknown curriculum {name!r}: choose from {list(CURRICULA)}")
    if budget not in BUDGETS:
        raise ConfigError(f"curriculum budget {budget!r}: must be one of {BUDGETS}")
    src = CURRICULA[name]["stages"]
    t = cfg.train
    if src == [1, 2, 3]:
        return cfg, [1, 2, 3]
    if len(src) != 1:  # pragma: no cover - CURRICULA only has single-subset variants besides the full one
        raise ConfigError(f"curriculum {name!r}: only single-subset variants or the full curriculum are supported")
    (k,) = src
    steps = list(t.stage_steps)
    steps[0] = sum(t.stage_steps) if budget == "total" else t.stage_steps[k - 1]
    subsets = list(t.stage_subsets)
    subsets[0] = t.stage_subsets[k - 1]
    return _rebuild(
        cfg,
        {"stage_steps": steps, "stage_subsets": subsets, "count_hint_stages": [1] if k in t.count_hint_stages else []},
    ), [1]


def seeded(preset: str, overrides: Sequence[str], seed: int | None, run_dir: str | Path) -> tuple[KitConfig, Path]:
    """The config and run directory of one repeat of an ablation: ``train.seed=seed`` and
    ``run_dir/seed<seed>`` (``seed=None``: the config as given, in ``run_dir`` itself)."""
    from dig_kit.config import load_config

    if seed is None:
        return load_config(preset, list(overrides)), Path(run_dir)
    return load_config(preset, list(overrides) + [f"train.seed={seed}"]), Path(run_dir) / f"seed{seed}"


def reward_config(cfg: KitConfig, variant: str) -> KitConfig:
    """``cfg`` with ``train.reward.variant=variant``."""
    if variant not in REWARD_VARIANTS:
        raise ConfigError(f"unknown reward variant {variant!r}: choose from {REWARD_VARIANTS}")
    data = to_dict(cfg)
    data["train"]["reward"]["variant"] = variant
    return from_dict(data)


def _check_stages(stages: Sequence[int]) -> list[int]:
    stages = [int(s) for s in stages]
    if not stages or stages != list(range(1, len(stages) + 1)) or len(stages) > 3:
        raise ConfigError(f"stages {stages}: must be a prefix of the curriculum, e.g. [1], [1, 2] or [1, 2, 3]")
    return stages


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}")
    return out


def saved_config_differences(cfg: KitConfig, final_dir: str | Path) -> list[str] | None:
    """Dotted fields where ``final_dir/config.yaml`` differs from ``cfg`` (None: no such file).
    The ``reproduce`` section is left out: how the notebooks run does not change what a stage learns."""
    import yaml

    path = Path(final_dir) / "config.yaml"
    if not path.exists():
        return None
    saved, current = yaml.safe_load(path.read_text()) or {}, to_dict(cfg)
    saved.pop("reproduce", None)
    current.pop("reproduce", None)
    return _differences(current, saved)


def train_stages(cfg: KitConfig, stages: Sequence[int], data_dir: str | Path, out_dir: str | Path) -> Path:
    """Run ``stages`` (a curriculum prefix) of ``cfg`` into ``out_dir``; return the last final dir.
    Finished stages are skipped (with a note when their saved config differs from ``cfg``)."""
    from dig_kit.train.grpo import run_stage, stage_dir

    final = None
    for stage in _check_stages(stages):
        diff = saved_config_differences(cfg, stage_dir(out_dir, stage) / "final")
        if diff:
            print(
                f"note: {stage_dir(out_dir, stage)} was trained with other settings ({', '.join(diff[:6])}); "
                "reused as is (delete it to retrain)"
            )
        final = run_stage(cfg, stage, data_dir, out_dir)
    return Path(final)


# ---------------------------------------------------------------------------------------
# Runs


def _reusable(cfg: KitConfig, name: str, reuse: dict[str, str | Path] | None) -> Path | None:
    """``reuse[name]`` when that final dir was trained with exactly ``cfg`` (its saved config.yaml)."""
    cand = (reuse or {}).get(name)
    if cand is None:
        return None
    diff = saved_config_differences(cfg, cand)
    if diff == []:
        print(f"{name}: reusing {cand} (trained with the same config)")
        return Path(cand)
    why = "it has no config.yaml" if diff is None else f"its config differs in {', '.join(diff[:6])}"
    print(f"{name}: not reusing {cand} ({why}); training it")
    return None


def _stage_prefix(reuse: dict[str, str | Path] | None, last: int) -> dict[str, Path] | None:
    """``reuse`` for a run of the first ``last`` stages: each ``.../stage3/final`` becomes
    ``.../stage<last>/final`` (such a run is the same run as the full curriculum's first ``last``
    stages: each stage trains from the previous one with its own schedule). A shorter run
    cannot reuse a dir that is not a curriculum stage's, so such entries are dropped."""
    if not reuse or last == 3:
        return reuse
    return {
        name: Path(final).parent.parent / f"stage{last}" / Path(final).name
        for name, final in reuse.items()
        if Path(final).parent.name.startswith("stage")
    }


def run_curriculum_ablation(
    cfg: KitConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    budget: str = "total",
    names: Sequence[str] | None = None,
    reuse: dict[str, str | Path] | None = None,
) -> dict[str, Path]:
    """Train each curriculum variant into ``run_dir/curriculum/<name>``; return ``{name: final
    checkpoint dir}``. Re-running only trains what is missing.

    ``reuse``: ``{name: final dir}`` of a run made elsewhere, e.g. ``{"DiG-Mix":
    "runs/paper/train/stage3/final"}`` (the main curriculum run of notebook 03); used only when
    its saved ``config.yaml`` equals the variant's config, otherwise the variant is trained."""
    out = {}
    for name in names or CURRICULA:
        c, stages = curriculum_config(cfg, name, budget)
        out[name] = _reusable(c, name, reuse) or train_stages(c, stages, data_dir, Path(run_dir) / "curriculum" / name)
    return out


def reward_run_dir(run_dir: str | Path, variant: str, stages: Sequence[int]) -> Path:
    """``run_dir/reward/<variant>`` for the full curriculum, ``run_dir/reward-stage1/<variant>``
    (etc.) for a shorter one, so runs of different lengths never mix."""
    stages = _check_stages(stages)
    sub = "reward" if stages == [1, 2, 3] else "reward-stage" + "".join(map(str, stages))
    return Path(run_dir) / sub / variant


def run_reward_ablation(
    cfg: KitConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    stages: Sequence[int] = (1, 2, 3),
    variants: Sequence[str] | None = None,
    reuse: dict[str, str | Path] | None = None,
    failures: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Train each reward variant on curriculum ``stages`` into :func:`reward_run_dir`; return
    ``{variant: final checkpoint dir}``.

    ``reuse``: ``{variant: final dir}`` of runs made elsewhere with exactly this variant's
    config (e.g. ``{"format_iou_f1": <DiG-Mix final>}``); used only when that dir's saved
    ``config.yaml`` matches the variant's config, otherwise the variant is trained.

    ``failures``: a dict to record, instead of raising, a variant that online filtering cannot
    train (``OnlineFilterError``: every group's reward constant, e.g. the format-only reward of a
    policy that always writes a box; the slides' "did not converge"). Such a variant is left out
    of the result and its reason stored under its name."""
    from dig_kit.train.filtering import OnlineFilterError

    stages = _check_stages(stages)
    out = {}
    for variant in variants or REWARD_VARIANTS:
        c = reward_config(cfg, variant)
        reused = _reusable(c, variant, _stage_prefix(reuse, stages[-1]))
        try:
            out[variant] = reused or train_stages(c, stages, data_dir, reward_run_dir(run_dir, variant, stages))
        except OnlineFilterError as e:
            if failures is None:
                raise
            failures[variant] = f"not trained: {e}".split(": widen")[0]
            print(f"{variant}: {failures[variant]}")
    return out


def evaluate_models(
    models: dict[str, str | Path],
    benchmarks: list[str],
    data_paths: dict[str, str | Path],
    out_dir: str | Path,
    data_root: str | Path | None = None,
    backend: str = "auto",
    **gen,
) -> dict[str, dict[str, dict]]:
    """``{name: {benchmark: metrics}}``: :func:`dig_kit.evaluation.runner.evaluate` for every
    (model, benchmark) through :func:`dig_kit.evaluation.runner.evaluate_suite` (one backend
    per model, loaded only if something is left to generate), outputs in
    ``out_dir/<name>/``. Resumable: cached predictions are reused.

    ``data_paths``: benchmark -> its file/folder (e.g. ``{"dig_eval": data_dir}``); the others
    are looked up under ``data_root`` by their usual names (``RefCOCO/``, ``POPE.tsv``...). A
    benchmark whose data is missing gets ``{"status": "missing data: ...", "score": None}``.
    ``gen``: ``max_new_tokens``, ``limit``, ``temperature``, ``batch_size``... (paper defaults)."""
    from dig_kit.evaluation.runner import evaluate_suite

    rest = [b for b in benchmarks if b not in data_paths]
    if rest and data_root is None:
        raise ConfigError(f"benchmarks {rest} need data_root (or an entry in data_paths)")
    return evaluate_suite(
        {k: str(v) for k, v in models.items()},
        list(benchmarks),
        data_root if data_root is not None else ".",
        out_dir,
        backend=backend,
        data_paths={k: str(v) for k, v in data_paths.items()},
        **gen,
    )


# ---------------------------------------------------------------------------------------
# Reports (pure)


def mean_over_seeds(per_seed: dict) -> dict[str, dict[str, dict]]:
    """``{name: {benchmark: metrics}}`` averaged over seeds, from ``{seed: {name: {benchmark:
    metrics}}}``: every number of the metrics is the mean over the seeds where it was scored,
    ``<key>_sd`` its sample standard deviation (0 with one seed), ``seeds`` how many, and
    ``per_seed`` the headline score of each seed. Unscored entries (missing data) pass through."""
    import statistics

    names: list[str] = []
    for res in per_seed.values():
        names += [n for n in res if n not in names]
    out: dict[str, dict[str, dict]] = {}
    for name in names:
        benches: list[str] = []
        for res in per_seed.values():
            benches += [b for b in res.get(name, {}) if b not in benches]
        out[name] = {}
        for b in benches:
            ms = {str(s): res[name][b] for s, res in per_seed.items() if b in res.get(name, {})}
            scored = {s: m for s, m in ms.items() if m.get("status") in (None, "scored")}
            if not scored:
                out[name][b] = next(iter(ms.values()))
                continue
            first = next(iter(scored.values()))
            agg = {
                "status": "scored",
                "headline": first.get("headline"),
                "seeds": len(scored),
                "per_seed": {s: m.get("score") for s, m in scored.items()},
            }
            for k, v in first.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seeds":
                    vals = [m[k] for m in scored.values() if isinstance(m.get(k), (int, float))]
                    agg[k] = round(statistics.fmean(vals), 4)
                    agg[f"{k}_sd"] = round(statistics.stdev(vals), 4) if len(vals) > 1 else 0.0
            out[name][b] = agg
    return out


def _value(metrics: dict | None, key: str):
    m = metrics or {}
    if m.get("status") not in (None, "scored"):
        return None
    v = m.get(key)
    return round(float(v), 1) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def measured_label(cfg: KitConfig, note: str = "") -> str:
    """``measured: profile '<profile>', model <train.model>[, note]``: the table's Source column."""
    return f"measured: profile '{cfg.profile}', model {cfg.train.model}" + (f", {note}" if note else "")


def stages_note(stages: Sequence[int]) -> str:
    """``"curriculum stages 1-3"`` / ``"curriculum stage 1 only"``: how a reward variant was trained."""
    stages = _check_stages(stages)
    return (
        "curriculum stages 1-3"
        if len(stages) == 3
        else ("curriculum stage 1 only" if len(stages) == 1 else f"curriculum stages 1-{len(stages)} only")
    )


def run_description(
    cfg: KitConfig,
    data_dir: str | Path,
    eval_data_root: str | Path | None = None,
    limit: int | None = None,
    max_new_tokens: int | None = None,
    tiny_model: bool = False,
) -> str:
    """One line for an artifact's source: profile, model, data, evaluation cut-offs; with
    ``tiny_model`` it says plainly that these are not the paper's numbers."""
    parts = [f"profile '{cfg.profile}'", f"model {cfg.train.model}", f"DiG data {data_dir} (rendered)"]
    if eval_data_root is not None:
        parts.append(f"benchmark files {eval_data_root}")
    if limit:
        parts.append(f"first {limit} items")
    if max_new_tokens and int(max_new_tokens) != 4096:
        parts.append(f"max {max_new_tokens} new tokens")
    text = ", ".join(parts)
    if tiny_model:
        text += "; tiny random Qwen3-VL, smoke profile; not the paper's numbers"
    return text


def reward_ablation_rows(
    results: dict[str, dict[str, dict]], measured_source: str = "measured", not_trained: dict[str, str] | None = None
) -> list[dict]:
    """Rows of ``tab4_reward_ablation``: one measured row per variant in ``results``
    (``{variant: {benchmark: metrics}}``, :data:`REWARD_VARIANTS` order) with RefCOCO val
    Acc@0.5 and the DiG held-out F1 / mIoU, labelled ``measured_source``; then the slides'
    published rows (:data:`dig_kit.paper.published.TAB4_REWARD_ABLATION`), labelled
    :data:`PUBLISHED_SOURCE`, with the slides' dash for format-only (did not converge) and no
    DiG held-out numbers (the paper reports none). Components used are marked ✓, as in the
    slides."""
    from dig_kit.paper.published import TAB4_REWARD_ABLATION

    unknown = [v for v in results if v not in REWARD_COMPONENTS]
    if unknown:
        raise ValueError(f"unknown reward variant(s) {unknown}: expected some of {REWARD_VARIANTS}")

    def marks(variant):
        return {c: CHECK if used else "" for c, used in zip(("Format", "IoU", "F1"), REWARD_COMPONENTS[variant])}

    rows = []
    seeds = max((m.get("seeds", 1) for r in results.values() for m in r.values()), default=1)
    extra = ["DiG held-out F1 sd", "Seeds"] if seeds > 1 else []
    for variant in [v for v in REWARD_VARIANTS if v in results]:
        by_bench = results[variant]
        row = {**marks(variant), "Source": measured_source, "Variant": variant}
        for col, (bench, key) in TAB4_MEASURED.items():
            row[col] = _value(by_bench.get(bench), key)
        if extra:
            row["DiG held-out F1 sd"] = _value(by_bench.get("dig_eval"), "f1_sd")
            row["Seeds"] = (by_bench.get("dig_eval") or {}).get("seeds")
        rows.append(row)
    for variant, why in (not_trained or {}).items():  # e.g. format-only under online filtering
        if variant not in results:
            rows.append(
                {
                    **marks(variant),
                    **{c: "–" for c in TAB4_MEASURED},
                    "Source": f"{measured_source}; {why}",
                    "Variant": variant,
                }
            )
    rows.sort(key=lambda r: (not r["Source"].startswith(measured_source), REWARD_VARIANTS.index(r["Variant"])))
    for r in TAB4_REWARD_ABLATION:
        v = r["RefCOCO@50 val"]
        rows.append(
            {
                **marks(r["Variant"]),
                "RefCOCO val Acc@0.5": "–" if v is None else v,
                "DiG held-out F1": None,
                "DiG held-out mIoU": None,
                "Source": PUBLISHED_SOURCE,
                "Variant": r["Variant"],
            }
        )
    return [{c: r.get(c) for c in TAB4_COLUMNS[:-2] + extra + TAB4_COLUMNS[-2:]} for r in rows]


def curriculum_bars(
    results: dict[str, dict[str, dict]], benchmarks: Sequence[str] | None = None, baseline_name: str | None = None
) -> tuple[list[str], list[str], dict[str, list]]:
    """``(model names, benchmarks, {name: [headline score or None per benchmark]})``, the
    baseline first: the data of :func:`plot_curriculum_ablation`."""
    names = list(results)
    if baseline_name is not None:
        if baseline_name not in results:
            raise KeyError(f"baseline {baseline_name!r} not in results ({names})")
        names = [baseline_name] + [n for n in names if n != baseline_name]
    if benchmarks is None:
        benchmarks = []
        for n in names:
            benchmarks += [b for b in results[n] if b not in benchmarks]
    values = {n: [_value(results[n].get(b), "score") for b in benchmarks] for n in names}
    return names, list(benchmarks), values


def seeds_note(seeds: Sequence[int | None] | None, spread: bool = True) -> str:
    """How an ablation's numbers were aggregated, for its caption and source: ``"one run, no
    seed spread"`` for a single run (``seeds`` empty or ``[None]``, the config's seed; ``"one
    run (seed 3), ..."`` for ``[3]``), else ``"mean ± sd over seeds 0, 1, 2"`` (``"mean over
    ..."`` with ``spread=False``, for a table that shows no spread)."""
    seeds = list(seeds or [])
    if len(seeds) <= 1:
        named = [s for s in seeds if s is not None]
        return "one run" + (f" (seed {named[0]})" if named else "") + ", no seed spread"
    return ("mean ± sd" if spread else "mean") + " over seeds " + ", ".join(str(s) for s in seeds)


def _spreads(results: dict, names: list[str], benches: list[str]) -> dict[str, list]:
    """The ``score_sd`` (spread over seeds) of each bar, None where there is none."""
    return {n: [_value(results[n].get(b), "score_sd") for b in benches] for n in names}


def plot_curriculum_ablation(
    results: dict[str, dict[str, dict]],
    baseline_name: str | None = None,
    benchmarks: Sequence[str] | None = None,
    title: str = "Curriculum scheduling ablation (DiG-1 / DiG-2 / DiG-Mix)",
    seeds: Sequence[int | None] | None = None,
):
    """Grouped bars: one group per benchmark, one bar per model (the baseline first, grey and
    hatched), height = the benchmark's headline metric (%, the number the paper reports). A
    missing or unscored value has no bar and is marked n/a. ``seeds`` (the notebook's): the
    title's second line says how the bars were aggregated (:func:`seeds_note`), and a single
    run draws no whiskers; whiskers (sd over seeds) appear only where there is a spread."""
    import matplotlib.pyplot as plt

    names, benches, values = curriculum_bars(results, benchmarks, baseline_name)
    spreads = _spreads(results, names, benches)
    if seeds is not None and len(list(seeds)) <= 1:
        spreads = {n: [None] * len(benches) for n in names}
    headline = {}
    for b in benches:
        for n in names:
            h = (results[n].get(b) or {}).get("headline")
            if h:
                headline[b] = h
                break
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(benches) + 2.5), 3.0))
    width = 0.8 / max(len(names), 1)
    colors = plt.get_cmap("viridis")([0.15 + 0.7 * i / max(len(names) - 1, 1) for i in range(len(names))])
    for i, n in enumerate(names):
        xs = [j - 0.4 + width * (i + 0.5) for j in range(len(benches))]
        base = n == baseline_name
        for x, v in zip(xs, values[n]):
            if v is None:
                ax.text(x, 1, "n/a", ha="center", va="bottom", fontsize=5, rotation=90, color="0.4")
            else:
                ax.text(x, v, f"{v:.1f}", ha="center", va="bottom", fontsize=5)
        sd = spreads[n]
        n_seeds = max(((results[n].get(b) or {}).get("seeds", 1) for b in benches), default=1)
        ax.bar(
            xs,
            [0 if v is None else v for v in values[n]],
            width,
            label=n + (f" ({n_seeds} seeds)" if n_seeds > 1 else ""),
            color="0.75" if base else colors[i],
            hatch="//" if base else None,
            edgecolor="0.3",
            linewidth=0.4,
            yerr=[0 if e is None else e for e in sd] if any(e for e in sd) else None,
            capsize=2,
            error_kw={"linewidth": 0.6},
        )
    ax.set_xticks(range(len(benches)))
    ax.set_xticklabels([f"{b}\n({headline[b]})" if b in headline else b for b in benches])
    present = [v for vs in values.values() for v in vs if v is not None]
    top = max(present, default=0)
    ax.set_ylim(0, 105 if top <= 100 else top * 1.1)
    ax.set_xlabel("benchmark (headline metric)")
    ax.set_ylabel("score (%)")
    ax.set_title(title if seeds is None else f"{title}\n{seeds_note(seeds)}")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
