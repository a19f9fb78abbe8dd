"""TWIN same-or-not data: item semantics (pure), rendering, loaders, training with the binary reward."""

import json

import numpy as np
import pytest
from PIL import Image

from dig_kit.config import ConfigError, load_config
from dig_kit.scenes import SceneSpec
from dig_kit.scenes.twin import is_positive, sample_twin_item

CFG = load_config("twin")


@pytest.mark.parametrize("question", ["pair", "multi"])
def test_items_mean_what_they_say(question):
    for index in range(60):
        item = sample_twin_item(CFG.data, CFG.twin, 1000 + index, index, question)
        assert len(item.candidates) == (1 if question == "pair" else 3)
        for c in item.candidates:
            if c.kind == "positive":  # same instance: identical objects, another camera
                assert c.scene.objects == item.reference.objects and c.scene.camera != item.reference.camera
                assert c.change is None
            elif c.kind == "hard":  # exactly one recorded change, nothing else
                d = c.change
                ref, cand = {o.id: o for o in item.reference.objects}, {o.id: o for o in c.scene.objects}
                touched = {k for k in ref.keys() | cand.keys() if ref.get(k) != cand.get(k)}
                assert touched == {d.object_id}, (touched, d)
                assert c.scene.camera != item.reference.camera
            else:
                assert c.kind == "easy" and c.change is None
        same = sum(c.kind == "positive" for c in item.candidates)
        assert item.answer == (("yes" if same else "no") if question == "pair" else str(same))


def test_pair_labels_are_exactly_balanced_and_deterministic():
    labels = [sample_twin_item(CFG.data, CFG.twin, 5000 + k, k, "pair").answer for k in range(40)]
    assert labels.count("yes") == 20
    assert all(is_positive(k, 0.5) == (labels[k] == "yes") for k in range(40))
    a = sample_twin_item(CFG.data, CFG.twin, 77, 3, "multi")
    b = sample_twin_item(CFG.data, CFG.twin, 77, 3, "multi")
    assert a.reference == b.reference and [c.scene for c in a.candidates] == [c.scene for c in b.candidates]


def test_no_hard_negatives_ablation_config():
    cfg = load_config("twin", ["twin.hard_fraction=0"])
    kinds = {c.kind for k in range(40) for c in sample_twin_item(cfg.data, cfg.twin, 9000 + k, k, "pair").candidates}
    assert kinds == {"positive", "easy"}


# -- loaders ------------------------------------------------------------------------------
def _hf_twin_folder(path, columns=("images", "question", "answer", "question_type", "source")):
    import datasets

    img = Image.new("RGB", (16, 16), (200, 30, 30))
    data = {
        "images": [[img, img], [img, img, img, img]],
        "question": ["Same?", "How many?"],
        "answer": ["Yes", "2"],
        "question_type": ["pair", "multi"],
        "source": ["twin", "twin"],
    }
    features = datasets.Features(
        {
            "images": datasets.Sequence(datasets.Image()),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "question_type": datasets.Value("string"),
            "source": datasets.Value("string"),
        }
    )
    ds = datasets.Dataset.from_dict(
        {k: v for k, v in data.items() if k in columns}, features=datasets.Features({k: features[k] for k in columns})
    )
    datasets.DatasetDict({"train": ds}).save_to_disk(str(path))
    return path


def test_loader_reads_the_published_format_and_names_what_is_missing(tmp_path):
    from dig_kit.data.reader import load_twin_split
    from dig_kit.train.data import to_twin_rows

    rows = to_twin_rows(load_twin_split(_hf_twin_folder(tmp_path / "twin"), "train"))
    assert rows[0]["answer"] == "yes" and len(rows[1]["images"]) == 4
    content = rows[1]["prompt"][0]["content"]
    assert [p["type"] for p in content] == ["image"] * 4 + ["text"]
    with pytest.raises(ConfigError, match=r"missing \['answer'\]"):
        load_twin_split(_hf_twin_folder(tmp_path / "bad", ("images", "question")), "train")
    with pytest.raises(ConfigError, match="TWIN data not found"):
        load_twin_split(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no 'test' split"):
        load_twin_split(tmp_path / "twin", "test")


# -- rendering and training (Blender, tiny model) -----------------------------------------
TINY = [
    "data.render.width=96",
    "data.render.height=64",
    "data.render.samples=2",
    "data.render.min_visible_pixels=6",
    "data.scene.max_objects=5",
]


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory):
    pytest.importorskip("bpy")
    from dig_kit.data.writer import render_dataset

    out = tmp_path_factory.mktemp("twin")
    render_dataset(load_config("smoke", TINY), out, num_pairs=4, kind="twin", progress=False)
    return out


@pytest.mark.blender
def test_rendered_items_hold_their_promises(twin_dir):
    import datasets

    ds = datasets.load_dataset(str(twin_dir), cache_dir=str(twin_dir / ".hf_cache"))
    assert set(ds) == {"train", "eval", "eval_multi"}
    assert sorted(ds["train"]["answer"]) == ["no", "no", "yes", "yes"]
    for row in list(ds["train"]) + list(ds["eval_multi"]):
        scenes = [SceneSpec.from_json(s) for s in row["scenes"]]
        pixels = [np.asarray(im, dtype=np.int16) for im in row["images"]]
        for k, kind in enumerate(row["candidate_kinds"], 1):
            assert np.abs(pixels[0] - pixels[k]).sum() > 0  # never the identical image
            if kind == "positive":
                assert scenes[k].objects == scenes[0].objects
            if kind == "hard":
                change = row["changes"][k - 1]
                seen = {"add": change["visible_pixels_after"], "remove": change["visible_pixels_before"]}.get(
                    change["type"], min(change["visible_pixels_before"], change["visible_pixels_after"])
                )
                assert seen >= 6, change  # the change is visible in the rendered image(s)
        if row["question_type"] == "multi":
            assert row["answer"] == str(row["candidate_kinds"].count("positive"))


@pytest.mark.blender
@pytest.mark.slow
def test_twin_and_mixed_training_runs(twin_dir, tmp_path):
    pytest.importorskip("trl")
    from dig_kit.data.writer import render_dataset
    from dig_kit.models.tiny import build_tiny_model
    from dig_kit.train.grpo import run_stage

    model = build_tiny_model(tmp_path / "tiny")
    common = TINY + [
        f"train.model={model}",
        "train.max_completion_length=8",
        "train.prompts_per_step=2",
        "train.num_generations=2",
        "train.per_device_batch=4",
    ]
    cfg = load_config("smoke", common + ["train.task=twin", "train.epochs=1"])
    final = run_stage(cfg, 1, twin_dir, tmp_path / "twin_run")
    rows = [json.loads(x) for x in (tmp_path / "twin_run" / "stage1" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and "rewards/twin_reward/mean" in rows[0]["trl"]  # one epoch of 4 items, 2 per step
    assert (final / "model.safetensors").exists()

    dig = tmp_path / "dig"
    render_dataset(load_config("smoke", TINY), dig, subsets=["stage1"], num_pairs=2, progress=False)
    cfg = load_config(
        "smoke", common + ["train.task=mix", f"train.twin_data={twin_dir}", "train.stage_steps=[2, 1, 1]"]
    )
    run_stage(cfg, 1, dig, tmp_path / "mix_run")
    trl_keys = {
        k
        for x in (tmp_path / "mix_run" / "stage1" / "metrics.jsonl").read_text().splitlines()
        for k in json.loads(x)["trl"]
    }
    assert {"rewards/dig_reward/mean", "rewards/twin_reward/mean"} <= trl_keys
