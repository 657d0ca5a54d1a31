"""The screening overview keeps what it computes from the votes and resolutions per
screening state (``selectors.screening_version``): the same results as computed afresh,
fewer queries on a reload with no decision in between, and a new state (the results
computed again) after every vote, changed vote, withdrawal, resolution or merge."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.models import Record, Stage
from screening import selectors, services, stopping
from screening.models import FinalDecision, Resolution, StoppingRule, Vote
from tests.screening.factories import pair, records, vote

pytestmark = pytest.mark.django_db

# Statements the overview skips when its screening state is unchanged: the agreement of
# each stage, the title/abstract decisions in order (the curve) and the stopping test's
# counts.
SKIPPED_ON_A_RELOAD = 4


@pytest.fixture
def lead(cast, monkeypatch):
    # The team's counts are read afresh every time, so only the kept results differ.
    monkeypatch.setattr(selectors, "PROGRESS_CACHE_SECONDS", 0)
    monkeypatch.setattr(services, "SYNC_CHECK_SECONDS", 0)
    client = Client()
    client.force_login(cast.lead)
    return client


def overview(client, cast) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/reviews/{cast.review.slug}/screening/")
    assert response.status_code == 200
    return response.context, len(ctx.captured_queries)


def assert_as_computed_afresh(context, review) -> None:
    """The overview's agreement, curve and stopping test equal what the selectors compute
    with no cache (``version=None``)."""
    for shown in context["stages"]:
        assert shown["agreement"] == selectors.agreement(
            review, shown["stage"], resolved_only=not context["agreement_full"]
        )
    total = context["stages"][0]["progress"].total
    assert context["curve"] == selectors.screening_curve(review, total=total)
    assert context["stopping_test"] == stopping.stopping_test_state(review, records=total)


def test_a_reload_reuses_the_results_and_every_change_makes_them_anew(cast, lead):
    review = cast.review
    made = records(review, 8)
    pair(review, made[0], cast.alice, cast.bob, "include", "include")
    pair(review, made[1], cast.alice, cast.bob, "include", "exclude")  # a conflict
    pair(review, made[2], cast.alice, cast.carol, "exclude", "exclude")
    first, cold = overview(lead, cast)
    assert_as_computed_afresh(first, review)
    again, warm = overview(lead, cast)
    assert warm == cold - SKIPPED_ON_A_RELOAD
    assert_as_computed_afresh(again, review)

    steps = [
        # A first vote: the stopping test's ranked phase grows (a record pending).
        lambda: vote(review, made[3], cast.alice, "include"),
        # A second vote that resolves: the curve and the agreement move.
        lambda: vote(review, made[3], cast.bob, "include"),
        # A changed vote on a record in conflict that stays in conflict (include against
        # maybe, which the agreement table counts as include): no count of items
        # changes, the table does.
        lambda: vote(review, made[1], cast.bob, "maybe"),
        # A withdrawn vote.
        lambda: vote(review, made[4], cast.carol, "exclude"),
        lambda: services.vote_undo(review=review, stage=Stage.TITLE_ABSTRACT, actor=cast.carol),
        # An adjudicator's resolution of the conflict.
        lambda: services.conflict_resolve(
            review=review,
            record_id=made[1].pk,
            stage=Stage.TITLE_ABSTRACT,
            actor=cast.lead,
            decision=FinalDecision.EXCLUDE,
        ),
        # A resolved record merged into another as its duplicate.
        lambda: Record.objects.filter(pk=made[0].pk).update(duplicate_of=made[7]),
    ]
    before = (first["stages"][0]["agreement"], first["curve"], first["stopping_test"])
    for step in steps:
        step()
        context, queries = overview(lead, cast)
        # Computed afresh (a merge also has the items brought in step first).
        assert queries == cold if step is not steps[-1] else queries > cold
        assert_as_computed_afresh(context, review)
        now = (context["stages"][0]["agreement"], context["curve"], context["stopping_test"])
        assert now != before
        before = now
        assert overview(lead, cast)[1] == warm


def test_the_stopping_counts_are_kept_per_sampling_switch(cast, lead):
    review = cast.review
    made = records(review, 6)
    pair(review, made[0], cast.alice, cast.bob, "include", "include")
    overview(lead, cast)
    services.stopping_sampling_set(review=review, actor=cast.lead, sampling=True)
    # Voted on after the switch: the random sample, waiting for its second vote.
    vote(review, made[1], cast.alice, "exclude")
    context = overview(lead, cast)[0]
    assert_as_computed_afresh(context, review)
    assert context["stopping_test"].test.sampled == 1
    assert context["stopping_test"].unresolved_sample == 1


def reference_phases(review, since) -> tuple[int, int, int, int, int, int]:
    """The stopping test's counts as they were computed before, in Python from every
    first vote and resolution: (ranked, pending, ranked includes, sampled, unresolved
    sampled, sample includes)."""
    voted: dict[int, object] = {}
    for record_id, at in Vote.objects.filter(
        review=review, stage=Stage.TITLE_ABSTRACT, record__screening_items__active=True
    ).values_list("record_id", "created_at"):
        voted[record_id] = min(at, voted.get(record_id, at))
    decided = dict(
        Resolution.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, record__screening_items__active=True
        ).values_list("record_id", "decision")
    )
    ranked = {rid for rid, first in voted.items() if since is None or first <= since}
    ranked |= {rid for rid in decided if rid not in voted}
    sample = set(voted) - ranked
    include = FinalDecision.INCLUDE
    unresolved = sum(1 for rid in sample if rid not in decided)
    return (
        len(ranked),
        sum(1 for rid in ranked if rid not in decided),
        sum(1 for rid in ranked if decided.get(rid) == include),
        len(sample),
        unresolved,
        sum(1 for rid in sample if decided.get(rid) == include) + unresolved,
    )


def test_the_stopping_counts_in_sql_equal_the_python_ones(cast):
    review = cast.review
    made = records(review, 14)
    decisions = ["include", "exclude", "exclude", "include", "exclude"]
    for record, decision in zip(made[:5], decisions, strict=True):
        pair(review, record, cast.alice, cast.bob, decision, decision)
    vote(review, made[5], cast.alice, "include")  # ranked, pending
    pair(review, made[6], cast.alice, cast.bob, "include", "exclude")  # conflict: pending
    services.resolution_import(
        review=review,
        record_id=made[7].pk,
        stage=Stage.TITLE_ABSTRACT,
        actor=cast.lead,
        decision=FinalDecision.INCLUDE,
        imported_from="ASReview",
    )  # resolved without a vote: ranked
    since = timezone.now()
    StoppingRule.objects.update_or_create(review=review, defaults={"sampling_since": since})
    later = since + timedelta(seconds=1)
    for record, decision in zip(made[8:11], ["exclude", "include", "exclude"], strict=True):
        pair(review, record, cast.alice, cast.carol, decision, decision)
    vote(review, made[11], cast.carol, "exclude")  # sampled, unresolved
    # The first votes of the sample are after the switch.
    Vote.objects.filter(record__in=made[8:12]).update(created_at=later)
    Record.objects.filter(pk=made[2].pk).update(duplicate_of=made[13])  # merged: left out
    services.items_sync(review, force=True)
    state = stopping.stopping_test_state(review)
    t = state.test
    computed = (
        t.ranked_screened,
        state.pending,
        t.ranked_found,
        t.sampled,
        state.unresolved_sample,
        t.sample_found,
    )
    assert computed == reference_phases(review, since) == (7, 2, 3, 4, 1, 2)
