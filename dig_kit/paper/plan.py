"""``dig-kit reproduce --plan``: what a reproduction will run, before hours of GPU time.

Nothing is run and no GPU is needed: for every step of the profile, in order, the plan says
whether it is cached (its notebook, parameters, upstream steps and the kit's source are
unchanged since its last successful run), what it launches (Blender workers, training
processes x nodes and the accelerate config, evaluation processes), the inputs it needs and
whether they are present (the policy, the benchmark files, the Blender environment), and an
estimated cost in GPU-hours.

The GPU-hours are **estimates** from the cost model below (the README's "Running the paper
profile" lists the same figures), not measurements: no run of the paper profile on GPUs has
been timed with this kit. Where a step runs on the CPU the plan says so.
"""

from __future__ import annotations

import os
from pathlib import Path

# -- the cost model (README: "Running the paper profile") ------------------------------------------
GEN_TOKENS_PER_GPU_S = 6000
"""vLLM decode throughput assumed per GPU, tokens/s (a 4B policy, large batches, colocated)."""
TRAIN_MFU = 0.35
"""Share of a GPU's dense bf16 peak the policy update reaches (FSDP, gradient checkpointing)."""
PEAK_BF16_FLOPS = 989e12
"""Dense bf16 peak of an H100/H200 SXM, FLOP/s."""
MEAN_COMPLETION_TOKENS = 600
"""Mean rollout length assumed (thinking + boxes; the cap is train.max_completion_length)."""
PROMPT_TOKENS = 550
"""Two 480x320 images (150 vision tokens each at Qwen3-VL's 32 px per token) and the prompt."""
FLOPS_PER_TOKEN_PARAM = 12
"""Forward + backward (6), gradient-checkpointing recompute (2), old and reference log-probs (2 + 2)."""
POLICY_PARAMS = {"4B": 4.44e9, "8B": 8.77e9}
EVAL_ITEMS = 95_000
"""Items of the 17 benchmarks in VLMEvalKit's files (RefCOCO/+/g splits ~57K of them)."""
EVAL_MEAN_NEW_TOKENS = 400
"""Mean new tokens per evaluation item assumed (thinking on QA, short on grounding)."""


def policy_params(model: str) -> float | None:
    """Parameters of a Qwen3-VL policy named like ``Qwen/Qwen3-VL-8B-Thinking`` (None: unknown)."""
    for size, n in POLICY_PARAMS.items():
        if f"-{size}" in model:
            return n
    return None


def rollout_step_gpu_s(prompts: int, generations: int, params: float) -> float:
    """GPU-seconds of one GRPO step: generating the rollouts, then the updates on them."""
    completions = prompts * generations
    generate = completions * MEAN_COMPLETION_TOKENS / GEN_TOKENS_PER_GPU_S * params / POLICY_PARAMS["4B"]
    tokens = completions * (PROMPT_TOKENS + MEAN_COMPLETION_TOKENS)
    update = tokens * FLOPS_PER_TOKEN_PARAM * params / (TRAIN_MFU * PEAK_BF16_FLOPS)
    return generate + update


def stage_gpu_hours(cfg, stage: int, items: int | None = None) -> float | None:
    """Estimated GPU-hours of one stage of ``cfg`` (``items``: the data size, for epoch-based runs)."""
    params = policy_params(cfg.train.model)
    if params is None:
        return None
    t = cfg.train
    steps = t.stage_steps[stage - 1] if t.epochs <= 0 else max(1, round(t.epochs * (items or 0) / t.prompts_per_step))
    return steps * rollout_step_gpu_s(t.prompts_per_step, t.num_generations, params) / 3600


def eval_gpu_hours(models: int, params: float = POLICY_PARAMS["4B"]) -> float:
    return models * EVAL_ITEMS * EVAL_MEAN_NEW_TOKENS / GEN_TOKENS_PER_GPU_S * params / POLICY_PARAMS["4B"] / 3600


# -- inputs ---------------------------------------------------------------------------------------
def _hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return home / "hub"


def model_status(model: str, made_by: dict[str, str]) -> str:
    """Whether a policy or checkpoint is here: a local dir, a hub id in the local cache, or the
    output of an earlier step of the plan."""
    for path, step in made_by.items():
        if Path(model) == Path(path):
            return f"made by step {step}" + (" (present)" if (Path(model) / "config.json").exists() else "")
    if (Path(model) / "config.json").exists():
        return "present"
    if Path(model).exists() or model.startswith((".", "/", "~")) or model.count("/") != 1:
        return "MISSING (no such checkpoint directory)"
    snapshots = _hub_cache() / f"models--{model.replace('/', '--')}" / "snapshots"
    if snapshots.is_dir() and any(snapshots.glob("*/config.json")):
        return f"present in the Hugging Face cache ({snapshots.parent})"
    return (
        f"MISSING: not in the Hugging Face cache ({_hub_cache()}); download it first (huggingface-cli download {model})"
    )


