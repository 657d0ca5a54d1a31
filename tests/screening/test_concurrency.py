"""20 reviewers at once: no decision lost or doubled, no slot given beyond votes_required.

Meaningful on PostgreSQL only (row locks, concurrent writers); SQLite serialises every
writer, so these tests are skipped there. Run them with
DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/screening
"""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from reviews.errors import ConflictError
from screening import services
from screening.models import Resolution, ScreeningItem, Vote
from tests.factories import MembershipFactory, UserFactory
from tests.screening.factories import records

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrency needs PostgreSQL row locks"
    ),
]

N_REVIEWERS = 20


def reviewers(review, n=N_REVIEWERS):
    users = [UserFactory(username=f"rev{i:02d}") for i in range(n)]
    for user in users:
        MembershipFactory(review=review, user=user, is_reviewer=True)
    return users


def run_threads(target, users):
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def wrapped(user):
        try:
            barrier.wait()
            target(user)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_twenty_reviewers_working_through_the_queue(cast):
    review = cast.review
    recs = records(review, 60)
    users = reviewers(review)
    cast_ok: Counter = Counter()
    lock = threading.Lock()

    def work(user):
        while True:
            item = services.next_item_claim(review=review, stage="ta", actor=user)
            if item is None:
                return
            decision = "include" if item.record_id % 3 == 0 else "exclude"
            services.vote_cast(
                review=review, record_id=item.record_id, stage="ta", actor=user, decision=decision
            )
            with lock:
                cast_ok[(item.record_id, user.pk)] += 1

    run_threads(work, users)
    votes = list(Vote.objects.filter(review=review).values_list("record_id", "reviewer_id"))
    # No decision lost, none doubled: the database holds exactly the successful casts.
    assert Counter(votes) == cast_ok and max(cast_ok.values()) == 1
    per_record = Counter(r for r, _ in votes)
    assert all(per_record[r.pk] == 2 for r in recs)
    assert Resolution.objects.filter(review=review, stage="ta").count() == 60
    assert (
        not ScreeningItem.objects.filter(review=review, stage="ta")
        .exclude(status="resolved")
        .exists()
    )


def test_twenty_reviewers_voting_on_the_same_record(cast):
    review = cast.review
    (record,) = records(review, 1)
    users = reviewers(review)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(user):
        try:
            services.vote_cast(
                review=review, record_id=record.pk, stage="ta", actor=user, decision="include"
            )
            result = "ok"
        except ConflictError:
            result = "refused"
        with lock:
            outcomes.append(result)

    run_threads(work, users)
    assert Counter(outcomes) == {"ok": 2, "refused": 18}
    assert Vote.objects.filter(record=record).count() == 2
    item = ScreeningItem.objects.get(record=record, stage="ta")
    assert item.n_votes == 2 and item.status == "resolved"
    assert Resolution.objects.filter(record=record).count() == 1
