"""Each benchmark's scorer on hand-computed cases, from fixture files in the real formats.

Predictions are raw outputs of a thinking model (``...</think>answer``) unless a case is
about truncation. Expected numbers are worked out in the comments."""

from __future__ import annotations

import pytest

from dig_kit.evaluation import get_task
from dig_kit.evaluation.judge import MMVET_PROMPT
from dig_kit.paper.benchmark_fixtures import (
    b64_image,
    png_bytes,
    write_dig_eval,
    write_jsonl,
    write_parquet,
    write_vlmeval_tsv,
)

IMG = b64_image("red")


def approx(x):
    return pytest.approx(x, abs=1e-3)  # metrics are percentages rounded to 4 decimals


def score(task_name, data, answers: dict, thinking=True, **kw):
    """Score ``answers`` (id -> final answer text, or a raw output when it starts with '!')."""
    task = get_task(task_name)
    for k, v in kw.items():
        setattr(task, k, v)
    docs = task.load(data)
    preds = {str(i): {"output": a[1:] if a.startswith("!") else f"thinking...</think>{a}"} for i, a in answers.items()}
    metrics, rows = task.score(docs, preds, thinking=thinking)
    return metrics, {r["id"]: r for r in rows}


def test_hallusionbench_aacc_facc_qacc(tmp_path):
    # set 0: figures 0, 1 x questions 0, 1; set 1: figure 0, question 0
    items = [("0", "0", "0"), ("0", "0", "1"), ("0", "1", "0"), ("0", "1", "1"), ("1", "0", "0")]
    rows = [
        {
            "index": f"VS_chart_x_{s}_{f}_{q}",
            "image": IMG,
            "question": "Is it red?",
            "answer": "Yes",
            "category": "VS",
            "l2-category": "chart",
        }
        for s, f, q in items
    ]
    no_image = [  # VLMEvalKit scores only questions with an image (951 of 1,129): these two are dropped
        {
            "index": "VD_figure_0_5_0_0",
            "image": IMG,
            "question": "Is Paris in France?",
            "answer": "Yes",
            "category": "VD",
            "l2-category": "figure",
        },  # visual_input 0 (index part 2), an image cell all the same
        {
            "index": "VD_figure_1_6_0_0",
            "image": None,
            "question": "Is it red?",
            "answer": "No",
            "category": "VD",
            "l2-category": "figure",
        },  # no image at all
    ]
    path = write_vlmeval_tsv(tmp_path / "HallusionBench.tsv", rows + no_image)
    assert len(get_task("hallusionbench").load(path)) == 5
    wrong = "VS_chart_x_0_1_0"  # set 0, figure 1, question 0
    m, _ = score("hallusionbench", path, {r["index"]: ("No" if r["index"] == wrong else "Yes") for r in rows})
    assert m["aAcc"] == approx(80.0)  # 4 / 5 questions
    assert m["fAcc"] == approx(100 * 2 / 3)  # figures (0,0) and (1,0) all right, (0,1) not
    assert m["qAcc"] == approx(100 * 2 / 3)  # question (0,q0) fails on figure 1; (0,q1), (1,q0) hold
    assert m["overall"] == approx((80 + 200 / 3 + 200 / 3) / 3)
    assert m["score"] == m["overall"]
    assert m["by_category"]["VS"]["aAcc"] == approx(80.0)
    assert m["n"] == 5 and m["dropped_no_image"] == 2


def test_hrbench_averages_over_cycles(tmp_path):
    def row(i, cycle, cat, ans):
        return {
            "index": i,
            "image": IMG,
            "question": "q",
            "A": "a",
            "B": "b",
            "C": "c",
            "D": "d",
            "answer": ans,
            "category": cat,
            "cycle_category": cycle,
        }

    rows = [
        row(0, "c0", "single", "A"),
        row(1, "c0", "single", "B"),
        row(2, "c0", "cross", "C"),
        row(3, "c0", "cross", "D"),
        row(4, "c1", "single", "A"),
        row(5, "c1", "single", "B"),
        row(6, "c1", "cross", "C"),
        row(7, "c1", "cross", "D"),
    ]
    path = write_vlmeval_tsv(tmp_path / "HRBench8K.tsv", rows)
    # cycle 0: single 2/2, cross 1/2; cycle 1: single 1/2, cross 0/2
    answers = {0: "A", 1: "B", 2: "C", 3: "A", 4: "A", 5: "A", 6: "A", 7: "A"}
    m, _ = score("hrbench8k", path, answers)
    assert m["FSP"] == approx(75.0)  # (100 + 50) / 2
    assert m["FCP"] == approx(25.0)  # (50 + 0) / 2
    assert m["overall"] == approx(50.0)  # (75 + 25) / 2
    assert m["by_cycle"]["c0"]["all"] == approx(75.0)


