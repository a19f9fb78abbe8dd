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

Coordinates and IoU come from :mod:`dig_kit.rewards.geometry` (one vocabulary and one IoU for
the reward and the benchmarks): :func:`scale_box` reads a box in the model's ``coord_format``,
stated in the metrics: ``rel1000`` (Qwen3-VL and Qwen2-VL: 0-1000 relative to the image; the
grounding tasks' default), ``rel1`` (0-1 relative), ``abs`` (pixels: Qwen2.5-VL). It neither
reorders nor clips: an inverted box is wrong (:func:`box_iou` 0), as in VLMEvalKit.
``box_scale="guess"`` instead guesses per box, as VLMEvalKit's grounding scorers do: all four
numbers <= 1 read as ``rel1``, else all <= 1000 read as ``rel1000``, else pixels. **Known
failure**: a pixel box on an image no larger than 1000 px (every COCO image is at most 640 px) is
read as 0-1000 and shrinks, so a pixel model scores near 0 under the guess; name the convention
instead.
"""

from __future__ import annotations

import re

from dig_kit.rewards.geometry import COORD_FORMATS, box_iou, scale_box

__all__ = ["BOX_SCALES", "COORD_FORMATS", "box_iou", "extract_box", "guess_scale", "scale_box"]

_NUM = r"[-+]?\d+(?:\.\d+)?"
_BRACKET4_RE = re.compile(
    r"\[\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*\]"
)
_NUM_RE = re.compile(_NUM)
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
