"""Throughput of the DiG reward: scored responses per second on one CPU core.

Realistic outputs (a thinking trace of ~600 characters, ``</think>``, ``<answer>`` with 0-6
boxes in the styles models write: JSON list, fenced block with ``//`` comments, Qwen
``bbox_2d`` objects, bare sequence) against 1-4 ground-truth boxes, in GRPO groups sharing a
ground truth. Compared in the same run:

- ``batch``: :func:`dig_kit.rewards.dig_reward_batch` over the whole rollout batch at once
  (what the trl/EasyR1 adapters do every step);
- ``group``: :func:`dig_kit.rewards.dig_reward_group`, one call per GRPO group;
- ``single``: :func:`dig_kit.rewards.dig_reward`, one call per response;
- ``baseline``: :func:`dig_kit.rewards.dig_reward_reference`, the straightforward per-response
  implementation (``json.loads``, pair-by-pair Python IoU, scipy Hungarian every time).

All four must give the same rewards (checked). Target: >= 50,000 responses/s for ``batch``.

    python benchmarks/bench_rewards.py                      # defaults: 20,000 responses, groups of 5
    python benchmarks/bench_rewards.py --responses 5000 --json /tmp/bench.json
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from dig_kit.paper.synthetic_outputs import random_completions, random_gt_boxes  # noqa: E402
from dig_kit.rewards import dig_reward, dig_reward_batch, dig_reward_group, dig_reward_reference  # noqa: E402

IMAGE_SIZE = (480, 320)


def make_workload(responses: int, group_size: int, seed: int):
    """GRPO groups of realistic outputs: (completions, gt per response, sizes, groups)."""
    rng = np.random.default_rng(seed)
    texts, gts, groups = [], [], []
    for _ in range(max(1, responses // group_size)):
        gt = random_gt_boxes(rng, int(rng.integers(1, 5)), IMAGE_SIZE)
        group = random_completions(rng, gt, group_size, max_pred=6, image_size=IMAGE_SIZE)
        groups.append((group, gt))
        texts += group
        gts += [gt] * group_size
    return texts, gts, [IMAGE_SIZE] * len(texts), groups


def best_rate(fn, n: int, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return n / best, out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--responses", type=int, default=20_000)
    p.add_argument("--group-size", type=int, default=5, help="GRPO rollout n (paper: 5)")
    p.add_argument("--repeats", type=int, default=3, help="best of this many timed runs")
    p.add_argument("--baseline-responses", type=int, default=4_000, help="the slow paths time a prefix of this size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):  # one core, as the target says
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    texts, gts, sizes, groups = make_workload(args.responses, args.group_size, args.seed)
    n = len(texts)
    k = min(args.baseline_responses, n)
    g = max(1, k // args.group_size)
    avg_len = sum(map(len, texts)) / n
    avg_pred = float(np.mean(dig_reward_batch(texts, gts, sizes)["num_pred"]))

    rates = {}
    rates["batch"], batch = best_rate(lambda: dig_reward_batch(texts, gts, sizes), n, args.repeats)
    rates["group"], _ = best_rate(
        lambda: [dig_reward_group(t, gt, IMAGE_SIZE) for t, gt in groups[:g]], g * args.group_size, args.repeats
    )
    rates["single"], _ = best_rate(
        lambda: [dig_reward(t, gt, s) for t, gt, s in zip(texts[:k], gts, sizes)], k, args.repeats
    )
    rates["baseline"], base = best_rate(
        lambda: [dig_reward_reference(t, gt, s) for t, gt, s in zip(texts[:k], gts, sizes)], k, args.repeats
    )
    max_diff = max(abs(batch["overall"][i] - base[i]["overall"]) for i in range(k))

    result = {
        "responses": n,
        "group_size": args.group_size,
        "mean_chars": round(avg_len, 1),
        "mean_pred_boxes": round(avg_pred, 2),
        "responses_per_s": {name: round(r) for name, r in rates.items()},
        "speedup_batch_vs_baseline": round(rates["batch"] / rates["baseline"], 1),
        "max_abs_diff_vs_baseline": max_diff,
        "target_50k_met": rates["batch"] >= 50_000,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
    }
    print(
        f"DiG reward throughput, one core ({n} responses, {result['mean_chars']:.0f} chars, "
        f"{avg_pred:.1f} boxes on average)"
    )
    for name, r in rates.items():
        print(f"  {name:<9} {r:>10,.0f} responses/s")
    print(f"  batch / baseline: {result['speedup_batch_vs_baseline']}x; max |diff| vs baseline: {max_diff:.2e}")
    print(f"  target >= 50,000 responses/s: {'met' if result['target_50k_met'] else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
