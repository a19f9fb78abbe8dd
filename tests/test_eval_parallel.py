"""Evaluation over several processes: deterministic shards, part files merged into the main
predictions file, worker processes launched and followed, ``--processes`` / ``--shard``.

The model-running tests (marker: slow) use the tiny random Qwen3-VL with its weights shaken
(seeded) so that its outputs differ from item to item: equal per-item files then mean the
N-process run made the same generate calls as the one-process run. The other tests use the
``dummy`` backend in worker processes (no model, a second or two) or a counting fake in this
process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dig_kit.evaluation import PredictionCache, evaluate, evaluate_suite, get_task, read_predictions
from dig_kit.evaluation.cache import model_id
from dig_kit.evaluation.cli import main as cli_main
from dig_kit.evaluation.runner import shard_batches
from dig_kit.evaluation.workers import plan_processes
from dig_kit.launcher import LaunchError
from dig_kit.paper.benchmark_fixtures import b64_image, write_smoke_suite, write_vlmeval_tsv


class CountingBackend:
    """A fake model in this process: answers "A" after thinking and records what it was asked."""

    name = "fake"
    thinking = True

    def __init__(self):
        self.calls = []

    def generate(self, items, max_new_tokens, temperature):
        self.calls.append([it["id"] for it in items])
        return ["the colour is red</think>A"] * len(items)


@pytest.fixture
def mmstar(tmp_path):
    """10 items; the right answer is A for even ids, B for odd ones."""
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


def _cache(out, model="none", benchmark="mmstar", max_new_tokens=4096) -> PredictionCache:
    """The predictions cache evaluate() uses for these settings (the key fields spelled out)."""
    task = get_task(benchmark)
    return PredictionCache(
        out,
        {
            "model": model_id(model),
            "benchmark": task.name,
            "split": task.split,
            "task_version": task.version,
            "max_new_tokens": max_new_tokens,
            "temperature": 0.0,
        },
    )


def _write_part(path: Path, records: list[dict], torn: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + torn)


def _scores(metrics: dict) -> str:
    return Path(metrics["settings"]["scores"]).read_text()


def _same_metrics(a: dict, b: dict) -> None:
    """Equal but for the settings (processes, paths) and the timing."""

    def strip(m):
        return {k: v for k, v in m.items() if k != "settings"} | {
            "generation": {k: v for k, v in m["generation"].items() if k != "seconds"}
        }

    assert strip(a) == strip(b)


def _records(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in path.read_text().splitlines()]


# -- how the work is cut ------------------------------------------------------------------------
def test_shards_take_consecutive_batches_in_turn():
    docs = [{"id": str(i)} for i in range(10)]
    ids = lambda batches: [[d["id"] for d in b] for b in batches]  # noqa: E731
    assert ids(shard_batches(docs, 3, 0, 2)) == [["0", "1", "2"], ["6", "7", "8"]]  # batches 0 and 2
    assert ids(shard_batches(docs, 3, 1, 2)) == [["3", "4", "5"], ["9"]]  # batches 1 and 3
    assert ids(shard_batches(docs, 3, 0, 1)) == [["0", "1", "2"], ["3", "4", "5"], ["6", "7", "8"], ["9"]]
    assert shard_batches(docs, 3, 4, 5) == []  # more shards than batches: nothing to do


def test_processes_plan_one_worker_per_gpu_or_gpu_group():
    four = ["0", "1", "2", "3"]
    assert plan_processes("auto", "transformers", gpus=four)["gpu_groups"] == four
    vllm = plan_processes("auto", "vllm", {"tensor_parallel_size": 2}, gpus=four)
    assert vllm["processes"] == 2 and vllm["gpu_groups"] == ["0,1", "2,3"]
    assert plan_processes("auto", "transformers", gpus=[])["processes"] == 1  # CPU: auto is one process
    cpu = plan_processes(3, "transformers", gpus=[])
    assert cpu["processes"] == 3 and cpu["gpu_groups"] is None  # CPU processes on request
    with pytest.raises(ValueError, match="needs 4 GPUs; 3 visible"):
        plan_processes(2, "vllm", {"tensor_parallel_size": 2}, gpus=["0", "1", "2"])
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        plan_processes(0, "transformers", gpus=[])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shard", "2/2"], "numbered 0..N-1"),  # shard 2 of 2 does not exist
        (["--shard=-1/2"], "numbered 0..N-1"),
        (["--shard", "1"], "write I/N"),
        (["--processes", "0"], "positive number of processes"),
        (["--processes", "many"], "positive number of processes"),
    ],
)
def test_cli_rejects_bad_processes_and_shards(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        cli_main(
            [
                "evaluate",
                "--model",
                "m",
                "--benchmark",
                "mmstar",
                "--data",
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
                "--backend",
                "dummy",
                *args,
            ]
        )
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_cli_shard_and_processes_exclude_each_other(tmp_path, mmstar, capsys):
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
                "dummy",
                "--shard",
                "0/2",
                "--processes",
                "2",
            ]
        )
        == 2
    )
    assert "--shard runs one shard" in capsys.readouterr().err


def test_the_worker_module_stays_light():
    code = (
        "import sys, dig_kit.evaluation.workers, dig_kit.evaluation.runner\n"
        "print(' '.join(h for h in ('torch', 'transformers', 'vllm') if h in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"


# -- merging part files -------------------------------------------------------------------------
def test_part_files_of_an_interrupted_run_are_merged_not_generated_again(tmp_path, mmstar):
    out = tmp_path / "out"
    first = CountingBackend()
    evaluate("none", "mmstar", mmstar, out, backend_obj=first, limit=2)  # the main file holds 0 and 1
    cache = _cache(out)
    assert first.calls == [["0", "1"]] and cache.main_path.exists()
    # an interrupted 2-process run left shard 1's records (out of order, a torn last line) and a
    # 3-process run shard 0's; they answered B
    _write_part(
        cache.part_path(1, 2),
        [{"id": "5", "output": "</think>B"}, {"id": "3", "output": "</think>B"}],
        torn='{"id": "4", "output": "</th',
    )
    _write_part(cache.part_path(0, 3), [{"id": "7", "output": "</think>B"}, {"id": "1", "output": "</think>B"}])

    again = CountingBackend()
    m = evaluate("none", "mmstar", mmstar, out, backend_obj=again, batch_size=3)
    assert again.calls == [["2", "4", "6"], ["8", "9"]]  # neither 3, 5, 7 nor the main file's 0, 1
    assert cache.part_files() == [] and not list(out.glob("*.part-*"))
    recs = read_predictions(cache.main_path)
    assert [r["id"] for r in recs] == ["0", "1", "3", "5", "7", "2", "4", "6", "8", "9"]  # merged in doc order
    by_id = {r["id"]: r["output"] for r in recs}
    assert by_id["1"].endswith("A") and by_id["3"] == by_id["5"] == by_id["7"] == "</think>B"  # main file wins
    assert m["generation"] == {**m["generation"], "generated_now": 5, "reused": 5}
    assert m["accuracy"] == 80.0  # A right on the 5 even ids, B right on 3, 5 and 7


def test_workers_score_as_one_process_each_on_its_own_gpu(tmp_path, mmstar, monkeypatch):
    one = evaluate("none", "mmstar", mmstar, tmp_path / "one", backend="dummy", batch_size=3)
    monkeypatch.setattr("dig_kit.evaluation.workers.visible_gpus", lambda: ["0", "1"])  # the dummy needs none
    out = tmp_path / "two"
    cache = _cache(out)
    _write_part(cache.part_path(2, 3), [{"id": "4", "output": "</think>B"}])  # left by an interrupted run
    two = evaluate("none", "mmstar", mmstar, out, backend="dummy", batch_size=3, processes="auto")
    assert two["settings"]["processes"] == "auto" and two["generation"]["generated_now"] == 9
    assert read_predictions(cache.main_path)[0] == {"id": "4", "output": "</think>B"}  # kept, merged first
    assert [r["id"] for r in read_predictions(cache.main_path)] == ["4"] + [str(i) for i in range(10) if i != 4]
    assert not list(out.glob("*.part-*"))
    assert two["accuracy"] == one["accuracy"] - 10.0  # the kept B on item 4 (answer A) is wrong
    logs = out / "logs"
    for i in (0, 1):
        log = (logs / f"generate-mmstar.worker-{i}-of-2.log").read_text()
        assert f"CUDA_VISIBLE_DEVICES={i}" in log and f'"shard": "{i}/2"' in log
    record = json.loads((logs / "generate-mmstar.launch.json").read_text())
    assert record["status"] == "finished" and record["returncodes"] == [0, 0] and record["items"] == 9

    again = evaluate("none", "mmstar", mmstar, out, backend="dummy", processes=2)
    assert again["generation"]["generated_now"] == 0  # nothing left: nothing launched
    assert (logs / "generate-mmstar.worker-0-of-2.log").read_text().count("\n==== ") == 1  # one launch only


def test_suite_launches_one_set_of_workers_per_model(tmp_path, mmstar):
    data = mmstar.parent
    write_smoke_suite(tmp_path / "smoke")
    (tmp_path / "smoke" / "POPE.tsv").rename(data / "POPE.tsv")
    models = {"a": "model-a", "b": "model-b"}
    benchmarks = ["mmstar", "pope", "mmvp"]  # MMVP's data is missing
    one = evaluate_suite(models, benchmarks, data, tmp_path / "one", backend="dummy", batch_size=3)
    two = evaluate_suite(models, benchmarks, data, tmp_path / "two", backend="dummy", batch_size=3, processes=2)
    for label in models:
        assert two[label]["mmvp"]["status"].startswith("missing data")
        for bench in ("mmstar", "pope"):
            _same_metrics(one[label][bench], two[label][bench])
            assert _scores(one[label][bench]) == _scores(two[label][bench])
        logs = tmp_path / "two" / label / "logs"
        assert sorted(p.name for p in logs.glob("*.log")) == [
            "generate-suite.worker-0-of-2.log",
            "generate-suite.worker-1-of-2.log",
        ]
        spec = json.loads((logs / "generate-suite.worker-1-of-2.json").read_text())
        assert [b["benchmark"] for b in spec["benchmarks"]] == ["mmstar", "pope"] and spec["model"] == f"model-{label}"


# -- a tiny real model ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny random Qwen3-VL, its weights shaken with a fixed seed: a plain random init
    answers every prompt with the same newlines, which would make any two runs look equal."""
    pytest.importorskip("transformers")
    import torch
    from transformers import AutoModelForImageTextToText

    from dig_kit.models.tiny import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    model = AutoModelForImageTextToText.from_pretrained(path)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.3)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return write_smoke_suite(tmp_path_factory.mktemp("smoke"))