def test_pope_splits_precision_recall_f1(tmp_path):
    rows = [  # (index, answer, category, prediction)
        (1, "Yes", "adversarial", "Yes"),  # TP
        (2, "No", "adversarial", "Yes"),  # FP
        (3, "No", "adversarial", "No"),  # TN
        (4, "Yes", "adversarial", "I cannot tell."),  # unparsed: wrong, a "no" for P/R (FN)
        (5, "Yes", "adversarial,popular", "No"),  # FN in both splits
        (6, "Yes", "random", "Yes, there is."),  # TP
        (7, "No", "random", "No."),  # TN
    ]
    path = write_vlmeval_tsv(
        tmp_path / "POPE.tsv",
        [
            {"index": i, "image": IMG, "question": "Is there a cup in the image?", "answer": a, "category": c}
            for i, a, c, _ in rows
        ],
    )
    m, _ = score("pope", path, {i: p for i, _, _, p in rows})
    adv = m["by_split"]["adversarial"]
    assert adv["accuracy"] == approx(40.0)  # 2 / 5
    assert adv["precision"] == approx(50.0)  # 1 / (1 + 1)
    assert adv["recall"] == approx(100 / 3)  # 1 / (1 + 2)
    assert adv["f1"] == approx(40.0)  # 2 * .5 * (1/3) / (.5 + 1/3)
    assert m["by_split"]["popular"] == {
        "accuracy": 0.0,
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "yes_ratio": 0.0,
        "n": 1,
    }
    assert m["by_split"]["random"]["f1"] == approx(100.0)
    # over the 8 split memberships: TP 2, FP 1, FN 3, TN 2
    assert m["accuracy"] == approx(50.0)
    assert m["precision"] == approx(200 / 3)
    assert m["recall"] == approx(40.0)
    assert m["f1"] == approx(50.0)  # VLMEvalKit's "Overall": the paper's POPE number
    assert m["score"] == m["f1"]
    assert m["unparsed"] == 1


def test_pope_parquet_from_lmms_lab(tmp_path):
    rows = [
        {
            "question_id": str(k),
            "question": "Is there a dog?",
            "answer": "yes" if k % 2 else "no",
            "category": cat,
            "image": png_bytes(),
        }
        for cat in ("random", "popular")
        for k in range(2)
    ]
    write_parquet(tmp_path / "POPE" / "data" / "test-00000-of-00001.parquet", rows)
    m, by_id = score("pope", tmp_path, {f"{c}_{k}": "yes" for c in ("random", "popular") for k in range(2)})
    assert set(by_id) == {"random_0", "random_1", "popular_0", "popular_1"}
    assert m["accuracy"] == approx(50.0)


def test_vstar_raw_folder(tmp_path):
    root = tmp_path / "vstar_bench"
    (root / "direct_attributes").mkdir(parents=True)
    (root / "direct_attributes" / "a.jpg").write_bytes(png_bytes())
    q = "What is the color of the clock?\n(A) black\n(B) yellow\n(C) green\n(D) red\nAnswer with the option's letter."
    rows = [
        {"image": "direct_attributes/a.jpg", "text": q, "category": "direct_attributes", "question_id": k, "label": "C"}
        for k in range(3)
    ]
    rows += [
        {
            "image": "direct_attributes/a.jpg",
            "text": "Is the cup left or right of the plate?\n(A) left\n(B) right",
            "category": "relative_position",
            "question_id": k,
            "label": "A",
        }
        for k in (3, 4)
    ]
    write_jsonl(root / "test_questions.jsonl", rows)
    task = get_task("V*")
    doc = task.load(tmp_path)[0]
    assert doc["options"] == {"A": "black", "B": "yellow", "C": "green", "D": "red"}
    assert "Answer with the option letter only." in task.prompt(doc) and "option's letter" not in task.prompt(doc)
    m, _ = score("vstar", tmp_path, {0: "C", 1: "green", 2: "D", 3: "A", 4: "B"})
    assert (m["attribute"], m["spatial"], m["overall"]) == (approx(200 / 3), 50.0, 60.0)  # 2/3, 1/2, 3/5


