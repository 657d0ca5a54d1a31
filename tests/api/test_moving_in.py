"""Importing records WITH their screening decisions from ASReview, Rayyan and Covidence.

The fixtures under tests/fixtures/interop/ are small exports in each tool's format, built
from the tools' documentation:

- ASReview LAB, "Data format" and "Fully and partially labeled data"
  (https://asreview.readthedocs.io, v1.x, chapters 8-9): labels in `included` (data sets
  also `label_included`), 1 = relevant, 0 = irrelevant, empty = not labelled; the
  exported data set adds `record_id` and `asreview_ranking`.
- Rayyan, "Export your review" (https://help.rayyan.ai): `articles.csv` with the columns
  key,title,authors,journal,issn,volume,issue,pages,year,publisher,url,abstract,notes,...;
  each reviewer's decision is in `notes` as
  `RAYYAN-INCLUSION: {"Name"=>"Included"|"Excluded"|"Maybe", ...}`, followed by
  `| RAYYAN-EXCLUSION-REASONS: ...` and `| RAYYAN-LABELS: ...` (as read by, e.g.,
  agbarnett/publication_preferences `0_read_rayyan.R`).
- Covidence, "How do I export references?" (https://support.covidence.org): one CSV per
  list (Included, Excluded, Irrelevant) with Title, Authors, Abstract, Published Year,
  Published Month, Journal, Volume, Issue, Pages, Accession Number, DOI, Ref,
  Covidence #, Study, Notes, Tags.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.exchange import tools
from reviews.models import ExclusionReason, Job, Record
from screening.models import Resolution, ScreeningItem, Vote, VoteChange
from screening.prisma import prisma_counts

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"


def _base(cast) -> str:
    return f"/api/v1/reviews/{cast.review.slug}/"


def _import(api, cast, name: str) -> int:
    """Upload and confirm an export through the API (as a lead would); return the batch id."""
    lead = api("lead")
    upload = SimpleUploadedFile(name, (FIXTURES / name).read_bytes(), content_type="text/csv")
    job = lead.post(_base(cast) + "imports/", {"file": upload}, format="multipart").json()
    batch_id = Job.objects.get(pk=job["id"]).result["batch_id"]
    assert lead.post(_base(cast) + f"imports/{batch_id}/confirm/").status_code == 202
    return batch_id


def _decide(api, cast, batch_id: int, **body):
    return api("lead").post(_base(cast) + f"imports/{batch_id}/decisions/", body, format="json")


def _final(cast, title_start: str, stage: str = "ta") -> Resolution | None:
    record = Record.objects.get(review=cast.review, title__startswith=title_start)
    return Resolution.objects.filter(record=record, stage=stage).first()


def test_asreview_labels_become_imported_resolutions(api, cast, client):
    batch = _import(api, cast, "asreview_export.csv")
    preview = api("lead").get(_base(cast) + f"imports/{batch}/decisions/?tool=asreview").json()
    assert preview["decisions"] == {"ta:include": 2, "ta:exclude": 2}
    response = _decide(api, cast, batch, tool="asreview")
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["records"], report["resolved"], report["votes"]) == (5, 4, 0)
    assert (report["read"], report["written"], report["not_written"]) == (4, 4, 0)
    assert report["asreview_column"] == "included"
    included = _final(cast, "Peer support for people with serious")
    assert (included.decision, included.imported_from, included.actor) == (
        "include",
        "ASReview",
        cast.lead,
    )
    assert not included.adjudicated
    assert _final(cast, "Cost of inpatient").decision == "exclude"
    assert _final(cast, "Peer navigators") is None  # not labelled: still to screen here
    # Counted as resolved title/abstract decisions, in PRISMA too.
    counts = prisma_counts(cast.review)
    assert (counts.records_screened, counts.records_excluded, counts.reports_sought) == (5, 2, 2)
    assert ScreeningItem.objects.filter(review=cast.review, stage="ft").count() == 2
    # Labelled as imported in the record's history (API and screening page).
    record = Record.objects.get(title__startswith="Peer support for people with serious")
    detail = api("bob").get(_base(cast) + f"records/{record.pk}/").json()
    assert detail["votes"]["ta"]["resolution"]["imported_from"] == "ASReview"
    client.force_login(cast.alice)
    page = client.get(f"/reviews/{cast.review.slug}/screening/ta/records/{record.pk}/")
    assert page.status_code == 200 and b"Imported from ASReview by lead" in page.content
    # A second import of the same decisions skips what is decided already.
    again = _decide(api, cast, batch, tool="asreview").json()
    assert again["resolved"] == 0 and len(again["skipped"]) == 4
    assert {u["reason"] for u in again["unwritten"]} == {"This record is already resolved"}


def test_asreview_label_included_column(api, cast):
    batch = _import(api, cast, "asreview_dataset_label_included.csv")
    assert _decide(api, cast, batch, tool="asreview").json()["resolved"] == 2
    assert _final(cast, "Online peer support").decision == "include"
    assert _final(cast, "Length of stay").decision == "exclude"


def test_rayyan_votes_per_reviewer_through_the_vote_service(api, cast):
    batch = _import(api, cast, "rayyan_articles.csv")
    preview = api("lead").get(_base(cast) + f"imports/{batch}/decisions/?tool=rayyan").json()
    assert preview["reviewers"] == ["Alice", "Bob", "Pilot Screener"]
    # Every name must be mapped (to a member or deliberately to nobody): nothing is written.
    refused = _decide(api, cast, batch, tool="rayyan", reviewers={"Alice": "alice"})
    assert refused.status_code == 400 and "Bob" in refused.json()["detail"]
    assert not Vote.objects.exists()
    # A name mapped to someone without the reviewer role is refused too.
    refused = _decide(
        api, cast, batch, tool="rayyan",
        reviewers={"Alice": "alice", "Bob": "carol", "Pilot Screener": None},
    )  # fmt: skip
    assert refused.status_code == 400 and not Vote.objects.exists()

    response = _decide(
        api, cast, batch, tool="rayyan",
        reviewers={"Alice": "alice", "Bob": "bob", "Pilot Screener": None},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["votes"] == 7
    both_in = _final(cast, "Peer-delivered recovery")
    assert both_in.decision == "include" and not both_in.adjudicated
    both_out = _final(cast, "Antipsychotic dosing")
    assert both_out.decision == "exclude"
    conflict = Record.objects.get(title__startswith="Peer mentoring")
    item = ScreeningItem.objects.get(record=conflict, stage="ta")
    assert item.status == ScreeningItem.Status.CONFLICT
    bob_vote = Vote.objects.get(record=conflict, reviewer=cast.bob)
    wrong_population = ExclusionReason.objects.get(
        review=cast.review, stage="ta", label="Wrong population"
    )
    assert (bob_vote.decision, bob_vote.reason) == ("exclude", wrong_population)
    maybe = Record.objects.get(title__startswith="Recovery colleges")
    assert ScreeningItem.objects.get(record=maybe, stage="ta").status == "open"
    assert Vote.objects.get(record=maybe).decision == "maybe"
    assert not Vote.objects.filter(record__title__startswith="Clozapine").exists()
    changes = VoteChange.objects.filter(review=cast.review)
    assert changes.count() == 7 and set(changes.values_list("imported_from", flat=True)) == {
        "Rayyan"
    }
    # Blinding holds for imported votes: bob sees his own vote on the conflict, not alice's.
    detail = api("bob").get(_base(cast) + f"records/{conflict.pk}/").json()
    assert [v["reviewer"] for v in detail["votes"]["ta"]["votes"]] == ["bob"]
    assert [h["reviewer"] for h in detail["votes"]["ta"]["history"]] == ["bob"]
    assert detail["votes"]["ta"]["history"][0]["imported_from"] == "Rayyan"
    assert prisma_counts(cast.review).records_excluded == 1


def test_covidence_lists(api, cast):
    included = _import(api, cast, "covidence_included.csv")
    irrelevant = _import(api, cast, "covidence_irrelevant.csv")
    excluded = _import(api, cast, "covidence_excluded.csv")
    assert _decide(api, cast, included, tool="covidence").status_code == 400  # which list?
    response = _decide(api, cast, included, tool="covidence", covidence_list="included")
    assert response.json()["resolved"] == 4
    assert _final(cast, "Peer support workers", "ft").decision == "include"
    assert (
        _decide(api, cast, irrelevant, tool="covidence", covidence_list="irrelevant").json()[
            "resolved"
        ]
        == 1
    )
    assert _final(cast, "Hospital bed").decision == "exclude"
    # Excluded at full text: PRISMA needs the reason.
    assert _decide(
        api, cast, excluded, tool="covidence", covidence_list="excluded"
    ).status_code == (400)
    reason = ExclusionReason.objects.get(review=cast.review, stage="ft", label="Wrong population")
    response = _decide(
        api, cast, excluded, tool="covidence", covidence_list="excluded", ft_reason=reason.pk
    )
    assert response.json()["resolved"] == 2
    ft = _final(cast, "Peer support for carers", "ft")
    assert (ft.decision, ft.reason, ft.imported_from) == ("exclude", reason, "Covidence")
    counts = prisma_counts(cast.review)
    assert counts.records_excluded == 1
    assert counts.reports_sought == 3
    assert counts.reports_excluded == (("Wrong population", 1),)
    assert counts.reports_included == 2


def test_decisions_need_an_imported_batch_and_a_lead(api, cast):
    lead = api("lead")
    upload = SimpleUploadedFile("a.csv", (FIXTURES / "asreview_export.csv").read_bytes())
    job = lead.post(_base(cast) + "imports/", {"file": upload}, format="multipart").json()
    batch = Job.objects.get(pk=job["id"]).result["batch_id"]
    assert _decide(api, cast, batch, tool="asreview").status_code == 409  # not confirmed yet
    url = _base(cast) + f"imports/{batch}/decisions/"
    assert api("alice").post(url, {"tool": "asreview"}, format="json").status_code == 403


def test_a_file_of_another_tool_is_refused_whole(api, cast):
    batch = _import(api, cast, "covidence_included.csv")
    response = _decide(api, cast, batch, tool="asreview")
    assert response.status_code == 400 and "included" in response.json()["detail"]
    assert not Resolution.objects.exists()


def test_detect_tool():
    assert tools.detect_tool(["record_id", "title", "included"]) == "asreview"
    assert tools.detect_tool(["key", "title", "notes"]) == "rayyan"
    assert tools.detect_tool(["Title", "Covidence #"]) == "covidence"
    assert tools.detect_tool(["title"]) is None


def test_a_batch_of_imported_decisions_tells_the_ranking_once(
    api, cast, monkeypatch, django_capture_on_commit_callbacks
):
    from screening import ranking
    from tests.screening.factories import pair, records

    calls = []
    monkeypatch.setattr(ranking, "ranking_note_resolution", lambda rid: calls.append(rid))
    batch = _import(api, cast, "asreview_export.csv")
    with django_capture_on_commit_callbacks(execute=True):
        assert _decide(api, cast, batch, tool="asreview").json()["resolved"] == 4
    assert calls == [cast.review.pk]
    # Outside a batch, each resolution still tells it (the reviewers' path is unchanged).
    (record,) = records(cast.review, 1)
    with django_capture_on_commit_callbacks(execute=True):
        pair(cast.review, record, cast.alice, cast.bob, "include", "include")
    assert calls == [cast.review.pk, cast.review.pk]


def test_a_big_file_runs_as_a_job_whose_report_only_leads_read(api, cast):
    batch = _import(api, cast, "rayyan_articles.csv")
    reviewers = {"Alice": "alice", "Bob": "bob", "Pilot Screener": None}
    body = {"tool": "rayyan", "reviewers": reviewers, "background": True}
    preview = _decide(api, cast, batch, **body, dry_run=True)
    assert preview.status_code == 202, preview.content
    job = preview.json()
    assert job["kind"] == "decisions_preview" and job["status"] == "succeeded"
    assert job["result"]["report"]["written"] == 7 and not Vote.objects.exists()
    # A reviewer may follow the job, but not read the votes it names (blinding).
    seen = api("alice").get(_base(cast) + f"jobs/{job['id']}/").json()
    assert "report" not in seen["result"] and seen["result"]["url"]
    # What the import would refuse is said at once, not in a failed job.
    refused = _decide(
        api, cast, batch, tool="rayyan", reviewers={"Alice": "alice"}, background=True
    )
    assert refused.status_code == 400 and not Job.objects.filter(kind="decisions_import").exists()
    done = _decide(api, cast, batch, **body)
    assert done.status_code == 202 and done.json()["result"]["import_id"]
    assert Vote.objects.count() == 7


def test_the_formats_understood_are_listed_with_an_example(api, cast):
    formats = api("alice").get(_base(cast) + "imports/decision-formats/").json()
    assert {f["tool"] for f in formats} == {"asreview", "rayyan", "covidence"}
    assert all(f["version"] and f["example"] for f in formats)
    assert any("asreview_label" in f["columns"] for f in formats)
    schema = api("alice").get("/api/v1/schema/?format=json").json()
    described = schema["paths"]["/api/v1/reviews/{slug}/imports/decision-formats/"]["get"]
    assert "RAYYAN-INCLUSION" in described["description"]
