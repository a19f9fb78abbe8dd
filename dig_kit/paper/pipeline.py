"""``dig-kit reproduce``: run the notebooks headlessly with papermill, in dependency order.

Each step (:class:`Step`) is a notebook plus the parameters a profile gives it; where profiles
differ, the values come from the preset's ``reproduce`` section. Executed notebooks are kept
under ``runs/<profile>/`` with their parameters, so every figure traces to the notebook run
that made it. A step whose notebook source, parameters, upstream steps and the dig_kit
source itself are unchanged since its last successful run is skipped (a ``.stamp`` file beside
the executed notebook records them); a failing step stops the pipeline and names the notebook and the cell that failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
NOTEBOOKS = PACKAGE.parent / "notebooks"


@dataclass(frozen=True)
class Step:
    """One step of the reproduction: a notebook that papermill runs with parameters."""

    name: str
    """The step's name (``--only`` / ``--from`` take it)."""
    notebook: str
    """The notebook's file name under ``notebooks/``."""
    executed: str
    """The executed copy's file name under ``runs/<profile>/``."""
    params: dict
    """Its papermill parameters (injected in this order)."""
    digest: str = ""
    """Notebook source + parameters + the previous step's digest (which starts from the kit's
    source): a changed step reruns itself and every step after it. Empty until planned."""


# The evaluation notebook's own defaults (04_evaluate.ipynb): the paper's budget, every item.
NOTEBOOK_EVAL_BUDGET = (4096, None)


def steps(profile: str, runs: Path, figures: Path, extra: list[str] | None = None) -> list[Step]:
    """The profile's steps in dependency order. Where they differ between profiles, the values come
    from the preset's ``reproduce`` section (:class:`dig_kit.config.ReproduceConfig`). ``extra``:
    config overrides (``--set``) given to every step that reads the profile's config."""
    from dig_kit.config import load_config

    r = load_config(profile, extra).reproduce
    extra = list(extra or [])
    data, train, fig = str(runs / "data"), str(runs / "train"), str(figures)
    policy = _policy_dir(r.policy, runs)
    overrides = ([f"train.model={policy}"] if policy else []) + extra
    tiny = r.policy == "tiny"
    plan = [
        Step(
            "render",
            "01_render_dataset.ipynb",
            "01_render_dataset.ipynb",
            {
                "preset": profile,
                "overrides": extra,
                "data_dir": data,
                "out_dir": fig,
                "interactive": False,
                "workers": r.render_workers,
            },
        ),
        Step("rewards", "02_reward_sanity.ipynb", "02_reward_sanity.ipynb", {"out_dir": fig, "interactive": False}),
    ]
    if r.policy == "warm_start":  # the model is built here and warm-started (stand-in for pretraining)
        plan.append(
            Step(
                "warm_start",
                "02a_warm_start.ipynb",
                "02a_warm_start.ipynb",
                {
                    "preset": profile,
                    "overrides": extra,
                    "data_dir": data,
                    "model_dir": str(runs / "model"),
                    "run_dir": str(runs / "warm_start"),
                    "eval_dir": str(runs / "eval" / "warm_start"),
                    "out_dir": fig,
                },
            )
        )
    plan += [
        Step(
            f"train{stage}",
            "03_train_stage.ipynb",
            f"03_train_stage{stage}.ipynb",
            {
                "stage": stage,
                "preset": profile,
                "data_dir": data,
                "run_dir": train,
                "out_dir": fig,
                "tiny_model": tiny,
                "interactive": False,
                "overrides": overrides,
            },
        )
        for stage in (1, 2, 3)
    ]
    plan.append(Step("evaluate", "04_evaluate.ipynb", "04_evaluate.ipynb", _evaluate_params(r, runs, policy, fig)))
    plan.append(
        Step(
            "twin",
            "05_twin.ipynb",
            "05_twin.ipynb",
            {
                "preset": r.twin_preset,
                "twin_dir": str(runs / "twin"),
                "nohard_dir": str(runs / "twin-nohard"),
                "run_dir": str(runs / "twin-train"),
                "out_dir": fig,
                "tiny_model": tiny,
                "max_new_tokens": r.twin_max_new_tokens,
                "overrides": overrides + r.twin_overrides,
            },
        )
    )
    plan.append(
        Step(
            "ablations", "06_ablations.ipynb", "06_ablations.ipynb", _ablation_params(r, profile, runs, overrides, fig)
        )
    )
    plan.append(
        Step(
            "artifacts",
            "07_paper_artifacts.ipynb",
            "07_paper_artifacts.ipynb",
            {"run_dir": train, "out_dir": fig, "profile": profile, "runs_dir": str(runs)},
        )
    )
    return plan


