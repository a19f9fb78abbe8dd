"""Typed run configuration: dataclasses, YAML presets and dotted overrides.

One :class:`KitConfig` describes one run. It is loaded from a preset (``smoke`` or
``paper``, shipped in ``dig_kit/presets``) or from a YAML file, then updated with
overrides (``data.render.width=240``) from the CLI or from papermill parameters.
Loading validates every field: an unknown key, a wrong type or an out-of-range value
raises :class:`ConfigError` naming the dotted path of the field. Types are checked while the
dataclasses are built; value rules live beside their fields, in each section's ``check(path)``,
and :meth:`KitConfig.check` runs them, then the rules relating two sections.

The resolved config is written next to every output (``config.yaml``) so any artifact
says how it was made.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dig_kit.rewards.dig import DigRewardOptions

PRESET_DIR = Path(__file__).parent / "presets"


class ConfigError(ValueError):
    """A configuration value is missing, unknown, mistyped or out of range."""


def _require(path: str, rules: list[tuple[str, bool, str]]) -> None:
    """Raise ``ConfigError("<path>.<field>: <message>")`` for the first rule ``(field, holds,
    message)`` that does not hold."""
    for name, holds, message in rules:
        if not holds:
            raise ConfigError(f"{path}.{name}: {message}" if path else f"{name}: {message}")


# ---------------------------------------------------------------------------------------
# Sections


@dataclass
class SceneConfig:
    """How base scenes are sampled (CLEVR-like layout on a ground plane)."""

    min_objects: int = 3
    """Fewest objects in a base scene."""
    max_objects: int = 10
    """Most objects in any scene, before or after (supplement §7: up to ten)."""
    area: float = 3.0
    """Objects are placed with centers in [-area, area]^2 on the ground plane."""
    margin: float = 0.25
    """Minimum gap between the footprints of two objects (scene units)."""
    max_rotation: float = 360.0
    """Objects get a random rotation about the vertical axis in [0, max_rotation) degrees."""
    camera_distance: float = 12.0
    """Distance of the camera from the scene center."""
    camera_elevation: float = 32.0
    """Camera elevation above the ground plane, degrees."""
    camera_azimuth: float = -45.0
    """Camera azimuth, degrees (0 looks along +y)."""
    camera_jitter: float = 0.5
    """Uniform jitter of the camera position per axis (scene units)."""
    focal_length: float = 35.0
    """Camera focal length in mm (36 mm sensor width)."""
    light_jitter: float = 1.0
    """Uniform jitter of the key light position per axis (scene units)."""

    def check(self, path: str = "data.scene") -> None:
        _require(
            path,
            [
                ("min_objects", 1 <= self.min_objects <= self.max_objects, "must be in 1..max_objects"),
                ("max_objects", 1 <= self.max_objects <= 10, "must be in 1..10 (supplement §7: up to ten objects)"),
                ("area", self.area > 0, "must be > 0"),
                ("margin", self.margin >= 0, "must be >= 0"),
                ("camera_distance", self.camera_distance > 0, "must be > 0"),
                ("focal_length", self.focal_length > 0, "must be > 0"),
            ],
        )


SAMPLING_PATTERNS = ("blue_noise", "tabulated_sobol", "automatic")


@dataclass
class RenderConfig:
    """Cycles settings. The defaults are the fast quality preset (see README, benchmark)."""

    width: int = 480
    height: int = 320
    samples: int = 8
    """Maximum samples per pixel. 8 blue-noise samples + OIDN: about as close to a 512-sample
    reference as 10 Sobol samples (43 dB PSNR at 480x320), 1.25x faster (benchmarks/bench_render.py)."""
    sampling_pattern: str = "blue_noise"
    """Cycles' sampling pattern: blue_noise (its error is what OIDN removes best at few samples),
    tabulated_sobol, or automatic (Blender's default)."""
    adaptive: bool = True
    """Adaptive sampling (Cycles' noise threshold). At 8-10 samples it stops no pixel early
    (measured: the same image at thresholds 0.05 to 0.3); it matters at higher counts."""
    adaptive_threshold: float = 0.05
    denoise: bool = True
    """OpenImageDenoise on the final image."""
    denoise_quality: str = "fast"
    """OIDN quality (fast | balanced | high) and prefilter (fast for fast, accurate otherwise).
    Measured here at 480x320 on 2 cores: fast adds ~0.15 s, high ~1.7 s."""
    max_bounces: int = 4
    """Total light bounces (diffuse 2, glossy 2, no transmission/volume: opaque scenes)."""
    light_tree: bool = False
    """Cycles' light tree; off is ~25% faster for these three-light scenes."""
    device: str = "cpu"
    """cpu | gpu | auto (gpu when Blender finds CUDA/OptiX/HIP/Metal, else cpu)."""
    threads: int = 0
    """Cycles threads per worker; 0 lets Blender use every core."""
    reflection_env: float = 2.5
    """Strength of the bright sky that reflections (not the camera) see, so metals read as
    metal; 0 = the plain dim world of earlier versions (gray metal then renders near black)."""
    min_visible_pixels: int = 0
    """Every object must show at least this many pixels (object-index pass) in every image it
    is in, or the pair is resampled (CLEVR's rule). 0 = CLEVR's 200 pixels at 480x320, scaled
    to the image area (:func:`visible_threshold`)."""
    max_add_occupancy: float = 0.05
    """An added object goes into an empty spot: at most this share of its visible pixels in the
    after image may show other objects in the before image (else the pair is resampled)."""
    max_attempts: int = 20
    """Resampling attempts per pair before it is given up with an error."""

    def check(self, path: str = "data.render") -> None:
        _require(
            path,
            [
                ("width", self.width > 0, "must be > 0"),
                ("height", self.height > 0, "must be > 0"),
                ("samples", self.samples > 0, "must be > 0"),
                ("device", self.device in ("cpu", "gpu", "auto"), "must be cpu, gpu or auto"),
                (
                    "denoise_quality",
                    self.denoise_quality in ("fast", "balanced", "high"),
                    "must be fast, balanced or high",
                ),
                (
                    "sampling_pattern",
                    self.sampling_pattern in SAMPLING_PATTERNS,
                    f"must be one of {', '.join(SAMPLING_PATTERNS)}",
                ),
                ("max_bounces", self.max_bounces >= 0, "must be >= 0"),
                ("threads", self.threads >= 0, "must be >= 0"),
                ("min_visible_pixels", self.min_visible_pixels >= 0, "must be >= 0 (0: CLEVR's rule scaled)"),
                ("max_add_occupancy", 0 <= self.max_add_occupancy <= 1, "must be in 0..1"),
                ("max_attempts", self.max_attempts >= 1, "must be >= 1"),
            ],
        )


@dataclass
class SubsetConfig:
    """One dataset subset (a curriculum stage or the held-out split)."""

    num_pairs: int = 8
    min_differences: int = 1
    max_differences: int = 1
    seed_offset: int = 0
    """Seeds of this subset are seed_offset + 0 .. num_pairs-1 (disjoint across subsets)."""

    def check(self, path: str) -> None:
        _require(
            path,
            [
                ("num_pairs", self.num_pairs >= 0, "must be >= 0"),
                ("min_differences", 1 <= self.min_differences <= self.max_differences, "must be in 1..max_differences"),
                (
                    "max_differences",
                    self.max_differences <= 4,
                    "must be <= 4 (the paper's mixed subset has up to four)",
                ),
            ],
        )


CHANGE_TYPES = ("shape", "color", "size", "material", "add", "remove")


def _default_subsets() -> dict[str, SubsetConfig]:
    return {
        "stage1": SubsetConfig(8, 1, 1, 0),
        "stage2": SubsetConfig(8, 2, 2, 1_000_000),
        "stage3": SubsetConfig(8, 1, 4, 2_000_000),
        "eval": SubsetConfig(8, 1, 4, 9_000_000),
    }


@dataclass
class DataConfig:
    """Rendered DiG data: scene sampling, changes, rendering and subsets."""

    seed: int = 0
    """Global seed; a pair is a pure function of (config, seed, subset seed)."""
    change_types: list[str] = field(default_factory=lambda: list(CHANGE_TYPES))
    """Which modifications may be sampled."""
    box_source: str = "full"
    """The box of a difference used by the prompt and reward (``boxes``): ``full``, the
    projection of the object's geometry on the before image (the paper's), or ``visible``, the
    tight box of its visible pixels (of the after image for an added object)."""
    no_change_fraction: float = 0.0
    """Share of pairs whose after scene is the before scene: no difference, empty ground truth
    (hallucination studies; 0 in the paper preset). Under the paper's reward an empty ground
    truth cannot be earned: the correct answer ``[]`` scores 0 (format needs a box), any box
    scores alpha, so use these pairs to evaluate false positives, not to train."""
    viewpoint_only_fraction: float = 0.0
    """Share of pairs whose after image re-renders the same objects from a jittered camera and
    lights: the pixels change, no object does; empty ground truth (0 in the paper preset)."""
    change_weights: dict[str, float] = field(default_factory=dict)
    """Relative weight of each of ``change_types`` (e.g. ``{add: 2, remove: 1}``); a type not
    listed weighs 1, so the default is uniform. A pair's types are drawn before its scene, so
    the rendered data follows these weights exactly."""
    scene: SceneConfig = field(default_factory=SceneConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    subsets: dict[str, SubsetConfig] = field(default_factory=_default_subsets)

    def check(self, path: str = "data") -> None:
        """This section's rules, its scene's, render's and subsets', and those relating them."""
        self.scene.check(f"{path}.scene")
        self.render.check(f"{path}.render")
        r, n, need = self.render, self.scene.max_objects, visible_threshold(self.render)
        _require(
            path,
            [
                (
                    "render.min_visible_pixels",
                    need * n <= r.width * r.height // 2,
                    f"is impossible: {n} objects of {need} visible pixels each need more than half "
                    f"of a {r.width}x{r.height} image",
                ),
                ("box_source", self.box_source in ("full", "visible"), "must be full or visible"),
            ],
        )
        self._check_changes(path)
        for key, sub in self.subsets.items():
            sub.check(f"{path}.subsets.{key}")
            _require(
                f"{path}.subsets.{key}",
                [("max_differences", sub.max_differences <= n, "must be <= data.scene.max_objects")],
            )
        self._check_seed_ranges(path)

    def _check_changes(self, path: str) -> None:
        types_ = self.change_types
        _require(
            path,
            [
                ("change_types", len(types_) > 0, "must not be empty"),
                *(
                    ("change_types", t in CHANGE_TYPES, f"unknown change type {t!r}; choose from {CHANGE_TYPES}")
                    for t in types_
                ),
                ("no_change_fraction", 0 <= self.no_change_fraction <= 1, "must be in 0..1"),
                (
                    "viewpoint_only_fraction",
                    0 <= self.viewpoint_only_fraction <= 1
                    and self.no_change_fraction + self.viewpoint_only_fraction <= 1,
                    "must be in 0..1, with no_change_fraction <= 1",
                ),
            ],
        )
        for name, w in self.change_weights.items():
            _require(
                path,
                [
                    ("change_weights", name in types_, f"{name!r} is not one of data.change_types"),
                    (f"change_weights.{name}", isinstance(w, (int, float)) and w >= 0, "must be a number >= 0"),
                ],
            )
        _require(
            path,
            [
                (
                    "change_weights",
                    not self.change_weights or sum(float(self.change_weights.get(t, 1.0)) for t in types_) > 0,
                    "give at least one of data.change_types a weight > 0",
                )
            ],
        )

    def _check_seed_ranges(self, path: str) -> None:
        """Subsets draw disjoint seed ranges (the held-out split never reuses training seeds)."""
        ranges = sorted((sub.seed_offset, sub.seed_offset + sub.num_pairs, k) for k, sub in self.subsets.items())
        for (a0, a1, ka), (b0, _, kb) in zip(ranges, ranges[1:]):
            _require(
                path,
                [(f"subsets.{kb}.seed_offset", b0 >= a1, f"seeds overlap those of subset {ka!r} ({a0}..{a1 - 1})")],
            )


@dataclass
class TwinSubsetConfig:
    num_items: int = 8
    question: str = "pair"
    """pair (same instance? yes/no) or multi (how many of 3 candidates match? 0-3)."""
    seed_offset: int = 50_000_000

    def check(self, path: str) -> None:
        _require(
            path,
            [
                ("num_items", self.num_items >= 0, "must be >= 0"),
                ("question", self.question in ("pair", "multi"), "must be pair or multi"),
            ],
        )


def _default_twin_subsets() -> dict[str, TwinSubsetConfig]:
    return {
        "train": TwinSubsetConfig(8, "pair", 50_000_000),
        "eval": TwinSubsetConfig(8, "pair", 60_000_000),
        "eval_multi": TwinSubsetConfig(4, "multi", 70_000_000),
    }


@dataclass
class TwinConfig:
    """Synthetic TWIN same-or-not data (the TWIN paper's task), rendered with data.scene / data.render."""

    positive_fraction: float = 0.5
    """Share of positives in pair splits (exact over every prefix; 0.5 = balanced labels)."""
    hard_fraction: float = 0.75
    """Share of negatives that are hard (one subtle change); the rest are unrelated scenes.
    0 is TWIN's 'w/o hard negatives' ablation."""
    view_azimuth: float = 25.0
    """Other views of an instance turn the camera around the scene by up to this many degrees
    (plus the usual camera and light jitter): TWIN's instances vary in viewpoint and lighting."""
    subsets: dict[str, TwinSubsetConfig] = field(default_factory=_default_twin_subsets)

    def check(self, path: str = "twin") -> None:
        _require(
            path,
            [
                ("positive_fraction", 0 <= self.positive_fraction <= 1, "must be in [0, 1]"),
                ("hard_fraction", 0 <= self.hard_fraction <= 1, "must be in [0, 1]"),
            ],
        )
        for key, sub in self.subsets.items():
            sub.check(f"{path}.subsets.{key}")


_REWARD_DEFAULTS = DigRewardOptions()


@dataclass
class RewardConfig:
    """DiG reward options (slides "Reward design"; Table 5): the fields, defaults and checks of
    :class:`dig_kit.rewards.DigRewardOptions`, as a config section."""

    alpha: float = _REWARD_DEFAULTS.alpha
    lambda_f1: float = _REWARD_DEFAULTS.lambda_f1
    lambda_iou: float = _REWARD_DEFAULTS.lambda_iou
    iou_threshold: float = _REWARD_DEFAULTS.iou_threshold
    coord_format: str = _REWARD_DEFAULTS.coord_format
    iou_normalization: str = _REWARD_DEFAULTS.iou_normalization
    variant: str = _REWARD_DEFAULTS.variant

    def options(self) -> DigRewardOptions:
        """The reward's own options object (raises ``ValueError`` where a value is invalid)."""
        return DigRewardOptions(**dataclasses.asdict(self))

    def check(self, path: str = "train.reward") -> None:
        try:
            self.options()
        except ValueError as e:
            raise ConfigError(f"{path}: {e}") from None


@dataclass
class LaunchConfig:
    """How a stage's processes are started (:mod:`dig_kit.train.launch`). One process trains in
    the calling process (a notebook kernel, ``dig-kit train``); more, or several nodes, are
    started as a child process tree with ``accelerate launch``, followed by a progress bar, logged
    to ``<runs>/logs/`` and recorded in ``stage<k>/launch.json``."""

    processes: int | str = 1
    """Training processes per node: a number, or ``auto`` = one per visible GPU
    (``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi -L``; 1 where none is visible)."""
    accelerate_config: str = "ddp"
    """The accelerate config file: a name under ``configs/accelerate/`` (``ddp``,
    ``fsdp_full_shard``, ...) or a path. Without GPUs the ranks run DDP on gloo whatever it
    says (accelerate runs FSDP on GPUs only); the record says so."""
    nodes: int = 1
    """Machines taking part (each runs the same command with its own ``machine_rank``)."""
    machine_rank: int = 0
    """This machine's rank, 0 .. nodes-1 (0 writes the run's files)."""
    main_address: str = ""
    """Address of the rank-0 machine when nodes > 1."""
    main_port: int = 0
    """Rendezvous port; 0 = a free port on one node, 29500 across nodes."""

    def check(self, path: str = "train.launch") -> None:
        _require(
            path,
            [
                (
                    "processes",
                    self.processes == "auto" or (isinstance(self.processes, int) and self.processes >= 1),
                    "must be a number >= 1 or auto",
                ),
                ("nodes", self.nodes >= 1, "must be >= 1"),
                ("machine_rank", 0 <= self.machine_rank < self.nodes, "must be in 0..nodes-1"),
                (
                    "main_address",
                    self.nodes == 1 or bool(self.main_address),
                    "must be set (the rank-0 machine's address) when nodes > 1",
                ),
                ("main_port", 0 <= self.main_port <= 65535, "must be a port number (0: automatic)"),
                ("accelerate_config", bool(self.accelerate_config), "must name a config or give a path"),
            ],
        )


@dataclass
class TrainConfig:
    """GRPO on trl (supplement Table 5). Fields the paper is silent on say so."""

    model: str = "Qwen/Qwen3-VL-4B-Thinking"
    """Policy: a local path or hub id (paper: Qwen3-VL-4B-Thinking and 8B-Thinking)."""
    stage_steps: list[int] = field(default_factory=lambda: [60, 20, 30])
    """Steps (rollout batches, see prompts_per_step) of curriculum stages 1, 2, 3 (Table 5)."""
    stage_subsets: list[str] = field(default_factory=lambda: ["stage1", "stage2", "stage3"])
    count_hint_stages: list[int] = field(default_factory=lambda: [1, 2])
    """Stages whose prompt states the number of differences (supplement §6)."""
    learning_rate: float = 1.0e-6
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    warmup_ratio: float = 0.0
    beta: float = 0.01
    """KL coefficient against the reference policy."""
    num_generations: int = 5
    """Rollout n (group size)."""
    temperature: float = 1.0
    top_p: float = 1.0
    prompts_per_step: int = 32
    """The rollout batch (EasyR1's ``rollout_batch_size``): prompts (groups) per step, over all
    processes together, so a step is the same amount of data on 1 GPU or 16. A step rolls out
    ``prompts_per_step x num_generations`` completions and makes ``updates_per_step`` optimizer
    updates on them."""
    updates_per_step: int = 1
    """Optimizer updates (mini-batches) per step: EasyR1's rollout_batch_size / global_batch_size
    (its defaults 512 / 128 = 4). Must divide prompts_per_step."""
    per_device_batch: int = 10
    """Completions per device micro-batch; prompts_per_step x num_generations must be a multiple of
    updates_per_step x processes x per_device_batch (the rest is gradient accumulation)."""
    max_completion_length: int = 1024
    """New tokens per completion (trl's max_completion_length, EasyR1's max_response_length)."""
    loss_type: str = "grpo"
    """trl's loss averaging: grpo (per-sequence token mean, then mean: the slides' formula),
    dapo (token mean over the whole batch: EasyR1's default ``token``), dr_grpo, bnpo."""
    epsilon: float = 0.2
    """Clip ratio low (trl's epsilon, EasyR1's clip_ratio_low)."""
    epsilon_high: float = 0.2
    """Clip ratio high (trl's epsilon_high, EasyR1's clip_ratio_high)."""
    delta: float = 0.0
    """Dual clip (EasyR1's clip_ratio_dual; trl's delta, the same loss for token-level ratios):
    caps the ratio of negative-advantage tokens at delta. 0: off."""
    gradient_checkpointing: bool = True
    freeze_vision: bool = False
    """Table 5 trains the vision tower; true freezes it."""
    lora_rank: int = 0
    """0: full fine-tuning (paper). >0: LoRA of this rank (peft) so an 8B policy fits one GPU."""
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    """colocate (vLLM inside every training process) or server (a `trl vllm-serve` elsewhere)."""
    vllm_server_url: str = ""
    """Server mode: the server's base URL, e.g. http://node0:8000 ("" = trl's default, localhost:8000)."""
    filter_low: float = 0.01
    filter_high: float = 0.99
    """Online filtering: a group is kept only when low < mean(group reward) < high."""
    filter_enabled: bool = True
    filter_max_retries: int = 8
    """Rounds of fresh rollouts to refill dropped groups before a clear error."""
    val_temperature: float = 0.6
    val_top_p: float = 0.95
    val_every: int = 0
    """Validate on the eval split every N steps (0: off); n = 1 per prompt."""
    val_prompts: int = 16
    save_steps: int = 10
    logging_steps: int = 1
    bf16: bool = False
    seed: int = 0
    reward: RewardConfig = field(default_factory=RewardConfig)
    task: str = "dig"
    """dig (the DiG curriculum), twin (TWIN's binary same-or-not task) or mix (both, each row
    scored by its own reward)."""
    mix_twin_fraction: float = 0.5
    """In a mix run, the share of TWIN rows among the training prompts."""
    twin_data: str = ""
    """TWIN data for task twin/mix: a dir made by `dig-kit render-twin` (its train split) or a
    local copy of the published TWIN pairs (Hugging Face dataset folder)."""
    epochs: float = 0.0
    """>0: train this many epochs over the stage's data instead of stage_steps (TWIN: one epoch)."""
    launch: LaunchConfig = field(default_factory=LaunchConfig)

    def check(self, path: str = "train") -> None:
        """This section's rules, then its reward's and launch's."""
        self.reward.check(f"{path}.reward")
        _require(
            path,
            self._batch_rules()
            + [
                ("max_completion_length", self.max_completion_length >= 1, "must be >= 1"),
                (
                    "loss_type",
                    self.loss_type in ("grpo", "dapo", "dr_grpo", "bnpo"),
                    "must be grpo, dapo, dr_grpo or bnpo",
                ),
                ("filter_low", 0 <= self.filter_low < self.filter_high <= 1, "need 0 <= filter_low < filter_high <= 1"),
                ("vllm_mode", self.vllm_mode in ("colocate", "server"), "must be colocate or server"),
                (
                    "vllm_server_url",
                    not self.vllm_server_url or self.vllm_server_url.startswith(("http://", "https://")),
                    "must be empty or start with http:// or https://",
                ),
                ("lora_rank", self.lora_rank >= 0, "must be >= 0"),
                ("task", self.task in ("dig", "twin", "mix"), "must be dig, twin or mix"),
                ("mix_twin_fraction", 0 < self.mix_twin_fraction < 1, "must be in (0, 1)"),
                ("epochs", self.epochs >= 0, "must be >= 0"),
            ],
        )
        self.launch.check(f"{path}.launch")

    def _batch_rules(self) -> list[tuple[str, bool, str]]:
        """The curriculum, the step's batch and the policy-gradient clip."""
        steps, pps = self.stage_steps, self.prompts_per_step
        return [
            ("stage_steps", len(steps) == 3 and all(n >= 1 for n in steps), "must be three step counts >= 1"),
            ("stage_subsets", len(self.stage_subsets) == 3, "must name three subsets"),
            ("num_generations", self.num_generations >= 2, "must be >= 2 (GRPO needs a group)"),
            ("learning_rate", self.learning_rate > 0, "must be > 0"),
            ("beta", self.beta >= 0, "must be >= 0"),
            ("prompts_per_step", pps >= 1, "must be >= 1"),
            (
                "updates_per_step",
                self.updates_per_step >= 1 and pps % self.updates_per_step == 0,
                "must be >= 1 and divide prompts_per_step",
            ),
            (
                "per_device_batch",
                self.per_device_batch >= 1 and (pps * self.num_generations) % self.per_device_batch == 0,
                "must divide prompts_per_step * num_generations",
            ),
            ("epsilon", 0 < self.epsilon < 1, "must be in (0, 1)"),
            ("epsilon_high", self.epsilon_high > 0, "must be > 0"),
            ("delta", self.delta == 0 or self.delta > 1 + self.epsilon_high, "must be 0 (off) or > 1 + epsilon_high"),
        ]


@dataclass
class WarmStartConfig:
    """Supervised warm start of a model built from scratch (the ``mini`` profile), standing in
    for the pretraining the paper's Qwen3-VL brings: phase ``grounding`` boxes every object of
    one image (per-object annotations), then phase ``dig`` answers the DiG prompt on pairs. Both
    with trl's SFTTrainer on the training subsets; the held-out split is never used. A phase with
    0 steps is skipped. Unused by profiles that start from a pretrained checkpoint."""

    grounding_steps: int = 0
    """Optimizer steps of single-image grounding (0: skip)."""
    dig_steps: int = 0
    """Optimizer steps of supervised DiG on the pairs (0: skip)."""
    grounding_lr: float = 1.0e-3
    dig_lr: float = 5.0e-4
    batch_size: int = 16
    grounding_share: float = 0.25
    """In the DiG phase, this share of the rows are grounding rows (so grounding is kept)."""
    augment: bool = True
    """Mirror each example left-right and (DiG) also swap before/after, with boxes transformed
    exactly: 2x grounding rows, 4x DiG rows from the same renders."""
    vqa: bool = True
    """Grounding phase: also two yes/no questions per pair (general VQA in ``<answer>`` tags)."""
    subsets: list[str] = field(default_factory=lambda: ["stage1", "stage2", "stage3"])
    """Training subsets the warm start reads (never the held-out ``eval``)."""
    count_hint_share: float = 0.5
    """DiG phase: share of pairs whose prompt states the number of differences (stages 1-2 do,
    stage 3 and the held-out evaluation do not)."""
    eval_every: int = 0
    """Held-out check every N steps of each phase (greedy, ``eval_pairs`` pairs; the mini
    profile's F1-against-budget curve). 0: off."""
    eval_pairs: int = 40
    seed: int = 0
    backbone: str = ""
    """Where the warm start begins: ``shipped`` (the kit's perception-pretrained mini backbone,
    ``dig_kit/models/mini_backbone``, made by ``dig-kit pretrain``), a checkpoint dir of the mini
    architecture, or empty (a new mini model at random init)."""

    def check(self, path: str = "warm_start") -> None:
        _require(
            path,
            [
                (
                    "backbone",
                    self.backbone in ("", "shipped") or (Path(self.backbone) / "config.json").exists(),
                    f"{self.backbone!r}: no checkpoint there (shipped, a checkpoint dir, or empty for a new model)",
                ),
                ("grounding_steps", self.grounding_steps >= 0, "must be >= 0"),
                ("dig_steps", self.dig_steps >= 0, "must be >= 0"),
                ("grounding_lr", self.grounding_lr > 0, "must be > 0"),
                ("dig_lr", self.dig_lr > 0, "must be > 0"),
                ("batch_size", self.batch_size >= 1, "must be >= 1"),
                ("grounding_share", 0 <= self.grounding_share < 1, "must be in [0, 1)"),
                ("count_hint_share", 0 <= self.count_hint_share <= 1, "must be in [0, 1]"),
                ("eval_every", self.eval_every >= 0, "must be >= 0 (0: off)"),
                ("eval_pairs", self.eval_pairs >= 1, "must be >= 1"),
            ],
        )


POLICY_SOURCES = ("pretrained", "tiny", "warm_start")
BENCHMARK_FILES = ("downloaded", "synthetic", "rendered")
EVAL_BACKENDS = ("auto", "vllm", "transformers", "dummy")


def _count_or_auto(value: int | str) -> bool:
    return value == "auto" or (isinstance(value, int) and value >= 1)


@dataclass
class ReproduceConfig:
    """What ``dig-kit reproduce`` runs for this profile (:mod:`dig_kit.paper.pipeline`): where the
    policy and the benchmark files come from, and each notebook step's workers and budgets. The
    defaults are the paper profile's; the smoke and mini presets set their own."""

    policy: str = "pretrained"
    """Stage 1's policy: ``pretrained`` (``train.model``, e.g. Qwen3-VL from the hub), ``tiny`` (the
    tiny random Qwen3-VL the steps build at ``<runs>/tiny-model``: smoke) or ``warm_start`` (the
    mini model built and warm-started by step ``warm_start``, which then runs: mini)."""
    render_workers: int | str = "auto"
    """Blender workers of step ``render``: a number, or ``auto`` = one per visible GPU."""
    benchmark_files: str = "downloaded"
    """``downloaded``: the published benchmark files under ``data/benchmarks``; ``synthetic``: tiny
    stand-ins written into ``<runs>/eval_data`` first (smoke; not benchmarks); ``rendered``: only the
    rendered DiG splits are evaluated (mini; ``<runs>/eval_data`` holds no files)."""
    eval_benchmarks: list[str] | str = "paper"
    """Benchmarks of step ``evaluate``: ``paper`` (every benchmark of Tables 1-3) or a list of names."""
    ablation_benchmarks: list[str] | str = "paper"
    """Benchmarks of step ``ablations``: ``paper`` (Table 1's perception benchmarks, RefCOCO val and
    the held-out DiG split) or a list of names."""
    eval_backend: str = "auto"
    """Generation backend of steps ``evaluate`` and ``ablations``: auto, vllm, transformers or dummy."""
    eval_processes: int | str = "auto"
    """Processes of step ``evaluate``: a number, or ``auto`` = one vLLM engine per visible GPU."""
    eval_max_new_tokens: int = 4096
    """Generation budget of steps ``evaluate`` and ``ablations`` (the paper's: 4096)."""
    eval_limit: int | None = None
    """Evaluate only the first N items of each benchmark (``None``: all of them)."""
    twin_preset: str = "twin"
    """The preset step ``twin`` trains with (``twin``: TWIN's recipe; smoke and mini: their own)."""
    twin_max_new_tokens: int = 4096
    """Generation budget of step ``twin``'s evaluation."""
    twin_overrides: list[str] = field(default_factory=list)
    """Overrides step ``twin`` adds to the profile's (mini: ``train.filter_enabled=false``, as
    TWIN's recipe has no online filtering; the twin preset turns it off itself)."""
    ablation_reward_stages: list[int] = field(default_factory=lambda: [1, 2, 3])
    """Curriculum stages each reward variant trains on (``[1]``: stage 1 only, a cheaper proxy)."""
    ablation_seeds: list[int | None] = field(default_factory=lambda: [None])
    """``train.seed`` of each ablation repeat (``[None]``: the config's own, one run)."""
    ablation_baseline: str = "Baseline"
    """Label of the untrained policy in the ablation figures."""

    def check(self, path: str = "reproduce") -> None:
        stages = self.ablation_reward_stages
        _require(
            path,
            [
                ("policy", self.policy in POLICY_SOURCES, f"must be one of {', '.join(POLICY_SOURCES)}"),
                ("render_workers", _count_or_auto(self.render_workers), "must be a number >= 1 or auto"),
                (
                    "benchmark_files",
                    self.benchmark_files in BENCHMARK_FILES,
                    f"must be one of {', '.join(BENCHMARK_FILES)}",
                ),
                (
                    "eval_benchmarks",
                    self.eval_benchmarks == "paper"
                    or (isinstance(self.eval_benchmarks, list) and len(self.eval_benchmarks) > 0),
                    "must be paper or a list of benchmark names",
                ),
                (
                    "ablation_benchmarks",
                    self.ablation_benchmarks == "paper"
                    or (isinstance(self.ablation_benchmarks, list) and len(self.ablation_benchmarks) > 0),
                    "must be paper or a list of benchmark names",
                ),
                ("eval_backend", self.eval_backend in EVAL_BACKENDS, f"must be one of {', '.join(EVAL_BACKENDS)}"),
                ("eval_processes", _count_or_auto(self.eval_processes), "must be a number >= 1 or auto"),
                ("eval_max_new_tokens", self.eval_max_new_tokens >= 1, "must be >= 1"),
                ("eval_limit", self.eval_limit is None or self.eval_limit >= 1, "must be >= 1 or null (every item)"),
                ("twin_preset", bool(self.twin_preset), "must name a preset"),
                ("twin_max_new_tokens", self.twin_max_new_tokens >= 1, "must be >= 1"),
                *(("twin_overrides", "=" in o, f"{o!r} is not of the form key.sub=value") for o in self.twin_overrides),
                (
                    "ablation_reward_stages",
                    1 <= len(stages) <= 3 and stages == list(range(1, len(stages) + 1)),
                    "must be a prefix of the curriculum: [1], [1, 2] or [1, 2, 3]",
                ),
                ("ablation_seeds", len(self.ablation_seeds) > 0, "must not be empty ([null]: the config's seed)"),
            ],
        )


@dataclass
class KitConfig:
    """The whole configuration of one run."""

    profile: str = "smoke"
    """Name of the preset this config started from (for captions and provenance)."""
    data: DataConfig = field(default_factory=DataConfig)
    twin: TwinConfig = field(default_factory=TwinConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    warm_start: WarmStartConfig = field(default_factory=WarmStartConfig)
    reproduce: ReproduceConfig = field(default_factory=ReproduceConfig)

    def check(self) -> None:
        """Every section's rules (each beside its fields), then the rules relating sections.
        Raises :class:`ConfigError` naming the dotted path of the first field that breaks one."""
        self.data.check("data")
        self.train.check("train")
        self.twin.check("twin")
        self.warm_start.check("warm_start")
        self.reproduce.check("reproduce")
        subsets = self.data.subsets
        _require(
            "",
            [
                (
                    "warm_start.subsets",
                    sub in subsets and sub != "eval",
                    f"{sub!r} must be a training subset of data.subsets (not the held-out 'eval')",
                )
                for sub in self.warm_start.subsets
            ],
        )
        _require(
            "",
            [
                ("train.stage_subsets", sub in subsets, f"stage {stage} subset {sub!r} is not a data subset")
                for stage, sub in enumerate(self.train.stage_subsets, 1)
            ],
        )


def visible_threshold(r: RenderConfig) -> int:
    """Pixels every object must show: ``min_visible_pixels``, or CLEVR's 200 at 480x320 scaled
    to this image's area when it is 0."""
    return r.min_visible_pixels or max(1, round(200 * r.width * r.height / (480 * 320)))


@dataclass(frozen=True)
class BatchPlan:
    """What one training step is on ``processes`` processes, in trl's terms (:func:`batch_plan`).
    The global numbers never depend on ``processes``."""

    processes: int
    completions_per_step: int
    """prompts_per_step x num_generations, over all processes together."""
    completions_per_update: int
    """Completions of one optimizer update: completions_per_step / updates_per_step."""
    gradient_accumulation_steps: int
    """Micro-batches each process accumulates per update (trl's gradient_accumulation_steps)."""
    steps_per_generation: int
    """Micro-batches each process trains on per rollout (trl's steps_per_generation)."""
    completions_per_process: int
    """Completions each process rolls out per step."""


def batch_plan(t: TrainConfig, processes: int) -> BatchPlan:
    """The :class:`BatchPlan` of ``t`` on ``processes`` processes (raises ConfigError if the
    global numbers cannot be split evenly)."""
    completions = t.prompts_per_step * t.num_generations
    per_update = completions // t.updates_per_step
    chunk = processes * t.per_device_batch
    if processes < 1 or per_update % chunk:
        raise ConfigError(
            f"train.per_device_batch: {t.prompts_per_step} prompts x {t.num_generations} = {completions} completions "
            f"per step in {t.updates_per_step} update(s) is {per_update} per update, not a multiple of {processes} "
            f"process(es) x per_device_batch {t.per_device_batch}; change train.per_device_batch or the process count"
        )
    accumulation = per_update // chunk
    return BatchPlan(
        processes=processes,
        completions_per_step=completions,
        completions_per_update=per_update,
        gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation * t.updates_per_step,
        completions_per_process=completions // processes,
    )


# ---------------------------------------------------------------------------------------
# Generic dataclass <-> dict conversion with type checking


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        (item_tp, *_) = typing.get_args(tp)
        return [_convert(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        _, val_tp = typing.get_args(tp)
        return {str(k): _convert(val_tp, v, f"{path}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{path}: invalid value {value!r}")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise ConfigError(f"{path}: unsupported field type {tp}")  # pragma: no cover


def _build(cls: type, data: dict, path: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(
            f"unknown field {where}{unknown[0]} (valid fields of {cls.__name__}: {', '.join(sorted(names))})"
        )
    kwargs = {k: _convert(hints[k], v, f"{path}.{k}" if path else k) for k, v in data.items()}
    return cls(**kwargs)


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def to_dict(cfg: Any) -> dict:
    """A plain, YAML-serialisable dict of a config dataclass."""
    return dataclasses.asdict(cfg)


def from_dict(data: dict, cls: type = KitConfig) -> Any:
    """Build and validate a config from a (possibly partial) dict over the defaults."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    cfg = _build(cls, data)
    if isinstance(cfg, KitConfig):
        cfg.check()
    return cfg


def parse_overrides(items: list[str] | dict | None) -> dict:
    """Turn ``["data.render.width=240", ...]`` (or a flat ``{"a.b": v}`` dict) into a nested dict.

    Values are parsed as YAML scalars/lists (``240`` -> int, ``[1, 2]`` -> list, ``true`` -> bool).
    """
    if not items:
        return {}
    pairs: list[tuple[str, Any]] = []
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        for item in items:
            if "=" not in item:
                raise ConfigError(f"override {item!r} is not of the form key.sub=value")
            key, raw = item.split("=", 1)
            try:
                value = yaml.safe_load(raw)
                if isinstance(value, str):  # YAML 1.1 reads "1e-6" as a string; a number was meant
                    try:
                        value = float(value)
                    except ValueError:
                        pass
                pairs.append((key.strip(), value))
            except yaml.YAMLError as e:
                raise ConfigError(f"override {item!r}: value is not valid YAML ({e})") from None
    nested: dict = {}
    for key, value in pairs:
        parts = key.split(".")
        if not all(parts):
            raise ConfigError(f"override key {key!r} has an empty part")
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override key {key!r} conflicts with another override")
        node[parts[-1]] = value
    return nested


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping at the top level")
    return data


def load_config(preset: str | Path = "smoke", overrides: list[str] | dict | None = None) -> KitConfig:
    """Load a preset by name (``smoke``, ``paper``) or a YAML file, then apply overrides.

    >>> cfg = load_config("smoke", ["data.render.width=64"])
    >>> cfg.data.render.width
    64
    """
    preset = str(preset)
    if preset in preset_names():
        data = _read_yaml(PRESET_DIR / f"{preset}.yaml")
    elif preset.endswith((".yaml", ".yml")) or Path(preset).exists():
        data = _read_yaml(Path(preset))
    else:
        raise ConfigError(f"unknown preset {preset!r}: choose from {preset_names()} or give a YAML file path")
    data = _merge(data, parse_overrides(overrides))
    return from_dict(data)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML (next to an output)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return path
