"""Executes notebooks/02_reward_sanity.ipynb headless with papermill (marker: notebooks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from notebook_git import committed_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_reward_sanity.ipynb"
ARTIFACTS = [
    "fig_reward_jitter.pdf", "fig_reward_jitter.png",
    "fig_reward_missed_extra.pdf", "fig_reward_missed_extra.png",
    "fig_reward_coords.pdf", "fig_reward_coords.png",
    "tab_reward_variants.csv", "tab_reward_variants.md", "tab_reward_variants.tex",
    "tab_reward_case_study.csv", "tab_reward_case_study.md", "tab_reward_case_study.tex",
]  # fmt: skip


@pytest.mark.notebooks
def test_reward_sanity_notebook_runs(tmp_path):
    papermill = pytest.importorskip("papermill")
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "out.ipynb"),
        parameters={"interactive": False, "out_dir": str(tmp_path)},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )
    for name in ARTIFACTS:
        path = tmp_path / name
        assert path.exists() and path.stat().st_size > 0, name


def test_notebook_is_committed_without_outputs():
    nb = committed_notebook(NOTEBOOK)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert not any("def " in "".join(c["source"]) for c in code)  # thin: logic lives in dig_kit.paper.reward_sanity
