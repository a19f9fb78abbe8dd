"""The DiG reward (slides "Reward design", supplement Table 5), for one response or a batch.

    r_format = 1 if at least one valid box was parsed (P(O) non-empty), else 0
    Hungarian matching of predictions to ground truth maximising total IoU
    TP        = matched pairs with IoU >= tau (0.5)
    precision = TP / N_pred,  recall = TP / M,  F1 = 2 TP / (N_pred + M)  (0 when TP = 0)
    mIoU      = summed matched IoU / min(N_pred, M)        ("matched", the paper preset)
              | summed matched IoU / max(N_pred, M)        ("max_count")
    r_acc     = lambda_f1 * F1 + lambda_iou * mIoU        (0.5, 0.5)
    r         = (1 - alpha) * r_acc + alpha * r_format     (alpha = 0.1, Table 5)

Why ``iou_normalization="matched"`` is the paper preset: the slides name the term "IoU",
averaged over the Hungarian pairs, and their ablation says an IoU-only reward gives "high IoU
without correct detection". That is exactly what the mean over matched pairs does: one precise
box for three differences scores mIoU = 1, since misses and extras are left to F1. With
``max_count`` an IoU-only reward would already punish misses and extras, and the ablation's
finding would not arise. ``max_count`` is kept as an option for users who want a reward in
which localisation alone also accounts for completeness.

Ablation variants (slides, "Ablation: Reward Components"):

    variant         r_acc
    format          0 (the reward is r_format alone: r = r_format)
    format_iou      mIoU        (the remaining component takes weight 1)
    format_f1       F1
    format_iou_f1   lambda_f1 * F1 + lambda_iou * mIoU   (default, the paper's reward)

and ``r = (1 - alpha) * r_acc + alpha * r_format`` for all but ``format``. F1 and mIoU are
always computed and reported, whatever the variant, so they can be logged. Every component is
in [0, 1]; ``overall`` too when ``lambda_f1 + lambda_iou <= 1`` (checked: larger sums raise).

The formula is written once (``_parts``), from four match statistics per response: valid
predictions N, ground-truth boxes M, true positives and the summed IoU of the matched pairs. Two
paths feed it: a batch of :data:`SMALL_BATCH` responses or more converts and matches all its
boxes in a few numpy calls (:mod:`.geometry`, :mod:`.matching` with its exact fast path); fewer
responses, or one (:func:`dig_reward`), go through the same steps in plain Python, where numpy's
per-call cost would outweigh the work. Both give the same numbers, bit for bit (tested).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from itertools import chain
from math import isfinite
from typing import Any

import numpy as np

from .geometry import COORD_FORMATS, pixel_boxes, to_pixels, width_height
from .matching import match_stats_batch, match_stats_one
from .parsing import raw_boxes

VARIANTS = ("format", "format_iou", "format_f1", "format_iou_f1")
IOU_NORMALIZATIONS = ("matched", "max_count")
COMPONENTS = ("overall", "format", "accuracy", "f1", "miou", "precision", "recall", "num_pred", "num_gt", "tp")
_INT_KEYS = frozenset({"num_pred", "num_gt", "tp"})


@dataclasses.dataclass(frozen=True)
class DigRewardOptions:
    """Options of the DiG reward; the defaults are the paper's (slides, supplement Table 5)."""

    alpha: float = 0.1
    """weight of the format reward: r = (1 - alpha) r_acc + alpha r_format (Table 5: 0.1)"""
    lambda_f1: float = 0.5
    """weight of F1 in r_acc (variant format_iou_f1)"""
    lambda_iou: float = 0.5
    """weight of mean IoU in r_acc (variant format_iou_f1)"""
    iou_threshold: float = 0.5
    """a matched pair is a true positive when IoU >= this (tau)"""
    coord_format: str = "abs"
    """how the model writes coordinates: abs (pixels, the prompt's), rel1000 (Qwen3-VL), rel1"""
    iou_normalization: str = "matched"
    """mean IoU over matched pairs (paper preset) or summed IoU / max(N_pred, M) (max_count)"""
    variant: str = "format_iou_f1"
    """reward ablation variant: format, format_iou, format_f1, format_iou_f1"""

    def __post_init__(self) -> None:
        for name in ("alpha", "lambda_f1", "lambda_iou", "iou_threshold"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not 0 <= v <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
        if self.lambda_f1 + self.lambda_iou > 1 + 1e-12:
            raise ValueError(
                "lambda_f1 + lambda_iou must be <= 1 to keep the reward in [0, 1], "
                f"got {self.lambda_f1} + {self.lambda_iou}"
            )
        if self.coord_format not in COORD_FORMATS:
            raise ValueError(f"coord_format must be one of {COORD_FORMATS}, got {self.coord_format!r}")
        if self.iou_normalization not in IOU_NORMALIZATIONS:
            raise ValueError(f"iou_normalization must be one of {IOU_NORMALIZATIONS}, got {self.iou_normalization!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")

    @classmethod
    def from_kwargs(cls, **options: Any) -> DigRewardOptions:
        """Build from keyword options, naming any unknown one."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(options) - fields
        if unknown:
            raise TypeError(f"unknown DiG reward option(s) {sorted(unknown)}; known: {sorted(fields)}")
        return cls(**options)

    def weights(self) -> tuple[float, float, float]:
        """``(w_format, w_f1, w_iou)`` with overall = w_format*format + w_f1*F1 + w_iou*mIoU."""
        a = self.alpha
        if self.variant == "format":
            return 1.0, 0.0, 0.0
        if self.variant == "format_iou":
            return a, 0.0, 1 - a
        if self.variant == "format_f1":
            return a, 1 - a, 0.0
        return a, (1 - a) * self.lambda_f1, (1 - a) * self.lambda_iou


_DEFAULT = DigRewardOptions()


@functools.lru_cache(maxsize=64)
def _cached_options(items: tuple) -> DigRewardOptions:
    return DigRewardOptions.from_kwargs(**dict(items))


def _options(options: DigRewardOptions | None, kwargs: dict) -> DigRewardOptions:
    if options is not None:
        if kwargs:
            return dataclasses.replace(options, **kwargs)
        return options
    try:
        return _cached_options(tuple(sorted(kwargs.items()))) if kwargs else _DEFAULT
    except TypeError:  # an unhashable option value: let the dataclass name the problem
        return DigRewardOptions.from_kwargs(**kwargs)


def _gt_array(gt_boxes: Sequence[Sequence[Sequence[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """A batch's ground truth as ``(K, 4)`` reordered boxes and the response index of each."""
    counts = np.fromiter((len(g) for g in gt_boxes), dtype=np.int64, count=len(gt_boxes))
    flat = np.fromiter(
        chain.from_iterable(chain.from_iterable(gt_boxes)), dtype=np.float64, count=4 * int(counts.sum())
    )
    g = flat.reshape(-1, 4)
    if not np.isfinite(g).all():
        raise ValueError("ground-truth boxes must be finite")
    g = np.concatenate([np.minimum(g[:, :2], g[:, 2:]), np.maximum(g[:, :2], g[:, 2:])], axis=1)
    return g, np.repeat(np.arange(len(gt_boxes)), counts)


def _gt_boxes(gt: Sequence[Sequence[float]]) -> list[tuple[float, float, float, float]]:
    """One response's ground truth as reordered boxes (what :func:`_gt_array` does, in Python)."""
    out = []
    for g in gt:
        a, b, c, d = map(float, g)  # a malformed ground truth raises: a dataset bug, not model output
        if not (isfinite(a) and isfinite(b) and isfinite(c) and isfinite(d)):
            raise ValueError("ground-truth boxes must be finite")
        out.append((a, b, c, d) if a <= c and b <= d else (min(a, c), min(b, d), max(a, c), max(b, d)))
    return out


def _sizes_array(image_sizes: Sequence[Sequence[float] | None] | None, B: int, coord_format: str) -> np.ndarray:
    """``(B, 2)`` widths and heights; ``inf`` where no size is given (abs only)."""
    if image_sizes is None:
        image_sizes = [None] * B
    try:  # the common case: every size given, one numpy call
        wh = np.asarray(image_sizes, dtype=np.float64).reshape(B, 2)
        if (wh > 0).all() and np.isfinite(wh).all():
            return wh
    except (TypeError, ValueError):
        pass
    return np.asarray([width_height(s, coord_format) for s in image_sizes], dtype=np.float64).reshape(B, 2)


# ---------------------------------------------------------------------------------------
# The formula, once: from match statistics to the reward's parts


def _larger(a, b):
    return np.maximum(a, b) if isinstance(a, np.ndarray) else max(a, b)


def _combine(fmt, f1, miou, o: DigRewardOptions):
    """``(r_acc, overall)`` of the variant, for floats or arrays alike."""
    if o.variant == "format":
        return f1 * 0.0, fmt * 1.0
    if o.variant == "format_iou":
        acc = miou * 1.0
    elif o.variant == "format_f1":
        acc = f1 * 1.0
    else:
        acc = o.lambda_f1 * f1 + o.lambda_iou * miou
    return acc, (1 - o.alpha) * acc + o.alpha * fmt


def _parts(n, m, tp, sum_iou, matched, o: DigRewardOptions) -> dict:
    """The reward of the module docstring from the match statistics: ``n`` valid predictions,
    ``m`` ground-truth boxes, ``tp`` true positives, ``sum_iou`` over ``matched`` pairs. The
    same expressions for one response (Python numbers) and a batch (``(B,)`` float arrays)."""
    # x / (d + (d == 0)) is x / d, or 0 where d is 0 (x is then 0 too): one expression for both
    fmt = (n > 0) * 1.0
    f1 = 2 * tp / (n + m + (n + m == 0))
    denom = _larger(n, m) if o.iou_normalization == "max_count" else matched
    miou = sum_iou / (denom + (denom == 0))
    # clipped to [0, 1]: guards float round-off of the summed IoU
    miou = np.clip(miou, 0.0, 1.0) if isinstance(miou, np.ndarray) else min(max(miou, 0.0), 1.0)
    acc, overall = _combine(fmt, f1, miou, o)
    return {
        "overall": overall, "format": fmt, "accuracy": acc, "f1": f1, "miou": miou,
        "precision": tp / (n + (n == 0)), "recall": tp / (m + (m == 0)), "num_pred": n, "num_gt": m, "tp": tp,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------
# One response and a batch: parse, convert, match, then the formula


def _score_one(raw: list, gt: Sequence[Sequence[float]], w: float, h: float, o: DigRewardOptions) -> dict:
    """The DiG reward of one response's raw boxes, in plain Python (fewer than
    :data:`SMALL_BATCH` responses: faster than numpy, equal to it)."""
    pred = pixel_boxes(raw, w, h, o.coord_format)
    gtb = _gt_boxes(gt)
    sum_iou, tp, matched = match_stats_one(pred, gtb, o.iou_threshold)
    return _parts(len(pred), len(gtb), tp, sum_iou, matched, o)


def _score_arrays(completions: Sequence[Any], gt_boxes, wh: np.ndarray, o: DigRewardOptions) -> dict:
    """The DiG reward of a batch, its geometry in a few numpy calls (``wh``: ``(B, 2)`` sizes)."""
    B = len(completions)
    boxes = [raw_boxes(c) for c in completions]
    n_raw = np.fromiter(map(len, boxes), dtype=np.int64, count=B)
    flat = np.fromiter(chain.from_iterable(chain.from_iterable(boxes)), dtype=np.float64, count=4 * int(n_raw.sum()))
    owner = np.repeat(np.arange(B), n_raw)
    pred, valid = to_pixels(flat.reshape(-1, 4), wh[owner, 0], wh[owner, 1], o.coord_format)
    pred, owner = pred[valid], owner[valid]
    gt, gt_owner = _gt_array(gt_boxes)
    stats = match_stats_batch(pred, owner, gt, gt_owner, B, o.iou_threshold)
    n = np.bincount(owner, minlength=B).astype(np.float64)
    m = np.bincount(gt_owner, minlength=B).astype(np.float64)
    return _parts(n, m, stats.tp.astype(np.float64), stats.sum_iou, stats.matched.astype(np.float64), o)


# Below this many responses, numpy's per-call overhead outweighs vectorisation: score in Python.
SMALL_BATCH = 8


def dig_reward_batch(
    completions: Sequence[Any],
    gt_boxes: Sequence[Sequence[Sequence[float]]],
    image_sizes: Sequence[Sequence[float] | None] | None,
    options: DigRewardOptions | None = None,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """Score a batch (e.g. a whole GRPO group) at once.

    ``completions[i]`` is a model output (string or trl conversational list), ``gt_boxes[i]``
    its ground-truth boxes in before-image pixels, ``image_sizes[i]`` its ``(width, height)``
    (``None`` entries or ``image_sizes=None``: no clipping; ``abs`` only). Options as keyword
    arguments or a :class:`DigRewardOptions`. Returns one ``(B,)`` array per name in
    :data:`COMPONENTS`. Never raises on the completions.
    """
    opts = _options(options, kwargs)
    B = len(completions)
    if len(gt_boxes) != B or (image_sizes is not None and len(image_sizes) != B):
        raise ValueError(f"got {B} completions but {len(gt_boxes)} ground truths / image sizes")
    if B >= SMALL_BATCH:
        parts = _score_arrays(completions, gt_boxes, _sizes_array(image_sizes, B, opts.coord_format), opts)
    else:
        sizes = [width_height(s, opts.coord_format) for s in (image_sizes if image_sizes is not None else [None] * B)]
        scored = [_score_one(raw_boxes(c), g, w, h, opts) for c, g, (w, h) in zip(completions, gt_boxes, sizes)]
        table = np.array([[s[k] for k in COMPONENTS] for s in scored], dtype=np.float64).reshape(B, len(COMPONENTS))
        parts = dict(zip(COMPONENTS, table.T))
    return {k: parts[k].astype(np.int64) if k in _INT_KEYS else parts[k] for k in COMPONENTS}


def dig_reward_group(
    completions: Sequence[Any], gt_boxes: Sequence[Sequence[float]], image_size: Sequence[float] | None, **options: Any
) -> dict[str, np.ndarray]:
    """Score the G responses of one GRPO group, which share one ground truth and image size."""
    B = len(completions)
    return dig_reward_batch(completions, [gt_boxes] * B, [image_size] * B, **options)


def rows(batch: dict[str, np.ndarray]) -> list[dict[str, float | int]]:
    """Turn :func:`dig_reward_batch`'s columns into one plain dict per response."""
    cols = {k: v.tolist() for k, v in batch.items()}
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def dig_reward(
    completion: Any, gt_boxes: Sequence[Sequence[float]], image_size: Sequence[float] | None, **options: Any
) -> dict[str, float | int]:
    """The DiG reward of one model output.

    ``completion``: raw model text (thinking included) or a trl conversational completion;
    ``gt_boxes``: ground-truth ``[[x1, y1, x2, y2], ...]`` in pixels of the before image;
    ``image_size``: ``(width, height)`` of the before image. ``options``: ``alpha``,
    ``lambda_f1``, ``lambda_iou``, ``iou_threshold``, ``coord_format``, ``iou_normalization``,
    ``variant`` (see :class:`DigRewardOptions`).

    Returns ``overall``, ``format``, ``accuracy`` (r_acc), ``f1``, ``miou``, ``precision``,
    ``recall`` (floats in [0, 1]) and ``num_pred``, ``num_gt``, ``tp`` (ints). Never raises on
    the completion; raises ``ValueError``/``TypeError`` on invalid options or ground truth.
    """
    o = _cached_options(tuple(sorted(options.items()))) if options else _DEFAULT
    w, h = width_height(image_size, o.coord_format)
    return _score_one(raw_boxes(completion), gt_boxes, w, h, o)
