"""A curriculum stage over several processes or machines, started from a notebook kernel or
``dig-kit train``: the kernel orchestrates, child processes compute.

:func:`launch_plan` reads ``train.launch`` (processes per node, ``auto`` = the visible GPUs;
nodes; the accelerate config) and says whether the stage trains in the calling process (one
process, one node) or is launched. :func:`launch_stage` then runs::

    accelerate launch --config_file <train.launch.accelerate_config> --num_processes N ...
        -m dig_kit.cli train --preset <stage>/launch-config.yaml --stage K --data ... --out ...

as a child process tree (:class:`dig_kit.launcher.ChildTree`) and:

- shows a progress bar over the stage's optimizer updates (read from ``metrics.jsonl``);
- writes the child's whole output to ``<run dir>/../logs/<run name>-stage<K>.log``;
- records the launch in ``stage<K>/launch.json``: the command, processes, nodes, GPUs and the
  world size the trainer itself saw (it writes ``stage<K>/world.json``);
- returns the stage's ``final/`` directory, or raises :class:`~dig_kit.launcher.LaunchError`
  with the last lines of the log;
- ends the whole child tree on an interrupt, an exception or the death of the caller.

This module never imports torch, so a kernel that launches never creates a CUDA context.
The command is the same with or without GPUs; without them the ranks run DDP on gloo (the
trainer runs on the CPU; accelerate runs FSDP on GPUs only), which is how the tests run it:
``--set train.launch.processes=2`` on 2 CPU processes.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

from dig_kit.config import ConfigError, KitConfig, save_config
from dig_kit.launcher import ChildTree, LaunchError, error_lines, free_port, tail, visible_gpus

LAUNCHED_ENV = "DIG_KIT_LAUNCHED"
"""Set in the launched ranks: they train, they do not launch again."""
ROOT = Path(__file__).resolve().parents[2]
ACCELERATE_CONFIGS = ROOT / "configs" / "accelerate"


def inside_launch() -> bool:
    """True in a process that a launcher started (this kit's, torchrun, accelerate, srun+torchrun)."""
    return os.environ.get(LAUNCHED_ENV) == "1" or int(os.environ.get("WORLD_SIZE", "1")) > 1


def accelerate_config_path(name: str) -> Path:
    """``train.launch.accelerate_config`` as a file: a name under configs/accelerate/ or a path."""
    p = Path(name).expanduser()
    if p.suffix in (".yaml", ".yml", ".json") or len(p.parts) > 1:
        if not p.is_file():
            raise ConfigError(f"train.launch.accelerate_config: {name} is not a file")
        return p.resolve()
    shipped = ACCELERATE_CONFIGS / f"{name}.yaml"
    if not shipped.is_file():
        known = sorted(q.stem for q in ACCELERATE_CONFIGS.glob("*.yaml"))
        raise ConfigError(
            f"train.launch.accelerate_config: no config named {name!r} "
            f"({'choose from ' + ', '.join(known) if known else 'configs/accelerate/ is not here'}"
            "; or give a path)"
        )
    return shipped


def launch_plan(cfg: KitConfig, gpus: list[str] | None = None) -> dict:
    """What a stage of ``cfg`` starts on this machine: ``launched`` (bool), ``processes`` per
    node, ``nodes``, ``world_size``, the ``gpus`` seen, the ``accelerate_config`` and the
    ``distributed`` backend in words."""
    la = cfg.train.launch
    gpus = visible_gpus() if gpus is None else gpus
    if la.processes == "auto":
        per_node, why = max(1, len(gpus)), f"auto: {len(gpus)} GPU(s) visible"
    else:
        per_node, why = int(la.processes), "set"
    world = per_node * la.nodes
    launched = world > 1
    config = accelerate_config_path(la.accelerate_config) if launched else None
    if not launched:
        distributed = "none (one process, trains in the calling process)"
    elif gpus:
        distributed = f"accelerate config {config.name}"
    else:
        distributed = f"accelerate config {config.name}; no GPU visible, so the ranks run DDP on CPU (gloo)"
    return {
        "launched": launched,
        "processes": per_node,
        "processes_from": why,
        "nodes": la.nodes,
        "machine_rank": la.machine_rank,
        "world_size": world,
        "gpus": list(gpus),
        "accelerate_config": str(config) if config else None,
        "distributed": distributed,
    }


def accelerate_command(cfg: KitConfig, plan: dict, train_args: list[str], port: int) -> list[str]:
    """``python -m accelerate.commands.launch ... -m dig_kit.cli train <train_args>``."""
    la = cfg.train.launch
    # The same command with or without GPUs (never accelerate's --cpu: it starts one process
    # only); without GPUs the trainer (use_cpu) makes the ranks DDP on gloo.
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        plan["accelerate_config"],
        "--mixed_precision",
        "bf16" if cfg.train.bf16 and plan["gpus"] else "no",
        "--num_processes",
        str(plan["world_size"]),
        "--num_machines",
        str(la.nodes),
        "--machine_rank",
        str(la.machine_rank),
        "--main_process_port",
        str(port),
    ]
    if la.nodes > 1:
        cmd += ["--main_process_ip", la.main_address]
    return cmd + ["-m", "dig_kit.cli", "train", *train_args]


