"""Traffic-light and summary figures, export formats and the robvis CSV."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

from extraction.rob.algorithm import DOMAINS
from extraction.rob.figures import (
    PALETTES,
    ROBVIS_LABELS,
    RobFigureError,
    _safe_dpi,
    figure_to_bytes,
    robvis_csv,
    summary_plot,
    traffic_light,
)

ROB2 = [(d.id, d.name) for d in DOMAINS]
IDS = [d for d, _ in ROB2]
J = ("low", "some_concerns", "high", "no_information")


def make_rows(n: int, domains=ROB2):
    return [
        (
            f"Study {i + 1} {2000 + i}",
            {d: J[(i + k) % 4] for k, (d, _) in enumerate(domains)},
            J[i % 3],
        )
        for i in range(n)
    ]


def svg_texts(fig) -> list[str]:
    root = ET.fromstring(figure_to_bytes(fig, "svg"))
    return [
        " ".join("".join(el.itertext()).split())
        for el in root.iter("{http://www.w3.org/2000/svg}text")
    ]


def joined(texts: list[str]) -> str:
    return " ".join(texts)


# --- traffic light ---------------------------------------------------------------


def test_svg_contains_every_study_label_and_the_legend():
    rows = make_rows(6)
    texts = svg_texts(traffic_light(rows, ROB2))
    for label, _, _ in rows:
        assert label in texts
    everything = joined(texts)
    for did, name in ROB2:
        assert f"{did}: {name}" in everything  # wrapped lines are consecutive
        assert did in texts  # column header
    for label in ("Overall", "Study", "Risk of bias domains", "Domains:", "Judgement"):
        assert label in texts
    for judgement in J:
        assert ROBVIS_LABELS[judgement] in texts


def test_symbols_and_no_information_are_drawn():
    rows = [("Only NI", dict.fromkeys(IDS, "no_information"), "no_information")]
    texts = svg_texts(traffic_light(rows, ROB2))
    assert texts.count("?") == 6 + 1  # five domains, overall, legend key
    assert "No information" in texts and "High" not in texts  # key lists what is present
    svg = figure_to_bytes(traffic_light(rows, ROB2), "svg").decode().lower()
    assert PALETTES["cochrane"]["no_information"].lower() in svg


def test_judgement_symbols_match_robvis():
    rows = [
        (
            "S",
            {"D1": "low", "D2": "some_concerns", "D3": "high", "D4": "no_information", "D5": "low"},
            "high",
        )
    ]
    texts = svg_texts(traffic_light(rows, ROB2))
    assert {"+", "\u2212", "\u00d7", "?"} <= set(texts)


def test_long_labels_are_wrapped_to_two_lines_and_truncated():
    long = (
        "A randomised controlled trial of peer support for people with severe mental illness "
        "in community mental health teams (the PEER-SMI trial), 2021 follow-up"
    )
    fig = traffic_light([(long, dict.fromkeys(IDS, "low"), "low")], ROB2)
    drawn = next(t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("A randomised"))
    lines = drawn.split("\n")
    assert len(lines) == 2
    assert all(len(line) <= 32 for line in lines)
    assert lines[1].endswith("…")
    # The SVG writes one <text> per line, in order.
    texts = svg_texts(fig)
    first = texts.index(lines[0])
    assert texts[first + 1] == lines[1]


def test_label_with_dollars_and_markup_is_kept_verbatim():
    label = "Cost $5 vs $6 & <group> trial"
    texts = svg_texts(traffic_light([(label, dict.fromkeys(IDS, "high"), "high")], ROB2))
    assert label in texts


def test_sixty_five_studies_render_and_the_figure_grows():
    small, big = traffic_light(make_rows(5), ROB2), traffic_light(make_rows(65), ROB2)
    h_small, h_big = small.get_size_inches()[1], big.get_size_inches()[1]
    assert h_big - h_small == pytest.approx(60 * 0.42, rel=0.02)
    png = figure_to_bytes(big, "png", dpi=50)
    with Image.open(io.BytesIO(png)) as im:
        assert im.size[1] == pytest.approx(h_big * 50, abs=2)
    texts = svg_texts(big)
    assert "Study 65 2064" in texts and "Study 1 2000" in texts


def test_more_than_five_domains():
    domains = ROB2 + [("D6", "Bias due to period and carryover effects"), ("D7", "Other bias")]
    fig = traffic_light(make_rows(4, domains), domains)
    texts = svg_texts(fig)
    assert {"D6", "D7", "Overall"} <= set(texts)
    assert "D7: Other bias" in texts
    assert fig.get_size_inches()[0] >= traffic_light(make_rows(4), ROB2).get_size_inches()[0]


def test_palette_switch_changes_colours():
    rows = make_rows(4)
    cochrane = figure_to_bytes(traffic_light(rows, ROB2), "svg").decode().lower()
    colourblind = (
        figure_to_bytes(traffic_light(rows, ROB2, palette="colourblind"), "svg").decode().lower()
    )
    for judgement in ("low", "some_concerns", "high"):
        assert PALETTES["cochrane"][judgement].lower() in cochrane
        assert PALETTES["cochrane"][judgement].lower() not in colourblind
        assert PALETTES["colourblind"][judgement].lower() in colourblind
    us = figure_to_bytes(traffic_light(rows, ROB2, palette="colorblind"), "svg").decode().lower()
    assert PALETTES["colourblind"]["low"].lower() in us


def test_title_is_drawn():
    assert "Risk of bias: depressive symptoms" in svg_texts(
        traffic_light(make_rows(2), ROB2, title="Risk of bias: depressive symptoms")
    )


@pytest.mark.parametrize(
    ("rows", "domains", "kwargs", "message"),
    [
        ([], ROB2, {}, "no studies"),
        (make_rows(1), [], {}, "domain"),
        (make_rows(1), ROB2 + [("D1", "again")], {}, "unique"),
        ([("Smit 2023", {"D1": "low"}, "low")], ROB2, {}, "Smit 2023.*D2"),
        ([("Smit 2023", {**dict.fromkeys(IDS, "low"), "D9": "low"}, "low")], ROB2, {}, "D9"),
        (
            [("Smit 2023", {**dict.fromkeys(IDS, "low"), "D3": "Low"}, "low")],
            ROB2,
            {},
            "Smit 2023.*D3.*'Low'",
        ),
        ([("Smit 2023", dict.fromkeys(IDS, "low"), "unclear")], ROB2, {}, "Overall.*'unclear'"),
        ([("  ", dict.fromkeys(IDS, "low"), "low")], ROB2, {}, "label"),
        (make_rows(1), ROB2, {"palette": "viridis"}, "palette"),
    ],
)
def test_traffic_light_rejects_bad_input(rows, domains, kwargs, message):
    with pytest.raises(RobFigureError, match=message):
        traffic_light(rows, domains, **kwargs)


# --- summary plot ------------------------------------------------------------------


def bar_widths(fig) -> dict[str, list[float]]:
    """Width of each judgement's bar per category, top (D1) to bottom (Overall)."""
    ax = fig.axes[0]
    out = {}
    for container in ax.containers:
        bars = sorted(container.patches, key=lambda p: -p.get_y())
        out[container.get_label()] = [round(p.get_width(), 6) for p in bars]
    return out


