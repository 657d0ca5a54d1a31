"""Prioritisation wiring: training data respects blinding; refits reorder the queue."""

import json
import threading
import types
from dataclasses import dataclass

import pytest

from screening import prioritisation, ranking, services
from screening.models import RankingSnapshot, ScreeningItem
from tests.screening.factories import pair, records, vote

pytestmark = pytest.mark.django_db


def test_training_data_never_holds_another_reviewers_unresolved_vote(cast):
    resolved_in, resolved_out, alices, bobs = records(cast.review, 4)
    pair(cast.review, resolved_in, cast.alice, cast.bob, "include", "include")
    pair(cast.review, resolved_out, cast.alice, cast.bob, "exclude", "exclude")
    vote(cast.review, alices, cast.alice, "include")  # unresolved
    vote(cast.review, bobs, cast.bob, "exclude")  # unresolved
    shared = ranking.training_data(cast.review)
    assert shared.labels == {resolved_in.pk: 1, resolved_out.pk: 0}
    for_alice = ranking.training_data(cast.review, own_votes_of=cast.alice)
    assert for_alice.labels == {resolved_in.pk: 1, resolved_out.pk: 0, alices.pk: 1}
    assert bobs.pk not in for_alice.labels
    for_bob = ranking.training_data(cast.review, own_votes_of=cast.bob)
    assert alices.pk not in for_bob.labels and for_bob.labels[bobs.pk] == 0


def test_a_conflict_is_not_training_data_until_adjudicated(cast):
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.alice, cast.bob, "include", "exclude")
    assert record.pk not in ranking.training_data(cast.review).labels
    services.conflict_resolve(
        review=cast.review, record_id=record.pk, stage="ta", actor=cast.carol, decision="exclude"
    )
    assert ranking.training_data(cast.review).labels == {record.pk: 0}


@dataclass(frozen=True)
class FakeRanking:
    scores: dict
    method: str = "fake TF-IDF + nothing"

    def to_json(self) -> str:
        return json.dumps({"scores": {str(k): v for k, v in self.scores.items()}})


class FakeRanker:
    """Scores a record by how often 'relevant' occurs in it; records what it saw."""

    seen: list = []

    def __init__(self, model=None, *, seed=0):
        self.seed = seed

    def vectorise(self, texts, cache_file=None):
        return texts

    def fit(self, texts, labels):
        FakeRanker.seen.append(dict(labels))
        return FakeRanking({rid: float(text.count("relevant")) for rid, text in texts.items()})


@pytest.fixture
def fake_core(monkeypatch):
    FakeRanker.seen = []
    core = types.SimpleNamespace(
        Ranker=FakeRanker,
        DEFAULT_MODEL="fake",
        record_text=prioritisation.record_text,
        refit_interval=prioritisation.refit_interval,
    )
    monkeypatch.setattr(ranking, "prioritisation", core)
    return core


def test_refit_stores_a_snapshot_and_reorders_the_queue(cast, fake_core):
    plain = records(cast.review, 3, abstract="nothing here")
    (star,) = records(cast.review, 1, abstract="relevant relevant relevant")
    # Untrained: nothing to fit on.
    assert ranking.ranking_refit(cast.review) is None
    pair(cast.review, plain[0], cast.alice, cast.bob, "include", "include")
    pair(cast.review, plain[1], cast.alice, cast.bob, "exclude", "exclude")
    vote(cast.review, plain[2], cast.bob, "include")  # bob's unresolved vote
    snapshot = ranking.ranking_refit(cast.review)
    assert snapshot.n_resolved == 2 and snapshot.n_includes == 1 and snapshot.method
    assert FakeRanker.seen[-1] == {plain[0].pk: 1, plain[1].pk: 0}
    by_relevance = ScreeningItem.objects.filter(review=cast.review, status="open")
    assert by_relevance.order_by("-relevance").first().record_id == star.pk
    # Alice: the record with bob's vote first (pairs complete), then the most relevant.
    first = services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice)
    assert first.record_id == plain[2].pk
    vote(cast.review, plain[2], cast.alice, "exclude")
    assert (
        services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice).record_id
        == star.pk
    )


