"""EasyR1 reward module for DiG (the paper trains with EasyR1, supplement §6); TWIN's is
:mod:`dig_kit.rewards.easyr1_twin`.

EasyR1 loads a reward *file* by path (``worker.reward.reward_function: PATH:FUNCTION``; without
``:FUNCTION`` it calls ``main``) and reads this module's metadata: :data:`REWARD_TYPE` =
``"batch"`` (its mode) and :data:`REWARD_NAME` (printed in its log). In batch mode it calls
``compute_score(reward_inputs: list[dict], **reward_function_kwargs) -> list[dict[str, float]]``;
each input has ``response`` (decoded text), ``response_length`` and ``ground_truth`` (the
dataset's ``data.answer_key`` column, ``answer`` by default), and each output has ``overall``
(the reward), ``format`` and ``accuracy``; EasyR1 logs the mean of every returned key, so
``f1``, ``miou``, ``precision``, ``recall`` and ``num_pred`` appear too. Its sequential mode
(one dict in, one dict out) works as well. EasyR1's ``RewardConfig`` has four keys,
``reward_function``, ``reward_function_kwargs``, ``skip_special_tokens`` and ``num_cpus``:

    worker:
      reward:
        reward_function: /path/to/site-packages/dig_kit/rewards/easyr1.py:compute_score
        reward_function_kwargs: {format_weight: 0.1}   # optional; the paper's alpha (Table 5)

(``python -c "import dig_kit.rewards.easyr1 as m; print(m.__file__)"`` prints the path.)
EasyR1 imports the file outside its package, so this module uses absolute imports only:
``dig_kit`` must be installed in EasyR1's environment.

``ground_truth`` of a DiG row is a JSON string (or the already-decoded dict/list) of
``{"boxes": [[x1, y1, x2, y2], ...], "width": W, "height": H}`` in before-image pixels
(``"image_size": [W, H]`` also accepted; a bare list of boxes means no size: abs coordinates,
no clipping). :func:`make_ground_truth` writes it (``dig-kit export --format easyr1`` puts it
in the ``answer`` column). ``format_weight`` is EasyR1's name for alpha (its own examples
compute ``(1 - format_weight) * accuracy + format_weight * format``, the paper's formula); the
other keyword arguments are the DiG reward options (:class:`DigRewardOptions`). An input
without ``response`` or ``ground_truth``, a malformed ground truth or an unknown option is an
error naming it. :func:`compute_twin_score` is TWIN's reward under this module's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dig_kit.rewards.dig import DigRewardOptions, dig_reward_batch, rows
from dig_kit.rewards.twin import twin_reward

REWARD_NAME = "dig"
"""Read by EasyR1's reward loader (its log line)."""
REWARD_TYPE = "batch"
"""Read by EasyR1's reward loader: ``compute_score`` gets the whole batch as a list."""

FIELDS = ("response", "ground_truth")
"""What every reward input must hold (EasyR1 also passes ``response_length``, unused here)."""


def make_ground_truth(boxes: Sequence[Sequence[float]], width: float, height: float) -> str:
    """The ``ground_truth`` string of one DiG row for EasyR1 datasets."""
    return json.dumps({"boxes": [[float(v) for v in b] for b in boxes], "width": width, "height": height})


def parse_ground_truth(ground_truth: Any) -> tuple[list[list[float]], tuple[float, float] | None]:
    """``(boxes, image_size)`` of a DiG ``ground_truth`` (see the module docstring).
    Raises ``ValueError`` when it is malformed: that is a dataset bug, not a model output."""
    try:
        gt = json.loads(ground_truth) if isinstance(ground_truth, (str, bytes)) else ground_truth
    except json.JSONDecodeError:
        raise ValueError(
            f"ground_truth is not JSON: {ground_truth!r}; expected make_ground_truth(boxes, width, "
            'height), e.g. \'{"boxes": [[x1, y1, x2, y2]], "width": W, "height": H}\''
        ) from None
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


def reward_inputs_of(reward_inputs: Any, fields: Sequence[str] = FIELDS) -> tuple[list[dict], bool]:
    """``(inputs, single)``: EasyR1's batch (a list of dicts) or one input (sequential mode),
    each checked for ``fields``; a wrong shape or a missing field is an error naming it."""
    single = isinstance(reward_inputs, dict)
    if not single and not isinstance(reward_inputs, (list, tuple)):
        raise TypeError(
            f"reward_inputs must be a list of dicts with {list(fields)} (EasyR1's batch mode) or one "
            f"such dict, got {type(reward_inputs).__name__}"
        )
    inputs = [reward_inputs] if single else list(reward_inputs)
    for i, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise TypeError(f"reward input {i} is a {type(item).__name__}, not a dict with {list(fields)}")
        for name in fields:
            if name not in item:
                hint = (
                    " (EasyR1 fills it from the dataset column named by data.answer_key, 'answer' by default)"
                    if name == "ground_truth"
                    else ""
                )
                raise ValueError(f"reward input {i} has no {name!r}{hint}; it has {sorted(item)}")
    return inputs, single


def compute_score(
    reward_inputs: list[dict[str, Any]] | dict[str, Any], format_weight: float | None = None, **options: Any
) -> list[dict[str, float]] | dict[str, float]:
    """EasyR1 reward function for DiG: ``overall``, ``format``, ``accuracy``, plus ``f1``,
    ``miou``, ``precision``, ``recall`` and ``num_pred`` per input."""
    inputs, single = reward_inputs_of(reward_inputs)
    if format_weight is not None:
        if "alpha" in options:
            raise TypeError("give format_weight (EasyR1's name) or alpha, not both")
        options["alpha"] = format_weight
    opts = DigRewardOptions.from_kwargs(**options)
    gts, sizes = [], []
    for i, item in enumerate(inputs):
        try:
            boxes, size = parse_ground_truth(item["ground_truth"])
        except ValueError as e:
            raise ValueError(f"reward input {i}: {e}") from None
        gts.append(boxes)
        sizes.append(size)
    scored = rows(dig_reward_batch([item["response"] for item in inputs], gts, sizes, opts))
    keep = ("overall", "format", "accuracy", "f1", "miou", "precision", "recall", "num_pred")
    out = [{k: float(r[k]) for k in keep} for r in scored]
    return out[0] if single else out


main = compute_score
"""EasyR1's default function name (``reward_function`` given without ``:FUNCTION``)."""


def compute_twin_score(
    reward_inputs: list[dict[str, Any]] | dict[str, Any], task: str = "auto"
) -> list[dict[str, float]] | dict[str, float]:
    """EasyR1 reward function for TWIN: ``ground_truth`` is ``"yes"``/``"no"`` or ``"0"``..``"3"``
    (:mod:`dig_kit.rewards.easyr1_twin` is the same under TWIN's own metadata)."""
    inputs, single = reward_inputs_of(reward_inputs)
    out = []
    for i, item in enumerate(inputs):
        try:
            out.append(twin_reward(item["response"], item["ground_truth"], task))
        except ValueError as e:
            raise ValueError(f"reward input {i}: ground_truth: {e}") from None
    return out[0] if single else out
