"""Grounding: tolerant box reading (dig_kit.evaluation.boxes), coordinate conventions, and
VLMEvalKit's multi-split RefCOCO TSV scored per split with macro and micro averages."""

from __future__ import annotations

import json

import pytest

from dig_kit.evaluation import get_task
from dig_kit.evaluation.boxes import box_iou, extract_box, guess_scale, scale_box
from dig_kit.evaluation.formats import BenchmarkDataError
from dig_kit.evaluation.runner import score_file
from dig_kit.paper.benchmark_fixtures import b64_image, write_vlmeval_tsv

BOXES = [
    # (final answer, expected box as written, rule)
    ('[{"bbox_2d": [100, 200, 300, 600], "label": "cup"}]', [100, 200, 300, 600], "bracket4"),  # Qwen3-VL JSON
    ('```json\n[{"bbox_2d": [1, 2, 3, 4]}]\n```', [1, 2, 3, 4], "bracket4"),  # fenced JSON
    ('[{"bbox_2d": [10, 20, 30, 40]}] The cup [left of the plate] is red.', [10, 20, 30, 40], "bracket4"),
    # ^ JSON then prose with brackets: the reward's strict grammar gives no box; VLMEvalKit: the first [n,n,n,n]
    ("The box is [12.5, 30, 50.25, 80].", [12.5, 30, 50.25, 80], "bracket4"),  # decimals, prose around it
    ("(12, 30), (50, 80)", [12, 30, 50, 80], "first_four_numbers"),  # point pairs: VLMEvalKit's number fallback
    ("[12, 30] and [50, 80]", [12, 30, 50, 80], "first_four_numbers"),  # two corners in two lists
    ("x1=5 y1=6 x2=70 y2=90", [1, 5, 1, 6], "first_four_numbers"),  # the fallback reads the digits in names too
    ("[1, 2, 3]", None, "unparsed"),  # three numbers: no box
    ("I cannot find it.", None, "unparsed"),
    ("", None, "unparsed"),
    (None, None, "unparsed"),  # not a string: never raises
]


@pytest.mark.parametrize("answer,box,rule", BOXES)
def test_extract_box(answer, box, rule):
    assert extract_box(answer) == (box, rule)


SCALES = [
    # (box as written, guessed convention): the per-box guess of VLMEvalKit-style scorers
    ([0.1, 0.2, 0.5, 0.9], "rel1"),
    ([100, 200, 300, 600], "rel1000"),
    ([1200, 40, 1800, 400], "abs"),  # beyond 1000: pixels
    ([50, 40, 300, 200], "rel1000"),  # the known failure: a pixel box on a COCO-sized image reads as 0-1000
]


@pytest.mark.parametrize("box,fmt", SCALES)
def test_guess_scale(box, fmt):
    assert guess_scale(box) == fmt


def test_scale_box_and_iou():
    assert scale_box([100, 200, 300, 600], 100, 50, "rel1000") == [10, 10, 30, 30]
    assert scale_box([0.1, 0.2, 0.3, 0.6], 100, 50, "rel1") == pytest.approx([10, 10, 30, 30])
    assert scale_box([1, 2, 3, 4], 100, 50, "abs") == [1, 2, 3, 4]
    assert scale_box([30, 20, 10, 5], 100, 50, "abs") == [30, 20, 10, 5]  # as written: not reordered
    assert scale_box([-100, 0, 2000, 10], 100, 50, "rel1000") == [-10, 0, 200, 0.5]  # nor clipped
    with pytest.raises(ValueError, match="coord_format must be one of"):
        scale_box([1, 2, 3, 4], 100, 50, "pixels")
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([10, 10, 0, 0], [0, 0, 10, 10]) == 0.0  # inverted: no box


def _refcoco_tsv(tmp_path):
    # VLMEvalKit layout: one file, the split in category, pixel boxes in answer, width and height
    img = b64_image("red", (100, 50))
    rows = []
    for k, split in enumerate(["val", "val", "val", "testA", "testB"]):
        rows.append(
            {
                "index": k,
                "image": img,
                "question": f"the red box {k}",
                "answer": json.dumps([10, 10, 30, 30]),
                "width": 100,
                "height": 50,
                "category": split,
            }
        )
    return write_vlmeval_tsv(tmp_path / "RefCOCO.tsv", rows)


def test_refcoco_tsv_per_split_macro_and_micro(tmp_path):
    path = _refcoco_tsv(tmp_path)
    assert [d["id"] for d in get_task("refcoco_val").load(tmp_path)] == ["0", "1", "2"]  # found by its name
    assert [d["id"] for d in get_task("refcoco_testB").load(path)] == ["4"]
    preds = tmp_path / "preds.jsonl"
    outputs = {
        0: "[100, 200, 300, 600]",
        1: "(100, 200), (300, 600)",
        2: "no idea",
        3: "[100, 200, 300, 600]",
        4: "[0, 0, 50, 50]",
    }  # val 2/3 right (the second by its first four numbers), testA 1/1, testB 0/1
    preds.write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in outputs.items()))
    m = score_file("refcoco_all", path, preds)
    assert m["by_split"]["val"]["acc@0.5"] == pytest.approx(200 / 3, abs=1e-3)
    assert m["by_split"]["testA"]["acc@0.5"] == 100.0 and m["by_split"]["testB"]["acc@0.5"] == 0.0
    assert m["macro_acc@0.5"] == pytest.approx((200 / 3 + 100 + 0) / 3, abs=1e-3)
    assert m["micro_acc@0.5"] == 60.0 and m["acc@0.5"] == 60.0  # 3 of 5
    assert m["coord_format"] == "rel1000" and m["by_rule"] == {"bracket4": 3, "first_four_numbers": 1, "unparsed": 1}
    m = score_file("refcoco_all", path, preds, coord_format="abs")  # a pixel model: 0-1000 numbers as pixels
    assert m["coord_format"] == "abs" and m["acc@0.5"] == 0.0


def test_refcoco_tsv_errors_name_the_columns(tmp_path):
    write_vlmeval_tsv(tmp_path / "RefCOCO.tsv", [{"index": 0, "image": b64_image("red"), "question": "x"}])
    with pytest.raises(BenchmarkDataError, match="answer.*width, height, category"):
        get_task("refcoco_val").load(tmp_path)