def test_a_new_ranking_writes_its_head_above_every_older_ranking(cast, monkeypatch):
    monkeypatch.setattr(ranking, "RANKING_HEAD", 2)
    rs = records(cast.review, 5)
    ids = [r.pk for r in rs]

    def queue_order():
        items = ScreeningItem.objects.filter(review=cast.review, stage="ta")
        return list(items.order_by("-relevance", "id").values_list("record_id", flat=True))

    # First ranking: 0 > 1 > 2 > 3 > 4; only its head (0, 1) is written.
    assert (
        ranking.priorities_apply(
            cast.review, dict(zip(ids, [5, 4, 3, 2, 1], strict=True)), generation=1
        )
        == 2
    )
    assert queue_order()[:2] == ids[:2]
    # Second ranking: 4 > 3 > ...; its head goes above the first ranking's head, which
    # keeps its own order behind it; never-ranked records come last.
    ranking.priorities_apply(
        cast.review, dict(zip(ids, [1, 2, 3, 4, 5], strict=True)), generation=2
    )
    assert queue_order()[:4] == [ids[4], ids[3], ids[0], ids[1]]
    assert set(queue_order()[4:]) == {ids[2]}


def test_prioritise_off_keeps_the_random_order(cast, fake_core):
    rs = records(cast.review, 4)
    ScreeningItem.objects.filter(record=rs[3]).update(relevance=100.0)
    cast.review.prioritise = False
    cast.review.save()
    top_random = (
        ScreeningItem.objects.filter(review=cast.review).order_by("-priority", "id").first()
    )
    assert services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice) == top_random


def test_refit_after_every_n_resolutions(
    cast, fake_core, settings, django_capture_on_commit_callbacks
):
    # The refit is a Celery task, run in this thread by the tests' eager Celery.
    settings.SCREENING_REFIT_EVERY = 2
    rs = records(cast.review, 5)
    with django_capture_on_commit_callbacks(execute=True):
        pair(cast.review, rs[0], cast.alice, cast.bob, "include", "include")
        pair(cast.review, rs[1], cast.alice, cast.bob, "exclude", "exclude")
    assert RankingSnapshot.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        pair(cast.review, rs[2], cast.alice, cast.bob, "exclude", "exclude")
    assert RankingSnapshot.objects.count() == 1  # one new resolution < N
    with django_capture_on_commit_callbacks(execute=True):
        pair(cast.review, rs[3], cast.alice, cast.bob, "exclude", "exclude")
    assert RankingSnapshot.objects.count() == 2
    assert ranking.ranking_latest(cast.review).n_resolved == 4


def test_a_refit_asked_for_while_another_runs_is_not_lost(cast, fake_core, monkeypatch):
    rs = records(cast.review, 3)
    pair(cast.review, rs[0], cast.alice, cast.bob, "include", "include")
    pair(cast.review, rs[1], cast.alice, cast.bob, "exclude", "exclude")
    fitted_on = []
    real_refit = ranking.ranking_refit

    def refit_while_a_decision_comes_in(review):
        snapshot = real_refit(review)
        fitted_on.append(snapshot.n_resolved)
        if len(fitted_on) == 1:
            # Meanwhile a third decision is resolved, and its refit task (another worker)
            # records its request and finds the lock held.
            pair(cast.review, rs[2], cast.alice, cast.bob, "exclude", "exclude")
            ranking.refit_mark(cast.review.pk)
        return snapshot

    monkeypatch.setattr(ranking, "ranking_refit", refit_while_a_decision_comes_in)
    ranking.refit_mark(cast.review.pk)
    assert ranking.refit_while_requested(cast.review.pk) == 2
    assert fitted_on == [2, 3] and ranking.ranking_latest(cast.review).n_resolved == 3
    assert not ranking.refit_pending(cast.review.pk)
    assert ranking.refit_while_requested(cast.review.pk) == 0  # nothing asked for since


@pytest.mark.django_db(transaction=True)
def test_one_refit_lock_per_review_across_connections(cast):
    """The lock holds for another worker (here a thread with its own database connection)."""
    from django.db import connection

    seen = []

    def other_worker(review_id):
        try:
            with ranking.refit_lock(review_id) as held:
                seen.append(held)
        finally:
            connection.close()

    def try_from_another_worker(review_id):
        thread = threading.Thread(target=other_worker, args=(review_id,))
        thread.start()
        thread.join(10)

    with ranking.refit_lock(cast.review.pk) as held:
        assert held
        try_from_another_worker(cast.review.pk)
        try_from_another_worker(cast.review.pk + 1)  # another review's lock is free
    try_from_another_worker(cast.review.pk)
    assert seen == [False, True, True]


