"""Helpers that build screening states through the real services."""

from __future__ import annotations

from reviews.models import ExclusionReason, Stage
from screening import services
from screening.models import ScreeningItem
from tests.factories import RecordFactory


def records(review, n: int, **kwargs) -> list:
    made = [RecordFactory(review=review, **kwargs) for _ in range(n)]
    services.items_sync(review, force=True)
    return made


def ft_reason(review, label: str = "Wrong population") -> ExclusionReason:
    return ExclusionReason.objects.get(review=review, stage=Stage.FULL_TEXT, label=label)


def vote(review, record, user, decision: str, stage: str = Stage.TITLE_ABSTRACT, **kwargs):
    return services.vote_cast(
        review=review, record_id=record.pk, stage=stage, actor=user, decision=decision, **kwargs
    )


def pair(review, record, a, b, decision_a: str, decision_b: str, stage=Stage.TITLE_ABSTRACT, **kw):
    vote(review, record, a, decision_a, stage, **kw)
    vote(review, record, b, decision_b, stage, **kw)
    return ScreeningItem.objects.get(record=record, stage=stage)


def include_at_ta(review, record, a, b):
    """Both reviewers include: the record moves on to full text."""
    return pair(review, record, a, b, "include", "include")
