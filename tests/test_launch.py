"""Stages launched as child process trees (train.launch), the process-tree guard and the run lock."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from processes import lock_holder, ours, wait_gone

from dig_kit.config import ConfigError, load_config

ROOT = Path(__file__).parents[1]


def _rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


# -- which processes a stage starts ----------------------------------------------------------
def test_launch_plan_reads_processes_nodes_and_the_visible_gpus(monkeypatch):
    from dig_kit.launcher import visible_gpus
    from dig_kit.train.launch import launch_plan

    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1,2", "PATH": ""}) == ["0", "1", "2"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "", "PATH": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "3,-1,4", "PATH": ""}) == ["3"]  # CUDA stops at -1
    paper = load_config("paper")
    plan = launch_plan(paper, gpus=[str(i) for i in range(8)])
    assert plan["launched"] and plan["processes"] == 8 and plan["world_size"] == 8
    assert plan["accelerate_config"].endswith("configs/accelerate/fsdp_full_shard.yaml")
    one = launch_plan(paper, gpus=[])  # auto without GPUs: one process, in the caller
    assert not one["launched"] and one["processes"] == 1
    two_nodes = load_config(
        "paper", ["train.launch.nodes=2", "train.launch.machine_rank=1", "train.launch.main_address=10.0.0.1"]
    )
    assert launch_plan(two_nodes, gpus=["0", "1"])["world_size"] == 4
    assert launch_plan(load_config("smoke", ["train.launch.processes=2"]), gpus=[])["launched"]


def test_visible_gpus_asks_nvidia_smi_when_cuda_visible_devices_is_unset(tmp_path):
    from dig_kit.launcher import visible_gpus

    smi = tmp_path / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\necho 'GPU 0: NVIDIA H200 (UUID: GPU-a)'\necho '  MIG 1g.18gb Device 0: (UUID: MIG-b)'\n"
        "echo 'GPU 1: NVIDIA H200 (UUID: GPU-c)'\n"
    )
    smi.chmod(0o755)
    assert visible_gpus({"PATH": str(tmp_path)}) == ["0", "1"]
    assert visible_gpus({"PATH": str(tmp_path / "none")}) == []


@pytest.mark.parametrize(
    "override, field",
    [
        ("train.launch.processes=0", "train.launch.processes"),
        ("train.launch.processes=many", "train.launch.processes"),
        ("train.launch.nodes=2", "train.launch.main_address"),
        ("train.launch.machine_rank=1", "train.launch.machine_rank"),
    ],
)
def test_bad_launch_settings_name_the_field(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config("smoke", [override])


def test_an_unknown_accelerate_config_is_refused_before_anything_runs():
    from dig_kit.train.launch import launch_plan

    cfg = load_config("smoke", ["train.launch.processes=2", "train.launch.accelerate_config=fsdp_ful_shard"])
    with pytest.raises(ConfigError, match="no config named 'fsdp_ful_shard'.*fsdp_full_shard"):
        launch_plan(cfg, gpus=[])


# -- the guard ----------------------------------------------------------------------------------
def test_the_guard_ends_a_tree_whose_launcher_was_killed(tmp_path):
    """A launching process killed outright (papermill's timeout kills the kernel): the guard
    ends the whole tree below it, grandchildren in sessions of their own included."""
    marker = str(tmp_path / "sleeper")
    script = textwrap.dedent(f"""
        import subprocess, sys
        from dig_kit.launcher import ChildTree
        inner = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                 "'import time; time.sleep(300)', 'grandchild', {marker!r}], start_new_session=True); time.sleep(300)")
        ChildTree([sys.executable, "-c", inner, {marker!r}], {str(tmp_path / "log")!r}).run()
    """)
    kernel = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 30
    while time.time() < deadline and not any(" grandchild " in p for p in ours(marker)):
        time.sleep(0.2)
    assert len(ours(marker)) == 4, ours(marker)  # the kernel, the guard, the command, its grandchild
    kernel.kill()
    kernel.wait()
    assert wait_gone(marker) == []


def test_interrupting_the_caller_ends_the_tree_and_a_failure_shows_the_log(tmp_path):
    from dig_kit.launcher import ChildTree

    marker = str(tmp_path / "sleeper")
    tree = ChildTree(
        [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(300)", marker], tmp_path / "log"
    )
    polls = []

    def poll():
        polls.append(1)
        if len(polls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tree.run(on_poll=poll, interval=0.2)
    assert wait_gone(marker, 5) == []
    assert "started" in (tmp_path / "log").read_text()
    rc = ChildTree(
        [sys.executable, "-c", "import sys; print('bad input', flush=True); sys.exit(3)"], tmp_path / "log2"
    ).run()
    assert rc == 3 and "bad input" in (tmp_path / "log2").read_text()


# -- the run lock ------------------------------------------------------------------------------
def test_a_second_run_on_a_locked_directory_is_refused_naming_the_holder(tmp_path, capsys):
    from dig_kit.runlock import RunLockError, run_lock

    runs = tmp_path / "runs" / "smoke"
    holder = lock_holder(runs, "dig-kit reproduce --profile smoke")
    try:
        for where in (runs, runs / "train", tmp_path / "runs"):  # the dir, one below, one above
            with pytest.raises(RunLockError, match=f"pid {holder.pid} .*dig-kit reproduce --profile smoke"):
                with run_lock(where, "a second run"):
                    pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(runs, "after the holder was killed"):  # its lock is stale: taken over
        assert json.loads((runs / ".dig-kit.lock").read_text())["command"] == "after the holder was killed"
    assert "taking over the lock of a run that is no longer running" in capsys.readouterr().err
    assert not (runs / ".dig-kit.lock").exists()


def test_processes_of_the_holder_work_under_its_lock(tmp_path):
    """A kernel started by reproduce inherits its token: its stage may lock the run dir below."""
    from dig_kit.runlock import run_lock

    runs = tmp_path / "runs"
    with run_lock(runs, "reproduce"):
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
            from dig_kit.runlock import run_lock
            with run_lock({str(runs / "train")!r}, "stage 1"):
                print("ok")
        """),
            ],
            capture_output=True,
            text=True,
        )
        assert child.returncode == 0 and child.stdout.strip() == "ok", child.stderr
        clean_env = {k: v for k, v in os.environ.items() if k != "DIG_KIT_LOCKS"}
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
            from dig_kit.runlock import run_lock
            with run_lock({str(runs / "train")!r}, "stage 1 from JupyterLab"):
                pass
        """),
            ],
            capture_output=True,
            text=True,
            env=clean_env,
        )
        assert other.returncode != 0 and "is in use by another run" in other.stderr


# -- a stage on 2 CPU processes ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    pytest.importorskip("bpy")
    from dig_kit.data.writer import render_dataset
    from dig_kit.models.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("launch")
    data_overrides = [
        "data.render.width=96",
        "data.render.height=64",
        "data.render.samples=2",
        "data.render.min_visible_pixels=6",
        "data.scene.max_objects=5",
    ]
    model = build_tiny_model(root / "tiny-model")
    render_dataset(load_config("smoke", data_overrides), root / "data", num_pairs=3, progress=False)
    overrides = data_overrides + [
        f"train.model={model}",
        "train.max_completion_length=8",
        "train.prompts_per_step=2",
        "train.num_generations=2",
        "train.per_device_batch=2",
        "train.launch.processes=2",
    ]
    return {"model": model, "data": root / "data", "overrides": overrides}


def _kernel(tiny, run_dir, extra=(), model=None):
    """A stand-in notebook kernel: the notebook's own call, in a fresh interpreter."""
    overrides = list(tiny["overrides"]) + list(extra)
    return textwrap.dedent(f"""
        import sys
        from dig_kit.config import load_config
        from dig_kit.train.grpo import run_stage
        cfg = load_config("smoke", {overrides!r})
        final = run_stage(cfg, 1, {str(tiny["data"])!r}, {str(run_dir)!r}, model={model!r})
        print("FINAL", final)
        print("TORCH", "torch" in sys.modules)
    """)


