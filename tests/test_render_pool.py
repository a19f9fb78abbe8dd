"""Which interpreter runs the Blender workers, and what a missing render environment does."""

import sys

import pytest

from dig_kit.config import load_config
from dig_kit.data.writer import render_dataset
from dig_kit.render import pool


def test_env_var_wins_and_must_be_an_interpreter(monkeypatch, tmp_path):
    monkeypatch.setenv(pool.ENV_VAR, sys.executable)
    assert pool.render_python() == sys.executable
    monkeypatch.setenv(pool.ENV_VAR, str(tmp_path / "nope" / "python"))
    with pytest.raises(pool.RenderEnvError, match="DIG_KIT_RENDER_PYTHON"):
        pool.render_python()


def test_render_venv_is_found_when_this_environment_has_no_bpy(monkeypatch, tmp_path):
    monkeypatch.delenv(pool.ENV_VAR, raising=False)
    monkeypatch.setattr(pool.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(pool, "_PKG_PARENT", tmp_path)
    with pytest.raises(pool.RenderEnvError, match=r"setup\.sh --gpu"):
        pool.render_python()
    py = tmp_path / ".venv-render" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text("#!/bin/sh\n")
    assert pool.render_python() == str(py)


def test_worker_without_bpy_fails_before_anything_is_written(monkeypatch, tmp_path):
    # An interpreter whose 'import bpy' fails, as in an environment built without the render extra.
    fake = tmp_path / "python-without-bpy"
    fake.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c \"import sys, runpy; sys.modules['bpy'] = None; "
        "runpy.run_module('dig_kit.render.pool', run_name='__main__')\"\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv(pool.ENV_VAR, str(fake))
    out = tmp_path / "ds"
    with pytest.raises(pool.RenderEnvError, match="failed to start") as e:
        render_dataset(load_config("smoke"), out, subsets=["stage1"], num_pairs=1, progress=False)
    assert "bpy" in str(e.value) and str(fake) in str(e.value)
    assert not out.exists()


def test_doctor_reports_the_render_environment():
    import subprocess

    r = subprocess.run([sys.executable, "-m", "dig_kit.cli", "doctor"], capture_output=True, text=True, timeout=300)
    assert r.stdout.startswith("python") and "render env" in r.stdout
    assert (r.returncode == 0) == ("Blender 5.0.1" in r.stdout), r.stdout
