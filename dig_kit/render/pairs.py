"""Render one DiG pair: before/after images, exact per-object annotations, resampling.

Works with any renderer exposing ``render(scene, png_path) -> index pass`` and
``project_boxes(scene, clip=...) -> {id: box}`` (:class:`dig_kit.render.blender.BlenderRenderer`);
this module itself never imports bpy.

A pair is resampled (next attempt: still a pure function of the config and pair seed) unless

- every object of both scenes lies inside the frame (its projected geometry, checked before
  anything is rendered);
- every object shows at least :func:`~dig_kit.config.visible_threshold` pixels in every image
  it is in (CLEVR's rule; so every changed object shows its change, and a growing object
  never hides a neighbour);
- every added object goes into an empty spot: at most ``render.max_add_occupancy`` of its
  visible pixels in the after image show other objects in the before image.

The visibility and empty-spot rules are first checked on index passes ray-cast in numpy
(:mod:`dig_kit.scenes.raycast`, ~10 ms per image, within a few pixels of Cycles' pass), so an attempt that
would fail costs no Cycles render; the rendered passes then decide (and annotate).

Annotations per image (``objects_before``, ``objects_after``): each object's attributes,
``bbox_full`` (projection of its geometry), ``bbox_visible`` (tight box of its pixels in the
object-index pass), ``visible_pixels`` and ``mask`` (COCO RLE, :mod:`.masks`). Per difference:
``bbox_full_before``/``_after``, ``bbox_visible_before``/``_after`` (None where the object is
absent) and ``bbox``, the box the prompt and reward use (``data.box_source``): on the before
image; for an added object, where it appears (the same camera renders both images), i.e. the
"corresponding empty area on the before image" of the prompt's rule 2.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from dig_kit.config import DataConfig, SubsetConfig, visible_threshold
from dig_kit.render.masks import encode_rle, mask_box
from dig_kit.scenes import raycast
from dig_kit.scenes.changes import Difference, sample_pair


class RenderError(RuntimeError):
    """A pair could not be rendered with every difference visible."""


def pair_id(subset: str, seed: int) -> str:
    return f"{subset}-{seed:08d}"


def seen_pixels(d: Difference) -> int:
    """Pixels of the difference's object in the image(s) where the change is seen."""
    if d.type == "add":
        return d.visible_pixels_after
    if d.type == "remove":
        return d.visible_pixels_before
    return min(d.visible_pixels_before, d.visible_pixels_after)


def in_frame(box, width: int, height: int) -> bool:
    x1, y1, x2, y2 = box
    return x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height


def occupancy(before: np.ndarray, after: np.ndarray, object_id: int) -> float:
    """Share of the object's pixels in the ``after`` index pass that show another object in ``before``."""
    footprint = after == object_id + 1
    return round(float(np.count_nonzero(before[footprint])) / max(1, int(footprint.sum())), 4)


def hidden(scene, index: np.ndarray, need: int) -> bool:
    """True when some object of ``scene`` shows fewer than ``need`` pixels in ``index``."""
    counts = np.bincount(index.ravel(), minlength=max(scene.ids(), default=0) + 2)
    return any(counts[o.id + 1] < need for o in scene.objects)


def violation(pair, idx: dict[str, np.ndarray], need: int, max_add_occupancy: float) -> str | None:
    """Why ``pair`` breaks the visibility or empty-spot rule on these index passes, else None."""
    if hidden(pair.before, idx["before"], need) or hidden(pair.after, idx["after"], need):
        return f"an object under {need} visible pixels"
    if any(
        d.type == "add" and occupancy(idx["before"], idx["after"], d.object_id) > max_add_occupancy
        for d in pair.differences
    ):
        return f"an added object over other objects (> {max_add_occupancy:.0%} of its pixels)"
    return None


def annotate(scene, index: np.ndarray, full: dict[int, list[float]]) -> list[dict]:
    """Per-object annotations of one image from its object-index pass (ids are ``pass - 1``)."""
    out = []
    for o in scene.objects:
        mask = index == o.id + 1
        out.append(
            {
                "id": o.id,
                **o.attributes(),
                "bbox_full": [round(v, 2) for v in full[o.id]],
                "bbox_visible": mask_box(mask),
                "visible_pixels": int(mask.sum()),
                "mask": encode_rle(mask),
            }
        )
    return out


