"""Loaders: VLMEvalKit TSVs, Hugging Face parquet/folders, JSONL; lazy images; clear errors."""

from __future__ import annotations

import json

import pytest

from dig_kit.evaluation import get_task
from dig_kit.evaluation.formats import BenchmarkDataError, image_ref, read_table, read_vlmeval_tsv
from dig_kit.paper.benchmark_fixtures import b64_image, png_bytes, write_parquet, write_smoke_suite, write_vlmeval_tsv


def test_vlmeval_tsv_images_shared_multi_and_by_path(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png_bytes("blue", (5, 7)))
    path = write_vlmeval_tsv(
        tmp_path / "X.tsv",
        [
            {"index": 10, "image": b64_image("red", (3, 4)), "question": "q", "A": "None", "B": "NA", "answer": "A"},
            {"index": 11, "image": "10", "question": "q2", "A": "x", "B": "", "answer": "A"},  # shares row 10's image
            {"index": 12, "image": json.dumps([b64_image("red", (1, 2)), b64_image("red", (2, 1))]), "question": "q3"},
            {"index": 13, "image": None, "image_path": "imgs/a.png", "question": "q4"},
        ],
    )
    rows = read_vlmeval_tsv(path)
    assert [r["images"][0].size() for r in rows] == [(3, 4), (3, 4), (1, 2), (5, 7)]
    assert [len(r["images"]) for r in rows] == [1, 1, 2, 1]
    assert rows[0]["A"] == "None" and rows[0]["B"] == "NA"  # option texts, not missing values
    assert rows[1]["B"] is None  # an empty cell is missing
    assert rows[1]["image_key"] == "10" and rows[0]["image_key"] == "10"
    assert rows[0]["images"][0].open().mode == "RGB"


def test_vlmeval_tsv_errors(tmp_path):
    bad = write_vlmeval_tsv(tmp_path / "bad.tsv", [{"index": 1, "image": "99", "question": "q"}])
    with pytest.raises(BenchmarkDataError, match="unknown row '99'"):
        read_vlmeval_tsv(bad)
    noindex = write_vlmeval_tsv(tmp_path / "noindex.tsv", [{"id": 1, "question": "q"}])
    with pytest.raises(BenchmarkDataError, match="'index' column"):
        read_vlmeval_tsv(noindex)


def test_missing_benchmark_names_the_expected_file_and_format(tmp_path):
    with pytest.raises(BenchmarkDataError) as e:
        get_task("hallusionbench").load(tmp_path / "does-not-exist")
    assert "HallusionBench.tsv" in str(e.value) and "VLMEvalKit" in str(e.value)
    with pytest.raises(BenchmarkDataError, match="expected format"):
        write_vlmeval_tsv(tmp_path / "POPE.tsv", [{"index": 1, "question": "q", "answer": "maybe"}])
        get_task("pope").load(tmp_path)


def test_parquet_split_layouts(tmp_path):
    write_parquet(tmp_path / "hub" / "data" / "val-00000-of-00002.parquet", [{"x": 1}])
    write_parquet(tmp_path / "hub" / "data" / "val-00001-of-00002.parquet", [{"x": 2}])
    write_parquet(tmp_path / "hub" / "data" / "testA-00000-of-00001.parquet", [{"x": 3}])
    write_parquet(tmp_path / "dirs" / "test" / "part0.parquet", [{"x": 4}])
    assert [r["x"] for r in read_table(tmp_path / "hub", "val")] == [1, 2]
    assert [r["x"] for r in read_table(tmp_path / "hub", "testA")] == [3]
    assert [r["x"] for r in read_table(tmp_path / "dirs", "test")] == [4]
    with pytest.raises(BenchmarkDataError, match=r"no parquet files for split 'testB' \(found \['testA', 'val'\]\)"):
        read_table(tmp_path / "hub", "testB")


def test_save_to_disk_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.DatasetDict(
        {
            "validation": datasets.Dataset.from_list(
                [
                    {
                        "question_id": 1,
                        "question": "What?",
                        "answers": ["a"] * 10,
                        "image": {"bytes": png_bytes(), "path": None},
                    }
                ]
            )
        }
    )
    ds.save_to_disk(str(tmp_path / "textvqa"))
    docs = get_task("textvqa").load(tmp_path)
    assert docs[0]["answers"] == ["a"] * 10 and docs[0]["images"][0].size() == (32, 24)


