"""Tables of cases for the DiG and TWIN rewards and the box parser, one comment per case."""

from __future__ import annotations

import math

import pytest

from dig_kit.paper.case_study import CASE_STUDY_BOXES, CASE_STUDY_IMAGE_SIZE, CASE_STUDY_OUTPUT
from dig_kit.rewards import (
    DigRewardOptions,
    dig_reward,
    dig_reward_batch,
    dig_reward_group,
    dig_reward_reference,
    extract_answer,
    parse_boxes,
    parse_twin_answer,
    twin_reward,
)

GT = [[10, 10, 50, 50], [100, 100, 160, 140]]
SIZE = (200, 200)
THINK = "Let me compare the two images. The cube at [10, 10, 50, 50] looks different... </think>\n"


def overall(f1: float, miou: float, fmt: float = 1.0, alpha: float = 0.1) -> float:
    """The paper's formula with lambda_f1 = lambda_iou = 0.5."""
    return (1 - alpha) * (0.5 * f1 + 0.5 * miou) + alpha * fmt


# ----------------------------------------------------------------------------- DiG reward

DIG_CASES = [
    # perfect answer: every component 1, reward 1.0
    ("[[10, 10, 50, 50], [100, 100, 160, 140]]", {}, dict(overall=1.0, f1=1.0, miou=1.0, format=1.0, num_pred=2)),
    # permuted order: Hungarian matching makes the order irrelevant
    ("[[100, 100, 160, 140], [10, 10, 50, 50]]", {}, dict(overall=1.0, f1=1.0, miou=1.0)),
    # thinking text, <answer> tags, fenced block: only the answer counts (the boxes in the thinking are ignored)
    (THINK + "<answer>\n```json\n[[10,10,50,50],[100,100,160,140]]\n```\n</answer>", {}, dict(overall=1.0, num_pred=2)),
    # empty list: no valid box, format 0, reward 0
    ("[]", {}, dict(overall=0.0, format=0.0, f1=0.0, miou=0.0, num_pred=0)),
    # prose only: no valid answer
    ("The red cube became a cylinder.", {}, dict(overall=0.0, format=0.0)),
    # boxes only inside the thinking, nothing after </think>: no valid answer
    ("<think>[[10, 10, 50, 50]]</think> I could not decide.", {}, dict(overall=0.0, format=0.0)),
    # one miss: precision 1, recall 1/2, F1 2/3; mIoU over the one matched pair stays 1
    ("[[10, 10, 50, 50]]", {}, dict(precision=1.0, recall=0.5, f1=2 / 3, miou=1.0, overall=overall(2 / 3, 1.0))),
    # one extra (false) box: precision 2/3, recall 1, F1 0.8, mIoU 1
    (
        "[[10,10,50,50],[100,100,160,140],[170,170,190,190]]",
        {},
        dict(precision=2 / 3, recall=1.0, f1=0.8, overall=overall(0.8, 1.0)),
    ),
    # duplicate predictions: only one can match G1, the duplicate is matched to G2 with IoU 0
    ("[[10, 10, 50, 50], [10, 10, 50, 50]]", {}, dict(tp=1, f1=0.5, miou=0.5, overall=overall(0.5, 0.5))),
    # loose box (IoU 15/40 = 0.375 < tau): matched, counts in mIoU, not a true positive
    ("[[10, 10, 50, 25], [100, 100, 160, 140]]", {}, dict(tp=1, f1=0.5, miou=(0.375 + 1) / 2)),
    # same loose box with tau = 0.3: now a true positive
    ("[[10, 10, 50, 25], [100, 100, 160, 140]]", {"iou_threshold": 0.3}, dict(tp=2, f1=1.0)),
    # reversed corners are reordered (x1<=x2, y1<=y2)
    ("[[50, 50, 10, 10], [160, 140, 100, 100]]", {}, dict(overall=1.0)),
    # partly outside the image: clipped to [0, 200] (IoU with G2 unchanged after clipping)
    ("[[10, 10, 50, 50], [100, 100, 160, 140], [150, 150, 900, 900]]", {}, dict(num_pred=3, precision=2 / 3)),
    # entirely outside the image: zero area after clipping, dropped
    ("[[300, 300, 400, 400]]", {}, dict(format=0.0, num_pred=0, overall=0.0)),
    # a NaN box and a 5-number box are dropped, the valid one still counts
    ("[[10, 10, 50, 50], [NaN, 1, 2, 3], [1, 2, 3, 4, 5]]", {}, dict(num_pred=1, recall=0.5)),
    # Qwen-style objects with bbox_2d and label
    (
        '[{"bbox_2d": [10, 10, 50, 50], "label": "cube"}, {"bbox_2d": [100, 100, 160, 140], "label": "sphere"}]',
        {},
        dict(overall=1.0),
    ),
    # the bare comma-separated sequence Qwen3-VL writes (slides' example answer)
    ("[10, 10, 50, 50], [100, 100, 160, 140]", {}, dict(overall=1.0)),
    # a single bare box
    ("[10, 10, 50, 50]", {}, dict(num_pred=1, f1=2 / 3)),
    # // comments and trailing commas (the supplement's case-study style)
    ("```\n[\n[10, 10, 50, 50], // cube\n[100, 100, 160, 140], // sphere\n]\n```", {}, dict(overall=1.0)),
    # coordinate convention rel1000 (Qwen3-VL's 0-1000 grid): 50/1000*200 = 10 px
    ("[[50, 50, 250, 250], [500, 500, 800, 700]]", {"coord_format": "rel1000"}, dict(overall=1.0)),
    # coordinate convention rel1 (fractions)
    ("[[0.05, 0.05, 0.25, 0.25], [0.5, 0.5, 0.8, 0.7]]", {"coord_format": "rel1"}, dict(overall=1.0)),
    # convention mistake: fractions read as pixels are sub-pixel boxes, IoU ~ 0; format reward only
    (
        "[[0.05, 0.05, 0.25, 0.25], [0.5, 0.5, 0.8, 0.7]]",
        {},
        dict(format=1.0, f1=0.0, overall=pytest.approx(0.1, abs=1e-3)),
    ),
    # max_count normalisation: summed IoU 1 over max(N=1, M=2)
    ("[[10, 10, 50, 50]]", {"iou_normalization": "max_count"}, dict(miou=0.5)),
    # the last <answer> wins over text outside it
    ("[[0, 0, 1, 1]] <answer>[[10,10,50,50],[100,100,160,140]]</answer>", {}, dict(overall=1.0)),
    # truncated generation: unclosed <answer> and fence still give the boxes written so far
    ("<answer>\n```json\n[[10, 10, 50, 50], [100, 100, 160, 140]]", {}, dict(overall=1.0)),
    # trl conversational completion
    ([{"role": "assistant", "content": "[[10,10,50,50],[100,100,160,140]]"}], {}, dict(overall=1.0)),
    # conversational completion with multimodal content parts
    (
        [{"role": "assistant", "content": [{"type": "text", "text": "[[10,10,50,50],[100,100,160,140]]"}]}],
        {},
        dict(overall=1.0),
    ),
    # None (nothing generated)
    (None, {}, dict(overall=0.0, format=0.0)),
]