def log_path(out_dir: str | Path, stage: int, log_dir: str | Path | None, machine_rank: int, nodes: int) -> Path:
    out = Path(out_dir)
    name = f"{out.name or 'run'}-stage{stage}" + (f"-node{machine_rank}" if nodes > 1 else "") + ".log"
    return Path(log_dir) / name if log_dir else out.parent / "logs" / name


def _progress(stage_path: Path, total: int | None, desc: str):
    """A tqdm bar over optimizer updates, fed from the stage's metrics.jsonl; call it to refresh."""
    from tqdm.auto import tqdm

    metrics, world = stage_path / "metrics.jsonl", stage_path / "world.json"
    bar = tqdm(total=total, desc=desc, unit="update")

    def refresh() -> None:
        if bar.total is None and world.exists():
            try:
                bar.total = json.loads(world.read_text()).get("max_steps")
            except ValueError:
                pass
        done = 0
        try:
            for line in metrics.read_text().splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if row.get("split") == "train":
                    done = max(done, int(row.get("step", 0)))
        except OSError:
            pass
        if done != bar.n:
            bar.n = done
            bar.refresh()

    refresh.close = bar.close
    return refresh


def write_launch_record(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    tmp.replace(path)


def launch_stage(
    cfg: KitConfig,
    stage: int,
    data_dir: str | Path,
    out_dir: str | Path,
    init: str,
    plan: dict,
    log_dir: str | Path | None = None,
) -> Path:
    """Run one stage as a launched child process tree (see the module docstring)."""
    la = cfg.train.launch
    stage_path = Path(out_dir) / f"stage{stage}"
    stage_path.mkdir(parents=True, exist_ok=True)
    main = la.machine_rank == 0
    config_file = stage_path / ("launch-config.yaml" if main else f"launch-config-node{la.machine_rank}.yaml")
    save_config(cfg, config_file)
    train_args = [
        "--preset",
        str(config_file),
        "--stage",
        str(stage),
        "--data",
        str(data_dir),
        "--out",
        str(out_dir),
        "--model",
        str(init),
    ]
    port = la.main_port or (free_port() if la.nodes == 1 else 29500)
    cmd = accelerate_command(cfg, plan, train_args, port)
    log = log_path(out_dir, stage, log_dir, la.machine_rank, la.nodes)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} stage {stage}: {shlex.join(cmd)}\n")
    record = {
        "stage": stage,
        "mode": "launched",
        "command": cmd,
        "processes": plan["processes"],
        "processes_from": plan["processes_from"],
        "nodes": la.nodes,
        "machine_rank": la.machine_rank,
        "main_address": la.main_address or None,
        "main_port": port,
        "world_size_launched": plan["world_size"],
        "gpus": plan["gpus"],
        "distributed": plan["distributed"],
        "accelerate_config": plan["accelerate_config"],
        "log": str(log),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": "running",
    }
    record_path = stage_path / "launch.json"
    if main:
        write_launch_record(record_path, record)
    env = {**os.environ, LAUNCHED_ENV: "1", "PYTHONUNBUFFERED": "1"}
    if not plan["gpus"]:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // plan["processes"])))
    steps = cfg.train.stage_steps[stage - 1] * cfg.train.updates_per_step if cfg.train.epochs <= 0 else None
    progress = _progress(stage_path, steps, f"stage {stage} ({plan['world_size']} processes)")
    t0 = time.perf_counter()
    try:
        rc = ChildTree(cmd, log, env=env).run(on_poll=progress)
    except BaseException:
        if main:
            write_launch_record(
                record_path, {**record, "status": "interrupted", "seconds": round(time.perf_counter() - t0, 1)}
            )
        raise
    finally:
        progress.close()
    world = stage_path / "world.json"
    trainer = json.loads(world.read_text()) if world.exists() else None
    record.update(
        status="finished" if rc == 0 else f"failed (exit code {rc})",
        returncode=rc,
        seconds=round(time.perf_counter() - t0, 1),
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        trainer=trainer,
        world_size=trainer.get("world_size") if trainer else None,
    )
    if main:
        write_launch_record(record_path, record)
    final = stage_path / "final"
    # another node may not see node 0's final/ at once on a network file system: its exit code decides
    if rc != 0 or (main and not (final / "config.json").exists()):
        errors = "".join(f"\n  {e}" for e in error_lines(log))
        raise LaunchError(
            f"stage {stage} failed (exit code {rc}) after {record['seconds']} s"
            f"{'; the error:' + errors if errors else ''}\nThe launch is recorded in {record_path}, "
            f"the whole log is {log}. Its last lines:\n{tail(log, 25)}"
        )
    return final
