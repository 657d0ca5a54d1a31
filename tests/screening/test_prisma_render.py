"""Tests for the PRISMA 2020 flow diagram renderer (pure rendering, no Django)."""

from __future__ import annotations

import csv
import io
import struct
import xml.etree.ElementTree as ET

import pytest

from screening.prisma_render import (
    FONT_SIZE,
    PAD_X,
    PrismaCounts,
    PrismaCountsError,
    counts_csv,
    prisma_layout,
    render_pdf,
    render_png,
    render_svg,
    text_width,
)

SVG = "{http://www.w3.org/2000/svg}"

LONG_REASONS = [
    ("Wrong population (participants without a clinical diagnosis of major depression)", 41),
    ("Wrong intervention: pharmacological rather than psychological treatment", 22),
    ("Wrong comparator: active treatment rather than waitlist or usual care", 17),
    ("Wrong outcome (no validated depression scale reported at any time point)", 12),
    ("Wrong study design (not randomised, quasi-randomised or cluster-randomised)", 9),
    ("Duplicate publication of an already included trial with identical data", 8),
    ("Conference abstract only, no full report available from the authors", 6),
    ("Insufficient data to compute an effect size after contacting the authors", 5),
    ("Not published in English, German, French or Spanish", 3),
    ("Supercalifragilisticexpialidociousreasonwithoutanyspacesatallinit", 1),
]
SIX_SOURCES = [
    ("MEDLINE via PubMed", 1204),
    ("Embase (Ovid)", 1587),
    ("APA PsycINFO (EBSCOhost)", 633),
    ("Cochrane Central Register of Controlled Trials (CENTRAL)", 812),
    ("ClinicalTrials.gov", 211),
    ("WHO International Clinical Trials Registry Platform (ICTRP)", 98),
]


def big_counts(**overrides) -> PrismaCounts:
    values = {
        "sources": SIX_SOURCES,
        "duplicates_removed": 1502,
        "automation_excluded": 120,
        "other_removed": 3,
        "records_screened": 2920,
        "records_excluded": 2610,
        "reports_sought": 310,
        "reports_not_retrieved": 14,
        "reports_assessed": 296,
        "reports_excluded": LONG_REASONS,
        "studies_included": 160,
        "reports_included": 174,
        "other_sources": [("Citation searching", 45), ("Websites", 12)],
        "other_reports_sought": 57,
        "other_reports_not_retrieved": 3,
        "other_reports_assessed": 54,
        "other_reports_excluded": [("Wrong population", 30), ("Wrong outcome", 22)],
    }
    values.update(overrides)
    return PrismaCounts(**values)


def small_counts(**overrides) -> PrismaCounts:
    values = {
        "sources": [("PubMed", 100)],
        "duplicates_removed": 10,
        "records_screened": 90,
        "records_excluded": 70,
        "reports_sought": 20,
        "reports_not_retrieved": 2,
        "reports_assessed": 18,
        "reports_excluded": [("Wrong population", 8)],
        "studies_included": 9,
        "reports_included": 10,
    }
    values.update(overrides)
    return PrismaCounts(**values)


def box_texts(svg: str) -> dict[str, list[str]]:
    """Map data-box key -> the unwrapped text of each item (tspans joined by spaces)."""
    root = ET.fromstring(svg)
    out: dict[str, list[str]] = {}
    for g in root.iter(f"{SVG}g"):
        key = g.get("data-box")
        if key is None:
            continue
        texts = []
        for t in g.iter(f"{SVG}text"):
            texts.append(" ".join(span.text or "" for span in t.iter(f"{SVG}tspan")) or t.text)
        out[key] = texts
    return out


