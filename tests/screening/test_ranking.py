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


def test_refit_after_every_n_resolutions_in_sync_mode(
    cast, fake_core, settings, django_capture_on_commit_callbacks
):
    settings.SCREENING_RANKING_SYNC = True
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


def test_background_refit_does_not_block_and_runs_once(cast, fake_core, monkeypatch, settings):
    settings.SCREENING_RANKING_SYNC = False
    rs = records(cast.review, 2)
    pair(cast.review, rs[0], cast.alice, cast.bob, "include", "include")
    pair(cast.review, rs[1], cast.alice, cast.bob, "exclude", "exclude")
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_refit(review_id):
        calls.append(review_id)
        started.set()
        release.wait(5)
        ranking._running.discard(review_id)

    monkeypatch.setattr(ranking, "_refit_in_background", slow_refit)
    ranking.ranking_note_resolution(cast.review.pk)  # returns at once
    assert started.wait(5) and ranking.refit_running(cast.review.pk)
    ranking.ranking_note_resolution(cast.review.pk)  # a refit is running: not a second one
    release.set()
    assert calls == [cast.review.pk]


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


@pytest.mark.django_db(transaction=True)
def test_the_refit_worker_refits_only_the_review_it_was_named(cast, fake_core):
    from screening.refit_process import refit

    rs = records(cast.review, 3)
    pair(cast.review, rs[0], cast.alice, cast.bob, "include", "include")
    pair(cast.review, rs[1], cast.alice, cast.bob, "exclude", "exclude")
    created = cast.review.created_at.isoformat()
    before = RankingSnapshot.objects.count()  # the synchronous refits of the test settings
    refit(cast.review.pk, "another-review", created)  # same id, another database's review
    assert RankingSnapshot.objects.count() == before
    refit(cast.review.pk, cast.review.slug, created)
    assert RankingSnapshot.objects.count() == before + 1
    assert ranking.ranking_latest(cast.review).n_resolved == 2
    refit(cast.review.pk, cast.review.slug, created)  # the advisory lock was given back
    assert RankingSnapshot.objects.count() == before + 2


def test_a_corrected_abstract_reaches_the_next_refit(cast):
    (record,) = records(cast.review, 1, abstract="old words")
    assert "old words" in ranking._texts(cast.review)[record.pk]
    services.record_correct(
        review=cast.review, record_id=record.pk, actor=cast.alice, abstract="peer support trial"
    )
    assert "peer support trial" in ranking._texts(cast.review)[record.pk]
    (other,) = records(cast.review, 1, abstract="a new import")
    assert "a new import" in ranking._texts(cast.review)[other.pk]
