"""Evaluate: load a benchmark, generate the missing predictions (resumably), score, write
the metrics JSON. And score predictions made anywhere.

Outputs of :func:`evaluate` in ``out_dir`` (``<key>`` from the cache key, see :mod:`.cache`):

- ``predictions-<key>.jsonl`` / ``.json``: raw outputs, one line per item, and the key fields;
- ``scores-<key>.jsonl``: per item, the raw output, the final answer, the extracted
  prediction, its score and why (``truncated:<reason>``, ``unparsed``, ``missing`` or the
  rule that read it);
- ``metrics-<key>.json``: the benchmark's metrics (``score`` is the paper's number), the
  counts (``n``, ``truncated``, ``missing``, ``unparsed``) and the settings that made them.

The paper's settings are the defaults: temperature 0 and at most 4096 new tokens.

One process or several. With ``processes=1`` (the default) the calling process loads the
model and generates. With ``processes=N`` (or ``"auto"``: one per visible GPU, or per group
of ``tensor_parallel_size`` GPUs for vLLM; one on a machine without GPUs) the calling
process starts N worker processes (:mod:`.workers`, each with its own
``CUDA_VISIBLE_DEVICES``, its log under ``<out_dir>/logs/``), follows them with a progress
bar, then merges and scores here. The work is cut the same way however many processes run
it: the benchmark's documents (after ``limit``) in consecutive batches of ``batch_size``
items (default 256 for vLLM, 8 for transformers), batch ``j`` to shard ``j % N``
(:func:`shard_batches`). A shard generates the items of its batches that no predictions
file holds yet and appends them to its own part file (:func:`generate_shard`; also
``dig-kit evaluate --shard I/N`` for Slurm jobs). A fresh run thus makes the same generate
calls with N processes as with one, so greedy outputs are identical. Every evaluation
first folds the part files left by shards into the main predictions file (in document
order) and removes them, so an interrupted run resumes with any number of processes,
losing and repeating nothing. Scoring always happens in the calling process, once.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from dig_kit.launcher import LaunchError

from .backends import generate_detailed, get_backend, resolve_backend
from .cache import PredictionCache, model_id, read_predictions
from .extract import PROTOCOLS
from .formats import BenchmarkDataError
from .tasks import get_task

PAPER_MAX_NEW_TOKENS = 4096
PAPER_TEMPERATURE = 0.0


def _task(benchmark: str, coord_format: str | None, protocol: str | None = None, judge=None, **options):
    task = get_task(benchmark)
    if coord_format is not None and hasattr(task, "coord_format"):
        task.coord_format = coord_format
    if protocol is not None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        task.protocol = protocol
    if task.protocol == "judge" and judge is None:
        from .judge import NOT_CONFIGURED, matching_judge_from_env

        if matching_judge_from_env() is None:  # before anything is generated or written
            raise ValueError(f"--protocol judge: {NOT_CONFIGURED}")
    for k, v in options.items():
        if v is not None and hasattr(task, k):
            setattr(task, k, v)
    return task


def _resolve_thinking(thinking: Any) -> bool | None:
    """``True``/``False`` when the user says so; ``None`` (``auto``): per prediction, from its
    recorded ``thinking`` field where present, else from the output itself
    (:func:`dig_kit.evaluation.extract.split_thinking`). Never decided per file."""
    if thinking in (True, False):
        return bool(thinking)
    if isinstance(thinking, str) and thinking.lower() in ("yes", "true", "1"):
        return True
    if isinstance(thinking, str) and thinking.lower() in ("no", "false", "0"):
        return False
    return None


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


def _write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")


def generation_stats(records: list[dict]) -> dict:
    toks = [r["num_tokens"] for r in records if isinstance(r.get("num_tokens"), int)]
    return {
        "items": len(records),
        "mean_new_tokens": round(sum(toks) / len(toks), 2) if toks else None,
        "hit_max_new_tokens": sum(1 for r in records if r.get("finish_reason") == "length"),
    }


def score_loaded(
    model,
    processor,
    benchmark: str,
    data: str | Path,
    limit: int | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
) -> dict:
    """Greedy-generate and score ``benchmark`` (first ``limit`` items) with a model already in
    memory, nothing cached or written: a held-out check during training. Leaves the model in
    eval mode (the caller restores ``train()``)."""
    from dig_kit.evaluation.backends.transformers_backend import TransformersBackend

    task = _task(benchmark, None, None, None)
    docs = task.load(data, limit)
    be = TransformersBackend.from_loaded(model, processor, batch_size)
    items = [{"id": d["id"], "images": [ref.open() for ref in task.images(d)], "prompt": task.prompt(d)} for d in docs]
    gens = generate_detailed(be, items, max_new_tokens, 0.0)
    preds = {d["id"]: {"output": g.text, "finish_reason": g.finish_reason} for d, g in zip(docs, gens)}
    metrics, _ = task.score(docs, preds, thinking=be.thinking)
    return metrics


def check_processes(processes: int | str) -> int | str:
    """``processes`` as :func:`evaluate` takes it: a positive integer or ``"auto"``."""
    if isinstance(processes, str) and processes.strip().lower() == "auto":
        return "auto"
    try:
        n = int(processes)
    except (TypeError, ValueError):
        n = 0
    if isinstance(processes, bool) or n < 1 or (isinstance(processes, float) and processes != n):
        raise ValueError(f"processes must be a positive integer or 'auto', not {processes!r}")
    return n


def check_shard(shard) -> tuple[int, int]:
    """``(I, N)`` from ``(I, N)`` or ``"I/N"``, with ``0 <= I < N``."""
    try:
        index, count = shard.split("/") if isinstance(shard, str) else shard
        index, count = int(index), int(count)
    except (TypeError, ValueError):
        raise ValueError(f"a shard is I/N (shard I of N, numbered from 0), not {shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: I must be 0..N-1 (shards are numbered from 0) and N at least 1")
    return index, count


def chunk_size(batch_size: int | None, backend_name: str) -> int:
    """Items per generate call and per checkpoint of the predictions file."""
    return batch_size or (256 if backend_name == "vllm" else 8)


def shard_batches(docs: list[dict], chunk: int, index: int, count: int) -> list[list[dict]]:
    """The batches of shard ``index`` of ``count``: ``docs`` cut into consecutive batches of
    ``chunk`` items, batch ``j`` going to shard ``j % count``."""
    return [docs[start : start + chunk] for j, start in enumerate(range(0, len(docs), chunk)) if j % count == index]


def _prepare(
    model: str,
    benchmark: str,
    data,
    out_dir,
    *,
    data_root: bool = False,
    limit: int | None = None,
    max_new_tokens: int = PAPER_MAX_NEW_TOKENS,
    temperature: float = PAPER_TEMPERATURE,
    coord_format: str | None = None,
    protocol: str | None = None,
    judge=None,
    box_scale: str | None = None,
):
    """``(task, docs, cache key fields, cache)`` of one (model, benchmark, settings)."""
    task = _task(benchmark, coord_format, protocol, judge, box_scale=box_scale)
    docs = task.load(data, limit, root=data_root)
    fields = {
        "model": model_id(model),
        "benchmark": task.name,
        "split": task.split,
        "task_version": task.version,
        "max_new_tokens": int(max_new_tokens),
        "temperature": float(temperature),
    }
    return task, docs, fields, PredictionCache(out_dir, fields)


def _backend_options(backend: str, backend_options: dict | None, batch_size: int | None, max_images: int) -> dict:
    opts = dict(backend_options or {})
    opts.setdefault("max_images", max_images)
    if batch_size and backend == "transformers":
        opts.setdefault("batch_size", batch_size)
    return opts


def _max_images(task, docs: list[dict]) -> int:
    return max(task.max_images, max(len(task.images(d)) for d in docs))


def _generate_batches(
    task,
    be,
    batches: list[list[dict]],
    sink: PredictionCache,
    backend: str,
    max_new_tokens: int,
    temperature: float,
    progress: bool = False,
    label: str | None = None,
) -> tuple[list[dict], float]:
    """Generate ``batches`` with ``be``, appending each batch's records to ``sink`` (flushed
    and fsync'ed); ``(records, seconds spent in generate)``."""
    label = label or task.name
    total = sum(len(b) for b in batches)
    be_thinking = getattr(be, "thinking", None)
    records: list[dict] = []
    t_gen = 0.0
    for batch in batches:
        items = [
            {"id": d["id"], "images": [ref.open() for ref in task.images(d)], "prompt": task.prompt(d)} for d in batch
        ]
        t0 = time.perf_counter()
        gens = generate_detailed(be, items, max_new_tokens, temperature)
        dt = time.perf_counter() - t0
        t_gen += dt
        recs = [
            {
                "id": d["id"],
                "output": g.text,
                "num_tokens": g.num_tokens,
                "finish_reason": g.finish_reason,
                "backend": getattr(be, "name", backend),
                "seconds": round(dt / len(batch), 4),
                **({"thinking": be_thinking} if isinstance(be_thinking, bool) else {}),
            }
            for d, g in zip(batch, gens)
        ]
        sink.append(recs)
        records += recs
        if progress:
            print(
                f"[{label}] {len(records)}/{total} generated ({len(batch) / max(dt, 1e-9):.2f} items/s)",
                file=sys.stdout,  # progress, not a warning (papermill logs a kernel's stderr at WARNING)
                flush=True,
            )
    return records, t_gen


