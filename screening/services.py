"""State changes of screening: claims, votes, undo, adjudication, full texts, corrections.

Every function that changes who screens a record locks the record's
:class:`~screening.models.ScreeningItem` row first and re-reads the state under the lock
(see the module docstring of :mod:`screening.models`).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from reviews import dedup, rawfields
from reviews.db import (
    columns,
    from_row,
    insert,
    insert_parts,
    lock_for_update,
    retry_transient,
    saved,
    update_fields,
)
from reviews.errors import ConflictError, DomainError
from reviews.models import ExclusionReason, Record, Review, Stage
from reviews.selectors import records_version

from . import ranking
from .keymap import keymap_validate
from .models import (
    BlindingChange,
    Claim,
    Decision,
    FinalDecision,
    FullText,
    FullTextChange,
    PrismaExtra,
    RecordCorrection,
    Resolution,
    ScreeningItem,
    ScreeningPreference,
    StoppingRule,
    StoppingRuleChange,
    Vote,
    VoteChange,
)
from .selectors import records_signature

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

CLAIM_MINUTES = 30
QUEUE_ATTEMPTS = 50
QUEUE_ROUNDS = 50
LOCKED_RETRY_SECONDS = 0.01
SYNC_CHECK_SECONDS = 5
PDF_MAGIC = b"%PDF-"
NOTE_MAX = 5000


class NotFoundInReview(DomainError):
    status = 404


def _stage(stage: str) -> str:
    if stage not in (Stage.TITLE_ABSTRACT, Stage.FULL_TEXT):
        raise NotFoundInReview(f"Unknown screening stage “{stage}”.")
    return stage


def _violates(exc: IntegrityError, constraint: str, model: Any) -> bool:
    message = str(exc)  # PostgreSQL names the constraint, SQLite the table's columns
    return constraint in message or f"UNIQUE constraint failed: {model._meta.db_table}." in message


def _unique_conflicts(func: Callable[P, R]) -> Callable[P, R]:
    """Answer 409 when a unique constraint refuses a second vote of a reviewer or a second
    resolution of a record.

    The item lock already excludes both; the constraints are the second line of defence
    (see :mod:`screening.models`). Caught here, around the service's whole transaction
    (rolled back, or its savepoint, by the time the error gets here), rather than in a
    savepoint around each insert: two round trips fewer on every vote and resolution.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except IntegrityError as exc:
            if _violates(exc, "vote_one_per_reviewer", Vote):
                raise ConflictError("You have already voted on this record.") from exc
            if _violates(exc, "resolution_unique", Resolution):
                raise ConflictError("This record has been resolved already.") from exc
            raise

    return wrapper


def _item_priority(review_id: int, record_id: int) -> float:
    # Seeded, so the random order before any ranking is the same on every server.
    return random.Random(review_id * 1_000_003 + record_id).random()


# --- Keeping items in step with the records ------------------------------------------------


@_unique_conflicts
def items_sync(review: Review, *, force: bool = False) -> None:
    """Create title/abstract items for new records; (de)activate items of (un)merged duplicates.

    Records are imported and de-duplicated by the reviews app, which knows nothing of
    screening, so screening catches up here. A cheap signature of the review's records
    (count, max id, duplicates) lets most calls return after one aggregate query.
    """
    # created_at makes the keys unique even where primary keys are reused (test databases).
    stamp = f"{review.pk}:{review.created_at.timestamp() if review.created_at else 0}"
    key = f"screening:sync:{stamp}"
    # Keyed on the records version too: a confirmed import or a merge is seen at once.
    recent = f"screening:sync-checked:{stamp}:{records_version(review)}"
    if not force and cache.get(recent):
        return  # checked a moment ago; new imports show up within SYNC_CHECK_SECONDS
    signature = records_signature(review)
    cache.set(recent, True, SYNC_CHECK_SECONDS)
    if not force and cache.get(key) == signature:
        return
    ta_items = ScreeningItem.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT)
    # Only the records that lack an item (an anti-join in the database), not every record
    # and item of the review: a signature change after a 20,000-record import into a
    # 200,000-record review reads the 20,000, not 420,000 rows.
    # A record found again by an update run is linked to its original (a duplicate), so
    # it gets no item: only genuinely new records join the queue, in their batch's round.
    missing = (
        Record.objects.filter(review=review, duplicate_of__isnull=True)
        .filter(~Exists(ta_items.filter(record_id=OuterRef("pk"))))
        .values_list("id", "batch__round")
    )
    had_items = ta_items.exists()
    new = [
        ScreeningItem(
            review=review,
            record_id=rid,
            stage=Stage.TITLE_ABSTRACT,
            priority=_item_priority(review.pk, rid),
            round=round_,
        )
        for rid, round_ in missing.iterator(chunk_size=5000)
    ]
    with transaction.atomic():
        ScreeningItem.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
        items = ScreeningItem.objects.filter(review=review)
        # (De)activation by a join to the records, not a list of ids sent back and forth.
        merged = Record.objects.filter(pk=OuterRef("record_id"), duplicate_of__isnull=False)
        items.filter(active=True).filter(Exists(merged)).update(active=False)
        items.filter(active=False).filter(~Exists(merged)).update(active=True)
        if new and had_items and review.prioritise:
            # Records arrived in a review already screened (an update): rank them now on
            # every earlier decision rather than serve them unranked until N more
            # resolutions (the refit does nothing until one include and one exclude).
            transaction.on_commit(lambda: ranking.ranking_refit_request(review.pk), robust=True)
        elif new and review.prioritise and len(new) >= ranking.features_min_records():
            # A large review's first records: build the ranking's features now, while the
            # lead sets up, so the first refit after the first include and exclude is a
            # warm one (a second, not a cold build's half minute).
            transaction.on_commit(lambda: ranking.features_prepare_request(review.pk), robust=True)
    # A lower votes_required can complete open items that already hold enough votes.
    for item_id in ScreeningItem.objects.filter(
        review=review, status=ScreeningItem.Status.OPEN, n_votes__gte=review.votes_required
    ).values_list("id", flat=True):
        with transaction.atomic():
            item = lock_for_update(ScreeningItem.objects).get(pk=item_id)
            _evaluate(item, review)
    cache.set(key, signature, 3600)


