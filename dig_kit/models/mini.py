"""The ``mini`` profile's small Qwen3-VL, built offline: a real ``Qwen3VLForConditionalGeneration``
of a few million parameters with a tokenizer that writes the kit's prompts and numbers compactly.

Why these choices (the issue's first two attempts failed for want of them):

- **Tokenizer**: a byte-level BPE whose pre-tokenizer splits only digit runs off (no split at
  spaces), trained on the kit's own prompts (DiG with and without the count hint, TWIN, the
  grounding instruction of the warm start) and the integers 0-1000. Every integer 0-1000 is one
  token and a whole prompt sentence is a handful of tokens, so the DiG prompt costs ~13 tokens
  instead of ~330 and an answer ``[[12, 34, 56, 78]]`` costs 9. Any text still tokenizes (bytes).
- **Number embeddings**: the embedding (tied with the output layer) of the token of integer
  ``v`` starts as a smooth function of ``v`` (sinusoids at several scales, then a fixed random
  projection) plus noise, so neighbouring coordinates start with neighbouring logits: a wrong
  coordinate is wrong by a little, not by a random amount. Only the initialisation differs
  from :func:`dig_kit.models.tiny.build_tiny_model`; the weights are all trained.
- **Vision geometry**: patch 8 (Qwen3-VL uses 16) with Qwen3-VL's 2x2 merge, so one image
  token covers 16x16 pixels: a 128x128 image is 64 tokens and an object of the mini scenes
  (20-50 px) spans one to three tokens.

Same layout and loading path as every other checkpoint of the kit
(:func:`dig_kit.models.loading.load_model_and_processor`).
"""

from __future__ import annotations

import json
from pathlib import Path

from dig_kit.models.loading import vision_token_ids
from dig_kit.models.tiny import CHAT_TEMPLATE, SPECIAL_TOKENS, THINK_TOKENS

MAX_NUMBER = 1000
"""Integers 0..MAX_NUMBER are single tokens (pixels of small images, and Qwen's 0-1000 scale)."""


def _corpus() -> list[str]:
    from dig_kit.prompts import (
        GROUNDING_PROMPT,
        TWIN_MULTI_TEMPLATE,
        TWIN_PAIR_TEMPLATE,
        VQA_BOTH_TEMPLATE,
        VQA_ONE_TEMPLATE,
        dig_prompt,
    )
    from dig_kit.scenes.attributes import COLORS, SHAPES

    texts = [dig_prompt(None), TWIN_PAIR_TEMPLATE, TWIN_MULTI_TEMPLATE, GROUNDING_PROMPT]
    texts += [dig_prompt(n) for n in range(1, 11)]
    texts += [t.format(thing=f"{c} {s}") for t in (VQA_ONE_TEMPLATE, VQA_BOTH_TEMPLATE) for c in COLORS for s in SHAPES]
    chat = [
        "<|im_start|>user\n",
        "<|im_end|>\n",
        "<|im_start|>assistant\n",
        "\n</think>\n\n",
        "</think>\n\n",
        "<answer>yes</answer>",
        "<answer>no</answer>",
        "<answer>0</answer>",
        "[]",
        "[[1, 2, 3, 4]]",
        "[[1, 2, 3, 4], [5, 6, 7, 8]]",
        "yes",
        "no",
        "same",
        "different",
    ]
    numbers = [str(i) for i in range(MAX_NUMBER + 1)]
    return (texts + chat) * 8 + numbers * 4