def generate_shard(
    model: str,
    benchmark: str,
    data: str | Path,
    out_dir: str | Path,
    shard,
    backend: str = "transformers",
    max_new_tokens: int = PAPER_MAX_NEW_TOKENS,
    temperature: float = PAPER_TEMPERATURE,
    batch_size: int | None = None,
    limit: int | None = None,
    coord_format: str | None = None,
    backend_options: dict | None = None,
    backend_obj=None,
    progress: bool = False,
    data_root: bool = False,
    box_scale: str | None = None,
) -> dict:
    """Generate shard ``I`` of ``N`` (``shard``: ``(I, N)`` or ``"I/N"``) of ``benchmark``:
    the items of its batches (:func:`shard_batches`) that neither the main predictions file
    nor any part file holds, appended to ``predictions-<key>.part-I-of-N.jsonl``. Scores
    nothing (a later :func:`evaluate` merges and scores). Loads the model only if it has
    something to generate. Returns ``{"benchmark", "shard", "assigned", "generated",
    "seconds", "part"}``."""
    index, count = check_shard(shard)
    task, docs, fields, cache = _prepare(
        model,
        benchmark,
        data,
        out_dir,
        data_root=data_root,
        limit=limit,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        coord_format=coord_format,
        box_scale=box_scale,
    )
    backend = resolve_backend(backend)
    done = cache.load_all()
    name = getattr(backend_obj, "name", backend) if backend_obj is not None else backend
    mine = shard_batches(docs, chunk_size(batch_size, name), index, count)
    batches = [b for b in ([d for d in batch if d["id"] not in done] for batch in mine) if b]
    records, t_gen = [], 0.0
    if batches:
        be = backend_obj
        if be is None:
            be = get_backend(
                backend, model, **_backend_options(backend, backend_options, batch_size, _max_images(task, docs))
            )
        records, t_gen = _generate_batches(
            task,
            be,
            batches,
            cache.shard(index, count),
            backend,
            max_new_tokens,
            temperature,
            progress,
            label=f"{task.name} shard {index}/{count}",
        )
    return {
        "benchmark": task.name,
        "shard": f"{index}/{count}",
        "assigned": sum(len(b) for b in mine),
        "generated": len(records),
        "seconds": round(t_gen, 3),
        "part": str(cache.part_path(index, count)),
    }


