"""Tests for the forest and funnel plots (pure matplotlib, no Django)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from matplotlib.lines import Line2D

from analysis.plots import (
    ForestRow,
    PlotInputError,
    PooledSummary,
    SubgroupBlock,
    SubgroupDifference,
    figure_to_bytes,
    forest_plot,
    format_estimate,
    format_p,
    funnel_plot,
)

SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_rows(k: int, seed: int = 0, prefix: str = "Study") -> list[ForestRow]:
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 3.0, k)
    weights = 100 * weights / weights.sum()
    rows = []
    for i in range(k):
        se = rng.uniform(0.1, 0.5)
        g = rng.normal(0.4, 0.3)
        rows.append(
            ForestRow(f"{prefix} {i + 1} ({2000 + i})", g, g - 1.96 * se, g + 1.96 * se, weights[i])
        )
    return rows


POOLED = PooledSummary(
    label="Random-effects model",
    estimate=0.48,
    ci_low=0.31,
    ci_high=0.65,
    pi_low=-0.05,
    pi_high=1.01,
    k=12,
    tau2=0.062,
    I2=54.3,
    Q=24.1,
    Q_df=11,
    Q_p=0.012,
    method_text="Random-effects model (REML), Hartung-Knapp adjustment",
)


def svg_texts(fig) -> list[str]:
    root = ET.fromstring(figure_to_bytes(fig, "svg"))
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_forest_svg_contains_every_label_and_the_statistics():
    rows = make_rows(12, seed=1)
    texts = svg_texts(forest_plot(rows, POOLED, title="Depression at post-test"))
    for row in rows:
        assert row.label in texts
    assert "Random-effects model" in texts
    assert "Prediction interval" in texts
    assert "Depression at post-test" in texts
    assert {"Study", "g [95% CI]", "Weight"} <= set(texts)
    # Aligned estimate columns for the pooled row, with typographic minus signs.
    assert {"0.48", "[0.31,", "0.65]", "[\u22120.05,", "1.01]", "100.0%"} <= set(texts)
    footer = [t for t in texts if t.startswith("Heterogeneity")]
    assert footer == ["Heterogeneity: τ² = 0.06; I² = 54%; Q = 24.10 (df = 11); p = 0.01"]
    assert "Random-effects model (REML), Hartung-Knapp adjustment" in texts
    assert "\u2190 Favours control" in texts and "Favours intervention \u2192" in texts
    weights = [f"{r.weight_percent:.1f}%" for r in rows]
    assert all(w in texts for w in weights)


def test_forest_svg_keeps_text_as_text_not_paths():
    svg = figure_to_bytes(forest_plot(make_rows(3), None), "svg").decode()
    assert "<text" in svg and "font-family: 'DejaVu Sans'" in svg


def test_35_study_forest_renders_and_grows_with_rows():
    rows = make_rows(35, seed=2)
    fig = forest_plot(rows, POOLED)
    texts = svg_texts(fig)
    assert all(r.label in texts for r in rows)
    small = forest_plot(make_rows(10, seed=2), POOLED)
    h35, h10 = fig.get_size_inches()[1], small.get_size_inches()[1]
    # Each extra study adds one row of constant height, so labels never shrink or overlap.
    assert h35 - h10 == pytest.approx(25 * 0.22, abs=1e-6)
    assert figure_to_bytes(fig, "png")[:8] == PNG_MAGIC


def test_forest_squares_scale_with_weight():
    rows = [
        ForestRow("Heavy", 0.2, 0.1, 0.3, 80.0),
        ForestRow("Light", 0.5, 0.1, 0.9, 20.0),
    ]
    fig = forest_plot(rows, None)
    sizes = fig.axes[0].collections[0].get_sizes()
    assert sizes[0] == pytest.approx(4 * sizes[1])  # area proportional to weight


def test_forest_with_subgroups_draws_each_block_and_the_difference_test():
    a, b = make_rows(5, 3, "Individual"), make_rows(4, 4, "Group")
    sub_a = PooledSummary(
        "Subgroup A estimate", 0.5, 0.3, 0.7, None, None, 5, 0.01, 20.0, 5.0, 4, 0.29
    )
    sub_b = PooledSummary(
        "Subgroup B estimate", 0.3, 0.1, 0.5, None, None, 4, 0.0, 0.0, 2.0, 3, 0.57
    )
    fig = forest_plot(
        [],
        POOLED,
        subgroups=[
            SubgroupBlock("Individual therapy", tuple(a), sub_a),
            SubgroupBlock("Group therapy", tuple(b), sub_b),
        ],
        subgroup_difference=SubgroupDifference(Q=1.74, df=1, p=0.187),
    )
    texts = svg_texts(fig)
    for label in [
        "Individual therapy",
        "Group therapy",
        "Subgroup A estimate",
        "Subgroup B estimate",
        "Random-effects model",
    ]:
        assert label in texts
    assert all(r.label in texts for r in a + b)
    assert "Test for subgroup differences: Q = 1.74 (df = 1), p = 0.19" in texts
    assert "Heterogeneity: τ² = 0; I² = 0%; p = 0.57" in texts
    # Three diamonds (two subgroups, overall): vertices left, top, right, bottom.
    diamonds = [
        xy
        for xy in (p.get_xy() for p in fig.axes[0].patches)
        if len(xy) == 5 and xy[1][0] == xy[3][0] and xy[0][1] == xy[2][1]
    ]
    assert sorted(xy[1][0] for xy in diamonds) == [0.3, 0.48, 0.5]


def test_forest_rejects_rows_that_disagree_with_subgroups():
    a = make_rows(3, 1, "A")
    with pytest.raises(PlotInputError, match="same studies"):
        forest_plot(make_rows(2, 1, "B"), None, subgroups=[SubgroupBlock("A", tuple(a))])
    # The same studies passed twice are accepted.
    forest_plot(a, None, subgroups=[SubgroupBlock("A", tuple(a))])


def test_forest_clips_wide_intervals_with_arrows():
    rows = [ForestRow("Narrow", 0.2, 0.0, 0.4, 50.0), ForestRow("Wide", 0.3, -5.0, 6.0, 50.0)]
    fig = forest_plot(rows, None, xlim=(-1.0, 1.0))
    ax = fig.axes[0]
    assert ax.get_xlim() == (-1.0, 1.0)
    markers = {ln.get_marker() for ln in ax.lines if isinstance(ln, Line2D)}
    assert {"<", ">"} <= markers


def test_forest_automatic_limits_are_not_dominated_by_one_huge_interval():
    rows = make_rows(8, 5) + [ForestRow("Tiny trial", 0.4, -9.0, 9.8, 0.5)]
    lo, hi = forest_plot(rows, POOLED).axes[0].get_xlim()
    assert -3 < lo < -0.05 and 1.0 < hi < 3


def test_user_labels_are_literal_and_escaped():
    rows = [
        ForestRow("<script>alert(1)</script>", 0.1, -0.1, 0.3, 50.0),
        ForestRow("Cost $5 & $10 study", 0.2, 0.0, 0.4, 50.0),
    ]
    svg = figure_to_bytes(forest_plot(rows, None), "svg").decode()
    assert "<script>" not in svg
    texts = svg_texts(forest_plot(rows, None))
    assert "<script>alert(1)</script>" in texts
    assert "Cost $5 & $10 study" in texts  # not parsed as mathtext


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (ForestRow("A", 0.5, 0.6, 0.9, 10.0), "does not contain the estimate"),
        (ForestRow("A", math.nan, 0.0, 0.9, 10.0), "finite"),
        (ForestRow("A", 0.5, 0.1, 0.9, -1.0), "non-negative"),
        (ForestRow(" ", 0.5, 0.1, 0.9, 1.0), "needs a label"),
    ],
)
def test_forest_rejects_bad_rows(row, message):
    with pytest.raises(PlotInputError, match=message):
        forest_plot([row], None)


def test_forest_needs_studies():
    with pytest.raises(PlotInputError, match="at least one study"):
        forest_plot([], POOLED)


def funnel_data(k=20, seed=7):
    rng = np.random.default_rng(seed)
    sei = rng.uniform(0.08, 0.5, k)
    yi = rng.normal(0.4, sei)
    return yi, sei


def test_funnel_with_filled_studies_and_egger_caption():
    yi, sei = funnel_data()
    fig = funnel_plot(
        yi,
        sei,
        estimate=0.35,
        filled_yi=[-0.1, 0.0, -0.25],
        filled_sei=[0.3, 0.25, 0.45],
        egger_p=0.0213,
    )
    ax = fig.axes[0]
    y0, y1 = ax.get_ylim()
    assert y0 > y1 == 0  # standard error axis is inverted: precise studies at the top
    observed, filled = ax.collections[:2]
    assert len(observed.get_offsets()) == 20
    assert len(filled.get_offsets()) == 3
    assert tuple(filled.get_facecolor()[0][:3]) == (1.0, 1.0, 1.0)  # open circles
    # Pseudo confidence limits: a triangle with apex at the estimate, slope 1.96.
    triangle = next(ln for ln in ax.lines if len(ln.get_xdata()) == 3)
    xs, ys = triangle.get_xdata(), triangle.get_ydata()
    assert xs[1] == 0.35 and ys[1] == 0
    assert xs[2] - 0.35 == pytest.approx(1.959964 * ys[2], rel=1e-6)
    assert ys[2] >= max(sei)
    texts = " ".join(svg_texts(fig)).replace("\u00a0", " ")
    assert "Egger's regression test for funnel plot asymmetry: p = 0.02." in texts
    assert "3 studies imputed by trim-and-fill" in texts
    assert "Standard error" in texts


def test_funnel_without_filled_studies_and_with_labels():
    yi, sei = funnel_data(5)
    labels = [f"Trial {i}" for i in range(5)]
    texts = svg_texts(funnel_plot(yi, sei, estimate=0.4, labels=labels, egger_p=0.0004))
    assert all(lab in texts for lab in labels)
    joined = " ".join(texts).replace("\u00a0", " ")
    assert "p < 0.001" in joined
    assert "imputed" not in joined


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"yi": [0.1, 0.2], "sei": [0.1]}, "sei has 1"),
        ({"yi": [0.1], "sei": [0.0]}, "positive"),
        ({"yi": [math.nan], "sei": [0.1]}, "non-finite"),
        ({"yi": [0.1], "sei": [0.1], "egger_p": 1.5}, "probability"),
        ({"yi": [0.1], "sei": [0.1], "filled_yi": [0.2]}, "filled_sei has 0"),
        ({"yi": [], "sei": []}, "at least one study"),
        ({"yi": [0.1], "sei": [0.1], "labels": ["a", "b"]}, "labels has 2"),
    ],
)
def test_funnel_rejects_bad_input(kwargs, message):
    with pytest.raises(PlotInputError, match=message):
        funnel_plot(estimate=0.2, **kwargs)


def test_figure_to_bytes_formats():
    fig = forest_plot(make_rows(4), POOLED)
    assert figure_to_bytes(fig, "png")[:8] == PNG_MAGIC
    assert figure_to_bytes(fig, "PDF")[:5] == b"%PDF-"
    svg = figure_to_bytes(fig, "svg")
    assert b"<svg" in svg
    assert figure_to_bytes(fig, "svg") == svg  # deterministic: cacheable by data version
    with pytest.raises(PlotInputError, match="unsupported format"):
        figure_to_bytes(fig, "gif")


def test_rendering_from_several_threads():
    def render(seed: int) -> tuple[bytes, bytes]:
        rows = make_rows(8, seed, prefix=f"T{seed}")
        fig = forest_plot(rows, POOLED)
        return figure_to_bytes(fig, "svg"), figure_to_bytes(fig, "png")

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(render, range(4)))
    for seed, (svg, png) in enumerate(results):
        assert png[:8] == PNG_MAGIC
        assert f"T{seed} 1 (2000)".encode() in svg


def test_number_formatting():
    assert format_estimate(-0.456) == "\u22120.46"
    assert format_estimate(-0.001) == "0.00"
    assert format_p(0.0004) == "< 0.001"
    assert format_p(0.0042) == "= 0.004"
    assert format_p(0.187) == "= 0.19"