def test_cvbench_formula(tmp_path):
    rows = []
    for k, src in enumerate(["ADE20K", "ADE20K", "COCO", "COCO", "Omni3D", "Omni3D"]):
        rows.append(
            {
                "idx": k,
                "type": "3D" if src == "Omni3D" else "2D",
                "task": "Depth",
                "image": png_bytes(),
                "question": "Which is closer?",
                "choices": ["shelves", "table"],
                "answer": "(A)",
                "source": src,
            }
        )
    write_parquet(tmp_path / "CV-Bench" / "test_2d.parquet", rows[:4])
    write_parquet(tmp_path / "CV-Bench" / "test_3d.parquet", rows[4:])
    m, _ = score("cv-bench", tmp_path, {0: "(A)", 1: "B", 2: "A", 3: "shelves", 4: "A", 5: "B"})
    assert m["by_source"] == {"ADE20K": 50.0, "COCO": 100.0, "Omni3D": 50.0}
    assert m["2d"] == 75.0 and m["3d"] == 50.0
    assert m["overall"] == 62.5  # ((50 + 100) / 2 + 50) / 2, not the micro accuracy 4/6
    assert m["accuracy"] == approx(200 / 3)


def test_mmvp_pairs_from_the_original_folder(tmp_path):
    root = tmp_path / "MMVP"
    (root / "MMVP Images").mkdir(parents=True)
    lines = ["Index,Question,Options,Correct Answer"]
    for i in range(1, 7):
        (root / "MMVP Images" / f"{i}.jpg").write_bytes(png_bytes())
        lines.append(f"{i},Is the door open?,(a) Open (b) Closed,{'(a)' if i % 2 else '(b)'}")
    (root / "Questions.csv").write_text("\n".join(lines) + "\n")
    task = get_task("mmvp")
    docs = task.load(tmp_path)
    assert docs[0]["options"] == {"A": "Open", "B": "Closed"} and docs[0]["answer"] == "A"
    # pair (1,2) both right; pair (3,4) one right; pair (5,6) both wrong
    answers = {1: "(a)", 2: "B", 3: "A", 4: "A", 5: "B", 6: "A"}
    m, _ = score("mmvp", tmp_path, answers, protocol="lenient")  # lenient: a lone lower-case "(a)" reads A
    assert m["pair_accuracy"] == approx(100 / 3)
    assert m["question_accuracy"] == approx(50.0)
    m, rows = score("mmvp", tmp_path, answers)  # VLMEvalKit can_infer: "(a)" is no letter word, no option text
    assert rows["1"]["why"] == "unparsed" and m["pair_accuracy"] == 0.0 and m["question_accuracy"] == approx(100 / 3)
    assert [d["id"] for d in task.load(tmp_path, limit=3)] == ["1", "2", "3", "4"]  # whole pairs


def _mmb_row(index, answer, a="cat", b="dog", c="cow", d="pig", cat="attribute"):
    return {
        "index": index,
        "image": IMG if index < 1_000_000 else str(index % 1_000_000),
        "question": "Which animal?",
        "hint": None,
        "A": a,
        "B": b,
        "C": c,
        "D": d,
        "answer": answer,
        "category": cat,
        "l2-category": "finegrained_perception (instance-level)",
    }


def test_mmbench_circular_with_distributed_copies(tmp_path):
    # question 0: answer "cat" in every rotation; question 1 likewise (its own category)
    rows = []
    for g, cat in ((0, "attribute"), (1, "count")):
        texts = ["cat", "dog", "cow", "pig"]
        for s in range(4):
            rot = texts[s:] + texts[:s]
            rows.append(_mmb_row(g + s * 1_000_000, "ABCD"[rot.index("cat")], *rot, cat=cat))
    path = write_vlmeval_tsv(tmp_path / "MMBench_DEV_EN.tsv", rows)
    docs = get_task("mmbench").load(path)
    assert len(docs) == 8 and docs[1]["image_key"] == "0"  # copies share the original's image
    answers = {r["index"]: r["answer"] for r in rows}  # all right, then:
    assert rows[6]["answer"] == "C"  # q1 shifted by 2: options cow, pig, cat, dog
    answers[2_000_001] = "B"  # q1 wrong in one rotation
    answers[3_000_000] = "cat"  # q0 shifted by 3, answered by the option's text: still right
    m, _ = score("mmbench_dev_en", path, answers)
    assert m["accuracy"] == 50.0  # q0 right in all 4 rotations, q1 wrong in one
    assert m["vanilla_accuracy"] == approx(100 * 7 / 8)
    assert m["by_category"] == {"attribute": 100.0, "count": 0.0}
    assert m["questions"] == 2


