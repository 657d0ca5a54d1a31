"""Reads of the screening app. Everything a reviewer sees passes the blinding rule here.

Blinding rule: before a record is resolved at a stage, a reviewer sees only their own
vote there; other votes (and whether they exist) are shown once the record is resolved,
when the lead has switched blinding off, or to adjudicators on the conflict pages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from reviews.db import columns, from_row
from reviews.models import ExclusionReason, Membership, Record, RecordTally, Review, Stage
from reviews.selectors import record_tally

from .agreement import Kappa, cohen_kappa
from .models import (
    FinalDecision,
    FullText,
    RecordCorrection,
    Resolution,
    ScreeningItem,
    Vote,
    VoteChange,
)

STAGES = (Stage.TITLE_ABSTRACT, Stage.FULL_TEXT)


def records_signature(review: Review) -> tuple:
    """A cheap fingerprint of the review's records: changes when records come, go or merge
    (the running totals' change counter: a primary-key lookup, not a scan of the records)."""
    return (*record_tally(review), review.votes_required)


# How long a result computed for one screening state is kept. A vote or resolution makes
# a new state (a new key) at once; the time limit only bounds what a key cannot see: two
# transactions committing out of id order (the later id first), or a username changed.
DERIVED_CACHE_SECONDS = 60


def screening_version(review: Review) -> tuple[int, int, int]:
    """A fingerprint of the review's screening state, in one statement of index probes:
    the records' change counter (imports, merges: reviews.tally), the newest vote change
    (every vote, changed vote and withdrawal writes one) and the newest resolution
    (resolutions are only ever added, or deleted with their record).

    What the screening overview computes from the votes and resolutions (agreement, the
    curve's decisions, the stopping test's counts) is cached under it, so reloading the
    overview of a review nobody is screening costs no scan of its decisions. Read it
    once per page and pass it on: it is not kept on the review object, since a write
    later in the same request makes a new state."""
    q = connection.ops.quote_name
    sql = f"""
        SELECT
          (SELECT t.changes FROM {q(RecordTally._meta.db_table)} t WHERE t.review_id = %s),
          (SELECT MAX(c.id) FROM {q(VoteChange._meta.db_table)} c WHERE c.review_id = %s),
          (SELECT MAX(r.id) FROM {q(Resolution._meta.db_table)} r WHERE r.review_id = %s)
    """  # noqa: S608 - only table names are formatted in; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [review.pk] * 3)
        changes, vote_change, resolution = cursor.fetchone()
    return (changes or 0, vote_change or 0, resolution or 0)


def derived_cached(review: Review, version: tuple | None, what: str, compute: Any) -> Any:
    """``compute()``, kept for `version` (`screening_version`) of the review's screening
    state; computed afresh when ``version`` is None."""
    if version is None:
        return compute()
    stamp = review.created_at.timestamp() if review.created_at else 0
    key = f"screening:derived:{review.pk}:{stamp}:{':'.join(map(str, version))}:{what}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, DERIVED_CACHE_SECONDS)
    return value


def decided_record_ids(review: Review, record_ids: set[int]) -> set[int]:
    """The records among `record_ids` with a final title/abstract decision (for
    ``reviews.overlap``: an update import's duplicates of them are never screened again)."""
    return set(
        Resolution.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, record_id__in=record_ids
        ).values_list("record_id", flat=True)
    )


def stage_label(stage: str) -> str:
    return Stage(stage).label


# --- Progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What a reviewer may know about progress: their own numbers and resolved totals."""

    stage: str
    total: int  # active items at this stage
    mine_done: int
    mine_remaining: int  # items that still need a vote and that I have not voted on
    resolved: int
    included: int
    excluded: int
    conflicts: int | None  # None for those who may not see conflicts (blinded reviewers)

    @property
    def mine_total(self) -> int:
        return self.mine_done + self.mine_remaining

    @property
    def mine_percent(self) -> int:
        return round(100 * self.mine_done / self.mine_total) if self.mine_total else 0

    @property
    def resolved_percent(self) -> int:
        return round(100 * self.resolved / self.total) if self.total else 0


