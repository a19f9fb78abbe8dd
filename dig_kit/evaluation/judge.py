"""LLM judges on an OpenAI-compatible chat endpoint, configured from the environment, never
faked: MM-Vet's grader, and the answer matching of ``--protocol judge`` (VLMEvalKit's judge
prompts for multiple choice and yes/no, asked only where exact matching cannot read an answer).

- ``DIG_KIT_JUDGE_URL``: base URL of an OpenAI-compatible API (``https://api.openai.com/v1``,
  a vLLM server's ``http://host:8000/v1``); ``/chat/completions`` is appended.
- ``DIG_KIT_JUDGE_KEY``: its API key.
- ``DIG_KIT_JUDGE_MODEL``: the judge model (default ``gpt-4-0613``, the official MM-Vet
  grader's; VLMEvalKit uses GPT-4-Turbo). Scores from different judges are not comparable:
  the model is recorded in the metrics.

- ``DIG_KIT_JUDGE_MAX_TOKENS``: new tokens per judge request for answer matching (default
  16; MM-Vet's grader always asks for 3, as the official script does).

The key is read from the environment only, never from a file or the command line.

Answer matching (``--protocol judge``, :func:`judge_option`, :func:`judge_yes_no`): VLMEvalKit's
prompts (``build_prompt`` of its multiple-choice utilities and ``YOrN_match_prompt``),
the question, the options as ``A. text`` lines, the model's final answer. The reply is read
with the exact-matching rules (``can_infer`` with ``Z`` for "none of them"; ``YOrN_Extraction``).
Multiple choice: up to 3 requests at temperature 0; yes/no: up to 5, temperature ``0.5 * i``
(VLMEvalKit's ``YOrN_auxeval``). Where every reply is unreadable, VLMEvalKit draws a random
option for a multiple-choice item; the kit scores the item wrong instead
(``judge_failed``), so runs are repeatable. Replies are cached like grades.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

    def __init__(
        self,
        url: str,
        key: str,
        model: str = "gpt-4-0613",
        max_tokens: int = 3,
        timeout: float = 60.0,
        retries: int = 5,
    ):
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.key, self.model, self.max_tokens, self.timeout, self.retries = key, model, max_tokens, timeout, retries

    def __call__(self, prompt: str, temperature: float = 0.0) -> str:
        body = json.dumps(
            {
                "model": self.model,
                "max_tokens": self.max_tokens,
                "temperature": temperature,
                "messages": [{"role": "user", "content": prompt}],
            }
        ).encode()
        req = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
        )
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


def judge_from_env(max_tokens: int = 3) -> OpenAICompatibleJudge | None:
    """The judge configured by the environment, or ``None``."""
    url, key = os.environ.get("DIG_KIT_JUDGE_URL"), os.environ.get("DIG_KIT_JUDGE_KEY")
    if not url or not key:
        return None
    return OpenAICompatibleJudge(url, key, os.environ.get("DIG_KIT_JUDGE_MODEL", "gpt-4-0613"), max_tokens=max_tokens)


def matching_judge_from_env() -> OpenAICompatibleJudge | None:
    """The judge for ``--protocol judge`` (answer matching), or ``None``."""
    return judge_from_env(max_tokens=int(os.environ.get("DIG_KIT_JUDGE_MAX_TOKENS", "16")))


MCQ_MATCH_PROMPT = (
    "You are an AI assistant who will help me to match an answer with several options of a single-choice "
    "question. You are provided with a question, several options, and an answer, and you need to find which "
    "option is most similar to the answer. If the meaning of all options are significantly different from the "
    "answer, output Z. Your should output a single uppercase character in A, B, C, D (if they are valid "
    "options), and Z. \n"
    "Example 1: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: a cute teddy bear\nYour output: A\n"
    "Example 2: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: Spider\nYour output: Z\n"
    "Example 3: \n"
    "Question: {question}?\nOptions: {options}\nAnswer: {answer}\nYour output: "
)

YES_NO_MATCH_PROMPT = (
    "You are an AI assistant who will help me to match an answer with two options of a question. "
    "The options are only Yes / No. You are provided with a question and an answer, and you need to find which "
    "option (Yes / No) is most similar to the answer. If the meaning of all options are significantly different "
    "from the answer, output Unknown. Your should output a single word among the following 3 choices: "
    "Yes, No, Unknown.\n"
    "Example 1: \n"
    "Question: Is the word in this image 'Hello'?\nAnswer: The word in this image is 'Hello'.\nYour output: Yes\n"
    "Example 2: \n"
    "Question: Is the word in this image 'Hello'?\nAnswer: The word in this image is not 'Hello'.\n"
    "Your output: No\n"
    "Example 3: \n"
    "Question: {question}?\nAnswer: {answer}\nYour output: "
)


def judge_option(judge: Judge, question: str, options: dict[str, str], answer: str) -> tuple[str | None, str]:
    """``(letter or None, rule)`` for a multiple-choice answer exact matching could not read:
    ``judge`` (a letter), ``judge_none`` (the judge said Z) or ``judge_failed``."""
    from .extract import can_infer

    listed = "\n".join(f"{k}. {v}" for k, v in options.items())
    prompt = MCQ_MATCH_PROMPT.format(question=str(question).rstrip("?"), options=listed, answer=answer)
    for _ in range(3):
        reply = judge(prompt, 0.0)
        letter = can_infer(reply, {**options, "Z": "none of the options"})
        if letter == "Z":
            return None, "judge_none"
        if letter:
            return letter, "judge"
    return None, "judge_failed"


def judge_yes_no(judge: Judge, question: str, answer: str) -> tuple[str | None, str]:
    """``("yes"|"no"|None, rule)`` for a yes/no answer exact matching could not read."""
    from .extract import yorn_extraction

    prompt = YES_NO_MATCH_PROMPT.format(question=str(question).rstrip("?"), answer=answer)
    for i in range(5):
        verdict = yorn_extraction(judge(prompt, 0.5 * i))
        if verdict != "Unknown":
            return verdict.lower(), "judge"
    return None, "judge_failed"


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
    """``key -> grade`` (a number, or a judge's matched answer) in a JSONL file; a torn last
    line is ignored."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.grades: dict[str, Any] = {}
        if self.path and self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    r = json.loads(line)
                    self.grades[str(r["id"])] = r["grade"]
                except (ValueError, KeyError, TypeError):
                    continue

    def add(self, id_: str, grade: Any) -> None:
        self.grades[id_] = grade
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(json.dumps({"id": id_, "grade": grade}) + "\n")
