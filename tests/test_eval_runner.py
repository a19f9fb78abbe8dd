"""Evaluation runner: resumable predictions (kill, torn line), scoring files made elsewhere,
the CLI commands, suites, the paper tables, and the light-import rule."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dig_kit.evaluation import PredictionCache, evaluate, evaluate_suite, read_predictions, score_file
from dig_kit.evaluation.cli import main as cli_main
from dig_kit.evaluation.formats import BenchmarkDataError
from dig_kit.paper.benchmark_fixtures import b64_image, png_bytes, write_parquet, write_vlmeval_tsv
from dig_kit.paper.tables import PAPER_LABEL, table_rows


class CountingBackend:
    """A fake model: answers "A" after thinking; counts what it was asked; can 'die' mid-run."""

    name = "fake"
    thinking = True

    def __init__(self, die_after_calls: int | None = None):
        self.calls, self.items, self.die_after_calls = 0, [], die_after_calls

    def generate(self, items, max_new_tokens, temperature):
        if self.die_after_calls is not None and self.calls >= self.die_after_calls:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.items += [it["id"] for it in items]
        assert all(it["images"][0].size == (32, 24) for it in items)  # decoded PIL images
        return ["the colour is red</think>A"] * len(items)


@pytest.fixture
def mmstar(tmp_path):
    rows = [
        {
            "index": i,
            "image": b64_image(),
            "question": f"Colour {i}?",
            "A": "red",
            "B": "blue",
            "answer": "A" if i % 2 == 0 else "B",
            "category": "color",
        }
        for i in range(10)
    ]
    return write_vlmeval_tsv(tmp_path / "data" / "MMStar.tsv", rows)


def test_resume_after_a_kill_generates_only_the_missing_items(tmp_path, mmstar):
    out = tmp_path / "out"
    dying = CountingBackend(die_after_calls=2)
    with pytest.raises(KeyboardInterrupt):
        evaluate("ckpt", "mmstar", mmstar.parent, out, backend_obj=dying, batch_size=3)
    (pred_file,) = out.glob("predictions-*.jsonl")
    assert len(read_predictions(pred_file)) == 6  # two batches of 3 were saved before the kill
    with open(pred_file, "a") as f:
        f.write('{"id": "6", "output": "half a li')  # a kill mid-write leaves a torn line

    fresh = CountingBackend()
    m = evaluate("ckpt", "mmstar", mmstar.parent, out, backend_obj=fresh, batch_size=3)
    assert sorted(fresh.items, key=int) == ["6", "7", "8", "9"]  # nothing generated twice
    lines = pred_file.read_text().splitlines()
    assert len(lines) == 10 and len({json.loads(x)["id"] for x in lines}) == 10  # torn line cut off
    assert m["accuracy"] == 50.0 and m["generation"] == {**m["generation"], "generated_now": 4, "reused": 6}
    assert m["settings"]["thinking"] == "auto (per output)"  # each record carries the backend's thinking flag
    assert all(r.get("thinking") is True for r in read_predictions(pred_file))

    again = CountingBackend()
    m2 = evaluate("ckpt", "mmstar", mmstar.parent, out, backend_obj=again)
    assert again.calls == 0 and m2["accuracy"] == m["accuracy"]
    (metrics_file,) = out.glob("metrics-*.json")
    assert json.loads(metrics_file.read_text())["score"] == 50.0
    assert len(list(out.glob("scores-*.jsonl"))) == 1


def test_progress_lines_go_to_stdout_not_stderr(tmp_path, mmstar, capsys):
    """Progress is not a warning: papermill logs a kernel's stderr at WARNING in the step logs."""
    evaluate(
        "ckpt", "mmstar", mmstar.parent, tmp_path / "out", backend_obj=CountingBackend(), batch_size=5, progress=True
    )
    out = capsys.readouterr()
    assert "[mmstar] 5/10 generated" in out.out and "[mmstar] 10/10 generated" in out.out
    assert "generated" not in out.err