# --- The queue -----------------------------------------------------------------------------


def _queue_filter(
    review: Review, stage: str, user: Any, now, votes: str, *, first_round: int
) -> tuple[str, str, list]:
    """The queue's WHERE and ORDER BY over items ``i`` whose vote count is ``votes`` (an SQL
    expression without parameters), and the WHERE's parameters: open, active items of the
    stage from `first_round` on that `user` has not voted on, with a free slot once the
    others' live claims are counted.

    The order is one of the queue indexes' (screening_item_queue_rel, screening_item_queue).
    """
    vote_table = connection.ops.quote_name(Vote._meta.db_table)
    claim_table = connection.ops.quote_name(Claim._meta.db_table)
    where = f"""
        i.review_id = %s AND i.stage = %s AND i.active AND i.status = %s
          AND i.n_votes = {votes} AND i.round >= %s
          AND NOT EXISTS (
            SELECT 1 FROM {vote_table} v
            WHERE v.record_id = i.record_id AND v.stage = %s AND v.reviewer_id = %s)
          AND (SELECT COUNT(*) FROM {claim_table} c
               WHERE c.item_id = i.id AND c.expires_at > %s AND c.reviewer_id <> %s)
              < %s - {votes}
    """  # noqa: S608 - only table names and fixed expressions are formatted in
    order = (
        "i.relevance DESC, i.priority DESC, i.id"
        if _queue_ranked(review, stage)
        else "i.priority DESC, i.id"
    )
    params = [
        review.pk,
        stage,
        ScreeningItem.Status.OPEN,
        first_round,
        stage,
        user.pk,
        connection.ops.adapt_datetimefield_value(now),
        user.pk,
        review.votes_required,
    ]
    return where, order, params


def _queue_first(
    review: Review,
    stage: str,
    user: Any,
    now,
    n_votes: int,
    *,
    skip_locked: bool,
    first_round: int = 1,
) -> ScreeningItem | None:
    """The first item with exactly `n_votes` votes that `user` may take, in queue order.

    With ``skip_locked`` the row is locked (FOR NO KEY UPDATE SKIP LOCKED): rows other
    reviewers hold locked right now are skipped, not waited for. Without it nothing is
    locked (on PostgreSQL; SQLite serialises writers anyway). Items of rounds before
    `first_round` are passed over (a filter on the index walk, not another query).

    One vote count at a time, so that the ordering matches an index
    (review, stage, active, status, n_votes, [relevance,] priority, id) and the database
    stops at the first eligible row instead of sorting the whole stage. Hand-written SQL:
    this runs on every "vote and give me the next record" request, and building it with
    the ORM (correlated subqueries, annotations) cost more than running it.
    """
    item_table = connection.ops.quote_name(ScreeningItem._meta.db_table)
    select, names = columns(ScreeningItem, "i")
    where, order, params = _queue_filter(
        review, stage, user, now, str(int(n_votes)), first_round=first_round
    )
    lock = ""
    if skip_locked:
        no_key = " NO KEY" if connection.features.has_select_for_no_key_update else ""
        lock = f" FOR{no_key} UPDATE OF i SKIP LOCKED"
    sql = f"""
        SELECT {select} FROM {item_table} i
        WHERE {where}
        ORDER BY {order}
        LIMIT 1{lock}
    """  # noqa: S608 - only table names and fixed clauses are formatted in; values are params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else from_row(ScreeningItem, names, row)


def _queue_first_of(
    review: Review, stage: str, user: Any, now, levels: list[int], *, first_round: int = 1
) -> ScreeningItem | None:
    """`_queue_first` over several vote counts at once (PostgreSQL): the first item of the
    first count in `levels` that has one, locked (FOR NO KEY UPDATE SKIP LOCKED), in one
    round trip instead of one per count passed over.

    Each count is the same index walk as `_queue_first`'s, run as a LATERAL subquery per
    count. A LATERAL join can only be a nested loop over the VALUES in the order written,
    and the outer LIMIT stops at its first row: a count after the one that has an item is
    never walked, and only that item is locked. (An ORDER BY here would add a sort that
    walks, and locks the first item of, every count.)
    """
    item_table = connection.ops.quote_name(ScreeningItem._meta.db_table)
    select, names = columns(ScreeningItem, "q")
    inner, _ = columns(ScreeningItem, "i")
    where, order, params = _queue_filter(
        review, stage, user, now, "lv.n_votes", first_round=first_round
    )
    counts = ", ".join(f"({int(n)})" for n in levels)
    sql = f"""
        SELECT {select} FROM (VALUES {counts}) AS lv(n_votes)
        CROSS JOIN LATERAL (
          SELECT {inner} FROM {item_table} i
          WHERE {where}
          ORDER BY {order}
          LIMIT 1 FOR NO KEY UPDATE OF i SKIP LOCKED
        ) q
        LIMIT 1
    """  # noqa: S608 - only table names, fixed clauses and ints are formatted in
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else from_row(ScreeningItem, names, row)


def _queue_ranked(review: Review, stage: str) -> bool:
    """Relevance order, unless off or the stopping test samples title/abstract at random.

    Asked once per review object (`next_item_claim` asks with its first query): a queue
    request may walk the queue many times.
    """
    key = f"_queue_ranked_{stage}"
    if key not in review.__dict__:
        review.__dict__[key] = review.prioritise and not (
            stage == Stage.TITLE_ABSTRACT and stopping_sampling_on(review)
        )
    return review.__dict__[key]


def _can_take(item: ScreeningItem, review: Review, user: Any, now) -> bool:
    """Under the item's lock, for a user without a vote on it: may they add one?

    ``item.n_votes`` is current here: it is only ever written under this same lock. The
    claims are re-counted because the queue query saw them at its own snapshot.
    """
    if not item.active or item.status != ScreeningItem.Status.OPEN:
        return False
    others = Claim.objects.filter(item=item, expires_at__gt=now).exclude(reviewer=user).count()
    return item.n_votes + others < review.votes_required


