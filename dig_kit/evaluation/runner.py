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
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

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


def score_loaded(model, processor, benchmark: str, data: str | Path, limit: int | None = None,
                 max_new_tokens: int = 64, batch_size: int = 16) -> dict:
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


def evaluate(model: str, benchmark: str, data: str | Path, out_dir: str | Path, backend: str = "transformers",
             max_new_tokens: int = PAPER_MAX_NEW_TOKENS, temperature: float = PAPER_TEMPERATURE,
             batch_size: int | None = None, limit: int | None = None, thinking: Any = "auto",
             coord_format: str | None = None, backend_options: dict | None = None, backend_obj=None,
             judge=None, progress: bool = False, data_root: bool = False, protocol: str | None = None,
             box_scale: str | None = None) -> dict:
    """Generate what ``out_dir`` lacks for ``benchmark`` with ``model``, score it, write the
    metrics JSON and return the metrics. ``backend_obj`` reuses a loaded backend (several
    benchmarks, one model); ``limit`` evaluates the first items only (whole groups);
    ``data_root``: ``data`` holds many benchmarks under their usual names."""
    task = _task(benchmark, coord_format, protocol, judge, box_scale=box_scale)
    backend = resolve_backend(backend)
    docs = task.load(data, limit, root=data_root)
    out = Path(out_dir)
    fields = {"model": model_id(model), "benchmark": task.name, "split": task.split, "task_version": task.version,
              "max_new_tokens": int(max_new_tokens), "temperature": float(temperature)}
    cache = PredictionCache(out, fields)
    done = cache.load()
    todo = [d for d in docs if d["id"] not in done]
    t_gen = 0.0
    if todo:
        be = backend_obj
        if be is None:
            opts = dict(backend_options or {})
            opts.setdefault("max_images", max(task.max_images, max(len(task.images(d)) for d in docs)))
            if batch_size and backend == "transformers":
                opts.setdefault("batch_size", batch_size)
            be = get_backend(backend, model, **opts)
        chunk = batch_size or (256 if getattr(be, "name", backend) == "vllm" else 8)
        be_thinking = getattr(be, "thinking", None)
        for start in range(0, len(todo), chunk):
            batch = todo[start:start + chunk]
            items = [{"id": d["id"], "images": [ref.open() for ref in task.images(d)], "prompt": task.prompt(d)}
                     for d in batch]
            t0 = time.perf_counter()
            gens = generate_detailed(be, items, max_new_tokens, temperature)
            dt = time.perf_counter() - t0
            t_gen += dt
            recs = [{"id": d["id"], "output": g.text, "num_tokens": g.num_tokens, "finish_reason": g.finish_reason,
                     "backend": getattr(be, "name", backend), "seconds": round(dt / len(batch), 4),
                     **({"thinking": be_thinking} if isinstance(be_thinking, bool) else {})}
                    for d, g in zip(batch, gens)]
            cache.append(recs)
            done.update({r["id"]: r for r in recs})
            if progress:
                print(f"[{task.name}] {start + len(batch)}/{len(todo)} generated ({len(batch) / dt:.2f} items/s)",
                      file=sys.stderr, flush=True)
    records = [done[d["id"]] for d in docs if d["id"] in done]
    think = _resolve_thinking(thinking)
    metrics, rows = task.score(docs, done, thinking=think, judge=judge, cache_path=out / f"judge-{cache.key}.jsonl")
    metrics["settings"] = {**fields, "backend": backend if backend_obj is None else getattr(backend_obj, "name", backend),
                           "thinking": _thinking_label(think), "protocol": task.protocol, "data": str(data),
                           "limit": limit, "predictions": str(cache.path),
                           "scores": str(out / f"scores-{cache.key}.jsonl")}
    metrics["generation"] = {**generation_stats(records), "generated_now": len(todo),
                             "reused": len(docs) - len(todo), "seconds": round(t_gen, 3)}
    _write_rows(out / f"scores-{cache.key}.jsonl", rows)
    _write_json(out / f"metrics-{cache.key}.json", metrics)
    return metrics


def _thinking_label(think: bool | None) -> str:
    return {True: "yes", False: "no", None: "auto (per output)"}[think]


def score_file(benchmark: str, data: str | Path, predictions: str | Path, out: str | Path | None = None,
               thinking: Any = "auto", coord_format: str | None = None, limit: int | None = None, judge=None,
               protocol: str | None = None, scores_out: str | Path | None = None, data_root: bool = False,
               box_scale: str | None = None) -> dict:
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
    metrics, rows = task.score(docs, preds, thinking=think, judge=judge,
                               cache_path=pred_path.with_name(pred_path.stem + ".judge.jsonl"))
    metrics["unknown_ids"] = sum(1 for r in records if r["id"] not in ids)
    out_path = Path(out) if out else pred_path.with_name(pred_path.stem + ".metrics.json")
    rows_path = Path(scores_out) if scores_out else out_path.with_name(
        (out_path.name[: -len(".metrics.json")] if out_path.name.endswith(".metrics.json") else out_path.stem)
        + ".scores.jsonl")
    metrics["settings"] = {"benchmark": task.name, "split": task.split, "data": str(data),
                           "predictions": str(predictions), "thinking": _thinking_label(think),
                           "protocol": task.protocol, "limit": limit, "scores": str(rows_path)}
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


def evaluate_suite(models: dict[str, str], benchmarks: list[str], data_root: str | Path, out_dir: str | Path,
                   backend: str = "transformers", data_paths: dict[str, str] | None = None,
                   backend_options: dict | None = None, progress: bool = False, **kwargs) -> dict[str, dict[str, dict]]:
    """``{model label: {benchmark: metrics}}`` for several models and benchmarks: one backend
    per model (loaded once, only if something is left to generate), outputs under
    ``out_dir/<label>/``. A benchmark whose data is missing gets ``{"status": "missing data:
    ..."}`` instead of metrics (the tables leave it blank); other errors propagate."""
    results: dict[str, dict[str, dict]] = {}
    backend = resolve_backend(backend)
    data_paths = {get_task(k).name: v for k, v in (data_paths or {}).items()}
    tasks = [get_task(b) for b in benchmarks]
    options = {"max_images": max(t.max_images for t in tasks), **(backend_options or {})}
    if kwargs.get("batch_size") and backend == "transformers":
        options.setdefault("batch_size", kwargs["batch_size"])
    for label, model in models.items():
        results[label] = {}
        lazy = LazyBackend(backend, model, options)
        for task in tasks:
            data = data_paths.get(task.name, data_root)
            try:
                results[label][task.name] = evaluate(model, task.name, data, Path(out_dir) / label, backend=backend,
                                                     backend_obj=lazy, progress=progress,
                                                     data_root=task.name not in data_paths, **kwargs)
            except BenchmarkDataError as e:
                results[label][task.name] = {"benchmark": task.name, "status": f"missing data: {e}", "score": None}
                if progress:
                    print(f"[{task.name}] skipped: {e}", file=sys.stderr, flush=True)
        lazy.close()
    return results
