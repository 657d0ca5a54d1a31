"""The Activity page: every app's history, filters, CSV, lead-only; history rows written."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from api.services import decisions_import
from extraction.rob.services import rob_settings_update
from extraction.services import extraction_settings_update
from reviews import services
from reviews.activity import ActivityQuery, activity_kinds, activity_list
from reviews.demo import DEMO_SLUG
from reviews.models import (
    DuplicateDecision,
    DuplicateLink,
    ExclusionReason,
    ExclusionReasonChange,
    MembershipChange,
    Review,
    Search,
    SearchChange,
    SettingChange,
)
from screening import services as screening
from screening.models import FullTextChange, VoteChange
from tests.factories import RecordFactory, UserFactory
from tests.screening.factories import include_at_ta, records, vote

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _activity(review, **kwargs) -> list:
    return list(activity_list(ActivityQuery(review=review, **kwargs)))


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def screened(cast):
    """alice and bob disagree on one record, carol adjudicates; alice withdraws another vote."""
    review = cast.review
    a, b = records(review, 2)
    vote(review, a, cast.alice, "include", note='=HYPERLINK("http://evil")')
    vote(review, a, cast.bob, "exclude")
    screening.conflict_resolve(
        review=review, record_id=a.pk, stage="ta", actor=cast.carol, decision="include"
    )
    vote(review, b, cast.alice, "exclude")
    screening.vote_undo(review=review, stage="ta", actor=cast.alice)
    return review


# --- history rows the services now write -------------------------------------------------------


def test_team_changes_are_kept_with_their_actor(cast):
    review = cast.review
    alice = cast.membership(cast.alice)
    services.membership_set_roles(
        membership=alice, actor=cast.lead, is_lead=False, is_reviewer=True, is_adjudicator=True
    )
    invitation = services.invitation_create(review=review, actor=cast.lead, username="dana")
    dana = UserFactory(username="dana")
    services.invitation_accept(invitation=invitation, user=dana)
    services.membership_remove(membership=cast.membership(cast.bob), actor=cast.lead)
    rows = list(MembershipChange.objects.filter(review=review).order_by("id"))
    assert [(r.action, r.subject, r.actor) for r in rows] == [
        ("roles", "alice", cast.lead),
        ("invited", "dana", cast.lead),
        ("joined", "dana", dana),
        ("removed", "bob", cast.lead),
    ]
    assert (rows[0].old_roles, rows[0].new_roles) == ("reviewer", "reviewer, adjudicator")
    # nothing changed: nothing kept
    services.membership_set_roles(
        membership=alice, actor=cast.lead, is_lead=False, is_reviewer=True, is_adjudicator=True
    )
    assert MembershipChange.objects.filter(review=review).count() == 4


def test_settings_changes_are_kept_per_field(cast, client):
    review = cast.review
    services.review_update(review=review, actor=cast.lead, title="New title", question="Q?")
    client.force_login(cast.lead)
    response = client.post(
        f"/reviews/{review.slug}/screening/settings/",
        {"votes_required": 1, "blinded": "", "prioritise": "on", "include_keywords": "peer*"},
    )
    assert response.status_code == 302
    extraction_settings_update(
        review=review, actor=cast.lead, mode="single", multi_arm_rule="split"
    )
    rob_settings_update(review=review, actor=cast.lead, unit="study", missing_threshold=5.0)
    changed = {(c.section, c.field, c.new) for c in SettingChange.objects.filter(review=review)}
    assert {
        ("protocol", "title", "New title"),
        ("screening", "votes_required", "1"),
        ("screening", "include_keywords", "peer*"),
        ("extraction", "mode", "single"),
        ("rob", "unit", "study"),
        ("rob", "missing_threshold", "5.0"),
    } <= changed
    assert ("screening", "blinded", "off") not in changed  # blinding has its own history
    assert review.blinding_changes.get().actor == cast.lead
    with pytest.raises(services.DomainError):
        services.review_update(review=review, actor=cast.lead, slug="elsewhere")


def test_merges_and_unmerges_are_kept(cast):
    a, b = RecordFactory(review=cast.review), RecordFactory(review=cast.review)
    link = DuplicateLink.objects.create(
        review=cast.review,
        kept=a,
        duplicate=b,
        score=0.9,
        tier="review",
        reason="title",
        status=DuplicateLink.Status.PENDING,
    )
    services.duplicate_decide(link=link, actor=cast.lead, is_duplicate=True)
    services.duplicate_undo(link=link, actor=cast.lead)
    assert [d.status for d in DuplicateDecision.objects.order_by("id")] == ["merged", "undone"]
    items = _activity(cast.review, kinds=frozenset({"duplicates"}))
    assert [i.action for i in items] == ["Merge undone", "Merged"]


def _shown(client, review, kind: str) -> tuple[str, list[list[str]]]:
    """The lead's Activity page and CSV, filtered to one kind."""
    client.force_login(review.memberships.get(user__username="lead").user)
    page = client.get(f"/reviews/{review.slug}/activity/", {"kind": kind})
    assert page.status_code == 200
    return page.content.decode(), _csv(
        client.get(f"/reviews/{review.slug}/activity.csv", {"kind": kind})
    )


