"""Stochastic modifications: turn a base scene into a (before, after, differences) pair.

Change types (supplement §7, slides step 3): ``shape``, ``color``, ``size``, ``material``
(one attribute of one object takes another value), ``add`` (a new object in a previously
empty spot) and ``remove`` (an object disappears).

Invariants, checked by the property tests over many seeds:

- exactly M differences; no two touch the same object; M and the change types of a pair come
  from (config seed, pair seed) alone, types by ``data.change_weights`` (uniform by default),
  a size change growing or shrinking with equal odds;
- both scenes hold ``min_objects..max_objects`` objects;
- an added object keeps the margin from every object of *both* scenes, so its spot is empty
  in the before image;
- a change that enlarges a footprint (a size increase, a sphere or cylinder becoming a cube)
  never makes objects intersect: the after scene validates with the same margin;

A pair is a pure function of (data config, pair seed, attempt): :func:`sample_pair` seeds its
generator with ``SeedSequence([config seed, pair seed, attempt])``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from dig_kit.config import DataConfig, SceneConfig
from dig_kit.scenes.attributes import ATTRIBUTES
from dig_kit.scenes.sampling import find_spot, jitter_view, sample_attributes, sample_scene
from dig_kit.scenes.spec import ObjectSpec, SceneError, SceneSpec

ATTRIBUTE_CHANGES = ("shape", "color", "size", "material")
KINDS_STREAM = 0x6B696E64  # a separate random stream for a pair's change types
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
    """[x1, y1, x2, y2] in absolute pixels of the before image: the box the prompt and reward
    use (``data.box_source``; set by the renderer)."""
    visible_pixels_before: int = 0
    visible_pixels_after: int = 0
    bbox_full_before: list | None = None
    """Projection of the object's geometry on the before image (None: absent there)."""
    bbox_visible_before: list | None = None
    """Tight box of its visible pixels on the before image (None: absent or hidden)."""
    bbox_full_after: list | None = None
    bbox_visible_after: list | None = None
    occupied_before: float = 0.0
    """Share of the object's visible pixels in the after image that show other objects in the
    before image: ~0 for an add into an empty spot; what a grown or reshaped object now covers
    of its neighbours; 0 for a removed object. Always a number, so every metadata file of a
    dataset has the same column types."""
    direction: str = ""
    """``grow`` or ``shrink`` for a size change, else empty."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PairSpec:
    before: SceneSpec
    after: SceneSpec
    differences: list[Difference]
    seed: int
    attempt: int = 0
    pair_type: str = "changes"
    """``changes``, ``no_change`` (after = before) or ``viewpoint_only`` (same objects, another view)."""


def sample_kinds(types, weights, rng: np.random.Generator, count: int) -> list[tuple[str, str]]:
    """``count`` (change type, direction) draws: types by ``weights`` (uniform when empty); a
    size change grows or shrinks with equal odds (direction ``grow``/``shrink``, else ``""``)."""
    types = list(types)
    if not types:
        raise ChangeError("no change types allowed")
    w = np.array([float(weights.get(t, 1.0)) if weights else 1.0 for t in types])
    if w.sum() <= 0:
        raise ChangeError(f"change weights {dict(weights)} give every type of {types} weight 0")
    picks = rng.choice(len(types), size=count, p=w / w.sum())
    return [(types[i], ("grow", "shrink")[int(rng.integers(2))] if types[i] == "size" else "") for i in picks]


def _resized(obj: ObjectSpec, direction: str, rng: np.random.Generator) -> ObjectSpec | None:
    order = list(ATTRIBUTES["size"])  # small < medium < large
    k = order.index(obj.size)
    options = order[k + 1 :] if direction == "grow" else order[:k]
    return replace(obj, size=options[int(rng.integers(len(options)))]) if options else None


def apply_kinds(
    scene: SceneSpec, kinds: list[tuple[str, str]], cfg: SceneConfig, rng: np.random.Generator
) -> tuple[SceneSpec, list[Difference]]:
    """Apply one change per ``(type, direction)`` in ``kinds``, each to its own object; return
    (after, differences). Raises :class:`ChangeError` when this scene cannot take them (no
    empty spot, no object that can change that way, a scene leaving ``min_objects..max_objects``)."""
    if len(kinds) > len(scene.objects) + sum(k == "add" for k, _ in kinds):
        raise ChangeError(
            f"{len(kinds)} differences requested in a {len(scene.objects)}-object scene: every "
            f"difference needs its own object (at most {len(scene.objects)} besides added ones)"
        )
    next_id = max(scene.ids(), default=-1) + 1
    after = scene
    touched: set[int] = set()
    diffs: list[Difference] = []
    for kind, direction in kinds:
        if kind == "add":
            if len(after.objects) >= cfg.max_objects:
                raise ChangeError(f"add: the scene already has {cfg.max_objects} objects (data.scene.max_objects)")
            attrs = sample_attributes(rng)
            spot = find_spot(after, attrs["shape"], attrs["size"], cfg, rng, avoid=(scene,))
            if spot is None:
                raise ChangeError("add: no empty spot for a new object")
            rot = round(float(rng.uniform(0, cfg.max_rotation)), 3)
            new = ObjectSpec(id=next_id, x=spot[0], y=spot[1], rotation=rot, **attrs)
            next_id += 1
            after = after.with_objects([*after.objects, new])
            touched.add(new.id)
            diffs.append(Difference("add", new.id, after=new.attributes()))
            continue
        candidates = [o for o in after.objects if o.id not in touched and o.id in scene.ids()]
        order = [candidates[i] for i in rng.permutation(len(candidates))]
        if kind == "remove":
            if len(after.objects) - 1 < cfg.min_objects:
                raise ChangeError(f"remove: the after scene would have fewer than {cfg.min_objects} objects")
            if not order:
                raise ChangeError("remove: no untouched object left")
            obj = order[0]
            after = after.with_objects([o for o in after.objects if o.id != obj.id])
            touched.add(obj.id)
            diffs.append(Difference("remove", obj.id, before=obj.attributes()))
            continue
        for obj in order:  # the first object that can take this change without touching a neighbour
            if kind == "size":
                new_obj = _resized(obj, direction, rng)
                if new_obj is None:
                    continue
            else:
                options = [v for v in ATTRIBUTES[kind] if v != getattr(obj, kind)]
                new_obj = replace(obj, **{kind: options[int(rng.integers(len(options)))]})
            if new_obj.radius > obj.radius and not after.fits(new_obj):
                continue
            after = after.with_objects([new_obj if o.id == obj.id else o for o in after.objects])
            touched.add(obj.id)
            diffs.append(
                Difference(kind, obj.id, before=obj.attributes(), after=new_obj.attributes(), direction=direction)
            )
            break
        else:
            raise ChangeError(f"{kind}{' ' + direction if direction else ''}: no object can take it here")
    after.validate(cfg.max_objects)
    return after, diffs


def apply_changes(
    scene: SceneSpec,
    num_differences: int,
    cfg: SceneConfig,
    rng: np.random.Generator,
    change_types: tuple[str, ...] | list[str] = ("shape", "color", "size", "material", "add", "remove"),
    weights: dict | None = None,
) -> tuple[SceneSpec, list[Difference]]:
    """Draw ``num_differences`` change types (:func:`sample_kinds`) and apply them to ``scene``."""
    if num_differences < 1:
        raise ChangeError(f"num_differences={num_differences}: must be >= 1")
    if num_differences > len(scene.objects):
        raise ChangeError(
            f"{num_differences} differences requested in a {len(scene.objects)}-object scene: every difference "
            f"needs its own object (at most {len(scene.objects)})"
        )
    return apply_kinds(scene, sample_kinds(change_types, weights or {}, rng, num_differences), cfg, rng)


def pair_rng(config_seed: int, pair_seed: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(config_seed), int(pair_seed), int(attempt)]))


def pair_kinds(
    cfg: DataConfig, pair_seed: int, min_differences: int, max_differences: int
) -> tuple[str, list[tuple[str, str]]]:
    """``(pair type, [(change type, direction), ...])`` of a pair: ``no_change`` or
    ``viewpoint_only`` with the configured shares (no changes), else ``changes`` with M uniform
    in [min, max] and types by ``data.change_weights``. Drawn from (config seed, pair seed)
    alone, so every render attempt of a pair keeps them and only the scene is resampled: the
    rendered data follows the weights exactly, whatever fails visibility or placement."""
    rng = np.random.default_rng(np.random.SeedSequence([int(cfg.seed), int(pair_seed), KINDS_STREAM]))
    u = float(rng.random())
    if u < cfg.no_change_fraction:
        return "no_change", []
    if u < cfg.no_change_fraction + cfg.viewpoint_only_fraction:
        return "viewpoint_only", []
    for _ in range(100):  # a draw no scene of this config can take (e.g. 3 removes and an add in
        # scenes of 3..6 objects) is drawn again; with the paper's 3..10 objects every draw fits
        m = int(rng.integers(min_differences, max_differences + 1))
        kinds = sample_kinds(cfg.change_types, cfg.change_weights, rng, m)
        lo, hi = _object_range(cfg, kinds)
        if lo <= hi:
            return "changes", kinds
    raise ChangeError(
        f"pair seed {pair_seed}: no draw of {min_differences}..{max_differences} changes of "
        f"{cfg.change_types} fits scenes of {cfg.scene.min_objects}..{cfg.scene.max_objects} objects"
    )


def _object_range(cfg: DataConfig, kinds: list[tuple[str, str]]) -> tuple[int, int]:
    """Objects the before scene may hold so that both scenes keep min..max objects and every
    change has its own object."""
    adds, removes = sum(k == "add" for k, _ in kinds), sum(k == "remove" for k, _ in kinds)
    return max(cfg.scene.min_objects + removes, len(kinds) - adds, 1), cfg.scene.max_objects - adds


def sample_pair(
    cfg: DataConfig, pair_seed: int, min_differences: int, max_differences: int, attempt: int = 0
) -> PairSpec:
    """Sample a base scene that can take the pair's changes (:func:`pair_kinds`) and apply them.

    Both scenes hold ``min_objects..max_objects`` objects. Deterministic in (cfg, pair_seed,
    attempt). A scene that cannot take the changes moves on to the next internal sub-attempt
    of the same generator, so the result is still a pure function of the inputs.
    """
    if min_differences < 1 or max_differences < min_differences:
        raise ChangeError(f"differences range [{min_differences}, {max_differences}] is empty or below 1")
    if max_differences > cfg.scene.max_objects:
        raise ChangeError(f"{max_differences} differences cannot fit scenes of at most {cfg.scene.max_objects} objects")
    pair_type, kinds = pair_kinds(cfg, pair_seed, min_differences, max_differences)
    lo, hi = _object_range(cfg, kinds)
    rng = pair_rng(cfg.seed, pair_seed, attempt)
    last: Exception | None = None
    for _ in range(20):
        n = int(rng.integers(lo, hi + 1))
        try:
            before = sample_scene(cfg.scene, rng, num_objects=n)
            if pair_type == "changes":
                after, diffs = apply_kinds(before, kinds, cfg.scene, rng)
            else:
                after, diffs = (before if pair_type == "no_change" else jitter_view(before, cfg.scene, rng)), []
        except (SceneError, ChangeError) as e:
            last = e
            continue
        return PairSpec(
            before=before, after=after, differences=diffs, seed=pair_seed, attempt=attempt, pair_type=pair_type
        )
    raise ChangeError(
        f"pair seed {pair_seed}: no valid pair in 20 sub-attempts ({last}); the floor may be too "
        "small for the objects: lower data.scene.max_objects or data.scene.margin, or raise "
        "data.scene.area"
    )
