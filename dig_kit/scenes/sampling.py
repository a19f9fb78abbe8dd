"""Sampling base scenes: objects placed without interpenetration, jittered camera and lights.

Every function takes an explicit ``numpy.random.Generator``; the same generator state gives
the same scene.
"""

from __future__ import annotations

import math

import numpy as np

from dig_kit.config import SceneConfig
from dig_kit.scenes.attributes import ATTRIBUTES, footprint_radius
from dig_kit.scenes.spec import CameraSpec, LightSpec, ObjectSpec, SceneError, SceneSpec

PLACEMENT_TRIES = 200


def _choice(rng: np.random.Generator, options) -> str:
    options = tuple(options)
    return options[int(rng.integers(len(options)))]


def sample_attributes(rng: np.random.Generator) -> dict[str, str]:
    return {name: _choice(rng, allowed) for name, allowed in ATTRIBUTES.items()}


def find_spot(
    scene: SceneSpec,
    shape: str,
    size: str,
    cfg: SceneConfig,
    rng: np.random.Generator,
    avoid: tuple[SceneSpec, ...] = (),
) -> tuple[float, float] | None:
    """A ground position where an object of ``shape``/``size`` keeps ``margin`` from every object
    of ``scene`` and of every scene in ``avoid``; None when none is found in PLACEMENT_TRIES tries."""
    r = footprint_radius(shape, size)
    lim = cfg.area
    others = [o for s in (scene, *avoid) for o in s.objects]
    for _ in range(PLACEMENT_TRIES):
        x, y = (float(v) for v in rng.uniform(-lim, lim, size=2))
        if all(math.hypot(o.x - x, o.y - y) >= o.radius + r + cfg.margin for o in others):
            return round(x, 4), round(y, 4)
    return None


def sample_camera(cfg: SceneConfig, rng: np.random.Generator) -> CameraSpec:
    el, az = math.radians(cfg.camera_elevation), math.radians(cfg.camera_azimuth)
    d = cfg.camera_distance
    base = np.array([d * math.cos(el) * math.sin(az), -d * math.cos(el) * math.cos(az), d * math.sin(el)])
    loc = base + rng.uniform(-cfg.camera_jitter, cfg.camera_jitter, size=3)
    loc[2] = max(loc[2], 1.0)
    return CameraSpec(
        location=tuple(round(float(v), 4) for v in loc), look_at=(0.0, 0.0, 0.0), focal_length=cfg.focal_length
    )


def sample_light(cfg: SceneConfig, rng: np.random.Generator) -> LightSpec:
    base = LightSpec()
    j = cfg.light_jitter

    def jit(p):
        return tuple(round(float(v), 4) for v in np.asarray(p) + rng.uniform(-j, j, size=3))

    return LightSpec(
        key_location=jit(base.key_location),
        key_strength=base.key_strength,
        fill_location=jit(base.fill_location),
        fill_strength=base.fill_strength,
        back_location=jit(base.back_location),
        back_strength=base.back_strength,
        ambient=base.ambient,
    )


def sample_scene(cfg: SceneConfig, rng: np.random.Generator, num_objects: int | None = None) -> SceneSpec:
    """A base scene of ``num_objects`` (default: uniform in [min_objects, max_objects]) objects."""
    if num_objects is None:
        num_objects = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    if not 1 <= num_objects <= cfg.max_objects:
        raise SceneError(f"num_objects={num_objects}: must be in 1..{cfg.max_objects}")
    scene = SceneSpec(objects=(), camera=sample_camera(cfg, rng), light=sample_light(cfg, rng), margin=cfg.margin)
    objects: list[ObjectSpec] = []
    for i in range(num_objects):
        attrs = sample_attributes(rng)
        spot = find_spot(scene.with_objects(objects), attrs["shape"], attrs["size"], cfg, rng)
        if spot is None:
            raise SceneError(f"could not place {num_objects} objects in area {cfg.area} with margin {cfg.margin}")
        rot = round(float(rng.uniform(0, cfg.max_rotation)), 3)
        objects.append(ObjectSpec(id=i, x=spot[0], y=spot[1], rotation=rot, **attrs))
    return scene.with_objects(objects).validate(cfg.max_objects)


def jitter_view(scene: SceneSpec, cfg: SceneConfig, rng: np.random.Generator, azimuth_range: float = 0.0) -> SceneSpec:
    """The same scene (identical objects) under a freshly jittered camera and lights.

    Used to re-render one instance from another viewpoint (TWIN-style positives);
    ``azimuth_range`` (degrees) also turns the camera around the scene by up to that much.
    """
    camera = sample_camera(cfg, rng)
    if azimuth_range:
        a = math.radians(float(rng.uniform(-azimuth_range, azimuth_range)))
        x, y, z = camera.location
        loc = (round(x * math.cos(a) - y * math.sin(a), 4), round(x * math.sin(a) + y * math.cos(a), 4), z)
        camera = CameraSpec(location=loc, look_at=camera.look_at, focal_length=camera.focal_length)
    return SceneSpec(objects=scene.objects, camera=camera, light=sample_light(cfg, rng), margin=scene.margin)
