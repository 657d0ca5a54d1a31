"""Screening prioritisation wired into the queue: training data, refits, stored rankings.

The ranking core (TF-IDF + classifier, stopping estimates) lives in
:mod:`screening.prioritisation` and knows nothing of Django. This module

* builds its training data from **resolved** title/abstract decisions only, so another
  reviewer's unresolved vote can never reach a queue (blinding);
* refits after every ``SCREENING_REFIT_EVERY`` (default 10) new resolutions, as a Celery
  task (``screening.tasks.ranking_refit_task``) on a worker, so a reviewer's next-record
  request never waits for a fit: it is served from the last stored ranking meanwhile;
* runs at most one refit per review at a time across all workers (a PostgreSQL advisory
  lock) and loses no request: a refit asked for while another runs is recorded
  (:class:`~screening.models.RankingRefitState`) and run by the holder of the lock
  before it lets go, on the decisions resolved by then;
* stores each ranking as a :class:`~screening.models.RankingSnapshot` and copies its
  scores into ``ScreeningItem.relevance``, which orders the queue when
  ``review.prioritise`` is on.

The features are cached on disk under ``REVIEWFLOW_CACHE_DIR`` (a shared path when
workers run on several machines), and in the worker's memory within
``REVIEWFLOW_RANKING_CACHE_MB`` (least recently used evicted first), so that a worker's
memory stays bounded however many reviews it refits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from config.celery import app as celery_app
from reviews.db import lock_for_update
from reviews.job_queue import dispatch
from reviews.models import Record, Review, Stage

# ``prioritisation`` loads its ranker (scikit-learn, with scipy.stats and pandas: ~100 MB)
# when a name of it is first used, and this module imports ``.prioritisation.ranker`` in
# the functions that build features: every web and worker process imports this module.
from . import prioritisation
from .models import (
    FinalDecision,
    RankingRefitState,
    RankingSnapshot,
    Resolution,
    ScreeningItem,
    Vote,
)

log = logging.getLogger(__name__)

PRIORITY_BATCH = 100
RANKING_HEAD = 2000  # items of each new ranking written into the queue (see priorities_apply)
REFIT_TASK_NAME = "screening.ranking_refit"  # screening/tasks.py: ranking_refit_task
FEATURES_TASK_NAME = "screening.ranking_features"  # screening/tasks.py: ranking_features_task
ADVISORY_LOCK_BASE = 0x5C4EE000000  # namespace of this app's PostgreSQL advisory locks
# Without PostgreSQL (SQLite: `make run`, one process) a lock of this process suffices.
_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def refit_every() -> int:
    return max(1, int(getattr(settings, "SCREENING_REFIT_EVERY", 10)))


@dataclass(frozen=True)
class TrainingData:
    """Labels the ranking may learn from: record id -> 1 (include) or 0 (exclude)."""

    labels: dict[int, int]
    source: str  # what the labels are, for the overview page

    @property
    def n_includes(self) -> int:
        return sum(self.labels.values())

    @property
    def usable(self) -> bool:
        """A classifier needs at least one include and one exclude."""
        return 0 < self.n_includes < len(self.labels)


def training_data(review: Review, *, own_votes_of: Any = None) -> TrainingData:
    """Resolved title/abstract decisions of the review, optionally plus one reviewer's own votes.

    Another reviewer's unresolved vote is never included: only :class:`Resolution` rows
    (agreed or adjudicated) and, when ``own_votes_of`` is given, that reviewer's own votes
    on records that are still unresolved.
    """
    labels = {
        record_id: int(decision == FinalDecision.INCLUDE)
        for record_id, decision in Resolution.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT
        ).values_list("record_id", "decision")
    }
    source = "resolved title/abstract decisions"
    if own_votes_of is not None:
        own = Vote.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, reviewer=own_votes_of
        ).exclude(record_id__in=list(labels))
        for record_id, decision in own.values_list("record_id", "decision"):
            if decision in (FinalDecision.INCLUDE, FinalDecision.EXCLUDE):
                labels[record_id] = int(decision == FinalDecision.INCLUDE)
        source += " and your own votes"
    return TrainingData(labels=labels, source=source)


def _texts(review: Review) -> dict[int, str]:
    """Title + abstract (+ keywords) of the review's records that are screened (not duplicates)."""
    from .prioritisation.ranker import TITLE_REPEATS, USE_KEYWORDS

    rows = (
        Record.objects.filter(review=review, duplicate_of__isnull=True)
        .values_list("id", "title", "abstract", "keywords")
        .order_by("id")
    )
    # The text the core's configuration was chosen on.
    return {
        rid: prioritisation.record_text(
            title, abstract, keywords if USE_KEYWORDS else "", title_repeats=TITLE_REPEATS
        )
        for rid, title, abstract, keywords in rows.iterator(chunk_size=5000)
    }


