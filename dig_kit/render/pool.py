"""Blender worker processes, possibly in another Python environment than the caller's.

Each worker is ``PYTHON -m dig_kit.render.pool``: a persistent process that imports bpy once,
holds one :class:`~dig_kit.render.blender.BlenderRenderer`, and answers one JSON line per
task on its stdout (Blender's own prints go to /dev/null). Tasks and rows are plain JSON, so
the worker's interpreter may differ from the caller's: on a GPU machine the caller's
environment holds vLLM (numpy 2) and the workers run in ``.venv-render`` (bpy 5.0.1, numpy
1.26), which ``scripts/setup.sh --gpu`` builds.

The interpreter is, in order: ``$DIG_KIT_RENDER_PYTHON``; the caller's own when it has bpy;
``.venv-render/bin/python`` at the repo root. Otherwise :class:`RenderEnvError` says how to get one.

GPUs: Cycles enables every GPU it finds, so workers that all see every GPU would each render on
all of them at once. When the render device is ``gpu`` or ``auto`` and GPUs are visible
(:func:`dig_kit.launcher.visible_gpus`), each worker is started with ``CUDA_VISIBLE_DEVICES`` set
to one GPU id: ``workers="auto"`` starts one worker per GPU, a number N spreads N workers
round-robin over the GPUs (:func:`worker_gpus`). Without GPUs, or with ``device: cpu``, the
workers are not pinned (``auto`` = 1 worker, which Cycles runs on every core). Each worker's
ready reply names the device it renders on and its ``CUDA_VISIBLE_DEVICES``
(:attr:`RenderPool.workers_info`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from dig_kit.config import ConfigError
from dig_kit.launcher import visible_gpus

ENV_VAR = "DIG_KIT_RENDER_PYTHON"
_PKG_PARENT = Path(__file__).resolve().parents[2]  # the repo root in a source checkout


class RenderEnvError(RuntimeError):
    """No Python environment with Blender's bpy module was found, or its worker failed to start."""


def render_python() -> str:
    """The interpreter that runs the Blender workers (see the module docstring)."""
    env = os.environ.get(ENV_VAR)
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            raise RenderEnvError(f"{ENV_VAR}={env!r} is not an executable Python interpreter")
        return env
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    venv = _PKG_PARENT / ".venv-render" / "bin" / "python"
    if venv.is_file():
        return str(venv)
    raise RenderEnvError(
        "rendering needs Blender's Python module (bpy 5.0.1 on Python 3.11), found neither in this "
        f"environment ({sys.executable}) nor in {venv.parent.parent}. Run `bash scripts/setup.sh --gpu` "
        f"(it builds .venv-render), or `pip install 'dig-kit[render]'` here, or set {ENV_VAR}=/path/to/python "
        "of an environment that has bpy and dig-kit."
    )


def render_gpus(device: str, env: dict | None = None) -> list[str]:
    """The GPUs the workers may be spread over: none when the render device is ``cpu``, else
    the visible ones (``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi -L``)."""
    return [] if device == "cpu" else visible_gpus(env)


def worker_gpus(workers: int | str, gpus: list[str]) -> list[str | None]:
    """The GPU id each worker is pinned to (``None``: not pinned), one entry per worker.

    ``workers="auto"``: one worker per GPU, or 1 worker without GPUs. A number N: N workers,
    round-robin over ``gpus`` (several workers may share a GPU), unpinned without GPUs.

    >>> worker_gpus("auto", ["0", "1"]), worker_gpus(3, ["0", "1"]), worker_gpus("auto", [])
    (['0', '1'], ['0', '1', '0'], [None])
    """
    if isinstance(workers, str) and workers.strip() == "auto":
        n = max(1, len(gpus))
    else:
        try:
            n = int(workers)
            if isinstance(workers, float) and workers != n:
                raise ValueError
        except (TypeError, ValueError):
            n = 0
        if isinstance(workers, bool) or n < 1:
            raise ConfigError(f"workers={workers!r}: must be a number >= 1 or 'auto' (one per visible GPU)")
    if not gpus:
        return [None] * n
    return [gpus[i % len(gpus)] for i in range(n)]


def _worker_env(gpu: str | None = None) -> dict:
    env = dict(os.environ)
    if (_PKG_PARENT / "pyproject.toml").is_file():  # a source checkout: the workers import this copy
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PKG_PARENT), env.get("PYTHONPATH")) if p)
    if gpu is not None:  # Cycles then finds exactly this GPU (CUDA and OptiX honour it)
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


