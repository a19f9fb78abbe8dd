"""Evaluation workers: generation spread over N processes (one per GPU, or per group of
``tensor_parallel_size`` GPUs for vLLM), started and followed by the process that scores.

Parent side (used by :func:`dig_kit.evaluation.runner.evaluate` and
:func:`~dig_kit.evaluation.runner.evaluate_suite` when ``processes`` is above 1):

- :func:`plan_processes` turns ``processes`` (N or ``"auto"``) into a number of workers and
  the GPUs each one sees;
- :func:`launch_workers` writes one JSON spec per worker and runs
  ``python -m dig_kit.evaluation.workers SPEC.json`` N times at once as guarded child
  process trees (:class:`dig_kit.launcher.ChildTree`, :func:`~dig_kit.launcher.run_children`:
  an interrupt, an exception or the death of the caller ends them all), each with its own
  ``CUDA_VISIBLE_DEVICES`` when GPUs are visible (without GPUs, ``OMP_NUM_THREADS`` shares
  the cores). Each worker's whole output goes to ``<out_dir>/logs/<name>.worker-I-of-N.log``
  beside its spec, and ``<name>.launch.json`` records what ran. A tqdm bar counts the
  records the workers have appended to their part files. A worker that exits non-zero
  ends the others and raises :class:`~dig_kit.launcher.LaunchError` with the exception
  lines of its log and the log's tail.

Worker side: a spec names the model, the backend and its options, the benchmarks
(``benchmark``, ``data``, ``data_root``), the generation settings and the shard ``[I, N]``.
The worker loads the model once (lazily: not at all if its shards are already done) and
runs :func:`~dig_kit.evaluation.runner.generate_shard` for each benchmark in turn: it
appends to part files and scores nothing.

Standard library only at import time, like :mod:`dig_kit.launcher`.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

from dig_kit.launcher import ChildTree, LaunchError, error_lines, run_children, tail, visible_gpus

STOPPED_CODES = (-15, 143, -9, 137)
"""Exit codes of a worker ended because another one failed (SIGTERM/SIGKILL)."""


def plan_processes(
    processes: int | str, backend: str, backend_options: dict | None = None, gpus: list[str] | None = None
) -> dict:
    """``{"processes", "processes_from", "gpus", "tensor_parallel_size", "gpu_groups"}``:
    how many workers and which GPUs each sees (``gpu_groups[i]``, a ``CUDA_VISIBLE_DEVICES``
    value; ``None`` without GPUs). ``"auto"`` = visible GPUs // ``tensor_parallel_size``
    (vLLM; 1 otherwise), at least 1: one process on a machine without GPUs. N workers need
    N x tensor_parallel_size visible GPUs when there are GPUs at all."""
    from .runner import check_processes

    processes = check_processes(processes)
    gpus = visible_gpus() if gpus is None else list(gpus)
    tp = int((backend_options or {}).get("tensor_parallel_size") or 1) if backend == "vllm" else 1
    if tp < 1:
        raise ValueError(f"tensor_parallel_size must be at least 1, not {tp}")
    if processes == "auto":
        n = max(1, len(gpus) // tp)
        why = f"auto: {len(gpus)} GPU(s) visible" + (f", {tp} per process" if tp > 1 else "")
    else:
        n, why = int(processes), "set"
    groups = None
    if gpus and n > 1:
        if n * tp > len(gpus):
            raise ValueError(
                f"processes={n}"
                + (f" x tensor_parallel_size={tp}" if tp > 1 else "")
                + f" needs {n * tp} GPUs; {len(gpus)} visible ({','.join(gpus)})"
            )
        groups = [",".join(gpus[i * tp : (i + 1) * tp]) for i in range(n)]
    return {"processes": n, "processes_from": why, "gpus": gpus, "tensor_parallel_size": tp, "gpu_groups": groups}


class _PartCounter:
    """Lines (records) appended to some files so far, reading only what is new each time."""

    def __init__(self, paths: list[Path]):
        self.state = {Path(p): [0, 0] for p in paths}  # path -> [bytes read, newlines seen]

    def count(self) -> int:
        total = 0
        for path, st in self.state.items():
            try:
                size = path.stat().st_size
            except OSError:
                st[:] = [0, 0]
                continue
            if size < st[0]:  # cut back (a torn line repaired): count again
                st[:] = [0, 0]
            if size > st[0]:
                with open(path, "rb") as f:
                    f.seek(st[0])
                    st[1] += f.read(size - st[0]).count(b"\n")
                st[0] = size
            total += st[1]
        return total


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str) + "\n")
    tmp.replace(path)


def launch_workers(
    model: str,
    backend: str,
    backend_options: dict,
    benchmarks: list[dict],
    generation: dict,
    out_dir: str | Path,
    plan: dict,
    caches: list,
    total: int,
    progress: bool = False,
    name: str = "generate",
) -> dict:
    """Run ``plan["processes"]`` workers over ``benchmarks`` (``[{"benchmark", "data",
    "data_root"}]``) of ``model`` and wait for them (see the module docstring). ``caches``:
    the benchmarks' :class:`~dig_kit.evaluation.cache.PredictionCache`, whose part files the
    progress bar counts up to ``total`` items. Returns the launch record; raises
    :class:`~dig_kit.launcher.LaunchError` when a worker fails."""
    n = int(plan["processes"])
    out = Path(out_dir).resolve()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    threads = str(max(1, (os.cpu_count() or 1) // n))
    trees, log_paths, commands = [], [], []
    for i in range(n):
        stem = f"{name}.worker-{i}-of-{n}"
        spec = {
            "model": model,
            "backend": backend,
            "backend_options": backend_options,
            "out_dir": str(out),
            "shard": [i, n],
            "generation": generation,
            "benchmarks": benchmarks,
        }
        spec_path, log = logs / f"{stem}.json", logs / f"{stem}.log"
        _write_json(spec_path, spec)
        cmd = [sys.executable, "-m", "dig_kit.evaluation.workers", str(spec_path)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if plan.get("gpu_groups"):
            env["CUDA_VISIBLE_DEVICES"] = plan["gpu_groups"][i]
            where = f"GPU {plan['gpu_groups'][i]}"
        else:
            where = "CPU"
            env.setdefault("OMP_NUM_THREADS", threads)
        with open(log, "a") as f:
            f.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} worker {i}/{n} ({where}): {shlex.join(cmd)}\n")
        trees.append(ChildTree(cmd, log, env=env))
        log_paths.append(log)
        commands.append(cmd)
    record = {
        "name": name,
        "model": model,
        "backend": backend,
        "processes": n,
        "processes_from": plan.get("processes_from"),
        "gpu_groups": plan.get("gpu_groups"),
        "benchmarks": [b["benchmark"] for b in benchmarks],
        "items": total,
        "commands": commands,
        "logs": [str(p) for p in log_paths],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": "running",
    }
    record_path = logs / f"{name}.launch.json"
    _write_json(record_path, record)

    from tqdm.auto import tqdm

    counter = _PartCounter([c.part_path(i, n) for c in caches for i in range(n)])
    bar = tqdm(total=total, desc=f"generate ({n} processes)", unit="item", disable=not progress)

    def poll() -> None:
        done = min(counter.count(), total)
        if done != bar.n:
            bar.n = done
            bar.refresh()

    t0 = time.perf_counter()
    try:
        codes = run_children(trees, on_poll=poll, interval=0.5)
    except BaseException:
        _write_json(record_path, {**record, "status": "interrupted", "seconds": round(time.perf_counter() - t0, 1)})
        raise
    finally:
        bar.close()
    failed = [i for i, c in enumerate(codes) if c != 0]
    record.update(
        returncodes=codes,
        seconds=round(time.perf_counter() - t0, 1),
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        status="finished" if not failed else f"failed (worker {failed[0]}, exit code {codes[failed[0]]})",
    )
    if failed:
        first = next((i for i in failed if codes[i] not in STOPPED_CODES), failed[0])
        record["status"] = f"failed (worker {first}, exit code {codes[first]})"
        _write_json(record_path, record)
        log = log_paths[first]
        errors = "".join(f"\n  {e}" for e in error_lines(log))
        raise LaunchError(
            f"evaluation worker {first} of {n} ({model}, {backend}) failed (exit code {codes[first]})"
            f"{'; the error:' + errors if errors else ''}\nThe other workers were stopped; the launch "
            f"is recorded in {record_path}, the whole log is {log}. Its last lines:\n{tail(log, 25)}"
        )
    _write_json(record_path, record)
    return record


# -- worker side ------------------------------------------------------------------------------
def run_spec(spec: dict) -> list[dict]:
    """Generate the spec's shard of each of its benchmarks, one model load for all of them;
    one result line (JSON) per benchmark on stdout."""
    from .runner import LazyBackend, generate_shard

    index, count = spec["shard"]
    lazy = LazyBackend(spec["backend"], spec["model"], dict(spec.get("backend_options") or {}))
    results = []
    try:
        for b in spec["benchmarks"]:
            r = generate_shard(
                spec["model"],
                b["benchmark"],
                b["data"],
                spec["out_dir"],
                (index, count),
                backend=spec["backend"],
                backend_obj=lazy,
                data_root=bool(b.get("data_root")),
                progress=True,
                **(spec.get("generation") or {}),
            )
            print(json.dumps(r), flush=True)
            results.append(r)
    finally:
        lazy.close()
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m dig_kit.evaluation.workers SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    index, count = spec["shard"]
    print(
        f"dig-kit evaluation worker {index}/{count} (pid {os.getpid()}): {spec['model']} with {spec['backend']}, "
        f"{len(spec['benchmarks'])} benchmark(s), CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}",
        flush=True,
    )
    run_spec(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