def test_the_real_core_puts_the_obvious_include_first(cast, settings):
    """End to end with screening.prioritisation: resolved decisions in, queue order out."""
    relevant = "Randomised trial of peer support for people with serious mental illness"
    animal = "Hepatic enzyme kinetics in rat liver microsomes"
    train_in = records(cast.review, 3, title=relevant, abstract="peer support recovery hope trial")
    train_out = records(cast.review, 3, title=animal, abstract="rats liver enzyme microsomes")
    rest = records(cast.review, 6, title=animal, abstract="rats liver enzyme kinetics")
    (target,) = records(cast.review, 1, title=relevant, abstract="peer support recovery trial")
    for record in train_in:
        pair(cast.review, record, cast.alice, cast.bob, "include", "include")
    for record in train_out:
        pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
    snapshot = ranking.ranking_refit(cast.review)
    assert snapshot is not None and snapshot.n_resolved == 6 and "TF-IDF" in snapshot.method
    assert set(snapshot.payload["order"]) == {r.pk for r in rest} | {target.pk}
    assert (
        services.next_item_claim(review=cast.review, stage="ta", actor=cast.lead).record_id
        == target.pk
    )


def test_refit_now_is_a_job_the_lead_watches(client, cast, fake_core):
    from reviews.models import Job

    url = f"/reviews/{cast.review.slug}/screening/ranking/refit/"
    client.force_login(cast.lead)
    client.post(url)
    job = Job.objects.get(kind="ranking_refit")
    assert job.status == Job.Status.FAILED and "one resolved include" in job.error
    rs = records(cast.review, 2)
    pair(cast.review, rs[0], cast.alice, cast.bob, "include", "include")
    pair(cast.review, rs[1], cast.alice, cast.bob, "exclude", "exclude")
    response = client.post(url)
    job = Job.objects.filter(kind="ranking_refit").first()
    assert response["Location"] == f"/reviews/{cast.review.slug}/jobs/{job.pk}/"
    assert job.status == Job.Status.SUCCEEDED and job.started_by == cast.lead
    assert job.message == "Ranking refitted on 2 resolved decisions"
    assert ranking.ranking_latest(cast.review).n_resolved == 2


