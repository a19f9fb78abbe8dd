"""Notebooks reach git without outputs, and are committed thin.

JupyterLab's save writes outputs (and widget state) into notebooks/*.ipynb. The nbstripout filter
(.gitattributes; installed by scripts/git-filters.sh, which setup.sh runs) strips them on the way
into git, so a saved notebook leaves `git status` clean and a commit holds no outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_git import committed_notebook, committed_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
VENV_PY = ROOT / ".venv" / "bin" / "python"


def _git(repo: Path, *args: str) -> str:
    r = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def _with_outputs(nb: dict) -> dict:
    """What a JupyterLab save writes: execution counts, outputs, widget state in the metadata."""
    nb = json.loads(json.dumps(nb))
    for k, c in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        c["execution_count"] = k + 1
        c["outputs"] = [
            {"output_type": "stream", "name": "stderr", "text": ["a warning\n"]},
            {
                "output_type": "execute_result",
                "execution_count": k + 1,
                "metadata": {},
                "data": {"text/plain": ["42"], "image/png": "iVBORw0KGgo="},
            },
        ]
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    return nb


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.skipif(not VENV_PY.exists(), reason="no .venv (run bash scripts/setup.sh)")
def test_saving_a_notebook_leaves_git_status_clean(tmp_path):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "notebooks").mkdir()
    shutil.copy(ROOT / "scripts" / "git-filters.sh", repo / "scripts")
    shutil.copy(ROOT / ".gitattributes", repo)
    (repo / ".venv").symlink_to(ROOT / ".venv")  # the filter runs .venv/bin/python from the work tree
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".venv\n")
    out = subprocess.run(["bash", "scripts/git-filters.sh"], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0 and "stripped of outputs" in out.stdout, out.stderr
    shutil.copy(ROOT / "pyproject.toml", repo)  # the save hook acts on <dig-kit checkout>/notebooks/ only
    nb_path = repo / "notebooks" / "02_reward_sanity.ipynb"
    clean = committed_text(ROOT / "notebooks" / nb_path.name)
    nb_path.write_text(clean)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "a checkout")
    cm = type("ContentsManager", (), {"root_dir": str(repo)})()

    # JupyterLab saves through the kit's pre-save hook (setup.sh registers it): status stays clean
    import nbformat

    from dig_kit.paper.jupyter import strip_on_save

    saved = _with_outputs(json.loads(clean))
    saved["metadata"]["language_info"].update(version="3.11.2", mimetype="text/x-python")  # the kernel's
    model = {"type": "notebook", "content": saved}
    strip_on_save(model, "notebooks/02_reward_sanity.ipynb", cm)
    nbformat.write(nbformat.from_dict(model["content"]), str(nb_path), version=4)  # as the server writes
    assert _git(repo, "status", "--porcelain") == ""
    mine = {"type": "notebook", "content": _with_outputs(json.loads(clean))}
    strip_on_save(mine, "elsewhere/mine.ipynb", cm)
    assert mine["content"]["cells"][1]["outputs"]  # a notebook outside notebooks/ keeps its outputs

    # another tool writes outputs into it (papermill in place, another editor): the filter strips them
    nb_path.write_text(json.dumps(_with_outputs(json.loads(clean)), indent=2))
    assert _git(repo, "diff") == ""
    _git(repo, "add", "-A")
    assert _git(repo, "status", "--porcelain") == ""  # staged: nothing to commit
    assert _git(repo, "show", ":notebooks/02_reward_sanity.ipynb") == clean  # stored exactly as committed
    assert '"a warning' in nb_path.read_text()  # the file itself keeps its outputs


def test_setup_registers_the_save_hook():
    """setup.sh enables dig_kit.paper.jupyter as a server extension, and a server of .venv really
    registers the hook (the server reads jupyter_server_config.d/ for extensions only: a
    ContentsManager setting there was silently ignored)."""
    text = (ROOT / "scripts" / "setup.sh").read_text()
    assert '"jpserver_extensions": {"dig_kit.paper.jupyter": true}' in text
    cfg = ROOT / ".venv" / "etc" / "jupyter" / "jupyter_server_config.d" / "dig-kit.json"
    if not cfg.exists() or Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        return
    assert json.loads(cfg.read_text()) == {"ServerApp": {"jpserver_extensions": {"dig_kit.paper.jupyter": True}}}
    pytest.importorskip("jupyter_server")
    code = (
        "from jupyter_server.serverapp import ServerApp\n"
        "from dig_kit.paper.jupyter import strip_on_save\n"
        "app = ServerApp(); app.initialize(['--ServerApp.root_dir=.', '--ServerApp.allow_root=True',"
        " '--ServerApp.open_browser=False'], new_httpserver=False)\n"
        "print(strip_on_save in app.contents_manager._pre_save_hooks)\n"
    )
    r = subprocess.run([str(VENV_PY), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1:] == ["True"], r.stderr[-2000:]


@pytest.mark.skipif(
    not (ROOT / ".venv" / "share" / "jupyter" / "kernels" / "python3").exists(),
    reason="no kernel in .venv (run bash scripts/setup.sh)",
)
def test_notebooks_name_the_kernel_as_the_kit_installs_it():
    """JupyterLab writes the running kernel's spec and language into the notebook on save (the save
    hook keeps language_info.name only); the committed ones must be the same, or saving shows a diff."""
    spec = json.loads((ROOT / ".venv" / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    for path in NOTEBOOKS:
        ks = committed_notebook(path)["metadata"]["kernelspec"]
        assert (ks["name"], ks["display_name"], ks.get("language")) == ("python3", spec["display_name"], "python"), (
            path.name
        )
        assert committed_notebook(path)["metadata"].get("language_info") == {"name": "python"}, path.name


def test_gitattributes_route_notebooks_through_the_filter():
    text = (ROOT / ".gitattributes").read_text()
    assert "*.ipynb filter=nbstripout" in text
    assert "bash scripts/git-filters.sh" in (ROOT / "scripts" / "setup.sh").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_thin_and_without_outputs(path):
    nb = committed_notebook(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "widgets" not in nb["metadata"]
    assert not any("def " in "".join(c["source"]) for c in code)
    assert all(c.get("id") for c in nb["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_resolves_paths_against_the_root_first(path):
    """Every notebook, so each works from JupyterLab (kernel in notebooks/) as under papermill."""
    code = [c for c in committed_notebook(path)["cells"] if c["cell_type"] == "code"]
    source = "".join(code[1]["source"])  # the cell after the parameters
    assert "work_from_root()" in source
    # before anything reads a relative path: only imports may come first
    before = source[: source.index("work_from_root()")].splitlines()
    assert all(not line.strip() or line.startswith(("from ", "import ", "root =")) for line in before), before


@pytest.mark.skipif(not VENV_PY.exists(), reason="no .venv (run bash scripts/setup.sh)")
def test_committed_notebooks_are_fixed_points_of_the_filter():
    """The filter leaves a committed notebook unchanged, so it never shows a diff of its own."""
    for path in NOTEBOOKS:
        text = committed_text(path)
        r = subprocess.run(
            [str(VENV_PY), "-m", "nbstripout", "--keep-id", "-t"], input=text, cwd=ROOT, capture_output=True, text=True
        )
        assert r.returncode == 0 and r.stdout == text, f"{path.name}: run `git add --renormalize notebooks`"


def test_papermill_reads_every_parameter_of_every_notebook(caplog):
    """papermill's own reading of each parameters cell finds every name the cell assigns, with
    no 'Unable to parse line' and so no 'Passed unknown parameter' warning in the step logs."""
    import ast
    import logging

    import nbformat
    from papermill.translators import PythonTranslator

    for path in sorted(Path(__file__).parents[1].glob("notebooks/*.ipynb")):
        cell = next(c for c in nbformat.read(path, 4).cells if "parameters" in c.metadata.get("tags", []))
        with caplog.at_level(logging.WARNING, logger="papermill"):
            found = {p.name for p in PythonTranslator.inspect(cell)}
        assigned = {t.id for n in ast.parse(cell.source).body if isinstance(n, ast.Assign) for t in n.targets}
        assert assigned and assigned <= found, f"{path.name}: papermill misses {sorted(assigned - found)}"
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]
