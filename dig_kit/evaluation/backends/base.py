"""What every backend shares: the :class:`Generation` record and the dummy backend."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Generation:
    """One output: the text, the number of generated tokens (``None`` if unknown) and why it
    stopped (``"stop"``: end of sequence; ``"length"``: hit ``max_new_tokens``)."""

    text: str
    num_tokens: int | None = None
    finish_reason: str | None = None


def generate_detailed(backend, items: list[dict], max_new_tokens: int, temperature: float) -> list[Generation]:
    """:class:`Generation` records from any backend (``generate_detailed`` when it has one,
    else its plain ``generate`` strings)."""
    if hasattr(backend, "generate_detailed"):
        out = backend.generate_detailed(items, max_new_tokens, temperature)
    else:
        out = [Generation(t) for t in backend.generate(items, max_new_tokens, temperature)]
    if len(out) != len(items):
        raise RuntimeError(f"backend returned {len(out)} outputs for {len(items)} items")
    return out


class DummyBackend:
    """No model: answers every item with ``answer`` (default ``"</think>A"``). For smoke runs
    of the whole evaluation path (loading, caching, scoring, tables) where no checkpoint
    exists; its numbers mean nothing and are labelled with the backend name."""

    name = "dummy"
    thinking = True

    def __init__(self, model: str = "dummy", answer: str = "</think>A", **_):
        self.model, self.answer = model, answer

    def generate_detailed(self, items, max_new_tokens, temperature):
        return [Generation(self.answer, num_tokens=len(self.answer.split()), finish_reason="stop") for _ in items]

    def generate(self, items, max_new_tokens, temperature):
        return [g.text for g in self.generate_detailed(items, max_new_tokens, temperature)]
