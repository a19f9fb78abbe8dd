"""Referring expression grounding (the paper's Table 3): RefCOCO, RefCOCO+ (val/testA/testB)
and RefCOCOg (val/test), Acc@0.5."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from ..boxes import BOX_SCALES, box_iou, extract_box, guess_scale, scale_box
from ..formats import BenchmarkDataError, image_refs, read_table, read_vlmeval_tsv
from .base import Task, mean, pct

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50, 0.55, ..., 0.95


VLMEVALKIT_TSV = "RefCOCO.tsv"
"""VLMEvalKit's RefCOCO file (dataset name ``RefCOCO``): every split of RefCOCO, RefCOCO+ and RefCOCOg."""
VLMEVALKIT_SPLITS = (
    "RefCOCO_val",
    "RefCOCO_testA",
    "RefCOCO_testB",
    "RefCOCO+_val",
    "RefCOCO+_testA",
    "RefCOCO+_testB",
    "RefCOCOg_val",
    "RefCOCOg_test",
)
"""VLMEvalKit's split labels (``RefCOCODataset.SPLIT_DISPLAY_ORDER``): its "Average" is their mean."""
_DATASET_SPELLINGS = {"refcoco": "RefCOCO", "refcoco+": "RefCOCO+", "refcocoplus": "RefCOCO+", "refcocog": "RefCOCOg"}
_SPLIT_SPELLINGS = {"val": "val", "test": "test", "testa": "testA", "testb": "testB"}
_BBOX_COLUMNS = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")
_SEP_RE = re.compile(r"[\s_\-]+")
_CELL_NUM_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_category(category) -> tuple[str | None, str | None]:
    """``(dataset, split)`` a RefCOCO TSV row's ``category`` names, spelled canonically:
    ``RefCOCO val`` (VLMEvalKit's), ``RefCOCO_val``, ``refcoco+_testA``, ``RefCOCOplus-testB``
    give ``("RefCOCO", "val")``, ``("RefCOCO+", "testA")``...; a split alone (``val``,
    ``testA``) gives ``(None, split)``; a dataset alone ``(dataset, None)``; anything else
    (or nothing) ``(None, None)``."""
    parts = [t for t in _SEP_RE.split(str(category or "").strip().lower()) if t]
    if not parts:
        return None, None
    if len(parts) == 1:
        if parts[0] in _SPLIT_SPELLINGS:
            return None, _SPLIT_SPELLINGS[parts[0]]
        return _DATASET_SPELLINGS.get(parts[0]), None
    dataset, split = _DATASET_SPELLINGS.get(parts[0]), _SPLIT_SPELLINGS.get("".join(parts[1:]))
    return (dataset, split) if dataset and split else (None, None)


def _id_split(dataset: str | None, split: str | None, category: str) -> str:
    """The split part of VLMEvalKit's item id ``<split>_<index>`` (``RefCOCO_val``; ``val`` for a
    category naming the split alone; the category itself when it names none)."""
    if split:
        return f"{dataset}_{split}" if dataset else split
    return "_".join(category.split()) or "RefCOCO"