def since_round(review: Review, scope: str | None) -> int:
    """The first round a page shows: the review's current one, or 1 for ``scope="all"``."""
    return 1 if scope == "all" else review.round


def _team_snapshot(review: Review, stage: str, first_round: int = 1) -> dict[str, Any]:
    """The stage's numbers behind everyone's progress bars, in one statement (one snapshot
    of the database, one round trip), each part answered from an index: items grouped by
    (status, n_votes) from the queue index, resolutions by decision from their count index,
    and per reviewer the votes on items still needing votes (the few items half-way
    through, from the queue index, and their votes from the one-vote-per-reviewer index).
    """
    item = connection.ops.quote_name(ScreeningItem._meta.db_table)
    resolution = connection.ops.quote_name(Resolution._meta.db_table)
    vote = connection.ops.quote_name(Vote._meta.db_table)
    needing = "i.status = %s AND i.n_votes > 0 AND i.n_votes < %s"
    # From an update round on, only the items of the rounds shown (resolutions through
    # their item); before that every item is in round 1 and the plain count is kept.
    resolutions = f"""
        SELECT 'resolution', r.decision, 0, COUNT(*) FROM {resolution} r
        WHERE r.review_id = %s AND r.stage = %s
        GROUP BY r.decision"""
    if first_round > 1:
        resolutions = f"""
        SELECT 'resolution', r.decision, 0, COUNT(*) FROM {resolution} r
        JOIN {item} ri ON ri.record_id = r.record_id AND ri.stage = r.stage
        WHERE r.review_id = %s AND r.stage = %s AND ri.round >= {int(first_round)}
        GROUP BY r.decision"""
    sql = f"""
        SELECT 'item', i.status, i.n_votes, COUNT(*) FROM {item} i
        WHERE i.review_id = %s AND i.stage = %s AND i.active AND i.round >= %s
        GROUP BY i.status, i.n_votes
        UNION ALL
        {resolutions}
        UNION ALL
        SELECT 'voted', '', v.reviewer_id, COUNT(*) FROM {item} i
        JOIN {vote} v ON v.record_id = i.record_id AND v.stage = i.stage
        WHERE i.review_id = %s AND i.stage = %s AND i.active AND i.round >= %s AND {needing}
        GROUP BY v.reviewer_id
    """  # noqa: S608 - only table names, fixed clauses and an int are formatted in
    params = [review.pk, stage, first_round, review.pk, stage, review.pk, stage, first_round]
    params += [ScreeningItem.Status.OPEN, review.votes_required]
    counts: dict[str, Any] = {
        "total": 0,
        "needing": 0,
        "resolved": 0,
        "conflicts": 0,
        "active": 0,  # every active item, not-retrievable ones too
        "pending": 0,  # open (any number of votes) or in conflict
    }
    decided: dict[str, int] = {}
    in_needing: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for kind, label, number, n in rows:
        if kind == "resolution":
            decided[label] = n
            continue
        if kind == "voted":
            in_needing[number] = n
            continue
        counts["active"] += n
        if label in (ScreeningItem.Status.OPEN, ScreeningItem.Status.CONFLICT):
            counts["pending"] += n
        if label == ScreeningItem.Status.NOT_RETRIEVED:
            continue
        counts["total"] += n
        if label == ScreeningItem.Status.OPEN and number < review.votes_required:
            counts["needing"] += n
        elif label == ScreeningItem.Status.RESOLVED:
            counts["resolved"] += n
        elif label == ScreeningItem.Status.CONFLICT:
            counts["conflicts"] += n
    counts["included"] = decided.get(FinalDecision.INCLUDE, 0)
    counts["excluded"] = decided.get(FinalDecision.EXCLUDE, 0)
    # Per reviewer: items still needing votes that they have voted on (not theirs to do).
    counts["in_needing"] = in_needing
    return counts


PROGRESS_CACHE_SECONDS = 2