@retry_transient()
def next_item_claim(
    *, review: Review, stage: str, actor: Any, first_round: int | None = None
) -> ScreeningItem | None:
    """Give `actor` their next record at `stage` and keep its slot for them.

    The queue holds the records of the review's current round (of every round from
    `first_round` on when given: 1 for all rounds).

    A record the reviewer was already given and has not voted on comes back first (a
    reload does not hand out a second slot). Otherwise the first item of the queue is
    locked (skipping rows other reviewers hold locked right now), re-checked under the
    lock and claimed. Returns ``None`` when nothing is left for this reviewer.
    """
    stage = _stage(stage)
    if stage == Stage.TITLE_ABSTRACT:
        items_sync(review)
    now = timezone.now()
    # What the queue needs to know first, in one hand-written statement (this runs on
    # every "vote and give me the next record" request): a slot the reviewer holds
    # already, and whether the stopping test samples (the queue's order).
    q = connection.ops.quote_name
    sql = f"""
        SELECT
          (SELECT c.id FROM {q(Claim._meta.db_table)} c
           JOIN {q(ScreeningItem._meta.db_table)} i ON i.id = c.item_id
           WHERE c.reviewer_id = %s AND c.expires_at > %s AND i.review_id = %s
             AND i.stage = %s AND i.active AND i.status = %s
           ORDER BY c.id LIMIT 1),
          EXISTS (SELECT 1 FROM {q(StoppingRule._meta.db_table)} s
                  WHERE s.review_id = %s AND s.sampling_since IS NOT NULL)
    """  # noqa: S608 - only table names are formatted in; values are parameters
    params = [actor.pk, connection.ops.adapt_datetimefield_value(now), review.pk, stage]
    params += [ScreeningItem.Status.OPEN, review.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        held_id, sampling = cursor.fetchone()
    review.__dict__.setdefault(
        f"_queue_ranked_{stage}",
        review.prioritise and not (stage == Stage.TITLE_ABSTRACT and sampling),
    )
    mine = None
    if held_id is not None:
        mine = Claim.objects.filter(pk=held_id).select_related("item").first()
    if (
        mine
        and not Vote.objects.filter(
            record_id=mine.item.record_id, stage=stage, reviewer=actor
        ).exists()
    ):
        Claim.objects.filter(pk=mine.pk).update(expires_at=now + timedelta(minutes=CLAIM_MINUTES))
        return mine.item
    skip_locked = connection.features.has_select_for_update_skip_locked
    levels = range(review.votes_required - 1, -1, -1)
    first_round = review.round if first_round is None else first_round
    for _round in range(QUEUE_ROUNDS):
        item = _claim_first(review, stage, actor, now, levels, skip_locked, first_round)
        if item is not None:
            return item
        # Nothing unlocked was free. Rows other reviewers hold locked for a moment (taking
        # the last records, a refit writing relevance) were skipped: if any is still
        # eligible, try again shortly rather than tell the reviewer that nothing is left.
        if not skip_locked or not any(
            _queue_first(
                review, stage, actor, now, n_votes, skip_locked=False, first_round=first_round
            )
            for n_votes in levels
        ):
            return None
        time.sleep(LOCKED_RETRY_SECONDS)
    return None


def _claim_first(
    review: Review, stage: str, actor: Any, now, levels, skip_locked: bool, first_round: int = 1
):
    """Claim the first free item of the queue for `actor`, or return ``None``.

    Records that already have votes come first (most votes first), so that pairs complete.
    """
    levels = list(levels)
    # A failed attempt means another reviewer took that slot first, so this ends; the cap
    # only guards against a spin.
    for _attempt in range(QUEUE_ATTEMPTS * len(levels)):
        with transaction.atomic():
            # Locked rows are skipped, not waited for: waiting here, while rows that the
            # ORDER BY ... LIMIT locked and then found taken stay locked, would deadlock
            # against other reviewers. A vote count with nothing left for this reviewer
            # is passed over in the same transaction (one round trip, not three: this runs
            # on every "vote and give me the next record" request); a taken item ends the
            # transaction, so the rows it locked go before the queue is asked again.
            item = None
            if connection.vendor == "postgresql" and skip_locked:
                item = _queue_first_of(review, stage, actor, now, levels, first_round=first_round)
                # The counts before the item's had nothing free: passed over from now on.
                levels = levels[levels.index(item.n_votes) :] if item is not None else []
            while levels and item is None:
                item = _queue_first(
                    review,
                    stage,
                    actor,
                    now,
                    levels[0],
                    skip_locked=skip_locked,
                    first_round=first_round,
                )
                if item is None:
                    levels.pop(0)
            if item is None:
                return None
            if connection.vendor == "postgresql":
                if _claim_locked(item, review, stage, actor, now):
                    return item
                continue
            if not _can_take(item, review, actor, now):
                continue
            Claim.objects.filter(reviewer=actor, item__review=review, item__stage=stage).delete()
            Claim.objects.create(
                item=item, reviewer=actor, expires_at=now + timedelta(minutes=CLAIM_MINUTES)
            )
            return item
    return None


def _claim_locked(item: ScreeningItem, review: Review, stage: str, actor: Any, now) -> bool:
    """Under the item's lock (PostgreSQL): re-check the slot and claim it in one statement.

    The same as `_can_take`, deleting the actor's other claims at this stage and creating
    this one, in one round trip instead of three: this runs on every "vote and give me the
    next record" request. The statement takes its own snapshot, so it counts every claim
    committed before the lock was granted (the queue query's snapshot may predate some).
    ``item.n_votes`` is current: it is only written under the lock we hold.
    """
    if not item.active or item.status != ScreeningItem.Status.OPEN:
        return False
    claim_table = connection.ops.quote_name(Claim._meta.db_table)
    item_table = connection.ops.quote_name(ScreeningItem._meta.db_table)
    sql = f"""
        WITH released AS (
            DELETE FROM {claim_table} c USING {item_table} i
            WHERE c.item_id = i.id AND c.reviewer_id = %(actor)s AND c.item_id <> %(item)s
              AND i.review_id = %(review)s AND i.stage = %(stage)s
        )
        INSERT INTO {claim_table} (item_id, reviewer_id, expires_at)
        SELECT %(item)s, %(actor)s, %(expires)s
        WHERE %(n_votes)s + (
            SELECT COUNT(*) FROM {claim_table}
            WHERE item_id = %(item)s AND expires_at > %(now)s AND reviewer_id <> %(actor)s
        ) < %(required)s
        ON CONFLICT (item_id, reviewer_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
        RETURNING id
    """  # noqa: S608 - only table names are formatted in; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "actor": actor.pk,
                "item": item.pk,
                "review": review.pk,
                "stage": stage,
                "expires": now + timedelta(minutes=CLAIM_MINUTES),
                "now": now,
                "n_votes": item.n_votes,
                "required": review.votes_required,
            },
        )
        return cursor.fetchone() is not None


