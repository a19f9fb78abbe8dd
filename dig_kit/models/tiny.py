"""A tiny, randomly initialised Qwen3-VL built offline: tokenizer, processor and model.

No hub access is needed (or possible here), so the CPU smoke profile and the tests use a
model of the real architecture (``Qwen3VLForConditionalGeneration``) with a few hundred
thousand parameters, saved to disk and loaded back through the same ``from_pretrained``
path as a real checkpoint (:func:`dig_kit.models.loading.load_model_and_processor`).

- Tokenizer: a byte-level BPE trained on a small built-in corpus (the DiG/TWIN prompts,
  digits, JSON punctuation), with Qwen's chat and vision special tokens
  (``<|im_start|>``, ``<|im_end|>``, ``<|vision_start|>``, ``<|image_pad|>``, ...) and the
  thinking tags, and a Qwen3-VL-Thinking-style chat template (images become
  ``<|vision_start|><|image_pad|><|vision_end|>``; the generation prompt opens ``<think>``).
- Processor files in the standard layout (``processor_config.json`` naming
  ``Qwen3VLProcessor``, Qwen2-VL's image processor with Qwen3-VL's patch 16 / merge 2,
  limited to small images). Loading goes through :func:`dig_kit.models.loading.load_processor`,
  which handles the missing-torchvision trap on CPU.
- Model: 2 text layers of width 64, a 1-block vision tower of width 32; vocabulary of the
  tokenizer. ``generation_config`` suppresses the vision special tokens, which a random
  policy would otherwise sample (a trained model never writes them).
"""

from __future__ import annotations

import json
from pathlib import Path

from dig_kit.models.loading import vision_token_ids

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
THINK_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'image' %}{{- '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'video' %}{{- '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'text' %}{{- part['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"
)


def _corpus() -> list[str]:
    from dig_kit.prompts import DIG_TEMPLATE, TWIN_PAIR_TEMPLATE

    boxes = '[[12, 34, 56, 78], [100, 120, 140, 160]] {"bbox_2d": [1, 2, 3, 4], "label": "cube"}'
    words = (
        "yes no same different cube sphere cylinder red blue green gray brown purple cyan yellow "
        "metal matte small medium large missing changed new object image before after answer"
    )
    return [DIG_TEMPLATE, TWIN_PAIR_TEMPLATE, boxes, words, " ".join(str(i) for i in range(1001))] * 4


def build_tokenizer(vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + THINK_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
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
    return fast


def build_image_processor(max_pixels: int = 128 * 128):
    from transformers import Qwen2VLImageProcessor

    # Qwen3-VL's geometry (patch 16, merge 2, temporal 2), limited to small images
    return Qwen2VLImageProcessor(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": 32 * 32, "longest_edge": max_pixels},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


def build_tiny_model(out_dir: str | Path, seed: int = 0, max_pixels: int = 128 * 128, overwrite: bool = True) -> Path:
    """Build and save a tiny random Qwen3-VL (model + processor) into ``out_dir``; return it.
    With ``overwrite=False`` an existing model there is kept (same seed, same model)."""
    out = Path(out_dir)
    if not overwrite and (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    image_processor = build_image_processor(max_pixels)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            max_position_embeddings=4096,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [4, 2, 2],
                "mrope_interleaved": True,
            },
            tie_word_embeddings=True,
            pad_token_id=ids["<|endoftext|>"],
            bos_token_id=None,
            eos_token_id=ids["<|im_end|>"],
        ),
        vision_config=dict(
            depth=1,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=64,
            num_position_embeddings=256,
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
    gen = model.generation_config
    gen.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    gen.pad_token_id = ids["<|endoftext|>"]
    gen.suppress_tokens = vision_token_ids(tokenizer)
    model.save_pretrained(out)
    # The standard layout of a Qwen3-VL checkpoint: tokenizer, image and video processor
    # configs and processor_config.json, so AutoProcessor loads it where torchvision exists.
    tokenizer.save_pretrained(out)
    image_processor.save_pretrained(out)
    (out / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "processor_class": "Qwen3VLProcessor",
                "video_processor_type": "Qwen3VLVideoProcessor",
                "patch_size": 16,
                "merge_size": 2,
                "temporal_patch_size": 2,
            },
            indent=2,
        )
    )
    (out / "processor_config.json").write_text(json.dumps({"processor_class": "Qwen3VLProcessor"}, indent=2))
    (out / "README.md").write_text(
        "# tiny random Qwen3-VL (dig_kit)\n\nRandomly initialised, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters, built offline by "
        "`dig-kit tiny-model` for CPU smoke runs and tests. It knows nothing: its outputs are noise.\n"
    )
    return out