def test_mmbench_circularizes_a_file_without_copies(tmp_path):
    path = write_vlmeval_tsv(
        tmp_path / "MMBench_DEV_EN.tsv",
        [{"index": 7, "image": IMG, "question": "q", "A": "x", "B": "y", "answer": "B", "category": "c"}],
    )
    docs = get_task("mmbench").load(path)
    assert [(d["id"], d["options"], d["answer"]) for d in docs] == [
        ("7", {"A": "x", "B": "y"}, "B"),
        ("1000007", {"A": "y", "B": "x"}, "A"),
    ]
    m, _ = score("mmbench_dev_en", path, {7: "B", 1000007: "B"})  # always "B": wrong after the shift
    assert m["accuracy"] == 0.0 and m["vanilla_accuracy"] == 50.0


def test_mme_accuracy_plus(tmp_path):
    rows = [  # two questions per image; the second row shares the first's image by index
        {
            "index": 0,
            "image": IMG,
            "question": "Is there a dog? Please answer yes or no.",
            "answer": "Yes",
            "category": "existence",
        },
        {
            "index": 1,
            "image": "0",
            "question": "Is there a cat? Please answer yes or no.",
            "answer": "No",
            "category": "existence",
        },
        {
            "index": 2,
            "image": b64_image("blue"),
            "question": "Is there a car?",
            "answer": "Yes",
            "category": "existence",
        },
        {"index": 3, "image": "2", "question": "Is there a bus?", "answer": "No", "category": "existence"},
        {
            "index": 4,
            "image": b64_image("green"),
            "question": "Does the code print 3?",
            "answer": "Yes",
            "category": "code_reasoning",
        },
        {"index": 5, "image": "4", "question": "Does the code print 4?", "answer": "No", "category": "code_reasoning"},
    ]
    path = write_vlmeval_tsv(tmp_path / "MME.tsv", rows)
    task = get_task("mme")
    assert task.prompt(task.load(path)[0]).count("Please answer yes or no.") == 1
    assert task.prompt(task.load(path)[2]).endswith("Is there a car? Please answer yes or no.")
    m, _ = score("mme", path, {0: "Yes", 1: "No", 2: "Yes", 3: "Yes", 4: "Yes", 5: "Yes"})
    ex = m["by_category"]["existence"]
    assert (ex["acc"], ex["acc_plus"], ex["score"]) == (75.0, 50.0, 125.0)  # 3/4 questions, 1/2 images
    assert m["by_category"]["code_reasoning"] == {"acc": 50.0, "acc_plus": 0.0, "score": 50.0}
    assert (m["perception"], m["cognition"], m["total"]) == (125.0, 50.0, 175.0)
    assert "artwork" in m["categories_missing"]


def test_textvqa_vqa_accuracy_and_truncation(tmp_path):
    rows = [
        {"index": 0, "image": IMG, "question": "What does it say?", "answer": str(["stop"] * 3 + ["go"] * 7)},
        {"index": 1, "image": IMG, "question": "How many?", "answer": str(["2"] * 10)},
        {"index": 2, "image": IMG, "question": "Brand?", "answer": str(["nike"] * 10)},
    ]
    path = write_vlmeval_tsv(tmp_path / "TextVQA_VAL.tsv", rows)
    m, by_id = score("textvqa", path, {0: "Stop.", 1: "two", 2: "!thinking about the logo for a long"})
    assert by_id["0"]["score"] == approx(0.9) and by_id["1"]["score"] == 1.0
    assert by_id["2"]["truncated"] and by_id["2"]["score"] == 0.0
    assert m["accuracy"] == approx(100 * 1.9 / 3) and m["truncated"] == 1


def test_generic_mcq_scienceqa_keeps_image_questions(tmp_path):
    rows = [
        {
            "index": i,
            "image": IMG if i != 2 else None,
            "question": "Which is a mammal?",
            "hint": "Context: zoo.",
            "A": "whale",
            "B": "shark",
            "C": "trout",
            "answer": "A",
            "category": "biology",
        }
        for i in range(4)
    ]
    path = write_vlmeval_tsv(tmp_path / "ScienceQA_TEST.tsv", rows)
    task = get_task("scienceqa")
    docs = task.load(path)
    assert [d["id"] for d in docs] == ["0", "1", "3"]  # ScienceQA-IMG: questions with an image
    assert task.prompt(docs[0]) == (
        "Hint: Context: zoo.\nQuestion: Which is a mammal?\nOptions:\nA. whale\n"
        "B. shark\nC. trout\nAnswer with the option letter only."
    )
    m, _ = score("scienceqa_img", path, {0: "A", 1: "whale", 3: "B"})
    assert m["accuracy"] == approx(200 / 3) and m["by_category"] == {"biology": approx(200 / 3)}


