"""Perception benchmarks (the paper's Table 1): HallusionBench, HRBench-8K, POPE, V*, VSR,
CV-Bench, MMVP. Each scorer's docstring gives the metric and the answer extraction."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from ..formats import BenchmarkDataError, image_refs, read_table, read_vlmeval_tsv, split_of
from .base import MultipleChoiceTask, YesNoTask, grouped_accuracy, mcq_docs, mean, pct, yes_no_label

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class HallusionBench(YesNoTask):
    """HallusionBench (yes/no). Extraction: yes/no rule (:mod:`..extract`).

    Metrics (VLMEvalKit ``Hallusion_rating``, the benchmark's own definitions):

    - ``aAcc``: accuracy over all questions;
    - ``fAcc``: figure accuracy, the fraction of figures (key: ``l2-category``, ``set_id``,
      ``figure_id``) whose questions are all answered correctly;
    - ``qAcc``: question accuracy, the fraction of questions (key: ``l2-category``, ``set_id``,
      ``question_id``: the same question asked about the original and the edited figures)
      answered correctly on every figure;
    - ``overall`` = mean(aAcc, fAcc, qAcc): the paper's "HalBench" column.

    ``set_id``/``figure_id``/``question_id`` come from their columns when present, else from
    the VLMEvalKit index (``index.split('_')[3:6]``); all three also per ``category`` (VD/VS)
    and per ``l2-category`` (chart, table, map, ...).

    Questions without an image (``visual_input == 0``, from its column or ``index.split('_')[2]``,
    or an empty image cell) are dropped, as VLMEvalKit scores only the 951 with one of
    VLMEvalKit's 1,129 rows; lmms-lab's parquet is read from its ``image`` split only (its
    ``non_image`` split is those questions). ``dropped_no_image`` says how many.

    Protocols elsewhere: lmms-eval's ``hallusion_bench`` computes the same three accuracies but
    keys figures and questions by ``category, subcategory, set_id, figure_id/question_id``
    (VLMEvalKit: ``l2-category``, i.e. the same subcategory) and reads yes/no with its own
    parser; the official script asks GPT-4 to map each answer to yes/no/uncertain.
    """

    name = "hallusionbench"
    group = "perception"
    data_names = ("HallusionBench.tsv", "HallusionBench")
    expected = (
        "VLMEvalKit HallusionBench.tsv (index, image, question, answer Yes/No, category, l2-category) or "
        "lmms-lab/HallusionBench parquet (category, subcategory, set_id, figure_id, question_id, gt_answer, image)"
    )
    headline = "overall"

    dropped_no_image = 0

    def read(self, path: Path) -> list[dict]:
        docs, dropped = [], 0
        if path.suffix == ".tsv":
            for r in read_vlmeval_tsv(path):
                parts = str(r["index"]).split("_")
                ids = [r.get(k) for k in ("set_id", "figure_id", "question_id")]
                if any(v is None for v in ids):
                    if len(parts) < 6:
                        raise BenchmarkDataError(
                            f"{path}: index {r['index']!r} lacks set/figure/question ids "
                            "(expected VLMEvalKit's '<cat>_<sub>_<visual_input>_<set>_<figure>_"
                            "<question>' or columns set_id, figure_id, question_id)"
                        )
                    ids = parts[3:6]
                visual = r.get("visual_input", parts[2] if len(parts) >= 6 else None)
                if str(visual).strip() == "0" or not r["images"]:
                    dropped += 1
                    continue
                docs.append(
                    {
                        "id": r["index"],
                        "question": r["question"],
                        "answer": yes_no_label(r["answer"]),
                        "category": r.get("category"),
                        "l2-category": r.get("l2-category"),
                        "set_id": str(ids[0]),
                        "figure_id": str(ids[1]),
                        "question_id": str(ids[2]),
                        "images": r["images"],
                    }
                )
        else:
            split = None
            if path.is_dir() and "image" in {split_of(f, path) for f in path.rglob("*.parquet")}:
                split = "image"
            for r in read_table(path, split, self.expected):
                sub = r.get("subcategory") or r.get("l2-category")
                images = image_refs(r.get("image"), path if path.is_dir() else path.parent)
                if str(r.get("visual_input", "1")).strip() == "0" or not images:
                    dropped += 1
                    continue
                parts = (r["category"], sub, r.get("visual_input", ""), r["set_id"], r["figure_id"], r["question_id"])
                vid = "_".join(str(x) for x in parts)
                docs.append(
                    {
                        "id": r.get("index", vid),
                        "question": r["question"],
                        "answer": yes_no_label(r.get("gt_answer", r.get("answer"))),
                        "category": r["category"],
                        "l2-category": sub,
                        "set_id": str(r["set_id"]),
                        "figure_id": str(r["figure_id"]),
                        "question_id": str(r["question_id"]),
                        "images": images,
                    }
                )
        self.dropped_no_image = dropped
        return docs

    @staticmethod
    def _rates(docs, rows) -> dict:
        def group_all(keys):
            groups = defaultdict(list)
            for d, r in zip(docs, rows):
                groups[tuple(d[k] for k in keys)].append(r["score"] == 1.0)
            return pct(mean(all(v) for v in groups.values()))

        a = pct(mean(r["score"] for r in rows))
        f = group_all(("l2-category", "set_id", "figure_id"))
        q = group_all(("l2-category", "set_id", "question_id"))
        return {"aAcc": a, "fAcc": f, "qAcc": q, "overall": round((a + f + q) / 3, 4)}

    def aggregate(self, docs, rows) -> dict:
        out = self._rates(docs, rows)
        out["dropped_no_image"] = self.dropped_no_image
        for key in ("category", "l2-category"):
            vals = sorted({d[key] for d in docs if d.get(key) is not None})
            if vals:
                out[f"by_{key.replace('-', '_')}"] = {
                    v: self._rates(*zip(*[(d, r) for d, r in zip(docs, rows) if d.get(key) == v])) for v in vals
                }
        return out


class HRBench8K(MultipleChoiceTask):
    """HRBench-8K (multiple choice). Extraction: option letter rule.

    Every question is asked once per option cycle (``cycle_category``: the options rotated).
    Metrics (VLMEvalKit ``report_acc_hrbench``): per cycle, the accuracy on FSP
    (``category == "single"``, fine-grained single-instance perception), on FCP (``"cross"``,
    cross-instance) and on all questions; each then averaged over the cycles:
    ``FSP``, ``FCP`` and ``overall`` (the paper's "HRB8K"). Without a ``cycle_category``
    column the file is one cycle.
    """

    name = "hrbench8k"
    group = "perception"
    data_names = ("HRBench8K.tsv", "HRBench_8K.tsv", "hr_bench_8k.tsv", "HR-Bench/hr_bench_8k.tsv")
    expected = "VLMEvalKit HRBench8K.tsv (index, image, question, A-D, answer, category single/cross, cycle_category)"
    headline = "overall"

    def read(self, path: Path) -> list[dict]:
        return mcq_docs(read_vlmeval_tsv(path))

    def aggregate(self, docs, rows) -> dict:
        cycles: dict[str, list] = defaultdict(list)
        for d, r in zip(docs, rows):
            cycles[str(d.get("cycle_category") or "cycle0")].append((d, r))
        names = {"single": "FSP", "cross": "FCP"}
        by_cycle = {}
        for c, pairs in sorted(cycles.items()):
            res = {"all": mean(r["score"] for _, r in pairs)}
            for cat in sorted({str(d.get("category")) for d, _ in pairs}):
                res[names.get(cat, cat)] = mean(r["score"] for d, r in pairs if str(d.get("category")) == cat)
            by_cycle[c] = res
        keys = sorted({k for v in by_cycle.values() for k in v})
        avg = {k: pct(mean(v[k] for v in by_cycle.values() if k in v)) for k in keys}
        return {
            "FSP": avg.get("FSP"),
            "FCP": avg.get("FCP"),
            "overall": avg["all"],
            "average_over_cycles": avg,
            "by_cycle": {c: {k: pct(v) for k, v in res.items()} for c, res in by_cycle.items()},
        }


def _binary_prf(pairs) -> dict:
    """Accuracy and precision/recall/F1 of the positive class "yes" (an unparsed answer counts
    as a "no" prediction for precision/recall, as in VLMEvalKit, and as wrong for accuracy)."""
    tp = sum(1 for d, r in pairs if d["answer"] == "yes" and r["pred"] == "yes")
    fp = sum(1 for d, r in pairs if d["answer"] == "no" and r["pred"] == "yes")
    fn = sum(1 for d, r in pairs if d["answer"] == "yes" and r["pred"] != "yes")
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    yes = sum(1 for _, r in pairs if r["pred"] == "yes")
    return {
        "accuracy": pct(mean(r["score"] for _, r in pairs)),
        "precision": pct(p),
        "recall": pct(rc),
        "f1": pct(f1),
        "yes_ratio": pct(yes / len(pairs)) if pairs else 0.0,
        "n": len(pairs),
    }


class POPE(YesNoTask):
    """POPE (yes/no). Extraction: yes/no rule.

    Metrics (VLMEvalKit ``POPE_rating``): accuracy, precision, recall and F1 of "yes", per
    split (adversarial, popular, random; a question listed under several splits, e.g.
    ``category="adversarial,popular"``, counts in each) and over all split memberships
    (``f1`` there is VLMEvalKit's "Overall", the paper's "POPE" column); plus the mean
    accuracy and F1 over the splits.
    """

    name = "pope"
    group = "perception"
    data_names = ("POPE.tsv", "POPE")
    expected = (
        "VLMEvalKit POPE.tsv (index, image, question, answer Yes/No, category adversarial/popular/random) or "
        "lmms-lab/POPE parquet (question, answer, category, image)"
    )
    headline = "f1"

    def read(self, path: Path) -> list[dict]:
        rows = read_vlmeval_tsv(path) if path.suffix == ".tsv" else read_table(path, None, self.expected)
        docs = []
        for i, r in enumerate(rows):
            if r.get("index") is not None:
                rid = r["index"]
            elif r.get("id") is not None:
                rid = r["id"]
            else:  # question ids repeat across the three splits
                rid = f"{r.get('category', '')}_{r.get('question_id', i)}"
            docs.append(
                {
                    "id": rid,
                    "question": r["question"],
                    "answer": yes_no_label(r["answer"]),
                    "splits": [s.strip() for s in str(r.get("category") or "all").split(",") if s.strip()],
                    "images": r["images"] if "images" in r else image_refs(r.get("image"), path),
                }
            )
        return docs

    def aggregate(self, docs, rows) -> dict:
        pairs = [(d, r) for d, r in zip(docs, rows) for _ in d["splits"]]
        out = _binary_prf(pairs)
        splits = sorted({s for d in docs for s in d["splits"]})
        out["by_split"] = {s: _binary_prf([(d, r) for d, r in zip(docs, rows) if s in d["splits"]]) for s in splits}
        out["mean_split_accuracy"] = round(mean(v["accuracy"] for v in out["by_split"].values()), 4)
        out["mean_split_f1"] = round(mean(v["f1"] for v in out["by_split"].values()), 4)
        return out


_OPTION_LINE_RE = re.compile(r"^\s*\(([A-Z])\)\s*(.*)$")


def parse_question_options(text: str) -> tuple[str, dict[str, str]]:
    """Question text and options of a question that lists them as ``(A) text`` lines (V*,
    LLaVA-style question files); instruction lines after the options are dropped."""
    question, options = [], {}
    for line in str(text).splitlines():
        m = _OPTION_LINE_RE.match(line)
        if m:
            options[m.group(1)] = m.group(2).strip()
        elif not options:
            question.append(line)
    return "\n".join(question).strip(), options


class VStar(MultipleChoiceTask):
    """V* Bench (multiple choice, high-resolution visual search). Extraction: option letter rule.

    Metrics (V*/SEAL evaluation): accuracy on ``direct_attributes`` (``attribute``), on
    ``relative_position`` (``spatial``) and over all questions (``overall``, the paper's "V*"
    column, i.e. weighted by the category sizes 115/76).
    """

    name = "vstar"
    group = "perception"
    data_names = ("VStarBench.tsv", "vstar_bench", "VStar", "vstar")
    expected = (
        "VLMEvalKit VStarBench.tsv (MCQ with category), or the V* folder (test_questions.jsonl: image, text "
        "with '(A) ...' option lines, category, question_id, label; images beside it), or a parquet with "
        "the same columns"
    )
    headline = "overall"

    def read(self, path: Path) -> list[dict]:
        if path.suffix == ".tsv":
            return mcq_docs(read_vlmeval_tsv(path))
        if path.is_dir() and (path / "test_questions.jsonl").exists():
            rows, root = read_table(path / "test_questions.jsonl"), path
        else:
            rows, root = read_table(path, None, self.expected), (path if path.is_dir() else path.parent)
        docs = []
        for i, r in enumerate(rows):
            question, options = parse_question_options(r.get("text", r.get("question", "")))
            label = str(r.get("label", r.get("answer"))).strip().strip("()")
            if label not in options:
                raise BenchmarkDataError(
                    f"V* item {r.get('question_id', i)}: label {label!r} not among {list(options)}"
                )
            docs.append(
                {
                    "id": r.get("question_id", i),
                    "question": question,
                    "options": options,
                    "answer": label,
                    "category": r.get("category"),
                    "images": image_refs(r.get("image"), root),
                }
            )
        return docs

    def aggregate(self, docs, rows) -> dict:
        by = grouped_accuracy(docs, rows, "category")
        return {
            "attribute": by.get("direct_attributes"),
            "spatial": by.get("relative_position"),
            "overall": pct(mean(r["score"] for r in rows)),
            "by_category": by,
        }


class VSR(YesNoTask):
    """VSR zero-shot split (true/false statements about spatial relations). Prompt: ``Is the
    following statement about the image true? "<caption>" Please answer yes or no.`` (ours;
    a VLMEvalKit-style TSV with its own ``question`` is used as is). Extraction: yes/no rule.

    Metric: ``accuracy`` (the paper's "VSR" column); precision, recall and F1 of "true" as in
    VLMEvalKit's ``VSR_rating``.
    """

    name = "vsr"
    group = "perception"
    data_names = (
        "VSR-zeroshot.tsv",
        "vsr_zeroshot_dataset_yn_strict.tsv",
        "VSR_zeroshot.tsv",
        "VSR.tsv",
        "vsr_zeroshot",
        "VSR",
        "visual-spatial-reasoning/data/splits/zeroshot",
        "zeroshot",
    )
    expected = (
        "VLMEvalKit VSR-zeroshot.tsv (index, image, question, answer Yes/No) or cambridgeltl/vsr_zeroshot "
        "(parquet/JSONL: image, caption, label 0/1; image files under images/ when not embedded)"
    )
    headline = "accuracy"
    split = "test"

    def read(self, path: Path) -> list[dict]:
        if path.suffix == ".tsv":
            return [
                {
                    "id": r["index"],
                    "question": r["question"],
                    "answer": yes_no_label(r["answer"]),
                    "images": r["images"],
                }
                for r in read_vlmeval_tsv(path)
            ]
        rows = read_table(path, self.split if path.is_dir() and any(path.rglob("*.parquet")) else None, self.expected)
        root = path if path.is_dir() else path.parent
        if (root / "images").is_dir():
            root = root / "images"
        docs = []
        for i, r in enumerate(rows):
            q = f'Is the following statement about the image true? "{r["caption"]}"'
            docs.append(
                {
                    "id": r.get("index", r.get("id", i)),
                    "question": q,
                    "answer": yes_no_label(r["label"]),
                    "relation": r.get("relation"),
                    "images": image_refs(r.get("image"), root),
                }
            )
        return docs

    def aggregate(self, docs, rows) -> dict:
        out = _binary_prf(list(zip(docs, rows)))
        if any(d.get("relation") for d in docs):
            out["by_relation"] = grouped_accuracy(docs, rows, "relation")
        return out


class CVBench(MultipleChoiceTask):
    """CV-Bench (multiple choice; 2D: ADE20K and COCO, 3D: Omni3D). Extraction: option
    letter rule.

    Metrics (the CV-Bench/Cambrian definition): accuracy per ``source``; ``2d`` = mean of
    ADE20K and COCO accuracy, ``3d`` = Omni3D accuracy, ``overall`` = (2d + 3d) / 2 (the paper's
    "CV-Bench" column); accuracy per ``task`` (Count, Relation, Depth, Distance) for reference.

    VLMEvalKit's TSVs (``CV-Bench-2D.tsv`` and ``CV-Bench-3D.tsv``, MCQ rows; either one
    finds the other beside it) report plain accuracy per file; with a ``source`` column the
    official formula above applies, without one ``2d`` and ``3d`` are the accuracies on each
    file and ``overall`` their mean (``formula`` in the metrics says which).

    ``subset`` ``"2D"`` or ``"3D"`` (VLMEvalKit's dataset names ``CV-Bench-2D`` and
    ``CV-Bench-3D``) scores that half alone, as VLMEvalKit does: its own TSV (never the other
    beside it), or the hub folder's ``test_2d``/``test_3d`` split (rows of that ``type`` in a
    combined ``test``); the headline is then ``accuracy`` over its items.
    """

    name = "cvbench"
    group = "perception"
    data_names = ("CV-Bench", "CVBench", "cv_bench", "CV-Bench-2D.tsv", "CV-Bench-3D.tsv")
    expected = (
        "nyu-visionx/CV-Bench parquet (idx, type, task, image, question, choices, answer '(A)', source); "
        "test_2d + test_3d, or test; or VLMEvalKit CV-Bench-2D.tsv / CV-Bench-3D.tsv (index, image, "
        "question, A-F, answer, category; optional source)"
    )
    headline = "overall"
    subset: str | None = None
    """``"2D"`` or ``"3D"``: that half alone (VLMEvalKit's ``CV-Bench-2D`` / ``CV-Bench-3D``)."""

    def _read_tsvs(self, path: Path) -> list[dict]:
        files = [path]
        if self.subset:
            other = {"2D": "3D", "3D": "2D"}[self.subset]
            if f"-{other}" in path.name.upper():
                raise BenchmarkDataError(
                    f"{self.name}: {path} is CV-Bench's {other} file; CV-Bench-{self.subset} "
                    f"reads CV-Bench-{self.subset}.tsv"
                )
        for a, b in (("2D", "3D"), ("3D", "2D")):
            other = path.with_name(path.name.replace(f"-{a}", f"-{b}"))
            if f"-{a}" in path.name and other.exists() and not self.subset:
                files.append(other)
        docs = []
        for f in sorted(files):
            kind = "3D" if "3D" in f.name.upper() else "2D"
            for d in mcq_docs(read_vlmeval_tsv(f)):
                d["id"] = f"{kind}/{d['id']}" if len(files) > 1 else d["id"]
                d["type"], d["task"] = kind, d.get("category")
                docs.append(d)
        return docs

    def read(self, path: Path) -> list[dict]:
        if path.suffix == ".tsv":
            return self._read_tsvs(path)
        if path.is_dir():  # the hub repo has test_2d/test_3d shards (and may also hold a combined test)
            splits = {split_of(f, path) for f in path.rglob("*.parquet")}
            own = f"test_{self.subset.lower()}" if self.subset else None
            if own in splits:
                rows = read_table(path, own, self.expected)
            elif {"test_2d", "test_3d"} <= splits:
                rows = read_table(path, "test_2d", self.expected) + read_table(path, "test_3d", self.expected)
            else:
                rows = read_table(path, "test" if "test" in splits else None, self.expected)
        else:
            rows = read_table(path, None, self.expected)
        if self.subset:
            rows = [r for r in rows if str(r.get("type") or self.subset).upper() == self.subset]
            if not rows:
                raise BenchmarkDataError(f"{self.name}: no {self.subset} rows in {path} (column type)")
        docs = []
        for r in rows:
            choices = list(r["choices"])
            options = {_LETTERS[i]: str(c) for i, c in enumerate(choices)}
            ans = str(r["answer"]).strip().strip("()")
            if ans not in options:
                raise BenchmarkDataError(f"CV-Bench idx {r.get('idx')}: answer {r['answer']!r} not among the choices")
            docs.append(
                {
                    "id": r.get("idx", r.get("index")),
                    "question": r["question"],
                    "options": options,
                    "answer": ans,
                    "source": r.get("source"),
                    "task": r.get("task"),
                    "type": r.get("type"),
                    "images": image_refs(r.get("image"), path if path.is_dir() else path.parent),
                }
            )
        return docs

    def aggregate(self, docs, rows) -> dict:
        by_source = grouped_accuracy(docs, rows, "source")
        ade, coco, omni = by_source.get("ADE20K"), by_source.get("COCO"), by_source.get("Omni3D")
        formula = "official: ((ADE20K + COCO) / 2 + Omni3D) / 2"
        two_d = round((ade + coco) / 2, 4) if ade is not None and coco is not None else None
        if not by_source:  # VLMEvalKit TSVs without a source column: accuracy per file
            by_type = grouped_accuracy(docs, rows, "type")
            two_d, omni = by_type.get("2D"), by_type.get("3D")
            formula = "no source column: (2D accuracy + 3D accuracy) / 2"
        overall = round((two_d + omni) / 2, 4) if two_d is not None and omni is not None else None
        return {
            "overall": overall,
            "2d": two_d,
            "3d": omni,
            "formula": formula,
            "by_source": by_source,
            "by_task": grouped_accuracy(docs, rows, "task"),
            "accuracy": pct(mean(r["score"] for r in rows)),
        }


_MMVP_OPT_RE = re.compile(r"\(([a-zA-Z])\)\s*(.*?)\s*(?=\([a-zA-Z]\)|$)", re.S)


class MMVP(MultipleChoiceTask):
    """MMVP (150 image pairs, one question per image, two options). Extraction: option letter
    rule (the original ``(a)``/``(b)`` options are upper-cased to ``A``/``B``).

    Metrics (MMVP paper; VLMEvalKit ``report_acc_MMVP``): ``pair_accuracy``, the fraction of
    pairs (questions ``2k-1`` and ``2k`` by 1-based index) with *both* questions right: the
    paper's "MMVP" column; and ``question_accuracy`` over single questions. ``--limit`` keeps
    whole pairs.
    """

    name = "mmvp"
    group = "perception"
    data_names = ("MMVP.tsv", "MMVP")
    expected = (
        "VLMEvalKit MMVP.tsv (index 1..300, image, question, A, B, answer), or the MMVP folder "
        "(Questions.csv: Index, Question, Options '(a) .. (b) ..', Correct Answer; 'MMVP Images/<Index>.jpg')"
    )
    headline = "pair_accuracy"

    def read(self, path: Path) -> list[dict]:
        if path.suffix == ".tsv":
            docs = mcq_docs(read_vlmeval_tsv(path))
        else:
            csv_path = path / "Questions.csv" if path.is_dir() else path
            if not csv_path.exists():
                raise BenchmarkDataError(f"MMVP: {csv_path} not found ({self.expected})")
            img_dir = csv_path.parent / "MMVP Images"
            docs = []
            for r in read_table(csv_path):
                options = {k.upper(): v.strip() for k, v in _MMVP_OPT_RE.findall(str(r["Options"]))}
                ans = str(r["Correct Answer"]).strip().strip("()").upper()
                docs.append(
                    {
                        "id": str(r["Index"]),
                        "question": r["Question"],
                        "options": options,
                        "answer": ans,
                        "images": image_refs(f"{r['Index']}.jpg", img_dir),
                    }
                )
        for d in docs:
            d["pair"] = (int(float(d["id"])) - 1) // 2
        return docs

    def limit_docs(self, docs, limit):
        pairs = []
        for d in docs:
            if d["pair"] not in pairs:
                pairs.append(d["pair"])
        keep = set(pairs[: max(1, (limit + 1) // 2)])
        return [d for d in docs if d["pair"] in keep]

    def aggregate(self, docs, rows) -> dict:
        pairs = defaultdict(list)
        for d, r in zip(docs, rows):
            pairs[d["pair"]].append(r["score"] == 1.0)
        return {
            "pair_accuracy": pct(mean(all(v) for v in pairs.values())),
            "question_accuracy": pct(mean(r["score"] for r in rows)),
            "pairs": len(pairs),
        }


TASKS = [HallusionBench(), HRBench8K(), POPE(), VStar(), VSR(), CVBench(), MMVP()]
