"""TWIN rewards (the TWIN paper, "Same or Not?"): R(y, y_hat) = 1{y = y_hat}, answer only.

Two question types:

- ``pair``: are the two images the same object instance? The answer is ``yes`` or ``no``.
- ``multi``: one reference and three candidates; how many candidates show the reference
  instance? The answer is a count ``0``-``3``.

Reading the final answer (never raises): take the text after the last ``</think>``; if it has
``<answer>...</answer>``, the answer is the *first* verdict inside the tags (the tag holds the
answer, possibly followed by a justification: "No, the handle differs"); otherwise it is the
*last* verdict in the text (models end with "... so the answer is: no"). A verdict is a whole
word, case-insensitive: ``yes``/``no`` for pair; for multi a number (only ``0``-``3`` valid) or
``zero``/``none``/``one``/``two``/``three``. No verdict, or a count outside 0-3, is "no valid
answer": format 0, reward 0. Without tags, "2 of the 3 candidates" reads as 3: prompt for
``<answer>`` tags.

Only the final answer is rewarded, as in the paper; ``format`` (an answer was found) is
reported for logging and is not part of ``overall``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .parsing import answer_segment

TASKS = ("auto", "pair", "multi")
_YESNO_RE = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_COUNT_RE = re.compile(r"(?<![\w.])(\d+|zero|none|one|two|three)(?!\w|\.\d)", re.IGNORECASE)
_WORDS = {"zero": 0, "none": 0, "one": 1, "two": 2, "three": 3}


def normalize_label(label: Any, task: str = "auto") -> tuple[str, str]:
    """``(task, label)`` with label ``"yes"``/``"no"`` (pair) or ``"0"``..``"3"`` (multi).
    ``task="auto"`` infers it from the label. Raises ``ValueError`` on an invalid label."""
    if isinstance(label, bool):
        value = "yes" if label else "no"
    elif isinstance(label, int):
        value = str(label)
    else:
        value = str(label).strip().lower()
    value = str(_WORDS.get(value, value))
    if value in ("yes", "no", "true", "false"):
        value = {"true": "yes", "false": "no"}.get(value, value)
        kind = "pair"
    elif value in ("0", "1", "2", "3"):
        kind = "multi"
    else:
        raise ValueError(f"TWIN label must be yes/no or a count 0-3, got {label!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task != "auto" and task != kind:
        raise ValueError(f"label {label!r} is not a {task} label")
    return kind, value


def parse_twin_answer(completion: Any, task: str) -> str | None:
    """The final verdict of a TWIN output: ``"yes"``/``"no"`` (pair) or ``"0"``..``"3"``
    (multi), or ``None`` when there is no valid answer. Never raises."""
    try:
        seg, tagged = answer_segment(completion)
        regex = _YESNO_RE if task == "pair" else _COUNT_RE
        matches = regex.findall(seg)
        if not matches:
            return None
        word = (matches[0] if tagged else matches[-1]).lower()
        if task == "pair":
            return word
        value = _WORDS[word] if word in _WORDS else int(word)
        return str(value) if 0 <= value <= 3 else None
    except Exception:  # noqa: BLE001 - untrusted text
        return None


def twin_reward(completion: Any, label: Any, task: str = "auto") -> dict[str, float]:
    """The TWIN reward of one output: ``overall`` = ``accuracy`` = 1 if the final answer equals
    ``label`` (``"yes"``/``"no"``, a bool, or a count 0-3), else 0; ``format`` = 1 if a valid
    answer was found. ``task``: ``"pair"``, ``"multi"`` or ``"auto"`` (from the label)."""
    kind, value = normalize_label(label, task)
    answer = parse_twin_answer(completion, kind)
    correct = 1.0 if answer == value else 0.0
    return {"overall": correct, "format": 1.0 if answer is not None else 0.0, "accuracy": correct}


def twin_reward_batch(completions: Sequence[Any], labels: Sequence[Any], task: str = "auto") -> list[dict[str, float]]:
    """:func:`twin_reward` for a batch."""
    if len(completions) != len(labels):
        raise ValueError(f"got {len(completions)} completions but {len(labels)} labels")
    return [twin_reward(c, y, task) for c, y in zip(completions, labels)]
