"""The LLM judge MM-Vet needs: an OpenAI-compatible chat endpoint, configured from the
environment, never faked.

- ``DIG_KIT_JUDGE_URL``: base URL of an OpenAI-compatible API (``https://api.openai.com/v1``,
  a vLLM server's ``http://host:8000/v1``); ``/chat/completions`` is appended.
- ``DIG_KIT_JUDGE_KEY``: its API key.
- ``DIG_KIT_JUDGE_MODEL``: the judge model (default ``gpt-4-0613``, the official MM-Vet
  grader's; VLMEvalKit uses GPT-4-Turbo). Scores from different judges are not comparable:
  the model is recorded in the metrics.

Without URL and key, MM-Vet's metrics say ``{"status": "not scored: no LLM judge
configured"}`` and its score is ``None``. The grading follows the official MM-Vet script
(``mm-vet_evaluator``): the few-shot prompt below, the question, the ground truth with
``<AND>``/``<OR>`` spaced out and the prediction joined by `` | ``; temperature 0 and 3 new
tokens; the first word must be a number in [0, 1], otherwise the request is repeated with
"Predict the correctness of the answer (digit): " appended and the temperature raised by 0.5,
up to 5 tries, after which the score is 0.0. Grades are cached in a JSONL file so a resumed
scoring does not pay twice.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Callable

MMVET_PROMPT = """Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. <AND> in the ground truth means it is totally right only when all elements in the ground truth are present in the prediction, and <OR> means it is totally right when any one element in the ground truth is present in the prediction. The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last space of the correctness score.

Question | Ground truth | Prediction | Correctness
--- | --- | --- | ---
What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0
What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland is not very icy and Greenland isn't very green. | 0.4
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme is using humor to point out the misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can lead to distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names of the countries and their actual physical characteristics. | 1.0
"""

NOT_CONFIGURED = "not scored: no LLM judge configured (set DIG_KIT_JUDGE_URL and DIG_KIT_JUDGE_KEY)"

# A judge is a callable (prompt, temperature) -> reply text.
Judge = Callable[[str, float], str]


class OpenAICompatibleJudge:
    """``judge(prompt, temperature) -> text`` over ``POST {url}/chat/completions`` (stdlib only)."""

    def __init__(self, url: str, key: str, model: str = "gpt-4-0613", max_tokens: int = 3, timeout: float = 60.0,
                 retries: int = 5):
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.key, self.model, self.max_tokens, self.timeout, self.retries = key, model, max_tokens, timeout, retries

    def __call__(self, prompt: str, temperature: float = 0.0) -> str:
        body = json.dumps({"model": self.model, "max_tokens": self.max_tokens, "temperature": temperature,
                           "messages": [{"role": "user", "content": prompt}]}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.key}"})
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    data = json.loads(resp.read())
                return data["choices"][0]["message"]["content"] or ""
            except Exception as e:  # noqa: BLE001 - rate limits, timeouts: back off and retry
                last = e
                time.sleep(min(2**attempt, 30))
        raise RuntimeError(f"LLM judge at {self.url} failed {self.retries} times: {last!r}")


def judge_from_env() -> OpenAICompatibleJudge | None:
    """The judge configured by the environment, or ``None``."""
    url, key = os.environ.get("DIG_KIT_JUDGE_URL"), os.environ.get("DIG_KIT_JUDGE_KEY")
    if not url or not key:
        return None
    return OpenAICompatibleJudge(url, key, os.environ.get("DIG_KIT_JUDGE_MODEL", "gpt-4-0613"))


def judge_name(judge) -> str:
    return getattr(judge, "model", None) or getattr(judge, "__name__", None) or type(judge).__name__


def mmvet_grade(judge: Judge, question: str, answer: str, prediction: str) -> float:
    """One MM-Vet grade in [0, 1] (official grading loop; see the module docstring)."""
    row = " | ".join([question, answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> "), prediction, ""])
    prompt = MMVET_PROMPT + "\n" + row
    temperature = 0.0
    content = judge(prompt, temperature)
    for _ in range(5):
        try:
            score = float(content.split(" ")[0].strip())
            if 0.0 <= score <= 1.0:
                return score
        except ValueError:
            pass
        temperature += 0.5
        content = judge(prompt + "\nPredict the correctness of the answer (digit): ", temperature)
    return 0.0


class GradeCache:
    """``id -> grade`` in a JSONL file (a torn last line is ignored)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.grades: dict[str, float] = {}
        if self.path and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    r = json.loads(line)
                    self.grades[str(r["id"])] = float(r["grade"])
                except (ValueError, KeyError, TypeError):
                    continue

    def add(self, id_: str, grade: float) -> None:
        self.grades[id_] = grade
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(json.dumps({"id": id_, "grade": grade}) + "\n")