def test_exclusion_reason_edits_are_kept_and_shown(client, cast):
    review = cast.review
    client.force_login(cast.lead)
    url = f"/reviews/{review.slug}/reasons/"
    added = client.post(
        f"{url}new/", {"stage": "ft", "label": "Wrong setting", "position": 9, "active": "on"}
    )
    assert added.status_code == 302
    reason = ExclusionReason.objects.get(review=review, label="Wrong setting")
    edited = client.post(
        f"{url}{reason.pk}/", {"label": "Wrong care setting", "position": 9, "active": "on"}
    )
    assert edited.status_code == 302
    assert client.post(f"{url}{reason.pk}/toggle/").status_code == 302
    services.exclusion_reason_update(reason=reason, actor=cast.alice, active=True)
    # nothing changed: nothing kept; a label taken at that stage is refused
    services.exclusion_reason_update(reason=reason, actor=cast.lead, label="Wrong care setting")
    taken = client.post(f"{url}{reason.pk}/", {"label": "wrong population", "position": 9})
    assert taken.status_code == 400
    rows = ExclusionReasonChange.objects.filter(reason=reason).order_by("id")
    assert [(r.action, r.actor) for r in rows] == [
        ("added", cast.lead),
        ("edited", cast.lead),
        ("retired", cast.lead),
        ("restored", cast.alice),
    ]
    assert rows[1].changes == {"label": ["Wrong setting", "Wrong care setting"]}

    items = _activity(review, kinds=frozenset({"exclusion_reason"}))
    assert [(i.actor, i.action) for i in items] == [
        ("alice", "Exclusion reason restored"),
        ("lead", "Exclusion reason retired"),
        ("lead", "Exclusion reason edited"),
        ("lead", "Exclusion reason added"),
    ]
    assert items[2].detail == "label: Wrong setting → Wrong care setting"
    assert items[2].subject == "Wrong care setting (Full text)"
    html, rows = _shown(client, review, "exclusion_reason")
    assert "Exclusion reason edited" in html and "Wrong setting → Wrong care setting" in html
    assert [r[1] for r in rows[1:]] == ["alice", "lead", "lead", "lead"]
    assert rows[3][3:5] == ["Exclusion reason edited", "Wrong care setting (Full text)"]


def test_search_log_edits_are_kept_and_shown(client, cast):
    review = cast.review
    client.force_login(cast.lead)
    form = {
        "source": "pubmed",
        "date_run": "2025-03-01",
        "search_string": '"peer support"[tiab]',
        "hits_reported": 120,
    }
    assert client.post(f"/reviews/{review.slug}/searches/new/", form).status_code == 302
    search = Search.objects.get(review=review)
    assert search.created_by == cast.lead
    services.membership_set_roles(
        membership=cast.membership(cast.alice),
        actor=cast.lead,
        is_lead=True,
        is_reviewer=True,
        is_adjudicator=False,
    )
    client.force_login(cast.alice)
    edited = client.post(
        f"/reviews/{review.slug}/searches/{search.pk}/", {**form, "hits_reported": 132}
    )
    assert edited.status_code == 302
    services.search_update(search=search, actor=cast.alice, hits_reported=132)  # no change
    rows = SearchChange.objects.filter(search=search).order_by("id")
    assert [(r.action, r.actor) for r in rows] == [("added", cast.lead), ("edited", cast.alice)]
    assert rows[1].changes == {"hits_reported": ["120", "132"]}

    items = _activity(review, kinds=frozenset({"search"}))
    assert [(i.actor, i.action, i.detail) for i in items][0] == (
        "alice",
        "Search edited",
        "hits reported: 120 → 132",
    )
    assert items[1].action == "Search logged" and "date run: 2025-03-01" in items[1].detail
    assert "notes" not in items[1].detail  # left empty
    assert items[0].url == f"/reviews/{review.slug}/searches/{search.pk}/"
    html, rows = _shown(client, review, "search")
    assert "Search edited" in html and "Search logged" in html
    assert [(r[1], r[3], r[4]) for r in rows[1:]] == [
        ("alice", "Search edited", "PubMed/MEDLINE 2025-03-01"),
        ("lead", "Search logged", "PubMed/MEDLINE 2025-03-01"),
    ]


