"""Reads behind the API. Everything a reviewer reads passes the screening blinding rule here.

Blinding (see `screening.selectors`): before a record is resolved, a blinded reviewer sees
only their own vote; "in conflict" tells them that the others decided otherwise, so for
them a conflict reads as "open" (as on the page, where only adjudicators and leads see it).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from reviews.models import Membership, Record, Review, Stage
from reviews.selectors import round_import_counts, rounds
from screening.models import Resolution, ScreeningItem, Vote, VoteChange
from screening.selectors import STAGES, stage_counts_by_round

NOT_AT_STAGE = "none"


def sees_conflicts(review: Review, membership: Membership) -> bool:
    return membership.can_adjudicate or not review.blinded


def records_for(review: Review, user: Any, membership: Membership) -> QuerySet[Record]:
    """The review's records with, per stage, the status the viewer may see, the final
    decision and the viewer's own decision (``ta_status``, ``ta_decision``, ``ta_mine``...)."""
    annotations: dict[str, Any] = {}
    conflicts_visible = sees_conflicts(review, membership)
    for stage in STAGES:
        item = ScreeningItem.objects.filter(record=OuterRef("pk"), stage=stage)
        raw_status = Subquery(item.values("status")[:1])
        status = Coalesce(raw_status, Value(NOT_AT_STAGE), output_field=CharField())
        if not conflicts_visible:
            status = Case(
                When(
                    Q(**{f"_{stage}_raw": ScreeningItem.Status.CONFLICT}),
                    then=Value(ScreeningItem.Status.OPEN),
                ),
                default=status,
                output_field=CharField(),
            )
            annotations[f"_{stage}_raw"] = raw_status
        annotations[f"{stage}_status"] = status
        annotations[f"{stage}_decision"] = Coalesce(
            Subquery(
                Resolution.objects.filter(record=OuterRef("pk"), stage=stage).values("decision")[:1]
            ),
            Value(""),
            output_field=CharField(),
        )
        annotations[f"{stage}_mine"] = Coalesce(
            Subquery(
                Vote.objects.filter(record=OuterRef("pk"), stage=stage, reviewer=user).values(
                    "decision"
                )[:1]
            ),
            Value(""),
            output_field=CharField(),
        )
    qs = Record.objects.filter(review=review)
    # Conditional annotations referring to other annotations need them added first.
    raw = {k: v for k, v in annotations.items() if k.startswith("_")}
    rest = {k: v for k, v in annotations.items() if not k.startswith("_")}
    return qs.annotate(**raw).annotate(**rest)


def record_votes_visible(review: Review, record: Record, user: Any) -> dict[str, dict[str, Any]]:
    """Per stage the record is at: its votes as `user` may see them, and its resolution."""
    items = {i.stage: i for i in ScreeningItem.objects.filter(review=review, record=record)}
    votes = list(
        Vote.objects.filter(record=record).select_related("reviewer", "reason").order_by("id")
    )
    resolutions = {
        r.stage: r
        for r in Resolution.objects.filter(record=record).select_related("reason", "actor")
    }
    changes = list(
        VoteChange.objects.filter(record=record).select_related("reviewer").order_by("id")
    )
    out: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        item = items.get(stage)
        if item is None:
            continue
        visible = item.status == ScreeningItem.Status.RESOLVED or not review.blinded
        out[stage] = {
            "votes": [
                v for v in votes if v.stage == stage and (visible or v.reviewer_id == user.pk)
            ],
            "resolution": resolutions.get(stage),
            "history": [
                c for c in changes if c.stage == stage and (visible or c.reviewer_id == user.pk)
            ],
        }
    return out


STAGE_CHOICES = [(s.value, s.label) for s in Stage]


# --- Extraction, outcomes, risk of bias (final consensus only: independent work stays blind) ---


def consensus_extractions(review: Review):
    """Finalised consensus extractions of the review's studies, by study id."""
    from extraction.models import Extraction, ExtractionKind, ExtractionStatus

    return {
        e.study_id: e
        for e in Extraction.objects.filter(
            study__review=review,
            kind=ExtractionKind.CONSENSUS,
            status=ExtractionStatus.SUBMITTED,
        ).select_related("template")
    }


