"""Stochastic modifications: turn a base scene into a (before, after, differences) pair.

Change types (supplement §7, slides step 3): ``shape``, ``color``, ``size``, ``material``
(one attribute of one object takes another value), ``add`` (a new object in a previously
empty spot) and ``remove`` (an object disappears).

Invariants, checked by the property tests over many seeds:

- exactly M differences; no two touch the same object;
- an added object keeps the margin from every object of *both* scenes, so its spot is empty
  in the before image;
- a change that enlarges a footprint (a size increase, a sphere or cylinder becoming a cube)
  never makes objects intersect: the after scene validates with the same margin;
- a scene never exceeds ``max_objects`` and never becomes empty.

A pair is a pure function of (data config, pair seed, attempt): :func:`sample_pair` seeds its
generator with ``SeedSequence([config seed, pair seed, attempt])``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from dig_kit.config import DataConfig, SceneConfig
from dig_kit.scenes.attributes import ATTRIBUTES
from dig_kit.scenes.sampling import find_spot, sample_attributes, sample_scene
from dig_kit.scenes.spec import ObjectSpec, SceneError, SceneSpec

ATTRIBUTE_CHANGES = ("shape", "color", "size", "material")
EMPTY_ATTRIBUTES = {"shape": "", "color": "", "size": "", "material": ""}


class ChangeError(ValueError):
    """The requested differences cannot be applied to this scene."""


@dataclass
class Difference:
    """One difference of a pair. Attributes are empty strings where the object does not exist
    (``before`` of an add, ``after`` of a remove), so every row has the same schema."""

    type: str
    object_id: int
    before: dict = field(default_factory=lambda: dict(EMPTY_ATTRIBUTES))
    after: dict = field(default_factory=lambda: dict(EMPTY_ATTRIBUTES))
    bbox: list = field(default_factory=list)
    """[x1, y1, x2, y2] in absolute pixels of the before image (set by the renderer)."""
    visible_pixels_before: int = 0
    visible_pixels_after: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PairSpec:
    before: SceneSpec
    after: SceneSpec
    differences: list[Difference]
    seed: int
    attempt: int = 0


def apply_changes(
    scene: SceneSpec,
    num_differences: int,
    cfg: SceneConfig,
    rng: np.random.Generator,
    change_types: tuple[str, ...] | list[str] = ("shape", "color", "size", "material", "add", "remove"),
    max_tries: int = 50,
) -> tuple[SceneSpec, list[Difference]]:
    """Apply ``num_differences`` distinct-object changes to ``scene``; return (after, differences).

    Raises :class:`ChangeError` when the request is impossible for this scene (e.g. 5
    differences in a 3-object scene, or only ``add`` allowed in a full scene).
    """
    n = len(scene.objects)
    if num_differences < 1:
        raise ChangeError(f"num_differences={num_differences}: must be >= 1")
    if num_differences > n:
        raise ChangeError(
            f"{num_differences} differences requested in a {n}-object scene: every difference needs its own object "
            f"(at most {n})"
        )
    if not change_types:
        raise ChangeError("no change types allowed")
    next_id = max(scene.ids(), default=-1) + 1
    after = scene
    touched: set[int] = set()
    diffs: list[Difference] = []
    tries = 0
    while len(diffs) < num_differences:
        tries += 1
        if tries > max_tries:
            raise ChangeError(
                f"could not apply {num_differences} differences with types {list(change_types)} "
                f"to a {n}-object scene after {max_tries} tries"
            )
        kind = change_types[int(rng.integers(len(change_types)))]
        if kind == "add":
            if len(after.objects) >= cfg.max_objects:
                continue
            attrs = sample_attributes(rng)
            spot = find_spot(after, attrs["shape"], attrs["size"], cfg, rng, avoid=(scene,))
            if spot is None:
                continue
            rot = round(float(rng.uniform(0, cfg.max_rotation)), 3)
            new = ObjectSpec(id=next_id, x=spot[0], y=spot[1], rotation=rot, **attrs)
            next_id += 1
            after = after.with_objects([*after.objects, new])
            touched.add(new.id)
            diffs.append(Difference("add", new.id, after=new.attributes()))
            continue
        candidates = [o for o in after.objects if o.id not in touched and o.id in scene.ids()]
        if not candidates:
            continue
        obj = candidates[int(rng.integers(len(candidates)))]
        if kind == "remove":
            if len(after.objects) <= 1:
                continue
            after = after.with_objects([o for o in after.objects if o.id != obj.id])
            touched.add(obj.id)
            diffs.append(Difference("remove", obj.id, before=obj.attributes()))
            continue
        options = [v for v in ATTRIBUTES[kind] if v != getattr(obj, kind)]
        new_obj = replace(obj, **{kind: options[int(rng.integers(len(options)))]})
        if new_obj.radius > obj.radius and not after.fits(new_obj):
            continue  # an enlarged footprint would touch a neighbour: pick again
        after = after.with_objects([new_obj if o.id == obj.id else o for o in after.objects])
        touched.add(obj.id)
        diffs.append(Difference(kind, obj.id, before=obj.attributes(), after=new_obj.attributes()))
    after.validate(cfg.max_objects)
    return after, diffs


def pair_rng(config_seed: int, pair_seed: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(config_seed), int(pair_seed), int(attempt)]))


def sample_pair(
    cfg: DataConfig, pair_seed: int, min_differences: int, max_differences: int, attempt: int = 0
) -> PairSpec:
    """Sample a base scene and apply M in [min_differences, max_differences] differences.

    Deterministic in (cfg, pair_seed, attempt). A scene that cannot take the sampled changes
    (placement or change sampling fails) moves on to the next internal sub-attempt of the
    same generator, so the result is still a pure function of the inputs.
    """
    if min_differences < 1 or max_differences < min_differences:
        raise ChangeError(f"differences range [{min_differences}, {max_differences}] is empty or below 1")
    if max_differences > cfg.scene.max_objects:
        raise ChangeError(f"{max_differences} differences cannot fit scenes of at most {cfg.scene.max_objects} objects")
    rng = pair_rng(cfg.seed, pair_seed, attempt)
    last: Exception | None = None
    for _ in range(20):
        m = int(rng.integers(min_differences, max_differences + 1))
        lo = max(cfg.scene.min_objects, m)
        n = int(rng.integers(lo, cfg.scene.max_objects + 1))
        try:
            before = sample_scene(cfg.scene, rng, num_objects=n)
            after, diffs = apply_changes(before, m, cfg.scene, rng, tuple(cfg.change_types))
        except (SceneError, ChangeError) as e:
            last = e
            continue
        return PairSpec(before=before, after=after, differences=diffs, seed=pair_seed, attempt=attempt)
    raise ChangeError(f"pair seed {pair_seed}: no valid pair in 20 sub-attempts ({last})")
