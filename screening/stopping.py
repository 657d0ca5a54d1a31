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

from django.db.models import Min

from reviews.models import Review, Stage

from .models import FinalDecision, Resolution, StoppingRule, Vote
from .prioritisation.recall_test import RecallTest, recall_test
from .selectors import Curve, team_snapshot

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
    review: Review, *, first_round: int = 1, records: int | None = None
) -> StoppingTestState:
    """The hypergeometric test of the review's target recall on its title/abstract screening.

    The ranked phase is every record voted on before random sampling was switched on (all
    records voted on so far while it is off); the sample is every record first voted on
    since. A sampled record still waiting for its resolution counts as an include, which
    can only delay "stop", never bring it forward. ``first_round``: an update round tests
    its own records (earlier rounds were stopped on their own). ``records``: the stage's
    active items when the caller has them already (else the stage's cached counts).
    """
    rule = StoppingRule.objects.filter(review=review).first() or StoppingRule(review=review)
    since = rule.sampling_since
    # The records with an active title/abstract item of these rounds, as an inner join
    # (one item per record and stage): the planner then walks the few votes and
    # resolutions into the items' index. As `record__in=<items>` it hashed every item
    # of the review (30-40 ms at 200,000 records, against 4-7 ms).
    in_stage = {
        "record__screening_items__stage": Stage.TITLE_ABSTRACT,
        "record__screening_items__active": True,
        "record__screening_items__round__gte": first_round,
    }
    if records is None:
        records = team_snapshot(review, Stage.TITLE_ABSTRACT, first_round)["active"]
    first_votes = (
        Vote.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT, **in_stage)
        .values("record_id")
        .annotate(first=Min("created_at"))
    )
    decided = dict(
        Resolution.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, **in_stage
        ).values_list("record_id", "decision")
    )
    voted = {row["record_id"]: row["first"] for row in first_votes}
    # Resolved without a vote of record (e.g. imported decisions) counts as ranked.
    ranked = {rid for rid, first in voted.items() if since is None or first <= since}
    ranked |= {rid for rid in decided if rid not in voted}
    sample = set(voted) - ranked
    include = FinalDecision.INCLUDE
    pending = sum(1 for rid in ranked if rid not in decided)
    unresolved_sample = sum(1 for rid in sample if rid not in decided)
    ranked_found = sum(1 for rid in ranked if decided.get(rid) == include)
    sample_found = sum(1 for rid in sample if decided.get(rid) == include) + unresolved_sample
    test = recall_test(
        records=max(records, len(ranked) + len(sample)),
        ranked_screened=len(ranked),
        ranked_found=ranked_found,
        sampled=len(sample),
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
