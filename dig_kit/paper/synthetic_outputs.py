"""Synthetic ground truth and model outputs for reward tests, sanity figures and benchmarks.

Everything takes an explicit ``numpy.random.Generator``, so the same seed gives the same
boxes and texts. No model is involved: these are the outputs a policy *could* write, in the
styles real models use (the prompt's JSON list, the case study's commented fenced block,
Qwen's ``bbox_2d`` objects, the bare sequence Qwen3-VL writes without thinking).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

STYLES = ("list", "fenced_comments", "qwen_objects", "bare_sequence")

THINKING = (
    "Got it, let's compare the two images. The before image has several objects: a cube in the "
    "center, a sphere on the left, a small cylinder near the back. In the after image the cube "
    "has a different colour and the small cylinder is missing. Wait, need to check each object "
    "again: the sphere looks the same, the large cylinder on the right is unchanged, the metal "
    "cube is now matte. So the changed regions are the cube, the cylinder and the metal cube. "
)


def random_gt_boxes(
    rng: np.random.Generator,
    m: int,
    image_size: tuple[int, int] = (480, 320),
    min_size: float = 24,
    max_size: float = 96,
) -> list[list[float]]:
    """``m`` random ground-truth boxes inside the image, integer pixels like the renderer's."""
    w, h = image_size
    out = []
    for _ in range(m):
        bw, bh = rng.uniform(min_size, max_size, size=2)
        x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        out.append([float(round(x)), float(round(y)), float(round(x + bw)), float(round(y + bh))])
    return out


def jitter_boxes(rng: np.random.Generator, boxes: Sequence[Sequence[float]], sigma: float) -> list[list[float]]:
    """Move each box corner by Gaussian noise of ``sigma`` times the box's width/height."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    wh = b[:, 2:] - b[:, :2]
    scale = np.concatenate([wh, wh], axis=1)  # [w, h, w, h] per box
    return (b + rng.normal(0.0, sigma, size=b.shape) * scale).tolist()


def to_coord_format(
    boxes: Sequence[Sequence[float]], image_size: tuple[int, int], coord_format: str
) -> list[list[float]]:
    """Write pixel boxes the way a model using ``coord_format`` would (rounded like models do)."""
    w, h = image_size
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if coord_format == "rel1000":
        return np.round(b / [w, h, w, h] * 1000).tolist()
    if coord_format == "rel1":
        return np.round(b / [w, h, w, h], 3).tolist()
    return np.round(b).tolist()


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def render_completion(
    boxes: Sequence[Sequence[float]], style: str = "list", thinking: str | None = THINKING, answer_tags: bool = True
) -> str:
    """A model output holding ``boxes`` (already in the model's coordinate convention)."""
    items = ["[" + ", ".join(_num(v) for v in b) + "]" for b in boxes]
    if style == "list":
        body = "[" + ", ".join(items) + "]"
    elif style == "fenced_comments":
        lines = [f"{it}{',' if i < len(items) - 1 else ''} // change {i + 1}" for i, it in enumerate(items)]
        body = "```json\n[\n" + "\n".join(lines) + "\n]\n```"
    elif style == "qwen_objects":
        objs = [
            {"bbox_2d": [float(v) if not float(v).is_integer() else int(v) for v in b], "label": "changed object"}
            for b in boxes
        ]
        body = "```json\n" + json.dumps(objs) + "\n```"
    elif style == "bare_sequence":
        body = ", ".join(items) if items else "[]"
    else:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if answer_tags:
        body = f"<answer>\n{body}\n</answer>"
    return (thinking + "</think>\n\n" + body) if thinking is not None else body


def random_completions(
    rng: np.random.Generator,
    gt_boxes: Sequence[Sequence[float]],
    count: int,
    max_pred: int = 6,
    image_size: tuple[int, int] = (480, 320),
) -> list[str]:
    """``count`` realistic outputs for one ground truth (a GRPO group): 0..``max_pred`` boxes,
    most of them noisy copies of ground-truth boxes, some random, in mixed styles."""
    out = []
    for _ in range(count):
        n = int(rng.integers(0, max_pred + 1))
        pred = []
        for _ in range(n):
            if rng.random() < 0.8 and len(gt_boxes):
                pred += jitter_boxes(rng, [gt_boxes[int(rng.integers(len(gt_boxes)))]], float(rng.uniform(0.0, 0.3)))
            else:
                pred += random_gt_boxes(rng, 1, image_size)
        style = STYLES[int(rng.choice(4, p=[0.5, 0.25, 0.15, 0.1]))]
        out.append(render_completion(np.round(pred).tolist(), style))
    return out
