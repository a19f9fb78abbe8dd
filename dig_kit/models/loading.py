"""Load a Qwen3-VL policy and its processor from a local path or a hub id.

``load_model_and_processor(path)`` is the one loading path for real checkpoints and for the
tiny smoke model alike: ``AutoModelForImageTextToText.from_pretrained`` and
``AutoProcessor.from_pretrained``. :data:`VISION_TOKENS` names Qwen's vision placeholders,
which the trainer and the model builders keep out of generated text.

The torchvision trap: transformers' ``Qwen3VLProcessor`` insists on a video processor whose
class check needs torchvision, and PyPI has no CPU build of torchvision. When torchvision is
missing *and* ``AutoProcessor`` fails, we build :class:`ImageOnlyQwen3VLProcessor` from the
saved tokenizer and image processor (which falls back to its PIL backend without
torchvision). It differs from ``Qwen3VLProcessor`` only in accepting no video processor; DiG
and TWIN feed images only. With torchvision installed (GPU machines) the real path runs
untouched.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

VISION_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
"""Qwen-VL's vision special tokens: placeholders the processor writes around and for an image's
patches, never text a policy should write (generation suppresses them)."""


def vision_token_ids(tokenizer) -> list[int]:
    """Ids of the :data:`VISION_TOKENS` that ``tokenizer`` knows."""
    ids = [tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS]
    return [i for i in ids if i is not None]


def _image_only_processor_class():
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

    class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):
        """Qwen3VLProcessor without a video processor (images only; no torchvision needed)."""

        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

        def save_pretrained(self, save_directory, **kwargs):
            """Save in the standard Qwen3-VL layout (processor_class Qwen3VLProcessor), so the
            checkpoint loads with AutoProcessor where torchvision exists, and here via load_processor."""
            import json

            out = Path(save_directory)
            out.mkdir(parents=True, exist_ok=True)
            self.tokenizer.save_pretrained(out)
            self.image_processor.save_pretrained(out)
            (out / "processor_config.json").write_text(json.dumps({"processor_class": "Qwen3VLProcessor"}, indent=2))
            return [str(out)]

    return ImageOnlyQwen3VLProcessor


def image_only_processor(image_processor, tokenizer, chat_template=None):
    cls = _image_only_processor_class()
    return cls(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=None,
        chat_template=chat_template or tokenizer.chat_template,
    )


def load_processor(path: str | Path):
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        processor = AutoProcessor.from_pretrained(str(path))
    except (AttributeError, ImportError, TypeError, ValueError):
        if importlib.util.find_spec("torchvision") is not None:
            raise
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        processor = image_only_processor(AutoImageProcessor.from_pretrained(str(path)), tokenizer)
    processor.tokenizer.padding_side = "left"  # generation pads on the left
    return processor


def load_model_and_processor(path: str | Path, dtype: str = "auto", device_map=None):
    """``(model, processor)`` of a Qwen3-VL checkpoint (local dir or hub id)."""
    import torch
    from transformers import AutoModelForImageTextToText

    torch_dtype = {
        "auto": "auto",
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp32": torch.float32,
        "float32": torch.float32,
    }[dtype]
    model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=torch_dtype, device_map=device_map)
    return model, load_processor(path)
