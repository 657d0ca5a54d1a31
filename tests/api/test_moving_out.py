"""Moving out: the ASReview labelled CSV, RevMan Web's study-centric CSVs and the wide extraction,
checked column by column against the resolutions and the consensus extraction."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from api.exchange import exports, revman_web
from extraction import selectors as extraction_selectors
from extraction.models import ArmValue, ExtractionKind
from extraction.rob import selectors as rob_selectors
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


def _consensus_values(cast):
    return ArmValue.objects.filter(
        data__extraction__kind=ExtractionKind.CONSENSUS,
        data__extraction__status="submitted",
        data__extraction__study__review=cast.review,
    ).select_related("arm", "data__extraction__study", "data__outcome", "data__timepoint")


def test_revman_web_study_results_one_row_per_arm(api, cast, twelve):
    response = _get(api, cast, "revman-web-study-results.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    text = response.content.decode()
    assert text.splitlines()[0].split(",") == list(revman_web.STUDY_RESULTS)
    rows = _rows(text)
    values = list(_consensus_values(cast))
    assert len(rows) == len(values) > 0  # one row per arm, not per pair of arms
    for v in values:
        row = next(
            r
            for r in rows
            if r["Study ID"] == v.data.extraction.study.label
            and r["Outcome"] == revman_web.outcome_label(v.data.outcome)
            and r["Timepoint"] == v.data.timepoint.label
            and r["Arm"] == v.arm.name
        )
        assert row["Data type"] == "Continuous" and row["Events"] == ""
        assert (float(row["Mean"]), float(row["SD"]), int(row["Total"])) == (v.mean, v.sd, v.n)


def test_revman_web_results_keep_events_and_an_se_as_entered(cast, twelve):
    study = twelve[0]
    data = study.extractions.get(kind=ExtractionKind.CONSENSUS).data.first()
    exp, ctl = sorted(
        data.arm_values.select_related("arm"), key=lambda v: v.arm.role != "intervention"
    )
    ArmValue.objects.filter(pk=exp.pk).update(mean=None, sd=None, events=12, n=40)
    ArmValue.objects.filter(pk=ctl.pk).update(mean=None, sd=None, se=2.0, n=41)
    rows = [
        r
        for r in _rows(exports.EXPORTS["revman-web-study-results.csv"][1](cast.review))
        if r["Study ID"] == study.label
        and r["Outcome"] == revman_web.outcome_label(data.outcome)
        and r["Timepoint"] == data.timepoint.label
    ]
    by_arm = {r["Arm"]: r for r in rows}
    assert by_arm[exp.arm.name]["Data type"] == "Dichotomous"
    assert (by_arm[exp.arm.name]["Events"], by_arm[exp.arm.name]["Total"]) == ("12", "40")
    assert by_arm[exp.arm.name]["Mean"] == ""
    # RevMan Web's calculator derives the SD from the SE: the SE goes as entered.
    assert (by_arm[ctl.arm.name]["SE"], by_arm[ctl.arm.name]["SD"]) == ("2.0", "")


def test_revman_web_study_arms_and_information_cover_final_consensus_only(api, cast, twelve):
    arms = _rows(_get(api, cast, "revman-web-study-arms.csv").content.decode())
    expected = [
        (s.label, a.name)
        for s in sorted(twelve, key=lambda s: (s.label, s.pk))
        for a in s.arms.all()
    ]
    assert [(r["Study ID"], r["Arm"]) for r in arms] == expected
    assert all(r["Intervention"] == r["Arm"] for r in arms)
    assert "Pfeiffer 2019" not in {r["Study ID"] for r in arms}  # no consensus yet

    text = _get(api, cast, "revman-web-study-information.csv").content.decode()
    header = text.splitlines()[0].split(",")
    template = extraction_selectors.current_template(cast.review)
    assert header == ["Study ID", "Year", *(f"Char: {f['label']}" for f in template.fields())]
    info = {r["Study ID"]: r for r in _rows(text)}
    assert len(info) == 12
    study = twelve[0]
    answers = study.extractions.get(kind=ExtractionKind.CONSENSUS).answers
    assert info[study.label]["Char: Intervention name"] == answers["intervention_name"]
    assert info[study.label]["Year"] == str(study.reports.first().record.year or "")


def test_revman_web_risk_of_bias_is_the_final_rob2_consensus(api, cast, twelve):
    text = _get(api, cast, "revman-web-risk-of-bias.csv").content.decode()
    assert text.splitlines()[0].split(",")[:3] == [
        "Study ID",
        "Outcome",
        "Randomization process: Judgement",
    ]
    rows = _rows(text)
    final = rob_selectors.consensus_rob(cast.review)
    assert len(rows) == len(final) > 0
    labels = {"low": "Low risk", "some_concerns": "Some concerns", "high": "High risk"}
    for row in rows:
        entry = next(e for e in final.values() if e["label"] == row["Study ID"])
        assert row["Overall: Judgement"] == labels[entry["overall"]]
        assert row["Randomization process: Judgement"] == labels[entry["domains"]["D1"]]


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


def test_unknown_export_is_404(api, cast):
    assert _get(api, cast, "secrets.csv").status_code == 404


def test_exports_list(api, cast):
    names = [
        e["name"] for e in api("carol").get(f"/api/v1/reviews/{cast.review.slug}/exports/").json()
    ]
    assert names == list(exports.EXPORTS)
