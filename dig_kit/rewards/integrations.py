"""trl reward callables for the DiG and TWIN rewards (no trl import here).

trl's ``GRPOTrainer`` calls each reward function as ``f(prompts=..., completions=...,
completion_ids=..., **columns, trainer_state=..., log_extra=..., log_metric=...)`` and expects
``list[float]`` (``None`` entries: "not applicable", excluded from that row's reward). The
completions are strings, or for conversational datasets lists of messages
``[{"role": "assistant", "content": ...}]``; both are accepted.

Dataset columns read (names configurable): DiG rows ``boxes`` (``[[x1, y1, x2, y2], ...]`` in
before-image pixels, or a JSON string of it) and ``width``/``height`` (or ``image_size``);
TWIN rows ``answer`` (``"yes"``/``"no"`` or a count ``"0"``..``"3"``). A row whose ``boxes``
(``answer``) is ``None`` gets ``None`` so mixed DiG/TWIN datasets work with both functions.

Logging the components. trl 1.16 passes ``log_metric(name, value)`` to reward functions
(averaged per logging step, reported next to ``kl`` and ``entropy``) and
``log_extra(column, values)`` (extra columns of the completions table). The default, one
callable, returns the overall reward and logs ``dig/format``, ``dig/f1``, ``dig/miou``,
``dig/precision``, ``dig/recall``, ``dig/accuracy`` and ``dig/num_pred`` with ``log_metric``,
and per-completion ``dig_f1``/``dig_miou``/``dig_format`` with ``log_extra``. Older trl
versions pass neither; use ``split_components=True`` then: one callable per component
(``dig_format``, ``dig_f1``, ``dig_miou``, logged by trl as ``rewards/<name>/mean``) with
``reward_weights`` that add up to the same overall reward
(``alpha * format + (1 - alpha) * lambda_f1 * F1 + (1 - alpha) * lambda_iou * mIoU``); the
three share one scoring pass per batch.

    funcs, weights = make_trl_rewards(variant="format_iou_f1", alpha=0.1)
    GRPOTrainer(..., reward_funcs=funcs, args=GRPOConfig(reward_weights=weights, ...))

The callables are picklable (class instances with a ``__name__``, as trl names them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dig import DigRewardOptions, dig_reward_batch
from .twin import twin_reward

_LOGGED = ("format", "f1", "miou", "precision", "recall", "accuracy", "num_pred")
_EXTRA = ("format", "f1", "miou")


def _column(kwargs: dict, name: str, n: int) -> list:
    value = kwargs.get(name)
    if value is None:
        return [None] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f"column {name!r} has {len(value)} values for {n} completions")
    return value


class _BatchScorer:
    """Scores a trl batch once and remembers it, so several component callables share it."""

    def __init__(self, options: DigRewardOptions, boxes_column: str, width_column: str, height_column: str):
        self.options = options
        self.boxes_column, self.width_column, self.height_column = boxes_column, width_column, height_column
        self._key: tuple = ()
        self._value: tuple[np.ndarray, dict[str, np.ndarray]] | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_key": (), "_value": None}

    def __call__(self, completions: Sequence[Any], kwargs: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        boxes = kwargs.get(self.boxes_column)
        # trl builds the column lists once per step and passes the same objects to every
        # reward function; holding them keeps their ids from being reused.
        if self._value is not None and self._key[0] is completions and self._key[1] is boxes:
            return self._value
        n = len(completions)
        gts = _column(kwargs, self.boxes_column, n)
        widths = _column(kwargs, self.width_column, n)
        heights = _column(kwargs, self.height_column, n)
        sizes_col = _column(kwargs, "image_size", n)
        idx, sel_c, sel_g, sel_s = [], [], [], []
        for i, g in enumerate(gts):
            if g is None:
                continue
            if isinstance(g, str):
                g = json.loads(g)
            size = sizes_col[i]
            if widths[i] is not None and heights[i] is not None:
                size = (widths[i], heights[i])
            idx.append(i)
            sel_c.append(completions[i])
            sel_g.append(g)
            sel_s.append(size)
        scored = dig_reward_batch(sel_c, sel_g, sel_s, self.options) if idx else None
        self._key, self._value = (completions, boxes), (np.asarray(idx, dtype=np.int64), scored)
        return self._value


class DigTrlReward:
    """A trl reward function for DiG: returns one component (default the overall reward) and,
    with ``log_components``, logs the others through trl's ``log_metric``/``log_extra``."""

    def __init__(self, name: str, component: str, scorer: _BatchScorer, log_components: bool):
        self.__name__ = name
        self.component = component
        self.scorer = scorer
        self.log_components = log_components

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        idx, scored = self.scorer(completions, kwargs)
        out: list[float | None] = [None] * len(completions)
        if scored is None:
            return out
        for i, v in zip(idx.tolist(), scored[self.component].tolist()):
            out[i] = float(v)
        if self.log_components:
            log_metric, log_extra = kwargs.get("log_metric"), kwargs.get("log_extra")
            if callable(log_metric):
                for key in _LOGGED:
                    log_metric(f"dig/{key}", float(np.mean(scored[key])))
            if callable(log_extra):
                for key in _EXTRA:
                    column: list[float | None] = [None] * len(completions)
                    for i, v in zip(idx.tolist(), scored[key].tolist()):
                        column[i] = float(v)
                    log_extra(f"dig_{key}", column)
        return out