def test_summary_percentages_unweighted():
    rows = [
        ("A", {**dict.fromkeys(IDS, "low"), "D1": "high"}, "high"),
        ("B", dict.fromkeys(IDS, "low"), "low"),
        ("C", {**dict.fromkeys(IDS, "low"), "D3": "no_information"}, "some_concerns"),
        ("D", dict.fromkeys(IDS, "some_concerns"), "some_concerns"),
    ]
    widths = bar_widths(summary_plot(rows, ROB2))
    # categories: D1..D5, Overall
    assert widths["High"] == [25, 0, 0, 0, 0, 25]
    assert widths["Low"] == [50, 75, 50, 75, 75, 25]
    assert widths["No information"] == [0, 0, 25, 0, 0, 0]
    assert widths["Some concerns"] == [25, 25, 25, 25, 25, 50]
    for i in range(6):
        assert sum(w[i] for w in widths.values()) == pytest.approx(100)


def test_summary_weights_change_the_shares():
    rows = [("A", dict.fromkeys(IDS, "low"), "low"), ("B", dict.fromkeys(IDS, "high"), "high")]
    widths = bar_widths(summary_plot(rows, ROB2, weights=[3, 1]))
    assert widths["Low"] == [75] * 6 and widths["High"] == [25] * 6
    zero = bar_widths(summary_plot(rows, ROB2, weights=[0, 2]))
    assert zero["High"] == [100] * 6