def _generation_settings(max_new_tokens, temperature, batch_size, limit, coord_format, box_scale) -> dict:
    """What a worker needs, besides the model and the benchmark, to make the same prompts and
    batches (the cache key fields and the task options that shape a prompt)."""
    return {
        "max_new_tokens": int(max_new_tokens),
        "temperature": float(temperature),
        "batch_size": batch_size,
        "limit": limit,
        "coord_format": coord_format,
        "box_scale": box_scale,
    }


def evaluate(
    model: str,
    benchmark: str,
    data: str | Path,
    out_dir: str | Path,
    backend: str = "transformers",
    max_new_tokens: int = PAPER_MAX_NEW_TOKENS,
    temperature: float = PAPER_TEMPERATURE,
    batch_size: int | None = None,
    limit: int | None = None,
    thinking: Any = "auto",
    coord_format: str | None = None,
    backend_options: dict | None = None,
    backend_obj=None,
    judge=None,
    progress: bool = False,
    data_root: bool = False,
    protocol: str | None = None,
    box_scale: str | None = None,
    processes: int | str = 1,
    *,
    launched: dict[str, list[str]] | None = None,
) -> dict:
    """Generate what ``out_dir`` lacks for ``benchmark`` with ``model``, score it, write the
    metrics JSON and return the metrics. ``backend_obj`` reuses a loaded backend (several
    benchmarks, one model); ``limit`` evaluates the first items only (whole groups);
    ``data_root``: ``data`` holds many benchmarks under their usual names.

    ``processes``: 1 generates in this process; N (or ``"auto"``, see the module docstring)
    starts N worker processes when something is left to generate (a
    :class:`~dig_kit.launcher.LaunchError` with the worker's error and log tail if one
    fails), then merges and scores here. With ``backend_obj`` generation stays in this
    process (that backend lives here). Part files of earlier shards are merged first.
    ``launched``: cache key -> ids that workers started by :func:`evaluate_suite` were launched
    to generate (reported as generated now)."""

    processes = check_processes(processes)
    task, docs, fields, cache = _prepare(
        model,
        benchmark,
        data,
        out_dir,
        data_root=data_root,
        limit=limit,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        coord_format=coord_format,
        protocol=protocol,
        judge=judge,
        box_scale=box_scale,
    )
    backend = resolve_backend(backend)
    out = Path(out_dir)
    order = [d["id"] for d in docs]
    cache.merge_parts(order)
    done = cache.load()
    todo = [d for d in docs if d["id"] not in done]
    t_gen = 0.0
    if todo and backend_obj is None and processes != 1:
        from .workers import launch_workers, plan_processes

        plan = plan_processes(processes, backend, backend_options)
        if plan["processes"] > 1:
            launch_workers(
                model_id(model),
                backend,
                _backend_options(backend, backend_options, batch_size, _max_images(task, docs)),
                [{"benchmark": task.name, "data": str(Path(data).resolve()), "data_root": data_root}],
                _generation_settings(max_new_tokens, temperature, batch_size, limit, coord_format, box_scale),
                out,
                plan,
                [cache],
                len(todo),
                progress=progress,
                name=f"generate-{task.name}",
            )
            cache.merge_parts(order)
            done = cache.load()
            left = [d["id"] for d in todo if d["id"] not in done]
            if left:
                raise LaunchError(
                    f"[{task.name}] the workers finished but {len(left)} item(s) have no prediction "
                    f"(first: {left[:5]}); logs under {out / 'logs'}"
                )
            t_gen = sum(float(done[d["id"]].get("seconds") or 0.0) for d in todo)
    left = [d for d in docs if d["id"] not in done]
    if left:
        be = backend_obj
        if be is None:
            be = get_backend(
                backend, model, **_backend_options(backend, backend_options, batch_size, _max_images(task, docs))
            )
        chunk = chunk_size(batch_size, getattr(be, "name", backend))
        batches = [left[start : start + chunk] for start in range(0, len(left), chunk)]
        records, t_gen = _generate_batches(task, be, batches, cache, backend, max_new_tokens, temperature, progress)
        done.update({r["id"]: r for r in records})
    pre = set((launched or {}).get(cache.key, ())) - {d["id"] for d in todo}
    by_workers = [d["id"] for d in docs if d["id"] in pre and d["id"] in done]
    t_gen += sum(float(done[i].get("seconds") or 0.0) for i in by_workers)
    generated_now = len(todo) + len(by_workers)
    records = [done[d["id"]] for d in docs if d["id"] in done]
    think = _resolve_thinking(thinking)
    metrics, rows = task.score(docs, done, thinking=think, judge=judge, cache_path=out / f"judge-{cache.key}.jsonl")
    metrics["settings"] = {
        **fields,
        "backend": backend if backend_obj is None else getattr(backend_obj, "name", backend),
        "thinking": _thinking_label(think),
        "protocol": task.protocol,
        "data": str(data),
        "limit": limit,
        "processes": processes,
        "predictions": str(cache.path),
        "scores": str(out / f"scores-{cache.key}.jsonl"),
    }
    metrics["generation"] = {
        **generation_stats(records),
        "generated_now": generated_now,
        "reused": len(docs) - generated_now,
        "seconds": round(t_gen, 3),
    }
    _write_rows(out / f"scores-{cache.key}.jsonl", rows)
    _write_json(out / f"metrics-{cache.key}.json", metrics)
    return metrics