def team_snapshot(review: Review, stage: str, first_round: int = 1) -> dict[str, Any]:
    """The stage's item counts (``_team_snapshot``), cached for a moment for the whole team.

    The pages that count a stage's items (progress bars, the overview's curve and
    stopping test, PRISMA's "still in screening") read them from here: one GROUP BY of
    a 200,000-item stage costs 50-150 ms, and a page asked for up to four such counts.
    A page shown twice within ``PROGRESS_CACHE_SECONDS`` may show counts that old.
    """
    stamp = review.created_at.timestamp() if review.created_at else 0
    key = f"screening:progress:{review.pk}:{stamp}:{stage}:{review.votes_required}:{first_round}"
    snapshot = cache.get(key)
    if snapshot is None:
        snapshot = _team_snapshot(review, stage, first_round)
        cache.set(key, snapshot, PROGRESS_CACHE_SECONDS)
    return snapshot


def progress(
    review: Review,
    stage: str,
    user: Any,
    membership: Membership | None,
    *,
    first_round: int | None = None,
    mine_done: int | None = None,
) -> Progress:
    """Progress at a stage as `user` may see it, over the rounds from `first_round` on
    (default: the review's current round; 1: all rounds).

    It runs on every vote, and the team totals scan the whole stage, so everything but
    the user's own done-count is cached for a moment, once for the whole team (20
    reviewers each voting every few seconds would otherwise each read them again on
    nearly every vote). The cached numbers are taken together, at one time (one
    statement): mixing a stale total with a fresh count of one's own votes on records
    still needing votes would make the bar move when another reviewer votes, a hint
    blinding forbids.
    """
    first_round = review.round if first_round is None else first_round
    snapshot = team_snapshot(review, stage, first_round)
    if mine_done is None:  # `claimed_record` counts it with the record
        mine = Vote.objects.filter(review=review, stage=stage, reviewer=user)
        if first_round > 1:  # the same one query, joined to the votes' items
            mine = mine.filter(
                record__screening_items__stage=stage,
                record__screening_items__round__gte=first_round,
            )
        mine_done = mine.count()
    sees_conflicts = membership is not None and (membership.can_adjudicate or not review.blinded)
    return Progress(
        stage=stage,
        total=snapshot["total"],
        mine_done=mine_done,
        mine_remaining=max(snapshot["needing"] - snapshot["in_needing"].get(user.pk, 0), 0),
        resolved=snapshot["resolved"],
        included=snapshot["included"],
        excluded=snapshot["excluded"],
        conflicts=snapshot["conflicts"] if sees_conflicts else None,
    )


def stage_counts(review: Review, *, first_round: int = 1) -> dict[str, dict[str, int]]:
    """Per stage: total, resolved, included, excluded, conflicts (leads' and dashboards' view)."""
    rows = (
        ScreeningItem.objects.filter(review=review, active=True, round__gte=first_round)
        .values("stage", "status")
        .annotate(n=Count("id"))
    )
    out = {s: {"total": 0, "resolved": 0, "conflicts": 0, "not_retrieved": 0} for s in STAGES}
    for row in rows:
        counts = out[row["stage"]]
        counts["total"] += row["n"]
        if row["status"] == ScreeningItem.Status.RESOLVED:
            counts["resolved"] += row["n"]
        elif row["status"] == ScreeningItem.Status.CONFLICT:
            counts["conflicts"] += row["n"]
        elif row["status"] == ScreeningItem.Status.NOT_RETRIEVED:
            counts["not_retrieved"] += row["n"]
    return out


