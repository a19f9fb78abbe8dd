"""Evaluation throughput: vLLM against transformers ``generate`` on the same items and model.

Both backends get the same prompts and images (the DiG prompt with a before/after pair, or a
one-image yes/no question) and generate exactly ``--max-new-tokens`` tokens per item
(``ignore_eos``, so a random model's early stops do not distort the comparison), greedy.
Reported per backend: model load time, items per second and generated tokens per second
over the timed run (after a 2-item warm-up). transformers runs first (batches of
``--batch-size``, left padding), its model is freed, then vLLM gets all items at once
(continuous batching). Without vLLM (CPU machines) its row says "vllm not installed" and the
transformers numbers are still measured.

The model: ``--model DIR`` (any Qwen3-VL checkpoint), or one built here with random
weights: ``--preset tiny`` (the kit's tiny Qwen3-VL: 2 layers of width 64) or ``--preset 4b``
(Qwen3-VL-4B's published architecture: text 36 layers x 2560, GQA 32/8 heads, vision 24
blocks x 1024, DeepStack at 5/11/17; the vocabulary is the tiny tokenizer's, so the LM head
is smaller than the real one's).

    python benchmarks/bench_eval.py                                   # CPU: tiny model, 8 items
    python benchmarks/bench_eval.py --preset 4b --items 256 --max-new-tokens 256 --json bench.json   # GPU
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

PRESET_4B = {
    "text_config": {
        "hidden_size": 2560,
        "intermediate_size": 9728,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 32768,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [24, 20, 20],
            "mrope_interleaved": True,
        },
    },
    "vision_config": {
        "depth": 24,
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_heads": 16,
        "out_hidden_size": 2560,
        "num_position_embeddings": 2304,
        "deepstack_visual_indexes": [5, 11, 17],
    },
}


def build_model(preset: str, work: Path) -> Path:
    """A random Qwen3-VL checkpoint: the kit's tiny one, or the tiny one's tokenizer/processor
    with the 4B architecture (bf16 weights)."""
    from dig_kit.models.tiny import build_tiny_model

    out = build_tiny_model(work / f"model-{preset}", max_pixels=448 * 448 if preset == "4b" else 128 * 128)
    if preset == "tiny":
        return out
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    cfg = json.loads((out / "config.json").read_text())
    for part in ("text_config", "vision_config"):
        cfg[part].update(PRESET_4B[part])
    config = Qwen3VLConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "transformers_version")})
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen3VLForConditionalGeneration(config).to(torch.bfloat16)
    gen = json.loads((out / "generation_config.json").read_text())
    model.generation_config.update(
        **{k: v for k, v in gen.items() if not k.startswith("_") and k != "transformers_version"}
    )
    model.save_pretrained(out)
    del model
    return out


def make_items(n: int, images_per_item: int, size: int, seed: int) -> list[dict]:
    from PIL import Image

    from dig_kit.prompts import dig_prompt

    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        imgs = [Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(images_per_item)]
        prompt = (
            dig_prompt(None) if images_per_item == 2 else "Is there a red cube in the image? Please answer yes or no."
        )
        items.append({"id": str(i), "images": imgs, "prompt": prompt})
    return items


def run_backend(name: str, model: Path, items: list[dict], args) -> dict:
    from dig_kit.evaluation.backends import generate_detailed, get_backend

    if name == "vllm" and importlib.util.find_spec("vllm") is None:
        return {"backend": name, "status": "vllm not installed"}
    opts = {"ignore_eos": True, "max_images": args.images_per_item}
    if name == "transformers":
        opts["batch_size"] = args.batch_size
    else:
        opts["gpu_memory_utilization"] = args.gpu_memory_utilization
    t0 = time.perf_counter()
    backend = get_backend(name, str(model), **opts)
    load = time.perf_counter() - t0
    generate_detailed(backend, items[:2], args.max_new_tokens, 0.0)  # warm-up (compilation, caches)
    t0 = time.perf_counter()
    gens = generate_detailed(backend, items, args.max_new_tokens, 0.0)
    dt = time.perf_counter() - t0
    tokens = sum(g.num_tokens or 0 for g in gens)
    del backend
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
    return {
        "backend": name,
        "status": "ok",
        "load_s": round(load, 2),
        "seconds": round(dt, 3),
        "items_per_s": round(len(items) / dt, 3),
        "tokens_per_s": round(tokens / dt, 1),
        "mean_new_tokens": round(tokens / len(items), 1),
    }


def device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"CPU ({platform.processor() or platform.machine()})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="a Qwen3-VL checkpoint dir (default: build one with --preset)")
    p.add_argument("--preset", choices=("tiny", "4b"), default="tiny", help="random model to build when no --model")
    p.add_argument("--items", type=int, default=8)
    p.add_argument("--images-per-item", type=int, choices=(1, 2), default=2)
    p.add_argument("--image-size", type=int, default=128, help="square images of this many pixels a side")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=8, help="transformers batch size")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.6, help="vLLM's share of GPU memory")
    p.add_argument("--backends", default="vllm,transformers")
    p.add_argument("--work", default=None, help="where to build the model (default: a temp dir)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_eval_"))
    model = Path(args.model) if args.model else build_model(args.preset, work)
    items = make_items(args.items, args.images_per_item, args.image_size, seed=0)
    order = [b for b in ("transformers", "vllm") if b in args.backends.split(",")]
    rows = [run_backend(b, model, items, args) for b in order]
    info = {
        "device": device_name(),
        "model": str(model) if args.model else f"random Qwen3-VL ({args.preset})",
        "items": args.items,
        "images_per_item": args.images_per_item,
        "image_size": args.image_size,
        "max_new_tokens": args.max_new_tokens,
        "results": rows,
    }
    print(
        f"{info['model']} on {info['device']}: {args.items} items x {args.images_per_item} image(s) "
        f"{args.image_size}px, {args.max_new_tokens} new tokens each"
    )
    print(f"{'backend':<13} {'load s':>7} {'items/s':>9} {'tokens/s':>10}")
    for r in rows:
        if r["status"] != "ok":
            print(f"{r['backend']:<13} {r['status']}")
        else:
            print(f"{r['backend']:<13} {r['load_s']:>7} {r['items_per_s']:>9} {r['tokens_per_s']:>10}")
    ok = {r["backend"]: r for r in rows if r["status"] == "ok"}
    if len(ok) == 2:
        print(f"vllm / transformers: {ok['vllm']['tokens_per_s'] / ok['transformers']['tokens_per_s']:.1f}x tokens/s")
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