def test_missing_predictions_count_as_wrong(tmp_path):
    path = write_vlmeval_tsv(
        tmp_path / "AI2D_TEST.tsv",
        [{"index": i, "image": IMG, "question": "q", "A": "a", "B": "b", "answer": "A"} for i in range(4)],
    )
    m, _ = score("ai2d", path, {0: "A", 1: "A"})
    assert m["accuracy"] == 50.0 and m["missing"] == 2 and m["n"] == 4


def test_mmvet_not_scored_without_a_judge(tmp_path, monkeypatch):
    monkeypatch.delenv("DIG_KIT_JUDGE_URL", raising=False)
    monkeypatch.delenv("DIG_KIT_JUDGE_KEY", raising=False)
    path = write_vlmeval_tsv(
        tmp_path / "MMVet.tsv",
        [{"index": 0, "image": IMG, "question": "What is x?", "answer": "-1<AND>-5", "category": "ocr,math"}],
    )
    m, _ = score("mmvet", path, {0: "x = -1"})
    assert m["status"].startswith("not scored: no LLM judge configured")
    assert m["score"] is None and m["total"] is None


def test_mmvet_with_a_judge(tmp_path, monkeypatch):
    monkeypatch.delenv("DIG_KIT_JUDGE_URL", raising=False)
    rows = [
        {"index": 0, "image": IMG, "question": "What is x?", "answer": "-1<AND>-5", "category": "ocr,math"},
        {"index": 1, "image": IMG, "question": "What is it?", "answer": "a cat", "category": "rec"},
        {"index": 2, "image": IMG, "question": "Explain.", "answer": "a joke", "category": "rec,know,gen"},
    ]
    path = write_vlmeval_tsv(tmp_path / "MMVet.tsv", rows)
    prompts = []

    def judge(prompt, temperature):  # a fake OpenAI-compatible judge: no network in tests
        prompts.append((prompt, temperature))
        row = prompt[len(MMVET_PROMPT) :]  # the item's row after the few-shot examples
        if "x = -1" in row:
            return "0.5"
        if "a cat" in row:
            return "oops" if temperature == 0.0 else "1.0 because"  # first reply unreadable: retried hotter
        return "0.0"

    task = get_task("mmvet")
    docs = task.load(path)
    preds = {
        "0": {"output": "</think>x = -1"},
        "1": {"output": "</think>It is a cat."},
        "2": {"output": "no closing tag"},
    }
    m, rows = task.score(docs, preds, thinking=True, judge=judge, cache_path=tmp_path / "grades.jsonl")
    assert [r["score"] for r in rows] == [0.5, 1.0, 0.0]  # item 2 truncated: 0 without asking
    assert m["total"] == approx(50.0)
    assert m["by_capability"]["rec"] == approx(50.0) and m["by_capability"]["math"] == 50.0
    assert " -1 <AND> -5 | x = -1 | " in prompts[0][0]  # the official row format
    assert prompts[-1][0].endswith("Predict the correctness of the answer (digit): ") and prompts[-1][1] == 0.5
    n = len(prompts)
    task.score(docs, preds, thinking=True, judge=judge, cache_path=tmp_path / "grades.jsonl")
    assert len(prompts) == n  # grades cached: a resumed scoring does not ask again