def stage_counts_by_round(review: Review) -> dict[int, dict[str, dict[str, int]]]:
    """Per round (the round a record was imported in) and stage: total, resolved,
    included, excluded, conflicts and not retrieved. Two grouped queries (items by status,
    resolutions by decision through their item's round), whatever the number of rounds."""
    keys = ("total", "resolved", "included", "excluded", "conflicts", "not_retrieved")

    def blank() -> dict[str, dict[str, int]]:
        return {s: dict.fromkeys(keys, 0) for s in STAGES}

    out = {n: blank() for n in range(1, review.round + 1)}
    items = (
        ScreeningItem.objects.filter(review=review, active=True)
        .values("round", "stage", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    status_key = {
        ScreeningItem.Status.RESOLVED: "resolved",
        ScreeningItem.Status.CONFLICT: "conflicts",
        ScreeningItem.Status.NOT_RETRIEVED: "not_retrieved",
    }
    for row in items:
        counts = out.setdefault(row["round"], blank())[row["stage"]]
        counts["total"] += row["n"]
        if row["status"] in status_key:
            counts[status_key[row["status"]]] += row["n"]
    item_round = ScreeningItem.objects.filter(
        record=OuterRef("record"), stage=OuterRef("stage")
    ).values("round")[:1]
    decided = (
        Resolution.objects.filter(review=review)
        .annotate(item_round=Subquery(item_round))
        .values("item_round", "stage", "decision")
        .annotate(n=Count("id"))
        .order_by()
    )
    decision_key = {FinalDecision.INCLUDE: "included", FinalDecision.EXCLUDE: "excluded"}
    for row in decided:
        if row["item_round"] is not None and row["decision"] in decision_key:
            counts = out.setdefault(row["item_round"], blank())[row["stage"]]
            counts[decision_key[row["decision"]]] += row["n"]
    return out


# --- One record as a reviewer sees it ------------------------------------------------------


@dataclass
class RecordView:
    record: Record
    stage: str
    item: ScreeningItem | None
    my_vote: Vote | None
    other_votes: list[Vote]  # empty unless the viewer may see them
    resolution: Resolution | None
    fulltext: FullText | None
    others_visible: bool
    ta_resolution: Resolution | None = None

    @property
    def resolved(self) -> bool:
        return self.resolution is not None

    @property
    def status_label(self) -> str:
        """A status that never tells a blinded reviewer whether the others have voted."""
        if self.item is None:
            return "Not at this stage"
        if not self.item.active:
            return "Linked as a duplicate"
        if self.resolution is not None:
            return f"Resolved: {self.resolution.get_decision_display().lower()}"
        if self.item.status == ScreeningItem.Status.NOT_RETRIEVED:
            return "Full text not retrievable"
        if self.others_visible and self.item.status == ScreeningItem.Status.CONFLICT:
            return "In conflict"
        if self.my_vote is not None:
            return "Your decision is recorded; awaiting resolution"
        return "Awaiting your decision"


def others_visible(review: Review, item: ScreeningItem | None) -> bool:
    return (item is not None and item.status == ScreeningItem.Status.RESOLVED) or not review.blinded


def record_view(
    review: Review, stage: str, record: Record, user: Any, *, item: ScreeningItem | None = None
) -> RecordView:
    """What `user` may see of `record` at `stage`: blinding decides whose votes are in it.

    ``item`` is the record's screening item when the caller holds it already (the record
    just claimed from the queue); the queries that cannot find anything for it (votes of an
    item nobody voted on, the resolution of an open item) are skipped, since this runs on
    every "vote and give me the next record" request.
    """
    claimed = item is not None
    if item is None or item.record_id != record.pk or item.stage != stage:
        claimed = False
        item = ScreeningItem.objects.filter(review=review, record=record, stage=stage).first()
    visible = others_visible(review, item)
    votes: list[Vote] = []
    # A record just claimed has no vote of the user's own; while blinded, the others'
    # votes are not shown, so there is nothing to read.
    if not (claimed and not visible) and (
        item is None or item.n_votes or item.status != ScreeningItem.Status.OPEN
    ):
        votes = list(
            Vote.objects.filter(record=record, stage=stage).select_related("reviewer", "reason")
        )
    my_vote = next((v for v in votes if v.reviewer_id == user.pk), None)
    resolution = None
    if item is None or item.status == ScreeningItem.Status.RESOLVED:
        resolution = (
            Resolution.objects.filter(record=record, stage=stage)
            .select_related("reason", "actor")
            .first()
        )
    ta_resolution = None
    if stage == Stage.FULL_TEXT:
        ta_resolution = Resolution.objects.filter(record=record, stage=Stage.TITLE_ABSTRACT).first()
    return RecordView(
        record=record,
        stage=stage,
        item=item,
        my_vote=my_vote,
        other_votes=[v for v in votes if v.reviewer_id != user.pk] if visible else [],
        resolution=resolution,
        fulltext=(
            FullText.objects.filter(record=record).first() if stage == Stage.FULL_TEXT else None
        ),
        others_visible=visible,
        ta_resolution=ta_resolution,
    )


def history_neighbours(
    review: Review, stage: str, user: Any, record_id: int, *, decided: bool = True
) -> tuple[int | None, int | None, bool]:
    """(previous, next, in history) among the records the user decided at this stage, in
    the order decided. For a record not decided yet, previous is the last decision.
    ``decided=False`` says the caller knows the user has not decided this record."""
    mine = Vote.objects.filter(review=review, stage=stage, reviewer=user)
    here = None
    if decided:
        here = mine.filter(record_id=record_id).values_list("created_at", "id").first()
    if here is None:
        last = mine.order_by("-created_at", "-id").values_list("record_id", flat=True).first()
        return last, None, False
    created, vote_id = here
    before = Q(created_at__lt=created) | Q(created_at=created, id__lt=vote_id)
    after = Q(created_at__gt=created) | Q(created_at=created, id__gt=vote_id)
    prev_id = (
        mine.filter(before)
        .order_by("-created_at", "-id")
        .values_list("record_id", flat=True)
        .first()
    )
    next_id = (
        mine.filter(after).order_by("created_at", "id").values_list("record_id", flat=True).first()
    )
    return prev_id, next_id, True


def screenable_record(review: Review, stage: str, record_id: int) -> Record | None:
    """The record to show at `stage`, with ``corrected``: whether anyone corrected it."""
    return (
        _with_corrected(Record.objects.filter(pk=record_id, review=review))
        .filter(screening_items__stage=stage)
        .select_related("batch")
        .first()
    )


@dataclass(frozen=True)
class Claimed:
    """What the screening panel needs of a record just taken from the queue, read at once."""

    record: Record  # with ``corrected``, as `screenable_record` gives it
    keymap: Any  # the user's stored keymap (None: no preference row)
    mine_done: int  # the user's decisions at the stage (over the rounds from `first_round`)
    # The review's active exclusion reasons at the stage, as `exclusion_reasons` lists
    # them, read with the record on PostgreSQL (None: not read; ask `exclusion_reasons`).
    reasons: list | None = None


def claimed_record(item: ScreeningItem, user: Any, *, first_round: int = 1) -> Claimed:
    """The record of an item just taken from the queue, with the user's stored keymap and
    their number of decisions at the stage (`progress`'s own count), in one hand-written
    statement: this runs on every "vote and give me the next record" request, where these
    were three ORM queries that cost more CPU to build than to run."""
    from .models import ScreeningPreference

    q = connection.ops.quote_name
    select, names = columns(Record, "r")
    vote, pref = q(Vote._meta.db_table), q(ScreeningPreference._meta.db_table)
    mine = f"SELECT COUNT(*) FROM {vote} v WHERE v.review_id = %s AND v.stage = %s AND v.reviewer_id = %s"
    params: list[Any] = [item.review_id, item.stage, user.pk]
    if first_round > 1:  # as `progress` counts: the votes on items of the rounds shown
        mine = (
            f"SELECT COUNT(*) FROM {vote} v JOIN {q(ScreeningItem._meta.db_table)} si"
            " ON si.record_id = v.record_id AND si.stage = %s"
            " WHERE v.review_id = %s AND v.stage = %s AND v.reviewer_id = %s AND si.round >= %s"
        )
        params = [item.stage, item.review_id, item.stage, user.pk, first_round]
    # PostgreSQL: the exclusion reasons too, as one JSON array (one round trip fewer).
    reasons_sql, reason_names = "", []
    if connection.vendor == "postgresql":
        reason_cols, reason_names = columns(ExclusionReason, "x")
        reasons_sql = f""",
          (SELECT json_agg(json_build_array({reason_cols}) ORDER BY {_reason_order("x")})
           FROM {q(ExclusionReason._meta.db_table)} x
           WHERE x.review_id = %s AND x.stage = %s AND x.active)"""
        params += [item.review_id, item.stage]
    sql = f"""
        SELECT {select},
          EXISTS (SELECT 1 FROM {q(RecordCorrection._meta.db_table)} rc WHERE rc.record_id = r.id),
          (SELECT p.keymap FROM {pref} p WHERE p.user_id = %s),
          ({mine}){reasons_sql}
        FROM {q(Record._meta.db_table)} r WHERE r.id = %s
    """  # noqa: S608 - only table and column names are formatted in; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, *params, item.record_id])
        row = cursor.fetchone()
    reasons = None
    if reason_names:
        reasons = [from_row(ExclusionReason, reason_names, r) for r in row[-1] or []]
    record = from_row(Record, names, row)
    record.corrected = bool(row[len(names)])
    keymap = row[len(names) + 1]
    if keymap is not None:
        keymap = ScreeningPreference._meta.get_field("keymap").from_db_value(
            keymap, None, connection
        )
    return Claimed(record=record, keymap=keymap, mine_done=row[len(names) + 2], reasons=reasons)


def exclusion_reasons(review: Review, stage: str) -> list:
    """The review's active exclusion reasons at `stage`, in their order (hand-written: read
    on every screening panel)."""
    select, names = columns(ExclusionReason)
    sql = f"""
        SELECT {select} FROM {connection.ops.quote_name(ExclusionReason._meta.db_table)}
        WHERE review_id = %s AND stage = %s AND active ORDER BY {_reason_order()}
    """  # noqa: S608 - only table and column names are formatted in; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [review.pk, stage])
        return [from_row(ExclusionReason, names, row) for row in cursor.fetchall()]


def _reason_order(alias: str = "") -> str:
    """The exclusion reasons' ORDER BY list (their model's ordering: stage, position, id)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        prefix
        + connection.ops.quote_name(ExclusionReason._meta.get_field(f.lstrip("-")).column)
        + (" DESC" if f.startswith("-") else "")
        for f in ExclusionReason._meta.ordering
    )


def _with_corrected(records: QuerySet[Record]) -> QuerySet[Record]:
    # Asked with the record: most records were never corrected, so their corrections need
    # no query of their own on every "vote and give me the next record" request.
    return records.annotate(
        corrected=Exists(RecordCorrection.objects.filter(record=OuterRef("pk")))
    )


def record_corrections(record: Record) -> QuerySet[RecordCorrection] | list[RecordCorrection]:
    """Corrections of a record from `screenable_record`/`claimed_record` (oldest first)."""
    if not record.corrected:
        return []
    return RecordCorrection.objects.filter(record=record).select_related("actor")


# --- Conflicts -----------------------------------------------------------------------------


def conflicts(review: Review, stage: str, *, first_round: int = 1) -> QuerySet[ScreeningItem]:
    return (
        ScreeningItem.objects.filter(
            review=review,
            stage=stage,
            active=True,
            status=ScreeningItem.Status.CONFLICT,
            round__gte=first_round,
        )
        .select_related("record")
        .order_by("updated_at", "id")
    )


def conflict_votes(items: list[ScreeningItem], stage: str) -> dict[int, list[Vote]]:
    by_record: dict[int, list[Vote]] = defaultdict(list)
    for vote in (
        Vote.objects.filter(record_id__in=[i.record_id for i in items], stage=stage)
        .select_related("reviewer", "reason")
        .order_by("created_at")
    ):
        by_record[vote.record_id].append(vote)
    return by_record


def adjudicated(review: Review, stage: str) -> QuerySet[Resolution]:
    return (
        Resolution.objects.filter(review=review, stage=stage, adjudicated=True)
        .select_related("record", "actor", "reason")
        .order_by("-created_at")
    )


# --- Agreement -----------------------------------------------------------------------------

# Maybe means "not excluded yet": at title/abstract it moves a record on, so for the 2x2
# table it counts with include (as in Covidence's agreement report).
BINARY = {"include": "include", "maybe": "include", "exclude": "exclude"}
CATEGORIES = ("include", "exclude")


@dataclass(frozen=True)
class PairAgreement:
    stage: str
    rater1: str
    rater2: str
    kappa: Kappa

    @property
    def table(self) -> tuple[tuple[int, ...], ...]:
        return self.kappa.table


@dataclass(frozen=True)
class StageAgreement:
    stage: str
    overall: Kappa
    pairs: list[PairAgreement] = field(default_factory=list)
    resolved_only: bool = False


def agreement(
    review: Review,
    stage: str,
    *,
    resolved_only: bool,
    first_round: int = 1,
    version: tuple | None = None,
) -> StageAgreement:
    """Cohen's kappa per reviewer pair and overall at one stage.

    Per pair: every record both reviewers decided. Overall: every pair of votes on a
    record (raters ordered by the time they voted: first vs second vote), so that each
    record counts once with dual screening. ``resolved_only`` restricts to resolved
    records, which is what a blinded reviewer may see. ``version``: the screening state
    (`screening_version`) the result is kept for (None: computed afresh).
    """
    return derived_cached(
        review,
        version,
        f"agreement:{stage}:{int(resolved_only)}:{first_round}",
        lambda: _agreement(review, stage, resolved_only=resolved_only, first_round=first_round),
    )


def _agreement(
    review: Review, stage: str, *, resolved_only: bool, first_round: int
) -> StageAgreement:
    # Counted in the database (one GROUP BY over the pairs of votes on a record), not by
    # loading every vote and its reviewer: a screened 200,000-record review has 400,000
    # votes. The rows are at most (reviewer pairs x 3 x 3) whatever the review's size.
    item = connection.ops.quote_name(ScreeningItem._meta.db_table)
    vote = connection.ops.quote_name(Vote._meta.db_table)
    user = connection.ops.quote_name(get_user_model()._meta.db_table)
    resolved = "AND i.status = %s" if resolved_only else ""
    sql = f"""
        SELECT ua.username, ub.username, a.decision, b.decision, COUNT(*)
        FROM {vote} a
        JOIN {vote} b ON b.record_id = a.record_id AND b.stage = a.stage
          AND (b.created_at > a.created_at OR (b.created_at = a.created_at AND b.id > a.id))
        JOIN {item} i ON i.record_id = a.record_id AND i.stage = a.stage
        JOIN {user} ua ON ua.id = a.reviewer_id
        JOIN {user} ub ON ub.id = b.reviewer_id
        WHERE a.review_id = %s AND a.stage = %s AND i.active AND i.n_votes >= 2
          AND i.round >= %s {resolved}
        GROUP BY ua.username, ub.username, a.decision, b.decision
    """  # noqa: S608 - only table names and a fixed clause are formatted in
    params: list[Any] = [review.pk, stage, first_round]
    if resolved_only:
        params.append(ScreeningItem.Status.RESOLVED)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Overall: the earlier vote against the later one (as voted); per pair: the raters in
    # username order.
    overall = [[0, 0], [0, 0]]
    per_pair: dict[tuple[str, str], list[list[int]]] = defaultdict(lambda: [[0, 0], [0, 0]])
    index = {c: i for i, c in enumerate(CATEGORIES)}
    for first_name, second_name, first_decision, second_decision, n in rows:
        a, b = index[BINARY[first_decision]], index[BINARY[second_decision]]
        overall[a][b] += n
        if first_name <= second_name:
            per_pair[(first_name, second_name)][a][b] += n
        else:
            per_pair[(second_name, first_name)][b][a] += n
    pairs = [
        PairAgreement(stage, r1, r2, cohen_kappa(table))
        for (r1, r2), table in sorted(per_pair.items())
    ]
    return StageAgreement(stage, cohen_kappa(overall), pairs, resolved_only)


def agreement_visible_fully(review: Review, membership: Membership) -> bool:
    """Leads and adjudicators see agreement over every completed record; blinded reviewers
    only over resolved ones (a conflict count would tell them how the other voted)."""
    return membership.can_adjudicate or not review.blinded


# --- Included records, decisions export ----------------------------------------------------


def included_records(review: Review, stage: str = Stage.FULL_TEXT) -> QuerySet[Record]:
    return Record.objects.filter(
        review=review,
        duplicate_of__isnull=True,
        resolutions__stage=stage,
        resolutions__decision=FinalDecision.INCLUDE,
    ).order_by("id")


@dataclass(frozen=True)
class DecisionRow:
    record: Record
    stage: str
    votes: list[Vote]
    resolution: Resolution | None
    status: str


def decision_rows(review: Review) -> list[DecisionRow]:
    """Every record and stage that has a vote or a resolution, with all votes (leads only)."""
    items = list(
        ScreeningItem.objects.filter(review=review)
        .select_related("record")
        .order_by("record_id", "-stage")
    )
    votes: dict[tuple[int, str], list[Vote]] = defaultdict(list)
    for vote in (
        Vote.objects.filter(review=review)
        .select_related("reviewer", "reason")
        .order_by("created_at", "id")
    ):
        votes[(vote.record_id, vote.stage)].append(vote)
    resolutions = {
        (r.record_id, r.stage): r
        for r in Resolution.objects.filter(review=review).select_related("reason", "actor")
    }
    return [
        DecisionRow(
            item.record,
            item.stage,
            votes.get((item.record_id, item.stage), []),
            resolutions.get((item.record_id, item.stage)),
            item.get_status_display() if item.active else "Linked as a duplicate",
        )
        for item in items
        if votes.get((item.record_id, item.stage)) or (item.record_id, item.stage) in resolutions
    ]


# --- Progress curve and stopping aid (title/abstract) ---------------------------------------


@dataclass(frozen=True)
class Curve:
    """Includes found against records screened, in the order records were resolved."""

    points: tuple[tuple[int, int], ...]  # (records screened, includes found)
    total: int  # records in the stage
    consecutive_excludes: int  # since the last include
    labels: tuple[int, ...] = ()  # 1/0 per resolved record in order, for estimators

    @property
    def screened(self) -> int:
        return self.points[-1][0] if self.points else 0

    @property
    def found(self) -> int:
        return self.points[-1][1] if self.points else 0


def screening_curve(
    review: Review,
    *,
    first_round: int = 1,
    total: int | None = None,
    version: tuple | None = None,
) -> Curve:
    """Title/abstract includes found against records resolved, over rounds from `first_round`.

    ``total``: the stage's active items when the caller has them already (the overview,
    from the progress it shows), else read from the stage's cached counts. ``version``:
    the screening state (`screening_version`) the decisions read are kept for."""

    def read() -> bytes:
        resolved = Resolution.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, record__duplicate_of__isnull=True
        )
        if first_round > 1:
            resolved = resolved.filter(
                record__screening_items__stage=Stage.TITLE_ABSTRACT,
                record__screening_items__round__gte=first_round,
            )
        decisions = resolved.order_by("created_at", "id").values_list("decision", flat=True)
        # One byte a decision: small to keep, however many records are resolved.
        return bytes(int(d == FinalDecision.INCLUDE) for d in decisions)

    labels = tuple(derived_cached(review, version, f"curve:{first_round}", read))
    points = list(zip(range(len(labels) + 1), accumulate(labels, initial=0), strict=True))
    run = 0
    for label in reversed(labels):
        if label:
            break
        run += 1
    if total is None:
        total = team_snapshot(review, Stage.TITLE_ABSTRACT, first_round)["active"]
    return Curve(tuple(points), total, run, labels)
