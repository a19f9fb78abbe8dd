"""``dig-kit probe``: which coordinate convention a model's boxes follow."""

import json
import subprocess
import sys

import pytest

from dig_kit.evaluation.probe import coordinate_report

ROWS = [
    {"boxes": [[48, 32, 96, 96]], "width": 480, "height": 320},
    {"boxes": [[240, 160, 300, 240], [10, 10, 50, 40]], "width": 480, "height": 320},
]


def _answer(boxes):
    return "<think>look</think>" + json.dumps(boxes)


def _rel1000(box, w=480, h=320):
    return [round(box[0] * 1000 / w), round(box[1] * 1000 / h), round(box[2] * 1000 / w), round(box[3] * 1000 / h)]


def test_pixel_answers_are_recognised_as_pixels():
    report = coordinate_report([_answer(r["boxes"]) for r in ROWS], ROWS)
    assert report["boxes"] == 3 and report["share_beyond_image"] == 0
    assert report["recommended"] == "abs" and report["set"] == "--set train.reward.coord_format=abs"
    assert report["reward"]["abs"]["accuracy"] > 0.9 > report["reward"]["rel1000"]["accuracy"]


def test_qwen_style_0_1000_answers_are_recognised():
    outputs = [_answer([_rel1000(b) for b in r["boxes"]]) for r in ROWS]
    report = coordinate_report(outputs, ROWS)
    assert report["share_beyond_image"] > 0  # y = 500..750 cannot be pixels of a 320-high image
    assert report["recommended"] == "rel1000"
    assert report["reward"]["rel1000"]["accuracy"] > 0.9 and report["reward"]["abs"]["accuracy"] < 0.5


def test_no_boxes_no_recommendation():
    report = coordinate_report(["<think>hmm</think>none", "</think>"], ROWS)
    assert report["boxes"] == 0 and report["recommended"] is None and "cannot tell" in report["set"]
    with pytest.raises(ValueError, match="1 outputs for 2 rows"):
        coordinate_report(["x"], ROWS)


@pytest.mark.slow
def test_probe_command_runs_the_tiny_model(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("bpy")
    from dig_kit.config import load_config
    from dig_kit.data.writer import render_dataset
    from dig_kit.models.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    data = tmp_path / "data"
    render_dataset(
        load_config(
            "smoke",
            [
                "data.render.width=96",
                "data.render.height=64",
                "data.render.samples=2",
                "data.render.min_visible_pixels=6",
                "data.scene.max_objects=5",
            ],
        ),
        data,
        subsets=["eval"],
        num_pairs=2,
        progress=False,
    )
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dig_kit.cli",
            "probe",
            "--model",
            str(model),
            "--data",
            str(data),
            "--num-pairs",
            "2",
            "--backend",
            "transformers",
            "--max-new-tokens",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report["pairs"] == 2 and set(report["reward"]) == {"abs", "rel1000", "rel1"}
    assert report["boxes"] == 0 and report["recommended"] is None  # a random tiny model writes no boxes
    bad = subprocess.run(
        [sys.executable, "-m", "dig_kit.cli", "probe", "--model", str(model), "--data", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "probe: error" in bad.stderr