def _thinking_label(think: bool | None) -> str:
    return {True: "yes", False: "no", None: "auto (per output)"}[think]


def score_file(
    benchmark: str,
    data: str | Path,
    predictions: str | Path,
    out: str | Path | None = None,
    thinking: Any = "auto",
    coord_format: str | None = None,
    limit: int | None = None,
    judge=None,
    protocol: str | None = None,
    scores_out: str | Path | None = None,
    data_root: bool = False,
    box_scale: str | None = None,
) -> dict:
    """Score a predictions JSONL made anywhere (one line per item: its id and the raw model
    output; optionally ``finish_reason`` and ``thinking``) against ``benchmark``'s data; write
    the metrics JSON to ``out`` (default: ``<predictions>.metrics.json``) and the per-item
    results to ``scores_out`` (default: ``<predictions>.scores.jsonl``: id, raw output, final
    answer, extracted prediction, score, why); return the metrics. Items without a
    prediction count as wrong (``missing``); predictions for unknown ids are counted in
    ``unknown_ids``."""
    task = _task(benchmark, coord_format, protocol, judge, box_scale=box_scale)
    docs = task.load(data, limit, root=data_root)
    records = read_predictions(predictions)
    preds = {r["id"]: r for r in records}
    ids = {d["id"] for d in docs}
    think = _resolve_thinking(thinking)
    pred_path = Path(predictions)
    metrics, rows = task.score(
        docs, preds, thinking=think, judge=judge, cache_path=pred_path.with_name(pred_path.stem + ".judge.jsonl")
    )
    metrics["unknown_ids"] = sum(1 for r in records if r["id"] not in ids)
    out_path = Path(out) if out else pred_path.with_name(pred_path.stem + ".metrics.json")
    rows_path = (
        Path(scores_out)
        if scores_out
        else out_path.with_name(
            (out_path.name[: -len(".metrics.json")] if out_path.name.endswith(".metrics.json") else out_path.stem)
            + ".scores.jsonl"
        )
    )
    metrics["settings"] = {
        "benchmark": task.name,
        "split": task.split,
        "data": str(data),
        "predictions": str(predictions),
        "thinking": _thinking_label(think),
        "protocol": task.protocol,
        "limit": limit,
        "scores": str(rows_path),
    }
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    _write_rows(rows_path, rows)
    _write_json(out_path, metrics)
    metrics["settings"]["metrics_file"] = str(out_path)
    return metrics


