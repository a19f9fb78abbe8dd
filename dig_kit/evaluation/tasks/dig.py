"""The DiG held-out split (the ``eval`` subset rendered by ``dig-kit render``) and TWIN's
FGVQA benchmark."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from dig_kit.rewards import dig_reward, hungarian, iou_matrix, parse_boxes, parse_twin_answer
from dig_kit.rewards.twin import normalize_label

from ..formats import BenchmarkDataError, image_refs, read_table
from .base import Task, mean, parsed_or_not, pct


def _prf(tp: int, n_pred: int, n_gt: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gt if n_gt else 0.0
    f1 = 2 * tp / (n_pred + n_gt) if tp else 0.0
    return {"precision": pct(p), "recall": pct(r), "f1": pct(f1)}


class DigHeldOut(Task):
    """Differential grounding on the held-out pairs: find all differences, box them on the
    before image.

    Prompt: the supplement's DiG prompt (:func:`dig_kit.prompts.dig_prompt`) without the
    count (stage-3 style: the model is not told how many differences there are); images:
    before, after. Extraction: the reward parser (:func:`dig_kit.rewards.parse_boxes`) on the
    output, coordinates ``abs`` (absolute pixels, as the prompt asks; ``--coord-format
    rel1000`` for a model that answers on Qwen3-VL's native grid).

    Metrics at IoU >= 0.5 after Hungarian matching (the reward's components,
    :func:`dig_kit.rewards.dig_reward`): ``precision`` = sum TP / sum predicted boxes,
    ``recall`` = sum TP / sum ground-truth boxes, ``f1`` = their harmonic mean (micro, over all
    pairs; the headline), ``miou`` = mean over pairs of the mean IoU of the matched boxes (the
    reward's ``miou``; 0 for a pair without a valid box), ``mean_f1`` = mean over pairs of the
    per-pair F1 (the reward's ``f1``), ``format`` = share of outputs with a valid box list.
    ``by_num_differences``: the same per number of differences M. ``by_change_type``: recall
    of the ground-truth boxes of each change type (shape, color, size, material, add,
    remove); precision has no change type (a predicted box is not typed).
    """

    name = "dig_eval"
    group = "dig"
    data_names = ("dig",)
    expected = "a dataset directory rendered by `dig-kit render` with an 'eval' split (eval/*/metadata.jsonl + images)"
    headline = "f1"
    split = "eval"
    coord_format = "abs"
    max_images = 2

    def read(self, path: Path) -> list[dict]:
        metas = sorted((path / self.split).glob("*/metadata.jsonl")) if path.is_dir() else []
        rows = []
        if metas:
            from dig_kit.data.reader import read_rows

            for m in metas:
                for r in read_rows(m):
                    r["images"] = image_refs([r["before_file_name"], r["after_file_name"]], m.parent)
                    rows.append(r)
        elif path.is_dir():
            import datasets

            ds = datasets.load_dataset(str(path), cache_dir=str(path / ".hf_cache"))
            if self.split not in ds:
                raise BenchmarkDataError(f"{path}: no {self.split!r} split (has {list(ds)}); {self.expected}")
            for r in ds[self.split].with_format("arrow")[:].to_pylist():
                r["images"] = image_refs([r["before"], r["after"]], path)
                rows.append(r)
        else:
            raise BenchmarkDataError(f"{path}: {self.expected}")
        rows.sort(key=lambda r: r["id"])
        return [
            {
                "id": r["id"],
                "boxes": [list(map(float, b)) for b in r["boxes"]],
                "change_types": list(r["change_types"]),
                "num_differences": int(r["num_differences"]),
                "width": int(r["width"]),
                "height": int(r["height"]),
                "images": r["images"],
                **self.extra(r),
            }
            for r in rows
        ]

    def extra(self, row: dict) -> dict:
        """Fields of a rendered row a subclass keeps in its docs (none here)."""
        return {}

    def prompt(self, doc):
        from dig_kit.prompts import dig_prompt

        return dig_prompt(None)

    def extract_why(self, answer, raw, doc):
        return parsed_or_not(parse_boxes(answer, (doc["width"], doc["height"]), self.coord_format))

    def score_item(self, pred, doc):
        gt = doc["boxes"]
        pred = pred or []
        parts = dig_reward(_as_text(pred), gt_boxes=gt, image_size=(doc["width"], doc["height"]), coord_format="abs")
        hit = [False] * len(gt)
        if pred and gt:
            iou = iou_matrix(pred, gt)
            rows, cols = hungarian(iou)
            for i, j in zip(rows, cols):
                if iou[i, j] >= 0.5:
                    hit[j] = True
        return {
            "score": float(parts["f1"]),
            "tp": int(parts["tp"]),
            "n_pred": int(parts["num_pred"]),
            "n_gt": len(gt),
            "miou": float(parts["miou"]),
            "format": float(parts["format"]),
            "gt_hit": hit,
        }

    def aggregate(self, docs, rows):
        def summary(pairs):
            tp = sum(r["tp"] for _, r in pairs)
            out = _prf(tp, sum(r["n_pred"] for _, r in pairs), sum(r["n_gt"] for _, r in pairs))
            out.update(
                {
                    "miou": pct(mean(r["miou"] for _, r in pairs)),
                    "mean_f1": pct(mean(r["score"] for _, r in pairs)),
                    "format": pct(mean(r["format"] for _, r in pairs)),
                    "n": len(pairs),
                }
            )
            return out

        pairs = list(zip(docs, rows))
        out = summary(pairs)
        by_m = defaultdict(list)
        for d, r in pairs:
            by_m[d["num_differences"]].append((d, r))
        out["by_num_differences"] = {str(m): summary(v) for m, v in sorted(by_m.items())}
        types: dict[str, list[bool]] = defaultdict(list)
        for d, r in pairs:
            for t, h in zip(d["change_types"], r["gt_hit"]):
                types[t].append(h)
        out["by_change_type"] = {t: {"recall": pct(mean(v)), "n_boxes": len(v)} for t, v in sorted(types.items())}
        return out


class DigGrounding(DigHeldOut):
    """Single-image grounding on the held-out pairs' before images: box every object
    (:data:`dig_kit.prompts.GROUNDING_PROMPT`; ground truth = ``objects_before``' full boxes).
    What a pretrained Qwen3-VL can do before DiG, and what the ``mini`` profile's warm start
    teaches first; the same metrics as ``dig_eval``, with M = the number of objects."""

    name = "dig_grounding"
    data_names = ("dig",)
    max_images = 1

    def extra(self, row: dict) -> dict:
        return {"objects_before": row.get("objects_before") or []}

    def read(self, path: Path) -> list[dict]:
        docs = []
        for doc in super().read(path):
            objects = doc.pop("objects_before")
            docs.append(
                {
                    **doc,
                    "images": doc["images"][:1],
                    "boxes": [list(map(float, o["bbox_full"])) for o in objects],
                    "change_types": ["object"] * len(objects),
                    "num_differences": len(objects),
                }
            )
        return docs

    def prompt(self, doc):
        from dig_kit.prompts import GROUNDING_PROMPT

        return GROUNDING_PROMPT


def _as_text(boxes) -> str:
    """Boxes (already in pixels) as the JSON list the reward parses."""
    return "[" + ", ".join("[" + ", ".join(repr(float(v)) for v in b) + "]" for b in boxes) + "]"


class FGVQA(Task):
    """TWIN's FGVQA (the TWIN paper): ``pair`` questions (are these two images the same object
    instance? yes/no) and ``multi`` questions (one reference and three candidates: how many
    show the same instance? 0-3), from six sources (TWIN-Eval, ILIAS, INQUIRE, CUB,
    LANDMARKS, MET).

    Prompt: the item's ``question`` when given, else the TWIN templates of
    :mod:`dig_kit.prompts`. Extraction: :func:`dig_kit.rewards.parse_twin_answer` (the first
    verdict inside ``<answer>`` tags, else the last one in the final answer).

    Metrics: per source, ``pair`` accuracy, ``multi`` (count) accuracy and ``total``
    accuracy over both (the TWIN summary's "Total Accuracy"); ``mean_total`` = mean of the
    per-source totals; and the same three over all items.

    Data (the release format is not public yet; ours): JSON Lines / parquet / a HF folder
    with ``id``, ``images`` (2 or 4 image paths or images), ``answer`` (yes/no or 0-3),
    ``type`` (pair/multi; inferred from the answer when absent), ``source``, optional
    ``question``.
    """

    name = "fgvqa"
    group = "twin"
    data_names = ("fgvqa.jsonl", "FGVQA", "fgvqa")
    expected = "FGVQA JSONL/parquet (id, images, answer yes/no or 0-3, type pair/multi, source, optional question)"
    headline = "total"
    max_images = 4

    def read(self, path):
        rows = read_table(path, None, self.expected)
        root = path if path.is_dir() else path.parent
        docs = []
        for i, r in enumerate(rows):
            kind, label = normalize_label(r["answer"], r.get("type") or "auto")
            docs.append(
                {
                    "id": r.get("id", i),
                    "type": kind,
                    "answer": label,
                    "source": r.get("source", "all"),
                    "question": r.get("question"),
                    "images": image_refs(r.get("images", r.get("image")), root),
                }
            )
        return docs

    def prompt(self, doc):
        from dig_kit.prompts import TWIN_MULTI_TEMPLATE, TWIN_PAIR_TEMPLATE

        if doc.get("question"):
            return str(doc["question"])
        return TWIN_PAIR_TEMPLATE if doc["type"] == "pair" else TWIN_MULTI_TEMPLATE

    def extract_why(self, answer, raw, doc):
        return parsed_or_not(parse_twin_answer(answer, doc["type"]))

    def score_item(self, pred, doc):
        return float(pred is not None and pred == doc["answer"])

    def aggregate(self, docs, rows):
        def summary(pairs):
            out = {"total": pct(mean(r["score"] for _, r in pairs)), "n": len(pairs)}
            for kind in ("pair", "multi"):
                sel = [r["score"] for d, r in pairs if d["type"] == kind]
                out[kind] = pct(mean(sel)) if sel else None
            return out

        pairs = list(zip(docs, rows))
        by_source = defaultdict(list)
        for d, r in pairs:
            by_source[str(d["source"])].append((d, r))
        out = summary(pairs)
        out["by_source"] = {s: summary(v) for s, v in sorted(by_source.items())}
        out["mean_total"] = round(mean(v["total"] for v in out["by_source"].values()), 4)
        return out


TASKS = [DigHeldOut(), DigGrounding(), FGVQA()]
