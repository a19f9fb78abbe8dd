"""Property and fuzz tests of the DiG reward: bounds, invariances, fast path == scipy, never raises."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dig_kit.paper.synthetic_outputs import STYLES, random_completions, random_gt_boxes, render_completion
from dig_kit.rewards import dig_reward, dig_reward_batch, dig_reward_reference, parse_boxes, twin_reward
from dig_kit.rewards.geometry import COORD_FORMATS, box_iou, iou_matrix, pixel_boxes, to_pixels
from dig_kit.rewards.matching import match_stats, match_stats_batch, match_stats_one
from dig_kit.rewards.parsing import raw_numbers

SIZE = (200, 160)
FLOAT_KEYS = ("overall", "format", "accuracy", "f1", "miou", "precision", "recall")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

coord = st.floats(min_value=-20, max_value=220, allow_nan=False, width=32)
box = st.lists(coord, min_size=4, max_size=4)
gt_box = st.tuples(st.integers(0, 150), st.integers(0, 120), st.integers(5, 50), st.integers(5, 40)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)
gt_boxes = st.lists(gt_box, min_size=1, max_size=4)
styles = st.sampled_from(STYLES)


def _pred_near(gt):
    """Predictions that are often near a ground-truth box (so matches and ties happen)."""
    jittered = st.tuples(st.sampled_from(gt), st.lists(st.integers(-8, 8), min_size=4, max_size=4)).map(
        lambda t: [a + d for a, d in zip(t[0], t[1])]
    )
    return st.lists(st.one_of(jittered, box), max_size=7)


def _check_bounds(r):
    for k in FLOAT_KEYS:
        assert not math.isnan(r[k]) and 0.0 <= r[k] <= 1.0, (k, r)


@SETTINGS
@given(data=st.data(), gt=gt_boxes, style=styles)
def test_components_in_unit_interval_and_equal_reference(data, gt, style):
    pred = data.draw(_pred_near(gt))
    options = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "variant": st.sampled_from(["format", "format_iou", "format_f1", "format_iou_f1"]),
                "iou_normalization": st.sampled_from(["matched", "max_count"]),
                "iou_threshold": st.sampled_from([0.0, 0.3, 0.5, 0.9]),
            },
        )
    )
    text = render_completion(pred, style)
    r = dig_reward(text, gt, SIZE, **options)
    _check_bounds(r)
    ref = dig_reward_reference(text, gt, SIZE, **options)
    for k in ref:
        assert math.isclose(r[k], ref[k], abs_tol=1e-9), (k, r, ref)


@SETTINGS
@given(data=st.data(), gt=gt_boxes, style=styles)
def test_invariant_to_box_order(data, gt, style):
    pred = data.draw(_pred_near(gt))
    r = dig_reward(render_completion(pred, style), gt, SIZE)
    perm_pred = data.draw(st.permutations(pred))
    perm_gt = data.draw(st.permutations(gt))
    r2 = dig_reward(render_completion(perm_pred, style), perm_gt, SIZE)
    for k in FLOAT_KEYS:
        assert math.isclose(r[k], r2[k], abs_tol=1e-9), (k, r, r2)


@SETTINGS
@given(data=st.data(), gt=gt_boxes)
def test_adding_a_false_box_never_raises_f1(data, gt):
    pred = data.draw(_pred_near(gt))
    # a false box: disjoint from every ground-truth box (the image's bottom-right corner strip)
    false_box = [195.0, 0.0, 200.0, 160.0]
    gt = [g for g in gt if g[2] <= 195] or [[0, 0, 10, 10]]
    before = dig_reward(render_completion(pred), gt, SIZE)
    after = dig_reward(render_completion(pred + [false_box]), gt, SIZE)
    assert after["f1"] <= before["f1"] + 1e-12
    assert after["precision"] <= before["precision"] + 1e-12


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), tau=st.sampled_from([0.0, 0.5, 0.75]))
def test_batched_fast_path_equals_scipy(seed, tau):
    """match_stats_batch (numpy fast path + scipy fallback) == scipy on every response."""
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(int(rng.integers(1, 12))):
        gt = np.asarray(random_gt_boxes(rng, int(rng.integers(0, 5)), SIZE, 8, 60)).reshape(-1, 4)
        n = int(rng.integers(0, 8))
        src = (
            gt[rng.integers(0, len(gt), n)]
            if len(gt) and rng.random() < 0.8
            else np.asarray(random_gt_boxes(rng, n, SIZE, 8, 60)).reshape(-1, 4)
        )
        pred = src + rng.normal(0, rng.choice([0.0, 3.0, 15.0]), src.shape)
        if n and rng.random() < 0.3:  # exact duplicates: ties in the IoU matrix
            pred = np.concatenate([pred, pred[:1]])
        pred = np.concatenate([np.minimum(pred[:, :2], pred[:, 2:]), np.maximum(pred[:, :2], pred[:, 2:])], axis=1)
        pred = pred[(pred[:, 2] > pred[:, 0]) & (pred[:, 3] > pred[:, 1])]
        preds.append(pred)
        gts.append(gt)
    B = len(preds)
    stats = match_stats_batch(
        np.concatenate(preds).reshape(-1, 4), np.repeat(np.arange(B), [len(p) for p in preds]),
        np.concatenate(gts).reshape(-1, 4), np.repeat(np.arange(B), [len(g) for g in gts]), B, tau,
    )  # fmt: skip
    for b in range(B):
        s, tp, matched = match_stats(iou_matrix(preds[b], gts[b]), tau)
        assert math.isclose(stats.sum_iou[b], s, abs_tol=1e-9)
        assert stats.tp[b] == tp and stats.matched[b] == matched


raw_number = st.one_of(st.floats(width=64), st.integers(-2000, 2000), st.floats(-50, 1200))


@SETTINGS
@given(
    raw=st.lists(st.lists(raw_number, min_size=4, max_size=4), max_size=8),
    fmt=st.sampled_from(COORD_FORMATS),
    size=st.sampled_from([(480, 320), (1, 1), None]),
)
def test_plain_python_pixels_equal_numpy_pixels(raw, fmt, size):
    """pixel_boxes (one response, Python) keeps exactly to_pixels' valid boxes, NaN, inf,
    overflow, inverted and out-of-image boxes included."""
    if size is None and fmt != "abs":
        fmt = "abs"  # relative coordinates need a size
    w, h = size if size else (math.inf, math.inf)
    boxes, valid = to_pixels(np.asarray(raw, dtype=np.float64).reshape(-1, 4), w, h, fmt)
    assert [list(b) for b in pixel_boxes(raw, w, h, fmt)] == boxes[valid].tolist()


@SETTINGS
@given(a=box, b=box)
def test_plain_python_iou_equals_numpy_iou(a, b):
    """box_iou == iou_matrix bit for bit, and an inverted or empty box has IoU 0."""
    assert box_iou(a, b) == iou_matrix([a], [b])[0, 0]
    if a[2] <= a[0] or a[3] <= a[1]:
        assert box_iou(a, b) == 0.0


@settings(max_examples=100, deadline=None)
@given(data=st.data(), gt=gt_boxes, tau=st.sampled_from([0.0, 0.5, 0.75]))
def test_one_response_matching_equals_scipy(data, gt, tau):
    """match_stats_one (plain Python, exact fast path on rows or columns) == scipy's Hungarian."""
    pred = pixel_boxes(data.draw(_pred_near(gt)), *SIZE)
    s, tp, matched = match_stats_one(pred, gt, tau)
    ref = match_stats(iou_matrix(pred, gt), tau) if pred else (0.0, 0, 0)
    assert math.isclose(s, ref[0], abs_tol=1e-9) and (tp, matched) == ref[1:]