def test_refcoco_acc_at_05_from_qwen_relative_boxes(tmp_path):
    # image 100 x 50 px; ground truth [x, y, w, h] = [10, 10, 20, 20] -> [10, 10, 30, 30]
    rows = [
        {
            "question_id": f"q{k}",
            "image": png_bytes(size=(100, 50)),
            "answer": ["the red box"],
            "bbox": [10.0, 10.0, 20.0, 20.0],
        }
        for k in range(4)
    ]
    rows[3]["answer"] = ["the red box", "red square on the left"]  # two expressions: two items
    write_parquet(tmp_path / "RefCOCO" / "data" / "val-00000-of-00001.parquet", rows)
    write_parquet(tmp_path / "RefCOCO" / "data" / "testA-00000-of-00001.parquet", rows[:1])
    answers = {
        "q0": '```json\n[{"bbox_2d": [100, 200, 300, 600], "label": "red box"}]\n```',  # 0-1000 -> exact: IoU 1
        "q1": "[0, 0, 100, 100]",  # -> [0, 0, 10, 5] px: IoU 0
        "q2": "I cannot find it.",  # no box: wrong
        "q3_0": "[100, 200, 300, 480]",  # -> [10, 10, 30, 24]: IoU 280 / 400 = 0.7
        "q3_1": "[100, 200, 300, 600]",
    }
    m, by_id = score("refcoco_val", tmp_path, answers)
    assert by_id["q0"]["iou"] == approx(1.0) and by_id["q3_0"]["iou"] == approx(0.7)
    assert m["acc@0.5"] == 60.0  # q0, q3_0, q3_1 of 5
    # thresholds 0.50..0.70 (5 of 10): 3/5 right; 0.75..0.95: 2/5
    assert m["acc_avg"] == approx((5 * 60 + 5 * 40) / 10)
    assert m["no_box"] == 1 and m["score"] == m["acc@0.5"]
    assert len(get_task("refcoco_testA").load(tmp_path)) == 1  # the split picks its shard
    task = get_task("refcoco_val")
    assert task.prompt(task.load(tmp_path)[0]).startswith('Locate the object described as "the red box"')


def test_refcoco_jsonl_absolute_boxes(tmp_path):
    (tmp_path / "img.png").write_bytes(png_bytes(size=(100, 50)))
    write_jsonl(
        tmp_path / "refcoco_val.jsonl",
        [{"image": "img.png", "sent": "left box", "bbox": [10, 10, 30, 30], "width": 100, "height": 50}],
    )
    m, _ = score("refcoco_val", tmp_path / "refcoco_val.jsonl", {0: "[10, 10, 30, 30]"}, coord_format="abs")
    assert m["acc@0.5"] == 100.0


def test_dig_heldout_precision_recall_by_type(tmp_path):
    write_dig_eval(
        tmp_path / "dig",
        [
            {"id": "e0", "boxes": [[4, 4, 20, 20]], "change_types": ["color"]},
            {"id": "e1", "boxes": [[2, 2, 12, 12], [30, 10, 44, 28]], "change_types": ["add", "shape"]},
        ],
    )
    task = get_task("dig")
    docs = task.load(tmp_path)
    assert [len(task.images(d)) for d in docs] == [2, 2] and task.images(docs[0])[0].size() == (48, 32)
    assert "'before' version" in task.prompt(docs[0]) and "exactly" not in task.prompt(docs[0])
    answers = {"e0": "```json\n[[4, 4, 20, 20]]\n```", "e1": "[[30, 10, 44, 28], [0, 20, 5, 30]]"}
    m, by_id = score("dig_eval", tmp_path, answers)
    # totals: TP 2, predicted 3, ground truth 3
    assert (m["precision"], m["recall"], m["f1"]) == (approx(200 / 3), approx(200 / 3), approx(200 / 3))
    assert m["by_num_differences"]["1"]["f1"] == 100.0 and m["by_num_differences"]["2"]["f1"] == 50.0
    assert m["by_change_type"] == {
        "add": {"recall": 0.0, "n_boxes": 1},
        "color": {"recall": 100.0, "n_boxes": 1},
        "shape": {"recall": 100.0, "n_boxes": 1},
    }
    assert m["miou"] == approx(75.0)  # pair means over matched boxes: 1.0 and (1.0 + 0) / 2
    assert by_id["e1"]["tp"] == 1 and by_id["e1"]["n_pred"] == 2


def test_fgvqa_pair_and_multi_per_source(tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())
    write_jsonl(
        tmp_path / "fgvqa.jsonl",
        [
            {"id": "p1", "images": ["a.png", "a.png"], "answer": "yes", "type": "pair", "source": "CUB"},
            {"id": "m1", "images": ["a.png"] * 4, "answer": 2, "source": "CUB"},
            {"id": "p2", "images": ["a.png", "a.png"], "answer": "no", "source": "MET"},
        ],
    )
    m, _ = score("fgvqa", tmp_path, {"p1": "<answer>yes</answer>", "m1": "<answer>1</answer>", "p2": "So: no"})
    assert m["by_source"]["CUB"] == {"total": 50.0, "n": 2, "pair": 100.0, "multi": 0.0}
    assert m["by_source"]["MET"]["total"] == 100.0 and m["by_source"]["MET"]["multi"] is None
    assert m["mean_total"] == 75.0 and m["total"] == approx(200 / 3)
