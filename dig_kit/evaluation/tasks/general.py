"""General multimodal benchmarks (the paper's Table 2): MMBench dev-en, MM-Vet, MMStar,
ScienceQA-IMG, TextVQA, MME, AI2D. Each scorer's docstring gives the metric and the answer
extraction."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from ..extract import vqa_accuracy
from ..formats import image_refs, parse_list_cell, read_table, read_vlmeval_tsv
from ..judge import NOT_CONFIGURED, GradeCache, judge_from_env, judge_name, mmvet_grade
from .base import (
    MultipleChoiceTask,
    Task,
    YesNoTask,
    grouped_accuracy,
    mcq_docs,
    mean,
    parsed_or_not,
    pct,
    yes_no_label,
)

CIRCULAR_OFFSET = 1_000_000


def circularize(docs: list[dict]) -> list[dict]:
    """Add the circular copies of each question (VLMEvalKit's CircularEval) when a file has
    none: for n options, copies ``s = 1..n-1`` rotate the option texts by ``s`` (option ``A``
    of copy ``s`` is the original option ``s``), the answer letter follows its text, and
    the index is ``index + s * 1e6``. Files distributed with their copies are kept as they are."""
    out = []
    for d in docs:
        out.append(d)
        letters = list(d["options"])
        texts = [d["options"][k] for k in letters]
        n = len(letters)
        ans_pos = letters.index(d["answer"])
        for s in range(1, n):
            rot = {letters[i]: texts[(i + s) % n] for i in range(n)}
            new_answer = letters[(ans_pos - s) % n]
            out.append({**d, "id": str(int(d["id"]) + s * CIRCULAR_OFFSET), "options": rot, "answer": new_answer})
    return out


class MMBenchDevEn(MultipleChoiceTask):
    """MMBench dev-en with CircularEval. Extraction: option letter rule (VLMEvalKit's
    ``can_infer`` prefetch; our deterministic rules where VLMEvalKit would call ChatGPT).

    Metric (VLMEvalKit ``mcq_circular_eval``): rows whose ``index % 1e6`` agree are the
    circular shifts of one question (the original has ``index < 1e6``); a question counts as
    correct only if **every** shift is answered correctly. ``accuracy`` (the paper's
    "MMBench" column) is over questions; also per ``l2-category`` and ``category`` (on the
    originals), and ``vanilla_accuracy`` over all rows for reference. A TSV without the
    shifted copies gets them (:func:`circularize`). ``--limit`` keeps whole questions.
    """

    name = "mmbench_dev_en"
    group = "general"
    data_names = ("MMBench_DEV_EN.tsv",)
    expected = (
        "VLMEvalKit MMBench_DEV_EN.tsv (index, question, hint, A-D, answer, category, l2-category, image; "
        "circular copies at index + k*1e6; MMBench_DEV_EN_V11.tsv is the benchmark MMBench_DEV_EN_V11)"
    )
    headline = "accuracy"

    def read(self, path: Path) -> list[dict]:
        docs = mcq_docs(read_vlmeval_tsv(path))
        for d in docs:
            d["id"] = str(int(float(d["id"])))
        if not any(int(d["id"]) >= CIRCULAR_OFFSET for d in docs):
            docs = circularize(docs)
        for d in docs:
            d["g_index"] = int(d["id"]) % CIRCULAR_OFFSET
        return docs

    def limit_docs(self, docs, limit):
        keep = []
        for d in docs:
            if d["g_index"] not in keep:
                keep.append(d["g_index"])
        keep = set(keep[:limit])
        return [d for d in docs if d["g_index"] in keep]

    def aggregate(self, docs, rows) -> dict:
        groups = defaultdict(list)
        main = {}
        for d, r in zip(docs, rows):
            groups[d["g_index"]].append(r["score"] == 1.0)
            if int(d["id"]) == d["g_index"]:
                main[d["g_index"]] = d
        hits = {g: float(all(v)) for g, v in groups.items()}
        mains = [main[g] for g in hits if g in main]
        mrows = [{"score": hits[d["g_index"]]} for d in mains]
        out = {
            "accuracy": pct(mean(hits.values())),
            "questions": len(hits),
            "vanilla_accuracy": pct(mean(r["score"] for r in rows)),
        }
        for key in ("l2-category", "category"):
            acc = grouped_accuracy(mains, mrows, key)
            if acc:
                out[f"by_{key.replace('-', '_')}"] = acc
        return out


class MMVet(Task):
    """MM-Vet (open-ended; needs an LLM judge). Prompt: the question as is (VLMEvalKit).
    Extraction: the final answer text.

    Metric (official MM-Vet grader): each answer is graded 0-1 by the judge
    (:mod:`..judge`); ``total`` = mean grade x 100 (the paper's "MMVet" column), also per
    capability (rec, ocr, know, gen, spat, math: an item counts for every capability it
    needs) and per capability combination. A truncated or missing answer is graded 0 without
    asking the judge. **Without a configured judge nothing is scored**: the metrics say
    ``status: not scored: no LLM judge configured`` and ``score`` is ``None``.
    """

    name = "mmvet"
    group = "general"
    data_names = ("MMVet.tsv", "MM-Vet.tsv")
    expected = "VLMEvalKit MMVet.tsv (index, image, question, answer, category e.g. 'rec,ocr')"
    headline = "total"
    capabilities = ("rec", "ocr", "know", "gen", "spat", "math")

    def read(self, path: Path) -> list[dict]:
        return [
            {
                "id": r["index"],
                "question": r["question"],
                "answer": str(r["answer"]),
                "category": r.get("category") or r.get("capability") or "",
                "images": r["images"],
            }
            for r in read_vlmeval_tsv(path)
        ]

    def prompt(self, doc):
        return str(doc["question"])

    def extract_why(self, answer, raw, doc):
        return parsed_or_not(answer.strip() or None)

    def score_item(self, pred, doc):
        return 0.0  # graded in score()

    def aggregate(self, docs, rows):
        return {}

    def score(self, docs, predictions, thinking=None, judge=None, cache_path=None, **kw):
        judge = judge if judge is not None else judge_from_env()
        rows = [self.score_one(d, predictions.get(d["id"]), thinking) for d in docs]
        if judge is None:
            return self.finish({"status": NOT_CONFIGURED, "score": None, "total": None}, rows), rows
        cache = GradeCache(cache_path)
        for d, r in zip(docs, rows):
            if r["pred"] is None:
                r["score"] = 0.0
                continue
            key = f"{d['id']}:{hashlib.sha1(r['pred'].encode()).hexdigest()[:12]}"
            if key not in cache.grades:
                cache.add(key, mmvet_grade(judge, str(d["question"]), d["answer"], r["pred"]))
            r["score"] = float(cache.grades[key])
        caps = {c: [] for c in self.capabilities}
        combos = defaultdict(list)
        for d, r in zip(docs, rows):
            cats = [c.strip() for c in str(d["category"]).split(",") if c.strip()]
            for c in cats:
                caps.setdefault(c, []).append(r["score"])
            combos["_".join(sorted(cats))].append(r["score"])
        metrics = {
            "status": "scored",
            "judge": judge_name(judge),
            "total": pct(mean(r["score"] for r in rows)),
            "by_capability": {c: pct(mean(v)) for c, v in caps.items() if v},
            "by_capability_set": {c: pct(mean(v)) for c, v in sorted(combos.items())},
        }
        return self.finish(metrics, rows), rows


class MMStar(MultipleChoiceTask):
    """MMStar (multiple choice). Extraction: option letter rule. Metric: ``accuracy`` (the
    paper's "MMStar" column), per ``category`` and ``l2-category``."""

    name = "mmstar"
    group = "general"
    data_names = ("MMStar.tsv",)
    expected = "VLMEvalKit MMStar.tsv (index, image, question, A-D, answer, category, l2_category)"

    def read(self, path):
        return mcq_docs(read_vlmeval_tsv(path))


class ScienceQAImg(MultipleChoiceTask):
    """ScienceQA-IMG: the test questions that come with an image (2,017). Prompt includes the
    lecture-free ``hint`` (context) as VLMEvalKit does. Extraction: option letter rule.
    Metric: ``accuracy`` (the paper's "SQA^I" column), per ``category``."""

    name = "scienceqa_img"
    group = "general"
    data_names = ("ScienceQA_TEST.tsv", "ScienceQA_IMG.tsv")
    expected = "VLMEvalKit ScienceQA_TEST.tsv (index, image, question, hint, A-E, answer, category)"

    def read(self, path):
        return [d for d in mcq_docs(read_vlmeval_tsv(path)) if d["images"]]


class TextVQA(Task):
    """TextVQA validation (short answers). Prompt: the question, then "Answer the question
    using a single word or phrase." (the Qwen/LLaVA VQA prompt). Extraction: the final answer
    text.

    Metric: VQA accuracy against the 10 human answers (``min(1, #matching other answers / 3)``
    averaged over the 10 leave-one-out subsets) after the standard answer normalisation
    (:func:`dig_kit.evaluation.extract.normalize_vqa_answer`: punctuation, number words,
    articles, contractions); ``accuracy`` x 100 is the paper's "VQA^T" column.
    """

    name = "textvqa_val"
    group = "general"
    data_names = ("TextVQA_VAL.tsv", "textvqa", "TextVQA")
    expected = (
        "VLMEvalKit TextVQA_VAL.tsv (index, image, question, answer = list of 10 answers) or "
        "lmms-lab/textvqa parquet (question_id, question, image, answers), validation split"
    )
    headline = "accuracy"
    split = "validation"
    instruction = "Answer the question using a single word or phrase."

    def read(self, path: Path) -> list[dict]:
        if path.suffix == ".tsv":
            return [
                {
                    "id": r["index"],
                    "question": r["question"],
                    "answers": parse_list_cell(r["answer"]),
                    "images": r["images"],
                }
                for r in read_vlmeval_tsv(path)
            ]
        rows = read_table(path, self.split if path.is_dir() else None, self.expected)
        return [
            {
                "id": r.get("question_id", i),
                "question": r["question"],
                "answers": list(r["answers"]),
                "images": image_refs(r.get("image"), path),
            }
            for i, r in enumerate(rows)
        ]

    def prompt(self, doc):
        return f"{doc['question']}\n{self.instruction}"

    def extract_why(self, answer, raw, doc):
        return parsed_or_not(answer.strip() or None)

    def score_item(self, pred, doc):
        return vqa_accuracy(pred, doc["answers"]) if pred is not None else 0.0

    def aggregate(self, docs, rows):
        return {"accuracy": pct(mean(r["score"] for r in rows))}


MME_PERCEPTION = (
    "OCR",
    "artwork",
    "celebrity",
    "color",
    "count",
    "existence",
    "landmark",
    "position",
    "posters",
    "scene",
)
MME_COGNITION = ("code_reasoning", "commonsense_reasoning", "numerical_calculation", "text_translation")


class MME(YesNoTask):
    """MME (yes/no; two questions per image, one true and one false). Extraction: yes/no rule.

    Metrics (MME's definition, VLMEvalKit ``MME_rating``): per category, ``acc`` (per
    question, %) plus ``acc+`` (per image: both of its questions right, %), i.e. a score out
    of 200; ``perception`` = sum over the 10 perception categories (out of 2000),
    ``cognition`` = sum over the 4 cognition categories (out of 800; VLMEvalKit's
    "reasoning"), ``total`` = perception + cognition: the paper's "MME" column (e.g. 1592.4).
    Images are grouped by ``image_path`` (VLMEvalKit's key), else by the shared image.
    """

    name = "mme"
    group = "general"
    data_names = ("MME.tsv",)
    expected = "VLMEvalKit MME.tsv (index, image, question, answer Yes/No, category, image_path)"
    headline = "total"

    def read(self, path: Path) -> list[dict]:
        return [
            {
                "id": r["index"],
                "question": r["question"],
                "answer": yes_no_label(r["answer"]),
                "category": r["category"],
                "image_group": str(r.get("image_path") or r.get("image_key")),
                "images": r["images"],
            }
            for r in read_vlmeval_tsv(path)
        ]

    def aggregate(self, docs, rows) -> dict:
        per_image: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for d, r in zip(docs, rows):
            per_image[d["category"]][d["image_group"]].append(r["score"])
        by_cat = {}
        for cat, images in sorted(per_image.items()):
            acc = pct(mean(s for v in images.values() for s in v))
            acc_plus = pct(mean(float(all(s == 1.0 for s in v)) for v in images.values()))
            by_cat[cat] = {"acc": acc, "acc_plus": acc_plus, "score": round(acc + acc_plus, 4)}
        perception = round(sum(by_cat[c]["score"] for c in MME_PERCEPTION if c in by_cat), 4)
        cognition = round(sum(by_cat[c]["score"] for c in MME_COGNITION if c in by_cat), 4)
        missing = [c for c in MME_PERCEPTION + MME_COGNITION if c not in by_cat]
        out = {
            "total": round(perception + cognition, 4),
            "perception": perception,
            "cognition": cognition,
            "by_category": by_cat,
        }
        if missing:
            out["categories_missing"] = missing
        return out


class AI2D(MultipleChoiceTask):
    """AI2D test (multiple choice on science diagrams). Extraction: option letter rule.
    Metric: ``accuracy`` (the paper's "AI2D" column)."""

    name = "ai2d_test"
    group = "general"
    data_names = ("AI2D_TEST.tsv",)
    expected = (
        "VLMEvalKit AI2D_TEST.tsv (index, image, question, A-D, answer, category; AI2D_TEST_NO_MASK.tsv is "
        "the benchmark AI2D_TEST_NO_MASK)"
    )

    def read(self, path):
        return mcq_docs(read_vlmeval_tsv(path))


TASKS = [MMBenchDevEn(), MMVet(), MMStar(), ScienceQAImg(), TextVQA(), MME(), AI2D()]
