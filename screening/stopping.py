"""Stopping aids for title/abstract screening: the tool suggests, the lead decides.

The hypergeometric stopping test (:func:`stopping_test_state`) says, once the queue has
been switched to random sampling, when the lead's target recall is reached with the
confidence they chose. Two heuristic signals are shown next to it on the overview:

* the number of consecutive excludes since the last include (a run of several hundred
  in a relevance-ordered queue is the classic heuristic stopping rule);
* an estimate of the includes still among the unscreened records, with its method named.
  The estimator of the prioritisation core is used when it offers one; otherwise the
  inclusion rate of the most recent ``window`` resolved records is extrapolated to the
  records left. With a relevance-ordered queue the inclusion rate falls as screening
  proceeds, so that extrapolation errs on the side of too many remaining includes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from django.db import connection

from reviews.models import Review, Stage

from .models import FinalDecision, Resolution, ScreeningItem, StoppingRule, Vote
from .selectors import Curve, derived_cached, team_snapshot

# ``recall_test`` (scipy.stats' hypergeometric, ~57 MB) is imported where the test is run:
# this module loads with the screening views in every web process.
if TYPE_CHECKING:
    from .prioritisation.recall_test import RecallTest

WINDOW = 100


@dataclass(frozen=True)
class StoppingAid:
    screened: int
    remaining_records: int
    found: int
    consecutive_excludes: int
    estimated_remaining: float | None
    method: str

    @property
    def estimated_total(self) -> float | None:
        if self.estimated_remaining is None:
            return None
        return self.found + self.estimated_remaining

    @property
    def estimated_recall(self) -> float | None:
        total = self.estimated_total
        return None if not total else 100.0 * self.found / total


def _core_estimate(labels: tuple[int, ...], remaining: int) -> tuple[float, str] | None:
    try:
        from .prioritisation import stopping as core_stopping  # type: ignore[attr-defined]
    except ImportError:
        return None
    estimate = getattr(core_stopping, "estimate_remaining", None)
    if estimate is None:
        return None
    result = estimate(list(labels), remaining)
    value = getattr(result, "remaining", result)
    method = getattr(result, "method", "prioritisation core estimator")
    return float(value), str(method)


def stopping_aid(curve: Curve, window: int = WINDOW) -> StoppingAid:
    remaining = max(curve.total - curve.screened, 0)
    estimate: float | None = None
    method = ""
    core = _core_estimate(curve.labels, remaining) if curve.labels else None
    if core is not None:
        estimate, method = core
    elif curve.labels:
        recent = curve.labels[-window:]
        rate = sum(recent) / len(recent)
        estimate = rate * remaining
        method = (
            f"inclusion rate of the last {len(recent)} resolved records "
            f"({100 * rate:.1f} %) × {remaining:,} records not yet resolved"
        )
    return StoppingAid(
        screened=curve.screened,
        remaining_records=remaining,
        found=curve.found,
        consecutive_excludes=curve.consecutive_excludes,
        estimated_remaining=estimate,
        method=method,
    )


# --- The hypergeometric stopping test ---------------------------------------------------


@dataclass(frozen=True)
class StoppingTestState:
    """The review's stopping test, ready for the overview (see :func:`stopping_test_state`)."""

    target_recall: float
    confidence: float
    sampling: bool
    pending: int  # records of the ranked phase not resolved yet
    unresolved_sample: int  # sampled records with votes but no resolution (counted as includes)
    test: RecallTest

    @property
    def state(self) -> str:
        """``stop``, ``keep`` (sampling, not there yet), ``wait`` or ``off`` (no sample)."""
        if not self.sampling:
            return "off"
        if self.pending:
            return "wait"
        return "stop" if self.test.stop else "keep"

    @property
    def target_label(self) -> str:
        return _percent(self.target_recall)

    @property
    def confidence_label(self) -> str:
        return _percent(self.confidence)

    @property
    def headline(self) -> str:
        """The test's state in plain words."""
        t = self.test
        recall, confidence = _percent(self.target_recall), _percent(self.confidence)
        if self.state == "stop":
            return (
                f"stop: {recall} recall reached with {confidence} confidence after "
                f"{t.screened:,} of {t.records:,} records"
            )
        if self.state == "keep":
            return f"keep screening: about {t.more_needed:,} more records needed"
        if self.state == "wait":
            return (
                f"waiting: {self.pending:,} record{'s' if self.pending != 1 else ''} screened "
                "before the switch to random sampling still need a resolution"
            )
        return (
            f"not started: switch the queue to random sampling when the ranked queue stops "
            f"finding includes; switching now, about {t.more_needed:,} random records would "
            "be needed if none of them is an include"
        )


def _percent(value: float) -> str:
    return f"{round(value * 100, 1):g} %"


