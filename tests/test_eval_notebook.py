"""Executes notebooks/04_evaluate.ipynb headless with papermill on smoke parameters (marker:
notebooks): tiny synthetic benchmark files, the dummy backend (no model), all three tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from notebook_git import committed_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_evaluate.ipynb"
TABLES = ("tab1_perception", "tab2_general", "tab3_grounding")


@pytest.mark.notebooks
def test_evaluate_notebook_smoke(tmp_path):
    papermill = pytest.importorskip("papermill")
    params = {
        "models": {"smoke (dummy)": "dummy"},
        "benchmarks": ["pope", "mmstar", "mme", "refcoco_val", "mmvet"],
        "data_root": str(tmp_path / "data"),
        "eval_dir": str(tmp_path / "eval"),
        "out_dir": str(tmp_path / "fig"),
        "backend": "dummy",
        "max_new_tokens": 16,
        "limit": 4,
        "write_smoke_data": True,
    }
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "out.ipynb"),
        parameters=params,
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )
    for name in TABLES:
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / "fig" / f"{name}.{ext}").stat().st_size > 0
    lines = (tmp_path / "fig" / "tab2_general.csv").read_text().splitlines()
    assert lines[0].startswith("# Source:")
    rows = list(csv.DictReader(lines[1:]))
    assert [r["Source"] for r in rows[:6]] == ["paper (published)"] * 6
    measured = rows[-1]
    assert measured["Model"] == "smoke (dummy)"
    assert (
        measured["Source"]
        == "measured (dummy, first 4 items, max 16 new tokens, synthetic stand-in files, not the benchmarks)"
    )
    assert measured["MMStar"] != "" and measured["MMBench"] == "" and measured["MMVet"] == ""  # not run / not scored
    assert list((tmp_path / "eval" / "smoke (dummy)").glob("metrics-*.json"))


def test_notebook_is_committed_without_outputs():
    nb = committed_notebook(NOTEBOOK)  # as git stores it (a JupyterLab save may add outputs)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert not any("def " in "".join(c["source"]) for c in code)  # thin: logic lives in dig_kit.evaluation


def test_rows_measured_on_stand_in_files_say_so():
    from dig_kit.paper.tables import table_rows

    measured = {"tiny": {"pope": {"score": 50.0, "settings": {"backend": "transformers", "limit": 4}}}}
    plain = [r for r in table_rows("tab1_perception", measured) if r["Model"] == "tiny"][0]
    stand_in = [r for r in table_rows("tab1_perception", measured, synthetic=True) if r["Model"] == "tiny"][0]
    assert "synthetic" not in plain["Source"]
    assert stand_in["Source"] == "measured (transformers, first 4 items, synthetic stand-in files, not the benchmarks)"
