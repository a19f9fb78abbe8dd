"""Write rendered datasets (layout: :mod:`dig_kit.data.reader`) with the Blender worker pool
(:mod:`dig_kit.render.pool`): deterministic shards, crash-safe resume, one writer.

Resume: a row is appended only after both images are renamed into place, so a killed run
restarted with the same command skips every pair that has a row, re-renders the rest
(pairs are deterministic: a re-render has the same scenes and annotations; Cycles' pixels
may differ by +-1 between runs), and drops a torn last line.
Shards: pair k of a subset belongs to shard ``k % N``; shards write to their own
directories, so many machines can render disjoint parts into copies of one directory tree
that merge by copying. Pairs already present in any shard directory are never rendered again.
Several shards may also render into one shared directory at once (a Slurm array job,
``configs/slurm/render.sbatch``): the files they share, ``config.yaml`` and ``README.md``,
are written whole under a temporary name and renamed, so none sees a torn one.
Loading: each shard's ``metadata.parquet`` (:mod:`dig_kit.data.schema`: the journal's rows
with explicit column types, what ``datasets.load_dataset(DIR)`` reads) is rewritten after a
shard's first new pair, then at most every :data:`PARQUET_EVERY_S` seconds, and at the end of
a run for every shard of the dataset that lags its journal (also shards copied in from other
machines, or rendered before the parquet existed).
Workers: a number or ``"auto"`` (one per visible GPU, each pinned to its GPU; see
:mod:`dig_kit.render.pool`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import yaml

from dig_kit.config import ConfigError, KitConfig, from_dict, to_dict
from dig_kit.data.reader import METADATA, METADATA_PARQUET, done_ids, read_rows, shard_name
from dig_kit.data.schema import sync_shard
from dig_kit.render.pairs import pair_id
from dig_kit.render.pool import RenderPool, render_gpus, worker_gpus
from dig_kit.scenes.changes import sample_pair


def _subsets(cfg: KitConfig, kind: str) -> dict[str, tuple[int, int]]:
    """{subset: (size, seed_offset)} of the DiG or the TWIN data."""
    if kind == "twin":
        return {k: (v.num_items, v.seed_offset) for k, v in cfg.twin.subsets.items()}
    return {k: (v.num_pairs, v.seed_offset) for k, v in cfg.data.subsets.items()}


def _set_size(cfg: KitConfig, kind: str, subset: str, n: int) -> None:
    if kind == "twin":
        cfg.twin.subsets[subset].num_items = n
    else:
        cfg.data.subsets[subset].num_pairs = n


# -- bookkeeping ---------------------------------------------------------------------------
def _append_row(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


DIG_SCHEMA = """\
## Annotation schema

One row per pair, in `<split>/<shard>/metadata.jsonl`; the same rows with explicit column types in
`metadata.parquet`.

Boxes are `[x1, y1, x2, y2]` in absolute pixels (top-left origin; pixel i covers [i, i + 1)).

- `before`, `after` (images), `width`, `height`, `id`, `seed`, `subset`, `attempt`
- `boxes`: one box per difference on the before image, the box the prompt and reward use
  (`{box_source}`: `full` = projection of the object's geometry, the paper's; `visible` = tight
  box of its visible pixels); an added object's box is where it appears, i.e. the empty area
  on the before image
- `num_differences`, `change_types`
- `differences`: per difference `type` (shape, color, size, material, add, remove),
  `object_id`, `before`/`after` attributes (empty strings where absent), `direction` (grow or
  shrink for a size change), `bbox`, `bbox_full_before`, `bbox_visible_before`,
  `bbox_full_after`, `bbox_visible_after` (null where the object is absent from that image),
  `visible_pixels_before`, `visible_pixels_after`, `occupied_before` (share of its pixels in
  the after image that show other objects in the before image: ~0 for an add)
- `objects_before`, `objects_after`: every object of each image: `id`, `shape`, `color`,
  `size`, `material`, `bbox_full`, `bbox_visible`, `visible_pixels`, `mask` (COCO RLE
  `{{"size": [h, w], "counts": str}}`, readable by `pycocotools.mask.decode`)
- `before_scene`, `after_scene`: the full scene specs (JSON: objects with 3D positions,
  camera, lights)