def test_full_text_uploads_and_replacements_are_kept_and_shown(client, cast):
    review = cast.review
    (record,) = records(review, 1)
    include_at_ta(review, record, cast.alice, cast.bob)
    client.force_login(cast.alice)
    first = SimpleUploadedFile("smith2020.pdf", PDF, content_type="application/pdf")
    url = f"/reviews/{review.slug}/screening/full-texts/{record.pk}/upload/"
    assert client.post(url, {"file": first}).status_code == 302
    screening.fulltext_upload(
        review=review,
        record_id=record.pk,
        actor=cast.bob,
        upload=SimpleUploadedFile("smith2020-v2.pdf", PDF + b"%v2\n"),
    )
    rows = FullTextChange.objects.filter(record=record).order_by("id")
    assert [(r.action, r.actor, r.original_name) for r in rows] == [
        ("uploaded", cast.alice, "smith2020.pdf"),
        ("replaced", cast.bob, "smith2020-v2.pdf"),
    ]
    assert rows[0].sha256 != rows[1].sha256 and rows[1].size == len(PDF) + 4

    items = _activity(review, kinds=frozenset({"fulltext"}))
    assert [(i.actor, i.action) for i in items] == [
        ("bob", "Full text replaced"),
        ("alice", "Full text uploaded"),
    ]
    assert items[0].subject.startswith(f"#{record.pk} ") and "smith2020-v2.pdf" in items[0].detail
    html, rows = _shown(client, review, "fulltext")
    assert "Full text replaced" in html and "smith2020-v2.pdf" in html
    assert [(r[1], r[3]) for r in rows[1:]] == [
        ("bob", "Full text replaced"),
        ("alice", "Full text uploaded"),
    ]


# --- the log ---------------------------------------------------------------------------------


def test_activity_is_newest_first_and_names_who_decided_what(screened, cast):
    items = _activity(screened)
    assert [i.at for i in items] == sorted((i.at for i in items), reverse=True)
    kinds = [(i.kind, i.actor) for i in items if i.kind in ("vote", "undo", "adjudication")]
    assert kinds == [
        ("undo", "alice"),
        ("vote", "alice"),
        ("adjudication", "carol"),
        ("vote", "bob"),
        ("vote", "alice"),
    ]
    undo = items[0]
    assert undo.detail == "exclude → —" and undo.url.startswith(f"/reviews/{screened.slug}/")


def test_decisions_brought_in_from_another_tool_name_the_tool_and_who(cast):
    (record,) = records(cast.review, 1)
    screening.resolution_import(
        review=cast.review,
        record_id=record.pk,
        stage="ta",
        actor=cast.lead,
        decision="include",
        imported_from="Rayyan",
    )
    (item,) = _activity(cast.review, kinds=frozenset({"imported_decision"}))
    assert (item.actor, item.action) == ("lead", "Decision imported from Rayyan")
    assert _activity(cast.review, kinds=frozenset({"adjudication"})) == []


def test_filters_by_person_kind_and_date(screened, cast):
    only_alice = _activity(screened, actor_id=cast.alice.pk)
    assert only_alice and {i.actor for i in only_alice} == {"alice"}
    undo = _activity(screened, kinds=frozenset({"undo"}))
    assert [i.kind for i in undo] == ["undo"]
    votes = _activity(screened, kinds=frozenset({"vote"}))
    assert {i.kind for i in votes} == {"vote"} and len(votes) == 3
    VoteChange.objects.filter(review=screened, reviewer=cast.bob).update(
        changed_at=timezone.now() - dt.timedelta(days=10)
    )
    recent = _activity(screened, since=timezone.now() - dt.timedelta(days=1))
    assert "bob" not in {i.actor for i in recent}
    old = _activity(screened, until=timezone.now() - dt.timedelta(days=5))
    assert {i.actor for i in old} == {"bob"}
    assert len(_activity(screened, limit=2)) == 2


