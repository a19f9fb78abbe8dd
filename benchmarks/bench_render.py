"""Rendering speed and quality of the default (fast) preset, in one run.

Prints:
- seconds per image and per pair of the dataset writer (persistent workers, visibility
  resampling included: attempts rejected on the ray-cast index passes cost no render), renders
  per pair, and the share of wall time spent outside Cycles' render call;
- PSNR of the default preset against a 512-sample non-adaptive, non-denoised reference
  render of the same scenes, and the speed ratio between the two;
- the projected time of the paper's ~4.8K training pairs on this machine with ``--workers``
  Blender workers (the cores split between them), from the pairs' steady-state throughput.

Targets (issue "Foundation"): >= 30x faster at >= 40 dB, overhead <= 10% of wall time,
4.8K pairs <= 3 h on a 2-core machine.

    .venv/bin/python benchmarks/bench_render.py --scenes 2 --pairs 16 --workers 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from dig_kit.config import from_dict, load_config, to_dict
from dig_kit.data.writer import render_dataset
from dig_kit.scenes import sample_pair


def psnr(a: Path, b: Path) -> float:
    x = np.asarray(Image.open(a), dtype=np.float64)
    y = np.asarray(Image.open(b), dtype=np.float64)
    mse = np.mean((x - y) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def quality(cfg, ref_cfg, n_scenes: int, ref_samples: int, tmp: Path) -> list[dict]:
    """Render ``n_scenes`` scenes with the preset and the reference; their times and PSNR."""
    from dig_kit.render.blender import BlenderRenderer

    scenes = [sample_pair(cfg.data, 10_000 + k, 1, 1).before for k in range(n_scenes)]
    times: dict[str, list[float]] = {"fast": [], "ref": []}
    for tag, rcfg in (("fast", cfg), ("ref", ref_cfg)):  # one Blender session per process at a time
        renderer = BlenderRenderer(rcfg.data.render, tmp / tag)
        if tag == "fast":  # the first render of a session pays one-time setup (negligible next to 512 spp)
            renderer.render(scenes[0], tmp / "warmup.png")
        for k, scene in enumerate(scenes):
            renderer.render(scene, tmp / f"{tag}{k}.png")
            times[tag].append(renderer.last_render_seconds)
    rows = []
    for k in range(n_scenes):
        t_fast, t_ref = times["fast"][k], times["ref"][k]
        rows.append(
            {"scene": k, "fast_s": t_fast, "ref_s": t_ref, "psnr_db": psnr(tmp / f"fast{k}.png", tmp / f"ref{k}.png")}
        )
        print(
            f"scene {k}: fast {t_fast:.2f}s  reference({ref_samples} spp) {t_ref:.1f}s  "
            f"speedup {t_ref / t_fast:.1f}x  PSNR {rows[-1]['psnr_db']:.1f} dB",
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--scenes", type=int, default=2, help="scenes for the quality/speed comparison")
    ap.add_argument("--pairs", type=int, default=8, help="pairs for the dataset-writer timing")
    ap.add_argument("--workers", type=int, default=1, help="Blender workers of the dataset-writer timing")
    ap.add_argument("--ref-samples", type=int, default=512)
    ap.add_argument("--set", dest="overrides", action="append", default=["data.render.device=cpu"])
    ap.add_argument("--writer-only", action="store_true", help="skip the quality comparison (time the writer only)")
    ap.add_argument("--json", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()

    cfg = load_config(args.preset, args.overrides)
    ref_cfg = from_dict(to_dict(cfg))
    ref_cfg.data.render.samples = args.ref_samples
    ref_cfg.data.render.adaptive = False
    ref_cfg.data.render.denoise = False
    ref_cfg.data.render.sampling_pattern = "automatic"  # the same reference whatever the preset's pattern
    tmp = Path(tempfile.mkdtemp(prefix="bench_render_"))
    rows = [] if args.writer_only else quality(cfg, ref_cfg, args.scenes, args.ref_samples, tmp)

    summary = render_dataset(
        cfg, tmp / "ds", subsets=["stage3"], num_pairs=args.pairs, workers=args.workers, progress=False
    )
    n_img = summary["renders"]
    per_pair = summary["pair_wall_s"] / max(summary["rendered"], 1) / args.workers  # workers run pairs side by side
    out = {
        "preset": args.preset,
        "resolution": f"{cfg.data.render.width}x{cfg.data.render.height}",
        "samples": cfg.data.render.samples,
        "sampling_pattern": cfg.data.render.sampling_pattern,
        "workers": args.workers,
        **(
            {}
            if not rows
            else {
                "speedup_vs_reference": float(
                    np.mean([r["ref_s"] for r in rows]) / np.mean([r["fast_s"] for r in rows])
                ),
                "psnr_db_mean": float(np.mean([r["psnr_db"] for r in rows])),
                "psnr_db_min": float(np.min([r["psnr_db"] for r in rows])),
            }
        ),
        "seconds_per_image": summary["render_s"] / max(n_img, 1),
        "seconds_per_pair": per_pair,
        "renders_per_pair": n_img / max(summary["rendered"], 1),
        "attempts_skipped_unrendered_per_pair": summary["skipped_unrendered"] / max(summary["rendered"], 1),
        "run_wall_s": summary["wall_s"],
        "overhead_share_per_pair": 1 - summary["render_s"] / summary["pair_wall_s"],
        "overhead_share_run": 1 - summary["render_s"] / (summary["wall_s"] * args.workers),
        "projected_hours_4800_pairs": per_pair * 4800 / 3600,
    }
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": out, "scenes": rows}, indent=1))


if __name__ == "__main__":
    main()
