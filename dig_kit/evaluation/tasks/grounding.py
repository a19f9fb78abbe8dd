"""Referring expression grounding (the paper's Table 3): RefCOCO, RefCOCO+ (val/testA/testB)
and RefCOCOg (val/test), Acc@0.5."""

from __future__ import annotations

from pathlib import Path

import json
from collections import defaultdict

from ..boxes import BOX_SCALES, box_iou, extract_box, guess_scale, to_pixels
from ..formats import BenchmarkDataError, image_refs, read_table, read_vlmeval_tsv
from .base import Task, mean, pct

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50, 0.55, ..., 0.95


def xywh_to_xyxy(b) -> list[float]:
    x, y, w, h = (float(v) for v in b)
    return [x, y, x + w, y + h]


class RefCOCOTask(Task):
    """Referring expression comprehension: one box for one expression.

    Prompt (Qwen3-VL grounding style): ``Locate the object described as "<expression>" in
    the image and output its bbox coordinates in JSON format.`` Extraction:
    :func:`dig_kit.evaluation.boxes.extract_box` on the final answer (the first ``[n, n, n,
    n]``, else the first four numbers, as VLMEvalKit), in the model's coordinate convention
    (``coord_format``: ``rel1000`` for Qwen3-VL, the default; ``abs`` for pixel models; or
    ``box_scale="guess"``, VLMEvalKit's per-box guess, with its known failure); both are
    stated in the metrics.

    Metrics: ``acc@0.5`` = fraction of expressions whose predicted box has IoU >= 0.5 with
    the ground truth (the paper's "@50" columns); ``acc_avg`` = mean of Acc@IoU over the
    thresholds 0.50:0.05:0.95 (our reading of the slides' "RefCOCO avg" columns, which the
    paper does not define); ``miou``; ``no_box`` = outputs without a valid box (wrong).

    Data: lmms-lab's RefCOCO/RefCOCO+/RefCOCOg parquet (``question_id``, ``image``,
    ``answer`` = the expression(s), ``bbox`` = COCO ``[x, y, w, h]`` pixels; one item per
    expression when ``answer`` lists several), JSON Lines in the InternVL/Qwen evaluation
    layout (``image`` path, ``sent``, ``bbox`` = ``[x1, y1, x2, y2]`` pixels, ``width``,
    ``height``), or VLMEvalKit's TSV (``RefCOCO.tsv``...: ``index``, ``image``, ``question`` =
    the expression, ``answer`` = ``[x1, y1, x2, y2]`` pixels, ``width``, ``height``,
    ``category`` = the split; one file holds several splits: a per-split task keeps its own
    rows, the ``<dataset>_all`` task scores every split with their macro and micro averages).

    Protocols elsewhere: lmms-eval's ``refcoco_bbox_rec`` normalises boxes to 0-1 and reports
    IoU and ACC@0.1..0.9; Qwen's and InternVL's scripts count Acc@0.5 with pixel boxes from
    the model's 0-1000 output, as here.
    """

    group = "grounding"
    headline = "acc@0.5"
    coord_format = "rel1000"
    box_scale = "model"

    def __init__(self, dataset: str, split: str | None, folders: tuple[str, ...]):
        self.dataset, self.split = dataset, split
        self.name = f"{dataset}_{split or 'all'}".lower()
        tsvs = tuple(f"{f}.tsv" for f in folders if f[0].isupper())
        self.data_names = tuple(folders) + tuple(f"{f.lower()}_{split}.jsonl" for f in folders if split) + tsvs
        self.expected = (f"lmms-lab/{folders[0]} parquet folder with split {split or 'each split'!r} (question_id, "
                         f"image, answer, bbox [x,y,w,h]), {folders[0].lower()}_<split>.jsonl (image, sent, bbox "
                         f"[x1,y1,x2,y2], width, height) or VLMEvalKit {tsvs[0]} (index, image, question, answer "
                         "[x1,y1,x2,y2] pixels, width, height, category = split)")

    def _split_matches(self, category) -> bool:
        """Does a TSV row's ``category`` (``val``, ``testA``, ``refcoco+_val``...) belong here?"""
        if self.split is None:
            return True
        cat = str(category or "").strip().lower()
        ds, _, sp = cat.rpartition("_")
        if ds and ds.replace("plus", "+") != self.dataset.lower():
            return False
        return sp == self.split.lower()

    def _read_tsv(self, path: Path) -> list[dict]:
        docs = []
        rows = read_vlmeval_tsv(path)
        lacking = [c for c in ("question", "answer") if rows and c not in rows[0]]
        if lacking:
            raise BenchmarkDataError(f"{self.name}: {path} lacks {lacking}; expected columns index, image, question, "
                                     "answer ([x1, y1, x2, y2] pixels), width, height, category (the split)")
        for r in rows:
            if not self._split_matches(r.get("category")):
                continue
            box = json.loads(str(r["answer"])) if str(r["answer"]).strip().startswith("[") else None
            if not box or len(box) != 4:
                raise BenchmarkDataError(f"{self.name}: {path} row {r['index']}: answer {r['answer']!r} is not "
                                         "[x1, y1, x2, y2]")
            ref = r.get("question", r.get("expression"))
            docs.append({"id": r["index"], "ref": ref, "bbox": [float(v) for v in box],
                         "width": float(r["width"]) if r.get("width") else None,
                         "height": float(r["height"]) if r.get("height") else None,
                         "split": str(r.get("category") or "all"), "images": r["images"]})
        if not docs:
            raise BenchmarkDataError(f"{self.name}: no rows of split {self.split!r} in {path} (column category)")
        return docs

    def read(self, path: Path) -> list[dict]:
        if path.suffix == ".tsv":
            return self._read_tsv(path)
        if self.split is None:  # every split of the folder, each scored on its own
            docs = []
            for sp in _SPLITS_OF[self.dataset]:
                part = RefCOCOTask(self.dataset, sp, _FOLDERS[self.dataset])
                for d in part.read(path):
                    docs.append({**d, "id": f"{sp}/{d['id']}", "split": sp})
            return docs
        root = path if path.is_dir() else path.parent
        if path.suffix == ".jsonl" or (path.is_dir() and (path / f"{path.name.lower()}_{self.split}.jsonl").exists()):
            file = path if path.suffix == ".jsonl" else path / f"{path.name.lower()}_{self.split}.jsonl"
            docs = []
            for i, r in enumerate(read_table(file)):
                ref = r.get("sent", r.get("expression", r.get("ref")))
                docs.append({"id": r.get("id", i), "ref": ref, "bbox": [float(v) for v in r["bbox"]],
                             "width": r.get("width"), "height": r.get("height"),
                             "images": image_refs(r.get("image"), file.parent)})
            return docs
        rows = read_table(path, self.split, self.expected)
        docs = []
        for i, r in enumerate(rows):
            refs = r.get("answer", r.get("sentences", r.get("ref")))
            refs = [refs] if isinstance(refs, str) else list(refs or [])
            if not refs:
                raise BenchmarkDataError(f"{self.name}: row {i} has no referring expression")
            qid = r.get("question_id", r.get("id", i))
            for j, ref in enumerate(refs):
                docs.append({"id": qid if len(refs) == 1 else f"{qid}_{j}", "ref": str(ref),
                             "bbox": xywh_to_xyxy(r["bbox"]), "width": r.get("width"), "height": r.get("height"),
                             "images": image_refs(r.get("image"), root)})
        return docs

    def prompt(self, doc):
        return (f'Locate the object described as "{doc["ref"]}" in the image and output its bbox coordinates '
                "in JSON format.")

    def image_size(self, doc) -> tuple[float, float]:
        if doc.get("width") and doc.get("height"):
            return float(doc["width"]), float(doc["height"])
        w, h = doc["images"][0].size()
        doc["width"], doc["height"] = w, h
        return float(w), float(h)

    def extract_why(self, answer, raw, doc):
        box, rule = extract_box(answer)
        if box is None:
            return None, rule
        if self.box_scale not in BOX_SCALES:
            raise ValueError(f"unknown box_scale {self.box_scale!r}; known: {', '.join(BOX_SCALES)}")
        fmt = guess_scale(box) if self.box_scale == "guess" else self.coord_format
        w, h = self.image_size(doc)
        return to_pixels(box, w, h, fmt), rule

    def extract(self, answer, raw, doc):
        return self.extract_why(answer, raw, doc)[0]

    def judge(self, pred, doc):
        if pred is None:
            return {"score": 0.0, "iou": 0.0}
        iou = box_iou(pred, doc["bbox"])
        return {"score": float(iou >= 0.5), "iou": iou}

    @staticmethod
    def _accs(rows) -> dict:
        ious = [r.get("iou", 0.0) for r in rows]
        by_t = {f"{t:.2f}": pct(mean(float(i >= t) for i in ious)) for t in IOU_THRESHOLDS}
        return {"acc@0.5": by_t["0.50"], "acc_avg": round(mean(by_t.values()), 4), "miou": pct(mean(ious)),
                "acc_by_iou": by_t, "no_box": sum(1 for r in rows if r["pred"] is None), "n": len(rows)}

    def aggregate(self, docs, rows):
        out = self._accs(rows)
        out.pop("n")
        out["coord_format"] = "guess per box" if self.box_scale == "guess" else self.coord_format
        splits = sorted({d["split"] for d in docs if d.get("split")})
        if len(splits) > 1:
            by = defaultdict(list)
            for d, r in zip(docs, rows):
                by[d.get("split")].append(r)
            out["by_split"] = {sp: self._accs(by[sp]) for sp in splits}
            out["macro_acc@0.5"] = round(mean(v["acc@0.5"] for v in out["by_split"].values()), 4)
            out["micro_acc@0.5"] = out["acc@0.5"]
        return out


_SPLITS = {
    ("RefCOCO", ("RefCOCO", "refcoco")): ("val", "testA", "testB"),
    ("RefCOCO+", ("RefCOCOplus", "RefCOCO+", "refcoco+", "refcocoplus")): ("val", "testA", "testB"),
    ("RefCOCOg", ("RefCOCOg", "refcocog")): ("val", "test"),
}

_SPLITS_OF = {ds: splits for (ds, _), splits in _SPLITS.items()}
_FOLDERS = {ds: folders for (ds, folders) in _SPLITS}

TASKS = ([RefCOCOTask(ds, split, folders) for (ds, folders), splits in _SPLITS.items() for split in splits]
         + [RefCOCOTask(ds, None, folders) for (ds, folders) in _SPLITS])