def ranking_refit(review: Review) -> RankingSnapshot | None:
    """Fit the ranking on the review's resolved decisions, store it and reorder the queue.

    Returns ``None`` while there is not yet one include and one exclude (the queue then
    stays in its seeded random order).
    """
    data = training_data(review)
    if not data.usable:
        return None
    from .prioritisation.ranker import corpus_cache_budget

    started = time.perf_counter()
    model = getattr(settings, "SCREENING_RANKER", prioritisation.DEFAULT_MODEL)
    ranker = prioritisation.Ranker(model, seed=review.pk)
    # A worker refits many reviews: its memory holds the features of the latest few only.
    corpus_cache_budget(settings.REVIEWFLOW_RANKING_CACHE_MB)
    corpus = ranker.vectorise(_texts(review), cache_file=_corpus_file(review))
    ranking = ranker.fit(corpus, data.labels)
    seconds = time.perf_counter() - started
    snapshot = RankingSnapshot.objects.create(
        review=review,
        n_resolved=len(data.labels),
        n_includes=data.n_includes,
        method=ranking.method[:200],
        payload=json.loads(ranking.to_json()),
        seconds=seconds,
    )
    priorities_apply(review, ranking.scores, generation=snapshot.pk)
    return snapshot


def features_min_records() -> int:
    """Reviews with at least this many records get their features built as records arrive."""
    return max(1, int(getattr(settings, "SCREENING_FEATURES_PREBUILD_MIN", 2000)))


def features_prepare(review_id: int) -> bool:
    """Build and store a review's ranking features now, then run any refit asked for meanwhile.

    The features of a 20,000-record review take ~9 s of CPU to build and ~0.1 s to load,
    and a fit on them ~1 s: built when the records arrive (an import's confirmation, at
    the worker's low priority), the first ranking follows the first include and exclude
    within a warm refit's time instead of a cold build's, which at a low priority on a
    busy machine took minutes. Returns whether this call built or loaded them; ``False``
    when another worker holds the review's refit lock (its refit builds them) or the
    review is gone or has its ranking off.
    """
    with refit_lock(review_id) as held:
        if not held:
            return False
        review = Review.objects.filter(pk=review_id, prioritise=True).first()
        if review is None:
            return False
        texts = _texts(review)
        if not texts:
            return False
        from .prioritisation.ranker import corpus_cache_budget

        model = getattr(settings, "SCREENING_RANKER", prioritisation.DEFAULT_MODEL)
        corpus_cache_budget(settings.REVIEWFLOW_RANKING_CACHE_MB)
        prioritisation.Ranker(model, seed=review.pk).vectorise(
            texts, cache_file=_corpus_file(review)
        )
        del texts
    # A refit asked for while the features were built found the lock held and left it to
    # this holder.
    if refit_pending(review_id):
        refit_while_requested(review_id)
    return True


def features_prepare_request(review_id: int) -> None:
    """Queue :func:`features_prepare` for the review (on a worker, at its low priority)."""
    dispatch(celery_app.tasks[FEATURES_TASK_NAME], review_id)


def _corpus_file(review: Review) -> Path:
    """Where a review's text features are kept between refits (rebuilt when stale)."""
    return Path(settings.REVIEWFLOW_CACHE_DIR) / "ranking" / f"review-{review.pk}.npz"


