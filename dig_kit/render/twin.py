"""Render one TWIN item (reference + candidates) with visibility-checked hard negatives.

A hard negative's change must be visible: its object shows at least
``visible_threshold(render)`` pixels in the image(s) where the change is seen (the reference
for a removed or changed object, the candidate for an added or changed one); otherwise the
item is resampled with the next attempt (checked first on ray-cast index passes, so a failing
attempt costs no render). Like :mod:`dig_kit.render.pairs`, images are renamed into place only
when the item is complete. This module never imports bpy.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from dig_kit.config import KitConfig, TwinSubsetConfig, visible_threshold
from dig_kit.prompts import TWIN_MULTI_TEMPLATE, TWIN_PAIR_TEMPLATE
from dig_kit.render.pairs import RenderError, pair_id, seen_pixels
from dig_kit.scenes import raycast
from dig_kit.scenes.changes import ChangeError, Difference
from dig_kit.scenes.spec import SceneError
from dig_kit.scenes.twin import sample_twin_item


def _changes_visible(item, indexes: list[np.ndarray], need: int) -> bool:
    """Every hard negative's change shows ``need`` pixels where it is seen (sets its pixel counts)."""
    ok = True
    for k, cand in enumerate(item.candidates, 1):
        if cand.change is not None:
            d = cand.change
            d.visible_pixels_before = int(np.count_nonzero(indexes[0] == d.object_id + 1))
            d.visible_pixels_after = int(np.count_nonzero(indexes[k] == d.object_id + 1))
            ok &= seen_pixels(d) >= need
    return ok


def render_twin_item(
    renderer, cfg: KitConfig, subset: str, sub: TwinSubsetConfig, seed: int, index: int, out_dir: Path
) -> dict:
    r = cfg.data.render
    need = visible_threshold(r)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    iid = pair_id(subset, seed)
    t0, render_s, renders = time.perf_counter(), 0.0, 0
    for attempt in range(r.max_attempts):
        try:
            item = sample_twin_item(cfg.data, cfg.twin, seed, index, sub.question, attempt)
        except (ChangeError, SceneError):
            continue
        scenes = [item.reference] + [c.scene for c in item.candidates]
        names = [f"images/{iid}_{k}.png" for k in range(len(scenes))]
        tmp = [out_dir / "images" / f".{iid}_{k}.tmp.png" for k in range(len(scenes))]
        if not _changes_visible(item, [raycast.index_pass(sc, r.width, r.height) for sc in scenes], need):
            continue  # fails on the ray-cast passes: not worth a render
        indexes = []
        for scene, path in zip(scenes, tmp):
            indexes.append(renderer.render(scene, path))
            render_s += renderer.last_render_seconds
            renders += 1
        if not _changes_visible(item, indexes, need):
            continue
        for src, name in zip(tmp, names):
            os.replace(src, out_dir / name)
        changes = [(c.change or Difference("", -1)).to_dict() for c in item.candidates]
        return {
            "id": iid,
            "seed": seed,
            "index": index,
            "subset": subset,
            "attempt": attempt,
            "question_type": sub.question,
            "question": TWIN_PAIR_TEMPLATE if sub.question == "pair" else TWIN_MULTI_TEMPLATE,
            "answer": item.answer,
            "file_names": names,
            "candidate_kinds": [c.kind for c in item.candidates],
            "changes": changes,
            "scenes": [s.to_json() for s in scenes],
            "width": r.width,
            "height": r.height,
            "_timing": {"wall_s": time.perf_counter() - t0, "render_s": render_s, "renders": renders},
        }
    raise RenderError(f"{iid}: no TWIN item with a visible hard-negative change in {r.max_attempts} attempts")