TINY = dict(backend="transformers", max_new_tokens=12, batch_size=2)  # POPE: 6 items, 3 batches


@pytest.fixture(scope="module")
def one_process(tiny, smoke, tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    return out, evaluate(str(tiny), "pope", smoke, out, **TINY)


@pytest.mark.slow
def test_two_processes_generate_what_one_does(tiny, smoke, one_process, tmp_path):
    out1, one = one_process
    outputs = {r["output"] for r in _records(Path(one["settings"]["predictions"]))}
    assert len(outputs) > 1  # the outputs depend on the item: the comparison below means something
    two = evaluate(str(tiny), "pope", smoke, tmp_path, processes=2, **TINY)
    assert two["generation"]["generated_now"] == 6 and two["settings"]["processes"] == 2
    assert _scores(one) == _scores(two)
    _same_metrics(one, two)
    assert _records(Path(one["settings"]["predictions"])) == _records(Path(two["settings"]["predictions"]))
    assert not list(tmp_path.glob("*.part-*")) and len(list((tmp_path / "logs").glob("*.log"))) == 2


@pytest.mark.slow
def test_shard_runs_then_a_plain_run_merge_and_score(tiny, smoke, one_process, tmp_path, capsys):
    out1, one = one_process
    common = [
        "evaluate",
        "--model",
        str(tiny),
        "--benchmark",
        "pope",
        "--data",
        str(smoke),
        "--out",
        str(tmp_path),
        "--backend",
        "transformers",
        "--max-new-tokens",
        "12",
        "--batch-size",
        "2",
        "--quiet",
    ]
    generated = {}
    for shard in ("1/2", "0/2"):
        assert cli_main(common + ["--shard", shard]) == 0
        printed = json.loads(capsys.readouterr().out)
        generated[printed["shard"]] = printed["generated"]
    assert generated == {"0/2": 4, "1/2": 2}  # batches 0 and 2, batch 1
    assert len(list(tmp_path.glob("predictions-*.part-*-of-2.jsonl"))) == 2
    assert not list(tmp_path.glob("scores-*")) and not list(tmp_path.glob("metrics-*"))  # shards do not score
    assert cli_main(common + ["--shard", "0/2"]) == 0  # a shard run again: its items are done
    assert json.loads(capsys.readouterr().out)["generated"] == 0

    assert cli_main(common) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["generation"] == {**merged["generation"], "generated_now": 0, "reused": 6}
    assert _scores(merged) == _scores(one)
    _same_metrics({**one, "generation": {}}, {**merged, "generation": {}})
    assert not list(tmp_path.glob("*.part-*"))


@pytest.mark.slow
def test_a_failing_worker_raises_launch_error_with_its_error(smoke, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(LaunchError) as e:
        evaluate(str(missing), "pope", smoke, tmp_path / "out", backend="transformers", batch_size=2, processes=2)
    msg = str(e.value)
    assert "evaluation worker" in msg and "failed (exit code" in msg
    assert "OSError" in msg and "no-such-model" in msg  # the worker's own error line, and the log's tail
    record = json.loads((tmp_path / "out" / "logs" / "generate-pope.launch.json").read_text())
    assert record["status"].startswith("failed")
    assert not list((tmp_path / "out").glob("metrics-*"))
