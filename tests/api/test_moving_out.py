"""Moving out: the ASReview labelled CSV, RevMan Web's CSVs and the wide extraction,
checked column by column against the resolutions and the consensus extraction."""

from __future__ import annotations

import csv
import io
import math

import pytest
from openpyxl import load_workbook

from api.exchange import exports
from extraction import selectors as extraction_selectors
from extraction.models import ArmValue, ExtractionKind
from tests.analysis.factories import build_twelve
from tests.screening.factories import pair, records, vote

pytestmark = pytest.mark.django_db


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _get(api, cast, name: str, user: str = "bob"):
    return api(user).get(f"/api/v1/reviews/{cast.review.slug}/exports/{name}/")


def test_asreview_csv_labels_only_resolved_decisions(api, cast):
    included, excluded, voted, untouched = records(cast.review, 4)
    pair(cast.review, included, cast.alice, cast.bob, "include", "include")
    pair(cast.review, excluded, cast.alice, cast.bob, "exclude", "exclude")
    vote(cast.review, voted, cast.alice, "include")  # one vote: not a decision yet
    response = _get(api, cast, "asreview.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    text = response.content.decode()
    assert text.splitlines()[0] == "record_id,title,abstract,authors,doi,label_included"
    rows = {int(r["record_id"]): r for r in _rows(text)}
    assert rows[included.pk]["label_included"] == "1"
    assert rows[excluded.pk]["label_included"] == "0"
    # A blinded reviewer's download never shows another's vote: unresolved is empty.
    assert rows[voted.pk]["label_included"] == ""
    assert rows[untouched.pk]["label_included"] == ""
    assert rows[included.pk]["title"] == included.title
    assert rows[included.pk]["authors"] == "; ".join(included.authors)


@pytest.fixture
def twelve(cast):
    return build_twelve(cast)


def test_revman_continuous_matches_the_consensus(api, cast, twelve):
    response = _get(api, cast, "revman-continuous.csv")
    assert response.status_code == 200
    text = response.content.decode()
    assert text.splitlines()[0] == (
        "Study,Outcome,Timepoint,Experimental arm,Control arm,Experimental Mean,"
        "Experimental SD,Experimental Total,Control Mean,Control SD,Control Total"
    )
    rows = _rows(text)
    values = ArmValue.objects.filter(
        data__extraction__kind=ExtractionKind.CONSENSUS,
        data__extraction__study__review=cast.review,
    ).select_related("arm", "data__extraction__study", "data__outcome", "data__timepoint")
    # One row per study × outcome × timepoint (one experimental and one control arm each).
    assert len(rows) == values.count() // 2 > 0
    for row in rows:
        block = [
            v
            for v in values
            if v.data.extraction.study.label == row["Study"]
            and exports.outcome_label(v.data.outcome) == row["Outcome"]
            and v.data.timepoint.label == row["Timepoint"]
        ]
        exp = next(v for v in block if v.arm.name == row["Experimental arm"])
        ctl = next(v for v in block if v.arm.name == row["Control arm"])
        assert (exp.arm.role, ctl.arm.role) == ("intervention", "control")
        assert float(row["Experimental Mean"]) == exp.mean
        assert float(row["Experimental SD"]) == exp.sd
        assert int(row["Experimental Total"]) == exp.n
        assert float(row["Control Mean"]) == ctl.mean
        assert float(row["Control SD"]) == ctl.sd
        assert int(row["Control Total"]) == ctl.n
    # No dichotomous data in these trials: the file has its header only.
    assert _get(api, cast, "revman-dichotomous.csv").content.decode().splitlines() == [
        "Study,Outcome,Timepoint,Experimental arm,Control arm,Experimental Events,"
        "Experimental Total,Control Events,Control Total"
    ]


def test_revman_dichotomous_and_sd_from_se(cast, twelve):
    study = twelve[0]
    consensus = study.extractions.get(kind=ExtractionKind.CONSENSUS)
    data = consensus.data.first()
    exp, ctl = sorted(
        data.arm_values.select_related("arm"), key=lambda v: v.arm.role != "intervention"
    )
    # Dichotomous numbers on one block, an SE instead of an SD on another.
    ArmValue.objects.filter(pk=exp.pk).update(mean=None, sd=None, events=12, n=40)
    ArmValue.objects.filter(pk=ctl.pk).update(mean=None, sd=None, events=20, n=41)
    rows = _rows(exports.revman_dichotomous_csv(cast.review))
    assert rows == [
        {
            "Study": study.label,
            "Outcome": exports.outcome_label(data.outcome),
            "Timepoint": data.timepoint.label,
            "Experimental arm": exp.arm.name,
            "Control arm": ctl.arm.name,
            "Experimental Events": "12",
            "Experimental Total": "40",
            "Control Events": "20",
            "Control Total": "41",
        }
    ]
    other = ArmValue.objects.filter(data__extraction=consensus).exclude(data=data).first()
    if other is None:
        other = (
            ArmValue.objects.filter(
                data__extraction__kind=ExtractionKind.CONSENSUS,
                data__extraction__study__review=cast.review,
                arm__role="intervention",
            )
            .exclude(data=data)
            .first()
        )
    ArmValue.objects.filter(pk=other.pk).update(sd=None, se=2.0, n=25)
    row = next(
        r
        for r in _rows(exports.revman_continuous_csv(cast.review))
        if r["Study"] == other.data.extraction.study.label
        and r["Outcome"] == exports.outcome_label(other.data.outcome)
        and r["Experimental arm"] == other.arm.name
        and r["Timepoint"] == other.data.timepoint.label
    )
    assert float(row["Experimental SD"]) == pytest.approx(2.0 * math.sqrt(25))


def test_wide_extraction_one_row_per_study_with_the_forms_labels(api, cast, twelve):
    text = _get(api, cast, "extraction.csv").content.decode()
    rows = _rows(text)
    template = extraction_selectors.current_template(cast.review)
    labels = [f["label"] for s in template.schema["sections"] for f in s["fields"]]
    header = text.splitlines()[0].split(",")
    assert header[:3] == ["Study", "Study ID", "Consensus"]
    assert len(header) == 3 + len(labels)
    assert len(rows) == 13  # twelve extracted + one without a consensus
    by_label = {r["Study"]: r for r in rows}
    assert by_label["Pfeiffer 2019"]["Consensus"] == "not final"
    study = twelve[0]
    answers = study.extractions.get(kind=ExtractionKind.CONSENSUS).answers
    field = next(
        f
        for s in template.schema["sections"]
        for f in s["fields"]
        if f["key"] == "intervention_name"
    )
    assert by_label[study.label][field["label"]] == answers["intervention_name"]

    response = _get(api, cast, "extraction.xlsx")
    assert response["Content-Disposition"].endswith('extraction.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]][:3] == ["Study", "Study ID", "Consensus"]
    assert sheet.max_row == 14

    chars = _rows(_get(api, cast, "revman-characteristics.csv").content.decode())
    assert len(chars) == 12  # finalised consensus only
    assert chars[0]["Study"] and f"Char: {field['label']}" in chars[0]


def test_unknown_export_is_404(api, cast):
    assert _get(api, cast, "secrets.csv").status_code == 404


def test_exports_list(api, cast):
    names = [
        e["name"] for e in api("carol").get(f"/api/v1/reviews/{cast.review.slug}/exports/").json()
    ]
    assert names == list(exports.EXPORTS)
