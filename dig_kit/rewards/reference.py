"""A straightforward per-response DiG reward: the oracle for tests and the benchmark baseline.

Written the obvious way, on purpose: the answer's boxes are read with ``json.loads`` (no
regular-expression fast path), IoU is computed pair by pair with its own function (an
independent check of :mod:`.geometry`'s), every response is matched with
``scipy.optimize.linear_sum_assignment`` and the formula is written out again. Only the
conversion to pixels is shared (:func:`.geometry.to_pixels`). :func:`dig_kit.rewards.dig_reward_batch`
must agree with it on every input (property tests), and is compared with it for speed in
``benchmarks/bench_rewards.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scipy.optimize import linear_sum_assignment

from .dig import DigRewardOptions
from .geometry import to_pixels, width_height
from .parsing import raw_numbers


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def dig_reward_reference(
    completion: Any, gt_boxes: Sequence[Sequence[float]], image_size: Sequence[float] | None, **options: Any
) -> dict[str, float]:
    """Same contract and result as :func:`dig_kit.rewards.dig_reward`, computed plainly."""
    o = DigRewardOptions.from_kwargs(**options)
    w, h = width_height(image_size, o.coord_format)
    nums = raw_numbers(completion, fast=False)
    pred = []
    if nums:
        boxes, valid = to_pixels([nums[i : i + 4] for i in range(0, len(nums), 4)], w, h, o.coord_format)
        pred = boxes[valid].tolist()
    gt = [[min(g[0], g[2]), min(g[1], g[3]), max(g[0], g[2]), max(g[1], g[3])] for g in gt_boxes]
    n, m = len(pred), len(gt)
    tp, sum_iou, matched = 0, 0.0, 0
    if n and m:
        cost = [[_iou(p, g) for g in gt] for p in pred]
        rows, cols = linear_sum_assignment(cost, maximize=True)
        vals = [cost[r][c] for r, c in zip(rows, cols)]
        matched = len(vals)
        sum_iou = sum(vals)
        tp = len(vals) if o.iou_threshold <= 0 else sum(v >= o.iou_threshold for v in vals)
    fmt = 1.0 if n else 0.0
    precision = tp / n if n else 0.0
    recall = tp / m if m else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    denom = max(n, m) if o.iou_normalization == "max_count" else matched
    miou = min(sum_iou / denom, 1.0) if denom else 0.0
    if o.variant == "format":
        acc, overall = 0.0, fmt
    else:
        acc = {"format_iou": miou, "format_f1": f1}.get(o.variant, o.lambda_f1 * f1 + o.lambda_iou * miou)
        overall = (1 - o.alpha) * acc + o.alpha * fmt
    return {
        "overall": overall, "format": fmt, "accuracy": acc, "f1": f1, "miou": miou,
        "precision": precision, "recall": recall, "num_pred": n, "num_gt": m, "tp": tp,
    }  # fmt: skip