# --- Votes ---------------------------------------------------------------------------------


def _reason_for(review: Review, stage: str, reason_id: Any) -> ExclusionReason | None:
    if reason_id in (None, ""):
        return None
    try:
        return ExclusionReason.objects.get(pk=int(reason_id), review=review, stage=stage)
    except (ValueError, TypeError, ExclusionReason.DoesNotExist) as exc:
        raise DomainError(
            "That exclusion reason does not belong to this review and stage.", field="reason"
        ) from exc


def _locked_item(review: Review, record_id: Any, stage: str) -> ScreeningItem:
    try:
        return lock_for_update(ScreeningItem.objects).get(
            review=review, record_id=int(record_id), stage=stage
        )
    except (ValueError, TypeError, ScreeningItem.DoesNotExist) as exc:
        raise NotFoundInReview("This record is not waiting for screening at this stage.") from exc


def _locked_item_and_vote(
    review: Review, record_id: Any, stage: str, actor: Any
) -> tuple[ScreeningItem, int | None]:
    """`_locked_item` and the id of `actor`'s vote on it (``None``: none yet), in one
    hand-written statement: this runs on every vote."""
    try:
        record_id = int(record_id)
    except (ValueError, TypeError) as exc:
        raise NotFoundInReview("This record is not waiting for screening at this stage.") from exc
    q = connection.ops.quote_name
    select, names = columns(ScreeningItem, "i")
    lock = ""
    if connection.features.has_select_for_update:  # SQLite serialises writers anyway
        no_key = " NO KEY" if connection.features.has_select_for_no_key_update else ""
        lock = f" FOR{no_key} UPDATE OF i"
    sql = f"""
        SELECT {select}, v.id FROM {q(ScreeningItem._meta.db_table)} i
        LEFT JOIN {q(Vote._meta.db_table)} v
          ON v.record_id = i.record_id AND v.stage = i.stage AND v.reviewer_id = %s
        WHERE i.review_id = %s AND i.record_id = %s AND i.stage = %s{lock}
    """  # noqa: S608 - only table and column names are formatted in; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [actor.pk, review.pk, record_id, stage])
        row = cursor.fetchone()
    if row is None:
        raise NotFoundInReview("This record is not waiting for screening at this stage.")
    return from_row(ScreeningItem, names, row), row[-1]


def _claims_delete(item: ScreeningItem, actor: Any, *, live_at=None) -> int:
    """Delete `actor`'s claim on `item` (only a live one at `live_at` when given); return
    how many went. Hand-written: ``QuerySet.delete`` runs the deletion collector."""
    sql = f"DELETE FROM {connection.ops.quote_name(Claim._meta.db_table)} "  # noqa: S608
    sql += "WHERE item_id = %s AND reviewer_id = %s"
    params = [item.pk, actor.pk]
    if live_at is not None:
        sql += " AND expires_at > %s"
        params.append(connection.ops.adapt_datetimefield_value(live_at))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@_unique_conflicts
@retry_transient()
def vote_cast(
    *,
    review: Review,
    record_id: int,
    stage: str,
    actor: Any,
    decision: str,
    reason_id: Any = None,
    note: str = "",
    imported_from: str = "",
) -> Vote:
    """Record `actor`'s decision, or change it while the record is unresolved.

    ``imported_from`` names the tool a decision comes from when a lead imports another
    tool's per-reviewer votes; the vote history keeps it.

    Raises
    ------
    DomainError
        For an unknown decision, a reason of another review or stage, or a full-text
        exclusion without a reason.
    ConflictError
        When the record is resolved, or already has (or has promised) every vote it needs.
    """
    stage = _stage(stage)
    if decision not in Decision.values:
        raise DomainError(f"“{decision}” is not a decision (include, exclude or maybe).")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise DomainError(f"The note is longer than {NOTE_MAX} characters.", field="note")
    reason = _reason_for(review, stage, reason_id) if decision == Decision.EXCLUDE else None
    if stage == Stage.FULL_TEXT and decision == Decision.EXCLUDE and reason is None:
        raise DomainError("Excluding a full text needs an exclusion reason.", field="reason")
    if reason is not None and not reason.active:
        raise DomainError("That exclusion reason has been retired.", field="reason")
    return _vote_write(
        review=review,
        record_id=record_id,
        stage=stage,
        actor=actor,
        decision=decision,
        reason=reason,
        note=note,
        imported_from=imported_from,
        now=timezone.now(),
    )


