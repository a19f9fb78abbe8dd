"""Encode each distinct image once per forward pass of a Qwen3-VL vision tower.

GRPO repeats every prompt ``num_generations`` times in a batch (trl's ``RepeatSampler``), so
the vision tower sees each image that many times: in the generation prefill, in the reference
model's log-probabilities and in the policy's training forward and backward. :func:`dedup_vision`
makes a model's Qwen3-VL vision tower encode identical images once and copy the result to each
place it is used. The forward pass gives the same numbers; in the backward pass the copies'
gradients add up in the one encoding, which is the same gradient up to floating-point summation
order. A batch without repeated images, or a call with precomputed vision inputs (``cu_seqlens``
and the like in ``kwargs``), goes to the tower unchanged.

What it saves depends on the vision tower's share of the step (``benchmarks/bench_vision_dedup.py``
measures it); for the mini profile's GRPO steps, 4 copies of every image, it is large.
"""

from __future__ import annotations

import torch

VISION_CLASSES = ("Qwen3VLVisionModel", "Qwen3VLMoeVisionModel")


def image_groups(pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> tuple[list[int], list[int]] | None:
    """``(first, where)`` for a batch of flattened images (``grid_thw``: one ``(t, h, w)`` row
    per image, ``t*h*w`` rows of ``pixel_values`` each): ``first`` = index of the first copy of
    each distinct image, ``where[i]`` = position in ``first`` of image ``i``'s distinct image.
    None when every image is distinct. Images are equal when their grids and pixels are equal
    (a sum is only the key that narrows the exact comparisons)."""
    sizes = grid_thw.prod(-1).tolist()
    if len(sizes) < 2:
        return None
    chunks = torch.split(pixel_values, sizes)
    sums = torch.stack([c.float().sum() for c in chunks]).tolist()  # one host sync for the batch
    grids = grid_thw.tolist()
    seen: dict[tuple, list[int]] = {}
    first: list[int] = []
    where: list[int] = []
    for i, chunk in enumerate(chunks):
        key = (tuple(grids[i]), sums[i])
        for u in seen.get(key, []):
            if torch.equal(chunks[first[u]], chunk):
                where.append(u)
                break
        else:
            seen.setdefault(key, []).append(len(first))
            where.append(len(first))
            first.append(i)
    return None if len(first) == len(sizes) else (first, where)


def _rows(lengths: list[int], where: list[int], device) -> torch.Tensor:
    """Row indices into the distinct images' output (``lengths`` rows each) that rebuild the
    whole batch's output in its order."""
    starts = [0]
    for n in lengths[:-1]:
        starts.append(starts[-1] + n)
    return torch.cat([torch.arange(starts[u], starts[u] + lengths[u]) for u in where]).to(device)


def _deduplicated(forward, merge: int):
    def call(hidden_states, grid_thw, **kwargs):
        if kwargs.get("return_dict") is False or any(torch.is_tensor(v) for v in kwargs.values()):
            return forward(hidden_states, grid_thw, **kwargs)
        groups = image_groups(hidden_states, grid_thw)
        if groups is None:
            return forward(hidden_states, grid_thw, **kwargs)
        first, where = groups
        sizes = grid_thw.prod(-1).tolist()
        chunks = torch.split(hidden_states, sizes)
        out = forward(torch.cat([chunks[i] for i in first]), grid_thw[first], **kwargs)
        patches = [sizes[i] for i in first]
        rows = _rows(patches, where, out.pooler_output.device)
        merged = _rows([n // merge**2 for n in patches], where, out.pooler_output.device)
        if out.last_hidden_state is not None:
            out.last_hidden_state = out.last_hidden_state.index_select(0, rows)
        out.pooler_output = out.pooler_output.index_select(0, merged)
        if out.deepstack_features is not None:
            out.deepstack_features = [f.index_select(0, merged) for f in out.deepstack_features]
        return out

    return call


def dedup_vision(model) -> int:
    """Make every Qwen3-VL vision tower inside ``model`` (a bare model, a PEFT wrapper, ...)
    encode each distinct image of a batch once. Returns how many towers it changed (0 for a
    model without one, or one already changed)."""
    changed = 0
    for module in model.modules():
        if type(module).__name__ in VISION_CLASSES and not getattr(module, "_dig_kit_dedup", False):
            module.forward = _deduplicated(module.forward, module.spatial_merge_size)
            module._dig_kit_dedup = True
            changed += 1
    return changed