def test_page_and_csv_for_the_lead(client, screened, cast):
    client.force_login(cast.lead)
    page = client.get(f"/reviews/{screened.slug}/activity/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Vote withdrawn" in html and "Adjudicated" in html and "Download CSV" in html
    filtered = client.get(
        f"/reviews/{screened.slug}/activity/", {"person": cast.bob.pk, "kind": "vote"}
    )
    assert filtered.status_code == 200
    assert f"activity.csv?person={cast.bob.pk}&amp;kind=vote" in filtered.content.decode()

    response = client.get(f"/reviews/{screened.slug}/activity.csv", {"kind": "vote"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == ["when (UTC)", "person", "kind", "action", "subject", "detail"]
    assert sorted(r[1] for r in rows[1:]) == ["alice", "alice", "bob"]
    # a note typed by a reviewer never becomes a spreadsheet formula
    assert not any(cell.startswith("=") for row in rows for cell in row)

    bad = client.get(f"/reviews/{screened.slug}/activity/", {"date_from": "yesterday"})
    assert bad.status_code == 400
    assert client.get(f"/reviews/{screened.slug}/activity.csv", {"kind": "x"}).status_code == 400
    backwards = {"date_from": "2026-02-02", "date_to": "2026-01-01"}
    assert client.get(f"/reviews/{screened.slug}/activity/", backwards).status_code == 400


def test_reviewers_and_adjudicators_never_see_it(client, screened, cast):
    """The log shows every vote, blinded or not: only leads may read it."""
    assert screened.blinded
    for user in (cast.alice, cast.bob, cast.carol):
        client.force_login(user)
        assert client.get(f"/reviews/{screened.slug}/activity/").status_code == 403
        assert client.get(f"/reviews/{screened.slug}/activity.csv").status_code == 403
        dashboard = client.get(f"/reviews/{screened.slug}/").content.decode()
        assert f"/reviews/{screened.slug}/activity/" not in dashboard
    client.force_login(cast.outsider)
    assert client.get(f"/reviews/{screened.slug}/activity/").status_code == 404


def test_the_demo_review_shows_every_kind_of_activity(db):
    """Every kind an app registers has rows behind it (a source that reads the wrong
    table shows up here as a missing kind)."""
    call_command("load_demo", stdout=io.StringIO())
    review = Review.objects.get(slug=DEMO_SLUG)
    lead = review.memberships.get(is_lead=True).user
    alice = review.memberships.get(user__username="alice")
    services.membership_set_roles(
        membership=alice, actor=lead, is_lead=False, is_reviewer=True, is_adjudicator=True
    )
    services.review_update(review=review, actor=lead, registration="OSF abc")
    screening.blinding_set(review=review, actor=lead, blinded=False)
    rec = review.records.filter(duplicate_of__isnull=True).first()
    screening.record_correct(review=review, record_id=rec.pk, actor=lead, year=1999)
    reason = review.exclusion_reasons.first()
    services.exclusion_reason_update(reason=reason, actor=lead, label=f"{reason.label} (edited)")
    pending = review.duplicate_links.filter(
        status="pending"
    ).first() or DuplicateLink.objects.create(
        review=review,
        kept=rec,
        duplicate=RecordFactory(review=review),
        score=0.9,
        tier="review",
        reason="title",
        status="pending",
    )
    services.duplicate_decide(link=pending, actor=lead, is_duplicate=False)
    screening.stopping_rule_set(review=review, actor=lead, target_recall=0.9, confidence=0.9)
    untouched = review.screening_items.filter(stage="ta", status="open", n_votes=0).first()
    screening.resolution_import(
        review=review,
        record_id=untouched.record_id,
        stage="ta",
        actor=lead,
        decision="exclude",
        imported_from="ASReview",
    )
    # Another tool's list with no decision still leaves its import in the log.
    batch = review.import_batches.filter(status="imported").first()
    decisions_import(batch=batch, actor=lead, tool="covidence", covidence_list="screen")
    item = screening.next_item_claim(review=review, stage="ta", actor=alice.user)
    vote(review, item.record, alice.user, "maybe")
    screening.vote_undo(review=review, stage="ta", actor=alice.user)

    seen = {item.kind for item in _activity(review)}
    assert seen == set(activity_kinds()), set(activity_kinds()) - seen