def _vote_write(
    *,
    review: Review,
    record_id: Any,
    stage: str,
    actor: Any,
    decision: str,
    reason: ExclusionReason | None,
    note: str,
    imported_from: str,
    now,
) -> Vote:
    """The transaction of `vote_cast`, its input checked."""
    # Hand-written statements (reviews.db): this transaction runs on every vote, and the
    # ORM's query building cost several times the statements themselves.
    with transaction.atomic():
        item, vote_id = _locked_item_and_vote(review, record_id, stage, actor)
        if not item.active:
            raise ConflictError("This record is linked as a duplicate and is not screened.")
        # The voter's vote, read only when there is one (the lock's statement says so).
        vote = None
        if vote_id is not None:
            vote = Vote.objects.select_related("reason").get(pk=vote_id)
        if vote is not None and (vote.decision, vote.reason, vote.note) == (decision, reason, note):
            # The same vote again (a client retrying a request whose answer it lost, perhaps
            # after that vote resolved the record): what was asked is stored, so no conflict.
            return vote
        if item.status == ScreeningItem.Status.RESOLVED:
            raise ConflictError("This record is already resolved; decisions can no longer change.")
        if item.status == ScreeningItem.Status.NOT_RETRIEVED:
            raise ConflictError("This full text is marked as not retrievable.")
        change = VoteChange(
            review=review,
            record_id=item.record_id,
            stage=stage,
            reviewer=actor,
            old_decision=vote.decision if vote else "",
            old_reason=vote.reason if vote else None,
            old_note=vote.note if vote else "",
            new_decision=decision,
            new_reason=reason,
            new_note=note,
            imported_from=imported_from[:40],
        )
        if vote is None:
            new = Vote(
                review=review,
                record_id=item.record_id,
                stage=stage,
                reviewer=actor,
                decision=decision,
                reason=reason,
                note=note,
            )
            # A live claim of the voter's own is a slot kept for them: only then can the
            # count of the others' claims be skipped (the claim goes with the vote anyway).
            if connection.vendor == "postgresql":
                if _vote_insert_held(item, review, new, change, now):
                    return new  # claim, vote, history and count written in one statement
                held = 0
            else:
                held = _claims_delete(item, actor, live_at=now)
            if not held and not _can_take(item, review, actor, now):
                raise ConflictError(
                    "This record already has the votes it needs; take the next one."
                )
            vote = insert(new)
            old = ("", None, "")
        else:
            held = 0
            old = (vote.decision, vote.reason, vote.note)
            vote.decision, vote.reason, vote.note = decision, reason, note
            vote.save(update_fields=["decision", "reason", "note", "updated_at"])
        insert(change)
        if not held:  # a claim of the voter's own on this item, if any, is spent
            _claims_delete(item, actor)
        _evaluate(item, review, added=old[0] == "")
    return vote


def _vote_insert_held(
    item: ScreeningItem, review: Review, vote: Vote, change: VoteChange, now
) -> bool:
    """Under the item's lock (PostgreSQL), when the voter holds a live claim on the item (the
    slot the queue kept for them): spend the claim, insert the vote and its history row and,
    while the item stays short of the votes it needs, count the vote on it, in one
    statement instead of four (this runs on every vote). Returns False, having written
    nothing, when there is no live claim: the caller then checks for a free slot.

    What `_vote_write` and `_evaluate` do step by step, with the same values; a vote that
    completes the item is evaluated by the caller as before (`_evaluate` reads the votes).
    """
    q = connection.ops.quote_name
    claim, item_table = q(Claim._meta.db_table), q(ScreeningItem._meta.db_table)
    vote_table, vote_cols, vote_marks, vote_values = insert_parts(vote)
    change_table, change_cols, change_marks, change_values = insert_parts(change)
    # `_evaluate(added=True)`'s shortcut: an open item short of its votes after this one
    # only counts it. Otherwise the caller evaluates the item with the vote in.
    counts_only = (
        item.status == ScreeningItem.Status.OPEN and item.n_votes + 1 < review.votes_required
    )
    count, counted = "", []
    if counts_only:
        updated_at = ScreeningItem._meta.get_field("updated_at")
        stamp = updated_at.pre_save(item, False)  # auto_now, as `update_fields` sets it
        counted = [updated_at.get_db_prep_save(stamp, connection), item.n_votes + 1, item.pk]
        count = f"""counted AS (
            UPDATE {item_table} SET updated_at = %s, n_votes = %s
            WHERE id = %s AND EXISTS (SELECT 1 FROM held)
        ),"""
    sql = f"""
        WITH held AS (
            DELETE FROM {claim} WHERE item_id = %s AND reviewer_id = %s AND expires_at > %s
            RETURNING 1
        ), history AS (
            INSERT INTO {change_table} ({change_cols})
            SELECT {change_marks} WHERE EXISTS (SELECT 1 FROM held)
        ), {count} added AS (
            INSERT INTO {vote_table} ({vote_cols})
            SELECT {vote_marks} WHERE EXISTS (SELECT 1 FROM held)
            RETURNING id
        )
        SELECT id FROM added
    """  # noqa: S608 - only table and column names are formatted in; values are parameters
    live_at = connection.ops.adapt_datetimefield_value(now)
    params = [item.pk, vote.reviewer_id, live_at, *change_values, *counted, *vote_values]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    saved(vote, row[0])
    if counts_only:
        item.n_votes += 1
    else:
        _evaluate(item, review, added=True)
    return True


@_unique_conflicts
@retry_transient()
def vote_undo(*, review: Review, stage: str, actor: Any) -> int:
    """Withdraw `actor`'s most recent decision at `stage`; return its record id.

    The withdrawal is kept in the vote history. A decision on a record that has been
    resolved since cannot be withdrawn.
    """
    stage = _stage(stage)
    last = (
        Vote.objects.filter(review=review, stage=stage, reviewer=actor)
        .order_by("-updated_at", "-id")
        .first()
    )
    if last is None:
        raise ConflictError("There is no decision of yours to undo at this stage.")
    with transaction.atomic():
        item = _locked_item(review, last.record_id, stage)
        vote = Vote.objects.filter(pk=last.pk).first()
        if vote is None:
            raise ConflictError("That decision was already withdrawn.")
        if item.status == ScreeningItem.Status.RESOLVED:
            raise ConflictError("Your last decision is on a resolved record and cannot be undone.")
        VoteChange.objects.create(
            review=review,
            record_id=item.record_id,
            stage=stage,
            reviewer=actor,
            old_decision=vote.decision,
            old_reason=vote.reason,
            old_note=vote.note,
            new_decision="",
        )
        vote.delete()
        # Keep the slot for the reviewer who just gave it back: they re-decide now.
        Claim.objects.update_or_create(
            item=item,
            reviewer=actor,
            defaults={"expires_at": timezone.now() + timedelta(minutes=CLAIM_MINUTES)},
        )
        _evaluate(item, review)
    return item.record_id


