"""IoU and Hungarian matching between predicted and ground-truth boxes, one response or a batch.

The DiG reward matches predictions to ground truth with the assignment that maximises the
total IoU (``scipy.optimize.linear_sum_assignment``). Of that matching the reward needs two
numbers: the summed IoU of the matched pairs and the number of true positives (matched pairs
with IoU >= tau).

Fast path, and why it is exact
------------------------------
``sum_i max_j IoU[i, j]`` is an upper bound on the total IoU of *any* assignment (each row
contributes at most its maximum). If the rows with a positive maximum have pairwise distinct
arg-max columns, giving every such row its arg-max column (and zero rows whatever is left)
reaches the bound, so it *is* a maximum assignment. Better: every maximum assignment must then
give each positive row exactly its row maximum, so the multiset of matched IoUs, hence the
true-positive count, is the same for all optimal assignments, ties included. The same
argument holds with columns and column maxima. :func:`match_stats_batch` checks both
conditions for a whole GRPO group at once in numpy and calls scipy only for the responses
that fail both (e.g. two predictions that each overlap two ground-truth boxes best at the same
one). Tests compare it with the plain scipy path on random cases. :func:`match_stats_one` does
the same for one response in plain Python (numpy's per-call cost outweighs a few boxes).

Matched pairs: a Hungarian assignment on an ``N x M`` matrix always has ``min(N, M)`` pairs;
pairs with IoU 0 are matched too (they add 0 to the sum and are never true positives for
tau > 0). IoU is continuous (no "+1 pixel"); a pair whose union is empty has IoU 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from .geometry import box_iou, iou_arrays, iou_matrix

# Responses with more predictions than this go to scipy one by one instead of being padded
# into the batch arrays (a policy that writes 10^4 boxes must not make the batch 10^4 wide).
MAX_BATCHED_BOXES = 16


class MatchStats(NamedTuple):
    """Per response: summed IoU of the matched pairs, true positives, number of matched pairs."""

    sum_iou: np.ndarray
    tp: np.ndarray
    matched: np.ndarray


def hungarian(iou: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the assignment maximising the total IoU (scipy)."""
    iou = np.asarray(iou, dtype=np.float64)
    if iou.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    return linear_sum_assignment(iou, maximize=True)


def match_stats(iou: np.ndarray, iou_threshold: float = 0.5) -> tuple[float, int, int]:
    """``(sum_iou, tp, matched)`` of one IoU matrix via scipy's Hungarian algorithm (reference)."""
    rows, cols = hungarian(iou)
    vals = np.asarray(iou)[rows, cols]
    return float(vals.sum()), int((vals >= iou_threshold).sum()), int(len(rows))


def _greedy_rows(iou: list[list[float]], tau: float) -> tuple[float, int] | None:
    """One response's ``(sum, TP)`` of the rows' maxima if their positive arg-maxes are distinct
    (then that is the optimum, see the module docstring), else ``None``."""
    seen = set()
    total, tp = 0.0, 0
    for row in iou:
        best = max(row)
        if best > 0:
            j = row.index(best)
            if j in seen:
                return None
            seen.add(j)
            total += best
            tp += best >= tau
    return total, tp


def match_stats_one(
    pred: Sequence[Sequence[float]], gt: Sequence[Sequence[float]], iou_threshold: float = 0.5
) -> tuple[float, int, int]:
    """``(sum_iou, tp, matched)`` of one response's valid pixel boxes, in plain Python: the
    exact fast path on rows, then on columns, else scipy; equal to :func:`match_stats`."""
    matched = min(len(pred), len(gt))
    if not matched:
        return 0.0, 0, 0
    iou = [[box_iou(p, g) for g in gt] for p in pred]
    res = _greedy_rows(iou, iou_threshold)
    if res is None:
        res = _greedy_rows([list(col) for col in zip(*iou)], iou_threshold)
    if res is None:
        res = match_stats(iou, iou_threshold)[:2]
    sum_iou, tp = res
    return sum_iou, (matched if iou_threshold <= 0 else tp), matched


