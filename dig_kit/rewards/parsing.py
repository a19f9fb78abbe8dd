"""Parse bounding boxes out of untrusted model text. Nothing here ever raises.

A policy under RL writes anything: truncated JSON, prose, ``NaN``, 10^400, boxes with five
numbers, megabytes of brackets. The reward must score all of it, so every public function
below returns an empty result instead of raising, and never returns a non-finite box.

Where the answer is (:func:`extract_answer`)
---------------------------------------------
1. Thinking models write ``... </think> answer``: keep only the text after the *last*
   ``</think>`` (the whole text when there is none). Spacing/case variants such as
   ``< /think >`` are tolerated (Qwen2.5-VL-32B writes them; EasyR1 normalises the same way).
2. If that text contains ``<answer>``, keep the content of the *last* ``<answer>`` up to the
   next ``</answer>`` (or to the end, when the closing tag was truncated away).
3. If the answer contains a fenced block ```` ```lang ... ``` ````, keep the *last* block
   (an unclosed final fence counts as a block running to the end).

The accepted grammar (:func:`parse_boxes`)
------------------------------------------
Comments are removed first (``// ...`` to the end of the line, not inside JSON strings).
Then the answer's *span* is taken from its first ``[`` or ``{`` to its last ``]`` or ``}``;
prose before and after the span is ignored. The span must be one of::

    answer   := value | item ("," item)* [","]      # the bare sequence Qwen3-VL writes:
                                                    #   [544, 437, 660, 579], [585, 341, 622, 393]
    value    := "[" "]"                             # empty list: no boxes (format reward 0)
              | "[" item ("," item)* [","] "]"      # JSON list of boxes/objects (prompt's format)
              | item                                # a single bare box or a single object
    item     := box | object
    box      := "[" number "," number "," number "," number [","] "]"
    object   := JSON object with a key "bbox_2d" (Qwen style) or "bbox" whose value is a box;
                other keys ("label", ...) are ignored
    number   := JSON number (NaN, Infinity and -Infinity are read, then dropped as non-finite)

Trailing commas are accepted everywhere; otherwise the span must be valid JSON (a single
malformed token such as ``1-2`` makes the whole answer invalid). Items that are valid JSON but
not a box or an object with a box (a list of 3 or 5 numbers, strings such as ``"12"``, booleans,
nested lists, ``null``) are dropped one by one; the other items still count. ``NaN``/``Infinity``
literals and numbers that overflow to infinity make their box non-finite, and it is dropped.
Anything that does not fit the grammar parses to "no valid answer" (an empty list).

Coordinates
-----------
:func:`parse_boxes` converts the boxes to pixels of the before image with the reward's contract
(:func:`dig_kit.rewards.geometry.to_pixels`: ``coord_format`` ``"abs"``, the DiG prompt's and
the default, ``"rel1000"`` or ``"rel1"``; reordered, clipped to the image, non-finite and empty
boxes dropped). Without an image size (``abs`` only) boxes are clipped at 0 but not above.

Speed: the common case (a standard JSON list of plain boxes) is recognised by one regular
expression and read by json's C scanner in one call; everything else goes through
``json.loads`` (retried with trailing commas removed, and wrapped in ``[...]`` for bare
sequences). Both paths accept exactly the same texts and give the same boxes (tested).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from .geometry import to_pixels, width_height

_THINK_END_RE = re.compile(r"<\s*/\s*think\s*>", re.IGNORECASE)
_ANSWER_OPEN_RE = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_ANSWER_CLOSE_RE = re.compile(r"<\s*/\s*answer\s*>", re.IGNORECASE)

# A JSON string; an unclosed one runs to the end of its line, so that every quote matches
# something and the scan stays linear even on adversarial text.
_STRING = r'("(?:[^"\\\n]|\\[^\n]?)*+(?:"|$))'
# Comments outside JSON strings (group 1 keeps strings intact).
_COMMENT_RE = re.compile(_STRING + r"|//[^\n]*+", re.MULTILINE)
# Trailing commas before a closing bracket, outside strings.
_TRAILING_COMMA_RE = re.compile(_STRING + r"|,(?=\s*+[\]}])", re.MULTILINE)

# Fast path: a standard JSON list of plain boxes, ``[[n, n, n, n], ...]``. The regular
# expression checks the shape with a loose number class (at most 32 characters, so no integer
# can overflow a float); json's C scanner then reads it and enforces JSON's number grammar.
_NUMISH = r"[-+.\deE]{1,32}+"
_BOX = rf"\[\s*+{_NUMISH}\s*+,\s*+{_NUMISH}\s*+,\s*+{_NUMISH}\s*+,\s*+{_NUMISH}\s*+\]"
_LIST_RE = re.compile(rf"\[\s*+{_BOX}(?:\s*+,\s*+{_BOX})*+\s*+\]")
_EMPTY_RE = re.compile(r"\[\s*+\]")
_SCAN_ONCE = json.JSONDecoder().scan_once
_LINE_COMMENT_RE = re.compile(r"//[^\n]*+")

_BOX_KEYS = ("bbox_2d", "bbox")


def _text_of(completion: Any) -> str:
    """The text of a completion: a string, or trl's conversational form (a list of messages
    whose ``content`` is a string or a list of ``{"type": "text", "text": ...}`` parts)."""
    if isinstance(completion, str):
        return completion
    try:
        if isinstance(completion, dict):
            completion = [completion]
        if isinstance(completion, (list, tuple)):
            texts = []
            for message in completion:
                content = message.get("content", "") if isinstance(message, dict) else message
                if isinstance(content, str):
                    texts.append(content)
                elif isinstance(content, (list, tuple)):
                    texts.extend(
                        p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
                    )
            return "\n".join(texts)
    except Exception:  # noqa: BLE001 - untrusted structure, never raise
        pass
    return ""


def extract_answer(text: Any) -> str:
    """The answer part of a model output (see the module docstring, steps 1-2). Never raises."""
    return answer_segment(text)[0]


def _last(matches):
    """The last of an iterator of matches, or None."""
    tail = deque(matches, maxlen=1)
    return tail[0] if tail else None


def answer_segment(text: Any) -> tuple[str, bool]:
    """``(answer, tagged)``: :func:`extract_answer`'s result and whether it came from
    ``<answer>`` tags. Never raises."""
    text = _text_of(text)
    i = text.rfind("</think>")
    if i >= 0:
        text = text[i + 8 :]
    elif "think" in text or "THINK" in text or "Think" in text:
        last = _last(_THINK_END_RE.finditer(text))
        if last is not None:
            text = text[last.end() :]
    j = text.rfind("<answer>")
    if j >= 0:
        start = j + 8
        k = text.find("</answer>", start)
        return (text[start:k] if k >= 0 else text[start:]), True
    if "nswer" in text or "NSWER" in text:
        last = _last(_ANSWER_OPEN_RE.finditer(text))
        if last is not None:
            rest = text[last.end() :]
            close = _ANSWER_CLOSE_RE.search(rest)
            return (rest[: close.start()] if close else rest), True
    return text, False


def _last_fenced_block(seg: str) -> str:
    parts = seg.split("```")
    if len(parts) < 2:
        return seg
    # Balanced fences: blocks at odd indices, the last one is parts[-2]; an unclosed final
    # fence leaves an even number of parts and the truncated block is parts[-1].
    return parts[-2] if len(parts) % 2 == 1 else parts[-1]


def _strip_comments(seg: str) -> str:
    if '"' not in seg:  # no JSON strings: a plain substitution is 4x faster
        return _LINE_COMMENT_RE.sub("", seg)
    return _COMMENT_RE.sub(lambda m: m.group(1) or "", seg)


def _box_from(value: Any) -> list[float] | None:
    if isinstance(value, dict):
        for key in _BOX_KEYS:
            if key in value:
                return _box_from_list(value[key])
        return None
    return _box_from_list(value)


def _box_from_list(value: Any) -> list[float] | None:
    if type(value) is list and len(value) == 4:
        for x in value:
            if type(x) is not int and type(x) is not float:  # bool is an int subclass: excluded
                return None
        try:
            return [float(x) for x in value]
        except OverflowError:  # an integer beyond float range: non-finite, dropped
            return None
    return None


def _collect(value: Any) -> list[list[float]]:
    box = _box_from(value)
    if box is not None:
        return [box]
    out: list[list[float]] = []
    if type(value) is list:
        for item in value:
            box = _box_from(item)
            if box is not None:
                out.append(box)
    return out


def _boxes_json(span: str) -> list[list[float]]:
    for candidate in (span, None):
        if candidate is None:
            candidate = _TRAILING_COMMA_RE.sub(lambda m: m.group(1) or "", span)
        for wrapped in (candidate, "[" + candidate + "]"):
            try:
                value = json.loads(wrapped)
            except (ValueError, RecursionError):
                continue
            return _collect(value)
    return []


def raw_numbers(text: Any, fast: bool = True) -> list[float]:
    """The numbers of all boxes in ``text``'s answer, flat (4 per box), as written (no
    conversion, clipping or validity check yet). ``fast=False`` skips the fast path and always
    goes through ``json.loads`` (the reference used by tests and benchmarks). Never raises."""
    return [float(x) for box in raw_boxes(text, fast) for x in box]


def raw_boxes(text: Any, fast: bool = True) -> list[list[float]]:
    """The boxes in ``text``'s answer as written, ``[[a, b, c, d], ...]`` (numbers may be
    ints; no conversion, clipping or validity check yet). Never raises."""
    try:
        seg = extract_answer(text)
        if "```" in seg:
            seg = _last_fenced_block(seg)
        if "/" in seg:
            seg = _strip_comments(seg)
        a = seg.find("[")
        b = seg.find("{")
        if a < 0 or (0 <= b < a):
            a = b
        if a < 0:
            return []
        end = max(seg.rfind("]"), seg.rfind("}"))
        if end < a:
            return []
        span = seg[a : end + 1]
        if fast:
            if _LIST_RE.fullmatch(span):
                try:
                    value, stop = _SCAN_ONCE(span, 0)
                    if stop == len(span):
                        return value
                except (StopIteration, ValueError):  # not JSON numbers after all: the full path decides
                    pass
            elif _EMPTY_RE.fullmatch(span):
                return []
        return _boxes_json(span)
    except Exception:  # noqa: BLE001 - untrusted input: any failure means "no valid answer"
        return []


def parse_boxes(text: Any, image_size: Sequence[float] | None = None, coord_format: str = "abs") -> list[list[float]]:
    """Valid predicted boxes in pixels of the before image, ``[[x1, y1, x2, y2], ...]``.

    ``text`` is a raw model output (string or trl conversational completion); ``image_size``
    is ``(width, height)`` of the before image (``None``: no upper clipping, ``abs`` only);
    ``coord_format`` is ``"abs"``, ``"rel1000"`` or ``"rel1"``. An empty list means "no valid
    answer". Raises only on invalid *arguments* (``coord_format``, ``image_size``), never on
    the text.
    """
    w, h = width_height(image_size, coord_format)
    nums = raw_numbers(text)
    if not nums:
        return []
    boxes, valid = to_pixels(np.asarray(nums, dtype=np.float64).reshape(-1, 4), w, h, coord_format)
    return boxes[valid].tolist()
