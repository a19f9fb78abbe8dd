"""`import dig_kit` and its pure modules never import bpy, torch, trl, transformers or vllm."""

import subprocess
import sys

HEAVY = ("bpy", "torch", "trl", "transformers", "vllm")
LIGHT = [
    "dig_kit", "dig_kit.config", "dig_kit.scenes", "dig_kit.figures", "dig_kit.gallery",
    "dig_kit.render", "dig_kit.render.pairs", "dig_kit.render.dataset", "dig_kit.pipeline",
    "dig_kit.cli", "dig_kit.rewards", "dig_kit.prompts", "dig_kit.dynamics", "dig_kit.train",
    "dig_kit.evaluation", "dig_kit.evaluation.cli", "dig_kit.evaluation.tables", "dig_kit.twin",
    "dig_kit.ablations", "dig_kit.artifacts",
]


def test_pure_modules_stay_light():
    code = (
        "import importlib, sys\n"
        f"for m in {LIGHT!r}: importlib.import_module(m)\n"
        f"print(' '.join(h for h in {HEAVY!r} if h in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