@pytest.mark.parametrize("completion, options, expected", DIG_CASES)
def test_dig_reward_cases(completion, options, expected):
    r = dig_reward(completion, GT, SIZE, **options)
    for key, value in expected.items():
        assert r[key] == pytest.approx(value), (key, r)
    ref = dig_reward_reference(completion, GT, SIZE, **options)
    for key in ref:
        assert r[key] == pytest.approx(ref[key]), (key, r, ref)


def test_dig_reward_returns_documented_keys():
    r = dig_reward("[[10, 10, 50, 50]]", GT, SIZE)
    assert {"overall", "format", "accuracy", "f1", "miou", "precision", "recall", "num_pred"} <= set(r)
    assert isinstance(r["num_pred"], int) and isinstance(r["overall"], float)


def test_case_study_output_scores_one_against_its_own_boxes():
    # The supplement's Fig. 11 output: thinking, </think>, <answer>, fenced block, // comments.
    r = dig_reward(CASE_STUDY_OUTPUT, CASE_STUDY_BOXES, CASE_STUDY_IMAGE_SIZE)
    assert r["overall"] == 1.0 and r["num_pred"] == 3
    assert parse_boxes(CASE_STUDY_OUTPUT, CASE_STUDY_IMAGE_SIZE) == [[float(v) for v in b] for b in CASE_STUDY_BOXES]


