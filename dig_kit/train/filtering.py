"""Online filtering for trl's GRPOTrainer, with EasyR1's meaning.

After scoring, a prompt's group is kept only when ``low < mean(group reward) < high``
(supplement Table 5: [0.01, 0.99]); dropped groups are replaced by groups of fresh prompts,
rolled out and scored, until the generation batch is full again or ``max_retries`` rounds
have passed (then :class:`OnlineFilterError`). trl has no such feature, so
:class:`FilteringGRPOTrainer` wraps ``_generate_and_score_completions``: it keeps the first
groups that pass, draws refill prompts from the training set with its own seeded generator,
and merges the kept parts of every round into one batch of the original size (prompt-side
tensors left-padded, completion-side tensors right-padded, per-token type ids, which trl extends
over prompt + completion, split at each part's prompt width and padded on both sides, so image
markers stay on the image tokens; image patches re-selected).

Its settings are fields of :class:`FilteringGRPOConfig`, trl's ``GRPOConfig`` extended the way
trl extends it for its own trainer variants (e.g. ``GRPOWithReplayBufferConfig``), checked in
its ``__post_init__`` beside them.

The kept fraction (``filter/kept_fraction``) and the refill rounds (``filter/rounds``) are
logged with trl's metrics. In multi-process runs every process rolls out the same number of
rounds (the shortfall is reduced with a max across processes), as trl's gathers require.

The trainer also makes the policy's and the reference model's vision towers encode each
distinct image of a batch once (:mod:`dig_kit.models.vision_dedup`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from trl import GRPOConfig, GRPOTrainer

PROMPT_SIDE = {"prompt_ids", "prompt_mask"}
SEQUENCE_SIDE = {"token_type_ids", "mm_token_type_ids"}  # trl: prompt part, then zeros over the completion


class OnlineFilterError(RuntimeError):
    """No full batch of informative groups after the allowed refill rounds."""


@dataclass
class FilteringGRPOConfig(GRPOConfig):
    """trl's ``GRPOConfig`` plus the settings of :class:`FilteringGRPOTrainer`."""

    filter_enabled: bool = field(default=True, metadata={"help": "Online filtering on (off: plain GRPO)."})
    filter_low: float = field(default=0.01, metadata={"help": "A group is kept when filter_low < mean reward."})
    filter_high: float = field(default=0.99, metadata={"help": "... and mean reward < filter_high."})
    filter_max_retries: int = field(
        default=8, metadata={"help": "Rounds of fresh rollouts to refill dropped groups before OnlineFilterError."}
    )
    filter_seed: int = field(default=0, metadata={"help": "Seed of the refill prompts' draws."})
    val_temperature: float | None = field(
        default=None, metadata={"help": "Validation sampling temperature (None: the training sampling)."}
    )
    val_top_p: float | None = field(default=None, metadata={"help": "Validation top-p, given with val_temperature."})

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.filter_low < self.filter_high <= 1:
            raise ValueError(f"need 0 <= filter_low < filter_high <= 1, got {self.filter_low}, {self.filter_high}")
        if self.filter_max_retries < 0:
            raise ValueError(f"filter_max_retries must be >= 0, got {self.filter_max_retries}")
        if (self.val_temperature is None) != (self.val_top_p is None):
            raise ValueError("val_temperature and val_top_p are given together (or neither)")


