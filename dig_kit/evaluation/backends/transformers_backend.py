"""The transformers backend: ``model.generate`` on padded batches (CPU, or GPUs without vLLM).

Loading goes through :func:`dig_kit.models.loading.load_model_and_processor`
(``AutoModelForImageTextToText`` + ``AutoProcessor``, with the image-only processor fallback
where torchvision is missing). Each batch: one chat per item (the item's images as image
parts, then the prompt text) rendered by the processor's chat template with the generation
prompt, tokenised with **left** padding to the batch's longest prompt (dynamic padding),
then ``generate`` greedy when ``temperature == 0`` (sampling otherwise). The output keeps
the thinking and answer tags (``</think>``, ``<answer>``) and drops the other special tokens.
"""

from __future__ import annotations

import time

from .base import Generation

_KEEP = ("think", "answer")


class TransformersBackend:
    name = "transformers"

    def __init__(
        self,
        model: str,
        batch_size: int = 8,
        dtype: str | None = None,
        device: str | None = None,
        max_pixels: int | None = None,
        ignore_eos: bool = False,
        **_,
    ):
        import torch

        from dig_kit.models.loading import load_model_and_processor

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or ("bf16" if self.device.startswith("cuda") else "fp32")
        t0 = time.perf_counter()
        model, processor = load_model_and_processor(model, dtype=dtype)
        model.to(self.device)
        self.load_seconds = time.perf_counter() - t0
        if max_pixels:
            ip = processor.image_processor
            ip.max_pixels = max_pixels
            if isinstance(getattr(ip, "size", None), dict) and "longest_edge" in ip.size:
                ip.size["longest_edge"] = max_pixels
        self._attach(model, processor, batch_size, ignore_eos)

    @classmethod
    def from_loaded(cls, model, processor, batch_size: int = 8) -> TransformersBackend:
        """A backend around a model already in memory (e.g. the one being trained: held-out
        checks during training); the caller switches it back to ``train()`` afterwards."""
        self = cls.__new__(cls)
        self.device, self.load_seconds = str(next(model.parameters()).device), 0.0
        self._attach(model, processor, batch_size, False)
        return self

    def _attach(self, model, processor, batch_size: int, ignore_eos: bool) -> None:
        self.model, self.processor = model, processor
        self.model.eval()
        self.processor.tokenizer.padding_side = "left"
        self.batch_size = batch_size
        self.ignore_eos = ignore_eos  # benchmarks only: always generate max_new_tokens
        tok = self.processor.tokenizer
        gen = self.model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else tok.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos])
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else next(iter(self.eos_ids))
        self.drop_tokens = [t for t in tok.all_special_tokens if not any(k in t for k in _KEEP)]
        probe = self.chat_text("x", 0)
        self.thinking = probe.rstrip().endswith("<think>")

    def chat_text(self, prompt: str, num_images: int) -> str:
        messages = [
            {
                "role": "user",
                "content": [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": prompt}],
            }
        ]
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _decode(self, ids) -> tuple[str, int, str]:
        ids = [int(i) for i in ids]
        n, reason = len(ids), "length"
        for k, t in enumerate(ids):
            if t in self.eos_ids and not self.ignore_eos:
                n, reason = k, "stop"
                break
        ids = [t for t in ids[:n] if t != self.pad_id]
        text = self.processor.tokenizer.decode(ids, skip_special_tokens=False)
        for t in self.drop_tokens:
            text = text.replace(t, "")
        return text, n, reason

    def generate_detailed(self, items: list[dict], max_new_tokens: int, temperature: float) -> list[Generation]:
        import torch

        out: list[Generation] = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            texts = [self.chat_text(it["prompt"], len(it["images"])) for it in batch]
            images = [img for it in batch for img in it["images"]]
            inputs = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
            inputs = inputs.to(self.device)
            kwargs = dict(max_new_tokens=max_new_tokens, pad_token_id=self.pad_id)
            if self.ignore_eos:
                kwargs["min_new_tokens"] = max_new_tokens
            if temperature and temperature > 0:
                kwargs.update(do_sample=True, temperature=float(temperature))
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                seqs = self.model.generate(**inputs, **kwargs)
            new = seqs[:, inputs["input_ids"].shape[1] :]
            for row in new.tolist():
                text, n, reason = self._decode(row)
                out.append(Generation(text, n, reason))
        return out

    def generate(self, items, max_new_tokens, temperature):
        return [g.text for g in self.generate_detailed(items, max_new_tokens, temperature)]