def test_cache_key_depends_on_generation_settings(tmp_path, mmstar):
    out = tmp_path / "out"
    evaluate("ckpt", "mmstar", mmstar, out, backend_obj=CountingBackend(), limit=2, max_new_tokens=16)
    b = CountingBackend()
    evaluate("ckpt", "mmstar", mmstar, out, backend_obj=b, limit=2, max_new_tokens=32)
    assert b.calls == 1  # other settings: another file, generated anew
    sidecars = sorted(json.loads(p.read_text())["max_new_tokens"] for p in out.glob("predictions-*.json"))
    assert sidecars == [16, 32]
    fields = {
        "model": "m",
        "benchmark": "mmstar",
        "split": None,
        "task_version": "1",
        "max_new_tokens": 1,
        "temperature": 0.0,
    }
    assert PredictionCache(out, fields).key != PredictionCache(out, {**fields, "temperature": 0.6}).key


def test_truncated_outputs_are_wrong_and_counted(tmp_path, mmstar):
    class Rambling(CountingBackend):
        def generate(self, items, max_new_tokens, temperature):
            return ["</think>A" if i % 2 else "hmm, let me think about the colour again and" for i in range(len(items))]

    m = evaluate("ckpt", "mmstar", mmstar, tmp_path / "o", backend_obj=Rambling(), limit=4)
    assert m["truncated"] == 2 and m["n"] == 4


def test_thinking_is_decided_per_output_not_per_file(tmp_path, mmstar):
    # issue 13, cause 1: one </think> in the file used to make every other output "truncated"
    recs = [
        {"id": 0, "output": "reasoning...</think>A"},  # closed its thinking: the answer after it
        {"id": 1, "output": "B"},  # no tags, template unknown: its own answer
        {"id": 2, "output": "<think>the cup is red, so"},  # opened <think> and never closed it: truncated
        {"id": 3, "output": "B", "finish_reason": "length"},  # the backend says max_new_tokens stopped it
        {"id": 4, "output": "A", "thinking": True},  # recorded: the template opens <think>, never closed
    ]
    preds = tmp_path / "mixed.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in recs))
    m = score_file("mmstar", mmstar, preds, limit=5)
    assert m["truncated"] == 3 and m["missing"] == 0
    assert m["truncated_by_reason"] == {"length": 1, "no_think_end": 1, "unclosed_think": 1}
    assert m["accuracy"] == 40.0  # ids 0 (A) and 1 (B) right of 5
    m = score_file("mmstar", mmstar, preds, limit=5, thinking="yes")  # every output must close </think>
    assert m["truncated"] == 4 and m["accuracy"] == 20.0