def stopping_test_state(
    review: Review,
    *,
    first_round: int = 1,
    records: int | None = None,
    version: tuple | None = None,
) -> StoppingTestState:
    """The hypergeometric test of the review's target recall on its title/abstract screening.

    The ranked phase is every record voted on before random sampling was switched on (all
    records voted on so far while it is off); the sample is every record first voted on
    since. A sampled record still waiting for its resolution counts as an include, which
    can only delay "stop", never bring it forward. ``first_round``: an update round tests
    its own records (earlier rounds were stopped on their own). ``records``: the stage's
    active items when the caller has them already (else the stage's cached counts).
    ``version``: the screening state (``selectors.screening_version``) the counts are
    kept for (None: counted afresh).
    """
    rule = StoppingRule.objects.filter(review=review).first() or StoppingRule(review=review)
    since = rule.sampling_since
    if records is None:
        records = team_snapshot(review, Stage.TITLE_ABSTRACT, first_round)["active"]
    counts = derived_cached(
        review,
        version,
        f"stopping:{first_round}:{since.isoformat() if since else ''}",
        lambda: _phase_counts(review, first_round, since),
    )
    ranked, sample = counts[True], counts[False]
    include = FinalDecision.INCLUDE
    pending = ranked.get(None, 0)
    unresolved_sample = sample.get(None, 0)
    ranked_found = ranked.get(include, 0)
    sample_found = sample.get(include, 0) + unresolved_sample
    test = _recall_test(
        records=max(records, sum(ranked.values()) + sum(sample.values())),
        ranked_screened=sum(ranked.values()),
        ranked_found=ranked_found,
        sampled=sum(sample.values()),
        sample_found=sample_found,
        target_recall=rule.target_recall,
        confidence=rule.confidence,
    )
    return StoppingTestState(
        target_recall=rule.target_recall,
        confidence=rule.confidence,
        sampling=since is not None,
        pending=pending,
        unresolved_sample=unresolved_sample,
        test=test,
    )


# The test is a pure function of these counts; its search for "more needed" asks SciPy's
# hypergeometric CDF ~20 times (~9 ms), so an overview reloaded with no new decision reuses it.
@lru_cache(maxsize=256)
def _recall_test(**counts: float) -> RecallTest:
    from .prioritisation.recall_test import recall_test

    return recall_test(**counts)


def _phase_counts(
    review: Review, first_round: int, since: datetime | None
) -> dict[bool, dict[str | None, int]]:
    """Records of the stopping test by phase (True: ranked, False: sampled) and final
    decision (None: no resolution yet), counted in the database in one statement.

    A record is in the ranked phase when first voted on before random sampling was
    switched on (every record while it is off), or resolved without a vote (an imported
    decision); in the sample when first voted on since. Only records with an active
    title/abstract item of rounds from `first_round` count: votes and resolutions are
    joined to their item (one per record and stage), so the planner walks the few votes
    and resolutions into the items' index instead of hashing every item of the review.
    Counting here replaces reading every voted record's first vote and every resolution
    (two rows per decided record: 400,000 on a screened 200,000-record review) into
    Python.
    """
    q = connection.ops.quote_name
    vote, resolution = q(Vote._meta.db_table), q(Resolution._meta.db_table)
    item = q(ScreeningItem._meta.db_table)
    ranked = "TRUE"
    params: list = []
    if since is not None:
        ranked = "(p.first_vote IS NULL OR p.first_vote <= %s)"
        params.append(connection.ops.adapt_datetimefield_value(since))
    in_stage = "i.record_id = {t}.record_id AND i.stage = {t}.stage AND i.active AND i.round >= %s"
    sql = f"""
        SELECT {ranked}, p.decision, COUNT(*) FROM (
          SELECT u.record_id, MIN(u.first_vote) AS first_vote, MAX(u.decision) AS decision
          FROM (
            SELECT v.record_id, MIN(v.created_at) AS first_vote, NULL AS decision
            FROM {vote} v JOIN {item} i ON {in_stage.format(t="v")}
            WHERE v.review_id = %s AND v.stage = %s
            GROUP BY v.record_id
            UNION ALL
            SELECT r.record_id, NULL, r.decision
            FROM {resolution} r JOIN {item} i ON {in_stage.format(t="r")}
            WHERE r.review_id = %s AND r.stage = %s
          ) u
          GROUP BY u.record_id
        ) p
        GROUP BY 1, 2
    """  # noqa: S608 - only table names and fixed clauses are formatted in
    stage = Stage.TITLE_ABSTRACT
    params += [first_round, review.pk, stage, first_round, review.pk, stage]
    counts: dict[bool, dict[str | None, int]] = {True: {}, False: {}}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for is_ranked, decision, n in cursor.fetchall():
            counts[bool(is_ranked)][decision] = n
    return counts