def test_hf_variants_of_yes_no_benchmarks(tmp_path):
    write_parquet(
        tmp_path / "HallusionBench" / "image-00000-of-00001.parquet",
        [
            {
                "category": "VD",
                "subcategory": "illusion",
                "visual_input": "1",
                "set_id": "0",
                "figure_id": "0",
                "question_id": "0",
                "question": "Is the line longer?",
                "gt_answer": "1",
                "image": png_bytes(),
            }
        ],
    )
    write_parquet(
        tmp_path / "HallusionBench" / "non_image-00000-of-00001.parquet",
        [  # lmms-lab: not read
            {
                "category": "VD",
                "subcategory": "illusion",
                "visual_input": "0",
                "set_id": "0",
                "figure_id": "0",
                "question_id": "1",
                "question": "Is a circle round?",
                "gt_answer": "1",
                "image": None,
            }
        ],
    )
    (doc,) = get_task("hallusionbench").load(tmp_path)
    assert doc["answer"] == "yes" and doc["l2-category"] == "illusion"
    (tmp_path / "vsr" / "images").mkdir(parents=True)
    (tmp_path / "vsr" / "images" / "000.jpg").write_bytes(png_bytes())
    (tmp_path / "vsr" / "test.jsonl").write_text(
        json.dumps({"image": "000.jpg", "caption": "The cat is on the bed.", "label": 0, "relation": "on"}) + "\n"
    )
    task = get_task("vsr")
    (doc,) = task.load(tmp_path / "vsr")
    assert doc["answer"] == "no" and doc["images"][0].size() == (32, 24)
    assert task.prompt(doc) == (
        'Is the following statement about the image true? "The cat is on the bed." Please answer yes or no.'
    )


def test_image_ref_kinds(tmp_path):
    assert image_ref({"bytes": png_bytes(), "path": "x.png"}).kind == "bytes"
    assert image_ref({"bytes": None, "path": "x.png"}, tmp_path).value == str(tmp_path / "x.png")
    assert image_ref(b64_image()).kind == "b64"
    with pytest.raises(BenchmarkDataError, match="image file not found"):
        image_ref("missing.jpg", tmp_path).open()


def test_smoke_suite_loads_for_every_benchmark(tmp_path):
    from dig_kit.evaluation import task_names

    root = write_smoke_suite(tmp_path)
    for name in task_names():
        task = get_task(name)
        docs = task.load(root)
        assert docs and all(task.prompt(d) for d in docs), name
        assert all(len(task.images(d)) >= 1 for d in docs), name


def _cv_rows(start, n, answer="A", **extra):
    return [
        {
            "index": start + k,
            "image": b64_image("red"),
            "question": "How many cubes?",
            "A": "1",
            "B": "2",
            "C": "3",
            "answer": answer,
            "category": "Count",
            **extra,
        }
        for k in range(n)
    ]


def test_cvbench_vlmevalkit_tsvs(tmp_path):
    from dig_kit.evaluation.runner import score_file

    # VLMEvalKit's two files, no source column: 2d and 3d are per-file accuracies, overall their mean
    write_vlmeval_tsv(tmp_path / "CV-Bench-2D.tsv", _cv_rows(0, 4))
    write_vlmeval_tsv(tmp_path / "CV-Bench-3D.tsv", _cv_rows(0, 2))
    docs = get_task("cvbench").load(tmp_path, root=True)  # found by its official name under a data root
    assert len(docs) == 6 and {d["type"] for d in docs} == {"2D", "3D"}
    preds = tmp_path / "p.jsonl"
    outs = {"2D/0": "A", "2D/1": "A", "2D/2": "B", "2D/3": "B", "3D/0": "A", "3D/1": "A"}
    preds.write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in outs.items()))
    m = score_file("cvbench", tmp_path / "CV-Bench-3D.tsv", preds)  # either file finds the other
    assert m["2d"] == 50.0 and m["3d"] == 100.0 and m["overall"] == 75.0 and m["formula"].startswith("no source")
    # with a source column, the official formula: ((ADE20K + COCO) / 2 + Omni3D) / 2
    write_vlmeval_tsv(tmp_path / "CV-Bench-2D.tsv", _cv_rows(0, 2, source="ADE20K") + _cv_rows(2, 2, source="COCO"))
    write_vlmeval_tsv(tmp_path / "CV-Bench-3D.tsv", _cv_rows(0, 2, source="Omni3D"))
    m = score_file("cvbench", tmp_path / "CV-Bench-2D.tsv", preds)
    assert m["2d"] == 50.0 and m["overall"] == 75.0 and m["formula"].startswith("official")  # ADE 100, COCO 0


def test_official_file_names_under_a_data_root(tmp_path):
    write_vlmeval_tsv(tmp_path / "hr_bench_8k.tsv", _cv_rows(0, 2, answer="B", cycle_category="c0"))
    assert len(get_task("hrbench8k").load(tmp_path, root=True)) == 2
    zs = tmp_path / "zeroshot"
    (zs / "images").mkdir(parents=True)
    (zs / "images" / "000.jpg").write_bytes(png_bytes())
    (zs / "test.jsonl").write_text(
        json.dumps({"image": "000.jpg", "caption": "The cat is on the bed.", "label": 1}) + "\n"
    )
    (doc,) = get_task("vsr").load(tmp_path, root=True)  # the VSR repository's data/splits/zeroshot/test.jsonl
    assert doc["answer"] == "yes"
