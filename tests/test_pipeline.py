"""`dig-kit reproduce` mechanics on tiny stand-in notebooks: failures, skipping, --only/--from, index."""

import nbformat as nbf
import pytest
from processes import lock_holder

from dig_kit.config import load_config, save_config
from dig_kit.paper import pipeline
from dig_kit.paper.artifacts import tab5_rows, write_index

pytestmark = pytest.mark.notebooks
pytest.importorskip("papermill")


def _notebook(path, body):
    nb = nbf.v4.new_notebook()
    params = nbf.v4.new_code_cell("out_dir = 'figures'\nvalue = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbf.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbf.write(nb, str(path))


@pytest.fixture
def fake_plan(tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(
        nbs / "a.ipynb",
        "from dig_kit.paper.figures import save_table\n"
        "save_table([{'x': value}], 'tab_a', out_dir, source='test notebook a')",
    )
    _notebook(nbs / "b.ipynb", "open(f'{out_dir}/b.txt', 'w').write(str(value))")
    monkeypatch.setattr(pipeline, "NOTEBOOKS", nbs)
    plan = {"value": 1}

    def steps(profile, runs, figures, extra=None):
        return [
            pipeline.Step("a", "a.ipynb", "a.ipynb", {"out_dir": str(figures), "value": plan["value"]}),
            pipeline.Step("b", "b.ipynb", "b.ipynb", {"out_dir": str(figures), "value": plan["value"]}),
        ]

    monkeypatch.setattr(pipeline, "steps", steps)
    return nbs, plan


def _run(tmp_path, capsys, **kw):
    rc = pipeline.run_pipeline("smoke", runs_dir=str(tmp_path / "runs"), figures_dir=str(tmp_path / "fig"), **kw)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_runs_then_skips_then_reruns_what_changed(tmp_path, capsys, fake_plan):
    nbs, plan = fake_plan
    rc, out, _ = _run(tmp_path, capsys)
    assert rc == 0 and out.count("running") == 2
    index = (tmp_path / "fig" / "index.md").read_text()
    assert "`tab_a`" in index and "a.ipynb (a)" in index and "test notebook a" in index
    rc, out, _ = _run(tmp_path, capsys)
    assert rc == 0 and out.count("skipped") == 2 and "running" not in out
    _notebook(
        nbs / "a.ipynb",
        "from dig_kit.paper.figures import save_table\n"
        "save_table([{'x': value + 1}], 'tab_a', out_dir, source='test notebook a v2')",
    )
    rc, out, _ = _run(tmp_path, capsys)
    assert out.count("running") == 2  # a changed, so b (downstream) reruns too
    rc, out, _ = _run(tmp_path, capsys, only=["b"])
    assert out.count("skipped") == 1 and "[1/1]" in out


def test_a_failing_notebook_stops_with_the_cell_and_error(tmp_path, capsys, fake_plan):
    nbs, _ = fake_plan
    _notebook(nbs / "a.ipynb", "raise ValueError('the data is wrong')")
    rc, out, err = _run(tmp_path, capsys)
    assert rc == 1
    assert "step 'a' failed in a.ipynb, cell" in err and "ValueError: the data is wrong" in err
    assert "running b.ipynb" not in out  # the pipeline stopped
    rc, _, err = _run(tmp_path, capsys, start="nope")
    assert rc == 2 and "unknown step 'nope'" in err


def test_tab5_is_read_from_the_config_that_ran(tmp_path):
    cfg = load_config("paper", ["train.learning_rate=2e-6", "train.freeze_vision=true"])
    save_config(cfg, tmp_path / "config.yaml")
    rows = {r["Parameter"]: r for r in tab5_rows(tmp_path / "config.yaml")}
    assert rows["Learning rate"]["Paper (Table 5)"] == "1.0e-6" and rows["Learning rate"]["This run"] == "2e-06"
    assert rows["Vision tower"]["This run"] == "Frozen" and rows["KL coefficient"]["This run"] == "0.01"
    assert [rows[f"Stage {i} steps"]["This run"] for i in (1, 2, 3)] == ["60", "20", "30"]
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        tab5_rows(tmp_path / "missing.yaml")


def test_index_lists_artifacts_even_without_records(tmp_path):
    (tmp_path / "x.csv").write_text("a\n")
    path = write_index(tmp_path, tmp_path / "none.json", "smoke")
    assert "| `x` | csv | ? (?)" in path.read_text()


def test_a_second_reproduce_on_the_same_runs_is_refused_then_a_dead_holder_is_taken_over(tmp_path, capsys, fake_plan):

    runs = tmp_path / "runs" / "smoke"
    holder = lock_holder(runs, "dig-kit reproduce --profile smoke")
    try:
        rc, out, err = _run(tmp_path, capsys)
        assert rc == 2 and f"pid {holder.pid}" in err and "dig-kit reproduce --profile smoke" in err
        assert "running" not in out
    finally:
        holder.kill()
        holder.wait()
    rc, out, err = _run(tmp_path, capsys)  # the holder was killed: its lock is stale
    assert rc == 0 and out.count("running") == 2 and "taking over the lock" in err
    assert not (runs / ".dig-kit.lock").exists()


def test_the_paper_plan_runs_nothing_and_says_what_each_step_launches(tmp_path):
    """On a machine whose nvidia-smi lists 8 GPUs (a stand-in), without a GPU, in seconds."""
    import os
    import subprocess
    import sys
    import time

    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text('#!/bin/sh\nfor i in 0 1 2 3 4 5 6 7; do echo "GPU $i: NVIDIA H200 (UUID: GPU-$i)"; done\n')
    smi.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(PATH=f"{smi.parent}{os.pathsep}{env['PATH']}", HF_HOME=str(tmp_path / "hf"))
    t0 = time.time()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dig_kit.cli",
            "reproduce",
            "--profile",
            "paper",
            "--plan",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--figures",
            str(tmp_path / "fig"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert time.time() - t0 < 60
    out = res.stdout
    assert "GPUs visible here: 8" in out
    names = [s.name for s in pipeline.steps("paper", tmp_path, tmp_path)]
    for i, name in enumerate(names, 1):
        assert f"[{i}/{len(names)}] {name}" in out
    train1 = out[out.index("] train1") : out.index("] train2")]
    assert "to run" in train1 and "GPU-h (estimate)" in train1
    assert "accelerate launch, 8 process(es) x 1 node(s) = 8, fsdp_full_shard.yaml" in train1
    assert "Qwen/Qwen3-VL-4B-Thinking: MISSING" in train1  # not in this (empty) Hugging Face cache
    assert "benchmark files under data/benchmarks" in out and "total: ~" in out
    assert not (tmp_path / "runs").exists() and not (tmp_path / "fig").exists()  # nothing written


def test_the_readme_lists_the_plans_gpu_hour_estimates():
    """The README's estimate table and `--plan` come from the same cost model."""
    from pathlib import Path

    from dig_kit.paper import plan

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    cfg = load_config("paper")
    for stage in (1, 2, 3):
        assert f"| train{stage} | ~{plan.stage_gpu_hours(cfg, stage):.1f} GPU-h |" in readme
    for name, value in (
        ("GEN_TOKENS_PER_GPU_S", "6,000 tokens/s"),
        ("TRAIN_MFU", "35%"),
        ("MEAN_COMPLETION_TOKENS", "600 tokens"),
    ):
        assert value in readme, name


def test_profile_differences_are_the_presets_reproduce_values(tmp_path):
    smoke = {
        s.name: s.params
        for s in pipeline.steps("smoke", tmp_path, tmp_path, ["reproduce.eval_limit=2", "reproduce.render_workers=3"])
    }
    assert smoke["render"]["workers"] == 3  # an override of the section reaches the step
    assert smoke["evaluate"]["limit"] == smoke["ablations"]["limit"] == 2
    assert smoke["evaluate"]["max_new_tokens"] == 16 and smoke["twin"]["max_new_tokens"] == 32
    paper = {s.name: s.params for s in pipeline.steps("paper", tmp_path, tmp_path)}
    # the evaluation notebook's defaults are the paper's budget: not passed, as before the section existed
    assert "max_new_tokens" not in paper["evaluate"] and paper["evaluate"]["processes"] == "auto"
    assert paper["ablations"]["max_new_tokens"] == 4096 and paper["twin"]["preset"] == "twin"
    assert not paper["train1"]["tiny_model"] and smoke["train1"]["tiny_model"]


def test_each_profile_writes_its_own_figures_directory_by_default(tmp_path, capsys, fake_plan, monkeypatch):
    """Without --figures, smoke and mini write figures/<profile>/ (so mini after smoke does not
    mix the two) and the paper profile figures/; the CLI passes None and gets the same."""
    from pathlib import Path

    from dig_kit.cli import build_parser

    assert pipeline.default_figures_dir("paper") == Path("figures")
    assert pipeline.default_figures_dir("mini") == Path("figures/mini")
    assert build_parser().parse_args(["reproduce"]).figures is None
    monkeypatch.chdir(tmp_path)
    for profile in ("smoke", "mini"):
        assert pipeline.run_pipeline(profile, runs_dir=str(tmp_path / "runs"), only=["a"]) == 0
        assert (tmp_path / "figures" / profile / "tab_a.md").exists(), profile
    assert not (tmp_path / "figures" / "tab_a.md").exists()
    assert "figures/mini/" in capsys.readouterr().out
