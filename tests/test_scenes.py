"""Pure scene/change engine: constraints over many seeds, JSON round-trip, determinism, bad input."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dig_kit.config import ConfigError, load_config
from dig_kit.scenes import (
    COLORS,
    MATERIALS,
    SHAPES,
    SIZES,
    ChangeError,
    SceneError,
    SceneSpec,
    apply_changes,
    jitter_view,
    sample_pair,
    sample_scene,
)
from dig_kit.scenes.attributes import srgb_to_linear

CFG = load_config("paper").data


def test_attribute_space_is_the_papers():
    assert SHAPES == ("cube", "sphere", "cylinder")
    assert sorted(COLORS) == sorted(["blue", "brown", "cyan", "gray", "green", "purple", "red", "yellow"])
    assert SIZES == {"small": 0.4, "medium": 0.6, "large": 0.8}
    assert MATERIALS["metal"] == {"metallic": 1.0, "roughness": 0.2}
    assert MATERIALS["matte"] == {"metallic": 0.0, "roughness": 0.8}
    assert all(0 <= c <= 1 for c in srgb_to_linear(COLORS["yellow"]))


def _check_pair(pair, lo, hi):
    before, after, diffs = pair.before, pair.after, pair.differences
    before.validate(CFG.scene.max_objects)
    after.validate(CFG.scene.max_objects)  # no interpenetration, even after size/shape growth
    assert lo <= len(diffs) <= hi
    assert CFG.scene.min_objects <= len(before.objects) and CFG.scene.min_objects <= len(after.objects)
    assert len({d.object_id for d in diffs}) == len(diffs), "two differences touch one object"
    b_ids, a_ids = set(before.ids()), set(after.ids())
    for d in diffs:
        if d.type == "add":
            assert d.object_id in a_ids and d.object_id not in b_ids
            new = after.get(d.object_id)
            for o in before.objects:  # a previously empty spot
                assert math.hypot(o.x - new.x, o.y - new.y) >= o.radius + new.radius + before.margin - 1e-9
        elif d.type == "remove":
            assert d.object_id in b_ids and d.object_id not in a_ids
        else:
            old, new = before.get(d.object_id), after.get(d.object_id)
            assert getattr(old, d.type) != getattr(new, d.type)
            others = {"shape", "color", "size", "material"} - {d.type}
            assert all(getattr(old, k) == getattr(new, k) for k in others)
            assert (old.x, old.y, old.rotation) == (new.x, new.y, new.rotation)
    # nothing else changed
    touched = {d.object_id for d in diffs}
    assert [o for o in before.objects if o.id not in touched] == [o for o in after.objects if o.id not in touched]
    assert before.camera == after.camera and before.light == after.light


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lo=st.integers(1, 4), extra=st.integers(0, 3))
def test_pairs_satisfy_every_constraint(seed, lo, extra):
    hi = min(4, lo + extra)
    _check_pair(sample_pair(CFG, seed, lo, hi), lo, hi)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_pairs_are_deterministic_and_round_trip(seed):
    a, b = sample_pair(CFG, seed, 1, 4), sample_pair(CFG, seed, 1, 4)
    assert a.before.to_json() == b.before.to_json() and a.after.to_json() == b.after.to_json()
    assert [d.to_dict() for d in a.differences] == [d.to_dict() for d in b.differences]
    assert SceneSpec.from_json(a.before.to_json()) == a.before
    assert SceneSpec.from_json(a.after.to_json()) == a.after
    assert sample_pair(CFG, seed, 1, 4, attempt=1).before != a.before


def test_every_change_type_occurs():
    seen = {d.type for s in range(200) for d in sample_pair(CFG, s, 1, 4).differences}
    assert seen == {"shape", "color", "size", "material", "add", "remove"}


def test_change_types_follow_the_weights_and_size_changes_are_balanced():
    # issue 14: types were skewed (remove 20%, add 14%) and 62% of size changes shrank
    from collections import Counter

    from dig_kit.scenes.changes import pair_kinds

    kinds = [k for s in range(4000) for k in pair_kinds(CFG, s, 1, 1)[1]]
    share = {t: n / len(kinds) for t, n in Counter(t for t, _ in kinds).items()}
    assert all(abs(v - 1 / 6) < 0.025 for v in share.values()), share
    sizes = Counter(d for t, d in kinds if t == "size")
    assert abs(sizes["grow"] / sum(sizes.values()) - 0.5) < 0.05, sizes
    weighted = load_config("smoke", ["data.change_types=[color, add]", "data.change_weights={color: 3}"]).data
    ws = Counter(t for s in range(2000) for t, _ in pair_kinds(weighted, s, 1, 1)[1])
    assert abs(ws["color"] / 2000 - 0.75) < 0.03, ws
    # the realised pairs keep the drawn types, and grow/shrink as drawn, on every attempt
    for s in range(40):
        want = pair_kinds(CFG, s, 1, 4)[1]
        for attempt in (0, 1):
            diffs = sample_pair(CFG, s, 1, 4, attempt).differences
            assert [(d.type, d.direction) for d in diffs] == want
            for d in diffs:
                if d.type == "size":
                    order = ["small", "medium", "large"]
                    grew = order.index(d.after["size"]) > order.index(d.before["size"])
                    assert grew == (d.direction == "grow")


def test_every_pair_fits_small_scene_configs():
    # 3..5 objects cannot take 2 removes and an add; such draws are drawn again, never a failed pair
    cfg = load_config("smoke", ["data.scene.max_objects=5"]).data
    for s in range(300):
        p = sample_pair(cfg, s, 1, 4)
        assert 3 <= len(p.before.objects) <= 5 and 3 <= len(p.after.objects) <= 5


def test_no_change_and_viewpoint_only_pairs_are_opt_in():
    assert all(sample_pair(CFG, s, 1, 4).pair_type == "changes" for s in range(50))  # off in the paper preset
    cfg = load_config("paper", ["data.no_change_fraction=0.3", "data.viewpoint_only_fraction=0.3"]).data
    pairs = [sample_pair(cfg, s, 1, 4) for s in range(300)]
    share = {t: sum(p.pair_type == t for p in pairs) / len(pairs) for t in ("no_change", "viewpoint_only")}
    assert all(0.22 < v < 0.38 for v in share.values()), share
    for p in pairs:
        if p.pair_type == "no_change":
            assert p.differences == [] and p.after == p.before
        elif p.pair_type == "viewpoint_only":  # same objects, another camera: pixels change, no object does
            assert p.differences == [] and p.after.objects == p.before.objects and p.after.camera != p.before.camera
    with pytest.raises(ConfigError, match="data.viewpoint_only_fraction"):
        load_config("paper", ["data.no_change_fraction=0.7", "data.viewpoint_only_fraction=0.5"])


def test_bad_change_weights_are_named():
    with pytest.raises(ConfigError, match="data.change_weights"):
        load_config("smoke", ["data.change_weights={teleport: 1}"])
    with pytest.raises(ConfigError, match="data.change_weights"):
        load_config("smoke", ["data.change_types=[color]", "data.change_weights={color: 0}"])


def test_restricted_change_types_are_respected():
    cfg = load_config("paper", ["data.change_types=[color]"]).data
    assert {d.type for s in range(30) for d in sample_pair(cfg, s, 1, 2).differences} == {"color"}


def test_jitter_view_keeps_objects_and_moves_camera():
    rng = np.random.default_rng(0)
    scene = sample_scene(CFG.scene, rng)
    other = jitter_view(scene, CFG.scene, rng)
    assert other.objects == scene.objects and other.camera != scene.camera


# -- bad input ----------------------------------------------------------------------------
def _scene_dict(n=3, shape="cube"):
    return {
        "objects": [
            {
                "id": i,
                "shape": shape,
                "color": "red",
                "size": "small",
                "material": "metal",
                "x": -2.5 + 1.5 * (i % 4),
                "y": -2.5 + 1.5 * (i // 4),
            }
            for i in range(n)
        ]
    }


def test_unknown_shape_is_named():
    with pytest.raises(SceneError, match="unknown shape 'pyramid'"):
        SceneSpec.from_dict(_scene_dict(shape="pyramid"))


def test_eleven_objects_are_refused():
    with pytest.raises(SceneError, match="11 objects; at most 10"):
        SceneSpec.from_dict(_scene_dict(n=11))


def test_interpenetration_is_refused():
    d = _scene_dict(n=2)
    d["objects"][1]["x"] = d["objects"][0]["x"] + 0.1
    with pytest.raises(SceneError, match="intersect"):
        SceneSpec.from_dict(d)


def test_malformed_scene_json():
    with pytest.raises(SceneError, match="does not parse"):
        SceneSpec.from_json("{not json")
    with pytest.raises(SceneError, match="unknown scene field"):
        SceneSpec.from_dict({**_scene_dict(), "gravity": 9.8})
    with pytest.raises(SceneError, match="x must be a finite number"):
        SceneSpec.from_json(json.dumps(_scene_dict()).replace('"x": -2.5', '"x": NaN'))


def test_five_differences_in_a_three_object_scene():
    scene = SceneSpec.from_dict(_scene_dict(n=3))
    with pytest.raises(ChangeError, match="5 differences requested in a 3-object scene"):
        apply_changes(scene, 5, CFG.scene, np.random.default_rng(0))
