"""Render one DiG pair: before/after images, exact boxes, visibility check, resampling.

Works with any renderer exposing ``render(scene, png_path) -> index pass`` and
``project_boxes(scene) -> {id: box}`` (:class:`dig_kit.render.blender.BlenderRenderer`);
this module itself never imports bpy.

Visibility rule: every difference must show at least ``render.min_visible_pixels`` pixels of
its object in the image(s) where it is seen: the after image for ``add``, the before image
for ``remove``, both for attribute changes. Otherwise the pair is resampled with the next
attempt number (still a pure function of the config and pair seed).

Boxes are on the before image: changed and removed objects get their own box there; an added
object gets the box of where it appears (the same camera renders both images), i.e. the
"corresponding empty area on the before image" of the prompt's rule 2.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from dig_kit.config import DataConfig, SubsetConfig
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


def render_pair(renderer, cfg: DataConfig, subset: str, sub: SubsetConfig, seed: int, out_dir: Path) -> dict:
    """Render the pair of ``seed`` into ``out_dir``; return its dataset row (with timing).

    Images are written under temporary hidden names and renamed into place only when the
    pair passes the visibility check, so a crash never leaves a half-written pair visible.
    """
    r = cfg.render
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    pid = pair_id(subset, seed)
    names = {k: f"images/{pid}_{k}.png" for k in ("before", "after")}
    tmp = {k: out_dir / "images" / f".{pid}_{k}.tmp.png" for k in names}
    t0 = time.perf_counter()
    render_s = 0.0
    renders = 0
    for attempt in range(r.max_attempts):
        pair = sample_pair(cfg, seed, sub.min_differences, sub.max_differences, attempt)
        idx_before = renderer.render(pair.before, tmp["before"])
        render_s += renderer.last_render_seconds
        renders += 1
        for d in pair.differences:
            d.visible_pixels_before = int(np.count_nonzero(idx_before == d.object_id + 1))
        if any(d.type != "add" and d.visible_pixels_before < r.min_visible_pixels for d in pair.differences):
            continue  # an invisible change in the before image: no need to render the after image
        idx_after = renderer.render(pair.after, tmp["after"])
        render_s += renderer.last_render_seconds
        renders += 1
        for d in pair.differences:
            d.visible_pixels_after = int(np.count_nonzero(idx_after == d.object_id + 1))
        if any(seen_pixels(d) < r.min_visible_pixels for d in pair.differences):
            continue
        added = [d.object_id for d in pair.differences if d.type == "add"]
        boxes = renderer.project_boxes(pair.before, [d.object_id for d in pair.differences if d.type != "add"])
        boxes.update(renderer.project_boxes(pair.after, added) if added else {})
        for d in pair.differences:
            d.bbox = boxes[d.object_id]
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
            "num_differences": len(diffs),
            "boxes": [d["bbox"] for d in diffs],
            "change_types": [d["type"] for d in diffs],
            "differences": diffs,
            "before_scene": pair.before.to_json(),
            "after_scene": pair.after.to_json(),
            "_timing": {"wall_s": time.perf_counter() - t0, "render_s": render_s, "renders": renders},
        }
    for p in tmp.values():
        p.unlink(missing_ok=True)
    raise RenderError(
        f"{pid}: no pair with every difference visible (>= {r.min_visible_pixels} px) in {r.max_attempts} attempts; "
        "lower data.render.min_visible_pixels or raise data.render.max_attempts"
    )
