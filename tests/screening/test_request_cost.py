"""What "record my vote and give me the next record" costs: SQL queries, pinned.

This request is what reviewers wait for after every decision (issue 11: p95 < 50 ms with
20 reviewers on 20,000 records), so a change that adds a query to it should fail here and
be a deliberate decision. ``benchmarks/screening_request_cost.py`` measures the same
request's time on a 20,000-record review.
"""

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from screening import selectors
from screening.models import Resolution, ScreeningItem, Vote
from tests.screening.factories import records

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
RECORD_ID = re.compile(r'data-record-id="(\d+)"')

# Queries per request, on each database. PostgreSQL finds the queue's first free item over
# every vote count in one statement, claims it in one, spends the claim, stores the vote,
# its history and the item's count in one, and reads the exclusion reasons with the record.
# Inside a test, transactions are savepoints: BEGIN/COMMIT count as SAVEPOINT/RELEASE.
VOTE_AND_NEXT = {"postgresql": 13, "sqlite": 20}
VOTE_RESOLVES_AND_NEXT = {"postgresql": 23, "sqlite": 29}
PROGRESS_REFRESH = 1  # the team's progress numbers read again (a moment later)


def screen(client, cast) -> int:
    page = client.get(f"/reviews/{cast.review.slug}/screening/title-abstract/", **HTMX)
    return int(RECORD_ID.search(page.content.decode()).group(1))


def vote_and_next(client, cast, record_id: int, decision: str) -> int:
    response = client.post(
        f"/reviews/{cast.review.slug}/screening/ta/records/{record_id}/vote/",
        {"decision": decision, "mode": "queue"},
        **HTMX,
    )
    assert response.status_code == 200
    page = response.content.decode()
    # "Previous" leads back to the record just decided.
    assert (
        f'data-action="prev" href="/reviews/{cast.review.slug}/screening/ta/records/{record_id}/"'
        in page
    )
    return int(RECORD_ID.search(page).group(1))


@pytest.fixture
def reviewers(cast, monkeypatch):
    """Alice and Bob on the screening page of a review with records and ranking on."""
    # The team's progress numbers are cached for a moment; here they stay cached for the
    # whole test, so that what is counted does not depend on how fast the test runs.
    monkeypatch.setattr(selectors, "PROGRESS_CACHE_SECONDS", 600)
    cast.review.include_keywords = "peer support"
    cast.review.save()
    records(cast.review, 6)
    alice, bob = Client(), Client()
    alice.force_login(cast.alice)
    bob.force_login(cast.bob)
    return alice, bob


def test_a_vote_and_the_next_record(cast, reviewers, monkeypatch, django_assert_num_queries):
    alice, _ = reviewers
    first = screen(alice, cast)
    with django_assert_num_queries(VOTE_AND_NEXT[connection.vendor]):
        second = vote_and_next(alice, cast, first, "exclude")
    assert second != first
    assert Vote.objects.filter(record_id=first, reviewer=cast.alice).exists()
    # Reading the team's numbers again (every moment) costs this much more.
    monkeypatch.setattr(selectors, "PROGRESS_CACHE_SECONDS", 0)
    cache.clear()
    third = vote_and_next(alice, cast, second, "exclude")
    with django_assert_num_queries(VOTE_AND_NEXT[connection.vendor] + PROGRESS_REFRESH):
        vote_and_next(alice, cast, third, "exclude")


def test_a_vote_that_resolves_its_record_and_the_next_record(
    cast, reviewers, django_assert_num_queries, django_capture_on_commit_callbacks
):
    alice, bob = reviewers
    first = screen(alice, cast)
    vote_and_next(alice, cast, first, "include")
    assert screen(bob, cast) == first  # records with a vote come first, so pairs complete
    # The queries run after the commit (the ranking hears of the resolution) count too.
    with (
        django_assert_num_queries(VOTE_RESOLVES_AND_NEXT[connection.vendor]),
        django_capture_on_commit_callbacks(execute=True),
    ):
        vote_and_next(bob, cast, first, "include")
    assert Resolution.objects.get(record_id=first).decision == "include"
    assert ScreeningItem.objects.get(record_id=first, stage="ta").status == "resolved"


def test_a_vote_on_a_claimed_record_writes_what_a_vote_without_a_claim_writes(cast, reviewers):
    """PostgreSQL spends the claim, stores the vote, its history and the item's count in
    one statement when the voter holds the record's slot; a vote without a claim goes
    step by step (on SQLite every vote does). Both leave the same rows."""
    from screening import services
    from screening.models import Claim, VoteChange

    alice, _ = reviewers
    claimed = screen(alice, cast)
    assert Claim.objects.filter(item__record_id=claimed, reviewer=cast.alice).exists()
    vote_and_next(alice, cast, claimed, "exclude")
    unclaimed = (
        ScreeningItem.objects.filter(review=cast.review, stage="ta", n_votes=0)
        .exclude(claims__isnull=False)
        .values_list("record_id", flat=True)
        .first()
    )
    services.vote_cast(
        review=cast.review, record_id=unclaimed, stage="ta", actor=cast.bob, decision="exclude"
    )
    rows = []
    for record_id, user in ((claimed, cast.alice), (unclaimed, cast.bob)):
        vote = Vote.objects.get(record_id=record_id, stage="ta")
        change = VoteChange.objects.get(record_id=record_id, stage="ta")
        item = ScreeningItem.objects.get(record_id=record_id, stage="ta")
        assert vote.reviewer == change.reviewer == user
        assert item.updated_at >= vote.created_at
        assert not Claim.objects.filter(item=item, reviewer=user).exists()
        rows.append(
            (
                (vote.decision, vote.reason_id, vote.note, vote.review_id),
                (change.old_decision, change.new_decision, change.new_reason_id),
                (change.old_note, change.new_note, change.imported_from, change.review_id),
                (item.n_votes, item.status),
            )
        )
    assert (
        rows[0]
        == rows[1]
        == (
            ("exclude", None, "", cast.review.pk),
            ("", "exclude", None),
            ("", "", "", cast.review.pk),
            (1, "open"),
        )
    )


def test_the_claimed_record_comes_with_the_exclusion_reasons_in_order(cast, reviewers):
    from reviews.models import ExclusionReason
    from reviews.services import exclusion_reason_create
    from screening import services

    reason = exclusion_reason_create(
        review=cast.review, actor=cast.lead, stage="ta", label="Added last", position=99
    )
    ExclusionReason.objects.filter(review=cast.review, stage="ta").exclude(pk=reason.pk).filter(
        position=0
    ).update(active=False)  # a retired one is left out
    item = services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice)
    read = selectors.claimed_record(item, cast.alice)
    listed = selectors.exclusion_reasons(cast.review, "ta")
    assert listed[-1] == reason and len(listed) >= 2
    if connection.vendor == "postgresql":
        assert [(r.pk, r.label, r.position, r.active, r.stage) for r in read.reasons] == [
            (r.pk, r.label, r.position, r.active, r.stage) for r in listed
        ]
    else:
        assert read.reasons is None  # the panel asks exclusion_reasons