def priorities_apply(review: Review, scores: dict[int, float], *, generation: int) -> int:
    """Write the head of a new ranking into the queue; return the number of items written.

    Only the ``RANKING_HEAD`` best-scored items still waiting for votes are written, as
    ``generation + r`` with ``r`` in (0, 1) falling with rank: every item of the new head
    then sorts above every item of an older ranking, and the older items keep their older
    order behind it. Reviewers take far fewer records between two refits than the head
    holds, so the queue follows the new ranking, while a refit of a 20,000-record review
    writes 2,000 rows instead of 20,000 (the writes, not the fit, were what slowed
    reviewers' requests during refits). ``generation`` must grow with every ranking (the
    snapshot's id does).
    """
    items = ScreeningItem.objects.filter(
        review=review, stage=Stage.TITLE_ABSTRACT, status=ScreeningItem.Status.OPEN
    ).values_list("id", "record_id")
    scored = sorted(
        ((scores[record_id], -item_id) for item_id, record_id in items if record_id in scores),
        reverse=True,
    )[:RANKING_HEAD]
    n = len(scored)
    relevance = {
        -neg_id: generation + (n - rank) / (n + 1) for rank, (_, neg_id) in enumerate(scored)
    }
    head = sorted(relevance.items())
    # Only the relevance column is written, so a concurrent vote's status and n_votes stay
    # intact; in small transactions, so that a reviewer's vote on a row of this batch
    # waits milliseconds at most; and rows a reviewer holds locked right now (being
    # claimed or voted on) are skipped, so the refit never waits for reviewers either.
    # The rows are locked in id order before they are written: an UPDATE locks rows in
    # whatever order its plan scans them, and two refits writing the same rows in
    # different orders (two server processes) would deadlock.
    written = 0
    skip_locked = connection.features.has_select_for_update_skip_locked
    table = connection.ops.quote_name(ScreeningItem._meta.db_table)
    for start in range(0, len(head), PRIORITY_BATCH):
        batch = head[start : start + PRIORITY_BATCH]
        with transaction.atomic():
            rows = ScreeningItem.objects.filter(pk__in=[item_id for item_id, _ in batch])
            locked = set(
                lock_for_update(rows.order_by("id"), skip_locked=skip_locked).values_list(
                    "id", flat=True
                )
            )
            values = [(value, item_id) for item_id, value in batch if item_id in locked]
            # Plain parameterised UPDATEs (pipelined by psycopg): bulk_update's CASE
            # expressions cost the refit worker more CPU than the fit itself.
            with connection.cursor() as cursor:
                cursor.executemany(f"UPDATE {table} SET relevance = %s WHERE id = %s", values)  # noqa: S608
        written += len(values)
    return written


def ranking_latest(review: Review) -> RankingSnapshot | None:
    """The review's latest ranking, without its stored order (``payload``: ~0.5 MB of JSON
    at 20,000 records, read on every resolution otherwise)."""
    return (
        RankingSnapshot.objects.filter(review=review)
        .defer("payload")
        .order_by("-created_at", "-id")
        .first()
    )


def refit_resend_seconds() -> int:
    """After this long a pending refit request is sent again (its task may have been lost)."""
    return max(1, int(getattr(settings, "SCREENING_REFIT_RESEND_SECONDS", 120)))


def ranking_note_resolution(review_id: int) -> None:
    """Called after a title/abstract resolution commits: refit if N new ones have come in.

    While a refit request is pending (sent, not yet taken by a worker) nothing more is
    asked for: the refit that takes it reads the decisions after taking it, so it learns
    this resolution too. Twenty reviewers resolving records during a refit then add no
    task to the queue and cost one query each.
    """
    # One statement, as this runs after every title/abstract resolution: the review's
    # setting, its resolutions so far, what its latest ranking was trained on and whether
    # a refit request is pending. Hand-written: the ORM's four subqueries cost more CPU to
    # build than to run.
    q = connection.ops.quote_name
    sql = f"""
        SELECT r.prioritise,
          (SELECT COUNT(*) FROM {q(Resolution._meta.db_table)} x
           WHERE x.review_id = r.id AND x.stage = %s),
          (SELECT s.n_resolved FROM {q(RankingSnapshot._meta.db_table)} s
           WHERE s.review_id = r.id ORDER BY s.created_at DESC, s.id DESC LIMIT 1),
          EXISTS (SELECT 1 FROM {q(RankingRefitState._meta.db_table)} t
           WHERE t.review_id = r.id AND t.requested > t.taken AND t.requested_at > %s)
        FROM {q(Review._meta.db_table)} r WHERE r.id = %s
    """  # noqa: S608 - only table names are formatted in; values are parameters
    fresh_since = timezone.now() - timedelta(seconds=refit_resend_seconds())
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                Stage.TITLE_ABSTRACT,
                connection.ops.adapt_datetimefield_value(fresh_since),
                review_id,
            ],
        )
        row = cursor.fetchone()
    if row is None or not row[0] or row[3]:
        return  # no such review, ranking off, or a pending refit will learn this one
    n_resolved, latest_trained_on = row[1] or 0, row[2]
    # Every N (default 10) resolutions, and less often as the labelled set grows (every 1 %
    # of it, the schedule the simulation validated), so large reviews don't refit non-stop.
    interval = max(refit_every(), prioritisation.refit_interval(n_resolved, every=1))
    if latest_trained_on is not None and n_resolved - latest_trained_on < interval:
        return
    if latest_trained_on is None and not training_data(Review(pk=review_id)).usable:
        return
    ranking_refit_request(review_id)


