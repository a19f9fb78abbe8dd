"""Relative paths in the notebooks mean the repo root (or the run's root), wherever the kernel starts.

JupyterLab starts a kernel in the notebook's folder (``notebooks/``), papermill in the directory it
is given; ``dig_kit.paths.work_from_root`` makes both mean the same root (dig_kit/paths.py).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from dig_kit import paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A minimal dig-kit checkout: pyproject.toml naming dig-kit, and a notebooks/ folder."""
    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def test_find_root_walks_up_to_the_checkout(checkout, monkeypatch):
    deep = checkout / "notebooks" / "sub"
    deep.mkdir()
    assert paths.find_root(deep) == checkout.resolve()
    monkeypatch.chdir(checkout / "notebooks")
    assert paths.find_root() == checkout.resolve()
    assert paths.is_checkout(ROOT) and not paths.is_checkout(checkout / "notebooks")


def test_find_root_outside_a_checkout_keeps_the_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')  # not dig-kit
    assert paths.find_root(tmp_path) == tmp_path.resolve()


def test_env_names_the_run_root(checkout, tmp_path_factory, monkeypatch):
    run_root = tmp_path_factory.mktemp("run")
    monkeypatch.setenv(paths.ROOT_ENV, str(run_root))
    monkeypatch.chdir(checkout / "notebooks")
    assert paths.work_from_root() == run_root.resolve() and Path.cwd() == run_root.resolve()
    monkeypatch.setenv(paths.ROOT_ENV, str(run_root / "missing"))
    with pytest.raises(FileNotFoundError, match=paths.ROOT_ENV):
        paths.find_root()


def test_reproduce_gives_its_kernels_the_run_root(tmp_path, monkeypatch):
    from dig_kit.paper.pipeline import _root_for_kernels

    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    with _root_for_kernels(tmp_path):
        assert os.environ[paths.ROOT_ENV] == str(tmp_path.resolve())
    assert paths.ROOT_ENV not in os.environ


@pytest.mark.notebooks
@pytest.mark.slow
def test_notebook_started_in_notebooks_writes_under_the_root(checkout):
    """As JupyterLab runs it: the kernel starts in notebooks/, the default out_dir ('figures')
    lands in <root>/figures; every figure is shown once and no cell writes to stderr."""
    pm = pytest.importorskip("papermill")
    nb = checkout / "notebooks" / "02_reward_sanity.ipynb"
    shutil.copy(ROOT / "notebooks" / nb.name, nb)
    out = checkout / "executed.ipynb"
    pm.execute_notebook(
        str(nb),
        str(out),
        parameters={"interactive": False},
        kernel_name="python3",
        cwd=str(checkout / "notebooks"),
        progress_bar=False,
    )
    assert (checkout / "figures" / "fig_reward_jitter.png").stat().st_size > 1000
    assert (checkout / "figures" / "tab_reward_variants.md").exists()
    assert not (checkout / "notebooks" / "figures").exists()
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    for c in cells:
        images = [o for o in c["outputs"] if "image/png" in o.get("data", {})]
        assert len(images) <= 1, f"a figure shown {len(images)} times: {''.join(c['source'])[:80]}"
        stderr = [o for o in c["outputs"] if o.get("name") == "stderr"]
        assert not stderr, f"stderr in a cell: {stderr[0]['text'][:300]}"
    assert sum("image/png" in o.get("data", {}) for c in cells for o in c["outputs"]) == 3
