"""The task interface (lm-evaluation-harness style): loader + prompt + extractor + metric.

A :class:`Task` turns a benchmark's local files into *docs* (plain dicts with at least ``id``
and ``images``), a doc into a prompt, a raw model output into a prediction, and the
predictions of all docs into the benchmark's official metrics. Scoring is pure: it needs the
docs and a mapping ``id -> {"output": raw text}``, nothing else, so predictions made
anywhere can be scored (``dig-kit score``).

Common to every task (:meth:`Task.score`):

- the final answer is decided per output (:func:`dig_kit.evaluation.extract.split_thinking`):
  the text after the last ``</think>``; an output cut off (``finish_reason == "length"``, an
  unclosed ``<think>``, or no ``</think>`` from a model whose template opens it) is wrong and
  counted in ``truncated`` and, by reason, in ``truncated_by_reason``;
- ``protocol`` (``vlmevalkit``, the default, ``lenient`` or ``judge``) picks the extraction
  rules (:mod:`dig_kit.evaluation.extract`); with ``judge``, multiple-choice and yes/no
  answers exact matching cannot read go to an LLM judge (:meth:`Task.match_with_judge`);
  every row says which rule read the answer (``why``), and ``by_rule`` counts them;
- a doc without a prediction is wrong and counted in ``missing`` (``dig-kit score`` on a
  partial file says so instead of silently shrinking the benchmark);
- an answer the rules cannot read is wrong and counted in ``unparsed``;
- metrics are percentages (as in the paper's tables) except where a benchmark defines
  another unit (MME's summed scores); ``score`` repeats the number the paper reports.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..extract import PROTOCOLS, final_answer, match_option, match_yes_no, split_thinking
from ..formats import BenchmarkDataError, locate


class Task:
    """One benchmark (split). Subclasses set the class attributes and implement
    :meth:`read`, :meth:`prompt`, :meth:`extract`, :meth:`judge` and :meth:`aggregate`."""

    name: str = ""
    group: str = ""
    """``perception``, ``general``, ``grounding`` (the paper's Tables 1-3), ``dig`` or ``twin``"""
    data_names: tuple[str, ...] = ()
    """file or folder names looked for under a data directory"""
    expected: str = ""
    """the accepted formats, for error messages"""
    split: str | None = None
    headline: str = "accuracy"
    """the metric the paper's table reports; copied to ``metrics["score"]``"""
    version: str = "1"
    """bumped when the prompt changes: part of the prediction cache key"""
    max_images: int = 1
    protocol: str = "vlmevalkit"
    """answer extraction rules: ``vlmevalkit`` (exact matching, the default), ``lenient`` or
    ``judge`` (exact matching, then an LLM judge for what it cannot read)"""

    # -- data -----------------------------------------------------------------------------
    def load(self, data: str | Path, limit: int | None = None, root: bool = False) -> list[dict]:
        """The docs of this benchmark from ``data`` (its file or folder, or a folder holding one
        of :attr:`data_names`; with ``root``, it must hold one); ``limit`` keeps the first docs
        (whole groups where the metric needs groups)."""
        path = locate(data, self.data_names, self.expected, root=root)
        try:
            docs = self.read(path)
        except BenchmarkDataError:
            raise
        except (KeyError, ValueError, TypeError) as e:
            raise BenchmarkDataError(
                f"{self.name}: {path} is not in the expected format ({self.expected}): {e!r}"
            ) from None
        if not docs:
            raise BenchmarkDataError(f"{self.name}: no items in {path} ({self.expected})")
        seen: set[str] = set()
        for d in docs:
            d["id"] = str(d["id"])
            if d["id"] in seen:
                raise BenchmarkDataError(f"{self.name}: duplicate item id {d['id']!r} in {path}")
            seen.add(d["id"])
        return self.limit_docs(docs, limit) if limit else docs

    def limit_docs(self, docs: list[dict], limit: int) -> list[dict]:
        return docs[:limit]

    def read(self, path: Path) -> list[dict]:
        raise NotImplementedError

    # -- generation -----------------------------------------------------------------------
    def prompt(self, doc: dict) -> str:
        raise NotImplementedError

    def images(self, doc: dict) -> list:
        return list(doc.get("images") or [])

    # -- scoring --------------------------------------------------------------------------
    def extract_why(self, answer: str, raw: str, doc: dict) -> tuple[Any, str]:
        """``(prediction, rule)``: the prediction of a final answer (``None``: unparsed) and
        which rule read it (``unparsed`` when none did; :func:`parsed_or_not` for a task
        with a single rule). Tasks implement this one; :meth:`extract` derives from it."""
        raise NotImplementedError

    def extract(self, answer: str, raw: str, doc: dict) -> Any:
        """The prediction of a final answer (``None``: unparsed)."""
        return self.extract_why(answer, raw, doc)[0]

    def score_item(self, pred: Any, doc: dict) -> float | dict:
        """Per-item score (1/0, or soft); a dict adds fields to the item's row (key ``score``)."""
        raise NotImplementedError

    def aggregate(self, docs: list[dict], rows: list[dict]) -> dict:
        raise NotImplementedError

    def score(
        self, docs: list[dict], predictions: dict[str, dict], thinking: bool | None = None, **kw
    ) -> tuple[dict, list[dict]]:
        """``(metrics, rows)``: the benchmark's metrics and one row per doc (``id``, ``output``,
        ``answer``, ``pred``, ``score``, ``truncated``, ``missing``, ``parsed``, ``why``).
        ``thinking``: the model's template opens ``<think>`` (``None``: from each prediction's
        ``thinking`` field, else unknown)."""
        rows = []
        for doc in docs:
            rows.append(self.score_one(doc, predictions.get(doc["id"]), thinking))
        if self.protocol == "judge":
            self.match_with_judge(docs, rows, kw.get("judge"), kw.get("cache_path"))
        metrics = self.aggregate(docs, rows)
        return self.finish(metrics, rows), rows

    def judge_answer(self, judge, answer: str, doc: dict) -> tuple[Any, str]:
        """``(prediction, rule)`` read by an LLM judge from an answer exact matching could not
        read (``--protocol judge``). Tasks without judge matching (short answers, boxes) do
        not override this, and their rows stay as exact matching left them."""
        raise NotImplementedError

    def match_with_judge(self, docs: list[dict], rows: list[dict], judge=None, cache_path=None) -> None:
        """``--protocol judge``: the rows exact matching left ``unparsed`` go to the LLM judge
        (:mod:`..judge`); its replies are cached per (id, answer) next to the predictions."""
        if type(self).judge_answer is Task.judge_answer:
            return
        from ..judge import NOT_CONFIGURED, GradeCache, matching_judge_from_env

        judge = judge if judge is not None else matching_judge_from_env()
        if judge is None:
            raise BenchmarkDataError(f"--protocol judge: {NOT_CONFIGURED}")
        cache = GradeCache(cache_path)
        for doc, row in zip(docs, rows):
            if row["why"] != "unparsed" or not row["answer"]:
                continue
            key = f"match:{doc['id']}:{hashlib.sha1(row['answer'].encode()).hexdigest()[:12]}"
            if key not in cache.grades:
                cache.add(key, list(self.judge_answer(judge, row["answer"], doc)))
            pred, rule = cache.grades[key]
            row.update(pred=pred, parsed=pred is not None, why=rule)
            judged = self.score_item(pred, doc)
            row.update(judged) if isinstance(judged, dict) else row.update(score=float(judged))

    def final_text(self, rec: dict, thinking: bool | None) -> tuple[str, str | None]:
        """``(final answer, truncation reason or None)`` of one prediction record."""
        raw = rec.get("output")
        if thinking is None and isinstance(rec.get("thinking"), bool):
            thinking = rec["thinking"]
        finish = rec.get("finish_reason")
        if self.protocol == "lenient":
            answer, why = split_thinking(raw, thinking, finish)
            return (final_answer(raw, thinking, finish)[0] if why is None else ""), why
        return split_thinking(raw, thinking, finish)

    def score_one(self, doc: dict, rec: dict | None, thinking: bool | None) -> dict:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; known: {', '.join(PROTOCOLS)}")
        row: dict[str, Any] = {
            "id": doc["id"],
            "missing": rec is None,
            "truncated": False,
            "parsed": False,
            "pred": None,
            "score": 0.0,
            "output": None,
            "answer": None,
            "why": "missing",
        }
        if rec is not None:
            raw = rec.get("output")
            row["output"] = raw
            answer, why = self.final_text(rec, thinking)
            row["truncated"] = why is not None
            if why is not None:
                row["why"] = f"truncated:{why}"
            else:
                row["answer"] = answer
                pred, rule = self.extract_why(answer, raw if isinstance(raw, str) else "", doc)
                row["pred"] = pred
                row["parsed"] = pred is not None and pred != []
                row["why"] = rule if row["parsed"] else (rule if rule != "parsed" else "unparsed")
        judged = self.score_item(row["pred"], doc)  # None when missing, truncated or unparsed
        if isinstance(judged, dict):
            row.update(judged)
        else:
            row["score"] = float(judged)
        return row

    def finish(self, metrics: dict, rows: list[dict]) -> dict:
        by_trunc: dict[str, int] = defaultdict(int)
        by_rule: dict[str, int] = defaultdict(int)
        for r in rows:
            why = str(r.get("why") or "")
            if why.startswith("truncated:"):
                by_trunc[why.split(":", 1)[1]] += 1
            elif not r["missing"]:
                by_rule[why] += 1
        head = {
            "benchmark": self.name,
            "protocol": self.protocol,
            "n": len(rows),
            "missing": sum(r["missing"] for r in rows),
            "truncated": sum(r["truncated"] for r in rows),
            "truncated_by_reason": dict(sorted(by_trunc.items())),
            "unparsed": sum(1 for r in rows if not (r["missing"] or r["truncated"] or r["parsed"])),
            "by_rule": dict(sorted(by_rule.items())),
        }
        out = {**head, **metrics}
        if "score" not in out:
            out["score"] = _lookup(out, self.headline)
        out["headline"] = self.headline
        return out


def _lookup(d: dict, dotted: str):
    if dotted in d:
        return d[dotted]
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


# -- helpers shared by the scorers --------------------------------------------------------
def parsed_or_not(pred: Any) -> tuple[Any, str]:
    """``(pred, rule)`` for a task with a single extraction rule: ``parsed``, or ``unparsed``
    when ``pred`` is ``None`` or empty."""
    return pred, ("unparsed" if pred is None or pred == [] else "parsed")


def pct(x: float) -> float:
    return round(100.0 * float(x), 4)


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def grouped_accuracy(docs: list[dict], rows: list[dict], key: str) -> dict[str, float]:
    """Percent mean score per value of ``doc[key]`` (sorted), skipping docs without it."""
    groups: dict[str, list[float]] = defaultdict(list)
    for d, r in zip(docs, rows):
        if d.get(key) is not None:
            groups[str(d[key])].append(r["score"])
    return {k: pct(mean(v)) for k, v in sorted(groups.items())}


def options_of(row: dict, letters: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ") -> dict[str, str]:
    """The option columns ``A``, ``B``... of a VLMEvalKit row that are present (in order)."""
    return {c: str(row[c]) for c in letters if row.get(c) is not None and str(row[c]).strip() != ""}


class MultipleChoiceTask(Task):
    """Multiple choice (VLMEvalKit MCQ rows: ``question``, options ``A``..., ``answer`` letter,
    optional ``hint``). Prompt, Qwen3-VL evaluation style: ``Hint: ...`` (when given),
    ``Question: ...``, ``Options:`` one per line as ``A. text``, then "Answer with the option
    letter only.". Extraction: :func:`dig_kit.evaluation.extract.match_option`. Metric:
    accuracy, overall and per ``category``/``l2-category``."""

    instruction = "Answer with the option letter only."
    headline = "accuracy"

    def prompt(self, doc: dict) -> str:
        parts = []
        if doc.get("hint"):
            parts.append(f"Hint: {doc['hint']}")
        parts.append(f"Question: {doc['question']}")
        parts.append("Options:")
        parts += [f"{k}. {v}" for k, v in doc["options"].items()]
        parts.append(self.instruction)
        return "\n".join(parts)

    def extract_why(self, answer: str, raw: str, doc: dict):
        return match_option(answer, doc["options"], self.protocol)

    def score_item(self, pred, doc) -> float:
        return float(pred is not None and pred == doc["answer"])

    def judge_answer(self, judge, answer, doc):
        from ..judge import judge_option

        return judge_option(judge, doc.get("question", ""), doc["options"], answer)

    def aggregate(self, docs, rows) -> dict:
        out = {"accuracy": pct(mean(r["score"] for r in rows))}
        for key in ("category", "l2-category"):
            acc = grouped_accuracy(docs, rows, key)
            if acc:
                out[f"by_{key.replace('-', '_')}"] = acc
        return out


class YesNoTask(Task):
    """Yes/no questions. Prompt: the question, then " Please answer yes or no." (VLMEvalKit's
    Qwen prompt; not repeated when the question already asks it). Extraction:
    :func:`dig_kit.evaluation.extract.match_yes_no`."""

    instruction = "Please answer yes or no."

    def prompt(self, doc: dict) -> str:
        q = str(doc["question"]).strip()
        if self.instruction.lower().rstrip(".") in q.lower():
            return q
        return f"{q} {self.instruction}"

    def extract_why(self, answer: str, raw: str, doc: dict):
        return match_yes_no(answer, self.protocol)

    def judge_answer(self, judge, answer, doc):
        from ..judge import judge_yes_no

        return judge_yes_no(judge, doc.get("question", ""), answer)

    def score_item(self, pred, doc) -> float:
        return float(pred is not None and pred == doc["answer"])


def yes_no_label(value) -> str:
    """``"yes"``/``"no"`` from the labels benchmarks use (Yes/No, yes/no, 1/0, True/False)."""
    v = str(value).strip().lower()
    if v in ("yes", "1", "true", "y"):
        return "yes"
    if v in ("no", "0", "false", "n"):
        return "no"
    raise ValueError(f"not a yes/no label: {value!r}")


def mcq_docs(rows: list[dict], answer_key: str = "answer") -> list[dict]:
    """Docs of VLMEvalKit MCQ rows: ``id`` (the index), ``question``, ``options``, ``answer``
    (a letter), ``hint``, ``category``, ``l2-category``, ``images``."""
    docs = []
    for r in rows:
        opts = options_of(r)
        if not opts:
            raise BenchmarkDataError(f"row {r.get('index')}: no option columns A, B, ...")
        ans = str(r[answer_key]).strip()
        if ans not in opts:
            raise BenchmarkDataError(f"row {r.get('index')}: answer {ans!r} is not one of the options {list(opts)}")
        docs.append(
            {
                "id": str(r["index"]),
                "question": r["question"],
                "options": opts,
                "answer": ans,
                "hint": r.get("hint"),
                "category": r.get("category"),
                "l2-category": r.get("l2-category", r.get("l2_category")),
                "images": r.get("images", []),
                **{k: r[k] for k in ("split", "cycle_category", "image_key", "source") if k in r},
            }
        )
    return docs
