"""Reading other tools' decisions from a record's source fields (api/exchange/tools.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.exchange import tools
from api.exchange.tools import Decision

TWO_ROUNDS = (
    'RAYYAN-INCLUSION: {"Ann"=>"Included", "Bo"=>"Excluded"} | RAYYAN-INCLUSION: '
    '{"Cy"=>"Excluded", "Di"=>"Excluded"} | RAYYAN-LABELS: check,later | '
    "RAYYAN-EXCLUSION-REASONS: wrong population,background article"
)


@pytest.mark.parametrize(
    "notes,expected",
    [
        ('RAYYAN-INCLUSION: {"A"=>"Included"}', [Decision("ta", "include", "A", round=1)]),
        (
            'RAYYAN-INCLUSION: {"A b"=>"Excluded", "C"=>"Maybe"} | RAYYAN-EXCLUSION-REASONS: '
            "wrong outcome,background article",
            [
                Decision("ta", "exclude", "A b", ("wrong outcome", "background article"), 1),
                Decision("ta", "maybe", "C", round=1),
            ],
        ),
        ("RAYYAN-LABELS: later", []),
        ("", []),
        (
            'RAYYAN-INCLUSION: {"A"=>"Undecided"}',
            [
                Decision(
                    "ta",
                    "Undecided",
                    "A",
                    round=1,
                    unwritten="“Undecided” is not a Rayyan decision",
                )
            ],
        ),
    ],
)
def test_rayyan_notes(notes, expected):
    assert tools.rayyan_decisions({"notes": notes}) == expected


def test_rayyan_rounds_the_last_decides():
    got = tools.rayyan_decisions({"notes": TWO_ROUNDS}, tools.ROUNDS_LAST)
    reasons = ("wrong population", "background article")
    note = "Rayyan labels: check, later"
    superseded = "round 1 of 2: the last round decides"
    assert got == [
        Decision("ta", "include", "Ann", (), 1, note, superseded),
        Decision("ta", "exclude", "Bo", reasons, 1, note, superseded),
        Decision("ta", "exclude", "Cy", reasons, 2, note),
        Decision("ta", "exclude", "Di", reasons, 2, note),
    ]


def test_rayyan_rounds_go_to_stages():
    got = tools.rayyan_decisions({"notes": TWO_ROUNDS}, tools.ROUNDS_STAGES)
    assert [(d.reviewer, d.stage, d.round, d.unwritten) for d in got] == [
        ("Ann", "ta", 1, ""),
        ("Bo", "ta", 1, ""),
        ("Cy", "ft", 2, ""),
        ("Di", "ft", 2, ""),
    ]
    three = TWO_ROUNDS + ' | RAYYAN-INCLUSION: {"Ann"=>"Included"}'
    got = tools.rayyan_decisions({"notes": three}, tools.ROUNDS_STAGES)
    assert [(d.stage, d.round) for d in got if not d.unwritten] == [
        ("ta", 1),
        ("ta", 1),
        ("ft", 3),
    ]
    assert {d.unwritten for d in got if d.round == 2} == {
        "round 2 of 3: only the last round is full text"
    }


def test_rayyan_ris_notes_are_read_from_n1():
    fields = {
        "TY": ["JOUR"],
        "N1": ['RAYYAN-INCLUSION: {"Zbys"=>"Excluded"} | RAYYAN-LABELS: M.el-G please review '
               "| RAYYAN-EXCLUSION-REASONS: wrong drug,wrong intervention"],
    }  # fmt: skip
    (d,) = tools.rayyan_decisions(fields)
    assert (d.reviewer, d.decision, d.reasons) == (
        "Zbys",
        "exclude",
        ("wrong drug", "wrong intervention"),
    )
    assert d.note == "Rayyan labels: M.el-G please review"
    assert tools.rayyan_decisions({"TY": ["JOUR"], "TI": ["No notes"]}) == []
    with pytest.raises(tools.ToolFormatError):
        tools.rayyan_decisions({"title": "a CSV without notes"})


def test_rayyan_names_and_rounds_of_a_file():
    rows = [{"notes": TWO_ROUNDS}, {"notes": 'RAYYAN-INCLUSION: {"Eve"=>"Maybe"}'}, {"notes": ""}]
    assert tools.reviewer_names("rayyan", rows) == ["Ann", "Bo", "Cy", "Di", "Eve"]
    assert tools.rayyan_rounds(rows) == 2


@pytest.mark.parametrize(
    "row,expected",
    [
        ({"included": "1"}, "include"),
        ({"included": "0"}, "exclude"),
        ({"included": "-1"}, None),
        ({"included": ""}, None),
        ({"included": "NA"}, None),  # R's write.csv
        ({"included": "nan"}, None),  # pandas
        ({"label_included": "1.0"}, "include"),  # a float column
        ({"asreview_label": "0", "included": "1"}, "exclude"),  # LAB 2's own label first
        ({"asreview_label": "", "asreview_time": "", "included": "1"}, None),
        ({"final_included": "yes"}, "include"),
        ({"TY": ["JOUR"], "N1": ["Additional notes. ASReview_relevant."]}, "include"),
        ({"TY": ["JOUR"], "N1": ["ASReview_irrelevant"]}, "exclude"),
        ({"TY": ["JOUR"], "N1": ["ASReview_not_seen"]}, None),
        ({"TY": ["JOUR"], "TI": ["not exported as labelled"]}, None),
    ],
)
def test_asreview_labels(row, expected):
    got = tools.asreview_decisions(row)
    assert [d.decision for d in got] == ([expected] if expected else [])
    assert all(d.stage == "ta" and not d.reviewer and not d.unwritten for d in got)


def test_asreview_note_and_time_are_kept():
    (d,) = tools.asreview_decisions(
        {"asreview_label": "1", "asreview_time": "2025-01-20 10:02:11", "asreview_note": "PICO ok"}
    )
    assert d.note == "PICO ok; labelled in ASReview at 2025-01-20 10:02:11"
    (d,) = tools.asreview_decisions({"included": "maybe"})
    assert d.unwritten == "“maybe” is not an ASReview label (1, 0 or empty)"
    with pytest.raises(tools.ToolFormatError, match="asreview_label"):
        tools.asreview_decisions({"title": "no label column"})


@pytest.mark.parametrize(
    "name,expected",
    [
        ("review_123456_select_csv_20240105101010.csv", "select"),
        ("review_9_included_ris_20230101.ris", "included"),
        ("review_9_excluded_csv_x.csv", "excluded"),
        ("review_9_irrelevant_csv_x.csv", "irrelevant"),
        ("review_9_screen_csv_x.csv", "screen"),
        ("my_references.csv", ""),
    ],
)
def test_covidence_list_from_its_file_name(name, expected):
    assert tools.covidence_list_from_filename(name) == expected


def test_covidence_lists_and_the_reason_in_the_notes():
    row = {"Title": "x", "Notes": "Exclusion reason: Wrong population; ", "Tags": "RCT"}
    assert tools.covidence_decisions(row, "excluded") == [
        Decision(
            "ta", "include", note="Covidence notes: Exclusion reason: Wrong population; tags: RCT"
        ),
        Decision(
            "ft",
            "exclude",
            reasons=("Wrong population",),
            note="Covidence notes: Exclusion reason: Wrong population; tags: RCT",
        ),
    ]
    assert [d.decision for d in tools.covidence_decisions({"Title": "x"}, "select")] == ["include"]
    assert tools.covidence_decisions({"Title": "x"}, "screen") == []
    ris = {"TY": ["JOUR"], "N1": ["Exclusion reason: Wrong outcome; "]}
    assert tools.covidence_decisions(ris, "excluded")[1].reasons == ("Wrong outcome",)
    with pytest.raises(tools.ToolFormatError, match="select"):
        tools.covidence_decisions(row, "full")


def test_every_format_has_an_example():
    assert set(tools.FORMATS) == set(tools.TOOLS)
    for versions in tools.FORMATS.values():
        assert versions and all(v["version"] and v["example"] for v in versions)
    assert "RAYYAN-INCLUSION" in tools.formats_markdown()


# --- Hostile notes: nothing but a ToolFormatError, whatever a file holds --------------------

_PIECES = st.sampled_from(
    [
        "RAYYAN-INCLUSION: {",
        "RAYYAN-EXCLUSION-REASONS: ",
        "RAYYAN-LABELS: ",
        " | ",
        '"A"=>"Included"',
        '"B\\"x"=>"Excluded", ',
        "}",
        ",",
        "ASReview_relevant",
        "Exclusion reason: ",
        ";",
        "\x00",
        "\n",
        "é",
    ]
)
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=30).map("".join)


@given(notes=_TEXT, rounds=st.sampled_from(list(tools.RAYYAN_ROUNDS)), ris=st.booleans())
def test_rayyan_notes_never_raise(notes, rounds, ris):
    fields = {"TY": ["JOUR"], "N1": [notes]} if ris else {"key": "1", "notes": notes}
    for d in tools.rayyan_decisions(fields, rounds):
        assert d.stage in ("ta", "ft") and d.round >= 1
        assert d.unwritten or d.decision in ("include", "exclude", "maybe")


@given(
    value=st.one_of(_TEXT, st.sampled_from(["1", "0", "NA", "nan", "1.0", "-1", "inf", "1e309"])),
    column=st.sampled_from([*tools.ASREVIEW_COLUMNS, "N1"]),
)
def test_asreview_labels_never_raise(value, column):
    fields = {"TY": ["JOUR"], "N1": [value]} if column == "N1" else {column: value}
    for d in tools.asreview_decisions(fields):
        assert d.unwritten or d.decision in ("include", "exclude")


@given(notes=_TEXT, covidence_list=st.sampled_from(list(tools.COVIDENCE_LISTS)))
def test_covidence_notes_never_raise(notes, covidence_list):
    for d in tools.covidence_decisions({"Title": "x", "Notes": notes}, covidence_list):
        assert d.decision in ("include", "exclude")