Every object of both images is inside the frame and shows at least `data.render.min_visible_pixels`
pixels (0 = CLEVR's 200 at 480x320, scaled); added objects go into empty spots."""


def _write_whole(path: Path, text: str) -> None:
    """Write ``path`` under a name of this process, then rename: concurrent shards writing
    into one directory never see (or leave) a torn file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


PARQUET_EVERY_S = 60.0
"""A shard's metadata.parquet lags its journal by at most this much rendering time."""


def write_card(out: Path, cfg: KitConfig, kind: str = "dig") -> None:
    """README.md with a ``configs`` section so ``load_dataset(out)`` finds one split per subset:
    each split's shards' ``metadata.parquet`` (explicit column types, :mod:`dig_kit.data.schema`)
    and their images; the journals (``metadata.jsonl``) are left out."""
    splits = [s for s in _subsets(cfg, kind) if any((out / s).glob(f"*/{METADATA_PARQUET}"))]
    header = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": s, "path": [f"{s}/*/{METADATA_PARQUET}", f"{s}/*/images/*.png"]} for s in splits
                ],
            }
        ]
        if splits
        else [],
        "tags": ["dig_kit", "differential-grounding" if kind == "dig" else "same-or-not", "synthetic", "blender"],
        "dig_kit_kind": kind,
    }
    if not splits:
        header.pop("configs")
    counts = {s: len(done_ids(out / s)) for s in splits}
    body = [
        "# DiG rendered pairs" if kind == "dig" else "# TWIN-style same-or-not items (synthetic)",
        "",
        f"Rendered by dig_kit (profile `{cfg.profile}`) with Blender/Cycles; the full config is in `config.yaml`.",
        DIG_SCHEMA.format(box_source=cfg.data.box_source)
        if kind == "dig"
        else "Positives re-render one scene from a jittered view; hard negatives add one subtle change; easy ones are "
        "unrelated scenes. Multi items: a reference and three candidates, answer = how many match.",
        "",
        "| split | items |",
        "|---|---|",
        *[f"| {s} | {counts[s]} |" for s in splits],
        "",
        'Load with `datasets.load_dataset("<this directory>")`.',
        "",
    ]
    _write_whole(out / "README.md", "---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n" + "\n".join(body))


def _check_writable(out: Path) -> None:
    """``out`` can be created and written, checked before anything is written."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out {out}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: cannot write in {probe} (permission denied)")


RENDERED_SECTIONS = ("data", "twin")
"""The config sections that decide what a dataset dir holds; the others (training, warm start,
reproduce) may differ between runs that share one dataset."""


def _check_existing_config(out: Path, cfg: KitConfig) -> None:
    """A dataset dir holds pairs of one config only (subset sizes may grow)."""
    path = out / "config.yaml"
    if not path.exists():
        return
    old = yaml.safe_load(path.read_text()) or {}
    new = to_dict(cfg)

    def strip(d):
        d = json.loads(json.dumps({k: d.get(k) for k in RENDERED_SECTIONS}))
        d.get("data", {}).get("render", {}).pop("threads", None)
        d.get("data", {}).get("render", {}).pop("device", None)
        for sub in d.get("data", {}).get("subsets", {}).values():
            sub.pop("num_pairs", None)
        for sub in d.get("twin", {}).get("subsets", {}).values():
            sub.pop("num_items", None)
        return d

    if strip(old) != strip(new):
        raise ConfigError(
            f"{out} was rendered with a different config ({path}: {_named(_differences(strip(old), strip(new)))} "
            "differ); use another --out or the same preset/overrides"
        )


def _named(keys: list[str], most: int = 5) -> str:
    return ", ".join(keys[:most]) + (f" and {len(keys) - most} more" if len(keys) > most else "")


def _differences(old, new, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new)) for d in _differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [prefix.rstrip(".")]


# -- driver --------------------------------------------------------------------------------
def render_dataset(
    cfg: KitConfig,
    out: str | Path,
    subsets: list[str] | None = None,
    num_pairs: int | None = None,
    workers: int | str = 1,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    kind: str = "dig",
) -> dict:
    """Render (or complete) the dataset at ``out``; return a summary with timing.

    ``subsets`` defaults to every subset of the config; ``num_pairs`` overrides each subset's
    size; ``workers`` is a number of Blender worker processes or ``"auto"`` (one per visible GPU
    when the render device is gpu or auto, else 1); with GPUs each worker is pinned to one
    (``CUDA_VISIBLE_DEVICES``), N workers round-robin. Everything is validated before anything
    is written. The summary's ``workers`` lists each worker's ``{"gpu", "device"}`` (empty when
    nothing was left to render).
    """
    out = Path(out)
    cfg = from_dict(to_dict(cfg))  # a private copy: the caller's config is never modified
    if kind not in ("dig", "twin"):
        raise ConfigError(f"kind {kind!r}: must be dig or twin")
    defined = _subsets(cfg, kind)
    names = list(subsets or defined)
    unknown = [s for s in names if s not in defined]
    if unknown:
        raise ConfigError(f"unknown subset {unknown[0]!r}: the config defines {list(defined)}")
    if num_pairs is not None and num_pairs < 0:
        raise ConfigError(f"num_pairs={num_pairs}: must be >= 0")
    gpus = render_gpus(cfg.data.render.device)
    n_workers = len(worker_gpus(workers, gpus))  # validates workers
    index, count = shard
    if not (count >= 1 and 0 <= index < count):
        raise ConfigError(f"shard {index}/{count}: need 0 <= I < N")
    if num_pairs is not None:
        for s in names:
            _set_size(cfg, kind, s, num_pairs)
        cfg = from_dict(to_dict(cfg))  # re-validate (seed ranges must stay disjoint)
    _check_existing_config(out, cfg)
    _check_writable(out)

    tasks, mine = [], 0
    for s in names:
        size, offset = _subsets(cfg, kind)[s]
        if kind == "dig" and size:  # placement that cannot work fails here, before anything is written
            sub = cfg.data.subsets[s]
            sample_pair(cfg.data, offset, sub.min_differences, sub.max_differences)
        have = done_ids(out / s)
        shard_dir = out / s / shard_name(index, count)
        for k in range(size):
            seed = offset + k
            if k % count == index:
                mine += 1
                if pair_id(s, seed) not in have:
                    tasks.append((kind, s, seed, k, str(shard_dir)))
    summary = {
        "rendered": 0,
        "skipped": mine - len(tasks),
        "wall_s": 0.0,
        "render_s": 0.0,
        "renders": 0,
        "pair_wall_s": 0.0,
        "skipped_unrendered": 0,
        "workers": [],
    }
    t0 = time.perf_counter()
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    created = not out.exists()
    try:
        _render_tasks(cfg, out, kind, names, tasks, (index, count), (workers, gpus), threads, progress, summary)
    except BaseException:
        if created and not any(read_rows(m) for m in out.glob(f"*/*/{METADATA}")):
            shutil.rmtree(out, ignore_errors=True)  # a new dataset that got no pair: leave nothing behind
        else:
            with contextlib.suppress(Exception):  # what was rendered stays loadable; the first error is raised
                for s in names:
                    sync_shard(out / s / shard_name(index, count), kind)
                write_card(out, cfg, kind)
        raise
    for s in _subsets(cfg, kind):  # every shard, also those of other runs: what `datasets` reads
        for meta in sorted((out / s).glob(f"*/{METADATA}")):
            sync_shard(meta.parent, kind)
    summary["wall_s"] = time.perf_counter() - t0
    write_card(out, cfg, kind)
    return summary


def _render_tasks(cfg, out, kind, names, tasks, shard, workers, threads, progress, summary) -> None:
    # The workers start (bpy loaded) before anything is written: a missing render environment
    # leaves no half-made dataset directory behind.
    index, count = shard
    workers, gpus = workers
    with RenderPool(to_dict(cfg), workers, threads, gpus=gpus) if tasks else contextlib.nullcontext() as pool:
        if pool is not None:
            summary["workers"] = [{"gpu": w["gpu"], "device": w["device"]} for w in pool.workers_info]
        out.mkdir(parents=True, exist_ok=True)
        _write_whole(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
        mine = {s: out / s / shard_name(index, count) for s in names}
        for s in names:
            read_rows(mine[s] / METADATA, repair=True)
            if (mine[s] / METADATA).exists():
                sync_shard(mine[s], kind)
        write_card(out, cfg, kind)  # a run stopped early still leaves a card that loads what it has
        synced = {s: time.monotonic() for s in names if (mine[s] / METADATA_PARQUET).exists()}
        if tasks:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(tasks), desc=f"render {','.join(names)}", unit="pair", disable=not progress)
            for row in pool.imap_unordered(tasks):
                timing = row.pop("_timing")
                _append_row(mine[row["subset"]] / METADATA, row)
                if time.monotonic() - synced.get(row["subset"], float("-inf")) >= PARQUET_EVERY_S:
                    sync_shard(mine[row["subset"]], kind)
                    if row["subset"] not in synced:  # a split's first rows: the card names it from now on
                        write_card(out, cfg, kind)
                    synced[row["subset"]] = time.monotonic()
                summary["rendered"] += 1
                summary["render_s"] += timing["render_s"]
                summary["pair_wall_s"] += timing["wall_s"]
                summary["renders"] += timing["renders"]
                summary["skipped_unrendered"] += timing.get("skipped_unrendered", 0)
                bar.update(1)
            bar.close()
