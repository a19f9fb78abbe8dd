"""Repeated images are encoded once, with the same outputs and gradients (dig_kit.models.vision_dedup)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_image_groups_finds_exact_copies_only():
    from dig_kit.models.vision_dedup import image_groups

    grid = torch.tensor([[1, 2, 2]] * 5)
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    c = a.clone()
    c[0, 0] += 1e-3  # nearly a: not a copy
    pixels = torch.cat([a, b, a, c, b])
    assert image_groups(pixels, grid) == ([0, 1, 3], [0, 1, 0, 2, 1])
    assert image_groups(torch.cat([a, b]), grid[:2]) is None  # nothing repeated
    # the same pixels on another grid are another image
    assert image_groups(torch.cat([a, a]), torch.tensor([[1, 2, 2], [1, 4, 1]])) is None


def test_a_grpo_batch_encodes_each_image_once_with_the_same_logits_and_gradients(tmp_path):
    from PIL import Image

    from dig_kit.models.loading import load_model_and_processor
    from dig_kit.models.tiny import build_tiny_model
    from dig_kit.models.vision_dedup import dedup_vision
    from dig_kit.prompts import chat_messages, dig_prompt

    model, processor = load_model_and_processor(build_tiny_model(tmp_path / "tiny"), dtype="fp32")
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(3)]
    pairs = [[images[0], images[1]], [images[1], images[2]]]  # two prompts sharing an image
    batch = [p for p in pairs for _ in range(3)]  # 3 completions of each: 12 images, 3 distinct
    text = processor.apply_chat_template(chat_messages(dig_prompt(None), 2), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text] * len(batch), images=batch, return_tensors="pt", padding=True)
    encoded = []
    model.model.visual.patch_embed.register_forward_hook(lambda m, args, out: encoded.append(args[0].shape[0]))

    def step():
        model.zero_grad()
        logits = model(**enc).logits
        (logits.float() ** 2).mean().backward()
        return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    logits, grads = step()
    assert dedup_vision(model) == 1 and dedup_vision(model) == 0  # changed once
    logits_once, grads_once = step()
    per_image = int(enc["image_grid_thw"][0].prod())
    assert encoded == [12 * per_image, 3 * per_image]
    torch.testing.assert_close(logits_once, logits, rtol=1e-5, atol=1e-5)
    assert grads_once.keys() == grads.keys() and any("visual" in n for n in grads)
    for name in grads:
        torch.testing.assert_close(grads_once[name], grads[name], rtol=1e-4, atol=1e-6, msg=name)
    out = model.generate(
        **{k: v[:1] for k, v in enc.items() if k not in ("pixel_values", "image_grid_thw")},
        pixel_values=enc["pixel_values"][: 2 * per_image],
        image_grid_thw=enc["image_grid_thw"][:2],
        max_new_tokens=2,
        do_sample=False,
    )
    assert out.shape[0] == 1  # a batch without repeats goes through unchanged
