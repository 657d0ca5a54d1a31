"""Screening prioritisation wired into the queue: training data, refits, stored rankings.

The ranking core (TF-IDF + classifier, stopping estimates) lives in
:mod:`screening.prioritisation` and knows nothing of Django. This module

* builds its training data from **resolved** title/abstract decisions only, so another
  reviewer's unresolved vote can never reach a queue (blinding);
* refits after every ``SCREENING_REFIT_EVERY`` (default 10) new resolutions, in a
  background thread, so a reviewer's next-record request never waits for a fit (it is
  served from the last stored ranking); ``SCREENING_RANKING_SYNC = True`` fits in the
  calling thread instead (tests, SQLite demos);
* stores each ranking as a :class:`~screening.models.RankingSnapshot` and copies its
  scores into ``ScreeningItem.priority``, which orders the queue when
  ``review.prioritise`` is on.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from reviews.models import Record, Review, Stage

from .models import FinalDecision, RankingSnapshot, Resolution, ScreeningItem, Vote

log = logging.getLogger(__name__)

_running: set[int] = set()
_running_lock = threading.Lock()


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


def _core():
    """The prioritisation core, or None while it is not installed."""
    try:
        from . import prioritisation
    except ImportError:
        return None
    return prioritisation


def core_available() -> bool:
    return _core() is not None


def _texts(review: Review) -> dict[int, str]:
    rows = (
        Record.objects.filter(review=review, duplicate_of__isnull=True)
        .values_list("id", "title", "abstract", "keywords")
        .order_by("id")
    )
    return {
        rid: " ".join([title or "", abstract or "", " ".join(map(str, keywords or []))])
        for rid, title, abstract, keywords in rows
    }


def ranking_refit(review: Review) -> RankingSnapshot | None:
    """Fit the ranking on the review's resolved decisions, store it and reorder the queue.

    Returns ``None`` when the core is missing or there is not yet one include and one
    exclude (the queue then stays in its seeded random order).
    """
    core = _core()
    data = training_data(review)
    if core is None or not data.usable:
        return None
    started = time.perf_counter()
    texts = _texts(review)
    ranking = core_rank(core, texts, data.labels, review=review)
    seconds = time.perf_counter() - started
    snapshot = RankingSnapshot.objects.create(
        review=review,
        n_resolved=len(data.labels),
        n_includes=data.n_includes,
        method=ranking["method"][:200],
        payload=ranking["payload"],
        seconds=seconds,
    )
    priorities_apply(review, ranking["scores"])
    return snapshot


def core_rank(core: Any, texts: dict[int, str], labels: dict[int, int], *, review: Review) -> dict:
    """Fit the core on the labelled records and score every record.

    The core is used through its public seam: ``core.Ranker`` (the model named by the
    ``SCREENING_RANKER`` setting, else the core's default; seeded by the review) whose
    ``fit(texts, labels)`` returns an immutable :class:`~screening.prioritisation.Ranking`
    with ``scores`` (unlabelled record id -> relevance), ``method`` and ``to_json()``.

    Returns ``{"scores": {id: float}, "method": str, "payload": JSON-able dict}``.
    """
    model = getattr(settings, "SCREENING_RANKER", None)
    ranker = core.Ranker(model, seed=review.pk) if model else core.Ranker(seed=review.pk)
    result = ranker.fit(texts, labels)
    scores = getattr(result, "scores", None)
    if scores is None:
        order = list(result.order)
        # Rank positions become scores in (0, 1]: the first record scores highest.
        scores = {rid: 1.0 - i / max(len(order), 1) for i, rid in enumerate(order)}
    to_json = getattr(result, "to_json", None)
    payload = to_json() if callable(to_json) else {}
    if isinstance(payload, str):
        import json

        payload = json.loads(payload)
    method = getattr(result, "method", "") or type(ranker).__name__
    return {
        "scores": {int(k): float(v) for k, v in dict(scores).items()},
        "method": str(method),
        "payload": payload,
    }


def priorities_apply(review: Review, scores: dict[int, float]) -> int:
    """Copy relevance scores into the title/abstract items still waiting for votes."""
    items = list(
        ScreeningItem.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, status=ScreeningItem.Status.OPEN
        ).only("id", "record_id", "relevance")
    )
    changed = []
    for item in items:
        score = scores.get(item.record_id)
        if score is not None and score != item.relevance:
            item.relevance = float(score)
            changed.append(item)
    # Only the relevance column is written: a concurrent vote's status/n_votes stay intact.
    with transaction.atomic():
        ScreeningItem.objects.bulk_update(changed, ["relevance"], batch_size=2000)
    return len(changed)


def ranking_latest(review: Review) -> RankingSnapshot | None:
    return RankingSnapshot.objects.filter(review=review).order_by("-created_at", "-id").first()


def ranking_note_resolution(review_id: int) -> None:
    """Called after a title/abstract resolution commits: refit if N new ones have come in."""
    review = Review.objects.filter(pk=review_id).first()
    if review is None or not review.prioritise or not core_available():
        return
    n_resolved = Resolution.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).count()
    latest = ranking_latest(review)
    if latest is not None and n_resolved - latest.n_resolved < refit_every():
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


def _refit_in_background(review_id: int) -> None:
    try:
        close_old_connections()
        review = Review.objects.get(pk=review_id)
        ranking_refit(review)
    except Exception:  # a failed refit must never take the server down; the old ranking stays
        log.exception("Refit of the screening ranking of review %s failed", review_id)
    finally:
        with _running_lock:
            _running.discard(review_id)
        connection.close()


def refit_running(review_id: int) -> bool:
    with _running_lock:
        return review_id in _running
