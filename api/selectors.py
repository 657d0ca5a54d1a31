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
from screening.models import Resolution, ScreeningItem, Vote
from screening.selectors import STAGES

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
        }
    return out


STAGE_CHOICES = [(s.value, s.label) for s in Stage]
