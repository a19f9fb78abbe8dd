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
``world_to_camera_view`` does (top-left origin); :func:`full_boxes` gives each object's whole
projected box as the renderer's ``project_boxes(clip=False)`` does from the meshes.

:func:`trace` (depth, index and surface normals, optionally per sub-pixel) and :func:`occluded`
(shadow rays) are what the fast shaded renderer (:mod:`dig_kit.scenes.shaded`) builds on.
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
    c = np.einsum("...i,...i", o, o) - 1.0
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
    b = 2 * (o[..., 0] * dx + o[..., 1] * dy)
    c = o[..., 0] ** 2 + o[..., 1] ** 2 - 1.0
    disc = b * b - 4 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        side = (-b - np.sqrt(disc)) / (2 * a)
        z = o[..., 2] + side * dz
        best = np.where((disc >= 0) & (side > 0) & (np.abs(z) <= 1), side, np.inf)
        for cap in (-1.0, 1.0):
            t = (cap - o[..., 2]) / dz
            x, y = o[..., 0] + t * dx, o[..., 1] + t * dy
            best = np.where((t > 0) & (x * x + y * y <= 1) & (t < best), t, best)
    return best


_HIT = {"sphere": _hit_sphere, "cube": _hit_cube, "cylinder": _hit_cylinder}


def _normal(shape: str, p: np.ndarray) -> np.ndarray:
    """Outward unit normals ``(..., 3)`` at points ``p`` on a unit shape's surface."""
    if shape == "sphere":
        return p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), 1e-12)
    n = np.zeros_like(p)
    if shape == "cube":
        axis = np.abs(p).argmax(axis=-1)[..., None]
        np.put_along_axis(n, axis, np.sign(np.take_along_axis(p, axis, axis=-1)), axis=-1)
        return n
    radial = np.hypot(p[..., 0], p[..., 1])
    cap = np.abs(np.abs(p[..., 2]) - 1.0) < np.abs(radial - 1.0)
    n[..., 0] = np.where(cap, 0.0, p[..., 0] / np.maximum(radial, 1e-12))
    n[..., 1] = np.where(cap, 0.0, p[..., 1] / np.maximum(radial, 1e-12))
    n[..., 2] = np.where(cap, np.sign(p[..., 2]), 0.0)
    return n


def ray_directions(cam: CameraSpec, width: int, height: int, supersample: int = 1) -> np.ndarray:
    """``(H*k, W*k, 3)`` directions through the centres of the pixels (of ``k x k`` sub-pixels),
    scaled so that the ray parameter is the distance along the camera's forward axis."""
    loc, right, up, fwd = camera_basis(cam)
    half_w, half_h = _half_extents(cam, width, height)
    w, h = width * supersample, height * supersample
    xs = ((np.arange(w) + 0.5) / w * 2 - 1) * half_w
    ys = (1 - (np.arange(h) + 0.5) / h * 2) * half_h
    return fwd + xs[None, :, None] * right + ys[:, None, None] * up


def trace(scene: SceneSpec, width: int, height: int, supersample: int = 1, normals: bool = True):
    """One ray per pixel centre (or per sub-pixel): ``(depth, index, normal)`` with depth the
    ray parameter of the nearest object hit (inf for none), index id + 1 of that object (0 for
    none) and, with ``normals``, its outward world-space unit normal (zero where nothing is hit)."""
    loc, right, up, fwd = camera_basis(scene.camera)
    w, h = width * supersample, height * supersample
    rays = ray_directions(scene.camera, width, height, supersample)
    depth = np.full((h, w), np.inf)
    index = np.zeros((h, w), dtype=np.int32)
    normal = np.zeros((h, w, 3)) if normals else None
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    for obj in scene.objects:
        centre, rot, s = object_frame(obj)
        # only the pixels inside the projection of the object's bounding box can hit it
        if np.min((centre + s * corners @ rot.T - loc) @ fwd) <= 0:
            rows, cols = slice(0, h), slice(0, w)  # reaches behind the camera: every pixel
        else:
            px = project(scene.camera, centre + s * corners @ rot.T, width, height) * supersample
            x0, y0 = np.clip(np.floor(px.min(axis=0)).astype(int) - 1, 0, (w, h))
            x1, y1 = np.clip(np.ceil(px.max(axis=0)).astype(int) + 1, 0, (w, h))
            rows, cols = slice(y0, y1), slice(x0, x1)
        if rows.start >= rows.stop or cols.start >= cols.stop:
            continue
        # unit-shape coordinates: the same ray parameter t as in the world (uniform scale)
        o, d = (loc - centre) @ rot / s, rays[rows, cols] @ rot / s
        t = _HIT[obj.shape](o, d)
        dep, idx = depth[rows, cols], index[rows, cols]
        nearer = t < dep
        dep[nearer] = t[nearer]
        idx[nearer] = obj.id + 1
        if normals and nearer.any():
            p = o + t[nearer][:, None] * d[nearer]
            normal[rows, cols][nearer] = _normal(obj.shape, p) @ rot.T
    return depth, index, normal


def occluded(scene: SceneSpec, points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: whether an object lies between each of ``points`` ``(N, 3)`` and ``target``
    (one point ``(3,)`` or one per point ``(N, 3)``)."""
    points = np.asarray(points, dtype=np.float64)
    d = np.asarray(target, dtype=np.float64) - points
    dd = np.einsum("ij,ij->i", d, d)
    blocked = np.zeros(len(points), dtype=bool)
    for obj in scene.objects:
        centre, rot, s = object_frame(obj)
        # only segments passing within the object's bounding sphere can meet it
        u = np.clip(np.einsum("ij,ij->i", centre - points, d) / dd, 0.0, 1.0)
        gap = centre - points - u[:, None] * d
        near = np.einsum("ij,ij->i", gap, gap) <= 3.0 * s * s
        if not near.any():
            continue
        # in the unit shape's frame the segment p -> target is t in (0, 1)
        t = _HIT[obj.shape]((points[near] - centre) @ rot / s, d[near] @ rot / s)
        blocked[near] |= (t > 1e-4) & (t < 1.0)
    return blocked


def index_pass(scene: SceneSpec, width: int, height: int) -> np.ndarray:
    """``(height, width)`` int32: id + 1 of the nearest object through each pixel centre, 0 for none."""
    return trace(scene, width, height, normals=False)[1]


def _surface_points(shape: str, n: int = 96) -> np.ndarray:
    """Points on a unit shape whose projections bound its projection: the cube's corners, the
    cylinder's two rims, a dense sphere."""
    if shape == "cube":
        return np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    if shape == "cylinder":
        rim = np.stack([np.cos(a), np.sin(a)], axis=1)
        return np.concatenate([np.c_[rim, -np.ones(n)], np.c_[rim, np.ones(n)]])
    z = np.linspace(-1, 1, n // 2)[:, None]
    r = np.sqrt(1 - z**2)
    return np.stack(np.broadcast_arrays(r * np.cos(a), r * np.sin(a), z), axis=-1).reshape(-1, 3)


def full_boxes(scene: SceneSpec, width: int, height: int) -> dict[int, list[float]]:
    """Object id -> ``[x1, y1, x2, y2]``: the box of the object's whole projection, hidden parts
    included (what the renderer's ``project_boxes(clip=False)`` gives from the meshes)."""
    out = {}
    for obj in scene.objects:
        centre, rot, s = object_frame(obj)
        px = project(scene.camera, centre + s * _surface_points(obj.shape) @ rot.T, width, height)
        out[obj.id] = [float(px[:, 0].min()), float(px[:, 1].min()), float(px[:, 0].max()), float(px[:, 1].max())]
    return out