def _policy_dir(source: str, runs: Path) -> Path | None:
    """Where stage 1's policy is made (``None``: ``train.model`` as the preset gives it)."""
    return {"tiny": runs / "tiny-model", "warm_start": runs / "warm_start" / "dig" / "final"}.get(source)


def _benchmark_root(r, runs: Path) -> str:
    return "data/benchmarks" if r.benchmark_files == "downloaded" else str(runs / "eval_data")


def _compared_models(r, runs: Path, policy: Path | None) -> dict[str, str]:
    """The checkpoints step ``evaluate`` compares: the policy before the curriculum and after it
    (the warm-started miniature: after each stage)."""

    def final(stage: int) -> str:
        return str(runs / "train" / f"stage{stage}" / "final")

    if r.policy == "tiny":
        return {"tiny random Qwen3-VL": str(policy), "tiny + DiG smoke curriculum": final(3)}
    if r.policy == "warm_start":
        return {"warm start": str(policy), **{f"+ DiG stage {k}": final(k) for k in (1, 2, 3)}}
    return {"Qwen3-VL-4B-Thinking": "Qwen/Qwen3-VL-4B-Thinking", "Qwen3-VL-4B + DiG (this kit)": final(3)}


def _evaluate_params(r, runs: Path, policy: Path | None, fig: str) -> dict:
    """Step ``evaluate``'s parameters; those left at the notebook's defaults are not passed."""
    params = {
        "models": _compared_models(r, runs, policy),
        "benchmarks": r.eval_benchmarks,
        "data_root": _benchmark_root(r, runs),
    }
    if r.benchmark_files == "synthetic":
        params["write_smoke_data"] = True
    params["backend"] = r.eval_backend
    if (r.eval_max_new_tokens, r.eval_limit) != NOTEBOOK_EVAL_BUDGET:
        params.update(max_new_tokens=r.eval_max_new_tokens, limit=r.eval_limit)
    if r.eval_processes != 1:
        params["processes"] = r.eval_processes
    data = str(runs / "data")
    return {
        **params,
        "data_paths": {"dig_eval": data, "dig_grounding": data},
        "eval_dir": str(runs / "eval"),
        "out_dir": fig,
    }


def _ablation_params(r, profile: str, runs: Path, overrides: list[str], fig: str) -> dict:
    from dig_kit.paper.published import benchmarks_of

    benchmarks = r.ablation_benchmarks
    if benchmarks == "paper":
        benchmarks = benchmarks_of("tab1_perception") + ["refcoco_val", "dig_eval"]
    return {
        "preset": profile,
        "overrides": overrides,
        "data_dir": str(runs / "data"),
        "run_dir": str(runs / "ablations"),
        "main_run_dir": str(runs / "train"),
        "eval_data_root": _benchmark_root(r, runs),
        "write_smoke_data": r.benchmark_files == "synthetic",
        "benchmarks": benchmarks,
        "reward_stages": r.ablation_reward_stages,
        "curriculum_budget": "total",
        "seeds": r.ablation_seeds,
        "baseline_name": r.ablation_baseline,
        "backend": r.eval_backend,
        "max_new_tokens": r.eval_max_new_tokens,
        "limit": r.eval_limit,
        "out_dir": fig,
        "tiny_model": r.policy == "tiny",
    }


def _code_digest() -> str:
    """The package's own source: a changed dig_kit reruns the pipeline (results depend on it)."""
    h = hashlib.sha256()
    root = PACKAGE
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _digest(nb_path: Path, params: dict, upstream: str) -> str:
    """Notebook source + parameters + the previous step's digest: a changed step reruns all after it."""
    h = hashlib.sha256(upstream.encode())
    h.update(nb_path.read_bytes())
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()


@contextlib.contextmanager
def _step_log(path: Path):
    """Send everything printed while a step runs (this process, papermill's log of each cell's
    output, warnings, the kernel process's own stderr) to ``path``; yield the console's stderr."""
    import logging

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    logger = logging.getLogger("papermill")
    handler = logging.StreamHandler(os.fdopen(os.dup(2), "w", buffering=1))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(True)
            yield console
    finally:
        logging.captureWarnings(False)
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.stream.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in saved:
            os.close(f)
        console.close()