def test_every_number_is_printed_next_to_its_box_label():
    texts = box_texts(render_svg(big_counts()))
    expected = {
        "identification": [
            "Records identified from:",
            "MEDLINE via PubMed (n = 1,204)",
            "Embase (Ovid) (n = 1,587)",
            "APA PsycINFO (EBSCOhost) (n = 633)",
            "Cochrane Central Register of Controlled Trials (CENTRAL) (n = 812)",
            "ClinicalTrials.gov (n = 211)",
            "WHO International Clinical Trials Registry Platform (ICTRP) (n = 98)",
            "Total (n = 4,545)",
        ],
        "removed_before_screening": [
            "Records removed before screening:",
            "Duplicate records removed (n = 1,502)",
            "Records marked as ineligible by automation tools (n = 120)",
            "Records removed for other reasons (n = 3)",
        ],
        "records_screened": ["Records screened (n = 2,920)"],
        "records_excluded": ["Records excluded (n = 2,610)"],
        "reports_sought": ["Reports sought for retrieval (n = 310)"],
        "reports_not_retrieved": ["Reports not retrieved (n = 14)"],
        "reports_assessed": ["Reports assessed for eligibility (n = 296)"],
        "included": [
            "Studies included in review (n = 160)",
            "Reports of included studies (n = 174)",
        ],
        "other_identification": [
            "Records identified from:",
            "Citation searching (n = 45)",
            "Websites (n = 12)",
        ],
        "other_reports_sought": ["Reports sought for retrieval (n = 57)"],
        "other_reports_not_retrieved": ["Reports not retrieved (n = 3)"],
        "other_reports_assessed": ["Reports assessed for eligibility (n = 54)"],
        "other_reports_excluded": [
            "Reports excluded:",
            "Wrong population (n = 30)",
            "Wrong outcome (n = 22)",
        ],
    }
    for key, lines in expected.items():
        assert texts[key] == lines, key
    # A word longer than the box is broken across lines, so compare without the spaces
    # that join wrapped pieces.
    reasons = [t.replace(" ", "") for t in texts["reports_excluded"]]
    assert reasons[0] == "Reportsexcluded:"
    assert reasons[1:] == [f"{r} (n = {n})".replace(" ", "") for r, n in LONG_REASONS]


def test_phase_labels_and_section_headers_are_drawn():
    texts = box_texts(render_svg(big_counts()))
    assert texts["phase_identification"] == ["Identification"]
    assert texts["phase_screening"] == ["Screening"]
    assert texts["phase_included"] == ["Included"]
    assert texts["header_databases"] == [
        "Identification of new studies via databases and registers"
    ]
    assert texts["header_other"] == ["Identification of new studies via other methods"]


def test_data_n_attribute_carries_raw_counts():
    root = ET.fromstring(render_svg(big_counts()))
    ns = [int(t.get("data-n")) for t in root.iter(f"{SVG}text") if t.get("data-n")]
    assert 1502 in ns and 4545 in ns and 2920 in ns
    assert sorted(n for n in ns if n in {41, 22, 17}) == [17, 22, 22, 41]


def _segments(points):
    return list(zip(points, points[1:], strict=False))


def _segment_hits_box(seg, box, eps=0.5) -> bool:
    (x0, y0), (x1, y1) = seg
    # Arrows are axis-parallel; test the segment's bounding box against the shrunk box.
    return (
        min(x0, x1) < box.right - eps
        and max(x0, x1) > box.x + eps
        and min(y0, y1) < box.bottom - eps
        and max(y0, y1) > box.y + eps
    )


def test_ten_long_reasons_and_six_sources_do_not_overlap():
    layout = prisma_layout(big_counts())
    boxes = layout.boxes
    assert len(layout.flow_boxes) == 14
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.y >= 0
        assert a.right <= layout.width and a.bottom <= layout.height
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a.key, b.key)
    # Text fits: every wrapped line is narrower than its box and all lines fit in height.
    for box in layout.flow_boxes:
        n_lines = sum(len(item.lines) for item in box.items)
        assert n_lines * FONT_SIZE < box.h
        for item in box.items:
            for line in item.lines:
                assert text_width(line) + item.indent + PAD_X <= box.w, (box.key, line)
    reasons_box = layout.box("reports_excluded")
    assert sum(len(i.lines) for i in reasons_box.items) > 11  # long reasons were wrapped


