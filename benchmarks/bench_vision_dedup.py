"""What encoding each distinct image once saves in a GRPO step (dig_kit.models.vision_dedup).

A GRPO batch holds every prompt ``--generations`` times, so without deduplication the vision
tower encodes every image that many times in each pass that sees pixels: the generation
prefill, the reference model's forward and the policy's training forward + backward. This
script times those passes on one batch of ``--prompts`` DiG prompts (two ``--size`` px images
each) x ``--generations`` copies and ``--completion`` completion tokens, on the same model
with and without deduplication (interleaved repeats, median), and prints the ratios.

    python benchmarks/bench_vision_dedup.py                    # the mini profile's model and batch (CPU)
    python benchmarks/bench_vision_dedup.py --model DIR --size 480x320 --generations 5   # any Qwen3-VL
    python benchmarks/bench_vision_dedup.py --grpo-data runs/mini/data --model runs/mini/warm_start/dig/final

With ``--grpo-data`` it also times whole GRPO stage-1 runs of the mini preset (``--grpo-steps``
steps from ``--model``, online filtering on, as in the profile), alternately without and with
deduplication, twice each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="a Qwen3-VL checkpoint dir (default: build the mini model)")
    ap.add_argument("--prompts", type=int, default=8, help="distinct prompts per batch (mini: 8)")
    ap.add_argument("--generations", type=int, default=4, help="completions per prompt (mini: 4; paper: 5)")
    ap.add_argument("--size", default="128x128", help="image size WxH (mini: 128x128)")
    ap.add_argument("--completion", type=int, default=48, help="completion tokens appended to each prompt")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--grpo-data", default=None, help="a rendered mini dataset: also time GRPO stage-1 runs")
    ap.add_argument("--grpo-steps", type=int, default=12, help="steps of each timed GRPO run (mini stage 1: 12)")
    args = ap.parse_args()

    import torch
    from PIL import Image

    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.models.vision_dedup import dedup_vision
    from dig_kit.prompts import chat_messages, dig_prompt

    path = args.model
    if path is None:
        from dig_kit.models.mini import build_mini_model

        path = build_mini_model(tempfile.mkdtemp(prefix="bench-dedup-"))
    w, h = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    pairs = [
        [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for _ in range(2)]
        for _ in range(args.prompts)
    ]
    batch = [p for p in pairs for _ in range(args.generations)]

    model, processor = load_model_and_processor(path, dtype="fp32")
    deduped, _ = load_model_and_processor(path, dtype="fp32")
    assert dedup_vision(deduped) >= 1, "no Qwen3-VL vision tower in this model"
    text = processor.apply_chat_template(chat_messages(dig_prompt(None), 2), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text] * len(batch), images=batch, return_tensors="pt", padding=True)
    completion = torch.randint(100, 200, (len(batch), args.completion))
    full = dict(
        enc,
        input_ids=torch.cat([enc["input_ids"], completion], 1),
        attention_mask=torch.cat([enc["attention_mask"], torch.ones_like(completion)], 1),
    )
    for key in ("mm_token_type_ids", "token_type_ids"):  # text over the completion
        if key in enc:
            full[key] = torch.cat([enc[key], torch.zeros_like(completion)], 1)

    def reference(m):
        with torch.no_grad():
            m(**full)

    def train(m):
        m.zero_grad()
        m(**full).logits[:, -args.completion :].float().logsumexp(-1).mean().backward()

    def prefill(m):
        with torch.no_grad():
            m.generate(**enc, max_new_tokens=1, do_sample=False)

    passes = {"generation prefill": prefill, "reference forward": reference, "training forward+backward": train}
    times = {(name, kind): [] for name in passes for kind in ("all copies", "deduplicated")}
    for name, run in passes.items():
        run(model), run(deduped)  # warm-up
        for _ in range(args.repeats):
            for kind, m in (("all copies", model), ("deduplicated", deduped)):
                t = time.perf_counter()
                run(m)
                times[name, kind].append(time.perf_counter() - t)
    print(
        f"batch: {args.prompts} prompts x {args.generations} completions, 2 images of {w}x{h} each "
        f"({len(batch) * 2} images, {args.prompts * 2} distinct), {args.completion} completion tokens; "
        f"torch threads {torch.get_num_threads()}; median of {args.repeats}"
    )
    total = {"all copies": 0.0, "deduplicated": 0.0}
    for name in passes:
        a, b = (statistics.median(times[name, k]) for k in ("all copies", "deduplicated"))
        total["all copies"] += a
        total["deduplicated"] += b
        print(f"  {name:26s} all copies {a:7.3f} s   deduplicated {b:7.3f} s   {a / b:5.2f}x")
    a, b = total["all copies"], total["deduplicated"]
    print(f"  {'sum of the three passes':26s} all copies {a:7.3f} s   deduplicated {b:7.3f} s   {a / b:5.2f}x")
    if args.grpo_data:
        grpo_runs(args, path)


def grpo_runs(args, model: str) -> None:
    """Whole GRPO stage-1 runs of the mini preset, alternately without and with deduplication."""
    import shutil

    import dig_kit.models.vision_dedup as vd
    from dig_kit.config import load_config
    from dig_kit.train.grpo import run_stage

    keep = vd.dedup_vision
    cfg = load_config(
        "mini", [f"train.model={model}", f"train.stage_steps=[{args.grpo_steps},1,1]", "train.save_steps=1000"]
    )
    walls = {"all copies": [], "deduplicated": []}
    for kind in ("all copies", "deduplicated") * 2:
        vd.dedup_vision = keep if kind == "deduplicated" else (lambda m: 0)  # the trainer looks it up at init
        out = tempfile.mkdtemp(prefix="bench-dedup-grpo-")
        t = time.perf_counter()
        run_stage(cfg, 1, args.grpo_data, out)
        walls[kind].append(time.perf_counter() - t)
        shutil.rmtree(out)
    vd.dedup_vision = keep
    a, b = (statistics.mean(walls[k]) for k in ("all copies", "deduplicated"))
    print(
        f"GRPO stage 1 of the mini preset, {args.grpo_steps} steps (model load to final weights, mean of 2): "
        f"all copies {a:.1f} s, deduplicated {b:.1f} s, {a / b:.2f}x "
        f"(runs: {', '.join(f'{k} {v:.1f} s' for k in walls for v in walls[k])})"
    )


if __name__ == "__main__":
    main()