def benchmark_status(benchmarks: list[str], data_root: str, data_paths: dict) -> tuple[list[str], list[str]]:
    """(present, missing) benchmark names, looked up as the evaluation does (no file is read)."""
    from dig_kit.evaluation.formats import BenchmarkDataError, locate
    from dig_kit.evaluation.tasks import get_task

    present, missing = [], []
    for name in benchmarks:
        task = get_task(name)
        data = data_paths.get(task.name) or data_paths.get(name)
        try:
            locate(data or data_root, task.data_names, task.expected, root=data is None)
            present.append(task.name)
        except BenchmarkDataError:
            missing.append(task.name)
    return present, missing


def _blender_status() -> str:
    from dig_kit.render.pool import RenderEnvError, render_python

    try:
        return f"Blender environment: present ({render_python()})"
    except RenderEnvError:
        return "Blender environment: MISSING (bash scripts/setup.sh builds it)"


# -- the plan -------------------------------------------------------------------------------------
def _fmt_hours(h: float | None) -> str:
    if h is None:
        return "unknown (policy size not known to the cost model)"
    return f"~{h:.1f} GPU-h (estimate)" if h >= 0.05 else "<0.1 GPU-h (estimate)"


def _training(cfg, gpus) -> str:
    from dig_kit.train.launch import launch_plan

    p = launch_plan(cfg, gpus)
    la = cfg.train.launch
    where = (
        f"accelerate launch, {p['processes']} process(es) x {p['nodes']} node(s) = {p['world_size']}, "
        f"{Path(p['accelerate_config']).name}"
        if p["launched"]
        else "1 process, in the notebook kernel"
    )
    how = f"train.launch.processes={la.processes}"
    if la.processes == "auto":
        how += f" ({len(gpus)} GPU(s) visible here; one process per GPU where it runs)"
    return f"{where} [{how}]"


