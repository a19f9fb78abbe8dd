"""EasyR1 reward module for DiG and TWIN (the paper trains with EasyR1, supplement §6).

EasyR1 loads a reward *file* by path and calls a function in it: in its batch mode
``compute_score(reward_inputs: list[dict]) -> list[dict[str, float]]`` where each input has
``response`` (decoded text), ``response_length`` and ``ground_truth`` (the dataset's
``answer_key`` column), and each output has ``overall`` (the reward), ``format`` and
``accuracy``; EasyR1 logs the mean of every returned key, so ``f1`` and ``miou`` appear too.
Its sequential mode calls the function with one dict and expects one dict; both work here.

    worker:
      reward:
        reward_type: batch
        reward_function: /path/to/site-packages/dig_kit/rewards/easyr1.py:compute_score
        reward_function_kwargs: {format_weight: 0.1}   # optional; the paper's alpha (Table 5)

(``python -c "import dig_kit.rewards.easyr1 as m; print(m.__file__)"`` prints the path.)
EasyR1 imports the file outside its package, so this module uses absolute imports only:
``dig_kit`` must be installed in EasyR1's environment. For TWIN use ``:compute_twin_score``.

``ground_truth`` of a DiG row is a JSON string (or the already-decoded dict/list) of
``{"boxes": [[x1, y1, x2, y2], ...], "width": W, "height": H}`` in before-image pixels
(``"image_size": [W, H]`` also accepted; a bare list of boxes means no size: abs coordinates,
no clipping). :func:`make_ground_truth` writes it. ``format_weight`` is EasyR1's name for
alpha (its own examples compute ``(1 - format_weight) * accuracy + format_weight * format``,
the paper's formula); the other keyword arguments are the DiG reward options.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from dig_kit.rewards.dig import DigRewardOptions, dig_reward_batch, rows
from dig_kit.rewards.twin import twin_reward


def make_ground_truth(boxes: Sequence[Sequence[float]], width: float, height: float) -> str:
    """The ``ground_truth`` string of one DiG row for EasyR1 datasets."""
    return json.dumps({"boxes": [[float(v) for v in b] for b in boxes], "width": width, "height": height})


def parse_ground_truth(ground_truth: Any) -> tuple[list[list[float]], tuple[float, float] | None]:
    """``(boxes, image_size)`` of a DiG ``ground_truth`` (see the module docstring).
    Raises ``ValueError`` when it is malformed: that is a dataset bug, not a model output."""
    gt = json.loads(ground_truth) if isinstance(ground_truth, (str, bytes)) else ground_truth
    if isinstance(gt, dict):
        boxes = gt.get("boxes")
        size = gt.get("image_size")
        if gt.get("width") is not None and gt.get("height") is not None:
            size = (gt["width"], gt["height"])
    else:
        boxes, size = gt, None
    if not isinstance(boxes, (list, tuple)) or not all(isinstance(b, (list, tuple)) and len(b) == 4 for b in boxes):
        raise ValueError(f"ground_truth must hold a list of [x1, y1, x2, y2] boxes, got {ground_truth!r}")
    return [[float(v) for v in b] for b in boxes], (None if size is None else (float(size[0]), float(size[1])))


def compute_score(
    reward_inputs: list[dict[str, Any]] | dict[str, Any], format_weight: float | None = None, **options: Any
) -> list[dict[str, float]] | dict[str, float]:
    """EasyR1 reward function for DiG: ``overall``, ``format``, ``accuracy``, plus ``f1``,
    ``miou``, ``precision``, ``recall`` and ``num_pred`` per input."""
    single = isinstance(reward_inputs, dict)
    inputs = [reward_inputs] if single else list(reward_inputs)
    if format_weight is not None:
        if "alpha" in options:
            raise TypeError("give format_weight (EasyR1's name) or alpha, not both")
        options["alpha"] = format_weight
    opts = DigRewardOptions.from_kwargs(**options)
    gts, sizes = [], []
    for item in inputs:
        boxes, size = parse_ground_truth(item["ground_truth"])
        gts.append(boxes)
        sizes.append(size)
    scored = rows(dig_reward_batch([item["response"] for item in inputs], gts, sizes, opts))
    keep = ("overall", "format", "accuracy", "f1", "miou", "precision", "recall", "num_pred")
    out = [{k: float(r[k]) for k in keep} for r in scored]
    return out[0] if single else out


def compute_twin_score(
    reward_inputs: list[dict[str, Any]] | dict[str, Any], task: str = "auto"
) -> list[dict[str, float]] | dict[str, float]:
    """EasyR1 reward function for TWIN: ``ground_truth`` is ``"yes"``/``"no"`` or ``"0"``..``"3"``."""
    single = isinstance(reward_inputs, dict)
    inputs = [reward_inputs] if single else list(reward_inputs)
    out = [twin_reward(item["response"], item["ground_truth"], task) for item in inputs]
    return out[0] if single else out
