"""The vLLM backend: offline batched inference, the paper's setting (supplement "Evaluation
Configuration": temperature 0, at most 4096 new tokens, batched decoding).

NOT TESTED in this repository's CI (no vLLM, no GPU): kept small and close to vLLM's
documented offline multi-modal API. ``LLM(model, limit_mm_per_prompt={"image": k})`` with k
the most images one prompt of the benchmark carries (2 for DiG, 4 for FGVQA); prompts are
the model's own chat template (images as image parts, then the text) rendered by vLLM's
tokenizer, and each request carries its PIL images as ``multi_modal_data``. vLLM batches and
pads dynamically (continuous batching); ``SamplingParams(temperature=0)`` is greedy.
"""

from __future__ import annotations

import time

from .base import Generation


class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        model: str,
        max_images: int = 2,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        seed: int = 0,
        max_pixels: int | None = None,
        ignore_eos: bool = False,
        **_,
    ):
        from vllm import LLM

        t0 = time.perf_counter()
        kwargs = dict(
            model=str(model),
            limit_mm_per_prompt={"image": int(max_images)},
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            seed=seed,
            trust_remote_code=False,
        )
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if max_pixels:
            kwargs["mm_processor_kwargs"] = {"max_pixels": int(max_pixels)}
        self.llm = LLM(**kwargs)
        self.ignore_eos = ignore_eos  # benchmarks only: always generate max_new_tokens
        self.load_seconds = time.perf_counter() - t0
        self.tokenizer = self.llm.get_tokenizer()
        self.thinking = self.chat_text("x", 0).rstrip().endswith("<think>")

    def chat_text(self, prompt: str, num_images: int) -> str:
        messages = [
            {
                "role": "user",
                "content": [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": prompt}],
            }
        ]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate_detailed(self, items: list[dict], max_new_tokens: int, temperature: float) -> list[Generation]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=float(temperature or 0.0), max_tokens=int(max_new_tokens), ignore_eos=self.ignore_eos
        )
        requests = []
        for it in items:
            req = {"prompt": self.chat_text(it["prompt"], len(it["images"]))}
            if it["images"]:
                req["multi_modal_data"] = {"image": list(it["images"])}
            requests.append(req)
        outs = self.llm.generate(requests, params, use_tqdm=False)
        return [Generation(o.outputs[0].text, len(o.outputs[0].token_ids), o.outputs[0].finish_reason) for o in outs]

    def generate(self, items, max_new_tokens, temperature):
        return [g.text for g in self.generate_detailed(items, max_new_tokens, temperature)]