class LazyBackend:
    """A backend loaded on the first batch that needs it (a fully cached suite loads nothing)."""

    def __init__(self, name: str, model: str, options: dict):
        self.name, self.model, self.options, self._backend = name, model, options, None

    def get(self):
        if self._backend is None:
            self._backend = get_backend(self.name, self.model, **self.options)
        return self._backend

    @property
    def thinking(self):
        return getattr(self.get(), "thinking", None)

    def generate_detailed(self, items, max_new_tokens, temperature):
        return generate_detailed(self.get(), items, max_new_tokens, temperature)

    def close(self) -> None:
        """Drop the model (before the next one is loaded)."""
        if self._backend is None:
            return
        self._backend = None
        import gc

        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def evaluate_suite(
    models: dict[str, str],
    benchmarks: list[str],
    data_root: str | Path,
    out_dir: str | Path,
    backend: str = "transformers",
    data_paths: dict[str, str] | None = None,
    backend_options: dict | None = None,
    progress: bool = False,
    processes: int | str = 1,
    **kwargs,
) -> dict[str, dict[str, dict]]:
    """``{model label: {benchmark: metrics}}`` for several models and benchmarks: one backend
    per model (loaded once, only if something is left to generate), outputs under
    ``out_dir/<label>/``. A benchmark whose data is missing gets ``{"status": "missing data:
    ..."}`` instead of metrics (the tables leave it blank); other errors propagate.

    ``processes`` N > 1 (or ``"auto"``): per model, N workers each load the model once and
    generate their shard of every benchmark that lacks predictions (logs under
    ``out_dir/<label>/logs/``); then each benchmark is merged and scored here, as with one
    process. ``kwargs`` go to :func:`evaluate`."""
    processes = check_processes(processes)
    results: dict[str, dict[str, dict]] = {}
    backend = resolve_backend(backend)
    data_paths = {get_task(k).name: v for k, v in (data_paths or {}).items()}
    tasks = [get_task(b) for b in benchmarks]
    options = {"max_images": max(t.max_images for t in tasks), **(backend_options or {})}
    if kwargs.get("batch_size") and backend == "transformers":
        options.setdefault("batch_size", kwargs["batch_size"])
    unknown = set(kwargs) - set(_EVALUATE_KWARGS)
    if unknown:
        raise TypeError(f"evaluate_suite() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    opts = {**_EVALUATE_KWARGS, **kwargs}
    plan = None
    for label, model in models.items():
        results[label] = {}
        launched: dict[str, list[str]] = {}
        if processes != 1:
            from .workers import plan_processes

            plan = plan or plan_processes(processes, backend, backend_options)
            if plan["processes"] > 1:
                launched = _launch_suite_workers(
                    model, tasks, data_root, data_paths, Path(out_dir) / label, backend, options, plan, progress, opts
                )
        lazy = LazyBackend(backend, model, options)
        for task in tasks:
            data = data_paths.get(task.name, data_root)
            try:
                results[label][task.name] = evaluate(
                    model,
                    task.name,
                    data,
                    Path(out_dir) / label,
                    backend=backend,
                    backend_options=backend_options,
                    backend_obj=lazy,
                    progress=progress,
                    data_root=task.name not in data_paths,
                    processes=processes,
                    launched=launched,
                    **opts,
                )
            except BenchmarkDataError as e:
                results[label][task.name] = {"benchmark": task.name, "status": f"missing data: {e}", "score": None}
                if progress:
                    print(f"[{task.name}] skipped: {e}", file=sys.stderr, flush=True)
        lazy.close()
    return results


_EVALUATE_KWARGS = {
    "max_new_tokens": PAPER_MAX_NEW_TOKENS,
    "temperature": PAPER_TEMPERATURE,
    "batch_size": None,
    "limit": None,
    "thinking": "auto",
    "coord_format": None,
    "judge": None,
    "protocol": None,
    "box_scale": None,
}
"""The :func:`evaluate` settings :func:`evaluate_suite` passes on, with their defaults."""


def _launch_suite_workers(
    model: str,
    tasks: list,
    data_root,
    data_paths: dict,
    out: Path,
    backend: str,
    options: dict,
    plan: dict,
    progress: bool,
    kwargs: dict,
) -> dict[str, list[str]]:
    """One model, every benchmark that lacks predictions: merge earlier part files, then one
    launch of ``plan["processes"]`` workers, each generating its shard of all of them.
    Returns cache key -> the ids the workers were launched to generate."""
    from .workers import launch_workers

    gen = _generation_settings(
        kwargs["max_new_tokens"],
        kwargs["temperature"],
        kwargs["batch_size"],
        kwargs["limit"],
        kwargs["coord_format"],
        kwargs["box_scale"],
    )
    specs, caches, todo, launched = [], [], 0, {}
    for task in tasks:
        data = data_paths.get(task.name, data_root)
        root = task.name not in data_paths
        try:
            t, docs, _, cache = _prepare(
                model,
                task.name,
                data,
                out,
                data_root=root,
                limit=gen["limit"],
                max_new_tokens=gen["max_new_tokens"],
                temperature=gen["temperature"],
                coord_format=gen["coord_format"],
                protocol=kwargs["protocol"],
                judge=kwargs["judge"],
                box_scale=gen["box_scale"],
            )
        except BenchmarkDataError:
            continue  # evaluate() reports it
        cache.merge_parts([d["id"] for d in docs])
        done = cache.load()
        missing = [d["id"] for d in docs if d["id"] not in done]
        if missing:
            specs.append({"benchmark": t.name, "data": str(Path(data).resolve()), "data_root": root})
            caches.append(cache)
            launched[cache.key] = missing
            todo += len(missing)
    if todo:
        launch_workers(
            model_id(model),
            backend,
            options,
            specs,
            gen,
            out,
            plan,
            caches,
            todo,
            progress=progress,
            name="generate-suite",
        )
    return launched
