"""`import dig_kit` and its pure modules never import bpy, torch, trl, transformers or vllm."""

import subprocess
import sys

HEAVY = ("bpy", "torch", "trl", "transformers", "vllm")
LIGHT = [
    "dig_kit",
    "dig_kit.config",
    "dig_kit.scenes",
    "dig_kit.paper.figures",
    "dig_kit.paper.gallery",
    "dig_kit.render",
    "dig_kit.render.pairs",
    "dig_kit.data.writer",
    "dig_kit.paper.pipeline",
    "dig_kit.cli",
    "dig_kit.rewards",
    "dig_kit.prompts",
    "dig_kit.paper.dynamics",
    "dig_kit.train",
    "dig_kit.evaluation",
    "dig_kit.evaluation.cli",
    "dig_kit.paper.tables",
    "dig_kit.paper.twin_report",
    "dig_kit.paper.ablations",
    "dig_kit.paper.artifacts",
    "dig_kit.data",
    "dig_kit.data.reader",
    "dig_kit.data.exports",
    "dig_kit.render.pool",
    "dig_kit.models",
    "dig_kit.paper",
]


def test_pure_modules_stay_light():
    code = (
        "import importlib, sys\n"
        f"for m in {LIGHT!r}: importlib.import_module(m)\n"
        f"print(' '.join(h for h in {HEAVY!r} if h in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