def _image_ranges(out: dict) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Per sample: its (first, last) image index; per image: its (first, last) patch row."""
    counts = out["num_images"]
    grid = out["image_grid_thw"]
    patches = grid.prod(dim=1).tolist()
    img, s = [], 0
    for c in counts:
        img.append((s, s + c))
        s += c
    pat, s = [], 0
    for p in patches:
        pat.append((s, s + p))
        s += p
    return img, pat


def select_rows(out: dict, rows: list[int]) -> dict:
    """The part of a trl generation output that belongs to the samples ``rows``."""
    B = out["prompt_ids"].shape[0]
    idx = torch.tensor(rows, dtype=torch.long, device=out["prompt_ids"].device)
    images_sel: dict = {}
    if "num_images" in out and "image_grid_thw" in out:
        img, pat = _image_ranges(out)
        images = [i for r in rows for i in range(*img[r])]
        patch_rows = [p for i in images for p in range(*pat[i])]
        images_sel["num_images"] = [out["num_images"][r] for r in rows]
        images_sel["image_grid_thw"] = out["image_grid_thw"][images]
        if "pixel_values" in out:
            images_sel["pixel_values"] = out["pixel_values"][torch.tensor(patch_rows, dtype=torch.long)]
    sel: dict = {}  # same key order as trl's output (trl splits on the first tensor's length)
    for key, value in out.items():
        if key == "num_items_in_batch":
            continue
        if key in images_sel:
            sel[key] = images_sel[key]
        elif torch.is_tensor(value) and value.dim() >= 1 and value.shape[0] == B:
            sel[key] = value.index_select(0, idx)
        elif isinstance(value, list) and len(value) == B:
            sel[key] = [value[r] for r in rows]
        else:
            sel[key] = value
    return sel


def _pad_cat(parts: list[torch.Tensor], left: bool, value) -> torch.Tensor:
    if parts[0].dim() < 2:
        return torch.cat(parts)
    width = max(p.shape[1] for p in parts)
    padded = []
    for p in parts:
        extra = width - p.shape[1]
        if extra:
            pad = torch.full((p.shape[0], extra, *p.shape[2:]), value, dtype=p.dtype, device=p.device)
            p = torch.cat([pad, p] if left else [p, pad], dim=1)
        padded.append(p)
    return torch.cat(padded)


def _pad_sequence_side(parts: list[dict], key: str) -> torch.Tensor:
    """Merge a per-token tensor that spans prompt + completion (trl's ``mm_token_type_ids``):
    each part's prompt columns are left-padded like ``prompt_ids``, its completion columns
    right-padded like ``completion_ids``, so every column still lines up with its token."""
    widths = [(p["prompt_ids"].shape[1], p["completion_ids"].shape[1]) for p in parts]
    if any(p[key].shape[1] not in (pw, pw + cw) for p, (pw, cw) in zip(parts, widths)):
        raise ValueError(f"{key}: width matches neither the prompt nor prompt + completion")
    if all(p[key].shape[1] == pw for p, (pw, _) in zip(parts, widths)):  # prompt only
        return _pad_cat([p[key] for p in parts], True, 0)
    prompt = _pad_cat([p[key][:, :pw] for p, (pw, _) in zip(parts, widths)], True, 0)
    completion = _pad_cat([p[key][:, pw:] for p, (pw, _) in zip(parts, widths)], False, 0)
    return torch.cat([prompt, completion], dim=1)


def merge_parts(parts: list[dict], pad_token_id: int) -> dict:
    """Concatenate selected generation outputs into one batch."""
    if len(parts) == 1:
        merged = dict(parts[0])
    else:
        merged = {}
        for key, first in parts[0].items():
            values = [p[key] for p in parts]
            if key in SEQUENCE_SIDE and torch.is_tensor(first) and first.dim() == 2:
                merged[key] = _pad_sequence_side(parts, key)
            elif key in ("num_images",) or isinstance(first, list):
                merged[key] = [v for vs in values for v in vs]
            elif key in ("pixel_values", "image_grid_thw"):
                merged[key] = torch.cat(values)
            elif torch.is_tensor(first) and first.dim() >= 1:
                left = key in PROMPT_SIDE
                merged[key] = _pad_cat(values, left, pad_token_id if key == "prompt_ids" else 0)
            else:
                merged[key] = first
    return merged


class FilteringGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` plus online group filtering (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, FilteringGRPOConfig):
            raise TypeError(f"FilteringGRPOTrainer takes a FilteringGRPOConfig, got {type(self.args).__name__}")
        from dig_kit.models.vision_dedup import dedup_vision

        for model in (self.model, self.ref_model):  # a batch holds each image num_generations times
            if model is not None:
                dedup_vision(model)
        self._refill_rng = random.Random(self.args.filter_seed)
        self._last_rewards = None

    def evaluate(self, *args, **kwargs):
        """Validation with its own sampling (supplement: T = 0.6, top-p = 0.95, n = 1)."""
        if self.args.val_temperature is None:
            return super().evaluate(*args, **kwargs)
        temperature, top_p = self.args.val_temperature, self.args.val_top_p
        # trl samples from three places: its own attributes, the HF generation config, and (with
        # vLLM, colocate or server) the VLLMGeneration object, which reads its own copies
        holders = [self, getattr(self, "generation_config", None), getattr(self, "vllm_generation", None)]
        holders = [h for h in holders if h is not None]
        saved = [(h.temperature, h.top_p) for h in holders]
        for h in holders:
            h.temperature, h.top_p = temperature, top_p
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            for h, (t, p) in zip(holders, saved):
                h.temperature, h.top_p = t, p

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards = rewards
        return rewards

    def group_means(self, n_local: int) -> torch.Tensor:
        """Mean weighted reward of each local group of the last scored batch (NaN: unscorable)."""
        r = self._last_rewards
        total = (r * self.reward_weights.to(r.device).unsqueeze(0)).nansum(dim=1)
        total[torch.isnan(r).all(dim=1)] = torch.nan
        start = self.accelerator.process_index * n_local
        local = total[start : start + n_local].view(-1, self.num_generations)
        return torch.nanmean(local, dim=1)

    def _refill_inputs(self, groups: int) -> list[dict]:
        data = self.train_dataset
        picks = [self._refill_rng.randrange(len(data)) for _ in range(groups)]
        return [data[i] for i in picks for _ in range(self.num_generations)]

    def _generate_and_score_completions(self, inputs):
        mode = "train" if self.model.training else "eval"
        a = self.args
        if not a.filter_enabled or mode != "train":
            return super()._generate_and_score_completions(inputs)
        G = self.num_generations
        need = len(inputs) // G
        parts, have, seen, kept, rounds = [], 0, 0, 0, 0
        pending = inputs
        while True:
            out = super()._generate_and_score_completions(pending)
            means = self.group_means(len(pending))
            keep = ((means > a.filter_low) & (means < a.filter_high)).tolist()
            seen += len(keep)
            kept += sum(keep)
            groups = [g for g, k in enumerate(keep) if k][: need - have]
            if groups:
                parts.append(select_rows(out, [g * G + j for g in groups for j in range(G)]))
                have += len(groups)
            short = torch.tensor([need - have], device=self.accelerator.device)
            short_all = int(self.accelerator.gather(short).max().item())
            if short_all == 0:
                break
            rounds += 1
            if rounds > a.filter_max_retries:
                raise OnlineFilterError(
                    f"online filtering: after {a.filter_max_retries} refill rounds only {have} of {need} groups had a "
                    f"mean reward inside ({a.filter_low}, {a.filter_high}); {kept}/{seen} groups kept so far. "
                    "The task may be too hard or too easy for this policy: widen train.filter_low/filter_high, raise "
                    "train.filter_max_retries, or set train.filter_enabled=false"
                )
            pending = self._refill_inputs(short_all)
        self._metrics[mode]["filter/kept_fraction"].append(kept / max(seen, 1))
        self._metrics[mode]["filter/rounds"].append(float(rounds))
        tokenizer = getattr(self.processing_class, "tokenizer", self.processing_class)
        merged = merge_parts(parts, tokenizer.pad_token_id)
        # as trl: completion tokens of the whole generation batch, over all processes
        mask = merged["completion_mask"] * merged["tool_mask"] if "tool_mask" in merged else merged["completion_mask"]
        merged["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
        return merged