def _box_cell(value) -> list[float] | None:
    """``[x1, y1, x2, y2]`` from a TSV cell (``[1, 2, 3, 4]`` or ``[1 2 3 4]``), else None."""
    text = str(value or "").strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    nums = _CELL_NUM_RE.findall(text)
    return [float(v) for v in nums] if len(nums) == 4 else None


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
    ``height``), or VLMEvalKit's TSV (``RefCOCO.tsv``: ``index``, ``image``, ``question`` =
    the expression, ``answer`` = ``[x1, y1, x2, y2]`` pixels, or 0-1 relative when every
    answer of the file is, or ``bbox_x1``..``bbox_y2`` columns; ``width``, ``height``;
    ``category`` = the split). One TSV may hold many splits of RefCOCO, RefCOCO+ and RefCOCOg:
    a ``category`` names its split as VLMEvalKit writes it (``RefCOCO val``), or as
    ``RefCOCO_val``, ``refcoco+_testA``, ``RefCOCOplus-testB``, or by the split alone
    (``val``: a split of the task's dataset); a file without categories is one split, the
    one the task names. A per-split task keeps its own rows, ``<dataset>_all`` every split of
    its dataset (per split, with macro and micro averages), and ``refcoco`` (VLMEvalKit's
    dataset name ``RefCOCO``, :class:`VLMEvalKitRefCOCO`) every row of the file. Item ids are
    the TSV's ``index``, or, in a file whose indexes repeat across its splits, VLMEvalKit's
    own ``<split>_<index>`` (``RefCOCO_val_0``), the same for every task reading the file.

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
        tsvs = tuple(dict.fromkeys([f"{f}.tsv" for f in folders if f[0].isupper()] + [VLMEVALKIT_TSV]))
        self.data_names = tuple(folders) + tuple(f"{f.lower()}_{split}.jsonl" for f in folders if split) + tsvs
        self.expected = (
            f"lmms-lab/{folders[0]} parquet folder with split {split or 'each split'!r} (question_id, "
            f"image, answer, bbox [x,y,w,h]), {folders[0].lower()}_<split>.jsonl (image, sent, bbox "
            f"[x1,y1,x2,y2], width, height) or VLMEvalKit {' / '.join(tsvs)} (index, image, question, "
            "answer [x1,y1,x2,y2] pixels, width, height, category = the split, e.g. "
            f"'{dataset} {split or 'val'}')"
        )

    def _keeps(self, dataset: str | None, split: str | None, category: str) -> bool:
        """Does a TSV row whose ``category`` names (``dataset``, ``split``) belong here?"""
        if not category:  # no category: the file is one split, the one this task names
            return True
        if dataset is not None and dataset != self.dataset:
            return False
        if split is None:  # the dataset alone: one unnamed split of it (only <dataset>_all keeps it)
            return dataset is not None and self.split is None
        return self.split is None or split == self.split

    def _label(self, dataset: str | None, split: str | None, category: str) -> str:
        """The split a kept row is reported under (``by_split``)."""
        return split or "all"

    def _read_tsv(self, path: Path) -> list[dict]:
        rows = read_vlmeval_tsv(path)
        cols = set(rows[0]) if rows else set()
        has_cols = set(_BBOX_COLUMNS) <= cols
        lacking = [c for c in ("question", "answer") if c not in cols and not (c == "answer" and has_cols)]
        if lacking:
            raise BenchmarkDataError(
                f"{self.name}: {path} lacks {lacking}; expected columns index, image, question, "
                "answer ([x1, y1, x2, y2] pixels), width, height, category (the split)"
            )
        boxes = {}
        for r in rows:
            if has_cols and all(r.get(c) not in (None, "") for c in _BBOX_COLUMNS):
                boxes[r["index"]] = ("columns", [float(r[c]) for c in _BBOX_COLUMNS])
            else:
                box = _box_cell(r.get("answer"))
                if box is None:
                    raise BenchmarkDataError(
                        f"{self.name}: {path} row {r['index']}: answer {r.get('answer')!r} is not [x1, y1, x2, y2]"
                    )
                boxes[r["index"]] = ("answer", box)
        answers = [b for how, b in boxes.values() if how == "answer"]
        relative = bool(answers) and max(abs(v) for b in answers for v in b) <= 1.5  # VLMEvalKit's rule, file-wide
        # indexes that repeat across the file's splits: every task reading it uses VLMEvalKit's ids
        split_ids = len({str(r["index"]) for r in rows}) < len(rows)
        docs, found = [], {}
        for r in rows:
            category = str(r.get("category") or "").strip()
            dataset, split = parse_category(category)
            found.setdefault(category, None)
            if not self._keeps(dataset, split, category):
                continue
            width = float(r["width"]) if r.get("width") else None
            height = float(r["height"]) if r.get("height") else None
            how, box = boxes[r["index"]]
            if how == "answer" and relative:
                if not (width and height):
                    raise BenchmarkDataError(
                        f"{self.name}: {path} row {r['index']}: the answers are 0-1 relative "
                        "boxes, so the row needs width and height"
                    )
                box = [box[0] * width, box[1] * height, box[2] * width, box[3] * height]
            docs.append(
                {
                    "id": f"{_id_split(dataset, split, category)}_{r['index']}" if split_ids else r["index"],
                    "ref": r.get("question", r.get("expression")),
                    "bbox": box,
                    "width": width,
                    "height": height,
                    "split": self._label(dataset, split, category),
                    "images": r["images"],
                }
            )
        if not docs:
            shown = ", ".join(repr(c) for c in list(found)[:8]) or "none"
            split = self.split or "val"
            raise BenchmarkDataError(
                f"{self.name}: no rows of {self.dataset} split {self.split or '(any)'!r} in {path}: "
                f"its column category holds {shown}; a category names a split as "
                f"'{self.dataset} {split}', '{self.dataset}_{split}' or '{split}'"
            )
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
                docs.append(
                    {
                        "id": r.get("id", i),
                        "ref": ref,
                        "bbox": [float(v) for v in r["bbox"]],
                        "width": r.get("width"),
                        "height": r.get("height"),
                        "images": image_refs(r.get("image"), file.parent),
                    }
                )
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
                docs.append(
                    {
                        "id": qid if len(refs) == 1 else f"{qid}_{j}",
                        "ref": str(ref),
                        "bbox": xywh_to_xyxy(r["bbox"]),
                        "width": r.get("width"),
                        "height": r.get("height"),
                        "images": image_refs(r.get("image"), root),
                    }
                )
        return docs

    def prompt(self, doc):
        return (
            f'Locate the object described as "{doc["ref"]}" in the image and output its bbox coordinates '
            "in JSON format."
        )

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
        return scale_box(box, w, h, fmt), rule

    def score_item(self, pred, doc):
        if pred is None:
            return {"score": 0.0, "iou": 0.0}
        iou = box_iou(pred, doc["bbox"])
        return {"score": float(iou >= 0.5), "iou": iou}

    @staticmethod
    def _accs(rows) -> dict:
        ious = [r.get("iou", 0.0) for r in rows]
        by_t = {f"{t:.2f}": pct(mean(float(i >= t) for i in ious)) for t in IOU_THRESHOLDS}
        return {
            "acc@0.5": by_t["0.50"],
            "acc_avg": round(mean(by_t.values()), 4),
            "miou": pct(mean(ious)),
            "acc_by_iou": by_t,
            "no_box": sum(1 for r in rows if r["pred"] is None),
            "n": len(rows),
        }

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

TASKS = [RefCOCOTask(ds, split, folders) for (ds, folders), splits in _SPLITS.items() for split in splits] + [
    RefCOCOTask(ds, None, folders) for (ds, folders) in _SPLITS
]


class VLMEvalKitRefCOCO(RefCOCOTask):
    """VLMEvalKit's dataset ``RefCOCO`` (task ``refcoco``): its ``RefCOCO.tsv`` holds the splits
    of RefCOCO, RefCOCO+ and RefCOCOg, each row's ``category`` naming one (``RefCOCO val``,
    ``RefCOCO+ testA``...). Every row of the file is scored, as VLMEvalKit's
    ``RefCOCODataset.evaluate`` does: Acc@0.5 (its ``Precision@1``) per split, labelled as
    VLMEvalKit labels them (``RefCOCO_val`` ... ``RefCOCOg_test``; a category naming the split
    alone counts as RefCOCO's, one naming none is its own group), in ``by_split``; the headline
    ``average`` is VLMEvalKit's "Average" row: the mean over the splits among its eight
    (:data:`VLMEVALKIT_SPLITS`), or over every item when the file has none of them.
    ``acc@0.5`` (micro) and ``macro_acc@0.5`` (over every split present) are reported too.
    On a lmms-lab folder or JSON Lines files it scores every split of RefCOCO, as
    ``refcoco_all``. Boxes are read as by the other grounding tasks (the model's convention,
    stated in the metrics), which gives VLMEvalKit's boxes for 0-1000 outputs within the image:
    VLMEvalKit also guesses the scale per box (``--box-scale guess``), clips a box to the image
    and orders its corners."""

    headline = "average"

    def __init__(self):
        super().__init__("RefCOCO", None, _FOLDERS["RefCOCO"])
        self.name = "refcoco"
        self.data_names = (VLMEVALKIT_TSV,) + tuple(n for n in self.data_names if n != VLMEVALKIT_TSV)

    def _keeps(self, dataset, split, category) -> bool:
        return True

    def _label(self, dataset, split, category) -> str:
        if split:
            return f"{dataset or self.dataset}_{split}"
        return dataset or category or self.dataset

    def read(self, path: Path) -> list[dict]:
        docs = super().read(path)
        if path.suffix != ".tsv":  # a folder or JSON Lines: RefCOCO's splits
            for d in docs:
                d["split"] = f"{self.dataset}_{d['split']}"
        return docs

    def aggregate(self, docs, rows):
        out = super().aggregate(docs, rows)
        by = defaultdict(list)
        for d, r in zip(docs, rows):
            by[d["split"]].append(r)
        order = [s for s in VLMEVALKIT_SPLITS if s in by] + sorted(s for s in by if s not in VLMEVALKIT_SPLITS)
        out["by_split"] = {s: self._accs(by[s]) for s in order}
        out["macro_acc@0.5"] = round(mean(v["acc@0.5"] for v in out["by_split"].values()), 4)
        out["micro_acc@0.5"] = out["acc@0.5"]
        known = [s for s in order if s in VLMEVALKIT_SPLITS]
        out["average"] = round(mean(out["by_split"][s]["acc@0.5"] for s in known), 4) if known else out["acc@0.5"]
        out["average_over"] = known or "every item (no split among VLMEvalKit's eight)"
        return out


TASKS.append(VLMEvalKitRefCOCO())
