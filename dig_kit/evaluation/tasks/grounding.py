"""Referring expression grounding (the paper's Table 3): RefCOCO, RefCOCO+ (val/testA/testB)
and RefCOCOg (val/test), Acc@0.5."""

from __future__ import annotations

from pathlib import Path

from dig_kit.rewards import iou_matrix, parse_boxes

from ..formats import BenchmarkDataError, image_refs, read_table
from .base import Task, mean, pct

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50, 0.55, ..., 0.95


def xywh_to_xyxy(b) -> list[float]:
    x, y, w, h = (float(v) for v in b)
    return [x, y, x + w, y + h]


class RefCOCOTask(Task):
    """Referring expression comprehension: one box for one expression.

    Prompt (Qwen3-VL grounding style): ``Locate the object described as "<expression>" in
    the image and output its bbox coordinates in JSON format.`` Extraction: the boxes are
    parsed from the output directly with the reward parser
    (:func:`dig_kit.rewards.parse_boxes`: JSON list, ``{"bbox_2d": ...}`` objects, bare
    boxes; after ``</think>``), in the model's coordinate convention (``coord_format``:
    ``rel1000`` for Qwen3-VL, i.e. 0-1000 relative to the image; ``abs`` for pixel models);
    the first valid box is the prediction.

    Metrics: ``acc@0.5`` = fraction of expressions whose predicted box has IoU >= 0.5 with
    the ground truth (the paper's "@50" columns); ``acc_avg`` = mean of Acc@IoU over the
    thresholds 0.50:0.05:0.95 (our reading of the slides' "RefCOCO avg" columns, which the
    paper does not define); ``miou``; ``no_box`` = outputs without a valid box (wrong).

    Data: lmms-lab's RefCOCO/RefCOCO+/RefCOCOg parquet (``question_id``, ``image``,
    ``answer`` = the expression(s), ``bbox`` = COCO ``[x, y, w, h]`` pixels; one item per
    expression when ``answer`` lists several), or JSON Lines in the InternVL/Qwen evaluation
    layout (``image`` path, ``sent``, ``bbox`` = ``[x1, y1, x2, y2]`` pixels, ``width``,
    ``height``).
    """

    group = "grounding"
    headline = "acc@0.5"
    coord_format = "rel1000"

    def __init__(self, dataset: str, split: str, folders: tuple[str, ...]):
        self.dataset, self.split = dataset, split
        self.name = f"{dataset}_{split}".lower()
        self.data_names = tuple(folders) + tuple(f"{f.lower()}_{split}.jsonl" for f in folders)
        self.expected = (f"lmms-lab/{folders[0]} parquet folder with split {split!r} (question_id, image, answer, "
                         f"bbox [x,y,w,h]) or {folders[0].lower()}_{split}.jsonl (image, sent, bbox [x1,y1,x2,y2], "
                         "width, height)")

    def read(self, path: Path) -> list[dict]:
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

    def extract(self, answer, raw, doc):
        boxes = parse_boxes(answer, self.image_size(doc), self.coord_format)
        return boxes[0] if boxes else None

    def judge(self, pred, doc):
        if pred is None:
            return {"score": 0.0, "iou": 0.0}
        iou = float(iou_matrix([pred], [doc["bbox"]])[0, 0])
        return {"score": float(iou >= 0.5), "iou": iou}

    def aggregate(self, docs, rows):
        ious = [r.get("iou", 0.0) for r in rows]
        by_t = {f"{t:.2f}": pct(mean(float(i >= t) for i in ious)) for t in IOU_THRESHOLDS}
        return {"acc@0.5": by_t["0.50"], "acc_avg": round(mean(by_t.values()), 4), "miou": pct(mean(ious)),
                "acc_by_iou": by_t, "no_box": sum(1 for r in rows if r["pred"] is None)}


_SPLITS = {
    ("RefCOCO", ("RefCOCO", "refcoco")): ("val", "testA", "testB"),
    ("RefCOCO+", ("RefCOCOplus", "RefCOCO+", "refcoco+", "refcocoplus")): ("val", "testA", "testB"),
    ("RefCOCOg", ("RefCOCOg", "refcocog")): ("val", "test"),
}

TASKS = [RefCOCOTask(ds, split, folders) for (ds, folders), splits in _SPLITS.items() for split in splits]
