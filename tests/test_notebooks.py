"""The render notebook and the one-command reproduction, executed headlessly with papermill."""

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.notebooks, pytest.mark.blender, pytest.mark.slow]
pytest.importorskip("bpy")
pm = pytest.importorskip("papermill")


def test_render_notebook_runs_and_writes_fig7(tmp_path):
    pm.execute_notebook(
        "notebooks/01_render_dataset.ipynb", str(tmp_path / "01.ipynb"), kernel_name="python3", progress_bar=False,
        parameters={"data_dir": str(tmp_path / "data"), "out_dir": str(tmp_path / "fig"), "interactive": False,
                    "num_pairs": 2, "subsets": ["stage1", "stage3"],
                    "overrides": ["data.render.width=96", "data.render.height=64", "data.render.samples=4",
                                  "data.render.min_visible_pixels=6"]},
    )
    for ext in ("pdf", "png"):
        assert (tmp_path / "fig" / f"fig7_pairs.{ext}").stat().st_size > 1000
    assert (tmp_path / "data" / "config.yaml").exists()


def test_reproduce_runs_every_step_then_skips_them(tmp_path):
    cmd = [sys.executable, "-m", "dig_kit.cli", "reproduce", "--profile", "smoke",
           "--runs-dir", str(tmp_path / "runs"), "--figures", str(tmp_path / "figures")]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    for name in ("fig7_pairs", "fig8_dynamics_stage1", "fig9_dynamics_stage2", "fig10_dynamics_stage3", "fig_twin_pairs"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 1000, name
    assert (tmp_path / "runs" / "smoke" / "train" / "stage3" / "final" / "model.safetensors").exists()
    assert (tmp_path / "runs" / "smoke" / "01_render_dataset.ipynb").exists()
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert second.returncode == 0
    table = (tmp_path / "figures" / "tab_twin_ablation.md").read_text()
    assert "published (TWIN summary" in table and "measured: profile 'smoke'" in table
    from dig_kit.paper import pipeline

    n_steps = sum((pipeline.NOTEBOOKS / s[1]).exists() for s in pipeline.steps("smoke", tmp_path, tmp_path))
    assert "running" not in second.stdout and second.stdout.count("skipped") == n_steps
    from dig_kit.paper.artifacts import _source_of

    figures = tmp_path / "figures"
    for name in ("fig7_pairs", "fig8_dynamics_stage1", "fig9_dynamics_stage2", "fig10_dynamics_stage3",
                 "fig_curriculum_ablation", "fig_twin_pairs"):
        for ext in ("pdf", "png"):
            assert (figures / f"{name}.{ext}").stat().st_size > 1000, name
        assert _source_of(figures / f"{name}.png"), f"{name} names no source"
    for name in ("tab1_perception", "tab2_general", "tab3_grounding", "tab4_reward_ablation", "tab5_config",
                 "tab_twin_ablation"):
        for ext in ("csv", "md", "tex"):
            assert (figures / f"{name}.{ext}").stat().st_size > 100, name
        assert _source_of(figures / f"{name}.md"), f"{name} names no source"
    index = (figures / "index.md").read_text()
    assert "`fig7_pairs`" in index and "01_render_dataset.ipynb (render)" in index
    assert "06_ablations.ipynb (ablations)" in index and "07_paper_artifacts.ipynb (artifacts)" in index
