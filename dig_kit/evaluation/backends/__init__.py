"""Generation backends, imported lazily: ``get_backend("vllm", model)`` imports vLLM only then.

A backend answers ``generate(items, max_new_tokens, temperature) -> list[str]`` where an item
is ``{"id", "images": [PIL images], "prompt": text}``; backends that can also say how many
tokens they generated and why they stopped implement ``generate_detailed`` returning
:class:`Generation` records (both built-in ones do).

| name | module | for |
|---|---|---|
| ``vllm`` | :mod:`.vllm_backend` | GPU machines: offline batched inference (the paper's) |
| ``transformers`` | :mod:`.transformers_backend` | CPU, or GPUs without vLLM: ``generate`` with left padding |
| ``dummy`` | :mod:`.base` | smoke runs: a fixed answer, no model (exercises loading, caching, scoring, tables) |
"""

from __future__ import annotations

import importlib
import importlib.util

from .base import DummyBackend, Generation, generate_detailed

BACKENDS = {
    "vllm": ("dig_kit.evaluation.backends.vllm_backend", "VLLMBackend", "vllm"),
    "transformers": ("dig_kit.evaluation.backends.transformers_backend", "TransformersBackend", "transformers"),
    "dummy": ("dig_kit.evaluation.backends.base", "DummyBackend", None),
}


class BackendUnavailable(ImportError):
    """The chosen backend's library is not installed (the message says what to install)."""


def resolve_backend(name: str) -> str:
    """``"auto"``: vLLM where it is installed, else transformers; other names unchanged."""
    if name == "auto":
        return "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
    return name


def get_backend(name: str, model: str, **options):
    """An instance of backend ``name`` (``vllm``, ``transformers``, ``dummy`` or ``auto``) for
    ``model`` (a checkpoint dir or hub id)."""
    name = resolve_backend(name)
    if name not in BACKENDS:
        raise KeyError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module, cls, requirement = BACKENDS[name]
    if requirement is not None and importlib.util.find_spec(requirement) is None:
        extra = "vllm" if name == "vllm" else "train"
        raise BackendUnavailable(
            f"backend {name!r} needs {requirement}, which is not installed: "
            f"pip install 'dig-kit[{extra}]'" + (" (GPU machines)" if name == "vllm" else "")
        )
    return getattr(importlib.import_module(module), cls)(model, **options)


__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "DummyBackend",
    "Generation",
    "generate_detailed",
    "get_backend",
    "resolve_backend",
]
