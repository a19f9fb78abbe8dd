"""End to end with a tiny random Qwen3-VL and the transformers backend (marker: slow).

A random model writes noise: these tests check the pipeline (prompts with one and two
images, left-padded batches, predictions written and resumed, thinking detected from the
chat template, truncation counted, scores computed), not accuracy."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers")

from dig_kit.evaluation import evaluate  # noqa: E402
from dig_kit.paper.benchmark_fixtures import write_smoke_suite  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from dig_kit.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.mark.slow
def test_tiny_model_end_to_end_with_resume(tiny, tmp_path):
    data = write_smoke_suite(tmp_path / "data")
    out = tmp_path / "out"
    common = dict(backend="transformers", max_new_tokens=8, batch_size=2)

    m = evaluate(str(tiny), "pope", data, out, limit=2, **common)
    assert m["generation"]["generated_now"] == 2 and m["settings"]["thinking"] == "auto (per output)"
    from dig_kit.evaluation.backends import get_backend

    backend = get_backend("transformers", str(tiny), batch_size=2)  # loaded once for the rest
    common["backend_obj"] = backend
    m = evaluate(str(tiny), "pope", data, out, limit=4, **common)  # resumes: only the 2 new items
    assert m["generation"] == {**m["generation"], "generated_now": 2, "reused": 2}
    (pred_file,) = out.glob("predictions-*.jsonl")
    recs = [json.loads(x) for x in pred_file.read_text().splitlines()]
    assert [r["id"] for r in recs] == ["0", "1", "2", "3"]
    assert all(r["backend"] == "transformers" and 1 <= r["num_tokens"] <= 8 for r in recs)
    assert all(r["finish_reason"] in ("stop", "length") and r["thinking"] is True for r in recs)
    # the thinking template opened <think>: an output without </think> is truncated and wrong
    assert m["truncated"] == sum("</think>" not in r["output"] for r in recs)
    assert m["n"] == 4 and 0.0 <= m["score"] <= 100.0

    d = evaluate(str(tiny), "dig_eval", data, out, **common)  # two images per prompt
    assert d["n"] == 2 and d["generation"]["generated_now"] == 2 and "by_change_type" in d
    again = evaluate(str(tiny), "dig_eval", data, out, **common)
    assert again["generation"]["generated_now"] == 0 and again["f1"] == d["f1"]


@pytest.mark.vllm
@pytest.mark.gpu
def test_tiny_model_with_vllm_matches_the_pipeline(request, tmp_path):
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    tiny = request.getfixturevalue("tiny")
    data = write_smoke_suite(tmp_path / "data")
    m = evaluate(
        str(tiny),
        "dig_eval",
        data,
        tmp_path / "out",
        backend="vllm",
        max_new_tokens=8,
        backend_options={"gpu_memory_utilization": 0.3},
    )
    assert m["n"] == 2 and m["generation"]["generated_now"] == 2 and m["settings"]["backend"] == "vllm"
