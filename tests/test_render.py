"""Blender rendering at tiny resolution: exact boxes, visibility, diff concentration, resume, shards."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dig_kit.config import load_config
from dig_kit.data.reader import METADATA, read_rows
from dig_kit.data.writer import render_dataset
from dig_kit.scenes import SceneSpec

pytestmark = pytest.mark.blender
bpy = pytest.importorskip("bpy")

TINY = ["data.render.width=96", "data.render.height=64", "data.render.samples=4",
        "data.render.min_visible_pixels=6", "data.scene.max_objects=6"]
DIG_KIT = [sys.executable, "-m", "dig_kit.cli"]


@pytest.fixture(scope="module")
def renderer():
    from dig_kit.render.blender import BlenderRenderer

    return BlenderRenderer(load_config("smoke", TINY).data.render)


def _one_object_scene(shape, x=0.0, y=0.0):
    return SceneSpec.from_dict({"objects": [{"id": 0, "shape": shape, "color": "red", "size": "large",
                                             "material": "matte", "x": x, "y": y, "rotation": 30.0}]})


@pytest.mark.parametrize("shape", ["cube", "sphere", "cylinder"])
def test_box_is_tight_on_an_unoccluded_object(renderer, tmp_path, shape):
    scene = _one_object_scene(shape, 0.5, -0.5)
    index = renderer.render(scene, tmp_path / "a.png")
    ys, xs = np.nonzero(index == 1)
    assert len(xs) > 50
    x1, y1, x2, y2 = renderer.project_boxes(scene)[0]
    # pixel i covers [i, i+1); allow one pixel for the pixel filter / partial coverage
    assert abs(xs.min() - x1) <= 1.0 and abs(ys.min() - y1) <= 1.0
    assert abs(xs.max() + 1 - x2) <= 1.0 and abs(ys.max() + 1 - y2) <= 1.0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    cfg = load_config("smoke", TINY)
    summary = render_dataset(cfg, out, subsets=["stage1", "stage3"], num_pairs=3, workers=1, progress=False)
    assert summary["rendered"] == 6
    return out


def _rows(out):
    return [r for m in sorted(Path(out).glob(f"*/*/{METADATA}")) for r in read_rows(m)]


def _index_of(renderer, scene_json, tmp_path):
    return renderer.render(SceneSpec.from_json(scene_json), tmp_path / "x.png")


def test_boxes_contain_visible_pixels_and_changes_are_visible(dataset, renderer, tmp_path):
    cfg = load_config("smoke", TINY)
    for row in _rows(dataset):
        idx_b = _index_of(renderer, row["before_scene"], tmp_path)
        idx_a = _index_of(renderer, row["after_scene"], tmp_path)
        assert row["boxes"] == [d["bbox"] for d in row["differences"]]
        for d in row["differences"]:
            idx = idx_a if d["type"] == "add" else idx_b
            ys, xs = np.nonzero(idx == d["object_id"] + 1)
            x1, y1, x2, y2 = d["bbox"]
            assert xs.min() >= x1 - 1 and xs.max() + 1 <= x2 + 1 and ys.min() >= y1 - 1 and ys.max() + 1 <= y2 + 1
            assert d["visible_pixels_before"] == int((idx_b == d["object_id"] + 1).sum())
            seen = {"add": d["visible_pixels_after"], "remove": d["visible_pixels_before"]}.get(
                d["type"], min(d["visible_pixels_before"], d["visible_pixels_after"]))
            assert seen >= cfg.data.render.min_visible_pixels


def test_pixel_difference_concentrates_in_boxes(dataset):
    inside_share = []
    for row in _rows(dataset):
        root = Path(dataset) / row["subset"] / "shard-00000-of-00001"
        a = np.asarray(Image.open(root / row["before_file_name"]), dtype=np.float32)
        b = np.asarray(Image.open(root / row["after_file_name"]), dtype=np.float32)
        diff = np.abs(a - b).sum(-1)
        mask = np.zeros(diff.shape, bool)
        for x1, y1, x2, y2 in row["boxes"]:
            mask[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = True
        changed = diff > 30  # clearly changed pixels (sum over RGB)
        assert changed.sum() > 0, row["id"]
        inside_share.append((changed & mask).sum() / changed.sum())
        # per-pixel change is far stronger inside the boxes than outside (shadows, reflections)
        assert diff[mask].mean() > 3 * diff[~mask].mean(), row["id"]
    assert np.mean(inside_share) > 0.6, inside_share


def test_dataset_loads_with_hf_datasets(dataset, tmp_path):
    import datasets

    # a private cache: a shared one could hold rows of an older run at the same temp path
    ds = datasets.load_dataset(str(dataset), cache_dir=str(tmp_path / "hf_cache"))
    assert set(ds) == {"stage1", "stage3"}
    row = ds["stage1"][0]
    assert row["before"].size == (96, 64) and row["num_differences"] == 1
    assert {"id", "seed", "subset", "before", "after", "width", "height", "differences", "before_scene",
            "after_scene"} <= set(row)
    d = row["differences"][0]
    assert {"type", "bbox", "before", "after", "visible_pixels_before", "visible_pixels_after"} <= set(d)
    assert (Path(dataset) / "config.yaml").exists()


def test_shards_merge_into_the_same_dataset(dataset, tmp_path):
    cfg = load_config("smoke", TINY)
    for i in range(2):
        render_dataset(cfg, tmp_path, subsets=["stage1", "stage3"], num_pairs=3, shard=(i, 2), progress=False)
    strip = lambda rows: sorted((r["id"], json.dumps(r["differences"]), r["after_scene"]) for r in rows)  # noqa: E731
    assert strip(_rows(tmp_path)) == strip(_rows(dataset))  # deterministic: same pairs, same boxes
    # an unsharded run over the merged tree renders nothing new
    assert render_dataset(cfg, tmp_path, subsets=["stage1", "stage3"], num_pairs=3, progress=False)["rendered"] == 0


def test_killed_render_resumes_without_duplicates(tmp_path):
    out = tmp_path / "ds"
    args = DIG_KIT + ["render", "--preset", "smoke", "--out", str(out), "--subset", "stage3", "--num-pairs", "6",
                      "--quiet"] + [a for o in TINY for a in ("--set", o)]
    meta = out / "stage3" / "shard-00000-of-00001" / METADATA
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(read_rows(meta)) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(read_rows(meta))
    assert 2 <= n_before < 6, "the kill should land mid-run"
    with open(meta, "a") as f:  # a torn last line, as from a crash mid-write
        f.write('{"id": "stage3-0200')
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = read_rows(meta)
    ids = [r["id"] for r in rows]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert meta.read_bytes().endswith(b"\n")
    for r in rows:
        assert (meta.parent / r["before_file_name"]).exists() and (meta.parent / r["after_file_name"]).exists()
    assert not list(meta.parent.glob("images/.*.tmp.png")), "the killed pair's temp files were not replaced"


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.render.width=0", "data.render.width: must be > 0"),
        ("data.scene.max_objects=11", "data.scene.max_objects"),
        ("data.subsets.stage1.max_differences=5", "data.subsets.stage1.max_differences"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(tmp_path, override, message):
    out = tmp_path / "never"
    res = subprocess.run(DIG_KIT + ["render", "--out", str(out), "--set", override], capture_output=True, text=True)
    assert res.returncode == 2 and message in res.stderr
    assert not out.exists()


def test_a_dataset_dir_refuses_another_config(dataset):
    res = subprocess.run(DIG_KIT + ["render", "--out", str(dataset), "--set", "data.seed=99"] +
                         [a for o in TINY for a in ("--set", o)], capture_output=True, text=True)
    assert res.returncode == 2 and "different config" in res.stderr


def test_rerender_from_a_jittered_view(renderer, tmp_path):
    """TWIN-style positives: the same objects under another camera and light give another image."""
    from dig_kit.scenes import jitter_view, sample_scene

    cfg = load_config("smoke", TINY).data
    scene = sample_scene(cfg.scene, np.random.default_rng(3))
    other = jitter_view(scene, cfg.scene, np.random.default_rng(4))
    idx_a = renderer.render(scene, tmp_path / "a.png")
    idx_b = renderer.render(other, tmp_path / "b.png")
    assert other.objects == scene.objects
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))
    assert set(np.unique(idx_a)) - {0} and set(np.unique(idx_b)) - {0}