def test_arrows_connect_their_boxes_without_crossing_others():
    layout = prisma_layout(big_counts())
    pairs = {(a.start, a.end) for a in layout.arrows}
    assert ("identification", "records_screened") in pairs
    assert ("reports_assessed", "reports_excluded") in pairs
    assert ("other_reports_assessed", "included") in pairs
    assert ("other_identification", "other_reports_sought") in pairs
    for arrow in layout.arrows:
        end = layout.box(arrow.end)
        x, y = arrow.points[-1]
        on_edge = abs(x - end.x) < 0.01 or abs(x - end.right) < 0.01 or abs(y - end.y) < 0.01
        assert on_edge and end.x <= x <= end.right and end.y <= y <= end.bottom, arrow
        for seg in _segments(arrow.points):
            for box in layout.boxes:
                if box.key not in (arrow.start, arrow.end):
                    assert not _segment_hits_box(seg, box), (arrow, box.key)


def test_other_method_boxes_are_omitted_when_not_given():
    layout = prisma_layout(small_counts())
    keys = {b.key for b in layout.boxes}
    assert not any(k.startswith("other_") for k in keys)
    assert "header_other" not in keys
    partial = prisma_layout(big_counts(other_reports_not_retrieved=None, other_reports_sought=None))
    keys = {b.key for b in partial.boxes}
    assert "other_reports_sought" not in keys and "other_reports_not_retrieved" not in keys
    assert {"other_identification", "other_reports_assessed"} <= keys
    assert ("other_identification", "other_reports_assessed") in {
        (a.start, a.end) for a in partial.arrows
    }
    # Without other methods the diagram is the narrower databases-only template.
    assert prisma_layout(small_counts()).width < prisma_layout(big_counts()).width


def test_user_text_is_escaped():
    evil = '<script>alert("x")</script> & "quotes"'
    svg = render_svg(small_counts(reports_excluded=[(evil, 8)], sources=[("A&B <db>", 100)]))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    texts = box_texts(svg)
    assert " ".join(texts["reports_excluded"]).replace(" ", "") == (
        "Reportsexcluded:" + f"{evil} (n = 8)".replace(" ", "")
    )
    assert texts["identification"][1] == "A&B <db> (n = 100)"


def test_control_characters_are_dropped_so_svg_stays_valid():
    svg = render_svg(small_counts(sources=[("Pub\x00Med\x1b", 100)]))
    assert box_texts(svg)["identification"][1] == "PubMed (n = 100)"


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def test_png_and_pdf_have_magic_bytes_and_png_scales_with_dpi():
    png = render_png(big_counts())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = render_pdf(big_counts())
    assert pdf[:5] == b"%PDF-"
    layout = prisma_layout(big_counts())
    w150, _ = _png_size(png)
    w300, _ = _png_size(render_png(big_counts(), dpi=300))
    assert abs(w150 - layout.width * 150 / 96) <= 2
    assert abs(w300 - 2 * w150) <= 2
    with pytest.raises(PrismaCountsError):
        render_png(big_counts(), dpi=0)


def test_counts_csv_lists_every_count():
    rows = list(csv.reader(io.StringIO(counts_csv(big_counts()))))
    assert rows[0] == ["box", "label", "n"]
    body = rows[1:]
    assert ["identification", "Embase (Ovid)", "1587"] in body
    assert ["identification", "Total", "4545"] in body
    assert ["removed_before_screening", "Duplicate records removed", "1502"] in body
    assert ["records_screened", "Records screened", "2920"] in body
    assert ["reports_excluded", LONG_REASONS[4][0], "9"] in body  # comma inside: quoted
    assert ["other_reports_excluded", "Wrong outcome", "22"] in body
    assert ["included", "Reports of included studies", "174"] in body
    # sources + total, removed (3), screened..assessed (5), reasons, included (2), other (7)
    assert len(body) == 6 + 1 + 3 + 5 + 10 + 2 + 7


