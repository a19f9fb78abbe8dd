"""Blender workers on a GPU node: ``--workers auto`` = one worker per visible GPU, each started
with ``CUDA_VISIBLE_DEVICES`` = its GPU; N workers round-robin; ``device: cpu`` pins nothing.

On this CPU machine ``CUDA_VISIBLE_DEVICES=0,1`` stands in for two GPUs: the kit then plans two
pinned workers, and Cycles, finding no GPU, renders on the CPU (``device: auto``)."""

import json
import os
import subprocess
import sys

import pytest

from dig_kit.config import ConfigError, load_config
from dig_kit.data.reader import METADATA, read_rows
from dig_kit.render.pool import render_gpus, worker_gpus

TINY = [
    "data.render.width=64",
    "data.render.height=48",
    "data.render.samples=1",
    "data.render.min_visible_pixels=4",
    "data.scene.max_objects=4",
]


# -- the plan: pure ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "workers, gpus, expected",
    [
        ("auto", ["0", "1"], ["0", "1"]),  # one worker per GPU
        ("auto", ["3", "5", "7"], ["3", "5", "7"]),  # the ids CUDA_VISIBLE_DEVICES gave, not 0..n-1
        ("auto", [], [None]),  # no GPU: one unpinned worker (Cycles uses every core)
        (3, ["0", "1"], ["0", "1", "0"]),  # N workers round-robin over the GPUs
        (1, ["0", "1"], ["0"]),
        (2, [], [None, None]),  # no GPU: N unpinned workers, as before
        ("4", ["GPU-a", "MIG-b"], ["GPU-a", "MIG-b", "GPU-a", "MIG-b"]),  # UUIDs pass through; "4" from papermill
    ],
)
def test_worker_gpu_assignment(workers, gpus, expected):
    assert worker_gpus(workers, gpus) == expected


@pytest.mark.parametrize("bad", [0, -1, "many", "", None, 1.5, True])
def test_bad_worker_counts_are_refused(bad):
    with pytest.raises(ConfigError, match="workers="):
        worker_gpus(bad, ["0"])


def test_only_a_gpu_or_auto_render_device_looks_at_the_gpus():
    env = {"CUDA_VISIBLE_DEVICES": "0,1", "PATH": ""}
    assert render_gpus("auto", env) == ["0", "1"] and render_gpus("gpu", env) == ["0", "1"]
    assert render_gpus("cpu", env) == []
    assert render_gpus("auto", {"CUDA_VISIBLE_DEVICES": "", "PATH": ""}) == []


def test_the_cli_takes_auto_or_a_number():
    from dig_kit.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["render", "--out", "x", "--workers", "auto"]).workers == "auto"
    assert parse(["render-twin", "--out", "x", "--workers", "3"]).workers == 3
    assert parse(["render", "--out", "x"]).workers == 1
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            parse(["render", "--out", "x", "--workers", bad])


def test_a_bad_worker_count_fails_before_anything_is_written(tmp_path):
    from dig_kit.data.writer import render_dataset

    with pytest.raises(ConfigError, match="workers="):
        render_dataset(load_config("smoke", TINY), tmp_path / "ds", num_pairs=1, workers=0, progress=False)
    assert not (tmp_path / "ds").exists()


# -- real workers ---------------------------------------------------------------------------------
def _ids(out):
    return sorted(r["id"] for m in out.glob(f"*/*/{METADATA}") for r in read_rows(m))


@pytest.mark.blender
def test_auto_starts_one_pinned_worker_per_visible_gpu_and_renders(tmp_path):
    pytest.importorskip("bpy")
    out = tmp_path / "ds"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"}
    sets = [a for kv in TINY + ["data.render.device=auto"] for a in ("--set", kv)]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "dig_kit.cli",
            "render",
            "--preset",
            "smoke",
            *sets,
            "--out",
            str(out),
            "--subset",
            "stage1",
            "--subset",
            "stage3",
            "--num-pairs",
            "2",
            "--workers",
            "auto",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    # two workers, pinned to GPU "0" and "1"; Cycles found no GPU behind them, so each renders on the CPU
    assert summary["workers"] == [{"gpu": "0", "device": "cpu"}, {"gpu": "1", "device": "cpu"}]
    assert summary["rendered"] == 4
    assert _ids(out) == ["stage1-00000000", "stage1-00000001", "stage3-02000000", "stage3-02000001"]
    import datasets

    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf_cache"))
    assert {k: len(v) for k, v in ds.items()} == {"stage1": 2, "stage3": 2}
    assert ds["stage1"][0]["before"].size == (64, 48)


@pytest.mark.blender
def test_each_worker_sees_only_its_gpu(monkeypatch):
    """What the workers themselves report: their CUDA_VISIBLE_DEVICES and render device."""
    pytest.importorskip("bpy")
    from dig_kit.config import to_dict
    from dig_kit.render.pool import RenderPool

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    cfg = to_dict(load_config("smoke", TINY + ["data.render.device=auto"]))
    with RenderPool(cfg, 3, threads=1) as pool:  # 3 workers over 2 GPUs: round-robin
        assert pool.workers_info == [{"gpu": g, "device": "cpu", "cuda_visible_devices": g} for g in ("0", "1", "0")]


@pytest.mark.blender
def test_a_cpu_render_device_ignores_the_gpus(tmp_path, monkeypatch):
    pytest.importorskip("bpy")
    from dig_kit.data.writer import render_dataset

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    summary = render_dataset(
        load_config("smoke", TINY + ["data.render.device=cpu"]),
        tmp_path,
        subsets=["stage1"],
        num_pairs=1,
        workers="auto",
        progress=False,
    )
    assert summary["workers"] == [{"gpu": None, "device": "cpu"}]  # 1 worker, not pinned
    assert summary["rendered"] == 1
    # nothing left to render: no worker starts
    assert (
        render_dataset(
            load_config("smoke", TINY + ["data.render.device=cpu"]),
            tmp_path,
            subsets=["stage1"],
            num_pairs=1,
            workers="auto",
            progress=False,
        )["workers"]
        == []
    )