@SETTINGS
@given(data=st.data(), gt=gt_boxes, style=styles)
def test_one_response_and_batch_paths_agree_bit_for_bit(data, gt, style):
    """dig_reward (plain Python) and dig_reward_batch's numpy path (>= SMALL_BATCH responses)
    share one formula: the same numbers exactly, not just close."""
    texts = [render_completion(data.draw(_pred_near(gt)), style) for _ in range(8)]
    batch = dig_reward_batch(texts, [gt] * 8, [SIZE] * 8)
    for i, t in enumerate(texts):
        single = dig_reward(t, gt, SIZE)
        assert {k: batch[k][i].item() for k in single} == single


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_group_batch_equals_reference_on_realistic_outputs(seed):
    rng = np.random.default_rng(seed)
    gt = random_gt_boxes(rng, int(rng.integers(1, 5)), SIZE)
    texts = random_completions(rng, gt, 8, image_size=SIZE)
    batch = dig_reward_batch(texts, [gt] * 8, [SIZE] * 8)
    for i, t in enumerate(texts):
        ref = dig_reward_reference(t, gt, SIZE)
        for k in ref:
            assert math.isclose(batch[k][i], ref[k], abs_tol=1e-9), (k, t)
        # the regex fast path reads the same numbers as json
        assert raw_numbers(t) == raw_numbers(t, fast=False)


# ------------------------------------------------------------------------------------ fuzz

json_ish = st.text(alphabet='[]{},.:0123456789-+eE"/ \nNaIfinty_bo2dlx<>answer', max_size=120)
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["bbox_2d", "bbox", "label"]), children, max_size=3)
    ),
    max_leaves=20,
)


def _never_raises_and_no_nan(text):
    r = dig_reward(text, [[10, 10, 50, 50]], SIZE)
    _check_bounds(r)
    for b in parse_boxes(text, SIZE):
        assert len(b) == 4 and all(math.isfinite(v) for v in b) and b[0] < b[2] and b[1] < b[3]
    t = twin_reward(text, "yes")
    assert t["overall"] in (0.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text(text):
    _never_raises_and_no_nan(text)


@settings(max_examples=300, deadline=None)
@given(json_ish)
def test_fuzz_malformed_json(text):
    _never_raises_and_no_nan(text)
    _never_raises_and_no_nan("</think><answer>```json\n" + text + "\n```</answer>")


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_fuzz_json_values(value):
    _never_raises_and_no_nan(json.dumps(value))  # NaN/Infinity literals included


def test_adversarial_inputs():
    for text in [
        None, 3.5, b"[[1,2,3,4]]", {"content": None}, [{"content": 5}],
        "[" * 100_000, "{" * 50_000 + "}" * 50_000, "[[" + "1," * 100_000 + "]]",
        "[" + "9" * 5000 + ", 1, 2, 3]", '"\\"' * 30_000, "/*" * 30_000, "//" * 30_000,
        "[[1,2,3,4]]" * 20_000, "```" * 10_000, "</think>" * 10_000, "<answer>" * 10_000,
        "[[1e308, 1e308, -1e308, -1e308]]", "[[-0.0, -0.0, 1e-320, 1e-320]]",
    ]:  # fmt: skip
        _never_raises_and_no_nan(text)
