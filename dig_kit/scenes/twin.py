"""TWIN-style same-or-not items from the DiG scene engine (pure; the TWIN paper's task).

An *instance* is one scene configuration (its objects). Views of an instance differ in camera
and lights (TWIN's instances vary in viewpoint and lighting).

- positive: the same scene re-rendered under a freshly jittered camera and light;
- hard negative: the same scene with exactly one subtle change from the difference engine
  (one attribute of one object, or one object added or removed), also under a jittered view,
  so pixel differencing cannot solve it;
- easy negative: an unrelated scene.

Pair items ask "same instance?" (answer ``yes``/``no``); multi items (FGVQA's format) show a
reference and three candidates and ask how many show the reference instance (``0``-``3``).
Every item is a pure function of (config, item seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dig_kit.config import DataConfig, TwinConfig
from dig_kit.scenes.changes import ChangeError, Difference, apply_changes, pair_rng
from dig_kit.scenes.sampling import jitter_view, sample_scene
from dig_kit.scenes.spec import SceneError, SceneSpec

KINDS = ("positive", "hard", "easy")


@dataclass
class Candidate:
    """One compared image: its scene, its kind relative to the reference, and the change of a hard negative."""

    scene: SceneSpec
    kind: str
    change: Difference | None = None


@dataclass
class TwinItem:
    seed: int
    question: str  # "pair" or "multi"
    reference: SceneSpec
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def answer(self) -> str:
        same = sum(c.kind == "positive" for c in self.candidates)
        if self.question == "pair":
            return "yes" if same else "no"
        return str(same)


def is_positive(index: int, fraction: float) -> bool:
    """Item ``index`` of a split is a positive when ``index * fraction`` crosses an integer:
    exactly ``fraction`` of every prefix (balanced labels at 0.5), independent of the seed."""
    return int((index + 1) * fraction) > int(index * fraction)


def make_candidate(
    reference: SceneSpec, kind: str, cfg: DataConfig, rng: np.random.Generator, twin: TwinConfig | None = None
) -> Candidate:
    twin = twin or TwinConfig()
    if kind == "positive":
        return Candidate(jitter_view(reference, cfg.scene, rng, twin.view_azimuth), kind)
    if kind == "hard":
        changed, diffs = apply_changes(reference, 1, cfg.scene, rng, tuple(cfg.change_types), cfg.change_weights)
        return Candidate(jitter_view(changed, cfg.scene, rng, twin.view_azimuth), kind, diffs[0])
    if kind == "easy":
        return Candidate(sample_scene(cfg.scene, rng), kind)
    raise ValueError(f"unknown candidate kind {kind!r}; choose from {KINDS}")


def sample_twin_item(
    cfg: DataConfig, twin: TwinConfig, seed: int, index: int, question: str, attempt: int = 0
) -> TwinItem:
    """Item ``index`` (seed ``seed``) of a split: a pair (``question="pair"``) or multi item;
    deterministic in (cfg, twin, seed, index, attempt)."""
    rng = pair_rng(cfg.seed, seed, attempt)
    last: Exception | None = None
    for _ in range(20):  # a crowded scene that cannot be placed or changed: next draw, same generator
        try:
            reference = sample_scene(cfg.scene, rng)
            if question == "pair":
                if is_positive(index, twin.positive_fraction):
                    kinds = ["positive"]
                else:
                    kinds = ["hard" if rng.random() < twin.hard_fraction else "easy"]
            elif question == "multi":
                count = int(rng.integers(0, 4))  # the answer 0..3, uniform
                kinds = ["positive"] * count + [
                    ("hard" if rng.random() < twin.hard_fraction else "easy") for _ in range(3 - count)
                ]
                rng.shuffle(kinds)
            else:
                raise ValueError(f"question must be 'pair' or 'multi', got {question!r}")
            return TwinItem(seed, question, reference, [make_candidate(reference, k, cfg, rng, twin) for k in kinds])
        except (SceneError, ChangeError) as e:
            last = e
    raise ChangeError(f"TWIN item seed {seed}: no valid item in 20 sub-attempts ({last})")
