"""Shaded renders of scene specs without Blender (pure numpy): millions of images for pretraining.

The same camera and geometry as the ray-cast index pass (:mod:`dig_kit.scenes.raycast`): one
ray per sub-pixel (``supersample`` x ``supersample`` per pixel, box-filtered), the nearest
object or the ground plane, and a local shading model of the Cycles scene the kit renders
(``dig_kit.render.blender``): the key, fill and back lights of the scene's
:class:`~dig_kit.scenes.spec.LightSpec` (Lambert, inverse-square falloff, the key light casting
shadows), the uniform ambient world, and for metal a mirror of the world (a bright sky above
the horizon, the ground below) tinted by its colour, with highlights of the lights. Linear
light, then the sRGB curve, as Cycles' "Standard" view transform writes it.

:class:`Look` holds the shading constants; :func:`jittered_look` draws them around the
defaults per image (light strengths, exposure, a colour cast, noise), so a model trained on
these images meets the Cycles renders as one more variation. The index pass comes with the
image (:func:`dig_kit.scenes.raycast.full_boxes` gives the objects' whole boxes). Pure numpy, in
``scenes`` so that training code can render without reaching the Blender side of the kit.

On one core, a 128x128 image of a mini scene takes about 15 ms at ``supersample=1`` and 45-60 ms
at ``supersample=2`` (``benchmarks/bench_fast_render.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dig_kit.scenes import raycast
from dig_kit.scenes.attributes import COLORS, srgb_to_linear
from dig_kit.scenes.spec import SceneSpec

GROUND_ALBEDO = 0.45  # dig_kit.render.blender.GROUND_COLOR (linear)
BACKGROUND = 0.5  # the world colour; the camera sees BACKGROUND * light.ambient where no ground is
SKY = 0.8 * 2.5  # what metals mirror above the horizon (RenderConfig.reflection_env)
_LINEAR = {name: np.array(srgb_to_linear(rgb)) for name, rgb in COLORS.items()}


@dataclass(frozen=True)
class Look:
    """Shading constants: light gains (radiance per W/m^2 of each light), the metal's
    diffuse share and highlight, exposure (a factor on linear light), a colour cast (per
    channel factors) and Gaussian noise (sRGB, 0-1)."""

    light_gain: float = 0.075
    ambient_gain: float = 2.2
    metal_diffuse: float = 0.5
    metal_mirror: float = 1.0
    highlight: float = 1.5
    shininess: float = 60.0
    exposure: float = 1.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    noise: float = 0.0


def jittered_look(rng: np.random.Generator, base: Look = Look(), amount: float = 1.0) -> Look:
    """``base`` with its constants drawn around their values (``amount`` scales the spread)."""

    def j(v: float, rel: float) -> float:
        return float(v * np.exp(rng.normal(0.0, rel * amount)))

    return replace(
        base,
        light_gain=j(base.light_gain, 0.2),
        ambient_gain=j(base.ambient_gain, 0.25),
        metal_diffuse=j(base.metal_diffuse, 0.3),
        metal_mirror=j(base.metal_mirror, 0.2),
        highlight=j(base.highlight, 0.4),
        shininess=j(base.shininess, 0.4),
        exposure=j(base.exposure, 0.15),
        cast=tuple(float(c) for c in np.exp(rng.normal(0.0, 0.04 * amount, size=3))),
        noise=float(abs(rng.normal(0.0, 0.012 * amount))),
    )


def _area_offsets(shape: tuple[int, int], k: int, size: float = 2.0) -> np.ndarray:
    """``shape + (3,)``: a point of the key light's square (``size`` m, horizontal) per sub-pixel,
    a different one for each sub-pixel of a pixel, so box filtering softens the shadow's edge."""
    if k == 1:
        return np.zeros(shape + (3,), dtype=np.float32)
    u = (np.arange(k) + 0.5) / k - 0.5
    grid = np.stack(np.meshgrid(u, u[::-1], indexing="ij"), axis=-1) * size  # (k, k, 2), a Latin-square order
    tile = np.concatenate([grid, np.zeros((k, k, 1))], axis=-1)
    return np.tile(tile, (shape[0] // k, shape[1] // k, 1)).astype(np.float32)


def _srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def render(
    scene: SceneSpec,
    width: int,
    height: int,
    look: Look = Look(),
    rng: np.random.Generator | None = None,
    supersample: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """``(image, index)``: the ``(height, width, 3)`` uint8 sRGB image and the ``(height, width)``
    index pass at the pixel centres (:func:`raycast.index_pass`: id + 1 per pixel, 0 for none).
    ``rng`` draws the noise of ``look.noise``."""
    k = supersample
    depth, index, normal = raycast.trace(scene, width, height, supersample=k)
    # shading in float32 (half the time of float64; the geometry above stays float64)
    normal = normal.astype(np.float32)
    loc = np.asarray(scene.camera.location, dtype=np.float32)
    rays = raycast.ray_directions(scene.camera, width, height, k).astype(np.float32)
    hit_object = index > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = np.where(rays[..., 2] < 0, -loc[2] / rays[..., 2], np.inf)
    hit_ground = ~hit_object & np.isfinite(t_ground)
    t = np.where(hit_object, depth, t_ground)
    n = np.where(hit_object[..., None], normal, np.array([0.0, 0.0, 1.0], dtype=np.float32))
    points = loc + np.where(np.isfinite(t), t, 0.0).astype(np.float32)[..., None] * rays

    albedo = np.full(index.shape + (3,), GROUND_ALBEDO, dtype=np.float32)
    metal = np.zeros(index.shape, dtype=bool)
    for obj in scene.objects:
        sel = index == obj.id + 1
        albedo[sel] = _LINEAR[obj.color]
        metal[sel] = obj.material == "metal"

    light = scene.light
    lights = (
        (np.asarray(light.key_location, dtype=np.float32), light.key_strength, True),
        (np.asarray(light.fill_location, dtype=np.float32), light.fill_strength, False),
        (np.asarray(light.back_location, dtype=np.float32), light.back_strength, False),
    )
    lit = hit_object | hit_ground
    view = -rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    diffuse = np.full(index.shape, light.ambient * BACKGROUND * look.ambient_gain, dtype=np.float32)
    specular = np.zeros(index.shape, dtype=np.float32)
    for position, strength, shadows in lights:
        to_light = position - points
        dist2 = np.einsum("...i,...i", to_light, to_light)
        to_light = to_light / np.sqrt(dist2)[..., None]
        cos = np.clip(np.einsum("...i,...i", n, to_light), 0.0, None)
        irradiance = look.light_gain * strength * cos / dist2
        if shadows:
            where = lit & (cos > 0)
            if where.any():
                p = points[where] + 1e-3 * n[where]
                blocked = raycast.occluded(scene, p, (position + _area_offsets(index.shape, k))[where])
                visible = np.ones(index.shape, dtype=bool)
                visible[where] = ~blocked
                irradiance = irradiance * visible
        diffuse = diffuse + irradiance
        half = to_light + view
        half /= np.maximum(np.linalg.norm(half, axis=-1, keepdims=True), 1e-12)
        specular = specular + irradiance * np.clip(np.einsum("...i,...i", n, half), 0, 1) ** look.shininess

    radiance = albedo * diffuse[..., None]
    if metal.any():
        d = -view[metal]
        nm = n[metal]
        r = d - 2 * np.einsum("...i,...i", d, nm)[..., None] * nm
        env = np.where(r[:, 2] > 0, SKY * light.ambient * look.ambient_gain, GROUND_ALBEDO * diffuse[metal].mean())
        a = albedo[metal]
        radiance[metal] = (
            a * (look.metal_diffuse * diffuse[metal] + look.metal_mirror * env)[:, None]
            + look.highlight * (a + 0.2) * specular[metal][:, None]
        )
    radiance[~lit] = BACKGROUND * light.ambient
    radiance = radiance * look.exposure * np.asarray(look.cast)
    image = radiance.reshape(height, k, width, k, 3).mean(axis=(1, 3))
    image = _srgb(image)
    if look.noise > 0:
        rng = rng if rng is not None else np.random.default_rng()
        image = image + rng.normal(0.0, look.noise, size=image.shape)
    image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
    return image, (raycast.index_pass(scene, width, height) if k > 1 else index)
