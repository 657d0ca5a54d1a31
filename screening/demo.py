"""Demo step: alice and bob have screened part of the demo review, so a new user sees
progress, agreement, a conflict queue, full texts and a PRISMA diagram at once.

Decisions follow the data set's own labels (Cohen et al. 2006: `label_abstract_screening`
for title/abstract, `label_included` for full text); each simulated reviewer departs from
the label now and then (seeded), which produces realistic conflicts.
"""

from __future__ import annotations

import random
from typing import Any

from django.test.utils import override_settings

from reviews.models import ExclusionReason, Stage

from . import ranking, services
from .models import ScreeningItem, Vote

TA_PAIRS = 150  # records alice and bob both decide at title/abstract
FT_PAIRS = 8
SLIP = 0.08  # chance that a simulated reviewer departs from the label
MAYBE = 0.04
SEED = 20201218


def _label(record, column: str) -> int | None:
    value = str((record.source_fields or {}).get(column, "")).strip()
    return int(value) if value in {"0", "1"} else None


def _decide(rng: random.Random, truth: int) -> str:
    roll = rng.random()
    if roll < MAYBE:
        return "maybe"
    if roll < MAYBE + SLIP:
        return "exclude" if truth else "include"
    return "include" if truth else "exclude"


def demo_screening(review, users: dict[str, Any]) -> str | None:
    """Simulate part of the screening of the demo review (idempotent: runs once)."""
    if Vote.objects.filter(review=review).exists():
        return None
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    rng = random.Random(SEED)
    ft_reasons = list(ExclusionReason.objects.filter(review=review, stage=Stage.FULL_TEXT))
    # Refits run in this thread: a management command must not leave background writers.
    with override_settings(REVIEWFLOW_JOBS_IN_THREAD=False):
        n_ta = _screen_ta(review, alice, bob, rng)
        _adjudicate(review, Stage.TITLE_ABSTRACT, carol, rng, share=0.7)
        n_ft = _screen_ft(review, alice, bob, rng, ft_reasons)
        _adjudicate(review, Stage.FULL_TEXT, carol, rng, share=0.5, reasons=ft_reasons)
        if ranking.ranking_latest(review) is None:
            ranking.ranking_refit(review)
    return f"Screening demo: alice and bob screened {n_ta} titles/abstracts and {n_ft} full texts."


def _screen_ta(review, alice, bob, rng: random.Random) -> int:
    done = 0
    for _ in range(TA_PAIRS):
        for user in (alice, bob):
            item = services.next_item_claim(review=review, stage=Stage.TITLE_ABSTRACT, actor=user)
            if item is None:
                return done
            truth = _label(item.record, "label_abstract_screening")
            truth = rng.random() < 0.1 if truth is None else truth
            services.vote_cast(
                review=review,
                record_id=item.record_id,
                stage=Stage.TITLE_ABSTRACT,
                actor=user,
                decision=_decide(rng, truth),
                note="Not an RCT." if rng.random() < 0.05 else "",
            )
        done += 1
    return done


def _screen_ft(review, alice, bob, rng: random.Random, reasons) -> int:
    items = list(
        ScreeningItem.objects.filter(review=review, stage=Stage.FULL_TEXT)
        .select_related("record")
        .order_by("id")
    )
    # Two full texts could not be found: PRISMA's "reports not retrieved".
    for item in items[:2]:
        services.fulltext_set_not_retrievable(
            review=review, record_id=item.record_id, actor=alice, not_retrievable=True
        )
    done = 0
    for item in items[2 : 2 + FT_PAIRS]:
        truth = _label(item.record, "label_included")
        truth = rng.random() < 0.3 if truth is None else truth
        reason = rng.choice(reasons[:5]) if reasons else None
        for user in (alice, bob):
            decision = _decide(rng, truth)
            services.vote_cast(
                review=review,
                record_id=item.record_id,
                stage=Stage.FULL_TEXT,
                actor=user,
                decision=decision,
                reason_id=reason.pk if decision == "exclude" and reason else None,
            )
        done += 1
    return done


def _adjudicate(review, stage, carol, rng: random.Random, *, share: float, reasons=None) -> None:
    conflicts = list(
        ScreeningItem.objects.filter(
            review=review, stage=stage, status=ScreeningItem.Status.CONFLICT
        ).select_related("record")
    )
    column = "label_abstract_screening" if stage == Stage.TITLE_ABSTRACT else "label_included"
    for item in conflicts[: int(len(conflicts) * share)]:
        truth = _label(item.record, column)
        decision = "include" if truth else "exclude"
        reason = rng.choice(reasons[:5]) if (reasons and decision == "exclude") else None
        services.conflict_resolve(
            review=review,
            record_id=item.record_id,
            stage=stage,
            actor=carol,
            decision=decision,
            reason_id=reason.pk if reason else None,
            note="Checked against the eligibility criteria.",
        )