def test_requests_made_while_a_refit_waits_are_folded_into_it(
    cast, fake_core, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """20 reviewers resolving records while a refit waits or runs queue one task, not 20;
    none is lost: the pending refit reads the decisions after taking its request."""
    from datetime import timedelta

    from django.utils import timezone

    from screening.models import RankingRefitState

    settings.SCREENING_REFIT_EVERY = 1
    sent = []
    monkeypatch.setattr(ranking, "dispatch", lambda task, review_id: sent.append(review_id))
    rs = records(cast.review, 8)
    with django_capture_on_commit_callbacks(execute=True):
        pair(cast.review, rs[0], cast.alice, cast.bob, "include", "include")
        pair(cast.review, rs[1], cast.alice, cast.bob, "exclude", "exclude")
    assert sent == [cast.review.pk]  # the first usable training set asks for a refit
    with django_capture_on_commit_callbacks(execute=True):
        for record in rs[2:5]:
            pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
    assert sent == [cast.review.pk]  # folded into the pending request: no more tasks
    # The worker takes the request and fits on every decision resolved so far.
    assert ranking.refit_while_requested(cast.review.pk) == 1
    assert ranking.ranking_latest(cast.review).n_resolved == 5
    with django_capture_on_commit_callbacks(execute=True):
        pair(cast.review, rs[5], cast.alice, cast.bob, "exclude", "exclude")
    assert sent == [cast.review.pk] * 2  # nothing pending any more: a new task
    # A pending request whose task was sent long ago (lost with its worker) is sent again.
    RankingRefitState.objects.filter(pk=cast.review.pk).update(
        requested_at=timezone.now() - timedelta(seconds=settings.SCREENING_REFIT_RESEND_SECONDS + 1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        pair(cast.review, rs[6], cast.alice, cast.bob, "exclude", "exclude")
    assert sent == [cast.review.pk] * 3
    assert ranking.refit_while_requested(cast.review.pk) == 1
    assert ranking.ranking_latest(cast.review).n_resolved == 7
    assert not ranking.refit_pending(cast.review.pk)


def test_a_refit_asked_for_by_hand_is_always_recorded(cast):
    assert ranking.refit_mark(cast.review.pk)
    assert ranking.refit_mark(cast.review.pk)  # not folded: the lead's job runs it now
    assert not ranking.refit_mark(cast.review.pk, coalesce=True)  # pending, just sent
    assert ranking.refit_pending(cast.review.pk)


def test_a_refit_keeps_the_features_within_the_worker_s_cache_budget(cast, settings):
    from screening.prioritisation.ranker import (
        corpus_cache_budget,
        corpus_cache_clear,
        corpus_cache_info,
    )

    saved = corpus_cache_budget()
    try:
        included = records(cast.review, 2, title="Peer support trial", abstract="peer support")
        excluded = records(cast.review, 2, title="Rat liver enzymes", abstract="rat liver")
        records(cast.review, 4, title="Rat kidney enzymes", abstract="rat kidney")
        for record in included:
            pair(cast.review, record, cast.alice, cast.bob, "include", "include")
        for record in excluded:
            pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
        corpus_cache_clear()
        settings.REVIEWFLOW_RANKING_CACHE_MB = 0
        assert ranking.ranking_refit(cast.review) is not None
        assert corpus_cache_info()[0] == 0  # on disk only
        assert ranking._corpus_file(cast.review).exists()
        assert corpus_cache_budget() == 0
        settings.REVIEWFLOW_RANKING_CACHE_MB = 16
        ranking.ranking_refit(cast.review)
        held, used, limit = corpus_cache_info()
        assert held == 1 and 0 < used <= limit == 16 * 2**20
    finally:
        corpus_cache_budget(saved / 2**20)
        corpus_cache_clear()


def test_a_small_or_later_import_has_no_features_built_ahead(
    cast, settings, django_capture_on_commit_callbacks, tmp_path
):
    from screening.prioritisation.ranker import corpus_cache_clear

    settings.REVIEWFLOW_CACHE_DIR = tmp_path
    settings.SCREENING_FEATURES_PREBUILD_MIN = 5
    with django_capture_on_commit_callbacks(execute=True):
        records(cast.review, 4, title="Peer support trial", abstract="peer support")
    assert not ranking._corpus_file(cast.review).exists()  # under the threshold: no build
    try:
        with django_capture_on_commit_callbacks(execute=True):
            records(cast.review, 6, title="Rat liver enzymes", abstract="rat liver")
        # Not the first records any more: an update waits for the refit, which builds them.
        assert not ranking._corpus_file(cast.review).exists()
    finally:
        corpus_cache_clear()


def test_a_large_first_import_has_its_features_built_before_any_decision(
    cast, settings, django_capture_on_commit_callbacks, tmp_path
):
    """The cold build runs when the records arrive, so the first refit finds them built."""
    from screening.prioritisation.ranker import corpus_cache_clear, corpus_cache_info

    settings.REVIEWFLOW_CACHE_DIR = tmp_path
    settings.SCREENING_FEATURES_PREBUILD_MIN = 5
    corpus_cache_clear()
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            records(cast.review, 5, title="Peer support trial", abstract="peer support")
        assert len(callbacks) == 1
        assert ranking._corpus_file(cast.review).exists()
        assert corpus_cache_info()[0] == 1
        assert not RankingSnapshot.objects.filter(review=cast.review).exists()  # no labels yet
        cast.review.prioritise = False
        cast.review.save(update_fields=["prioritise"])
        assert not ranking.features_prepare(cast.review.pk)  # ranking off: nothing to build
    finally:
        corpus_cache_clear()


def test_a_refit_asked_for_while_the_features_are_built_runs_after_them(cast, fake_core):
    included, excluded = records(cast.review, 2)
    pair(cast.review, included, cast.alice, cast.bob, "include", "include")
    pair(cast.review, excluded, cast.alice, cast.bob, "exclude", "exclude")
    # Its task found the review's refit lock held by the build and left the request to it.
    ranking.refit_mark(cast.review.pk)
    assert ranking.features_prepare(cast.review.pk)
    assert ranking.ranking_latest(cast.review).n_resolved == 2
    assert not ranking.refit_pending(cast.review.pk)
    assert FakeRanker.seen == [{included.pk: 1, excluded.pk: 0}]