def _evaluate(item: ScreeningItem, review: Review, *, added: bool = False) -> None:
    """Under the item's lock: recount votes and resolve, flag a conflict, or reopen.

    ``added``: the caller has just added one vote to the item. Its counter is current (it
    is only written under this lock), so while that vote leaves an open item short of
    the votes it needs there is nothing to decide, and the votes need not be read.
    """
    if item.status in (ScreeningItem.Status.RESOLVED, ScreeningItem.Status.NOT_RETRIEVED):
        return
    if (
        added
        and item.status == ScreeningItem.Status.OPEN
        and item.n_votes + 1 < review.votes_required
    ):
        item.n_votes += 1
        update_fields(item, "n_votes", "updated_at")
        return
    votes = list(Vote.objects.filter(record_id=item.record_id, stage=item.stage))
    item.n_votes = len(votes)
    if len(votes) < review.votes_required:
        item.status = ScreeningItem.Status.OPEN
        item.save(update_fields=["n_votes", "status", "updated_at"])
        return
    decisions = {v.decision for v in votes}
    reasons = {v.reason_id for v in votes}
    agreed = len(decisions) == 1 and Decision.MAYBE not in decisions
    if agreed and item.stage == Stage.FULL_TEXT and Decision.EXCLUDE in decisions:
        # The reason is what PRISMA counts: different reasons need an adjudicator.
        agreed = len(reasons) == 1
    if not agreed:
        item.status = ScreeningItem.Status.CONFLICT
        item.save(update_fields=["n_votes", "status", "updated_at"])
        return
    decision = decisions.pop()
    reason_id = reasons.pop() if len(reasons) == 1 and decision == Decision.EXCLUDE else None
    _resolve(item, review, decision=decision, reason_id=reason_id, actor=None, note="")


def _resolve(
    item: ScreeningItem,
    review: Review,
    *,
    decision: str,
    reason_id: int | None,
    actor: Any,
    note: str,
    imported_from: str = "",
) -> Resolution:
    # A second resolution of the record is refused by its unique constraint, answered by
    # `_unique_conflicts` around the whole service (the item lock already excludes it).
    resolution = Resolution.objects.create(
        review=review,
        record_id=item.record_id,
        stage=item.stage,
        decision=decision,
        reason_id=reason_id,
        adjudicated=actor is not None and not imported_from,
        actor=actor,
        note=note,
        imported_from=imported_from[:40],
    )
    item.status = ScreeningItem.Status.RESOLVED
    item.save(update_fields=["n_votes", "status", "updated_at"])
    Claim.objects.filter(item=item).delete()
    if item.stage == Stage.TITLE_ABSTRACT and decision == FinalDecision.INCLUDE:
        ScreeningItem.objects.get_or_create(
            record_id=item.record_id,
            stage=Stage.FULL_TEXT,
            defaults={
                "review": review,
                "priority": item.priority,
                "relevance": item.relevance,
                "round": item.round,
            },
        )
    if item.stage == Stage.TITLE_ABSTRACT:
        batched = _RANKING_NOTES.get()
        if batched is not None:
            batched.add(review.pk)
        else:
            # robust: the vote is committed; a failed refit is logged and must not fail it.
            transaction.on_commit(lambda: ranking.ranking_note_resolution(review.pk), robust=True)
    return resolution


# Review ids whose ranking hears of new resolutions once, at the end of a batch (an
# imported set of decisions), instead of once per resolution.
_RANKING_NOTES: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar(
    "screening_ranking_notes", default=None
)


@contextmanager
def ranking_notes_batched() -> Iterator[None]:
    """Within this block, title/abstract resolutions tell the ranking once, on commit,
    per review (thousands of imported decisions must not queue thousands of refits)."""
    token = _RANKING_NOTES.set(set())
    try:
        yield
    finally:
        review_ids = _RANKING_NOTES.get() or set()
        _RANKING_NOTES.reset(token)
        for review_id in review_ids:
            transaction.on_commit(
                lambda rid=review_id: ranking.ranking_note_resolution(rid), robust=True
            )


@_unique_conflicts
@retry_transient()
def conflict_resolve(
    *,
    review: Review,
    record_id: int,
    stage: str,
    actor: Any,
    decision: str,
    reason_id: Any = None,
    note: str = "",
) -> Resolution:
    """An adjudicator's final decision on a record in conflict (marked as adjudicated)."""
    stage = _stage(stage)
    if decision not in FinalDecision.values:
        raise DomainError("The final decision is include or exclude.", field="decision")
    reason = _reason_for(review, stage, reason_id) if decision == FinalDecision.EXCLUDE else None
    if stage == Stage.FULL_TEXT and decision == FinalDecision.EXCLUDE and reason is None:
        raise DomainError("Excluding a full text needs an exclusion reason.", field="reason")
    note = (note or "").strip()[:NOTE_MAX]
    with transaction.atomic():
        item = _locked_item(review, record_id, stage)
        if item.status != ScreeningItem.Status.CONFLICT:
            raise ConflictError("This record is not in conflict (it may have been resolved).")
        return _resolve(
            item,
            review,
            decision=decision,
            reason_id=reason.pk if reason else None,
            actor=actor,
            note=note,
        )


@_unique_conflicts
@retry_transient()
def resolution_import(
    *,
    review: Review,
    record_id: int,
    stage: str,
    actor: Any,
    decision: str,
    imported_from: str,
    reason_id: Any = None,
    note: str = "",
) -> Resolution:
    """A final decision made in another tool (ASReview, Covidence...), imported by `actor`.

    It counts like any resolution (PRISMA, the full-text stage, the ranking) and is kept
    as imported, naming the tool and the lead who imported it; ``note`` keeps what the
    tool said beside the decision (its note, when it was made). Refused on a record that
    is resolved already or that reviewers have started to screen here.
    """
    stage = _stage(stage)
    if decision not in FinalDecision.values:
        raise DomainError("An imported final decision is include or exclude.", field="decision")
    reason = _reason_for(review, stage, reason_id) if decision == FinalDecision.EXCLUDE else None
    if stage == Stage.FULL_TEXT and decision == FinalDecision.EXCLUDE and reason is None:
        raise DomainError("Excluding a full text needs an exclusion reason.", field="reason")
    if not imported_from.strip():
        raise DomainError("Name the tool the decision comes from.")
    with transaction.atomic():
        item = _locked_item(review, record_id, stage)
        if not item.active:
            raise ConflictError("This record is linked as a duplicate and is not screened.")
        if item.status == ScreeningItem.Status.RESOLVED:
            raise ConflictError("This record is already resolved.")
        if item.n_votes or item.status != ScreeningItem.Status.OPEN:
            raise ConflictError("Reviewers have started to screen this record here.")
        return _resolve(
            item,
            review,
            decision=decision,
            reason_id=reason.pk if reason else None,
            actor=actor,
            note=(
                f"Imported from {imported_from}" + (f" · {note.strip()}" if note.strip() else "")
            )[:NOTE_MAX],
            imported_from=imported_from,
        )


