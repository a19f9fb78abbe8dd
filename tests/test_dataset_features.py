"""Every split of any render loads with ``datasets.load_dataset(DIR)``, whatever its shards hold.

``datasets`` (imagefolder) infers a split's features from the first rows of its first metadata
file and refuses splits whose features differ: from JSON, a box that is null in every row (a
split of adds only has no ``bbox_full_before``) has no type. The kit writes each shard's rows
with explicit column types to ``metadata.parquet`` (:mod:`dig_kit.data.schema`) and points the
dataset card at those files.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from dig_kit.config import load_config
from dig_kit.data import schema
from dig_kit.data.reader import METADATA, METADATA_PARQUET, load_split, read_rows, shard_name
from dig_kit.data.writer import render_dataset, write_card
from dig_kit.scenes.changes import EMPTY_ATTRIBUTES, Difference

TINY = [
    "data.render.width=96",
    "data.render.height=64",
    "data.render.samples=2",
    "data.render.min_visible_pixels=6",
    "data.scene.max_objects=5",
]


def test_the_schema_declares_every_field_of_a_difference():
    assert set(schema.DIFFERENCE) == {f.name for f in dataclasses.fields(Difference)}
    assert set(schema.ATTRIBUTES) == set(EMPTY_ATTRIBUTES)


# -- rows as the renderer writes them, without Blender -------------------------------------------
def _object(i: int) -> dict:
    return {
        "id": i,
        "shape": "cube",
        "color": "red",
        "size": "small",
        "material": "metal",
        "bbox_full": [1.0, 2.0, 9.0, 9.5],
        "bbox_visible": [1.0, 2.0, 9.0, 9.0],
        "visible_pixels": 40,
        "mask": {"size": [16, 24], "counts": "04"},
    }


def _dig_row(subset: str, k: int, kind: str) -> dict:
    d = Difference(kind, k)
    if kind == "add":  # absent from the before image: every before box null
        d.bbox_full_after = d.bbox_visible_after = d.bbox = [1.0, 2.0, 9.0, 9.5]
    elif kind == "remove":
        d.bbox_full_before = d.bbox_visible_before = d.bbox = [1.0, 2.0, 9.0, 9.5]
    elif kind == "size":
        d.bbox_full_before = d.bbox_visible_before = d.bbox_full_after = d.bbox_visible_after = d.bbox = [1, 2, 9, 9]
        d.direction = "grow"
    diffs = [] if kind == "none" else [d.to_dict()]
    pid = f"{subset}-{k:08d}"
    return {
        "id": pid,
        "seed": k,
        "subset": subset,
        "attempt": 0,
        "before_file_name": f"images/{pid}_before.png",
        "after_file_name": f"images/{pid}_after.png",
        "width": 24,
        "height": 16,
        "pair_type": "no_change" if kind == "none" else "changes",
        "num_differences": len(diffs),
        "boxes": [x["bbox"] for x in diffs],
        "change_types": [x["type"] for x in diffs],
        "differences": diffs,
        "objects_before": [_object(0)],
        "objects_after": [_object(0)],
        "before_scene": "{}",
        "after_scene": "{}",
    }


def _write_shard(out: Path, subset: str, rows: list[dict]) -> Path:
    shard = out / subset / shard_name(0, 1)
    (shard / "images").mkdir(parents=True)
    with open(shard / METADATA, "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")
            for key in ("before_file_name", "after_file_name"):
                Image.new("RGB", (24, 16), "gray").save(shard / r[key])
    return shard


def test_splits_of_one_kind_of_change_load_together(tmp_path):
    import datasets

    out = tmp_path / "ds"
    kinds = {"stage1": ["add", "add"], "stage2": ["remove"], "stage3": ["color", "size"], "eval": ["none"]}
    for subset, ks in kinds.items():
        shard = _write_shard(out, subset, [_dig_row(subset, k, kind) for k, kind in enumerate(ks)])
        assert schema.sync_shard(shard, "dig") and not schema.sync_shard(shard, "dig")  # the second: nothing to do
    (out / "config.yaml").write_text("profile: smoke\n")
    write_card(out, load_config("smoke"), "dig")
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf_cache"))
    assert {s: len(ds[s]) for s in ds} == {"stage1": 2, "stage2": 1, "stage3": 2, "eval": 1}
    assert len({json.dumps(ds[s].features.to_dict(), sort_keys=True) for s in ds}) == 1  # one set of features
    add = ds["stage1"][0]
    assert add["before"].size == (24, 16) and add["differences"][0]["bbox_full_before"] is None
    assert add["differences"][0]["bbox_full_after"] == [1.0, 2.0, 9.0, 9.5]
    assert ds["eval"][0]["boxes"] == [] and ds["stage3"][1]["differences"][0]["direction"] == "grow"
    # the journal grows (a render killed before its next sync): load_split names the lagging shard
    meta = out / "stage1" / shard_name(0, 1) / METADATA
    meta.write_text(meta.read_text() + json.dumps(_dig_row("stage1", 2, "add"), sort_keys=True) + "\n")
    with pytest.raises(Exception, match=f"stage1/{shard_name(0, 1)}: its {METADATA_PARQUET}.*dig-kit render"):
        load_split(out, "stage1")
    assert schema.stale_shards(out / "stage1") == [meta.parent] and schema.sync_shard(meta.parent, "dig")
    assert len(load_split(out, "stage1")) == 3


def test_a_field_the_schema_does_not_declare_is_named(tmp_path):
    row = _dig_row("stage1", 0, "add")
    row["differences"][0]["hue"] = 0.5
    shard = _write_shard(tmp_path, "stage1", [row])
    with pytest.raises(ValueError, match=r"field\(s\) \['differences\[\]\.hue'\] that the dig schema"):
        schema.sync_shard(shard, "dig")
    assert not (shard / METADATA_PARQUET).exists()


# -- real renders ----------------------------------------------------------------------------------
@pytest.mark.blender
@pytest.mark.slow
def test_a_render_whose_split_holds_only_adds_loads_beside_the_others(tmp_path):
    pytest.importorskip("bpy")
    import datasets

    adds, others = tmp_path / "adds", tmp_path / "ds"
    render_dataset(
        load_config("smoke", TINY + ["data.change_types=[add]"]), adds, subsets=["stage1"], num_pairs=2, progress=False
    )
    cfg = load_config("smoke", TINY)
    render_dataset(cfg, others, subsets=["stage3"], num_pairs=2, progress=False)
    shutil.copytree(adds / "stage1", others / "stage1")  # shards merge by copying
    rows = read_rows(others / "stage1" / shard_name(0, 1) / METADATA)
    assert {d["type"] for r in rows for d in r["differences"]} == {"add"}
    assert all(d["bbox_full_before"] is None for r in rows for d in r["differences"])
    # the journals alone, as datasets would read them, do not load together: the case at hand
    journals = {s: [f"{others}/{s}/*/{METADATA}", f"{others}/{s}/*/images/*.png"] for s in ("stage1", "stage3")}
    with pytest.raises(ValueError, match="different features"):
        datasets.load_dataset("imagefolder", data_files=journals, cache_dir=str(tmp_path / "hf0"))
    assert render_dataset(cfg, others, subsets=["stage3"], num_pairs=2, progress=False)["rendered"] == 0
    ds = datasets.load_dataset(str(others), cache_dir=str(tmp_path / "hf1"))  # the card: every split
    assert set(ds) == {"stage1", "stage3"} and len(ds["stage1"]) == len(ds["stage3"]) == 2
    assert ds["stage1"].features == ds["stage3"].features
    row = ds["stage1"][0]
    assert row["before"].size == (96, 64) and row["differences"][0]["type"] == "add"
    assert row["differences"][0]["bbox_full_before"] is None and len(row["differences"][0]["bbox_full_after"]) == 4
    assert [r["id"] for r in load_split(others, "stage1")] == [r["id"] for r in rows]
    for shard in (others / "stage1" / shard_name(0, 1), others / "stage3" / shard_name(0, 1)):  # every row declared
        assert not [f for r in read_rows(shard / METADATA) for f in schema.undeclared(r, schema.DIG_ROW)]


@pytest.mark.blender
@pytest.mark.slow
def test_a_twin_render_loads(tmp_path):
    pytest.importorskip("bpy")
    import datasets

    from dig_kit.data.reader import load_twin_split

    out = tmp_path / "twin"
    render_dataset(load_config("smoke", TINY), out, subsets=["train"], num_pairs=2, kind="twin", progress=False)
    assert (out / "train" / shard_name(0, 1) / METADATA_PARQUET).exists()
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf"))
    assert set(ds) == {"train"} and len(ds["train"]) == 2 and len(ds["train"][0]["images"]) == 2
    assert sorted(load_twin_split(out)["answer"]) == sorted(
        r["answer"] for r in read_rows(out / "train" / shard_name(0, 1) / METADATA)
    )
