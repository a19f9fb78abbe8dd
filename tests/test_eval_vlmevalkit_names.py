"""VLMEvalKit's dataset names, accepted as they are, each scoring its own dataset's file as
VLMEvalKit does; RefCOCO's multi-split TSV and the ways its ``category`` names a split.

VLMEvalKit (open-compass/VLMEvalKit): the names are the keys of the datasets' ``DATASET_URL``
tables (``vlmeval/dataset/image_mcq.py``, ``image_yorn.py``, ``image_vqa.py``,
``refcoco.py``), stored as ``<name>.tsv``. ``RefCOCO`` is one TSV holding the splits of
RefCOCO, RefCOCO+ and RefCOCOg (``category`` ``RefCOCO val``...); ``RefCOCODataset.evaluate``
scores every row, per split, with an "Average" over the eight canonical splits.
:func:`vlmevalkit_refcoco` below restates that evaluation to compare against.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dig_kit.evaluation import get_task
from dig_kit.evaluation.cli import main as cli_main
from dig_kit.evaluation.formats import BenchmarkDataError, locate
from dig_kit.evaluation.runner import score_file
from dig_kit.evaluation.tasks import VLMEVALKIT_DATASETS
from dig_kit.paper.benchmark_fixtures import b64_image, write_smoke_suite, write_vlmeval_tsv

W, H = 100, 50
IMG = b64_image("red", (W, H))
RIGHT, WRONG = "[100, 200, 300, 600]", "[0, 0, 50, 50]"  # Qwen3-VL 0-1000 boxes: IoU 1 and 0 with GT_BOX
GT_BOX = [10, 10, 30, 30]


def _rows(categories: list[str], indexes: list | None = None, **extra) -> list[dict]:
    indexes = list(range(len(categories))) if indexes is None else indexes
    return [
        {
            "index": i,
            "image": IMG,
            "question": f"the red box {k}",
            "answer": json.dumps(GT_BOX),
            "width": W,
            "height": H,
            "category": c,
            **extra,
        }
        for k, (i, c) in enumerate(zip(indexes, categories))
    ]


# VLMEvalKit's own layout: splits of the three datasets in one file, indexes restarting per split
AGGREGATE = [
    ("RefCOCO val", [RIGHT, RIGHT, WRONG]),
    ("RefCOCO testA", [RIGHT, WRONG]),
    ("RefCOCO+ val", [WRONG, WRONG]),
    ("RefCOCOg test", [RIGHT]),
]


def _aggregate_tsv(tmp_path):
    cats, idx, preds = [], [], {}
    for category, outputs in AGGREGATE:
        for i, out in enumerate(outputs):
            cats.append(category)
            idx.append(i)
            preds[f"{category.replace(' ', '_')}_{i}"] = out  # VLMEvalKit's ids: <split>_<index>
    path = write_vlmeval_tsv(tmp_path / "RefCOCO.tsv", _rows(cats, idx))
    pred_file = tmp_path / "preds.jsonl"
    pred_file.write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in preds.items()))
    return path, pred_file, preds


def vlmevalkit_refcoco(rows: list[dict], predictions: dict[str, str]) -> dict:
    """VLMEvalKit's RefCOCODataset: load_data's split labels and ids, evaluate's Precision@1
    per split and its "Average" (rows as this module writes them: pixel answers, width, height)."""
    order = [
        "RefCOCO_val",
        "RefCOCO_testA",
        "RefCOCO_testB",
        "RefCOCO+_val",
        "RefCOCO+_testA",
        "RefCOCO+_testB",
        "RefCOCOg_val",
        "RefCOCOg_test",
    ]

    def category_to_split(category):
        label, _, rest = category.strip().partition(" ")
        suffix = {"val": "val", "test": "test", "testa": "testA", "testb": "testB"}.get(
            re.sub(r"[\s_-]+", "", rest.lower())
        )
        return f"{label}_{suffix}" if rest else label

    def to_absolute(c, w, h):
        c = np.array(c, dtype=float)
        top = np.max(np.abs(c))
        if top <= 1.5:
            c[0::2] *= w
            c[1::2] *= h
        elif top <= 1000:
            c[0::2] = c[0::2] / 1000 * w
            c[1::2] = c[1::2] / 1000 * h
        c[0::2], c[1::2] = np.clip(c[0::2], 0, w), np.clip(c[1::2], 0, h)
        return [min(c[0], c[2]), min(c[1], c[3]), max(c[0], c[2]), max(c[1], c[3])]

    def iou(a, b):
        ix, iy = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    hits: dict[str, list[int]] = {}
    for r in rows:
        split = category_to_split(r["category"])
        nums = [float(x) for x in re.findall(r"[-+]?\d*\.?\d+", predictions[f"{split}_{r['index']}"])][:4]
        hits.setdefault(split, []).append(int(iou(to_absolute(nums, W, H), json.loads(r["answer"])) >= 0.5))
    per = {s: float(np.mean(v)) * 100 for s, v in hits.items()}
    macro = [per[s] for s in order if s in per]
    return {
        "per_split": per,
        "average": float(np.mean(macro)) if macro else float(np.mean(sum(hits.values(), []))) * 100,
    }


def test_the_vlmevalkit_name_refcoco_scores_the_whole_file_as_vlmevalkit(tmp_path, capsys):
    path, pred_file, preds = _aggregate_tsv(tmp_path)
    want = vlmevalkit_refcoco(
        _rows([c for c, o in AGGREGATE for _ in o], [i for _, o in AGGREGATE for i in range(len(o))]), preds
    )
    m = score_file("RefCOCO", path, pred_file)
    assert m["benchmark"] == "refcoco" and m["n"] == 8 and m["missing"] == 0 and m["unknown_ids"] == 0
    assert list(m["by_split"]) == ["RefCOCO_val", "RefCOCO_testA", "RefCOCO+_val", "RefCOCOg_test"]  # its order
    assert {s: v["acc@0.5"] for s, v in m["by_split"].items()} == pytest.approx(want["per_split"], abs=1e-3)
    assert m["average"] == pytest.approx(want["average"], abs=1e-3) and m["score"] == m["average"]
    assert m["average"] == pytest.approx((200 / 3 + 50 + 0 + 100) / 4, abs=1e-3)  # the mean over its splits
    assert m["acc@0.5"] == m["micro_acc@0.5"] == 50.0  # 4 of 8 items
    # the user's command: `dig-kit score --benchmark RefCOCO` on the file (found in its folder too)
    for data in (path, tmp_path):
        assert cli_main(["score", "--benchmark", "RefCOCO", "--data", str(data), "--predictions", str(pred_file)]) == 0
        assert json.loads(capsys.readouterr().out)["average"] == m["average"]


def test_every_task_reading_the_file_uses_the_same_ids(tmp_path):
    path, pred_file, _ = _aggregate_tsv(tmp_path)
    assert [d["id"] for d in get_task("refcoco_val").load(path)] == ["RefCOCO_val_0", "RefCOCO_val_1", "RefCOCO_val_2"]
    m = score_file("refcoco_val", path, pred_file)  # the same predictions score the split alone
    assert m["n"] == 3 and m["missing"] == 0 and m["acc@0.5"] == pytest.approx(200 / 3, abs=1e-3)
    assert m["unknown_ids"] == 5  # the other splits' predictions


# (category as written, the task it belongs to): VLMEvalKit's form, the kit's names, the split alone
CATEGORY_FORMS = [
    ("RefCOCO val", "refcoco_val"),
    ("RefCOCO_val", "refcoco_val"),
    ("refcoco_val", "refcoco_val"),
    ("val", "refcoco_val"),
    ("RefCOCO-val", "refcoco_val"),
    ("RefCOCO+ testA", "refcoco+_testa"),
    ("refcoco+_testA", "refcoco+_testa"),
    ("RefCOCOplus_testA", "refcoco+_testa"),
    ("RefCOCO+ test A", "refcoco+_testa"),  # VLMEvalKit drops the separators in the split part
    ("RefCOCOg test", "refcocog_test"),
    ("RefCOCOg_val", "refcocog_val"),
]


@pytest.mark.parametrize("category,task", CATEGORY_FORMS)
def test_each_category_form_names_its_split(tmp_path, category, task):
    others = ["RefCOCO testB", "RefCOCO+ val", "RefCOCOg val" if task != "refcocog_val" else "RefCOCOg test"]
    path = write_vlmeval_tsv(tmp_path / "RefCOCO.tsv", _rows([category, category] + others))
    assert [d["id"] for d in get_task(task).load(path)] == ["0", "1"]
    if category.count(" ") == 1:  # the benchmark name written like the category finds the same rows
        assert get_task(category).name == task and [d["id"] for d in get_task(category).load(path)] == ["0", "1"]


def test_the_split_alone_belongs_to_the_tasks_dataset(tmp_path):
    # a file of one dataset, its splits named alone (as the kit's earlier TSVs)
    path = write_vlmeval_tsv(tmp_path / "RefCOCO.tsv", _rows(["val", "val", "testA", "testB"]))
    assert len(get_task("refcoco_val").load(path)) == 2 and len(get_task("refcoco+_val").load(path)) == 2
    m = get_task("RefCOCO").load(path)
    assert sorted({d["split"] for d in m}) == ["RefCOCO_testA", "RefCOCO_testB", "RefCOCO_val"]


def test_dataset_all_keeps_its_dataset_and_the_dataset_name_every_split(tmp_path):
    path, _, _ = _aggregate_tsv(tmp_path)
    assert sorted({d["split"] for d in get_task("refcoco_all").load(path)}) == ["testA", "val"]
    assert {d["split"] for d in get_task("RefCOCO+").load(path)} == {"val"}  # RefCOCO+ names refcoco+_all
    assert get_task("RefCOCO+").name == "refcoco+_all" and get_task("RefCOCOg").name == "refcocog_all"
    assert len(get_task("RefCOCO").load(path)) == 8


def test_refcoco_on_the_hub_folders_is_every_refcoco_split(tmp_path):
    root = write_smoke_suite(tmp_path / "data")  # lmms-lab's RefCOCO/ parquet folder, no TSV
    docs = get_task("RefCOCO").load(root, root=True)
    assert sorted({d["split"] for d in docs}) == ["RefCOCO_testA", "RefCOCO_testB", "RefCOCO_val"]
    assert len(docs) == len(get_task("refcoco_all").load(root, root=True)) == 6


def test_a_file_without_categories_is_the_named_split(tmp_path):
    path = write_vlmeval_tsv(tmp_path / "RefCOCO.tsv", _rows(["", ""]))
    assert len(get_task("refcoco+_testB").load(path)) == 2
    assert {d["split"] for d in get_task("RefCOCO").load(path)} == {"RefCOCO"}


def test_relative_answers_and_box_columns(tmp_path):
    rel = _rows(["RefCOCO val"])
    rel[0]["answer"] = json.dumps([0.1, 0.2, 0.3, 0.6])  # every answer 0-1: relative (VLMEvalKit's rule)
    (doc,) = get_task("refcoco_val").load(write_vlmeval_tsv(tmp_path / "a" / "RefCOCO.tsv", rel))
    assert doc["bbox"] == pytest.approx([10, 10, 30, 30])
    cols = [
        {k: v for k, v in r.items() if k != "answer"} | {"bbox_x1": 1, "bbox_y1": 2, "bbox_x2": 3, "bbox_y2": 4}
        for r in _rows(["RefCOCO val"])
    ]
    (doc,) = get_task("refcoco_val").load(write_vlmeval_tsv(tmp_path / "b" / "RefCOCO.tsv", cols))
    assert doc["bbox"] == [1, 2, 3, 4]
    spaced = _rows(["RefCOCO val"])
    spaced[0]["answer"] = "[10 10 30 30]"  # whitespace-separated, as VLMEvalKit also reads
    (doc,) = get_task("refcoco_val").load(write_vlmeval_tsv(tmp_path / "c" / "RefCOCO.tsv", spaced))
    assert doc["bbox"] == [10, 10, 30, 30]


def test_wrong_files_and_names_are_errors_naming_the_field(tmp_path):
    path = write_vlmeval_tsv(tmp_path / "x" / "RefCOCO.tsv", _rows(["RefCOCO+ val", "RefCOCOg test"]))
    with pytest.raises(
        BenchmarkDataError,
        match=r"no rows of RefCOCO split 'val'.*column category holds "
        r"'RefCOCO\+ val', 'RefCOCOg test'.*'RefCOCO val'",
    ):
        get_task("refcoco_val").load(path)
    path = write_vlmeval_tsv(tmp_path / "y" / "RefCOCO.tsv", _rows(["person", "dog"]))
    with pytest.raises(BenchmarkDataError, match="column category holds 'person', 'dog'"):
        get_task("refcoco_all").load(path)
    rel = _rows(["RefCOCO val"], width=None)
    rel[0].update(answer="[0.1, 0.2, 0.3, 0.6]", width="", height="")
    with pytest.raises(BenchmarkDataError, match="0-1 relative boxes, so the row needs width and height"):
        get_task("refcoco_val").load(write_vlmeval_tsv(tmp_path / "z" / "RefCOCO.tsv", rel))
    with pytest.raises(KeyError, match="VLMEvalKit's dataset names: HallusionBench, .*RefCOCO"):
        get_task("RefCOCO_valid")


def _root_with_every_vlmevalkit_file(tmp_path):
    root = write_smoke_suite(tmp_path / "data")

    def mcq(i):
        return {"index": i, "image": IMG, "question": f"q{i}", "A": "a", "B": "b", "answer": "A", "category": "Count"}

    # the variants' own files, sizes that tell them apart from their siblings
    write_vlmeval_tsv(root / "MMBench_DEV_EN_V11.tsv", [mcq(i) for i in range(5)])
    write_vlmeval_tsv(root / "AI2D_TEST_NO_MASK.tsv", [mcq(i) for i in range(6)])
    write_vlmeval_tsv(root / "CV-Bench-2D.tsv", [mcq(i) for i in range(7)])
    write_vlmeval_tsv(root / "CV-Bench-3D.tsv", [mcq(i) for i in range(9)])
    write_vlmeval_tsv(
        root / "VSR-zeroshot.tsv",
        [{"index": i, "image": IMG, "question": "Is it so?", "answer": "Yes"} for i in range(11)],
    )
    write_vlmeval_tsv(root / "RefCOCO.tsv", _rows(["RefCOCO val", "RefCOCO+ testA", "RefCOCOg test"]))
    return root


def test_every_vlmevalkit_name_reads_its_own_file_from_a_data_root(tmp_path):
    root = _root_with_every_vlmevalkit_file(tmp_path)
    sizes = {
        "MMBench_DEV_EN_V11": 5,
        "AI2D_TEST_NO_MASK": 6,
        "CV-Bench-2D": 7,
        "CV-Bench-3D": 9,
        "VSR-zeroshot": 11,
        "RefCOCO": 3,
        "MMBench_DEV_EN": 3,
        "AI2D_TEST": 4,
    }
    for name in VLMEVALKIT_DATASETS:
        task = get_task(name)
        assert locate(root, task.data_names, task.expected, root=True) == root / f"{name}.tsv", name
        docs = task.load(root, root=True)
        assert docs and all(task.prompt(d) for d in docs), name
        if name in sizes:  # (MMBench adds circular copies of each question)
            n = len({d["question"] for d in docs}) if name.startswith("MMBench") else len(docs)
            assert n == sizes[name], name
        again = get_task(task.name)  # the name a run records (caches, workers) gives the same task back
        assert (again.name, again.data_names, again.headline) == (task.name, task.data_names, task.headline), name
    # a variant is a benchmark of its own; a name equal to a task's is that task
    assert [
        get_task(n).name for n in ("MMBench_DEV_EN_V11", "CV-Bench-2D", "POPE", "VStarBench", "ScienceQA_TEST")
    ] == ["mmbench_dev_en_v11", "cv-bench-2d", "pope", "vstar", "scienceqa_img"]
    # the kit's names keep to their own file: no other dataset's file stands in for a missing one
    (root / "MMBench_DEV_EN.tsv").unlink()
    with pytest.raises(BenchmarkDataError, match="expected MMBench_DEV_EN.tsv"):
        get_task("mmbench_dev_en").load(root, root=True)


def test_cv_bench_halves_score_alone_as_vlmevalkit(tmp_path):
    root = _root_with_every_vlmevalkit_file(tmp_path)
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "output": "A" if i < 5 else "B"}) + "\n" for i in range(9)))
    m = score_file("CV-Bench-2D", root / "CV-Bench-2D.tsv", preds)
    assert m["n"] == 7 and m["score"] == m["accuracy"] == pytest.approx(500 / 7, abs=1e-3)  # plain accuracy, 2D only
    with pytest.raises(BenchmarkDataError, match="is CV-Bench's 3D file"):
        get_task("CV-Bench-2D").load(root / "CV-Bench-3D.tsv")
    # the hub folder: its test_3d split alone
    docs = get_task("CV-Bench-3D").load(root / "CV-Bench")
    assert docs and {d["type"] for d in docs} == {"3D"}