# --- Full texts ----------------------------------------------------------------------------


def _check_pdf(upload: Any) -> str:
    """Size, type and magic bytes of an uploaded PDF; return its SHA-256."""
    limit = settings.REVIEWFLOW_MAX_PDF_BYTES
    if upload.size == 0:
        raise DomainError("The file is empty.", field="file")
    if upload.size > limit:
        raise DomainError(
            f"The file is {upload.size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB.",
            field="file",
        )
    name = (getattr(upload, "name", "") or "").lower()
    content_type = (getattr(upload, "content_type", "") or "").lower()
    if not name.endswith(".pdf") and content_type != "application/pdf":
        raise DomainError("Only PDF files can be uploaded as full texts.", field="file")
    upload.seek(0)
    head = upload.read(len(PDF_MAGIC))
    # Readers tolerate junk before the header, but a file that starts with anything else
    # may be another type in disguise (an HTML page with "%PDF-" further in): refused.
    if head != PDF_MAGIC:
        raise DomainError("This file is not a PDF (it does not start with %PDF-).", field="file")
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@_unique_conflicts
def fulltext_upload(*, review: Review, record_id: int, actor: Any, upload: Any) -> FullText:
    """Store the PDF of a record at the full-text stage (replacing an earlier one)."""
    sha256 = _check_pdf(upload)
    with transaction.atomic():
        item = _locked_item(review, record_id, Stage.FULL_TEXT)
        if item.status == ScreeningItem.Status.RESOLVED:
            raise ConflictError("This full text has been resolved; its PDF cannot change.")
        fulltext, _ = FullText.objects.select_for_update().get_or_create(
            record_id=item.record_id, defaults={"review": review}
        )
        replaced = bool(fulltext.file)
        fulltext.sha256 = sha256
        fulltext.original_name = (upload.name or "fulltext.pdf")[-255:]
        fulltext.size = upload.size
        fulltext.not_retrievable = False
        fulltext.uploaded_by = actor
        try:
            fulltext.file.save("fulltext.pdf", upload, save=False)
        except OSError as exc:  # disk full, upload directory unwritable: no file is left
            log.error("Full text of record %s could not be stored: %s", record_id, exc)
            raise DomainError(
                "The server could not store the PDF (its disk is full or not writable). "
                "Nothing was saved; try again later or tell the administrator.",
                field="file",
            ) from exc
        stored = fulltext.file.name
        try:
            fulltext.save()
            if item.status == ScreeningItem.Status.NOT_RETRIEVED:
                item.status = ScreeningItem.Status.OPEN
                _evaluate(item, review)
            Action = FullTextChange.Action
            FullTextChange.objects.create(
                review=review,
                record_id=item.record_id,
                action=Action.REPLACED if replaced else Action.UPLOADED,
                original_name=fulltext.original_name,
                size=fulltext.size,
                sha256=sha256,
                actor=actor,
            )
        except Exception:
            fulltext.file.storage.delete(stored)  # nothing half-written
            raise
    return fulltext


@_unique_conflicts
def fulltext_set_not_retrievable(
    *, review: Review, record_id: int, actor: Any, not_retrievable: bool
) -> FullText:
    """Mark a full text as not retrievable (PRISMA "reports not retrieved") or undo that."""
    with transaction.atomic():
        item = _locked_item(review, record_id, Stage.FULL_TEXT)
        if item.status == ScreeningItem.Status.RESOLVED:
            raise ConflictError("This full text has been resolved already.")
        fulltext, _ = FullText.objects.select_for_update().get_or_create(
            record_id=item.record_id, defaults={"review": review}
        )
        if not_retrievable and fulltext.file:
            raise ConflictError("A PDF has been uploaded for this record; it was retrieved.")
        if fulltext.not_retrievable != not_retrievable:
            Action = FullTextChange.Action
            FullTextChange.objects.create(
                review=review,
                record_id=item.record_id,
                action=Action.NOT_RETRIEVABLE if not_retrievable else Action.RETRIEVABLE,
                actor=actor,
            )
        fulltext.not_retrievable = not_retrievable
        fulltext.uploaded_by = actor
        fulltext.save()
        if not_retrievable:
            item.status = ScreeningItem.Status.NOT_RETRIEVED
            item.save(update_fields=["status", "updated_at"])
            Claim.objects.filter(item=item).delete()
        elif item.status == ScreeningItem.Status.NOT_RETRIEVED:
            item.status = ScreeningItem.Status.OPEN
            _evaluate(item, review)
    return fulltext


# --- Record metadata corrections -----------------------------------------------------------

CORRECTABLE = ("title", "abstract", "authors", "year", "journal", "doi", "keywords")
_RAW_TEXTS = ("title", "abstract")


