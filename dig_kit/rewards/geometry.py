"""Box geometry shared by the rewards and the evaluation: coordinate formats, pixels, IoU.

A box is ``[x1, y1, x2, y2]`` in continuous pixel coordinates of an image (no "+1 pixel").

Coordinate formats (:data:`COORD_FORMATS`): how a model writes its numbers. ``abs``: pixels
of the image (the DiG prompt's convention; Qwen2.5-VL); ``rel1000``: 0-1000 relative to the
image (Qwen3-VL and Qwen2-VL); ``rel1``: 0-1 fractions. Every conversion below takes the
image's ``width`` and ``height``; an unknown format raises ``ValueError``.

Two contracts, each stated where it is used:

- :func:`scale_box`: one box as written, scaled to pixels and nothing else (not reordered,
  not clipped). The grounding benchmarks read boxes this way: as in VLMEvalKit, an inverted
  box is a wrong answer (IoU 0), not a box to repair.
- :func:`to_pixels` (numpy, any number of boxes and images) and :func:`pixel_boxes` (one
  response, plain Python): the reward's. Boxes are scaled, reordered so ``x1 <= x2`` and
  ``y1 <= y2``, clipped to the image ``[0, W] x [0, H]`` (``inf``: no size known, clipped at 0
  only), and kept only when finite and of positive area. :func:`pixel_boxes` exists because
  numpy's per-call cost (~40 us) outweighs a whole reward of one response (~8 us); both give
  the same boxes, bit for bit (tested).

IoU: :func:`box_iou` for one pair (plain Python, for the same reason), :func:`iou_arrays` for
broadcast arrays and :func:`iou_matrix` for every prediction against every ground-truth box;
the same value, bit for bit. An empty or inverted box has IoU 0, and so has a pair whose
union is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import isfinite

import numpy as np

COORD_FORMATS = ("abs", "rel1000", "rel1")
"""The coordinate conventions a model may write, in the order reports list them."""

_DIVISOR = {"rel1000": 1000.0, "rel1": 1.0}  # relative formats: pixels = value / divisor * size


def check_coord_format(coord_format: str) -> str:
    """``coord_format`` if it is one of :data:`COORD_FORMATS`, else ``ValueError``."""
    if coord_format not in COORD_FORMATS:
        raise ValueError(f"coord_format must be one of {COORD_FORMATS}, got {coord_format!r}")
    return coord_format


def width_height(image_size: Sequence[float] | None, coord_format: str) -> tuple[float, float]:
    """``image_size`` as floats ``(width, height)``; ``(inf, inf)`` for ``None`` (allowed with
    ``abs`` only: relative coordinates need the size). Raises ``ValueError`` on a non-positive size."""
    if image_size is None:
        if coord_format != "abs":
            raise ValueError(f"coord_format={coord_format!r} needs the image size to convert to pixels")
        return float("inf"), float("inf")
    w, h = float(image_size[0]), float(image_size[1])
    if not (w > 0 and h > 0):
        raise ValueError(f"image_size must be positive (width, height), got {image_size!r}")
    return w, h


def scale_box(box: Sequence[float], width: float, height: float, coord_format: str) -> list[float]:
    """One box written in ``coord_format`` as pixels ``[x1, y1, x2, y2]``, in the order written
    (no reordering, no clipping)."""
    check_coord_format(coord_format)
    x1, y1, x2, y2 = (float(v) for v in box)
    if coord_format == "abs":
        return [x1, y1, x2, y2]
    s = _DIVISOR[coord_format]
    return [x1 / s * width, y1 / s * height, x2 / s * width, y2 / s * height]


def _factors(coord_format: str, width, height):
    """Multipliers ``(sx, sy)`` from written numbers to pixels; ``None`` for ``abs``."""
    if check_coord_format(coord_format) == "abs":
        return None
    s = _DIVISOR[coord_format]
    return width / s, height / s


def to_pixels(
    raw: np.ndarray, width: np.ndarray | float, height: np.ndarray | float, coord_format: str = "abs"
) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``(K, 4)`` boxes as the reward reads them, in pixels of images ``width x height``
    (scalars or ``(K,)`` arrays; ``inf``: no size known). Returns ``(boxes, valid)``: the
    reordered and clipped boxes and a mask of those finite and of positive area (the others
    are zeroed)."""
    raw = np.asarray(raw, dtype=np.float64).reshape(-1, 4)
    w = np.asarray(width, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    factors = _factors(coord_format, w, h)
    finite = np.isfinite(raw).all(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        xa, ya, xb, yb = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
        if factors is not None:
            sx, sy = factors
            xa, xb, ya, yb = xa * sx, xb * sx, ya * sy, yb * sy
        w = np.broadcast_to(w, xa.shape)
        h = np.broadcast_to(h, xa.shape)
        x1 = np.clip(np.minimum(xa, xb), 0.0, w)
        x2 = np.clip(np.maximum(xa, xb), 0.0, w)
        y1 = np.clip(np.minimum(ya, yb), 0.0, h)
        y2 = np.clip(np.maximum(ya, yb), 0.0, h)
        boxes = np.stack([x1, y1, x2, y2], axis=1)
        valid = finite & (x2 > x1) & (y2 > y1) & np.isfinite(boxes).all(axis=1)
    boxes[~valid] = 0.0
    return boxes, valid


def pixel_boxes(
    raw: Sequence[Sequence[float]], width: float, height: float, coord_format: str = "abs"
) -> list[tuple[float, float, float, float]]:
    """The valid boxes of :func:`to_pixels` for one response (one image), in plain Python."""
    scale = coord_format != "abs"
    sx, sy = _factors(coord_format, width, height) if scale else (1.0, 1.0)
    out = []
    for a, b, c, d in raw:
        if not (isfinite(a) and isfinite(b) and isfinite(c) and isfinite(d)):
            continue
        if scale:
            a, b, c, d = a * sx, b * sy, c * sx, d * sy
        x1, x2 = (a, c) if a <= c else (c, a)
        y1, y2 = (b, d) if b <= d else (d, b)
        x1 = 0.0 if x1 < 0 else (width if x1 > width else x1)
        x2 = 0.0 if x2 < 0 else (width if x2 > width else x2)
        y1 = 0.0 if y1 < 0 else (height if y1 > height else y1)
        y2 = 0.0 if y2 < 0 else (height if y2 > height else y2)
        if x2 > x1 and y2 > y1:
            out.append((x1, y1, x2, y2))
    return out


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two boxes (plain Python; an empty or inverted box has IoU 0)."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    iw = (ax2 if ax2 < bx2 else bx2) - (ax1 if ax1 > bx1 else bx1)
    ih = (ay2 if ay2 < by2 else by2) - (ay1 if ay1 > by1 else by1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def iou_arrays(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of broadcast box arrays ``a[..., 4]`` and ``b[..., 4]``."""
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(a[..., 2] - a[..., 0], 0.0) * np.maximum(a[..., 3] - a[..., 1], 0.0)
    area_b = np.maximum(b[..., 2] - b[..., 0], 0.0) * np.maximum(b[..., 3] - b[..., 1], 0.0)
    union = area_a + area_b - inter
    out = np.zeros(np.broadcast(inter, union).shape)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def iou_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of every predicted box (rows) with every ground-truth box (columns), ``(N, M)``."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    return iou_arrays(pred[:, None, :], gt[None, :, :])
