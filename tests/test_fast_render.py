"""The fast shaded renderer (numpy, no Blender): its index pass is the ray-cast one, its colours
are the attribute colours, metal looks unlike matte, the key light's shadow test and the full
(hidden parts included) boxes."""

from dataclasses import replace

import numpy as np
import pytest

from dig_kit.config import load_config
from dig_kit.scenes import SceneSpec, raycast, shaded
from dig_kit.scenes.attributes import COLORS
from dig_kit.scenes.sampling import sample_scene
from dig_kit.scenes.spec import SceneError

W = H = 128  # the mini profile's image size
# the mini preset names the shipped backbone; the scenes do not depend on it
KIT = load_config("mini", {"warm_start.backbone": ""})


def _scenes(n: int, seed: int = 0) -> list[SceneSpec]:
    out = []
    while len(out) < n:
        try:
            out.append(sample_scene(KIT.data.scene, np.random.default_rng(seed)))
        except SceneError:  # a draw that cannot place its objects
            pass
        seed += 1
    return out


@pytest.fixture(scope="module")
def scenes():
    return _scenes(20)


def _one(shape: str, size: str = "large", x: float = 0.0, y: float = 0.0) -> SceneSpec:
    obj = {"id": 0, "shape": shape, "color": "red", "size": size, "material": "matte", "x": x, "y": y}
    return SceneSpec.from_dict({"objects": [{**obj, "rotation": 0.0}]})


@pytest.mark.parametrize("supersample", [1, 2])
def test_the_index_pass_is_the_ray_cast_one(scenes, supersample):
    for scene in scenes[:4]:
        image, index = shaded.render(scene, W, H, supersample=supersample)
        assert image.shape == (H, W, 3) and image.dtype == np.uint8
        assert index.shape == (H, W)
        np.testing.assert_array_equal(index, raycast.index_pass(scene, W, H))
        assert set(np.unique(index)) <= {0} | {o.id + 1 for o in scene.objects}
        assert len(np.unique(index)) > 1  # the objects are in view


def test_the_same_look_and_seed_give_the_same_image_and_a_jittered_look_another(scenes):
    scene = scenes[0]
    look = replace(shaded.Look(), noise=0.02)
    a, _ = shaded.render(scene, W, H, look, np.random.default_rng(7))
    b, _ = shaded.render(scene, W, H, look, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    c, _ = shaded.render(scene, W, H, look, np.random.default_rng(8))
    assert (a != c).any()  # the noise follows the rng
    plain, _ = shaded.render(scene, W, H)
    again, _ = shaded.render(scene, W, H)
    np.testing.assert_array_equal(plain, again)
    jittered = shaded.jittered_look(np.random.default_rng(0))
    assert jittered != shaded.Look()
    other, _ = shaded.render(scene, W, H, jittered, np.random.default_rng(0))
    assert np.abs(other.astype(int) - plain).mean() > 1.0


def _chromaticity(rgb) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=np.float64)
    return rgb / max(rgb.sum(), 1e-9)


def test_a_matte_object_shows_its_own_colour(scenes):
    """The mean colour of a matte object's pixels is nearest (normalised RGB) to its attribute
    colour, or second nearest, for >= 90% of the objects seen well (>= 40 px)."""
    names = list(COLORS)
    table = np.array([_chromaticity(COLORS[c]) for c in names])
    ranks = []
    for scene in scenes:
        image, index = shaded.render(scene, W, H)
        for o in scene.objects:
            pixels = image[index == o.id + 1]
            if o.material != "matte" or len(pixels) < 40:
                continue
            dist = np.linalg.norm(table - _chromaticity(pixels.mean(axis=0)), axis=1)
            ranks.append(int((dist < dist[names.index(o.color)]).sum()))
    assert len(ranks) >= 20
    assert np.mean(np.array(ranks) <= 1) >= 0.9, ranks