def render_pair(renderer, cfg: DataConfig, subset: str, sub: SubsetConfig, seed: int, out_dir: Path) -> dict:
    """Render the pair of ``seed`` into ``out_dir``; return its dataset row (with timing).

    Images are written under temporary hidden names and renamed into place only when the
    pair passes every check, so a crash never leaves a half-written pair visible.
    """
    r = cfg.render
    need = visible_threshold(r)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    pid = pair_id(subset, seed)
    names = {k: f"images/{pid}_{k}.png" for k in ("before", "after")}
    tmp = {k: out_dir / "images" / f".{pid}_{k}.tmp.png" for k in names}
    t0 = time.perf_counter()
    render_s, renders, skipped = 0.0, 0, 0
    why = "no attempt"
    for attempt in range(r.max_attempts):
        pair = sample_pair(cfg, seed, sub.min_differences, sub.max_differences, attempt)
        full = {k: renderer.project_boxes(getattr(pair, k), clip=False) for k in ("before", "after")}
        if not all(in_frame(b, r.width, r.height) for k in full for b in full[k].values()):
            why = "an object outside the frame"
            continue
        why = violation(
            pair, {k: raycast.index_pass(getattr(pair, k), r.width, r.height) for k in full}, need, r.max_add_occupancy
        )
        if why:
            skipped += 1
            continue  # fails on the ray-cast passes: not worth a render
        idx = {"before": renderer.render(pair.before, tmp["before"])}
        render_s, renders = render_s + renderer.last_render_seconds, renders + 1
        if hidden(pair.before, idx["before"], need):
            why = f"an object under {need} visible pixels"
            continue  # no need to render the after image
        idx["after"] = renderer.render(pair.after, tmp["after"])
        render_s, renders = render_s + renderer.last_render_seconds, renders + 1
        why = violation(pair, idx, need, r.max_add_occupancy)
        if why:
            continue
        objects = {k: annotate(getattr(pair, k), idx[k], full[k]) for k in idx}
        by_id = {k: {o["id"]: o for o in objects[k]} for k in objects}
        for d in pair.differences:
            b, a = by_id["before"].get(d.object_id), by_id["after"].get(d.object_id)
            d.visible_pixels_before = b["visible_pixels"] if b else 0
            d.visible_pixels_after = a["visible_pixels"] if a else 0
            d.bbox_full_before, d.bbox_visible_before = (b["bbox_full"], b["bbox_visible"]) if b else (None, None)
            d.bbox_full_after, d.bbox_visible_after = (a["bbox_full"], a["bbox_visible"]) if a else (None, None)
            d.occupied_before = occupancy(idx["before"], idx["after"], d.object_id)  # 0 for a removed object
            if d.type == "add":
                d.bbox = d.bbox_visible_after if cfg.box_source == "visible" else d.bbox_full_after
            else:
                d.bbox = d.bbox_visible_before if cfg.box_source == "visible" else d.bbox_full_before
        for k in names:
            os.replace(tmp[k], out_dir / names[k])
        diffs = [d.to_dict() for d in pair.differences]
        return {
            "id": pid,
            "seed": seed,
            "subset": subset,
            "attempt": attempt,
            "before_file_name": names["before"],
            "after_file_name": names["after"],
            "width": r.width,
            "height": r.height,
            "pair_type": pair.pair_type,
            "num_differences": len(diffs),
            "boxes": [d["bbox"] for d in diffs],
            "change_types": [d["type"] for d in diffs],
            "differences": diffs,
            "objects_before": objects["before"],
            "objects_after": objects["after"],
            "before_scene": pair.before.to_json(),
            "after_scene": pair.after.to_json(),
            "_timing": {
                "wall_s": time.perf_counter() - t0,
                "render_s": render_s,
                "renders": renders,
                "skipped_unrendered": skipped,
            },
        }
    for p in tmp.values():
        p.unlink(missing_ok=True)
    raise RenderError(
        f"{pid}: no pair passed the checks in {r.max_attempts} attempts (last: {why}); lower "
        "data.render.min_visible_pixels or data.scene.max_objects, or raise data.render.max_attempts"
    )