def _greedy_exact(iou: np.ndarray, axis: int, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a padded ``(B, N, M)`` batch, the maxima along ``axis`` (2: per row, 1: per column),
    whether their positive arg-maxes are distinct (the exactness condition), and their sum/TP."""
    best = iou.max(axis=axis)  # (B, N) for rows, (B, M) for columns
    arg = iou.argmax(axis=axis)
    pos = best > 0
    other = iou.shape[axis]
    hits = (arg[:, :, None] == np.arange(other)) & pos[:, :, None]
    ok = hits.sum(axis=1).max(axis=1, initial=0) <= 1
    sum_iou = np.where(pos, best, 0.0).sum(axis=1)
    tp = ((best >= tau) & pos).sum(axis=1)
    return ok, sum_iou, tp


def match_stats_batch(
    pred: np.ndarray,
    pred_owner: np.ndarray,
    gt: np.ndarray,
    gt_owner: np.ndarray,
    batch_size: int,
    iou_threshold: float = 0.5,
) -> MatchStats:
    """Hungarian match statistics for a batch of responses at once.

    ``pred`` ``(K, 4)`` are the valid predicted boxes of all responses, ``pred_owner`` ``(K,)``
    the (non-decreasing) response index of each; ``gt``/``gt_owner`` likewise for ground truth.
    Returns per-response summed matched IoU, true positives (IoU >= ``iou_threshold``) and
    number of matched pairs ``min(N, M)``; equal to scipy's result on each response.
    """
    tau = float(iou_threshold)
    n = np.bincount(pred_owner, minlength=batch_size)
    m = np.bincount(gt_owner, minlength=batch_size)
    matched = np.minimum(n, m)
    sum_iou = np.zeros(batch_size)
    tp = np.zeros(batch_size, dtype=np.int64)
    if not matched.any():
        return MatchStats(sum_iou, tp, matched)

    small = (n <= MAX_BATCHED_BOXES) & (m <= MAX_BATCHED_BOXES) & (matched > 0)
    big = np.flatnonzero((matched > 0) & ~small)
    n_start = np.cumsum(n) - n
    m_start = np.cumsum(m) - m

    if small.any():
        keep_p = small[pred_owner]
        keep_g = small[gt_owner]
        idx = np.flatnonzero(small)
        remap = np.full(batch_size, -1)
        remap[idx] = np.arange(len(idx))
        nmax, mmax = int(n[idx].max()), int(m[idx].max())
        P = np.zeros((len(idx), nmax, 4))
        G = np.zeros((len(idx), mmax, 4))
        po, go = pred_owner[keep_p], gt_owner[keep_g]
        P[remap[po], np.flatnonzero(keep_p) - n_start[po]] = pred[keep_p]
        G[remap[go], np.flatnonzero(keep_g) - m_start[go]] = gt[keep_g]
        iou = iou_arrays(P[:, :, None, :], G[:, None, :, :])  # padded entries are 0
        row_ok, row_sum, row_tp = _greedy_exact(iou, 2, tau)
        col_ok, col_sum, col_tp = _greedy_exact(iou, 1, tau)
        sum_iou[idx] = np.where(row_ok, row_sum, col_sum)
        tp[idx] = np.where(row_ok, row_tp, col_tp)
        for k in np.flatnonzero(~(row_ok | col_ok)):
            b = idx[k]
            s, t, _ = match_stats(iou[k, : n[b], : m[b]], tau)
            sum_iou[b], tp[b] = s, t
    for b in big:
        s, t, _ = match_stats(iou_matrix(pred[n_start[b] : n_start[b] + n[b]], gt[m_start[b] : m_start[b] + m[b]]), tau)
        sum_iou[b], tp[b] = s, t
    if tau <= 0:  # every matched pair counts, including IoU-0 pairs of zero rows
        tp = matched.astype(np.int64)
    return MatchStats(sum_iou, tp, matched)