def record_correct(*, review: Review, record_id: int, actor: Any, **values: Any) -> list[str]:
    """Apply a reviewer's corrections; every changed field keeps its original in history.

    Returns the names of the fields that changed.
    """
    unknown = set(values) - set(CORRECTABLE)
    if unknown:
        raise DomainError(f"These fields cannot be corrected: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        try:
            record = Record.objects.select_for_update().get(
                pk=int(record_id), review=review, duplicate_of__isnull=True
            )
        except (ValueError, TypeError, Record.DoesNotExist) as exc:
            raise NotFoundInReview("No such record in this review.") from exc
        changed, also = [], []
        if any(values.get(n, getattr(record, n)) != getattr(record, n) for n in _RAW_TEXTS):
            # The raw fields keep the imported text, not the corrected one: their copies
            # of the title/abstract are stored as references to these columns.
            raw = rawfields.materialise(record.source_fields, record.title, record.abstract)
            if raw is not record.source_fields:
                record.source_fields = raw
                also.append("source_fields")
        for name, new in values.items():
            old = getattr(record, name)
            if old == new:
                continue
            RecordCorrection.objects.create(
                review=review, record=record, field=name, old_value=old, new_value=new, actor=actor
            )
            setattr(record, name, new)
            changed.append(name)
        if changed:
            # De-duplication keys follow the corrected metadata.
            record.title_norm = dedup.normalise_title(record.title)
            first = record.authors[0] if record.authors else ""
            record.first_author = dedup.first_author_key(first)[:200]
            record.save(update_fields=[*changed, *also, "title_norm", "first_author"])
    return changed


# --- Settings, preferences, PRISMA extras --------------------------------------------------


def blinding_set(*, review: Review, actor: Any, blinded: bool) -> Review:
    """Switch blinding on or off for a review; the switch is logged with its actor."""
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review.pk)
        if review.blinded == blinded:
            return review
        review._blinding_actor = actor  # read by the pre_save audit hook in signals.py
        review.blinded = blinded
        review.save(update_fields=["blinded"])
    return review


def blinding_log(review: Review, *, blinded: bool, actor: Any) -> BlindingChange:
    return BlindingChange.objects.create(review=review, blinded=blinded, actor=actor)


def preference_set_keymap(*, user: Any, keymap: dict) -> ScreeningPreference:
    clean = keymap_validate(keymap)
    pref, _ = ScreeningPreference.objects.update_or_create(user=user, defaults={"keymap": clean})
    return pref


def _count_list(raw: Any, name: str) -> list[dict]:
    items = []
    for entry in raw or []:
        label = str(entry.get("label", "")).strip()
        try:
            n = int(entry.get("n"))
        except (TypeError, ValueError) as exc:
            raise DomainError(f"{name}: “{label}” needs a whole number.", field=name) from exc
        if not label:
            raise DomainError(f"{name}: every count needs a label.", field=name)
        if n < 0:
            raise DomainError(f"{name}: counts cannot be negative.", field=name)
        items.append({"label": label[:200], "n": n})
    return items


def prisma_extra_set(*, review: Review, actor: Any, **values: Any) -> PrismaExtra:
    """Store the lead-entered PRISMA counts (automation, other methods)."""
    values["other_sources"] = _count_list(values.get("other_sources"), "other_sources")
    values["other_reports_excluded"] = _count_list(
        values.get("other_reports_excluded"), "other_reports_excluded"
    )
    for name in ("automation_excluded", "other_removed"):
        if values.get(name) is None or int(values[name]) < 0:
            raise DomainError("Counts cannot be negative.", field=name)
    has_detail = any(
        values.get(k) not in (None, [])
        for k in (
            "other_reports_sought",
            "other_reports_not_retrieved",
            "other_reports_assessed",
            "other_reports_excluded",
        )
    )
    if has_detail and not values["other_sources"]:
        raise DomainError(
            "Add the other sources (e.g. citation searching) before their reports.",
            field="other_sources",
        )
    if (
        values.get("other_reports_not_retrieved") is not None
        and values.get("other_reports_sought") is None
    ):
        raise DomainError(
            "Reports not retrieved needs reports sought.", field="other_reports_sought"
        )
    if values["other_reports_excluded"] and values.get("other_reports_assessed") is None:
        raise DomainError(
            "Reports excluded needs reports assessed.", field="other_reports_assessed"
        )
    extra, _ = PrismaExtra.objects.update_or_create(
        review=review, defaults={**values, "updated_by": actor}
    )
    return extra


# --- Stopping rule (title/abstract) ------------------------------------------------------------


def stopping_sampling_on(review: Review) -> bool:
    """Whether the title/abstract queue is in random order for the stopping test."""
    return StoppingRule.objects.filter(review=review, sampling_since__isnull=False).exists()


def _stopping_check(target_recall: float, confidence: float) -> None:
    for name, value in (("target_recall", target_recall), ("confidence", confidence)):
        if not 0.5 <= value < 1:
            raise DomainError(
                f"{name.replace('_', ' ').capitalize()} must be 50–99.9 %.", field=name
            )


def stopping_rule_set(
    *, review: Review, actor: Any, target_recall: float, confidence: float
) -> StoppingRule:
    """Set the target recall and confidence of the review's stopping test (logged)."""
    _stopping_check(target_recall, confidence)
    with transaction.atomic():
        rule, _ = StoppingRule.objects.select_for_update().get_or_create(review=review)
        if (rule.target_recall, rule.confidence) == (target_recall, confidence):
            return rule
        rule.target_recall, rule.confidence, rule.updated_by = target_recall, confidence, actor
        rule.save()
        StoppingRuleChange.objects.create(
            review=review,
            target_recall=target_recall,
            confidence=confidence,
            sampling=rule.sampling_since is not None,
            actor=actor,
        )
    return rule


def stopping_sampling_set(*, review: Review, actor: Any, sampling: bool) -> StoppingRule:
    """Switch the title/abstract queue to random sampling of the unscreened records, or back.

    Records first voted on after the switch form the random sample of the stopping test;
    switching back to ranked order ends the sample (a later switch starts a new one).
    """
    with transaction.atomic():
        rule, _ = StoppingRule.objects.select_for_update().get_or_create(review=review)
        if (rule.sampling_since is not None) == sampling:
            return rule
        rule.sampling_since = timezone.now() if sampling else None
        rule.updated_by = actor
        review.__dict__.pop(f"_queue_ranked_{Stage.TITLE_ABSTRACT}", None)
        rule.save()
        StoppingRuleChange.objects.create(
            review=review,
            target_recall=rule.target_recall,
            confidence=rule.confidence,
            sampling=sampling,
            actor=actor,
        )
    return rule