def _visible_boxes(scene: SceneSpec, index: np.ndarray) -> dict[int, list[float]]:
    """Object id -> the box of its visible pixels (objects not seen left out)."""
    from dig_kit.render.masks import mask_box

    boxes = {o.id: mask_box(index == o.id + 1) for o in scene.objects}
    return {k: v for k, v in boxes.items() if v is not None}


def _all(scene: SceneSpec, material: str) -> SceneSpec:
    return replace(scene, objects=tuple(replace(o, material=material) for o in scene.objects))


def test_metal_is_not_matte_of_the_same_colour(scenes):
    """The same objects, matte then metal: every object's pixels change, and metal's brightest
    pixels (highlights, the mirrored sky) are brighter for >= 90% of the objects."""
    changed, brighter = [], []
    for scene in scenes[:12]:
        matte, index = shaded.render(_all(scene, "matte"), W, H)
        metal, index_metal = shaded.render(_all(scene, "metal"), W, H)
        np.testing.assert_array_equal(index, index_metal)
        for o in scene.objects:
            sel = index == o.id + 1
            if sel.sum() < 40:
                continue
            a, b = matte[sel].astype(np.float64), metal[sel].astype(np.float64)
            changed.append(np.abs(a - b).mean())
            brighter.append(np.percentile(b.mean(axis=1), 99) > np.percentile(a.mean(axis=1), 99))
    assert len(changed) >= 20
    assert min(changed) > 2.0, changed  # grey levels (0-255) per pixel and channel
    assert np.mean(brighter) >= 0.9


@pytest.mark.parametrize("shape", ["cube", "sphere", "cylinder"])
def test_an_object_shadows_the_ground_from_a_light_above_it(shape):
    scene = _one(shape)  # half-extent 0.8 at the origin: z in [0, 1.6]
    light = np.array([0.0, 0.0, 10.0])
    below = [0.0, 0.0, -0.01]  # under the object's centre (just under the ground, outside the solid)
    beside = [0.3, 0.0, 0.0] if shape == "sphere" else [0.9, 0.0, 0.0]  # outside, in its shadow
    far = [[5.0, 5.0, 0.0], [-4.0, 2.0, 0.0], [0.0, -3.0, 0.0]]
    blocked = raycast.occluded(scene, np.array([below, beside, *far]), light)
    assert blocked.tolist() == [True, True, False, False, False]
    # a light low on one side: the ground behind the object is in its shadow, in front of it not
    lights = np.array([[3.0, 0.0, 4.0], [3.0, 0.0, 4.0]])
    assert raycast.occluded(scene, np.array([[-1.5, 0.0, 0.0], [2.0, 0.0, 0.0]]), lights).tolist() == [True, False]
    assert not raycast.occluded(_one(shape, x=20.0), np.array([below, beside]), light).any()


def test_the_full_box_holds_the_visible_box(scenes):
    for scene in scenes:
        _, index = shaded.render(scene, W, H, supersample=1)
        full = raycast.full_boxes(scene, W, H)
        visible = _visible_boxes(scene, index)
        assert visible and set(visible) <= set(full) == {o.id for o in scene.objects}
        for i, (x1, y1, x2, y2) in visible.items():
            fx1, fy1, fx2, fy2 = full[i]
            assert fx1 < fx2 and fy1 < fy2
            assert x1 >= fx1 - 1 and y1 >= fy1 - 1 and x2 <= fx2 + 1 and y2 <= fy2 + 1, (i, visible[i], full[i])


def test_the_full_box_of_an_unoccluded_object_is_its_visible_box():
    for shape in ("cube", "sphere", "cylinder"):
        scene = _one(shape, size="medium", x=0.3, y=-0.2)
        (box,) = _visible_boxes(scene, raycast.index_pass(scene, W, H)).values()
        np.testing.assert_allclose(box, raycast.full_boxes(scene, W, H)[0], atol=1.0)
