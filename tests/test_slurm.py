"""The Slurm templates (configs/slurm/*.sbatch), run on this machine through the stand-ins in
tests/slurm/ (sbatch runs the array tasks locally and waits; srun runs one copy per "node" as
local processes; scontrol names localhost): a 2-task render array into one dataset, and stage 1
of a tiny run trained on 2 "nodes" of 1 CPU process each."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import ours

from dig_kit.config import load_config

ROOT = Path(__file__).parents[1]
STANDINS = ROOT / "tests" / "slurm"
TINY_DATA = [
    "data.render.width=96",
    "data.render.height=64",
    "data.render.samples=2",
    "data.render.min_visible_pixels=6",
    "data.scene.max_objects=5",
]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "CUDA_VISIBLE_DEVICES"}
    env.update(PATH=f"{STANDINS}{os.pathsep}{env.get('PATH', '')}", OMP_NUM_THREADS="1", **extra)
    return env


def _sbatch(script: str, args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sbatch", *args, str(ROOT / "configs" / "slurm" / script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _rows(data: Path, subset: str) -> list[dict]:
    from dig_kit.data.reader import METADATA, read_rows

    return [r for m in sorted((data / subset).glob(f"*/{METADATA}")) for r in read_rows(m)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny set rendered by one process, unsharded (also the training data)."""
    pytest.importorskip("bpy")
    from dig_kit.data.writer import render_dataset

    out = tmp_path_factory.mktemp("slurm") / "reference"
    render_dataset(
        load_config("smoke", TINY_DATA), out, subsets=["stage1", "stage3", "eval"], num_pairs=4, progress=False
    )
    return out


# -- the stand-ins themselves ----------------------------------------------------------------------
def test_the_standins_set_what_slurm_sets(tmp_path):
    script = tmp_path / "job.sbatch"
    script.write_text(
        "#!/bin/bash\n#SBATCH --array=3-5\n#SBATCH --nodes=2\n#SBATCH --output=unused.log\n"
        "set -euo pipefail\n"
        'echo "batch $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT $SLURM_NNODES '
        '$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1) $PWD"\n'
        "srun --ntasks-per-node=2 bash -c 'echo step $SLURM_PROCID $SLURM_NODEID $SLURM_LOCALID "
        "$SLURM_NTASKS'\n"
    )
    res = subprocess.run(
        ["sbatch", f"--output={tmp_path}/%a.log", str(script)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Submitted batch job ")
    for task in (3, 4, 5):
        lines = (tmp_path / f"{task}.log").read_text().splitlines()
        assert lines[0] == f"batch {task}/3 2 localhost {tmp_path.resolve()}"
        assert sorted(lines[1:]) == ["step 0 0 0 4", "step 1 0 1 4", "step 2 1 0 4", "step 3 1 1 4"]
    # a failing copy: srun ends the others and returns its code, sbatch passes it on
    script.write_text("#!/bin/bash\n#SBATCH --nodes=2\nsrun bash -c '[ $SLURM_NODEID = 1 ] && exit 7; sleep 59.25'\n")
    t0 = time.time()
    res = subprocess.run(
        ["sbatch", f"--output={tmp_path}/fail.log", str(script)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 7 and time.time() - t0 < 30, res.stderr
    assert ours("sleep 59.25") == []


# -- render.sbatch: an array job, one shard per task, one dataset ----------------------------------
@pytest.mark.blender
def test_a_render_array_job_renders_every_pair_once_into_one_dataset(reference, tmp_path):
    out = tmp_path / "data"
    env = _env(PRESET="smoke", OUT=str(out), SUBSETS="stage3 eval", NUM_PAIRS="4", DIG_KIT_SET=" ".join(TINY_DATA))
    res = _sbatch("render.sbatch", ["--array=0-1", f"--output={tmp_path}/render-%A_%a.log"], env)
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("render-*.log")))
    assert res.returncode == 0, res.stderr + logs
    assert "--shard 0/2" in logs and "--shard 1/2" in logs and "--workers auto" in logs
    assert sorted(p.name for p in (out / "stage3").iterdir()) == ["shard-00000-of-00002", "shard-00001-of-00002"]
    for subset in ("stage3", "eval"):
        rows = _rows(out, subset)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)) == 4  # every pair exactly once
        key = lambda r: (r["id"], json.dumps(r["differences"], sort_keys=True), r["after_scene"])  # noqa: E731
        assert sorted(map(key, rows)) == sorted(map(key, _rows(reference, subset)))  # as one process renders them
    import datasets

    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf_cache"))
    assert {k: len(v) for k, v in ds.items()} == {"stage3": 4, "eval": 4}
    assert ds["stage3"][0]["before"].size == (96, 64)


