"""The render notebook and the one-command reproduction, executed headlessly with papermill."""

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.notebooks, pytest.mark.blender, pytest.mark.slow]
pytest.importorskip("bpy")
pm = pytest.importorskip("papermill")


def test_render_notebook_runs_and_writes_fig7(tmp_path):
    pm.execute_notebook(
        "notebooks/01_render_dataset.ipynb",
        str(tmp_path / "01.ipynb"),
        kernel_name="python3",
        progress_bar=False,
        parameters={
            "data_dir": str(tmp_path / "data"),
            "out_dir": str(tmp_path / "fig"),
            "interactive": False,
            "num_pairs": 2,
            "subsets": ["stage1", "stage3"],
            "overrides": [
                "data.render.width=96",
                "data.render.height=64",
                "data.render.samples=4",
                "data.render.min_visible_pixels=6",
            ],
        },
    )
    for ext in ("pdf", "png"):
        assert (tmp_path / "fig" / f"fig7_pairs.{ext}").stat().st_size > 1000
    assert (tmp_path / "data" / "config.yaml").exists()


def test_reproduce_runs_every_step_then_skips_them(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "dig_kit.cli",
        "reproduce",
        "--profile",
        "smoke",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--figures",
        str(tmp_path / "figures"),
    ]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    for name in (
        "fig7_pairs",
        "fig8_dynamics_stage1",
        "fig9_dynamics_stage2",
        "fig10_dynamics_stage3",
        "fig_twin_pairs",
    ):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 1000, name
    assert (tmp_path / "runs" / "smoke" / "train" / "stage3" / "final" / "model.safetensors").exists()
    assert (tmp_path / "runs" / "smoke" / "01_render_dataset.ipynb").exists()
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert second.returncode == 0
    table = (tmp_path / "figures" / "tab_twin_ablation.md").read_text()
    assert "published (TWIN summary" in table and "measured: profile 'smoke'" in table
    from dig_kit.paper import pipeline

    n_steps = sum((pipeline.NOTEBOOKS / s.notebook).exists() for s in pipeline.steps("smoke", tmp_path, tmp_path))
    assert "running" not in second.stdout and second.stdout.count("skipped") == n_steps
    from dig_kit.paper.artifacts import _source_of

    figures = tmp_path / "figures"
    for name in (
        "fig7_pairs",
        "fig8_dynamics_stage1",
        "fig9_dynamics_stage2",
        "fig10_dynamics_stage3",
        "fig_curriculum_ablation",
        "fig_twin_pairs",
    ):
        for ext in ("pdf", "png"):
            assert (figures / f"{name}.{ext}").stat().st_size > 1000, name
        assert _source_of(figures / f"{name}.png"), f"{name} names no source"
    for name in (
        "tab1_perception",
        "tab2_general",
        "tab3_grounding",
        "tab4_reward_ablation",
        "tab5_config",
        "tab_twin_ablation",
    ):
        for ext in ("csv", "md", "tex"):
            assert (figures / f"{name}.{ext}").stat().st_size > 100, name
        assert _source_of(figures / f"{name}.md"), f"{name} names no source"
    index = (figures / "index.md").read_text()
    assert "`fig7_pairs`" in index and "01_render_dataset.ipynb (render)" in index
    assert "06_ablations.ipynb (ablations)" in index and "07_paper_artifacts.ipynb (artifacts)" in index


def test_reproduce_launches_the_training_stages_on_two_processes(tmp_path):
    """The notebook stage launches `accelerate launch` (2 CPU processes, gloo) from its kernel."""
    import json
    import time
    from pathlib import Path

    runs = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "dig_kit.cli",
        "reproduce",
        "--profile",
        "smoke",
        "--runs-dir",
        str(runs),
        "--figures",
        str(tmp_path / "figures"),
        "--only",
        "render",
        "--only",
        "train1",
        "--only",
        "train2",
        "--set",
        "train.launch.processes=2",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    train = runs / "smoke" / "train"
    from safetensors import safe_open

    with safe_open(str(runs / "smoke" / "tiny-model" / "model.safetensors"), "pt") as f:
        names = set(f.keys())
    for stage, steps in ((1, 3), (2, 2)):  # the smoke preset's stage_steps
        launch = json.loads((train / f"stage{stage}" / "launch.json").read_text())
        assert launch["mode"] == "launched" and launch["processes"] == 2 and launch["status"] == "finished"
        assert launch["trainer"]["world_size"] == 2
        assert Path(launch["log"]) == runs / "smoke" / "logs" / f"train-stage{stage}.log"
        rows = [json.loads(x) for x in (train / f"stage{stage}" / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows if r["split"] == "train"] == list(range(1, steps + 1))
        with safe_open(str(train / f"stage{stage}" / "final" / "model.safetensors"), "pt") as f:
            assert set(f.keys()) == names  # full weights
    deadline = time.time() + 20
    while (
        time.time() < deadline
        and str(runs) in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    ):
        time.sleep(0.5)
    assert str(runs) not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    for log in (runs / "smoke" / "logs").glob("*.log"):  # the step logs hold the user's notices only
        text = log.read_text()
        for noise in ("without encryption", "Unable to parse line", "Passed unknown parameter"):
            assert noise not in text, f"{log.name}: {noise}"
    for executed in (runs / "smoke").glob("*.ipynb"):  # progress shown once, at its final state
        outputs = [o for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", [])]
        assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), executed
        text = "".join("".join(o.get("text", "")) for o in outputs)
        assert " 0%|" not in text and "\r" not in text, (executed.name, text[-2000:])
    render_nb = (runs / "smoke" / "01_render_dataset.ipynb").read_text()
    assert "100%|" in render_nb and "16/16" in render_nb, "the render bar's final line"
    plan = subprocess.run(cmd + ["--plan"], capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0
    for name in ("render", "train1", "train2"):
        assert f"] {name:10s} cached" in plan.stdout, plan.stdout