@contextlib.contextmanager
def _root_for_kernels(root: Path):
    """The kernels papermill starts inherit ``$DIG_KIT_ROOT``: the notebooks' relative paths
    (``dig_kit.paths.work_from_root``) then mean the directory ``reproduce`` runs from."""
    from dig_kit.paths import ROOT_ENV

    saved = os.environ.get(ROOT_ENV)
    os.environ[ROOT_ENV] = str(root.resolve())
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(ROOT_ENV, None)
        else:
            os.environ[ROOT_ENV] = saved


def _settle(executed: Path) -> None:
    """The executed notebook keeps each progress bar's final line (``kernels.settle_streams``)."""
    from dig_kit.paper.kernels import settle_streams

    if executed.exists():
        settle_streams(executed)


def _written(names: list[str]) -> str:
    """``fig7_pairs.{pdf,png}, tab1.csv`` for the file names a step wrote."""
    stems: dict[str, list[str]] = {}
    for name in names:
        stems.setdefault(Path(name).stem, []).append(Path(name).suffix.lstrip("."))
    return (
        ", ".join(f"{s}.{{{','.join(sorted(e))}}}" if len(e) > 1 else f"{s}.{e[0]}" for s, e in sorted(stems.items()))
        or "no figures"
    )


def _record_time(runs: Path, step: str, seconds: float) -> None:
    """``runs/timings.json``: the duration of each step's last successful run."""
    path = runs / "timings.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[step] = round(seconds, 1)
    path.write_text(json.dumps(times, indent=1))


def _stamp_wall_time(runs: Path, names: list[str], ran: set[str]) -> float | None:
    """Write the profile's end-to-end time into ``runs/results.json`` when a step wrote that file
    (the mini profile): ``wall_s`` = the sum of the steps when every step ran in this invocation
    (``ran``); when some ran in an earlier one (a resumed or partial rerun, whose steps may have
    reused earlier work) ``wall_s`` is null and ``wall_s_lower_bound`` the sum of the last runs.
    ``step_s``: each step's last run. Nothing changes when no step ran."""
    results, timings = runs / "results.json", runs / "timings.json"
    if not (ran and results.exists() and timings.exists()):
        return None
    times = json.loads(timings.read_text())
    if any(n not in times for n in names):
        return None
    data = json.loads(results.read_text())
    total = round(sum(times[n] for n in names), 1)
    whole = set(names) <= ran
    data["wall_s"] = total if whole else None
    data["wall_s_lower_bound"] = total
    data["step_s"] = {n: times[n] for n in names}
    if not whole:
        data["wall_s_note"] = (
            f"steps {sorted(set(names) - ran)} ran in an earlier invocation; the sum of each "
            "step's last run is a lower bound of the end-to-end time"
        )
    else:
        data.pop("wall_s_note", None)
    results.write_text(json.dumps(data, indent=1))
    return data["wall_s"]


def default_figures_dir(profile: str) -> Path:
    """Where a profile's figures and tables go unless told otherwise: ``figures/`` for the
    paper profile (the artifacts the paper reproduces), ``figures/<profile>/`` for the others
    (smoke, mini, ...), so running ``mini`` after ``smoke`` does not mix their artifacts."""
    return Path("figures") if profile == "paper" else Path("figures") / profile


