"""The reward sanity computations behave as the notebook's text says (small, fast versions)."""

from __future__ import annotations

import numpy as np
import pytest

from dig_kit.paper import reward_sanity as sanity


def test_jitter_curve_decreases_from_one():
    c = sanity.jitter_curve(sigmas=[0.0, 0.1, 0.3], trials=30)
    assert c["overall"][0] == 1.0
    assert c["overall"][0] > c["overall"][1] > c["overall"][2]
    assert (c["format"] == 1.0).all()


def test_missed_and_extra_boxes():
    c = sanity.missed_extra_curves(max_extra=2, trials=10)
    np.testing.assert_allclose(c["missed"]["recall"], [1.0, 0.75, 0.5, 0.25, 0.0])
    assert (np.diff(c["extra"]["precision"]) < 0).all() and (c["extra"]["recall"] == 1.0).all()


def test_coordinate_mistakes_lose_the_accuracy_reward():
    t = sanity.coordinate_table(trials=10)
    diag = np.diag(t["overall"])
    off = t["overall"][~np.eye(3, dtype=bool)]
    assert (diag > 0.85).all() and (off <= 0.2).all()


def test_variant_table_tells_the_slides_story():
    rows = {r["prediction"]: r for r in sanity.variant_table()}
    perfect = rows["all 3 found, exact"]
    # IoU-only: one precise box among three differences scores like the perfect answer
    assert rows["1 exact box, 2 missed"]["format_iou"] == pytest.approx(perfect["format_iou"])
    # F1-only: loose boxes score like exact ones
    assert rows["all 3 found, loose (IoU 0.55)"]["format_f1"] == pytest.approx(perfect["format_f1"])
    # the paper's reward separates both from the perfect answer
    assert (
        rows["1 exact box, 2 missed"]["format_iou_f1"] < 0.9
        and rows["all 3 found, loose (IoU 0.55)"]["format_iou_f1"] < 0.9
    )


def test_case_study_table_first_row_is_perfect():
    rows = sanity.case_study_table()
    assert rows[0]["overall"] == 1.0 and rows[-1]["overall"] == 0.0


def test_playground_builds_and_updates(monkeypatch):
    pytest.importorskip("ipywidgets")
    scored = []
    real = sanity.dig_reward
    monkeypatch.setattr(sanity, "dig_reward", lambda *a, **k: scored.append(real(*a, **k)) or scored[-1])
    panel = sanity.playground()
    slider = panel.children[0].children[0].children[0]
    assert len(scored) == 1 and scored[0]["format"] == 1.0  # the first draw scores the box on the ground truth
    x1, x2 = slider.value
    slider.value = (x1 + 5, x2)  # x1, x2 range: triggers a redraw and a new reward
    assert len(scored) == 2 and scored[1]["miou"] < scored[0]["miou"]  # the narrower box overlaps less


def test_every_mark_of_the_reward_figures_is_named_in_a_legend():
    """Each line and band of the jitter and missed/extra figures appears in a legend that covers
    its panel (the missed/extra figure: one legend above both panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jitter = sanity.plot_jitter(sanity.jitter_curve(trials=5))
    (ax,) = jitter.axes
    named = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"overall r", "F1", "mean IoU", "format", "overall r, ±1 sd over trials"} <= named
    both = sanity.plot_missed_extra(sanity.missed_extra_curves(trials=5))
    assert all(a.get_legend() is None for a in both.axes) and len(both.legends) == 1
    named = {t.get_text() for t in both.legends[0].get_texts()}
    for a in both.axes:
        assert {line.get_label() for line in a.get_lines()} <= named
    plt.close("all")
