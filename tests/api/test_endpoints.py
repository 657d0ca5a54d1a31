"""Every endpoint's content: screening through the page's services, adjudication, imports,
PRISMA, studies and their consensus, outcome data, RoB 2, analyses and their results."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis import exports as analysis_exports
from analysis import selectors as analysis_selectors
from reviews.models import ImportBatch, Job, Record
from screening.models import Resolution, Vote, VoteChange
from screening.prisma import prisma_counts
from tests.analysis.factories import build_twelve, clinical_analysis
from tests.screening.factories import pair, records, vote

pytestmark = pytest.mark.django_db

RIS = "\n".join(
    [
        "TY  - JOUR",
        "TI  - Peer support for recovery in psychosis: a randomised trial",
        "AU  - Smith, Jane",
        "PY  - 2021",
        "DO  - 10.1000/peer.1",
        "ER  - ",
        "",
        "TY  - JOUR",
        "TI  - Mutual help groups and hope",
        "AU  - Doe, John",
        "PY  - 2019",
        "ER  - ",
        "",
    ]
).encode()


def _base(cast) -> str:
    return f"/api/v1/reviews/{cast.review.slug}/"


# --- screening ---------------------------------------------------------------------------------


def test_next_then_vote_through_the_screening_service(api, cast):
    made = records(cast.review, 2)
    alice = api("alice")
    first = alice.get(_base(cast) + "screening/ta/next/").json()
    assert first["stage"] == "ta" and first["record"]["id"] in {r.pk for r in made}
    # The same claim comes back until alice decides (as on the page).
    again = alice.get(_base(cast) + "screening/ta/next/").json()
    assert again["record"]["id"] == first["record"]["id"]
    response = alice.post(
        _base(cast) + "screening/ta/votes/",
        {"record": first["record"]["id"], "decision": "include", "note": "fits"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Vote.objects.get(reviewer=cast.alice).decision == "include"
    assert VoteChange.objects.filter(reviewer=cast.alice, new_decision="include").exists()
    mine = alice.get(_base(cast) + "screening/ta/votes/").json()["results"]
    assert [(v["record"], v["decision"]) for v in mine] == [(first["record"]["id"], "include")]
    # A vote list never includes another reviewer's votes.
    vote(cast.review, made[1], cast.bob, "exclude")
    assert len(alice.get(_base(cast) + "screening/ta/votes/").json()["results"]) == 1


def test_next_is_null_when_nothing_is_left(api, cast):
    assert api("alice").get(_base(cast) + "screening/ta/next/").json()["record"] is None


@pytest.mark.parametrize(
    "body,status",
    [
        ({"record": 999999, "decision": "include"}, 404),
        ({"decision": "include"}, 400),
        ({"record": 1, "decision": "perhaps"}, 400),
    ],
)
def test_bad_votes_are_4xx_and_write_nothing(api, cast, body, status):
    records(cast.review, 1)
    response = api("alice").post(_base(cast) + "screening/ta/votes/", body, format="json")
    assert response.status_code == status
    assert not Vote.objects.exists()


def test_full_text_exclusion_needs_a_reason(api, cast):
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.alice, cast.bob, "include", "include")
    url = _base(cast) + "screening/ft/votes/"
    response = api("alice").post(url, {"record": record.pk, "decision": "exclude"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "reason"
    reason = cast.review.exclusion_reasons.filter(stage="ft").first()
    response = api("alice").post(
        url, {"record": record.pk, "decision": "exclude", "reason": reason.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["reason"] == reason.label


def test_vote_on_resolved_record_is_409(api, cast):
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.alice, cast.bob, "include", "include")
    response = api("alice").post(
        _base(cast) + "screening/ta/votes/",
        {"record": record.pk, "decision": "exclude"},
        format="json",
    )
    assert response.status_code == 409


def test_conflicts_and_adjudication(api, cast):
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.alice, cast.bob, "include", "exclude")
    carol = api("carol")
    rows = carol.get(_base(cast) + "screening/ta/conflicts/").json()["results"]
    assert [(r["record"], sorted(v["reviewer"] for v in r["votes"])) for r in rows] == [
        (record.pk, ["alice", "bob"])
    ]
    url = _base(cast) + f"screening/ta/conflicts/{record.pk}/adjudicate/"
    assert carol.post(url, {"decision": "maybe"}, format="json").status_code == 400
    response = carol.post(url, {"decision": "include", "note": "fits PICO"}, format="json")
    assert response.status_code == 200
    resolution = Resolution.objects.get(record=record, stage="ta")
    assert resolution.adjudicated and resolution.actor == cast.carol
    assert carol.post(url, {"decision": "include"}, format="json").status_code == 404
    assert carol.get(_base(cast) + "screening/ta/conflicts/").json()["results"] == []


# --- imports and PRISMA --------------------------------------------------------------------------


def test_upload_runs_a_preview_job_then_confirm_runs_the_import_job(api, cast):
    lead = api("lead")
    upload = SimpleUploadedFile("search.ris", RIS, content_type="application/x-research-info")
    response = lead.post(_base(cast) + "imports/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    job = lead.get(_base(cast) + f"jobs/{response.json()['id']}/").json()
    assert (job["kind"], job["status"], job["started_by"]) == (
        "import_preview",
        "succeeded",
        "lead",
    )
    batch = lead.get(_base(cast) + f"imports/{job['result']['batch_id']}/").json()
    assert (batch["status"], batch["n_read"], batch["format"]) == ("preview", 2, "ris")
    assert not Record.objects.filter(review=cast.review).exists()
    response = lead.post(_base(cast) + f"imports/{batch['id']}/confirm/")
    assert response.status_code == 202
    assert response.json()["status"] == "succeeded"
    batch = lead.get(_base(cast) + f"imports/{batch['id']}/").json()
    assert (batch["status"], batch["n_imported"]) == ("imported", 2)
    assert Record.objects.filter(review=cast.review).count() == 2
    again = lead.post(_base(cast) + f"imports/{batch['id']}/confirm/")
    assert again.status_code == 409
    # Members see the jobs; only leads start them.
    assert len(api("alice").get(_base(cast) + "jobs/").json()["results"]) == 2


def test_upload_of_an_unreadable_file_is_400(api, cast):
    upload = SimpleUploadedFile("junk.ris", b"\x00\x01 nothing here", content_type="text/plain")
    response = api("lead").post(_base(cast) + "imports/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert not ImportBatch.objects.filter(review=cast.review).exists()
    assert not Job.objects.filter(review=cast.review).exists()


def test_discard(api, cast):
    lead = api("lead")
    upload = SimpleUploadedFile("search.ris", RIS)
    job = lead.post(_base(cast) + "imports/", {"file": upload}, format="multipart").json()
    batch_id = Job.objects.get(pk=job["id"]).result["batch_id"]
    assert lead.post(_base(cast) + f"imports/{batch_id}/discard/").status_code == 204
    assert ImportBatch.objects.get(pk=batch_id).status == ImportBatch.Status.DISCARDED


def test_prisma_counts_are_the_pages(api, cast):
    a, b, c = records(cast.review, 3)
    pair(cast.review, a, cast.alice, cast.bob, "include", "include")
    pair(cast.review, b, cast.alice, cast.bob, "exclude", "exclude")
    body = api("alice").get(_base(cast) + "prisma/").json()
    counts = prisma_counts(cast.review)
    assert body["records_screened"] == counts.records_screened == 3
    assert body["records_excluded"] == counts.records_excluded == 1
    assert body["reports_sought"] == counts.reports_sought == 1
    assert body["pending"] == {"ta": 1, "ft": 1}


# --- extraction, outcomes, RoB 2, analyses ---------------------------------------------------------


@pytest.fixture
def twelve(cast):
    return build_twelve(cast)


def test_studies_extraction_outcomes_rob_analyses(api, cast, twelve):
    client = api("bob")
    studies = client.get(_base(cast) + "studies/?page_size=100").json()["results"]
    assert len(studies) == 13
    by_label = {s["label"]: s for s in studies}
    assert by_label["Pfeiffer 2019"]["consensus_final"] is False
    study = twelve[0]
    detail = client.get(_base(cast) + f"studies/{study.pk}/extraction/").json()
    assert detail["status"] == "final"
    answers = {f["key"]: f["value"] for f in detail["fields"]}
    consensus = study.extractions.get(kind="consensus")
    assert answers["intervention_name"] == consensus.answers["intervention_name"]
    assert all(f["label"] for f in detail["fields"])
    pending = by_label["Pfeiffer 2019"]["id"]
    assert client.get(_base(cast) + f"studies/{pending}/extraction/").json()["status"] == (
        "not_final"
    )

    # outcomes/: one row per study × outcome × timepoint × arm, the consensus' numbers.
    rows = client.get(_base(cast) + "outcomes/").json()
    from extraction.models import ArmValue

    values = ArmValue.objects.filter(
        data__extraction__kind="consensus", data__extraction__study__review=cast.review
    )
    assert len(rows) == values.count() > 0
    for row in rows[:6]:
        v = values.get(
            arm_id=row["arm"], data__outcome_id=row["outcome"], data__timepoint_id=row["timepoint"]
        )
        assert (row["mean"], row["sd"], row["n"]) == (v.mean, v.sd, v.n)

    # rob/: final consensus judgements only.
    rob = client.get(_base(cast) + "rob/").json()
    assessed = {s.label for s in twelve if s.rob_targets.exists()}
    assert {r["study_label"] for r in rob} == assessed
    assert all(set(r["domains"]) == {"D1", "D2", "D3", "D4", "D5"} for r in rob)
    assert all(r["overall"] in {"low", "some_concerns", "high"} for r in rob)

    # analyses/{id}/results/: the numbers of the results CSV, row for row.
    analysis = clinical_analysis(cast)
    listed = client.get(_base(cast) + "analyses/").json()["results"]
    assert [a["id"] for a in listed] == [analysis.pk]
    body = client.get(_base(cast) + f"analyses/{analysis.pk}/results/").json()
    report, _ = analysis_selectors.analysis_report(analysis)
    expected = list(csv.DictReader(io.StringIO(analysis_exports.results_csv(report))))
    assert [r["key"] for r in body["rows"]] == [r["key"] for r in expected]
    for got, want in zip(body["rows"], expected, strict=True):
        if want["estimate"]:
            assert got["estimate"] == pytest.approx(float(want["estimate"]), rel=1e-9)
            assert got["k"] == int(want["k"])
    other = client.get(_base(cast) + f"analyses/{analysis.pk}/results/?method=DL&hk=0").json()
    assert other["method"] == "DL" and other["hartung_knapp"] is False
    assert client.get(_base(cast) + f"analyses/{analysis.pk}/results/?method=XX").status_code == 400


def test_studies_exist_in_their_review_only(api, cast, other_review):
    from extraction import services
    from tests.factories import RecordFactory

    record = RecordFactory(review=other_review)
    study = services.study_create(review=other_review, records=[record], actor=cast.outsider)
    assert api("alice").get(_base(cast) + f"studies/{study.pk}/extraction/").status_code == 404


def test_csv_upload_with_a_column_mapping(api, cast):
    lead = api("lead")
    data = b"Headline,Writers\nPeer support and hope,Smith J\nPeer mentors,Doe A\n"
    upload = SimpleUploadedFile("wos.csv", data, content_type="text/csv")
    response = lead.post(_base(cast) + "imports/", {"file": upload}, format="multipart")
    assert response.status_code == 400 and "title" in response.json()["detail"]
    upload = SimpleUploadedFile("wos.csv", data, content_type="text/csv")
    response = lead.post(
        _base(cast) + "imports/",
        {"file": upload, "csv_mapping": '{"title": "Headline", "authors": "Writers"}'},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    batch = ImportBatch.objects.get(pk=response.json()["result"]["batch_id"])
    assert batch.n_read == 2 and batch.csv_mapping["title"] == "Headline"
    upload = SimpleUploadedFile("wos.csv", data, content_type="text/csv")
    bad = lead.post(
        _base(cast) + "imports/",
        {"file": upload, "csv_mapping": '{"colour": "Writers"}', "format": "csv"},
        format="multipart",
    )
    assert bad.status_code == 400