def test_counts_csv_neutralises_spreadsheet_formulas():
    rows = list(csv.reader(io.StringIO(counts_csv(small_counts(sources=[("=HYPERLINK(1)", 100)])))))
    assert ["identification", "'=HYPERLINK(1)", "100"] in rows


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"records_screened": -1}, "records_screened must not be negative"),
        ({"records_excluded": 2.5}, "records_excluded must be an integer"),
        ({"sources": [("", 3)]}, "non-empty name"),
        ({"reports_excluded": [("Wrong population", -2)]}, "must not be negative"),
        ({"other_reports_sought": 4}, "no other sources"),
        (
            {"other_sources": [("Citation searching", 5)], "other_reports_not_retrieved": 1},
            "needs other_reports_sought",
        ),
    ],
)
def test_bad_counts_raise_a_domain_error(overrides, message):
    with pytest.raises(PrismaCountsError, match=message):
        small_counts(**overrides)
    assert issubclass(PrismaCountsError, ValueError)


def test_inconsistencies_report_counts_that_do_not_add_up():
    assert small_counts().inconsistencies() == []
    assert big_counts().inconsistencies() == []
    problems = small_counts(records_screened=95).inconsistencies()
    assert any("records screened (95)" in p for p in problems)


def test_counts_are_hashable_and_lists_become_tuples():
    c = small_counts()
    assert isinstance(c.sources, tuple) and isinstance(c.reports_excluded, tuple)
    assert hash(c) == hash(small_counts())


def test_svg_can_be_inlined_without_xml_declaration():
    svg = render_svg(small_counts(), xml_declaration=False)
    assert svg.startswith("<svg")
    assert render_svg(small_counts()).startswith("<?xml")
    assert box_texts(svg)["records_screened"] == ["Records screened (n = 90)"]


# --- PRISMA 2020 for updated reviews -----------------------------------------------------


def test_the_updated_review_template_adds_previous_studies_and_totals():
    counts = big_counts(previous_studies=40, previous_reports=52)
    assert counts.is_update and (counts.total_studies, counts.total_reports) == (200, 226)
    layout = prisma_layout(counts)
    for i, a in enumerate(layout.boxes):
        assert a.right <= layout.width and a.bottom <= layout.height
        for b in layout.boxes[i + 1 :]:
            assert not a.overlaps(b), (a.key, b.key)
    previous, total, included = (layout.box(k) for k in ("previous", "total", "included"))
    assert previous.x == total.x < included.x  # the "Previous studies" column, leftmost
    assert layout.box("header_previous").x == previous.x
    pairs = {(a.start, a.end) for a in layout.arrows}
    assert {("previous", "total"), ("included", "total")} <= pairs
    for arrow in layout.arrows:
        for seg in _segments(arrow.points):
            for box in layout.boxes:
                if box.key not in (arrow.start, arrow.end):
                    assert not _segment_hits_box(seg, box), (arrow, box.key)
    texts = box_texts(render_svg(counts))
    assert texts["previous"] == [
        "Studies included in previous version of review (n = 40)",
        "Reports of studies included in previous version of review (n = 52)",
    ]
    assert texts["included"] == [
        "New studies included in review (n = 160)",
        "Reports of new included studies (n = 174)",
    ]
    assert texts["total"] == [
        "Total studies included in review (n = 200)",
        "Reports of total included studies (n = 226)",
    ]
    assert texts["header_previous"] == ["Previous studies"]
    rows = list(csv.DictReader(io.StringIO(counts_csv(counts))))
    by_box = {(r["box"], r["label"]): int(r["n"]) for r in rows}
    assert by_box[("previous", "Studies included in previous version of review")] == 40
    assert by_box[("total", "Reports of total included studies")] == 226
    assert render_png(counts).startswith(b"\x89PNG") and render_pdf(counts).startswith(b"%PDF")


def test_a_new_review_has_no_previous_column_and_half_an_update_is_refused():
    texts = box_texts(render_svg(small_counts()))
    assert "previous" not in texts and "total" not in texts
    assert texts["included"][0] == "Studies included in review (n = 9)"
    with pytest.raises(PrismaCountsError, match="come together"):
        small_counts(previous_studies=3)
