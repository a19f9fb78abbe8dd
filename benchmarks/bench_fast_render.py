"""Speed of the fast shaded renderer and of the pretraining example stream, on one CPU core.

On the same sampled scenes of the mini profile (``--size`` x ``--size`` images):

- ``index pass``: :func:`dig_kit.scenes.raycast.index_pass`, one ray per pixel, no shading (the
  baseline: the ray cast the pair renderer already runs before every Cycles render);
- ``fast ss1`` / ``fast ss2``: :func:`dig_kit.scenes.shaded.render` at ``supersample`` 1 and 2
  (2 is what pretraining renders: 4 rays per pixel, shading, the key light's shadows), each
  with its ratio to the index pass;

then the cost of one example of :func:`dig_kit.train.pretrain.phase_examples` per phase
(scene or pair sampling, renders, boxes and the prompt and answer; no tokenizing), which bounds
what one DataLoader worker feeds the training loop.

    .venv/bin/python benchmarks/bench_fast_render.py                  # 50 scenes, 128 px, 100 examples a phase
    .venv/bin/python benchmarks/bench_fast_render.py --scenes 10 --examples 40 --json /tmp/fast.json
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from dig_kit.config import load_config  # noqa: E402
from dig_kit.scenes import raycast, shaded  # noqa: E402
from dig_kit.scenes.sampling import sample_scene  # noqa: E402
from dig_kit.scenes.spec import SceneError  # noqa: E402
from dig_kit.train.pretrain import PHASES, phase_examples  # noqa: E402


def sampled_scenes(kit, n: int, seed: int = 0) -> list:
    scenes = []
    while len(scenes) < n:
        try:
            scenes.append(sample_scene(kit.data.scene, np.random.default_rng(seed)))
        except SceneError:  # a draw that cannot place its objects
            pass
        seed += 1
    return scenes


def time_per_image(fn, scenes) -> float:
    fn(scenes[0])  # warm-up (imports, first allocations)
    t = time.perf_counter()
    for scene in scenes:
        fn(scene)
    return (time.perf_counter() - t) / len(scenes)


def time_per_example(kit, phase: str, n: int, seed: int = 0) -> float:
    stream = phase_examples(kit, phase, np.random.default_rng(seed), random.Random(seed), 4)
    next(stream)  # warm-up
    t = time.perf_counter()
    for _ in range(n):
        next(stream)
    return (time.perf_counter() - t) / n


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=50, help="scenes rendered by each method (default 50)")
    ap.add_argument("--size", type=int, default=128, help="image width and height in pixels (default 128)")
    ap.add_argument("--examples", type=int, default=100, help="examples drawn per pretraining phase (default 100)")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args(argv)

    # the scenes and the example stream do not depend on the mini preset's shipped backbone
    kit = load_config(
        "mini", {"warm_start.backbone": "", "data.render.width": args.size, "data.render.height": args.size}
    )
    w = h = args.size
    scenes = sampled_scenes(kit, args.scenes)
    methods = {
        "index pass": lambda s: raycast.index_pass(s, w, h),
        "fast ss1": lambda s: shaded.render(s, w, h, shaded.Look(), None, supersample=1),
        "fast ss2": lambda s: shaded.render(s, w, h, shaded.Look(), None, supersample=2),
    }
    per_image = {name: time_per_image(fn, scenes) for name, fn in methods.items()}
    per_example = {phase: time_per_example(kit, phase, args.examples) for phase in PHASES}

    base = per_image["index pass"]
    result = {
        "scenes": args.scenes,
        "size": args.size,
        "objects_per_scene": round(float(np.mean([len(s.objects) for s in scenes])), 2),
        "render_ms": {k: round(v * 1e3, 2) for k, v in per_image.items()},
        "images_per_s": {k: round(1 / v, 1) for k, v in per_image.items()},
        "ratio_to_index_pass": {k: round(v / base, 2) for k, v in per_image.items()},
        "examples": args.examples,
        "example_ms": {k: round(v * 1e3, 2) for k, v in per_example.items()},
        "examples_per_s": {k: round(1 / v, 1) for k, v in per_example.items()},
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
    }
    print(
        f"Fast renderer, one core: {args.scenes} mini scenes ({result['objects_per_scene']} objects on average), "
        f"{w}x{h} px"
    )
    for name, t in per_image.items():
        print(f"  {name:<11} {t * 1e3:8.2f} ms/image {1 / t:8.1f} images/s   {t / base:6.2f}x the index pass")
    print(f"Pretraining examples (dig_kit.train.pretrain.phase_examples), one core, {args.examples} per phase")
    for phase, t in per_example.items():
        print(f"  {phase:<11} {t * 1e3:8.2f} ms/example {1 / t:8.1f} examples/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
