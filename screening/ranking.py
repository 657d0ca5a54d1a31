"""Screening prioritisation wired into the queue: training data, refits, stored rankings.

The ranking core (TF-IDF + classifier, stopping estimates) lives in
:mod:`screening.prioritisation` and knows nothing of Django. This module

* builds its training data from **resolved** title/abstract decisions only, so another
  reviewer's unresolved vote can never reach a queue (blinding);
* refits after every ``SCREENING_REFIT_EVERY`` (default 10) new resolutions, in a
  process of its own started from a background thread, so a reviewer's next-record
  request never waits for a fit (it is served from the last stored ranking) and the fit
  does not hold the web worker's GIL; ``SCREENING_RANKING_SYNC = True`` fits in the
  calling thread instead (tests, demo loading);
* stores each ranking as a :class:`~screening.models.RankingSnapshot` and copies its
  scores into ``ScreeningItem.priority``, which orders the queue when
  ``review.prioritise`` is on.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max

from reviews.db import lock_for_update
from reviews.models import Record, Review, Stage

from . import prioritisation
from .models import (
    FinalDecision,
    RankingSnapshot,
    RecordCorrection,
    Resolution,
    ScreeningItem,
    Vote,
)
from .selectors import records_signature

log = logging.getLogger(__name__)

PRIORITY_BATCH = 100
RANKING_HEAD = 2000  # items of each new ranking written into the queue (see priorities_apply)
_running: set[int] = set()
_running_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_TEXTS_CACHE: dict[int, tuple[tuple, dict[int, str]]] = {}
TEXTS_CACHE_SIZE = 4
_executor_lock = threading.Lock()


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
    """Title + abstract of the review's records that are screened (not duplicates).

    Kept in memory per review, keyed by a signature of the records (count, ids,
    duplicates, corrections): a refit worker refits the same review again and again, and
    reading 20,000 abstracts costs the database more than the fit costs the worker.
    """
    signature = (
        review.created_at,
        records_signature(review),
        tuple(
            RecordCorrection.objects.filter(review=review)
            .aggregate(n=Count("id"), last=Max("id"))
            .values()
        ),
    )
    cached = _TEXTS_CACHE.get(review.pk)
    if cached is not None and cached[0] == signature:
        return cached[1]
    rows = (
        Record.objects.filter(review=review, duplicate_of__isnull=True)
        .values_list("id", "title", "abstract")
        .order_by("id")
    )
    # Title and abstract, as the core's default model was chosen on (keywords lowered
    # WSS@95 on one of the two labelled sets; see benchmarks/prioritisation.py).
    texts = {rid: prioritisation.record_text(title, abstract) for rid, title, abstract in rows}
    _TEXTS_CACHE[review.pk] = (signature, texts)
    while len(_TEXTS_CACHE) > TEXTS_CACHE_SIZE:
        _TEXTS_CACHE.pop(next(iter(_TEXTS_CACHE)))
    return texts


def ranking_refit(review: Review) -> RankingSnapshot | None:
    """Fit the ranking on the review's resolved decisions, store it and reorder the queue.

    Returns ``None`` while there is not yet one include and one exclude (the queue then
    stays in its seeded random order).
    """
    data = training_data(review)
    if not data.usable:
        return None
    started = time.perf_counter()
    model = getattr(settings, "SCREENING_RANKER", prioritisation.DEFAULT_MODEL)
    ranker = prioritisation.Ranker(model, seed=review.pk)
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


def ranking_note_resolution(review_id: int) -> None:
    """Called after a title/abstract resolution commits: refit if N new ones have come in."""
    review = Review.objects.filter(pk=review_id).first()
    if review is None or not review.prioritise:
        return
    n_resolved = Resolution.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).count()
    latest = ranking_latest(review)
    # Every N (default 10) resolutions, and less often as the labelled set grows (every 1 %
    # of it, the schedule the simulation validated), so large reviews don't refit non-stop.
    interval = max(refit_every(), prioritisation.refit_interval(n_resolved, every=1))
    if latest is not None and n_resolved - latest.n_resolved < interval:
        return
    if latest is None and not training_data(review).usable:
        return
    if getattr(settings, "SCREENING_RANKING_SYNC", False):
        ranking_refit(review)
        return
    with _running_lock:
        if review_id in _running:
            return  # a refit is already running; the next resolution will check again
        _running.add(review_id)
    threading.Thread(
        target=_refit_in_background, args=(review_id,), name=f"refit-{review_id}", daemon=True
    ).start()


def _refit_executor() -> ProcessPoolExecutor:
    """This server process's refit worker: one process, started on the first refit.

    It stays up between refits, so a refit does not pay for a new interpreter (importing
    Django, numpy and scikit-learn costs ~3 s of CPU, more than a fit from cached
    features), and its in-memory feature cache carries over from one refit to the next.
    """
    global _executor
    with _executor_lock:
        if _executor is None:
            from .refit_process import worker_init

            _executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker_init,
                initargs=(os.environ.get("DJANGO_SETTINGS_MODULE", ""),),
            )
        return _executor


def _refit_in_background(review_id: int) -> None:
    """Watcher thread: run the refit in the refit worker process and wait for it.

    A fit of a large review keeps a CPU busy; in a thread of the web server it would hold
    the GIL and slow every request of that worker, in its own process it does not. The
    watcher only waits, so it costs the server nothing.
    """
    global _executor
    try:
        review = Review.objects.filter(pk=review_id).only("slug", "created_at").first()
        if review is None:
            return
        identity = (review.slug, review.created_at.isoformat() if review.created_at else "")
        from .refit_process import refit

        _refit_executor().submit(refit, review_id, *identity).result()
    except BrokenProcessPool:
        log.error("The refit worker of review %s died; the next refit starts a new one", review_id)
        with _executor_lock:
            _executor = None
    except Exception:  # a failed refit must never take the server down; the old ranking stays
        log.exception("Refit of the screening ranking of review %s failed", review_id)
    finally:
        with _running_lock:
            _running.discard(review_id)
        connection.close()  # this thread's own connection


def refit_running(review_id: int) -> bool:
    with _running_lock:
        return review_id in _running