def ranking_refit_request(review_id: int) -> None:
    """Ask for a refit of the review's ranking: record the request, then queue a refit task.

    The request is recorded first: a task that finds another refit running leaves it to
    that refit, which takes every request recorded before it lets go of the lock. A
    request made while another is pending (its task sent within
    ``SCREENING_REFIT_RESEND_SECONDS``, not yet taken) is folded into that one: no task.
    """
    if not refit_mark(review_id, coalesce=True):
        return
    # By name from Celery's task registry: the task module calls the ranking, and the
    # ranking must not import it back.
    dispatch(celery_app.tasks[REFIT_TASK_NAME], review_id)


def refit_mark(review_id: int, *, coalesce: bool = False) -> bool:
    """Record a refit request; return whether a refit task should be sent for it.

    With ``coalesce``, nothing is recorded (``False``) while an earlier request is still
    pending and its task was sent less than ``SCREENING_REFIT_RESEND_SECONDS`` ago: the
    refit that takes it reads the decisions afterwards, so it covers this request too.
    """
    now = timezone.now()
    rows = RankingRefitState.objects.filter(pk=review_id)
    if coalesce:
        stale = now - timedelta(seconds=refit_resend_seconds())
        rows = rows.filter(
            Q(requested=F("taken")) | Q(requested_at__isnull=True) | Q(requested_at__lt=stale)
        )
    if rows.update(requested=F("requested") + 1, requested_at=now):
        return True
    # No row yet (the review's first request), or a pending request took this one.
    RankingRefitState.objects.bulk_create(
        [RankingRefitState(review_id=review_id)], ignore_conflicts=True
    )
    return bool(rows.update(requested=F("requested") + 1, requested_at=now))


def _refit_take(review_id: int) -> bool:
    """Take every request recorded so far (one UPDATE: two takers cannot both win)."""
    return bool(
        RankingRefitState.objects.filter(pk=review_id, requested__gt=F("taken")).update(
            taken=F("requested")
        )
    )


def refit_pending(review_id: int) -> bool:
    return RankingRefitState.objects.filter(pk=review_id, requested__gt=F("taken")).exists()


@contextmanager
def refit_lock(review_id: int) -> Iterator[bool]:
    """Try to hold the review's refit lock; yields whether it is held (never waits).

    On PostgreSQL a session advisory lock, so it holds across all workers and machines and
    is let go by the server if the worker dies; otherwise (SQLite, one process) a lock of
    this process.
    """
    if connection.vendor == "postgresql":
        key = ADVISORY_LOCK_BASE + review_id
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            held = bool(cursor.fetchone()[0])
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    with _local_locks_guard:
        lock = _local_locks.setdefault(review_id, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()


def refit_while_requested(review_id: int) -> int:
    """Refit the review's ranking until no request is left; return the refits run here.

    Returns at once (0) when another worker holds the review's refit lock: that worker
    takes the requests recorded meanwhile. After letting go of the lock it looks once more,
    for a request recorded between its last take and the release, whose own task found
    the lock still held.
    """
    n = 0
    while True:
        with refit_lock(review_id) as held:
            if not held:
                return n
            # Take, then read the training data: a decision resolved before the request
            # that is taken here is in this refit.
            while _refit_take(review_id):
                review = Review.objects.filter(pk=review_id).first()
                if review is None:
                    return n
                ranking_refit(review)
                n += 1
        if not refit_pending(review_id):
            return n
