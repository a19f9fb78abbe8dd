"""The numpy ray-cast index pass, and the pair renderer skipping attempts it rejects (no bpy)."""

import math
from pathlib import Path

import numpy as np
import pytest

from dig_kit.config import load_config, visible_threshold
from dig_kit.render.pairs import RenderError, render_pair, violation
from dig_kit.scenes import SceneSpec, raycast
from dig_kit.scenes.changes import sample_pair

W, H = 240, 160


def _scene(*objects, camera=None):
    objs = [{"id": k, "color": "red", "material": "matte", "rotation": 0.0, **o} for k, o in enumerate(objects)]
    return SceneSpec.from_dict({"objects": objs, **({"camera": camera} if camera else {})})


def test_a_sphere_covers_its_projected_disc():
    scene = _scene({"shape": "sphere", "size": "large", "x": 0.0, "y": 0.0})
    index = raycast.index_pass(scene, W, H)
    assert set(np.unique(index)) == {0, 1}
    cam = scene.camera
    centre = np.array([0.0, 0.0, scene.objects[0].scale])
    dist = np.linalg.norm(np.array(cam.location) - centre)
    # a sphere's silhouette is a disc (nearly: off-axis it is a slightly stretched ellipse)
    r_px = math.tan(math.asin(scene.objects[0].scale / dist)) / (18.0 / cam.focal_length) * W / 2
    assert (index == 1).sum() == pytest.approx(math.pi * r_px**2, rel=0.08)
    ys, xs = np.nonzero(index == 1)
    cx, cy = raycast.project(cam, centre[None], W, H)[0]
    assert abs(xs.mean() + 0.5 - cx) < 2 and abs(ys.mean() + 0.5 - cy) < 2


def test_projection_is_a_pinhole_looking_at_the_target():
    cam = _scene({"shape": "cube", "size": "small", "x": 0.0, "y": 0.0}).camera
    ((x, y),) = raycast.project(cam, np.array([cam.look_at]), W, H)
    assert (x, y) == pytest.approx((W / 2, H / 2), abs=1e-9)
    loc, right, up, fwd = raycast.camera_basis(cam)
    assert up[2] > 0 and abs(right[2]) < 1e-12  # no roll: the horizon stays level
    above = np.array(cam.look_at) + 0.1 * up
    assert raycast.project(cam, above[None], W, H)[0][1] < H / 2  # up in the world is up in the image


def test_the_nearer_object_wins_and_a_hidden_one_fails_visibility():
    cam = {"location": [10.0, 0.0, 1.0], "look_at": [0.0, 0.0, 0.6], "focal_length": 35.0}
    front = {"shape": "cube", "size": "large", "x": 3.0, "y": 0.0}
    back = {"shape": "sphere", "size": "small", "x": -1.0, "y": 0.0}  # straight behind the big cube
    scene = _scene(front, back, camera=cam)
    index = raycast.index_pass(scene, W, H)
    assert (index == 1).sum() > 2000 and (index == 2).sum() == 0
    alone = raycast.index_pass(_scene(back, camera=cam), W, H)
    assert (alone == 1).sum() > 200  # in view when nothing is in front of it

    cfg = load_config("smoke", [f"data.render.width={W}", f"data.render.height={H}"]).data
    pair = sample_pair(cfg, 0, 1, 1)
    pair.before, pair.after = scene, scene
    assert "visible pixels" in violation(pair, {"before": index, "after": index}, 10, 0.05)


class RayCastRenderer:
    """A stand-in renderer whose 'render' is the ray-cast pass: counts its calls."""

    def __init__(self, cfg):
        self.cfg, self.calls, self.last_render_seconds = cfg, 0, 0.0

    def render(self, scene, png_path):
        self.calls += 1
        Path(png_path).write_bytes(b"")
        return raycast.index_pass(scene, self.cfg.width, self.cfg.height)

    def project_boxes(self, scene, ids=None, clip=True):
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
        boxes = {}
        for o in scene.objects:
            c, rot, s = raycast.object_frame(o)
            px = raycast.project(scene.camera, c + s * corners @ rot.T, self.cfg.width, self.cfg.height)
            boxes[o.id] = [*px.min(axis=0), *px.max(axis=0)]
        return boxes


def test_attempts_failing_on_the_ray_cast_pass_cost_no_render(tmp_path):
    cfg = load_config("paper", ["data.render.width=240", "data.render.height=160"])
    fake = RayCastRenderer(cfg.data.render)
    rows = [render_pair(fake, cfg.data, "stage3", cfg.data.subsets["stage3"], seed, tmp_path) for seed in range(12)]
    timing = [r["_timing"] for r in rows]
    # the check before rendering and after agree here, so every pair costs exactly two renders
    assert [t["renders"] for t in timing] == [2] * 12 and fake.calls == 24
    assert sum(t["skipped_unrendered"] for t in timing) > 0  # some attempts were rejected for free
    need = visible_threshold(cfg.data.render)
    for r in rows:
        assert min(o["visible_pixels"] for k in ("objects_before", "objects_after") for o in r[k]) >= need
        assert all(
            d["occupied_before"] <= cfg.data.render.max_add_occupancy for d in r["differences"] if d["type"] == "add"
        )


def test_an_impossible_visibility_rule_renders_nothing(tmp_path):
    cfg = load_config(
        "paper",
        [
            "data.render.width=240",
            "data.render.height=160",
            "data.render.max_attempts=3",
            "data.render.min_visible_pixels=1500",
        ],
    )
    fake = RayCastRenderer(cfg.data.render)
    with pytest.raises(RenderError, match="1500 visible pixels"):
        render_pair(fake, cfg.data, "stage1", cfg.data.subsets["stage1"], 0, tmp_path)
    assert fake.calls == 0