def describe(
    profile: str, planned: list, runs: Path, overrides: list[str] | None = None, gpus: list[str] | None = None
) -> tuple[list[str], float]:
    """The plan's lines and the total estimated GPU-hours. ``planned``: the pipeline's steps with
    their digests (:class:`dig_kit.paper.pipeline.Step`)."""
    from dig_kit.config import load_config
    from dig_kit.launcher import visible_gpus

    gpus = visible_gpus() if gpus is None else gpus
    lines, total = [], 0.0
    made_by: dict[str, str] = {}
    data_dir = str(runs / "data")
    for i, step in enumerate(planned, 1):
        name, nb, params = step.name, step.notebook, step.params
        stamp = (runs / step.executed).with_suffix(".stamp")
        cached = (runs / step.executed).exists() and stamp.exists() and stamp.read_text() == step.digest
        needs: list[str] = []
        hours: float | None = 0.0
        cpu = True
        if name == "render":
            workers = params.get("workers", 1)
            if workers == "auto":
                launches = (
                    f"Blender: one worker per GPU ({len(gpus)} visible here)"
                    if gpus
                    else "Blender: workers auto (no GPU visible here: 1 worker on the CPU)"
                )
            else:
                launches = f"Blender: {workers} worker(s)"
            needs.append(_blender_status())
            cfg = load_config(params["preset"], params.get("overrides"))
            pairs = sum(s.num_pairs for s in cfg.data.subsets.values())
            launches += f", {pairs} pairs at {cfg.data.render.width}x{cfg.data.render.height}"
            made_by[data_dir] = name
        elif name == "rewards" or name == "artifacts":
            launches = "CPU only, in the notebook kernel"
        elif name == "warm_start":
            launches = "supervised warm start of the mini model, in the notebook kernel"
            made_by[str(Path(params["run_dir"]) / "dig" / "final")] = name
        elif name.startswith("train"):
            stage = int(params["stage"])
            cfg = load_config(params["preset"], params.get("overrides"))
            launches = _training(cfg, gpus)
            init = cfg.train.model if stage == 1 else str(Path(params["run_dir"]) / f"stage{stage - 1}" / "final")
            if stage == 1 and params.get("tiny_model"):
                made_by.setdefault(cfg.train.model, name)
            needs.append(f"policy {init}: {model_status(init, made_by)}")
            needs.append(f"data {params['data_dir']}: {model_status_dir(params['data_dir'], made_by)}")
            made_by[str(Path(params["run_dir"]) / f"stage{stage}" / "final")] = name
            hours, cpu = stage_gpu_hours(cfg, stage), False
        elif name == "evaluate":
            from dig_kit.paper.published import PAPER_BENCHMARKS

            benches = PAPER_BENCHMARKS if params["benchmarks"] == "paper" else list(params["benchmarks"])
            processes = params.get("processes", 1)
            launches = (
                f"{len(params['models'])} model(s) x {len(benches)} benchmark(s), backend "
                f"{params['backend']}, processes {processes}"
                + (f" ({len(gpus)} GPU(s) visible here)" if processes == "auto" else "")
            )
            for label, model in params["models"].items():
                needs.append(f"model {label!r} {model}: {model_status(model, made_by)}")
            if params.get("write_smoke_data"):
                needs.append(f"benchmark files: written by the step (synthetic stand-ins under {params['data_root']})")
            else:
                present, missing = benchmark_status(benches, params["data_root"], params.get("data_paths", {}))
                needs.append(
                    f"benchmark files under {params['data_root']}: {len(present)} of {len(benches)} present"
                    + (
                        f"; MISSING: {', '.join(missing)} (the file names each one takes: "
                        "`dig-kit evaluate --help`; a missing one is left blank in the tables)"
                        if missing
                        else ""
                    )
                )
            if profile not in ("smoke", "mini"):
                hours, cpu = eval_gpu_hours(len(params["models"])), False
        elif name == "twin":
            cfg = load_config(params["preset"], params.get("overrides"))
            launches = f"renders TWIN items, trains 2 runs (TWIN, without hard negatives): {_training(cfg, gpus)}"
            if profile not in ("smoke", "mini"):
                one = stage_gpu_hours(cfg, 1, items=cfg.twin.subsets["train"].num_items)
                hours, cpu = (None if one is None else 2 * one), False
                needs.append(f"policy {cfg.train.model}: {model_status(cfg.train.model, made_by)}")
        elif name == "ablations":
            from dig_kit.paper.ablations import CURRICULA, REWARD_VARIANTS

            cfg = load_config(params["preset"], params.get("overrides"))
            stages = list(params.get("reward_stages", [1, 2, 3]))
            seeds = len(params.get("seeds", [None]))
            # DiG-1 / DiG-2: one stage of the curriculum's total steps each; reward variants on
            # `stages` (format_iou_f1 is the main run, reused); DiG-Mix is the main run
            single = sum(1 for c in CURRICULA.values() if len(c["stages"]) == 1)
            steps = seeds * (
                single * sum(cfg.train.stage_steps)
                + (len(REWARD_VARIANTS) - 1) * sum(cfg.train.stage_steps[s - 1] for s in stages)
            )
            launches = (
                f"{seeds} seed(s) x ({single} curriculum variants + {len(REWARD_VARIANTS) - 1} reward "
                f"variants), {steps} GRPO steps in all; each stage: {_training(cfg, gpus)}"
            )
            if profile not in ("smoke", "mini"):
                params_n = policy_params(cfg.train.model)
                hours = (
                    None
                    if params_n is None
                    else (
                        steps
                        * rollout_step_gpu_s(cfg.train.prompts_per_step, cfg.train.num_generations, params_n)
                        / 3600
                        + eval_gpu_hours(seeds * (single + len(REWARD_VARIANTS))) * 0.3
                    )
                )  # perception + RefCOCO val
                cpu = False
        else:
            launches = "in the notebook kernel"
        if hours:
            total += hours
        cost = "CPU" if cpu else _fmt_hours(hours)
        lines.append(f"[{i}/{len(planned)}] {name:10s} {'cached' if cached else 'to run':7s} {nb}  {cost}")
        lines.append(f"      launches: {launches}")
        lines += [f"      needs: {n}" for n in needs]
    return lines, total


def model_status_dir(path: str, made_by: dict[str, str]) -> str:
    if path in made_by:
        return f"made by step {made_by[path]}" + (" (present)" if Path(path).exists() else "")
    return "present" if Path(path).exists() else "MISSING"


def print_plan(
    profile: str, planned: list, runs: Path, figures: Path, overrides: list[str] | None = None, lock_note: str = ""
) -> None:
    from dig_kit.launcher import visible_gpus

    gpus = visible_gpus()
    lines, total = describe(profile, planned, runs, overrides, gpus)
    print(
        f"dig-kit reproduce --profile {profile} --plan: nothing is run. runs: {runs}  figures: {figures}  "
        f"GPUs visible here: {len(gpus)}{lock_note}"
    )
    for line in lines:
        print(line)
    if total:
        print(
            f"total: ~{total:.0f} GPU-h (estimates from the cost model in dig_kit/paper/plan.py and the README's "
            f"'Running the paper profile'; not measured): ~{total / 8:.1f} h on 8 GPUs"
        )