def outcome_rows(review: Review, *, study_id: int | None = None) -> list[dict[str, Any]]:
    """Consensus outcome data: one row per study × outcome × timepoint × arm."""
    from extraction.models import ArmValue, ExtractionKind, ExtractionStatus

    values = (
        ArmValue.objects.filter(
            data__extraction__study__review=review,
            data__extraction__kind=ExtractionKind.CONSENSUS,
            data__extraction__status=ExtractionStatus.SUBMITTED,
        )
        .select_related(
            "arm",
            "data__extraction__study",
            "data__outcome__subdomain__domain",
            "data__timepoint",
        )
        .order_by(
            "data__extraction__study__label",
            "data__extraction__study_id",
            "data__outcome__position",
            "data__outcome_id",
            "data__timepoint__weeks",
            "data__timepoint_id",
            "arm__position",
            "arm_id",
        )
    )
    if study_id is not None:
        values = values.filter(data__extraction__study_id=study_id)
    rows = []
    for v in values:
        data, outcome, tp = v.data, v.data.outcome, v.data.timepoint
        study = data.extraction.study
        sub = outcome.subdomain
        rows.append(
            {
                "study": study.pk,
                "study_label": study.label,
                "outcome": outcome.pk,
                "outcome_name": outcome.name,
                "domain": sub.domain.name if sub else "",
                "subdomain": sub.name if sub else "",
                "instrument": outcome.instrument,
                "direction": outcome.direction,
                "timepoint": tp.pk,
                "timepoint_label": tp.label,
                "timepoint_weeks": tp.weeks,
                "timepoint_kind": tp.kind,
                "population": data.population,
                "arm": v.arm_id,
                "arm_name": v.arm.name,
                "arm_role": v.arm.role,
                "n_randomised": v.arm.n_randomised,
                "mean": v.mean,
                "sd": v.sd,
                "se": v.se,
                "ci_low": v.ci_low,
                "ci_high": v.ci_high,
                "n": v.n,
                "events": v.events,
            }
        )
    return rows


def rob_rows(review: Review) -> list[dict[str, Any]]:
    """Final consensus RoB 2 assessments with their domain and overall judgements."""
    from extraction.rob.models import RobAssessment, RobKind, RobStatus

    out = []
    for a in (
        RobAssessment.objects.filter(
            target__review=review, kind=RobKind.CONSENSUS, status=RobStatus.FINAL
        )
        .select_related("target__study", "target__outcome")
        .prefetch_related("domains")
        .order_by("target__study__label", "target__study_id", "target__outcome_id")
    ):
        out.append(
            {
                "id": a.pk,
                "study": a.target.study_id,
                "study_label": a.target.study.label,
                "outcome": a.target.outcome_id,
                "outcome_name": a.target.outcome.name if a.target.outcome else "",
                "domains": {
                    d.domain: {"judgement": d.judgement, "direction": d.direction}
                    for d in sorted(a.domains.all(), key=lambda d: d.domain)
                },
                "overall": a.overall_judgement,
                "adjudicated": a.adjudicated,
                "finalised_at": a.submitted_at,
            }
        )
    return out


def rounds_with_counts(review: Review, membership: Membership) -> list[dict[str, Any]]:
    """Every round of the review with what it imported and how far its screening got.

    Conflicts are counted for those who may see them (adjudicators, leads, or anyone in
    an unblinded review), as on the pages; for the others they are null.
    """
    imports = round_import_counts(review)
    screening = stage_counts_by_round(review)
    visible = sees_conflicts(review, membership)
    out = []
    for row in rounds(review):
        stages = screening.get(row["number"]) or {}
        if not visible:
            stages = {stage: {**counts, "conflicts": None} for stage, counts in stages.items()}
        out.append({**row, **imports.get(row["number"], {}), "screening": stages})
    return out