class _Worker:
    def __init__(self, python: str, gpu: str | None = None):
        self.gpu = gpu
        self.proc = subprocess.Popen(
            [python, "-m", "dig_kit.render.pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=_worker_env(gpu),
        )

    def send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RenderEnvError(f"Blender worker exited with code {code} (its stderr is above)")
        return json.loads(line)

    def call(self, msg: dict) -> dict:
        try:
            self.send(msg)
        except BrokenPipeError:
            pass  # receive() reports the exit code
        return self.receive()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


class RenderPool:
    """Persistent Blender processes rendering tasks of one config.

    ``workers``: a number or ``"auto"``, spread over ``gpus`` (default: :func:`render_gpus` of
    the config's render device) as :func:`worker_gpus` says. Use as a context manager; entering
    starts every worker and waits until each has bpy loaded, so a missing or broken render
    environment fails before the caller writes anything. Then :attr:`workers_info` holds, per
    worker, ``{"gpu": the GPU id it is pinned to or None, "device": "gpu" or "cpu" (what Cycles
    renders on), "cuda_visible_devices": the worker's own CUDA_VISIBLE_DEVICES or None}``.
    """

    def __init__(
        self,
        cfg_dict: dict,
        workers: int | str = 1,
        threads: int = 0,
        python: str | None = None,
        gpus: list[str] | None = None,
    ):
        if gpus is None:
            gpus = render_gpus(cfg_dict.get("data", {}).get("render", {}).get("device", "cpu"))
        self.pinning = worker_gpus(workers, gpus)
        self.cfg_dict, self.n, self.threads = cfg_dict, len(self.pinning), threads
        self.python = python or render_python()
        self.workers_info: list[dict] = []
        self._workers: list[_Worker] = []
        self._idle: queue.Queue[_Worker] = queue.Queue()

    def __enter__(self) -> RenderPool:
        try:
            self._workers = [_Worker(self.python, gpu) for gpu in self.pinning]
            for w in self._workers:
                w.send({"cfg": self.cfg_dict, "threads": self.threads})
            self.workers_info = []
            for w in self._workers:
                reply = w.receive()
                if "error" in reply:
                    where = f" pinned to GPU {w.gpu}" if w.gpu is not None else ""
                    raise RenderEnvError(f"Blender worker ({self.python}){where} failed to start:\n{reply['error']}")
                self.workers_info.append(
                    {
                        "gpu": w.gpu,
                        "device": reply.get("device"),
                        "cuda_visible_devices": reply.get("cuda_visible_devices"),
                    }
                )
                self._idle.put(w)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for w in self._workers:
            w.close()
        self._workers = []

    def _run(self, task: list) -> dict:
        w = self._idle.get()
        try:
            reply = w.call({"task": task})
        finally:
            self._idle.put(w)
        if reply.get("kind") == "RenderError":  # a pair that passed no check: the user's to fix
            from dig_kit.render.pairs import RenderError

            raise RenderError(reply["message"])
        if "error" in reply:
            raise RuntimeError(f"rendering task {task[:3]} failed in the Blender worker:\n{reply['error']}")
        return reply["row"]

    def imap_unordered(self, tasks: Iterable[list]) -> Iterator[dict]:
        """Rows in the order they finish; the first failed task raises (after the running ones end)."""
        with ThreadPoolExecutor(self.n) as ex:
            futures = [ex.submit(self._run, list(t)) for t in tasks]
            try:
                for f in as_completed(futures):
                    yield f.result()
            finally:
                for f in futures:
                    f.cancel()


# -- worker side ----------------------------------------------------------------------------------
def _render_task(renderer, cfg, task: list) -> dict:
    kind, subset, seed, index, shard_dir = task
    if kind == "twin":
        from dig_kit.render.twin import render_twin_item

        return render_twin_item(renderer, cfg, subset, cfg.twin.subsets[subset], seed, index, Path(shard_dir))
    from dig_kit.render.pairs import render_pair

    return render_pair(renderer, cfg.data, subset, cfg.data.subsets[subset], seed, Path(shard_dir))


def _serve() -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol channel
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # Blender prints a line per saved file: keep it off the channel

    def reply(msg: dict) -> None:
        out.write(json.dumps(msg) + "\n")

    init = json.loads(sys.stdin.readline() or "{}")
    try:
        from dig_kit.config import from_dict
        from dig_kit.render.blender import BlenderRenderer  # bpy is imported once per worker

        cfg = from_dict(init["cfg"])
        if init.get("threads") and cfg.data.render.threads == 0:
            cfg.data.render.threads = init["threads"]
        renderer = BlenderRenderer(cfg.data.render)
    except BaseException:
        reply({"error": f"{sys.executable}: " + traceback.format_exc()})
        return
    reply({"ready": True, "device": renderer.device, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")})
    for line in sys.stdin:
        try:
            reply({"row": _render_task(renderer, cfg, json.loads(line)["task"])})
        except Exception as e:
            reply({"error": traceback.format_exc(), "kind": type(e).__name__, "message": str(e)})


if __name__ == "__main__":
    _serve()