# -- train.sbatch: stage 1 on 2 "nodes" --------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.blender
def test_train_on_two_nodes_runs_stage_one(reference, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    from dig_kit.launcher import free_port
    from dig_kit.models.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny-model")
    run = tmp_path / "runs" / "train"
    overrides = TINY_DATA + [
        f"train.model={model}",
        "train.max_completion_length=8",
        "train.prompts_per_step=2",
        "train.num_generations=2",
        "train.per_device_batch=2",
        "train.stage_steps=[2,1,1]",
    ]
    # MAIN_ADDR is left to the template: the first host scontrol names (localhost here)
    env = _env(
        PRESET="smoke",
        DATA=str(reference),
        OUT=str(run),
        STAGES="1",
        MAIN_PORT=str(free_port()),
        DIG_KIT_SET=" ".join(overrides),
    )
    res = _sbatch("train.sbatch", [f"--output={tmp_path}/train-%j.log"], env, timeout=600)
    job_log = "".join(p.read_text() for p in tmp_path.glob("train-*.log"))
    assert res.returncode == 0, res.stderr + job_log[-5000:]
    stage = run / "stage1"
    launch = json.loads((stage / "launch.json").read_text())  # written by node 0
    assert launch["status"] == "finished" and launch["machine_rank"] == 0 and launch["main_address"] == "localhost"
    assert launch["nodes"] == 2 and launch["processes"] == 1 and launch["world_size_launched"] == 2
    assert launch["trainer"]["world_size"] == 2 and launch["world_size"] == 2
    assert (
        "--num_machines" in launch["command"]
        and launch["command"][launch["command"].index("--num_machines") + 1] == "2"
    )
    steps = [
        json.loads(line)["step"]
        for line in (stage / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["split"] == "train"
    ]
    assert steps == [1, 2]  # each metric row once, though two nodes trained
    from safetensors import safe_open

    with (
        safe_open(str(stage / "final" / "model.safetensors"), "pt") as a,
        safe_open(str(Path(model) / "model.safetensors"), "pt") as b,
    ):
        assert set(a.keys()) == set(b.keys())  # full weights, not a shard
    logs = run.parent / "logs"
    for node in (0, 1):
        log = (logs / f"train-stage1-node{node}.log").read_text()
        assert f"--machine_rank {node}" in log
    assert (stage / "launch-config-node1.yaml").exists()
    deadline = time.time() + 20
    while time.time() < deadline and ours(str(tmp_path)):
        time.sleep(0.5)
    assert ours(str(tmp_path)) == []  # no process left behind on any "node"


def test_evaluate_template_shards_over_tasks_then_merges_and_scores(tmp_path):
    """evaluate.sbatch on 2 srun tasks (the dummy backend: no model): every item generated once,
    the part files merged, the same per-item scores as one `dig-kit evaluate`."""
    from dig_kit.paper.benchmark_fixtures import write_smoke_suite

    data = tmp_path / "bench"
    write_smoke_suite(data)
    out = tmp_path / "eval" / "dummy model"
    (tmp_path / "logs").mkdir()
    env = _env(
        MODEL="dummy-model",
        OUT=str(out),
        DATA=str(data),
        BENCHMARKS="pope mmstar",
        BACKEND="dummy",
        EXTRA="--batch-size 2",
    )
    res = _sbatch("evaluate.sbatch", ["--ntasks-per-node=2", f"--output={tmp_path}/logs/eval-%j.log"], env)
    assert res.returncode == 0, res.stderr + "".join(p.read_text() for p in (tmp_path / "logs").glob("*"))
    assert not list(out.glob("*.part-*"))
    one = tmp_path / "one"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dig_kit.cli",
            "evaluate",
            "--model",
            "dummy-model",
            "--data",
            str(data),
            "--out",
            str(one),
            "--backend",
            "dummy",
            "--batch-size",
            "2",
            "--benchmark",
            "pope",
            "--benchmark",
            "mmstar",
            "--quiet",
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    assert len(list(out.glob("scores-*.jsonl"))) == 2
    assert sorted(p.read_text() for p in out.glob("scores-*.jsonl")) == sorted(
        p.read_text() for p in one.glob("scores-*.jsonl")
    )
    summary = json.loads(next(out.glob("summary-*.json")).read_text())
    assert set(summary) == {"pope", "mmstar"} and all(m["n"] > 0 for m in summary.values())


def test_submit_paper_chains_the_jobs_by_their_dependencies(tmp_path):
    """submit_paper.sh with a recording sbatch: five jobs, each after what it reads."""
    log = tmp_path / "calls"
    fake = tmp_path / "sbatch"
    fake.write_text(
        "#!/bin/bash\nn=$(( $(wc -l < " + str(log) + " 2>/dev/null || echo 0) + 100 ))\n"
        'echo "$n MODEL=${MODEL:-} OUT=${OUT:-} $*" >> ' + str(log) + '\necho "$n;cluster"\n'
    )
    fake.chmod(0o755)
    log.touch()
    res = subprocess.run(
        ["bash", str(ROOT / "configs" / "slurm" / "submit_paper.sh")],
        env=_env(SBATCH=str(fake)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    calls = log.read_text().splitlines()
    assert [c.split()[-1].rsplit("/", 1)[-1] for c in calls] == [
        "render.sbatch",
        "train.sbatch",
        "evaluate.sbatch",
        "evaluate.sbatch",
        "reproduce.sbatch",
    ]
    assert "--dependency=afterok:100 " in calls[1]  # train after render
    assert "MODEL=Qwen/Qwen3-VL-4B-Thinking" in calls[2] and "--dependency" not in calls[2]
    assert "MODEL=runs/paper/train/stage3/final OUT=runs/paper/eval/Qwen3-VL-4B + DiG (this kit)" in calls[3]
    assert "--dependency=afterok:101 " in calls[3]  # the trained model after training
    assert "--dependency=afterok:102:103 " in calls[4]
    from dig_kit.paper.pipeline import steps

    labels = next(
        s.params["models"] for s in steps("paper", Path("runs/paper"), Path("figures")) if s.name == "evaluate"
    )
    assert sorted(labels) == sorted(["Qwen3-VL-4B-Thinking", "Qwen3-VL-4B + DiG (this kit)"])  # notebook 04 finds them