VARIANT_CASES = [
    # one exact box of two: F1 2/3, mIoU 1
    # format only: the reward is r_format alone
    ("format", 1.0),
    # format + IoU: r_acc = mIoU (weight 1) -> IoU alone cannot see the miss
    ("format_iou", 0.9 * 1.0 + 0.1),
    # format + F1: r_acc = F1 (weight 1)
    ("format_f1", 0.9 * (2 / 3) + 0.1),
    # format + IoU + F1: the paper's reward
    ("format_iou_f1", overall(2 / 3, 1.0)),
]


@pytest.mark.parametrize("variant, expected", VARIANT_CASES)
def test_variants(variant, expected):
    r = dig_reward("[[10, 10, 50, 50]]", GT, SIZE, variant=variant)
    assert r["overall"] == pytest.approx(expected)
    assert r["f1"] == pytest.approx(2 / 3) and r["miou"] == 1.0  # always reported
    w_format, w_f1, w_iou = DigRewardOptions(variant=variant).weights()
    assert w_format * r["format"] + w_f1 * r["f1"] + w_iou * r["miou"] == pytest.approx(r["overall"])


BAD_OPTIONS = [
    # unknown option name
    ({"alpah": 0.1}, TypeError),
    # unknown variant
    ({"variant": "iou_only"}, ValueError),
    # unknown coordinate convention
    ({"coord_format": "norm"}, ValueError),
    # unknown normalisation
    ({"iou_normalization": "mean"}, ValueError),
    # alpha outside [0, 1]
    ({"alpha": 1.5}, ValueError),
    # weights that would push the reward above 1
    ({"lambda_f1": 1.0, "lambda_iou": 1.0}, ValueError),
]


@pytest.mark.parametrize("options, error", BAD_OPTIONS)
def test_invalid_options_raise(options, error):
    with pytest.raises(error):
        dig_reward("[[10, 10, 50, 50]]", GT, SIZE, **options)


def test_relative_coordinates_need_image_size():
    with pytest.raises(ValueError):
        dig_reward("[[0.1, 0.1, 0.2, 0.2]]", GT, None, coord_format="rel1")
    # abs without a size: no clipping, still scored
    assert dig_reward("[[10, 10, 50, 50], [100, 100, 160, 140]]", GT, None)["overall"] == 1.0


def test_batch_and_group_agree_with_single():
    texts = [c for c, o, _ in DIG_CASES if not o]
    batch = dig_reward_batch(texts, [GT] * len(texts), [SIZE] * len(texts))
    group = dig_reward_group(texts, GT, SIZE)
    for i, t in enumerate(texts):
        single = dig_reward(t, GT, SIZE)
        for key in single:
            assert batch[key][i] == pytest.approx(single[key])
            assert group[key][i] == pytest.approx(single[key])


def test_empty_batch():
    assert dig_reward_batch([], [], [])["overall"].shape == (0,)


# --------------------------------------------------------------------------------- parsing

