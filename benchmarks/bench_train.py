"""GRPO step time, rollout throughput and peak GPU memory of the paper preset.

The policy is randomly initialised with the published Qwen3-VL-4B architecture (text: 36
layers, width 2560, 32 heads / 8 KV heads, head_dim 128, MLP 9728, vocab 151936; vision: 24
blocks, width 1024, deepstack [5, 11, 17]), so no weights are downloaded; the tokenizer and
processor are the kit's offline ones with Qwen3-VL's image geometry (patch 16, merge 2). The
prompts are real rendered DiG pairs (two 480x320 images) if ``--data`` is given, else
synthetic images of that size. A random policy scores 0, so online filtering is off here.

    python benchmarks/bench_train.py --data runs/paper/data --steps 3            # GPU, HF generate
    python benchmarks/bench_train.py --data runs/paper/data --steps 3 --vllm     # vLLM colocate rollouts
    python benchmarks/bench_train.py --tiny --steps 2                             # CPU smoke of the script

Prints seconds per optimizer step, rollout tokens per second and peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

QWEN3_VL_4B = dict(
    text_config=dict(
        vocab_size=151936,
        hidden_size=2560,
        intermediate_size=9728,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=262144,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [24, 20, 20],
            "mrope_interleaved": True,
        },
        tie_word_embeddings=True,
    ),
    vision_config=dict(
        depth=24,
        hidden_size=1024,
        intermediate_size=4096,
        num_heads=16,
        patch_size=16,
        spatial_merge_size=2,
        temporal_patch_size=2,
        out_hidden_size=2560,
        num_position_embeddings=2304,
        deepstack_visual_indexes=[5, 11, 17],
    ),
    tie_word_embeddings=True,
)


def build_random_4b(out: Path) -> Path:
    """Save a random Qwen3-VL-4B-shaped model with the kit's offline processor."""
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    from dig_kit.models.loading import image_only_processor
    from dig_kit.models.tiny import SPECIAL_TOKENS, build_image_processor, build_tokenizer

    tok = build_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    cfg = Qwen3VLConfig(
        **QWEN3_VL_4B,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    cfg.text_config.eos_token_id = ids["<|im_end|>"]
    cfg.text_config.pad_token_id = ids["<|endoftext|>"]
    torch.set_default_dtype(torch.bfloat16)
    model = Qwen3VLForConditionalGeneration(cfg)
    torch.set_default_dtype(torch.float32)
    model.save_pretrained(out)
    image_only_processor(build_image_processor(max_pixels=480 * 320), tok).save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="a rendered dataset dir (default: render a small one)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8, help="prompts per step (x n=5 rollouts)")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--vllm", action="store_true", help="vLLM colocate rollouts")
    ap.add_argument("--tiny", action="store_true", help="the tiny model on CPU (checks the script only)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch

    from dig_kit.config import load_config
    from dig_kit.models.tiny import build_tiny_model
    from dig_kit.train.grpo import run_stage

    if not args.tiny and not torch.cuda.is_available():
        raise SystemExit("bench_train: no CUDA GPU here; run on a GPU machine, or --tiny for a CPU check of the script")
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    model = build_tiny_model(tmp / "model") if args.tiny else build_random_4b(tmp / "model")
    data = args.data
    if data is None:
        from dig_kit.data.writer import render_dataset

        data = tmp / "data"
        render_dataset(
            load_config("smoke" if args.tiny else "paper", ["data.render.device=auto"]),
            data,
            subsets=["stage1"],
            num_pairs=max(args.prompts, 4),
            progress=False,
        )
    overrides = [
        f"train.model={model}",
        f"train.stage_steps=[{args.steps}, 1, 1]",
        "train.filter_enabled=false",
        f"train.prompts_per_step={args.prompts}",
        "train.num_generations=5",
        "train.per_device_batch=5",
        f"train.max_completion_length={args.max_new_tokens}",
        f"train.use_vllm={str(args.vllm).lower()}",
        "train.save_steps=100000",
        "train.val_every=0",
    ]
    if args.tiny:
        overrides += ["train.bf16=false", "train.gradient_checkpointing=false"]
    cfg = load_config("smoke" if args.tiny else "paper", overrides)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    run_stage(cfg, 1, data, tmp / "run")
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in (tmp / "run" / "stage1" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r.get("split") == "train"]
    steady = rows[1:] or rows  # the first step pays compilation / allocator warm-up
    step_s = sum(r["step_time_s"] for r in steady) / len(steady)
    tokens = args.prompts * 5 * sum(r.get("response_length", 0) for r in steady) / len(steady)
    out = {
        "model": "tiny random Qwen3-VL" if args.tiny else "random Qwen3-VL-4B architecture (bf16)",
        "rollouts": "vllm colocate" if args.vllm else "transformers generate",
        "prompts_per_step": args.prompts,
        "group_size": 5,
        "max_new_tokens": args.max_new_tokens,
        "seconds_per_step": step_s,
        "rollout_tokens_per_s": tokens / step_s if step_s else 0.0,
        "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
        "wall_s_including_load": wall,
    }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
