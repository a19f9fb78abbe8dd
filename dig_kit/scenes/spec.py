"""Scene specs: the JSON config of one 3D scene (slides, pipeline step 1).

A :class:`SceneSpec` fully determines a rendered image (with the render settings): objects
with attributes and ground-plane poses, the camera and the lights. It round-trips through
JSON exactly (``SceneSpec.from_json(s.to_json()) == s``) and validates on construction from
untrusted data: an unknown shape, more than ``max_objects`` objects, interpenetrating objects
or a malformed field raise :class:`SceneError` naming the problem.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace

from dig_kit.scenes.attributes import ATTRIBUTES, SIZES, footprint_radius


class SceneError(ValueError):
    """A scene spec is invalid (names the object and field)."""


MAX_OBJECTS = 10


@dataclass(frozen=True)
class ObjectSpec:
    """One object on the ground plane. ``id`` is stable across the before/after scenes of a pair."""

    id: int
    shape: str
    color: str
    size: str
    material: str
    x: float
    y: float
    rotation: float = 0.0
    """Rotation about the vertical axis, degrees."""

    @property
    def radius(self) -> float:
        return footprint_radius(self.shape, self.size)

    @property
    def scale(self) -> float:
        return SIZES[self.size]

    def attributes(self) -> dict[str, str]:
        return {"shape": self.shape, "color": self.color, "size": self.size, "material": self.material}

    def validate(self) -> None:
        for name, allowed in ATTRIBUTES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise SceneError(f"object {self.id}: unknown {name} {value!r} (choose from {', '.join(allowed)})")
        for name in ("x", "y", "rotation"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise SceneError(f"object {self.id}: {name} must be a finite number, got {v!r}")


@dataclass(frozen=True)
class CameraSpec:
    location: tuple[float, float, float] = (7.0, -7.0, 6.0)
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    focal_length: float = 35.0
    """mm, on a 36 mm wide sensor."""


@dataclass(frozen=True)
class LightSpec:
    key_location: tuple[float, float, float] = (6.0, -3.0, 8.0)
    key_strength: float = 1000.0
    """Watts of the key area light."""
    fill_location: tuple[float, float, float] = (-6.0, -2.0, 5.0)
    fill_strength: float = 300.0
    back_location: tuple[float, float, float] = (-1.0, 7.0, 6.0)
    back_strength: float = 300.0
    ambient: float = 0.35
    """World background strength (soft ambient light)."""


@dataclass(frozen=True)
class SceneSpec:
    objects: tuple[ObjectSpec, ...]
    camera: CameraSpec = field(default_factory=CameraSpec)
    light: LightSpec = field(default_factory=LightSpec)
    margin: float = 0.0
    """Minimum footprint gap the scene was built with (checked by :meth:`validate`)."""

    # -- queries -------------------------------------------------------------------------
    def get(self, object_id: int) -> ObjectSpec:
        for o in self.objects:
            if o.id == object_id:
                return o
        raise KeyError(object_id)

    def ids(self) -> list[int]:
        return [o.id for o in self.objects]

    def fits(self, obj: ObjectSpec, ignore: tuple[int, ...] = ()) -> bool:
        """True when ``obj`` keeps at least ``margin`` from every other object (ids in ``ignore`` skipped)."""
        for o in self.objects:
            if o.id == obj.id or o.id in ignore:
                continue
            if math.hypot(o.x - obj.x, o.y - obj.y) < o.radius + obj.radius + self.margin:
                return False
        return True

    def with_objects(self, objects) -> SceneSpec:
        return replace(self, objects=tuple(objects))

    # -- validation ----------------------------------------------------------------------
    def validate(self, max_objects: int = MAX_OBJECTS) -> SceneSpec:
        if len(self.objects) > max_objects:
            raise SceneError(f"scene has {len(self.objects)} objects; at most {max_objects} are allowed")
        seen = set()
        for o in self.objects:
            if o.id in seen:
                raise SceneError(f"duplicate object id {o.id}")
            seen.add(o.id)
            o.validate()
        objs = self.objects
        for i, a in enumerate(objs):
            for b in objs[i + 1 :]:
                gap = math.hypot(a.x - b.x, a.y - b.y) - a.radius - b.radius
                if gap < self.margin - 1e-9:
                    raise SceneError(
                        f"objects {a.id} and {b.id} intersect or are closer than the margin "
                        f"(gap {gap:.3f} < {self.margin:.3f})"
                    )
        return self

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict, max_objects: int = MAX_OBJECTS) -> SceneSpec:
        if not isinstance(data, dict):
            raise SceneError(f"a scene must be a JSON object, got {type(data).__name__}")
        try:
            objects = tuple(ObjectSpec(**o) for o in data.get("objects", []))
            cam = data.get("camera", {})
            light = data.get("light", {})
            camera = CameraSpec(
                location=tuple(cam.get("location", CameraSpec.location)),
                look_at=tuple(cam.get("look_at", CameraSpec.look_at)),
                focal_length=cam.get("focal_length", CameraSpec.focal_length),
            )
            lkw = {k: tuple(v) if isinstance(v, list) else v for k, v in light.items()}
            light_spec = LightSpec(**lkw)
            extra = set(data) - {"objects", "camera", "light", "margin"}
            if extra:
                raise SceneError(f"unknown scene field {sorted(extra)[0]!r}")
            scene = cls(objects=objects, camera=camera, light=light_spec, margin=float(data.get("margin", 0.0)))
        except TypeError as e:
            raise SceneError(f"malformed scene: {e}") from None
        return scene.validate(max_objects)

    @classmethod
    def from_json(cls, text: str, max_objects: int = MAX_OBJECTS) -> SceneSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SceneError(f"scene JSON does not parse: {e}") from None
        return cls.from_dict(data, max_objects)
