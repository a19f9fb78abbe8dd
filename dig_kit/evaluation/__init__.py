"""Evaluation: the paper's benchmarks, scored as the community scores them.

Pure at import time (no torch, transformers or vLLM; those load only when a backend is
chosen). The pieces, lm-evaluation-harness style:

- :mod:`.tasks`: one :class:`~.tasks.base.Task` per benchmark (loader + prompt + extractor +
  metric), registered by name (``get_task("pope")``, ``task_names()``);
- :mod:`.extract`: the rule-based answer extraction (final answer after ``</think>``, decided
  per output; VLMEvalKit's exact matching for option letters and yes/no, or the lenient
  protocol; VQA normalisation);
- :mod:`.boxes`: VLMEvalKit-tolerant box reading and coordinate conventions (grounding);
- :mod:`.formats`: VLMEvalKit TSVs, Hugging Face parquet/folders, JSONL, lazy images;
- :mod:`.cache`: resumable predictions JSONL per (model, benchmark, generation settings), and
  the part files of sharded generation, merged in item order;
- :mod:`.workers`: generation spread over N processes, one per GPU (``processes=N|auto``);
- :mod:`.backends`: ``vllm`` / ``transformers`` / ``dummy``, imported lazily;
- :mod:`.runner`: :func:`evaluate`, :func:`score_file`, :func:`evaluate_suite`;
- :mod:`.judge`: the LLM judge MM-Vet needs (from the environment, never faked);
- the paper's published numbers and Tables 1-3 live in :mod:`dig_kit.paper`.
"""

from .cache import PredictionCache, read_predictions
from .formats import BenchmarkDataError
from .runner import PAPER_MAX_NEW_TOKENS, PAPER_TEMPERATURE, evaluate, evaluate_suite, score_file
from .tasks import get_task, task_names

__all__ = [
    "PAPER_MAX_NEW_TOKENS",
    "PAPER_TEMPERATURE",
    "BenchmarkDataError",
    "PredictionCache",
    "evaluate",
    "evaluate_suite",
    "get_task",
    "read_predictions",
    "score_file",
    "task_names",
]
