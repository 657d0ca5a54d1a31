"""State changes of GRADE certainty and Summary of Findings tables (the lead's writes).

Each function is keyword-only, checks its input (a :class:`DomainError` naming the field,
nothing written), runs in one transaction and writes a :class:`CertaintyEvent` naming
the actor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from reviews.db import lock_for_update
from reviews.errors import ConflictError, DomainError
from reviews.models import Review

from ..models import Analysis
from . import rules, selectors
from .models import CertaintyAssessment, CertaintyDomain, CertaintyEvent, Rating, SofRow, SofTable

MAX_THRESHOLDS = 5
UPGRADE_LIMITS = {"large_effect": 2, "dose_response": 1, "confounding": 1}


def _event(review: Review, actor: Any, action: str, *, assessment=None, table=None, **detail):
    CertaintyEvent.objects.create(
        review=review,
        actor=actor,
        action=action,
        assessment=assessment,
        table=table,
        detail=detail,
    )


def _clean_thresholds(measure: str, values: Sequence[Any] | None) -> list[float]:
    out: list[float] = []
    for v in values or ():
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise DomainError(f"“{v}” is not a number.", field="thresholds") from None
        if not math.isfinite(x):
            raise DomainError("Thresholds must be finite numbers.", field="thresholds")
        if measure in rules.RATIOS and x <= 0:
            raise DomainError(
                f"A threshold of a {measure} is a ratio above 0 (e.g. 0.75, 1, 1.25).",
                field="thresholds",
            )
        out.append(x)
    if len(out) > MAX_THRESHOLDS:
        raise DomainError(f"At most {MAX_THRESHOLDS} thresholds.", field="thresholds")
    if len(set(out)) != len(out):
        raise DomainError("A threshold is given twice.", field="thresholds")
    return sorted(out)


def _check_finals(
    ctx: selectors.EvidenceContext, finals: Mapping[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    missing = [rules.DOMAINS[d] for d in rules.DOMAINS if d not in finals]
    if missing:
        raise DomainError(f"Rate every domain: {', '.join(missing)} missing.")
    unknown = set(finals) - set(rules.DOMAINS)
    if unknown:
        raise DomainError(f"Unknown GRADE domain(s): {', '.join(sorted(unknown))}.")
    out = {}
    for key, (rating, reason) in finals.items():
        reason = (reason or "").strip()
        if rating not in Rating.values:
            raise DomainError(f"Unknown rating “{rating}”.", field=key)
        if rating != ctx.suggestions[key].rating and not reason:
            raise DomainError(
                f"{rules.DOMAINS[key]}: the rating differs from the suggestion "
                f"({rules.RATINGS[ctx.suggestions[key].rating].lower()}); say why.",
                field=f"{key}_reason",
            )
        out[key] = (rating, reason)
    return out


def _check_upgrades(start: int, upgrades: Mapping[str, int], reason: str) -> dict[str, int]:
    out = {}
    for key, limit in UPGRADE_LIMITS.items():
        value = int(upgrades.get(key) or 0)
        if not 0 <= value <= limit:
            raise DomainError(
                f"{rules.UPGRADES[key]} rates up by 0 to {limit} level(s).", field=key
            )
        out[key] = value
    unknown = set(upgrades) - set(UPGRADE_LIMITS)
    if unknown:
        raise DomainError(f"Unknown upgrade(s): {', '.join(sorted(unknown))}.")
    if any(out.values()):
        if start == rules.HIGH:
            raise DomainError(
                "Evidence from randomised trials starts at high: it is not rated up.",
                field="large_effect",
            )
        if not reason.strip():
            raise DomainError("Say why the evidence is rated up.", field="upgrade_reason")
    return out


def _lock_analysis(analysis_id: int) -> None:
    """Lock the analysis row: every write to its assessment takes this lock first.

    Why: two first ratings at once would both find no assessment and both insert one,
    the second failing on the one-per-analysis constraint (a 500). Behind the lock the
    second waits, then finds the first's assessment and re-rates it. One lock order
    (analysis, then assessment, then its domains) for save, confirm and delete also
    keeps them from deadlocking on each other."""
    locked = lock_for_update(Analysis.objects.filter(pk=analysis_id)).values_list("pk")
    if not locked:
        raise ConflictError("That analysis has been deleted.")


@transaction.atomic
def assessment_save(
    *,
    analysis: Analysis,
    actor: Any,
    finals: Mapping[str, tuple[str, str]],
    upgrades: Mapping[str, int] | None = None,
    upgrade_reason: str = "",
    thresholds: Sequence[Any] | None = None,
    outcome_label: str = "",
    intervention: str = "",
    confirming: bool = False,
) -> CertaintyAssessment:
    """Rate (or re-rate) an analysis: the lead's final rating per domain against the
    current suggestions, with the numbers they came from kept as the snapshot.
    ``confirming``: the same ratings confirmed against changed data (the history says so)."""
    _lock_analysis(analysis.pk)
    clean_thresholds = _clean_thresholds(analysis.effect_measure, thresholds)
    ctx = selectors.evidence_for(analysis, thresholds=clean_thresholds)
    if not ctx.ok:
        raise DomainError(f"“{analysis.title}” cannot be rated yet: {ctx.problem}.")
    clean = _check_finals(ctx, finals)
    start, start_reason = ctx.start
    ups = _check_upgrades(start, upgrades or {}, upgrade_reason)
    level = rules.certainty(
        start, [rules.LEVELS_DOWN[r] for r, _ in clean.values()], list(ups.values())
    )
    assert ctx.evidence is not None
    statement = rules.statement(
        level,
        measure=analysis.effect_measure,
        estimate=ctx.evidence.main.estimate,
        intervention=intervention.strip() or "the intervention",
        outcome=rules.in_sentence(outcome_label.strip() or analysis.title),
        thresholds=ctx.thresholds,
    )
    assessment = CertaintyAssessment.objects.select_for_update().filter(analysis=analysis).first()
    created = assessment is None
    before: dict[str, str] = {}
    old_level = None
    if created:
        assessment = CertaintyAssessment(review=analysis.review, analysis=analysis)
    else:
        before = {d.domain: d.final for d in assessment.domains.all()}
        old_level = assessment.certainty
    assert assessment is not None
    assessment.outcome_label = outcome_label.strip()
    assessment.intervention = intervention.strip()
    assessment.thresholds = clean_thresholds
    assessment.start_level, assessment.start_reason = start, start_reason[:200]
    assessment.large_effect = ups["large_effect"]
    assessment.dose_response = ups["dose_response"]
    assessment.confounding = ups["confounding"]
    assessment.upgrade_reason = upgrade_reason.strip()
    assessment.certainty = level
    assessment.statement = statement[:400]
    assessment.inputs, assessment.inputs_hash = ctx.inputs, ctx.inputs_hash
    assessment.confirmed_by, assessment.confirmed_at = actor, timezone.now()
    assessment.save()
    assessment.domains.all().delete()
    CertaintyDomain.objects.bulk_create(
        CertaintyDomain(
            assessment=assessment,
            domain=key,
            suggested=ctx.suggestions[key].rating,
            rule=ctx.suggestions[key].rule[:300],
            numbers=ctx.suggestions[key].numbers,
            note=ctx.suggestions[key].note[:200],
            final=rating,
            reason=reason,
        )
        for key, (rating, reason) in clean.items()
    )
    changes = {
        key: [before.get(key, ""), rating]
        for key, (rating, _) in clean.items()
        if before.get(key) != rating
    }
    _event(
        analysis.review,
        actor,
        "rated" if created else ("confirmed" if confirming else "re-rated"),
        assessment=assessment,
        analysis=analysis.title,
        certainty=[old_level, level],
        changes=changes,
        overridden={key: reason for key, (rating, reason) in clean.items() if reason and rating},
    )
    return assessment


@transaction.atomic
def assessment_confirm(*, assessment: CertaintyAssessment, actor: Any) -> CertaintyAssessment:
    """Re-confirm the final ratings against the data as they are now (after a change).

    Refused when a suggestion moved away from a final rating that has no reason: the lead
    then rates that domain again."""
    _lock_analysis(assessment.analysis_id)
    assessment = CertaintyAssessment.objects.select_for_update().filter(pk=assessment.pk).first()
    if assessment is None:
        raise ConflictError("That assessment has been withdrawn meanwhile.")
    finals = {d.domain: (d.final, d.reason) for d in assessment.domains.all()}
    ctx = selectors.evidence_for(assessment.analysis, thresholds=assessment.thresholds)
    if not ctx.ok:
        raise ConflictError(f"The analysis cannot be rated now: {ctx.problem}.")
    for key, (rating, reason) in finals.items():
        if rating != ctx.suggestions[key].rating and not reason:
            raise ConflictError(
                f"{rules.DOMAINS[key]}: the suggestion is now "
                f"“{rules.RATINGS[ctx.suggestions[key].rating].lower()}”; rate it again "
                "or give a reason for keeping yours."
            )
    return assessment_save(
        analysis=assessment.analysis,
        actor=actor,
        finals=finals,
        upgrades=dict(zip(UPGRADE_LIMITS, assessment.upgrades, strict=True)),
        upgrade_reason=assessment.upgrade_reason,
        thresholds=assessment.thresholds,
        outcome_label=assessment.outcome_label,
        intervention=assessment.intervention,
        confirming=True,
    )


@transaction.atomic
def assessment_delete(*, assessment: CertaintyAssessment, actor: Any) -> None:
    """Withdraw an assessment (its SoF rows go with it)."""
    _lock_analysis(assessment.analysis_id)
    _event(
        assessment.review,
        actor,
        "deleted",
        analysis=assessment.analysis.title,
        certainty=assessment.certainty,
    )
    assessment.delete()


# --------------------------------------------------------------------------- SoF tables

SOF_TABLE_FIELDS = ("title", "population", "setting", "intervention", "comparison")
SOF_ROW_FIELDS = ("timepoint", "assumed_risk", "scale_name", "scale_sd", "comments")


@transaction.atomic
def sof_table_save(
    *, review: Review, actor: Any, values: Mapping[str, Any], table: SofTable | None = None
) -> SofTable:
    """Create or change a Summary of Findings table (title, population, setting, ...)."""
    unknown = set(values) - set(SOF_TABLE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown table setting(s): {', '.join(sorted(unknown))}.")
    title = (values.get("title") or "").strip()
    if not title:
        raise DomainError(
            "Give the table a title, e.g. “Peer support compared with care as usual”.",
            field="title",
        )
    created = table is None
    if table is None:
        position = SofTable.objects.filter(review=review).aggregate(m=Max("position"))["m"]
        table = SofTable(review=review, position=(position or 0) + 1)
    elif table.review_id != review.pk:
        raise DomainError("That table belongs to another review.")
    changes = {}
    for name in SOF_TABLE_FIELDS:
        if name not in values and not created:
            continue
        value = (values.get(name) or "").strip()
        if getattr(table, name) != value:
            changes[name] = [getattr(table, name), value]
        setattr(table, name, value)
    try:
        with transaction.atomic():
            table.save()
    except IntegrityError:
        raise ConflictError(f"There is already a table called “{title}”.") from None
    _event(review, actor, "table created" if created else "table changed", table=table, **changes)
    return table


@transaction.atomic
def sof_table_delete(*, table: SofTable, actor: Any) -> None:
    _event(table.review, actor, "table deleted", title=table.title)
    table.delete()


@transaction.atomic
def sof_row_add(*, table: SofTable, assessment: CertaintyAssessment, actor: Any) -> SofRow:
    """Add a rated outcome at the bottom of the table."""
    if assessment.review_id != table.review_id:
        raise DomainError("That assessment belongs to another review.")
    if table.rows.filter(assessment=assessment).exists():
        raise ConflictError(f"“{assessment.outcome}” is already in this table.")
    position = table.rows.aggregate(m=Max("position"))["m"]
    row = SofRow.objects.create(table=table, assessment=assessment, position=(position or 0) + 1)
    _event(table.review, actor, "row added", table=table, outcome=assessment.outcome)
    return row


def _clean_row(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(SOF_ROW_FIELDS)
    if unknown:
        raise DomainError(f"Unknown row setting(s): {', '.join(sorted(unknown))}.")
    out = dict(values)
    for name in ("timepoint", "scale_name", "comments"):
        if name in out:
            out[name] = (out[name] or "").strip()
    risk = out.get("assumed_risk")
    if risk is not None and not (0 <= risk <= 1000 and math.isfinite(risk)):
        raise DomainError("The assumed risk is per 1,000: 0 to 1,000.", field="assumed_risk")
    sd = out.get("scale_sd")
    if sd is not None and not (sd > 0 and math.isfinite(sd)):
        raise DomainError("The SD of the scale must be above 0.", field="scale_sd")
    if bool(out.get("scale_sd")) != bool(out.get("scale_name")) and (
        "scale_sd" in out or "scale_name" in out
    ):
        raise DomainError("Give both the scale's name and its SD (or neither).", field="scale_name")
    return out


@transaction.atomic
def sof_row_save(*, row: SofRow, actor: Any, values: Mapping[str, Any]) -> SofRow:
    """Change what a row prints: timepoint, typed control risk, named scale, comments."""
    clean = _clean_row(values)
    changes = {k: [getattr(row, k), v] for k, v in clean.items() if getattr(row, k) != v}
    for name, value in clean.items():
        setattr(row, name, value)
    row.save()
    if changes:
        _event(
            row.table.review,
            actor,
            "row changed",
            table=row.table,
            outcome=row.assessment.outcome,
            **changes,
        )
    return row


@transaction.atomic
def sof_row_move(*, row: SofRow, actor: Any, offset: int) -> None:
    """Move a row up (−1) or down (+1); the table's order is renumbered 1..n."""
    rows = list(row.table.rows.select_for_update().order_by("position", "id"))
    i = next(i for i, r in enumerate(rows) if r.pk == row.pk)
    j = max(0, min(len(rows) - 1, i + offset))
    if i == j:
        return
    rows.insert(j, rows.pop(i))
    for pos, r in enumerate(rows, start=1):
        r.position = pos
    SofRow.objects.bulk_update(rows, ["position"])
    _event(
        row.table.review,
        actor,
        "row moved",
        table=row.table,
        outcome=row.assessment.outcome,
        position=[i + 1, j + 1],
    )


@transaction.atomic
def sof_row_remove(*, row: SofRow, actor: Any) -> None:
    _event(row.table.review, actor, "row removed", table=row.table, outcome=row.assessment.outcome)
    row.delete()