class TwinTrlReward:
    """A trl reward function for TWIN: 1 if the final answer equals the ``answer`` column."""

    def __init__(self, name: str = "twin_reward", answer_column: str = "answer", task: str = "auto"):
        self.__name__ = name
        self.answer_column = answer_column
        self.task = task

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        labels = _column(kwargs, self.answer_column, len(completions))
        out: list[float | None] = []
        formats = []
        for c, y in zip(completions, labels):
            if y is None:
                out.append(None)
                continue
            r = twin_reward(c, y, self.task)
            out.append(r["overall"])
            formats.append(r["format"])
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and formats:
            log_metric("twin/format", float(np.mean(formats)))
        return out


def make_trl_rewards(
    split_components: bool = False,
    log_components: bool = True,
    boxes_column: str = "boxes",
    width_column: str = "width",
    height_column: str = "height",
    **options: Any,
) -> tuple[list[DigTrlReward], list[float]]:
    """DiG reward functions for trl and their ``reward_weights``.

    ``options`` are the DiG reward options (``variant``, ``alpha``, ``lambda_f1``,
    ``lambda_iou``, ``iou_threshold``, ``coord_format``, ``iou_normalization``).
    ``split_components=False`` (default, trl >= 1.x): ``([dig_reward], [1.0])``, the overall
    reward, components logged via ``log_metric``. ``split_components=True``:
    ``([dig_format, dig_f1, dig_miou], [w_format, w_f1, w_iou])``, whose weighted sum is the
    overall reward of the chosen variant (a weight may be 0: the component is still logged).
    """
    opts = DigRewardOptions.from_kwargs(**options)
    scorer = _BatchScorer(opts, boxes_column, width_column, height_column)
    if not split_components:
        return [DigTrlReward("dig_reward", "overall", scorer, log_components)], [1.0]
    w_format, w_f1, w_iou = opts.weights()
    funcs = [
        DigTrlReward("dig_format", "format", scorer, False),
        DigTrlReward("dig_f1", "f1", scorer, False),
        DigTrlReward("dig_miou", "miou", scorer, log_components),
    ]
    return funcs, [w_format, w_f1, w_iou]


def make_twin_trl_reward(answer_column: str = "answer", task: str = "auto") -> TwinTrlReward:
    """The TWIN reward function for trl (weight 1)."""
    return TwinTrlReward("twin_reward", answer_column, task)
