"""Ablations (dig_kit.paper.ablations): configs of the curriculum variants, the reward table and the
curriculum figure on hand-made metrics (pure), and notebook 06 end to end on tiny data (slow)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from notebook_git import committed_notebook

from dig_kit.config import ConfigError, load_config, save_config
from dig_kit.paper.ablations import (
    CHECK,
    CURRICULA,
    PUBLISHED_SOURCE,
    REWARD_VARIANTS,
    curriculum_bars,
    curriculum_config,
    measured_label,
    plot_curriculum_ablation,
    reward_ablation_rows,
    reward_config,
    reward_run_dir,
    run_description,
    saved_config_differences,
    seeds_note,
    stages_note,
)
from dig_kit.paper.published import TAB4_REWARD_ABLATION

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_ablations.ipynb"


# -- configs ------------------------------------------------------------------------------
def test_curriculum_variants_train_on_their_subset_with_the_whole_budget():
    cfg = load_config("paper")
    assert list(CURRICULA) == ["DiG-1", "DiG-2", "DiG-Mix"]
    mix, stages = curriculum_config(cfg, "DiG-Mix")
    assert mix is cfg and stages == [1, 2, 3]
    one, stages = curriculum_config(cfg, "DiG-1")
    assert stages == [1] and one.train.stage_subsets[0] == "stage1" and one.train.stage_steps[0] == 110
    assert one.train.count_hint_stages == [1]
    two, stages = curriculum_config(cfg, "DiG-2")
    assert stages == [1] and two.train.stage_subsets[0] == "stage2" and two.train.stage_steps[0] == 110
    assert two.train.count_hint_stages == [1]  # stage 2 states the count in the curriculum, so DiG-2 does too
    own, _ = curriculum_config(cfg, "DiG-2", budget="stage")
    assert own.train.stage_steps[0] == 20
    # the caller's config is never modified; everything else is the run's config
    assert cfg.train.stage_subsets == ["stage1", "stage2", "stage3"] and cfg.train.stage_steps == [60, 20, 30]
    assert two.train.learning_rate == cfg.train.learning_rate and two.train.seed == cfg.train.seed
    no_hint = load_config("paper", ["train.count_hint_stages=[1]"])
    assert curriculum_config(no_hint, "DiG-2")[0].train.count_hint_stages == []
    with pytest.raises(ConfigError, match="unknown curriculum"):
        curriculum_config(cfg, "DiG-3")
    with pytest.raises(ConfigError, match="budget"):
        curriculum_config(cfg, "DiG-1", budget="half")


def test_reward_variants_and_run_dirs(tmp_path):
    cfg = load_config("smoke")
    assert REWARD_VARIANTS == ["format", "format_iou", "format_f1", "format_iou_f1"]
    assert reward_config(cfg, "format_f1").train.reward.variant == "format_f1"
    with pytest.raises(ConfigError, match="unknown reward variant"):
        reward_config(cfg, "iou")
    assert reward_run_dir(tmp_path, "format", [1, 2, 3]) == tmp_path / "reward" / "format"
    assert reward_run_dir(tmp_path, "format", [1]) == tmp_path / "reward-stage1" / "format"
    with pytest.raises(ConfigError, match="prefix"):
        reward_run_dir(tmp_path, "format", [2, 3])
    assert stages_note([1]) == "curriculum stage 1 only" and stages_note([1, 2, 3]) == "curriculum stages 1-3"
    # reuse is allowed only for a run whose saved config is the same
    save_config(cfg, tmp_path / "final" / "config.yaml")
    assert saved_config_differences(cfg, tmp_path / "final") == []
    assert saved_config_differences(reward_config(cfg, "format"), tmp_path / "final") == ["train.reward.variant"]
    assert saved_config_differences(cfg, tmp_path / "nothing") is None
    # how the notebooks run (the reproduce section) is not what a stage learned: it never blocks reuse
    assert saved_config_differences(load_config("smoke", ["reproduce.eval_limit=1"]), tmp_path / "final") == []


# -- table and figure (pure) --------------------------------------------------------------
def _metrics(bench, score, **extra):
    return {"benchmark": bench, "score": score, "headline": extra.pop("headline", "score"), **extra}


RESULTS = {
    "format": {
        "refcoco_val": _metrics("refcoco_val", 10.0, **{"acc@0.5": 10.0}),
        "dig_eval": _metrics("dig_eval", 1.0, f1=1.0, miou=5.56),
    },
    "format_iou_f1": {
        "refcoco_val": _metrics("refcoco_val", 60.04, **{"acc@0.5": 60.04}),
        "dig_eval": _metrics("dig_eval", 42.0, f1=42.0, miou=33.333),
    },
    "format_iou": {
        "refcoco_val": {"benchmark": "refcoco_val", "status": "missing data: no RefCOCO/", "score": None},
        "dig_eval": _metrics("dig_eval", 7.0, f1=7.0, miou=20.0),
    },
}


def test_reward_rows_mark_components_place_values_and_label_published_rows():
    rows = reward_ablation_rows(RESULTS, "measured: profile 'smoke', model tiny")
    assert list(rows[0]) == [
        "Format",
        "IoU",
        "F1",
        "RefCOCO val Acc@0.5",
        "DiG held-out F1",
        "DiG held-out mIoU",
        "Source",
        "Variant",
    ]
    measured, published = rows[:3], rows[3:]
    assert [r["Variant"] for r in measured] == ["format", "format_iou", "format_iou_f1"]  # slides' order
    assert all(r["Source"] == "measured: profile 'smoke', model tiny" for r in measured)
    fmt, iou, full = measured
    assert (fmt["Format"], fmt["IoU"], fmt["F1"]) == (CHECK, "", "")
    assert (iou["Format"], iou["IoU"], iou["F1"]) == (CHECK, CHECK, "")
    assert (full["Format"], full["IoU"], full["F1"]) == (CHECK, CHECK, CHECK)
    assert (fmt["RefCOCO val Acc@0.5"], fmt["DiG held-out F1"], fmt["DiG held-out mIoU"]) == (10.0, 1.0, 5.6)
    assert (full["RefCOCO val Acc@0.5"], full["DiG held-out F1"], full["DiG held-out mIoU"]) == (60.0, 42.0, 33.3)
    assert iou["RefCOCO val Acc@0.5"] is None and iou["DiG held-out F1"] == 7.0  # missing data: blank, not 0

    assert len(published) == len(TAB4_REWARD_ABLATION) == 4
    assert all(r["Source"] == PUBLISHED_SOURCE for r in published)
    assert "published" in PUBLISHED_SOURCE and "DiG slides" in PUBLISHED_SOURCE
    by_variant = {r["Variant"]: r for r in published}
    assert by_variant["format"]["RefCOCO val Acc@0.5"] == "–"  # the slides' dash: did not converge
    assert by_variant["format_iou"]["RefCOCO val Acc@0.5"] == 84.2
    assert by_variant["format_f1"]["RefCOCO val Acc@0.5"] == 87.8
    assert (by_variant["format_f1"]["IoU"], by_variant["format_f1"]["F1"]) == ("", CHECK)
    assert by_variant["format_iou_f1"]["RefCOCO val Acc@0.5"] == 88.6
    assert all(r["DiG held-out F1"] is None and r["DiG held-out mIoU"] is None for r in published)
    with pytest.raises(ValueError, match="unknown reward variant"):
        reward_ablation_rows({"iou_only": {}})


def test_table_files_name_their_source(tmp_path):
    from dig_kit.paper.figures import save_table

    cfg = load_config("smoke")
    src = run_description(cfg, "runs/smoke/data", "runs/smoke/eval_data", limit=4, max_new_tokens=16, tiny_model=True)
    assert "profile 'smoke'" in src and "runs/smoke/tiny-model" in src and "runs/smoke/data" in src
    assert "not the paper's numbers" in src
    save_table(
        reward_ablation_rows(RESULTS, measured_label(cfg, stages_note([1]))),
        "tab4_reward_ablation",
        tmp_path,
        source=src,
    )
    lines = (tmp_path / "tab4_reward_ablation.csv").read_text().splitlines()
    assert lines[0] == f"# Source: {src}"
    rows = list(csv.DictReader(lines[1:]))
    assert rows[0]["Source"] == "measured: profile 'smoke', model runs/smoke/tiny-model, curriculum stage 1 only"
    assert rows[-1]["Source"] == PUBLISHED_SOURCE and rows[-1]["RefCOCO val Acc@0.5"] == "88.6"
    assert "✓" in (tmp_path / "tab4_reward_ablation.md").read_text()


def test_curriculum_figure_groups_bars_per_benchmark(tmp_path):
    pytest.importorskip("matplotlib")
    from dig_kit.paper.figures import save_figure

    results = {
        "DiG-1": {"pope": _metrics("pope", 80.0, headline="f1"), "dig_eval": _metrics("dig_eval", 20.0, headline="f1")},
        "Baseline": {
            "pope": _metrics("pope", 70.0, headline="f1"),
            "dig_eval": {"benchmark": "dig_eval", "status": "missing data: x", "score": None},
        },
        "DiG-Mix": {
            "pope": _metrics("pope", 90.0, headline="f1"),
            "dig_eval": _metrics("dig_eval", 30.0, headline="f1"),
        },
    }
    names, benches, values = curriculum_bars(results, baseline_name="Baseline")
    assert names == ["Baseline", "DiG-1", "DiG-Mix"] and benches == ["pope", "dig_eval"]
    assert values == {"Baseline": [70.0, None], "DiG-1": [80.0, 20.0], "DiG-Mix": [90.0, 30.0]}
    fig = plot_curriculum_ablation(results, baseline_name="Baseline", benchmarks=["dig_eval", "pope"])
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_ylabel() == "score (%)" and ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dig_eval\n(f1)", "pope\n(f1)"]
    heights = sorted(round(p.get_height(), 1) for p in ax.patches)
    assert heights == [0.0, 20.0, 30.0, 70.0, 80.0, 90.0]  # 3 models x 2 benchmarks, missing drawn as n/a
    assert any(t.get_text() == "n/a" for t in ax.texts)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Baseline", "DiG-1", "DiG-Mix"]
    paths = save_figure(fig, "fig_curriculum_ablation", tmp_path, source="hand-made metrics")
    assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(KeyError):
        curriculum_bars(results, baseline_name="nope")


def test_curriculum_caption_says_how_many_seeds_and_whiskers_only_with_a_spread():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    assert seeds_note([None]) == seeds_note([]) == seeds_note(None) == "one run, no seed spread"
    assert seeds_note([3]) == "one run (seed 3), no seed spread"
    assert seeds_note([0, 1, 2]) == "mean ± sd over seeds 0, 1, 2"
    assert seeds_note([0, 1, 2], spread=False) == "mean over seeds 0, 1, 2"

    def results(sd):
        return {n: {"pope": _metrics("pope", v, score_sd=sd, seeds=3)} for n, v in (("DiG-1", 50.0), ("DiG-2", 60.0))}

    fig = plot_curriculum_ablation(results(0.0), seeds=[None])
    ax = fig.axes[0]
    assert ax.get_title().endswith("one run, no seed spread") and not ax.lines  # no whiskers
    plt.close(fig)
    fig = plot_curriculum_ablation(results(2.5), seeds=[0, 1, 2])
    ax = fig.axes[0]
    assert ax.get_title().endswith("mean ± sd over seeds 0, 1, 2") and ax.lines  # whiskers
    plt.close(fig)
    fig = plot_curriculum_ablation(results(2.5), seeds=[None])  # a stray spread of one run is not drawn
    assert not fig.axes[0].lines
    plt.close(fig)


def test_notebook_is_committed_thin_and_without_outputs():
    nb = committed_notebook(NOTEBOOK)  # as git stores it (a JupyterLab save may add outputs)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert not any("def " in "".join(c["source"]) for c in code)  # thin: logic lives in dig_kit.paper.ablations


# -- notebook 06 end to end (slow) --------------------------------------------------------
TINY_DATA = [
    "data.render.width=96",
    "data.render.height=64",
    "data.render.samples=2",
    "data.render.min_visible_pixels=6",
    "data.scene.max_objects=5",
]


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.blender
def test_ablation_notebook_smoke(tmp_path):
    pm = pytest.importorskip("papermill")
    pytest.importorskip("bpy")
    pytest.importorskip("trl")
    from dig_kit.data.writer import render_dataset
    from dig_kit.models.tiny import build_tiny_model

    t0 = time.perf_counter()
    model = build_tiny_model(tmp_path / "tiny-model")
    data = tmp_path / "data"
    render_dataset(load_config("smoke", TINY_DATA), data, num_pairs=2, progress=False)
    overrides = TINY_DATA + [
        f"train.model={model}",
        "train.stage_steps=[1, 1, 1]",
        "train.max_completion_length=8",
        "train.prompts_per_step=2",
        "train.num_generations=2",
        "train.per_device_batch=4",
    ]
    fig, run = tmp_path / "fig", tmp_path / "ablations"
    params = {
        "preset": "smoke",
        "overrides": overrides,
        "data_dir": str(data),
        "run_dir": str(run),
        "eval_data_root": str(tmp_path / "eval_data"),
        "write_smoke_data": True,
        "benchmarks": ["pope", "refcoco_val", "dig_eval"],
        "reward_stages": [1, 2, 3],
        "backend": "transformers",
        "max_new_tokens": 4,
        "limit": 2,
        "out_dir": str(fig),
        "tiny_model": True,
    }
    pm.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "06.ipynb"),
        parameters=params,
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )

    for ext in ("pdf", "png"):
        assert (fig / f"fig_curriculum_ablation.{ext}").stat().st_size > 1000
    from PIL import Image

    source = Image.open(fig / "fig_curriculum_ablation.png").text["Source"]
    assert "profile 'smoke'" in source and str(model) in source and str(data) in source
    assert "tiny random Qwen3-VL, smoke profile; not the paper's numbers" in source
    for ext in ("csv", "md", "tex"):
        text = (fig / f"tab4_reward_ablation.{ext}").read_text()
        assert "Source: " in text and "profile 'smoke'" in text and PUBLISHED_SOURCE in text, ext
    lines = (fig / "tab4_reward_ablation.csv").read_text().splitlines()
    rows = list(csv.DictReader(lines[1:]))
    assert [r["Variant"] for r in rows] == REWARD_VARIANTS * 2
    assert rows[0]["Source"].startswith("measured: profile 'smoke'") and rows[0]["DiG held-out F1"] != ""

    # each curriculum in its own run dir; the full-reward variant reused DiG-Mix; nothing retrained
    assert (run / "curriculum" / "DiG-1" / "stage1" / "final" / "config.yaml").exists()
    assert (run / "curriculum" / "DiG-2" / "stage1" / "final" / "config.yaml").exists()
    assert (run / "curriculum" / "DiG-Mix" / "stage3" / "final" / "config.yaml").exists()
    assert (run / "reward" / "format" / "stage3" / "final").exists()
    assert not (run / "reward" / "format_iou_f1").exists()
    import yaml

    dig2 = yaml.safe_load((run / "curriculum" / "DiG-2" / "stage1" / "final" / "config.yaml").read_text())["train"]
    assert dig2["stage_subsets"][0] == "stage2" and dig2["stage_steps"][0] == 3
    print(f"notebook 06 smoke: {time.perf_counter() - t0:.1f}s")


def test_a_run_is_reused_only_when_its_saved_config_matches(tmp_path, capsys):
    from dig_kit.paper.ablations import run_curriculum_ablation, run_reward_ablation

    cfg = load_config("smoke")
    main = tmp_path / "train" / "stage3" / "final"
    save_config(cfg, main / "config.yaml")
    assert run_curriculum_ablation(
        cfg, tmp_path / "no-data", tmp_path / "abl", names=["DiG-Mix"], reuse={"DiG-Mix": main}
    ) == {"DiG-Mix": main}
    assert run_reward_ablation(
        cfg, tmp_path / "no-data", tmp_path / "abl", variants=["format_iou_f1"], reuse={"format_iou_f1": main}
    ) == {"format_iou_f1": main}
    # a stage-1-only reward run is the full run's stage 1: that stage's weights are reused, checked the same way
    stage1 = tmp_path / "train" / "stage1" / "final"
    save_config(cfg, stage1 / "config.yaml")
    assert run_reward_ablation(
        cfg,
        tmp_path / "no-data",
        tmp_path / "abl",
        stages=[1],
        variants=["format_iou_f1"],
        reuse={"format_iou_f1": main},
    ) == {"format_iou_f1": stage1}
    assert not (tmp_path / "abl").exists()  # nothing trained
    elsewhere = tmp_path / "other" / "final"  # not a curriculum stage's dir: a stage-1 run cannot reuse it
    save_config(cfg, elsewhere / "config.yaml")
    with pytest.raises(ConfigError, match="not a dig_kit dataset"):
        run_reward_ablation(
            cfg,
            tmp_path / "no-data",
            tmp_path / "abl",
            stages=[1],
            variants=["format_iou_f1"],
            reuse={"format_iou_f1": elsewhere},
        )
    save_config(load_config("smoke", ["train.seed=7"]), stage1 / "config.yaml")
    with pytest.raises(ConfigError, match="not a dig_kit dataset"):
        run_reward_ablation(
            cfg,
            tmp_path / "no-data",
            tmp_path / "abl",
            stages=[1],
            variants=["format_iou_f1"],
            reuse={"format_iou_f1": main},
        )
    assert "not reusing" in capsys.readouterr().out
    # another config (here: another reward) is trained instead, and training checks its data first
    with pytest.raises(ConfigError, match="not a dig_kit dataset"):
        run_reward_ablation(cfg, tmp_path / "no-data", tmp_path / "abl", variants=["format"], reuse={"format": main})
    assert "not reusing" in capsys.readouterr().out


def test_a_variant_online_filtering_could_not_train_gets_a_dashed_row_saying_why():
    results = {k: v for k, v in RESULTS.items() if k != "format"}
    why = (
        "not trained: online filtering: after 8 refill rounds only 0 of 8 groups had a mean reward inside (0.01, 0.99)"
    )
    rows = reward_ablation_rows(results, "measured: mini", not_trained={"format": why})
    measured = [r for r in rows if r["Source"].startswith("measured")]
    assert [r["Variant"] for r in measured] == ["format", "format_iou", "format_iou_f1"]
    fmt = measured[0]
    assert fmt["Source"] == f"measured: mini; {why}"
    assert (fmt["RefCOCO val Acc@0.5"], fmt["DiG held-out F1"], fmt["DiG held-out mIoU"]) == ("–", "–", "–")
    assert (
        reward_ablation_rows(RESULTS, "measured: mini", {"format": why})[0]["DiG held-out F1"] == 1.0
    )  # trained: values
