"""Box reading for the grounding benchmarks (RefCOCO family), as tolerant as VLMEvalKit's.
Pure; never raises on model output.

Extraction (:func:`extract_box`), on the final answer (after ``</think>``):

1. ``bracket4``: the first ``[n, n, n, n]`` anywhere (JSON ``{"bbox_2d": [...]}`` objects,
   a JSON list followed by prose with more brackets, Markdown fences: all reduce to it);
2. ``first_four_numbers``: else the first four numbers of the answer (``(x1, y1), (x2,
   y2)``, ``[a, b] and [c, d]``, ``x1=.. y1=..``);
3. ``unparsed``: fewer than four numbers (no box: wrong, counted in ``no_box``).

The training reward's strict grammar (:func:`dig_kit.rewards.parse_boxes`) is not used here:
it rejects several of these forms that VLMEvalKit scores.

Coordinates (:func:`to_pixels`): ``coord_format`` is the model's convention, stated in the
metrics: ``rel1000`` (Qwen3-VL and Qwen2-VL: 0-1000 relative to the image; the default),
``rel1`` (0-1 relative), ``abs`` (pixels: Qwen2.5-VL). ``box_scale="guess"`` instead guesses
per box, as VLMEvalKit's grounding scorers do: all four numbers <= 1 read as ``rel1``, else
all <= 1000 read as ``rel1000``, else pixels. **Known failure**: a pixel box on an image no
larger than 1000 px (every COCO image is at most 640 px) is read as 0-1000 and shrinks, so a
pixel model scores near 0 under the guess; name the convention instead.
"""

from __future__ import annotations

import re

_NUM = r"[-+]?\d+(?:\.\d+)?"
_BRACKET4_RE = re.compile(r"\[\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*\]")
_NUM_RE = re.compile(_NUM)
COORD_FORMATS = ("rel1000", "rel1", "abs")
BOX_SCALES = ("model", "guess")


def extract_box(answer) -> tuple[list[float] | None, str]:
    """``(box as written or None, rule)``; see the module docstring."""
    if not isinstance(answer, str):
        return None, "unparsed"
    try:
        m = _BRACKET4_RE.search(answer)
        if m:
            return [float(v) for v in m.groups()], "bracket4"
        nums = _NUM_RE.findall(answer)
        if len(nums) >= 4:
            return [float(v) for v in nums[:4]], "first_four_numbers"
    except (ValueError, OverflowError):
        pass
    return None, "unparsed"


def guess_scale(box) -> str:
    """VLMEvalKit-style per-box scale guess (see the known failure in the module docstring)."""
    top = max(abs(v) for v in box)
    if top <= 1.0:
        return "rel1"
    if top <= 1000.0:
        return "rel1000"
    return "abs"


def to_pixels(box, width: float, height: float, coord_format: str = "rel1000") -> list[float]:
    """A box written in ``coord_format`` as pixels ``[x1, y1, x2, y2]``."""
    if coord_format not in COORD_FORMATS:
        raise ValueError(f"unknown coord_format {coord_format!r}; known: {', '.join(COORD_FORMATS)}")
    x1, y1, x2, y2 = (float(v) for v in box)
    if coord_format == "abs":
        return [x1, y1, x2, y2]
    s = 1000.0 if coord_format == "rel1000" else 1.0
    return [x1 / s * width, y1 / s * height, x2 / s * width, y2 / s * height]


def box_iou(a, b) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes (continuous coordinates); an inverted or empty
    box has IoU 0."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    if ax2 <= ax1 or ay2 <= ay1 or bx2 <= bx1 or by2 <= by1:
        return 0.0
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0