def test_score_a_predictions_file_from_elsewhere(tmp_path, mmstar):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(json.dumps({"index": i, "prediction": "</think>A"}) + "\n" for i in range(8))
        + json.dumps({"index": 99, "prediction": "A"})
        + "\n"
        + '{"index": 8, "pred'
    )
    m = score_file("mmstar", mmstar, preds)
    assert m["n"] == 10 and m["missing"] == 2 and m["unknown_ids"] == 1
    assert m["accuracy"] == 40.0  # ids 0, 2, 4, 6 right of 10; 8 torn, 9 absent
    assert m["settings"]["thinking"] == "auto (per output)"
    rows = [json.loads(x) for x in (tmp_path / "preds.scores.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [str(i) for i in range(10)]  # one row per item, in data order
    assert rows[0]["output"] == "</think>A" and rows[0]["answer"] == "A" and rows[0]["why"] == "option_letter"
    assert rows[1]["score"] == 0.0 and rows[9]["why"] == "missing"
    written = json.loads((tmp_path / "preds.metrics.json").read_text())
    assert written["accuracy"] == 40.0


def test_cli_score_and_evaluate(tmp_path, mmstar, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": str(i), "output": "A"}) + "\n" for i in range(10)))
    assert (
        cli_main(
            [
                "score",
                "--benchmark",
                "MMStar",
                "--data",
                str(mmstar.parent),
                "--predictions",
                str(preds),
                "--out",
                str(tmp_path / "scored"),
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert (
        printed["score"] == 50.0 and json.loads((tmp_path / "scored" / "p.metrics.json").read_text())["score"] == 50.0
    )
    assert (tmp_path / "scored" / "p.scores.jsonl").exists()  # --out is a directory, as in every command
    args = ["score", "--benchmark", "MMStar", "--data", str(mmstar.parent), "--predictions", str(preds)]
    assert cli_main([*args, "--metrics-out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["score"] == 50.0
    capsys.readouterr()
    assert cli_main([*args, "--out", str(tmp_path / "x.json")]) == 2  # the old file meaning: named, not guessed
    assert "--metrics-out" in capsys.readouterr().err and not (tmp_path / "x.json").exists()

    assert (
        cli_main(
            [
                "evaluate",
                "--model",
                "none",
                "--benchmark",
                "mmstar",
                "--data",
                str(mmstar),
                "--out",
                str(tmp_path / "ev"),
                "--backend",
                "dummy",
                "--quiet",
                "--limit",
                "4",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["accuracy"] == 50.0


def test_cli_errors_name_the_expected_file(tmp_path, capsys):
    assert (
        cli_main(
            [
                "score",
                "--benchmark",
                "pope",
                "--data",
                str(tmp_path / "nowhere"),
                "--predictions",
                str(tmp_path / "p.jsonl"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "POPE.tsv" in err and "VLMEvalKit" in err
    assert cli_main(["score", "--benchmark", "nope", "--data", str(tmp_path), "--predictions", "x"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkDataError, match="no parquet"):
        evaluate("m", "textvqa", tmp_path / "empty", tmp_path / "o", backend="dummy")


def test_vllm_backend_absent_is_a_clear_error(tmp_path, mmstar, capsys):
    pytest.importorskip("transformers")
    if __import__("importlib").util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    assert (
        cli_main(
            [
                "evaluate",
                "--model",
                "m",
                "--benchmark",
                "mmstar",
                "--data",
                str(mmstar),
                "--out",
                str(tmp_path / "o"),
                "--backend",
                "vllm",
                "--quiet",
            ]
        )
        == 2
    )
    assert "pip install 'dig-kit[vllm]'" in capsys.readouterr().err


def test_suite_and_tables(tmp_path, mmstar):
    # another benchmark's parquet under the data root must not be mistaken for POPE's
    write_parquet(
        mmstar.parent / "RefCOCO" / "data" / "val-00000-of-00001.parquet",
        [{"question_id": "q", "image": png_bytes(), "answer": ["a box"], "bbox": [0.0, 0.0, 4.0, 4.0]}],
    )
    results = evaluate_suite(
        {"fake": "ckpt"}, ["mmstar", "pope", "refcoco_val"], mmstar.parent, tmp_path / "runs", backend="dummy"
    )
    assert results["fake"]["mmstar"]["score"] == 50.0 and results["fake"]["refcoco_val"]["n"] == 1
    assert (
        results["fake"]["pope"]["status"].startswith("missing data") and "POPE.tsv" in results["fake"]["pope"]["status"]
    )
    rows = table_rows("tab2_general", results)
    assert [r["Source"] for r in rows[:-1]] == [PAPER_LABEL] * 6
    assert rows[2] == {
        "Model": "Qwen3-VL-4B",
        "Source": PAPER_LABEL,
        "LLM": "Qwen3-4B",
        "MMBench": 83.7,
        "MMVet": 76.0,
        "MMStar": 66.7,
        "SQA-I": 86.9,
        "VQA-T": 76.2,
        "MME": 1592.4,
        "AI2D": 81.0,
    }
    mine = rows[-1]
    assert mine["Model"] == "fake" and mine["Source"].startswith("measured (dummy")
    assert mine["MMStar"] == 50.0 and mine["MMBench"] is None and mine["MME"] is None
    t1 = table_rows(
        "tab1_perception",
        {
            "x": {
                b: {"score": 1, k: 50.0}
                for b, k in [
                    ("hallusionbench", "overall"),
                    ("hrbench8k", "overall"),
                    ("pope", "f1"),
                    ("vstar", "overall"),
                    ("vsr", "accuracy"),
                    ("cvbench", "overall"),
                    ("mmvp", "pair_accuracy"),
                ]
            }
        },
    )
    assert t1[-1]["AVG"] == 50.0 and t1[0]["AVG"] == 68.0
    assert table_rows("tab1_perception", {"y": {"pope": {"f1": 80.0}}})[-1]["AVG"] is None  # incomplete: no AVG


LIGHT = [
    "dig_kit.evaluation",
    "dig_kit.evaluation.cli",
    "dig_kit.paper.tables",
    "dig_kit.paper.benchmark_fixtures",
    "dig_kit.paper.published",
    "dig_kit.evaluation.backends",
    "dig_kit.evaluation.tasks",
]


def test_evaluation_imports_stay_light():
    code = (
        "import importlib, sys\n"
        f"for m in {LIGHT!r}: importlib.import_module(m)\n"
        "print(' '.join(h for h in ('torch', 'transformers', 'vllm', 'trl', 'bpy') if h in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