def build_mini_tokenizer(vocab_size: int = 3072):
    """The compact tokenizer (see the module docstring), with Qwen's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + THINK_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        max_token_length=None,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        chat_template=CHAT_TEMPLATE,
    )
    fast.padding_side = "left"
    missing = [n for n in range(MAX_NUMBER + 1) if len(fast(str(n))["input_ids"]) != 1]
    if missing:
        raise RuntimeError(
            f"mini tokenizer: {len(missing)} integers are not single tokens (e.g. {missing[:5]}); raise vocab_size"
        )
    return fast


def number_token_ids(tokenizer, max_number: int = MAX_NUMBER) -> list[int]:
    """Token id of each integer 0..max_number."""
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(str(n))[0]) for n in range(max_number + 1)]


def _smooth_number_embeddings(n: int, dim: int, generator):
    """(n, dim): sinusoids of the value at scales 2..2000 through a fixed random projection."""
    import math

    import torch

    v = torch.arange(n, dtype=torch.float32)[:, None]
    scales = torch.logspace(math.log10(2.0), math.log10(2000.0), 16)
    feats = torch.cat([torch.sin(v * 2 * math.pi / scales), torch.cos(v * 2 * math.pi / scales)], dim=1)
    proj = torch.randn(feats.shape[1], dim, generator=generator) / math.sqrt(feats.shape[1])
    return feats @ proj


def build_mini_model(
    out_dir: str | Path,
    seed: int = 0,
    image_size: int = 128,
    text_width: int = 128,
    text_layers: int = 4,
    vision_width: int = 96,
    vision_depth: int = 2,
    patch: int = 8,
    merge: int = 2,
    overwrite: bool = True,
) -> Path:
    """Build and save the mini Qwen3-VL (model, tokenizer, processor files) into ``out_dir``.
    With ``overwrite=False`` an existing model there is kept."""
    out = Path(out_dir)
    if not overwrite and (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    import torch
    from transformers import Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration

    if image_size % (patch * merge):
        raise ValueError(f"image_size {image_size}: must be a multiple of {patch * merge}")
    tokenizer = build_mini_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    heads = max(2, text_width // 32)
    grid = image_size // patch
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=text_width,
            intermediate_size=3 * text_width,
            num_hidden_layers=text_layers,
            num_attention_heads=heads,
            num_key_value_heads=max(1, heads // 2),
            head_dim=32,
            max_position_embeddings=4096,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [8, 4, 4],
                "mrope_interleaved": True,
            },
            tie_word_embeddings=True,
            pad_token_id=ids["<|endoftext|>"],
            bos_token_id=None,
            eos_token_id=ids["<|im_end|>"],
        ),
        vision_config=dict(
            depth=vision_depth,
            hidden_size=vision_width,
            intermediate_size=2 * vision_width,
            num_heads=max(2, vision_width // 32),
            patch_size=patch,
            spatial_merge_size=merge,
            temporal_patch_size=2,
            out_hidden_size=text_width,
            num_position_embeddings=grid * grid,
            deepstack_visual_indexes=[0],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(config)
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        smooth = _smooth_number_embeddings(MAX_NUMBER + 1, text_width, g)
        smooth *= emb.std() / smooth.std()
        nums = torch.tensor(number_token_ids(tokenizer))
        emb[nums] = 0.5 * emb[nums] + smooth
    gen = model.generation_config
    gen.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    gen.pad_token_id = ids["<|endoftext|>"]
    gen.suppress_tokens = vision_token_ids(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    Qwen2VLImageProcessor(
        patch_size=patch,
        merge_size=merge,
        temporal_patch_size=2,
        size={"shortest_edge": 16 * 16, "longest_edge": image_size * image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    ).save_pretrained(out)
    (out / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "processor_class": "Qwen3VLProcessor",
                "video_processor_type": "Qwen3VLVideoProcessor",
                "patch_size": patch,
                "merge_size": merge,
                "temporal_patch_size": 2,
            },
            indent=2,
        )
    )
    (out / "processor_config.json").write_text(json.dumps({"processor_class": "Qwen3VLProcessor"}, indent=2))
    n_params = sum(p.numel() for p in model.parameters())
    (out / "README.md").write_text(
        f"# mini Qwen3-VL (dig_kit, profile mini)\n\nRandomly initialised, {n_params:,} parameters, built offline by "
        "`dig_kit.models.mini.build_mini_model`: Qwen3-VL's architecture at a small width, patch 8, a compact "
        "tokenizer. Not a pretrained model: the mini profile gives it a supervised warm start that stands in for "
        "Qwen3-VL's pretraining before the DiG curriculum.\n"
    )
    return out