PARSE_CASES = [
    # prompt's format: JSON list of boxes
    ("[[1, 2, 30, 40]]", [[1, 2, 30, 40]]),
    # floats and exponents
    ("[[1.5, 2e1, 30.25, 4E1]]", [[1.5, 20, 30.25, 40]]),
    # a fenced block is preferred over bracketed prose outside it
    ("See [1] below.\n```json\n[[1, 2, 30, 40]]\n```\nDone [2].", [[1, 2, 30, 40]]),
    # text after the last </think> only
    ("<think>[[5,5,9,9]]</think>[[1, 2, 30, 40]]", [[1, 2, 30, 40]]),
    # several </think>: the last one counts
    ("a</think>[[5,5,9,9]] b </think> [[1, 2, 30, 40]]", [[1, 2, 30, 40]]),
    # spacing variants of the tags
    ("x < /think > <answer> [[1, 2, 30, 40]] </answer>", [[1, 2, 30, 40]]),
    # "bbox" key accepted besides "bbox_2d"
    ('{"bbox": [1, 2, 30, 40], "label": "a"}', [[1, 2, 30, 40]]),
    # objects without a box key are dropped
    ('[{"label": "a"}, {"bbox_2d": [1, 2, 30, 40]}]', [[1, 2, 30, 40]]),
    # numeric strings and booleans are not coordinates
    ('[["1", 2, 30, 40], [true, 2, 30, 40], [1, 2, 30, 40]]', [[1, 2, 30, 40]]),
    # Infinity and overflowing numbers are non-finite: dropped
    ("[[1, 2, Infinity, 40], [1, 2, 1e999, 40], [1, 2, 30, 40]]", [[1, 2, 30, 40]]),
    # deeper nesting is not a box
    ("[[[1, 2, 30, 40]]]", []),
    # a // inside a JSON string is not a comment
    ('[{"bbox_2d": [1, 2, 30, 40], "label": "http://x"}]', [[1, 2, 30, 40]]),
    # zero-area box dropped
    ("[[1, 2, 1, 40]]", []),
    # prose between brackets breaks the grammar: no valid answer
    ("first [1, 2, 30, 40] and then [5, 6, 70, 80] maybe", []),
    # unbalanced JSON
    ("[[1, 2, 30, 40]", []),
]


@pytest.mark.parametrize("text, expected", PARSE_CASES)
def test_parse_boxes(text, expected):
    assert parse_boxes(text, (100, 100)) == [[float(v) for v in b] for b in expected]


def test_extract_answer():
    # last </think>, then the last <answer>
    assert extract_answer("<think>a</think> b <answer>c</answer> <answer>d</answer>") == "d"
    assert extract_answer("no tags at all") == "no tags at all"
    assert extract_answer(12345) == ""


# ------------------------------------------------------------------------------------ TWIN

TWIN_CASES = [
    # plain answer in tags, correct
    ("<think>They look alike.</think><answer>yes</answer>", "yes", 1.0, 1.0),
    # wrong answer
    ("<answer>No</answer>", "yes", 0.0, 1.0),
    # inside tags the first verdict counts (the justification may say "no" again)
    ("<answer>Yes, no visible differences.</answer>", "yes", 1.0, 1.0),
    # without tags the last verdict counts
    ("Is it the same? The handle differs, so the answer is: no.", "no", 1.0, 1.0),
    # the thinking is ignored
    ("<think>yes yes yes</think>No.", "no", 1.0, 1.0),
    # no verdict at all: format 0, reward 0
    ("I cannot tell.", "yes", 0.0, 0.0),
    # "nothing"/"know" are not "no"
    ("I know nothing.", "no", 0.0, 0.0),
    # boolean labels
    ("<answer>yes</answer>", True, 1.0, 1.0),
    # multi: a count 0-3
    ("<answer>2</answer>", "2", 1.0, 1.0),
    # multi: count written as a word
    ("<answer>Two of the candidates match.</answer>", 2, 1.0, 1.0),
    # multi: without tags the last number counts
    ("Candidate 1 matches, candidate 3 does too. Total: 2", "2", 1.0, 1.0),
    # multi: a count outside 0-3 is not a valid answer
    ("<answer>5</answer>", "3", 0.0, 0.0),
    # multi: "none" means 0
    ("<answer>None of them.</answer>", "0", 1.0, 1.0),
]


@pytest.mark.parametrize("completion, label, reward, fmt", TWIN_CASES)
def test_twin_reward(completion, label, reward, fmt):
    r = twin_reward(completion, label)
    assert r["overall"] == reward and r["accuracy"] == reward and r["format"] == fmt


def test_twin_invalid_label_raises_and_text_never_does():
    with pytest.raises(ValueError):
        twin_reward("yes", "maybe")
    with pytest.raises(ValueError):
        twin_reward("yes", "2", task="pair")
    assert parse_twin_answer(None, "pair") is None
    assert twin_reward(None, "no")["overall"] == 0.0
    assert not math.isnan(twin_reward("\x00" * 10, 0)["overall"])