def test_summary_svg_has_domain_names_overall_and_legend():
    texts = joined(svg_texts(summary_plot(make_rows(8), ROB2, palette="colourblind")))
    for _, name in ROB2:
        assert name in texts
    for label in ("Overall risk of bias", "Low", "Some concerns", "High", "No information", "100%"):
        assert label in texts


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1], "1 weights for 2"),
        ([1, -1], "non-negative"),
        ([1, float("nan")], "finite"),
        ([0, 0], "sum to zero"),
        ([1, "x"], "not a number"),
    ],
)
def test_summary_rejects_bad_weights(weights, message):
    with pytest.raises(RobFigureError, match=message):
        summary_plot(make_rows(2), ROB2, weights=weights)


# --- export ------------------------------------------------------------------------


def test_formats_and_magic_bytes():
    fig = traffic_light(make_rows(3), ROB2)
    assert figure_to_bytes(fig, "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert figure_to_bytes(fig, "pdf").startswith(b"%PDF")
    assert b"<svg" in figure_to_bytes(fig, "svg")[:500]
    with pytest.raises(RobFigureError, match="'jpg'"):
        figure_to_bytes(fig, "jpg")


def test_svg_is_deterministic_and_global_rc_params_are_restored():
    before = matplotlib.rcParams["svg.fonttype"]
    a = figure_to_bytes(traffic_light(make_rows(3), ROB2), "svg")
    b = figure_to_bytes(traffic_light(make_rows(3), ROB2), "svg")
    assert a == b
    assert matplotlib.rcParams["svg.fonttype"] == before


def test_resolution_is_capped_for_very_tall_figures():
    fig = traffic_light(make_rows(400), ROB2)
    w, h = fig.get_size_inches()
    dpi = _safe_dpi(fig, 600)
    assert dpi < 600
    assert h * dpi <= 32000 and w * h * dpi**2 <= 40_000_000
    assert _safe_dpi(traffic_light(make_rows(10), ROB2), 200) == 200


def test_module_never_imports_pyplot():
    code = (
        "import sys; from extraction.rob.figures import traffic_light, summary_plot, figure_to_bytes;"
        "from extraction.rob.algorithm import DOMAINS;"
        "d=[(x.id,x.name) for x in DOMAINS]; r=[('S',{k:'low' for k,_ in d},'low')];"
        "figure_to_bytes(traffic_light(r,d),'png'); figure_to_bytes(summary_plot(r,d),'svg');"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(repo), "MPLBACKEND": "Agg"},
    )
    assert out.stdout.strip() == "False"


# --- robvis CSV ---------------------------------------------------------------------


def test_robvis_csv_header_and_round_trip():
    rows = make_rows(7) + [
        ("Smit, Jansen & de Vries 2023", dict.fromkeys(IDS, "no_information"), "high")
    ]
    text = robvis_csv(rows, ROB2, weights=[1, 2, 3, 4, 5, 6, 7, 8.5])
    assert text.splitlines()[0] == "Study,D1,D2,D3,D4,D5,Overall,Weight"
    back = {label: judgement for judgement, label in ROBVIS_LABELS.items()}
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == len(rows)
    for (label, judgements, overall), record in zip(rows, parsed, strict=True):
        assert record["Study"] == label
        assert {d: back[record[d]] for d in IDS} == dict(judgements)
        assert back[record["Overall"]] == overall
    assert [float(r["Weight"]) for r in parsed] == [1, 2, 3, 4, 5, 6, 7, 8.5]
    assert set(ROBVIS_LABELS.values()) == {"Low", "Some concerns", "High", "No information"}


def test_robvis_csv_default_weight_and_extra_domains():
    domains = ROB2 + [("D6", "Extra")]
    text = robvis_csv(make_rows(2, domains), domains)
    lines = text.splitlines()
    assert lines[0] == "Study,D1,D2,D3,D4,D5,D6,Overall,Weight"
    assert all(line.endswith(",1") for line in lines[1:])


def test_robvis_csv_validates():
    with pytest.raises(RobFigureError, match="D5"):
        robvis_csv([("S", {"D1": "low", "D2": "low", "D3": "low", "D4": "low"}, "low")], ROB2)
