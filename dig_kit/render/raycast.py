"""The object-index pass and the boxes of a scene without Blender (pure numpy).

The renderer's camera (``CameraSpec``: 36 mm wide sensor, horizontal fit, looking at
``look_at`` with world Z up, as Blender's ``to_track_quat('-Z', 'Y')`` orients it) and its
objects (unit cube, sphere and cylinder scaled by the size factor, standing on the ground,
turned about Z) are analytic, so one ray per pixel centre through them gives the
object-index pass Cycles writes (id + 1 per pixel, 0 for the ground and sky) up to the
pixel-edge jitter of Cycles' sample and the meshes' tessellation.

:func:`render_pair` uses it to reject a pair that would fail the visibility or empty-spot
rules before spending a Cycles render on it; the rendered index pass stays the annotation
and the final check. :func:`project` maps world points to pixels the way Blender's
``world_to_camera_view`` does (top-left origin).
"""

from __future__ import annotations

import math

import numpy as np

from dig_kit.scenes.spec import CameraSpec, ObjectSpec, SceneSpec

SENSOR_WIDTH = 36.0


def camera_basis(cam: CameraSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(location, right, up, forward) of the camera: forward towards ``look_at``, up as close
    to world +Z as a roll-free camera allows."""
    loc = np.asarray(cam.location, dtype=np.float64)
    fwd = np.asarray(cam.look_at, dtype=np.float64) - loc
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, (0.0, 0.0, 1.0))
    n = np.linalg.norm(right)
    right = right / n if n > 1e-12 else np.array([1.0, 0.0, 0.0])  # looking straight down
    up = np.cross(right, fwd)
    return loc, right, up, fwd


def _half_extents(cam: CameraSpec, width: int, height: int) -> tuple[float, float]:
    half_w = SENSOR_WIDTH / 2 / cam.focal_length
    return half_w, half_w * height / width


def project(cam: CameraSpec, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel coordinates ``(N, 2)`` (x right, y down, top-left origin) of world ``points`` ``(N, 3)``."""
    loc, right, up, fwd = camera_basis(cam)
    v = np.asarray(points, dtype=np.float64) - loc
    z = v @ fwd
    half_w, half_h = _half_extents(cam, width, height)
    x = (v @ right) / z / half_w
    y = (v @ up) / z / half_h
    return np.stack([(x + 1) / 2 * width, (1 - y) / 2 * height], axis=1)


def object_frame(obj: ObjectSpec) -> tuple[np.ndarray, np.ndarray, float]:
    """(centre, rotation, scale): world = centre + rotation @ (scale * unit)."""
    s = obj.scale
    a = math.radians(obj.rotation)
    rot = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return np.array([obj.x, obj.y, s]), rot, s


def _hit_sphere(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    a = np.einsum("...i,...i", d, d)
    b = 2 * np.einsum("...i,...i", d, o)
    c = float(o @ o) - 1.0
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / (2 * a)
    return np.where((disc >= 0) & (t > 0), t, np.inf)


def _hit_cube(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-1.0 - o) / d
        t2 = (1.0 - o) / d
    near = np.nan_to_num(np.minimum(t1, t2), nan=-np.inf).max(axis=-1)
    far = np.nan_to_num(np.maximum(t1, t2), nan=np.inf).min(axis=-1)
    return np.where((far >= near) & (near > 0), near, np.inf)


def _hit_cylinder(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    a = dx * dx + dy * dy
    b = 2 * (o[0] * dx + o[1] * dy)
    c = o[0] ** 2 + o[1] ** 2 - 1.0
    disc = b * b - 4 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        side = (-b - np.sqrt(disc)) / (2 * a)
        z = o[2] + side * dz
        best = np.where((disc >= 0) & (side > 0) & (np.abs(z) <= 1), side, np.inf)
        for cap in (-1.0, 1.0):
            t = (cap - o[2]) / dz
            x, y = o[0] + t * dx, o[1] + t * dy
            best = np.where((t > 0) & (x * x + y * y <= 1) & (t < best), t, best)
    return best


_HIT = {"sphere": _hit_sphere, "cube": _hit_cube, "cylinder": _hit_cylinder}


def index_pass(scene: SceneSpec, width: int, height: int) -> np.ndarray:
    """``(height, width)`` int32: id + 1 of the nearest object through each pixel centre, 0 for none."""
    loc, right, up, fwd = camera_basis(scene.camera)
    half_w, half_h = _half_extents(scene.camera, width, height)
    xs = ((np.arange(width) + 0.5) / width * 2 - 1) * half_w
    ys = (1 - (np.arange(height) + 0.5) / height * 2) * half_h
    rays = fwd + xs[None, :, None] * right + ys[:, None, None] * up  # (H, W, 3), t = world distance / |fwd| units
    depth = np.full((height, width), np.inf)
    index = np.zeros((height, width), dtype=np.int32)
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    for obj in scene.objects:
        centre, rot, s = object_frame(obj)
        # only the pixels inside the projection of the object's bounding box can hit it
        if np.min((centre + s * corners @ rot.T - loc) @ fwd) <= 0:
            rows, cols = slice(0, height), slice(0, width)  # reaches behind the camera: every pixel
        else:
            px = project(scene.camera, centre + s * corners @ rot.T, width, height)
            x0, y0 = np.clip(np.floor(px.min(axis=0)).astype(int) - 1, 0, (width, height))
            x1, y1 = np.clip(np.ceil(px.max(axis=0)).astype(int) + 1, 0, (width, height))
            rows, cols = slice(y0, y1), slice(x0, x1)
        if rows.start >= rows.stop or cols.start >= cols.stop:
            continue
        # unit-shape coordinates: the same ray parameter t as in the world (uniform scale)
        t = _HIT[obj.shape]((loc - centre) @ rot / s, rays[rows, cols] @ rot / s)
        d, i = depth[rows, cols], index[rows, cols]
        nearer = t < d
        d[nearer] = t[nearer]
        i[nearer] = obj.id + 1
    return index