def run_pipeline(
    profile: str = "smoke",
    runs_dir: str = "runs",
    figures_dir: str | None = None,
    only: list[str] | None = None,
    start: str | None = None,
    overrides: list[str] | None = None,
    plan_only: bool = False,
) -> int:
    """Run the plan; print one line per step (name, status, time, outputs). Each step's full
    log (cell outputs, warnings, the kernel's stderr) goes to ``runs/<profile>/logs/<step>.log``;
    on a terminal a progress bar over the step's cells shows while it runs. ``runs/<profile>``
    is locked while it runs (:mod:`dig_kit.runlock`): a second reproduce, or a notebook stage
    started beside it, stops with a message naming the holder. ``plan_only``: print what would
    run (:mod:`dig_kit.paper.plan`) and run nothing. ``figures_dir`` defaults to
    :func:`default_figures_dir` (``figures/`` for the paper profile, ``figures/<profile>/``
    otherwise), so the artifacts of different profiles never mix."""
    from dig_kit.runlock import RunLockError, check_free, run_lock

    runs = Path(runs_dir) / profile
    figures = Path(figures_dir) if figures_dir else default_figures_dir(profile)
    plan, upstream = [], _code_digest()
    from dig_kit.config import ConfigError, load_config

    try:
        load_config(profile, overrides)  # a bad --set fails here, before any step runs
    except ConfigError as e:
        print(f"dig-kit reproduce: error: {e}", file=sys.stderr)
        return 2
    for step in steps(profile, runs, figures, overrides):
        if not (NOTEBOOKS / step.notebook).exists():
            print(
                f"dig-kit reproduce: error: notebook {NOTEBOOKS / step.notebook} not found (reproduce runs from a "
                "checkout of the repository, which holds notebooks/)",
                file=sys.stderr,
            )
            return 2
        upstream = _digest(NOTEBOOKS / step.notebook, step.params, upstream)
        plan.append(replace(step, digest=upstream))
    names = [s.name for s in plan]
    for n in (only or []) + ([start] if start else []):
        if n not in names:
            print(f"dig-kit reproduce: error: unknown step {n!r}; steps are {names}", file=sys.stderr)
            return 2
    if start:
        plan = plan[names.index(start) :]
    if only:
        plan = [s for s in plan if s.name in only]
    if plan_only:
        from dig_kit.paper.plan import print_plan

        try:
            check_free(runs)
            note = ""
        except RunLockError as e:
            note = f"\nnote: {e}"
        print_plan(profile, plan, runs, figures, overrides, lock_note=note)
        return 0
    command = "dig-kit reproduce " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["reproduce"] else " ".join(sys.argv)
    try:
        with run_lock(runs, command):
            return _run_steps(profile, runs, figures, plan, overrides)
    except RunLockError as e:
        print(f"dig-kit reproduce: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "dig-kit reproduce: interrupted; the step's kernel and every process it launched were ended. "
            "The same command resumes (finished steps are skipped, a training stage continues from its last "
            "complete checkpoint).",
            file=sys.stderr,
        )
        return 130


def _run_steps(profile: str, runs: Path, figures: Path, plan: list[Step], overrides: list[str] | None) -> int:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from dig_kit.paper.artifacts import record_artifacts, snapshot, write_index
    from dig_kit.paper.kernels import IPCKernelManager

    logs = runs / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    tty = sys.stderr.isatty()
    ran: set[str] = set()
    for i, step in enumerate(plan, 1):
        name, nb, params, digest = step.name, step.notebook, step.params, step.digest
        src, dst, log = NOTEBOOKS / nb, runs / step.executed, logs / f"{name}.log"
        tag = f"[{i}/{len(plan)}] {name}"
        stamp = dst.with_suffix(".stamp")
        if dst.exists() and stamp.exists() and stamp.read_text() == digest:
            print(f"{tag}: unchanged, skipped ({dst})", flush=True)
            continue
        if not tty:  # a log file or CI: say what is running (a terminal shows the bar instead)
            print(f"{tag}: running {nb} (log: {log})", flush=True)
        stamp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        before = snapshot(figures)
        try:
            with _step_log(log) as console, _root_for_kernels(Path.cwd()):
                pm.execute_notebook(
                    str(src),
                    str(dst),
                    parameters=params,
                    kernel_name="python3",
                    log_output=True,
                    progress_bar={"desc": tag, "file": console, "leave": False, "disable": not tty},
                    cwd=str(Path.cwd()),
                    kernel_manager_class=IPCKernelManager,
                )
        except PapermillExecutionError as e:
            _settle(dst)
            print(
                f"{tag}: FAILED after {time.perf_counter() - t0:.1f} s\n"
                f"dig-kit reproduce: step {name!r} failed in {nb}, cell {e.exec_count}: {e.ename}: {e.evalue}\n"
                f"  executed notebook with the traceback: {dst}\n  full log: {log}",
                file=sys.stderr,
            )
            return 1
        _settle(dst)
        figures.mkdir(parents=True, exist_ok=True)
        written = record_artifacts(figures, before, name, nb, dst, runs / "artifacts.json")
        _record_time(runs, name, time.perf_counter() - t0)
        ran.add(name)
        stamp.write_text(digest)
        print(
            f"{tag}: done in {time.perf_counter() - t0:.1f} s -> {dst}; wrote {_written(written)} (log: {log})",
            flush=True,
        )
    if figures.exists():
        write_index(figures, runs / "artifacts.json", profile)
    wall = _stamp_wall_time(runs, [s.name for s in steps(profile, runs, figures, overrides)], ran)
    if wall is not None:
        print(f"wall time of the whole profile (every step in this run, render included): {wall:.0f} s")
    print(f"figures in {figures}/ (index: {figures / 'index.md'}), executed notebooks in {runs}/")
    return 0