@pytest.mark.slow
def test_a_stage_launched_on_two_processes_from_the_kernel(tiny, tmp_path):
    run_dir = tmp_path / "runs" / "smoke" / "train"
    res = subprocess.run(
        [sys.executable, "-c", _kernel(tiny, run_dir, ["train.stage_steps=[3, 1, 1]"])],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"FINAL {run_dir / 'stage1' / 'final'}" in res.stdout
    assert "TORCH False" in res.stdout  # the kernel never imported torch, so it holds no GPU
    launch = json.loads((run_dir / "stage1" / "launch.json").read_text())
    assert launch["mode"] == "launched" and launch["processes"] == 2 and launch["nodes"] == 1
    assert launch["world_size"] == 2 and launch["trainer"]["world_size"] == 2 and launch["status"] == "finished"
    assert launch["command"][1:3] == ["-m", "accelerate.commands.launch"] and "--num_processes" in launch["command"]
    log = tmp_path / "runs" / "smoke" / "logs" / "train-stage1.log"
    assert Path(launch["log"]) == log and "train_runtime" in log.read_text()
    assert [r["step"] for r in _rows(run_dir / "stage1" / "metrics.jsonl") if r["split"] == "train"] == [1, 2, 3]
    from safetensors import safe_open

    with (
        safe_open(str(run_dir / "stage1" / "final" / "model.safetensors"), "pt") as a,
        safe_open(str(Path(tiny["model"]) / "model.safetensors"), "pt") as b,
    ):
        assert set(a.keys()) == set(b.keys())  # full weights, not a shard
    assert wait_gone(str(run_dir), 10) == []


def _as_a_kernel_starts() -> None:
    """A Jupyter kernel receives SIGINT (its interrupt): whatever the test runner's process has
    ignored or blocked at that moment is not passed on to the stand-in kernel."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_an_interrupted_launch_leaves_no_process_and_resumes(tiny, tmp_path, how):
    """SIGINT: a kernel interrupt (KeyboardInterrupt in the cell); SIGKILL: papermill's timeout
    or a killed kernel. Either way no rank survives, and the rerun resumes from the last
    complete checkpoint with every metric row once."""
    run_dir = tmp_path / "train"
    extra = ["train.stage_steps=[30, 1, 1]", "train.save_steps=1"]
    kernel = subprocess.Popen(
        [sys.executable, "-c", _kernel(tiny, run_dir, extra)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_a_kernel_starts,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (run_dir / "stage1" / "checkpoint-3").exists():
        time.sleep(0.2)
    assert (run_dir / "stage1" / "checkpoint-3").exists()
    assert len(ours(str(run_dir))) >= 3  # the kernel, the guard, accelerate, the ranks
    kernel.send_signal(getattr(signal, how))
    _, err = kernel.communicate(timeout=120)
    if how == "SIGINT":
        assert "KeyboardInterrupt" in err
        assert json.loads((run_dir / "stage1" / "launch.json").read_text())["status"] == "interrupted"
    assert wait_gone(str(run_dir)) == []
    assert not (run_dir / "stage1" / "final").exists()
    res = subprocess.run(
        [sys.executable, "-c", _kernel(tiny, run_dir, extra)], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    steps = [r["step"] for r in _rows(run_dir / "stage1" / "metrics.jsonl") if r["split"] == "train"]
    assert steps == list(range(1, 31))  # a restart from scratch would log its first steps twice
    log = (run_dir.parent / "logs" / "train-stage1.log").read_text()
    assert log.count("==== ") == 2  # both launches, one log


@pytest.mark.slow
def test_a_failed_launch_raises_with_the_end_of_its_log(tiny, tmp_path):
    import shutil

    broken = tmp_path / "broken-model"
    shutil.copytree(tiny["model"], broken)
    (broken / "config.json").write_text('{"model_type": "qwen3_vl", "text_config": ')  # a torn file
    run_dir = tmp_path / "train"
    res = subprocess.run(
        [sys.executable, "-c", _kernel(tiny, run_dir, model=str(broken))], capture_output=True, text=True, timeout=600
    )
    assert res.returncode != 0
    message = res.stderr[res.stderr.index("LaunchError: stage 1 failed (exit code") :]
    assert "the error:" in message and "JSON" in message.split("The launch is recorded")[0]
    assert json.loads((run_dir / "stage1" / "launch.json").read_text())["status"].startswith("failed")
    assert wait_gone(str(run_dir), 10) == []
