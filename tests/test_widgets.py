"""The notebooks' widgets and figures, driven from Python: each control changes what is shown."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

widgets = pytest.importorskip("ipywidgets")


def _metrics(tmp_path, stages=(1, 2)):
    for s in stages:
        d = tmp_path / f"stage{s}"
        d.mkdir()
        rows = [
            {
                "step": k,
                "overall": 0.1 * k * s,
                "format": 1.0,
                "entropy": 6.3815 + 1e-5 * k,
                "kl": 1e-7 * k,
                "grad_norm": 2e-7 * k,
            }
            for k in (1, 2, 3)
        ]
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_readable_ticks_have_no_offset_and_differ(tmp_path):
    from dig_kit.paper.dynamics import plot_dynamics, read_metrics

    fig = plot_dynamics(read_metrics(_metrics(tmp_path) / "stage1" / "metrics.jsonl"))
    fig.canvas.draw()
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert len(set(labels)) == len(labels), labels
        assert ax.yaxis.get_offset_text().get_text() == ""  # no '+6.381' or '1e-7' above the axis
    entropy = fig.axes[0]
    lo, hi = entropy.get_ylim()
    assert hi - lo >= 0.02 * 6.38 and lo < 6.3815 < hi  # noise of 1e-5 stays flat, not a spike
    assert all(len(t.get_text()) <= 5 for t in entropy.get_yticklabels()), entropy.get_yticklabels()
    assert fig.axes[2].get_ylim()[1] - fig.axes[2].get_ylim()[0] >= 0.02  # format reward: a constant 1.0
    plt.close(fig)


def test_steady_ylim_keeps_plain_ticks_and_a_minimum_span():
    from dig_kit.paper.dynamics import steady_ylim

    fig, ax = plt.subplots()
    ys = [6.38150, 6.38155, 6.38148]
    ax.plot([1, 2, 3], ys)
    steady_ylim(ax, ys)
    fig.canvas.draw()
    lo, hi = ax.get_ylim()
    assert abs((lo + hi) / 2 - 6.381515) < 1e-4 and hi - lo >= 0.02 * 6.3815
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert all("e" not in t.get_text() for t in ax.get_yticklabels())
    ax.cla()
    ax.plot([1, 2], [0.0, 1.0])
    steady_ylim(ax, [0.0, 1.0])  # a series that moves keeps matplotlib's range
    assert ax.get_ylim()[0] < 0.0 < 1.0 < ax.get_ylim()[1] < 1.2
    plt.close(fig)


def test_non_paper_figures_say_their_profile(tmp_path):
    from dig_kit.paper.figures import profile_tag, save_figure

    assert profile_tag(source="dig_kit GRPO run 'x', stage 1, profile 'smoke', policy y") == "[smoke]"
    assert profile_tag(source="renderer, profile 'paper', split eval") == ""
    assert profile_tag("mini", source="profile 'smoke'") == "[mini]"  # an explicit profile wins
    assert profile_tag(source="synthetic predictions scored by dig_kit.rewards (no model)") == ""
    fig, ax = plt.subplots()
    fig.suptitle("stage 1")
    save_figure(fig, "f", tmp_path, source="run r, profile 'smoke'")
    save_figure(fig, "f", tmp_path, source="run r, profile 'smoke'")  # saving twice tags once
    assert fig.get_suptitle() == "[smoke] stage 1"
    plt.close(fig)
    fig, ax = plt.subplots()
    save_figure(fig, "g", tmp_path, source="x", profile="mini")  # no suptitle: a corner tag
    assert "[mini]" in [t.get_text() for t in fig.texts]
    fig2, _ = plt.subplots()
    save_figure(fig2, "h", tmp_path, source="run r, profile 'paper'")
    assert fig2.get_suptitle() == "" and not any("[" in t.get_text() for t in fig2.texts)
    plt.close("all")


def test_curve_viewer_opens_on_the_stage_and_draws_a_panel_per_metric(tmp_path):
    from dig_kit.paper import dynamics

    viewer = dynamics.curve_viewer(_metrics(tmp_path), stage=1)
    menu, grid, out = viewer.children
    assert menu.value == "stage1"
    boxes = {b.description: b for b in grid.children}
    assert len(boxes) == len(dynamics.METRICS) == 12
    fig = dynamics.plot_curves(dynamics.read_metrics(tmp_path / "stage1" / "metrics.jsonl"), ["overall", "entropy"])
    assert [a.get_ylabel() for a in fig.axes if a.axison] == ["overall reward", "entropy"]
    plt.close(fig)
    shown = []
    dynamics.plot_curves, real = (
        (lambda rows, m, title="": shown.append((m, title)) or real(rows, m, title)),
        dynamics.plot_curves,
    )
    try:
        boxes["gradient norm"].value = True
        menu.value = "stage2"
    finally:
        dynamics.plot_curves = real
    assert "grad_norm" in shown[0][0] and shown[-1][1].startswith("stage2")


def test_playground_boxes_cannot_invert_and_the_reward_follows(monkeypatch):
    from dig_kit.paper import reward_sanity
    from dig_kit.paper.reward_sanity import playground

    scored = []
    real = reward_sanity.dig_reward
    monkeypatch.setattr(reward_sanity, "dig_reward", lambda c, gt, *a, **k: scored.append(c) or real(c, gt, *a, **k))
    panel = playground(seed=0)
    xs, ys = panel.children[0].children[0].children
    assert isinstance(xs, widgets.IntRangeSlider) and isinstance(ys, widgets.IntRangeSlider)
    others = panel.children[1]
    assert others.layout.width == "auto" and not others.indent  # the full label shows
    xs.value = (0, 5)
    assert xs.value[0] <= xs.value[1] and len(scored) == 2 and scored[1] != scored[0]
    assert "[0, " in scored[1] and ", 5, " in scored[1]  # the moved box is what gets scored


def test_pair_browser_covers_every_split_with_a_table():
    from PIL import Image

    from dig_kit.paper.gallery import differences_table, pair_browser

    img = Image.new("RGB", (32, 24))

    def row(i, kind):
        return {
            "id": f"p{i}",
            "before": img,
            "after": img,
            "differences": [
                {
                    "type": kind,
                    "bbox": [1.2, 2.0, 10.7, 12.0],
                    "before": {"shape": "cube", "color": "red", "size": "small", "material": "metal"},
                    "after": {"shape": "sphere", "color": "red", "size": "small", "material": "metal"},
                }
            ],
        }

    ds = {"stage1": [row(0, "shape")], "stage3": [row(1, "shape"), row(2, "color")]}
    assert differences_table(ds["stage1"][0]) == [
        {
            "change": "shape",
            "object": "small red metal cube",
            "before": "cube",
            "after": "sphere",
            "box (x1, y1, x2, y2)": "1, 2, 11, 12",
        }
    ]
    browser = pair_browser(ds, split="stage3")
    (menu, slider), table = browser.children[0].children, browser.children[2]
    assert menu.options == ("stage1", "stage3") and menu.value == "stage3" and slider.max == 1
    assert "<td" in table.value and "sphere" in table.value
    first = table.value
    slider.value = 1
    assert table.value != first  # the second pair: a color change
    menu.value = "stage1"
    assert slider.max == 0 and slider.value == 0
