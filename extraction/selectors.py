"""Reads of the extraction app, including what the analysis app consumes.

`consensus_effect_sizes` is the one door from extraction to analysis: only
consensus extractions are read, and every included study that yields no effect
size under the requested filters is listed with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from reviews.models import Record, Review

from .effects import MISSING_REASONS, ArmInput, BlockInput, BlockResult, compute_block
from .models import (
    Extraction,
    ExtractionKind,
    ExtractionSettings,
    ExtractionStatus,
    FormTemplate,
    MultiArmRule,
    Outcome,
    OutcomeData,
    Study,
    Timepoint,
)
from .schema import display_value, is_empty
from .values import ARM_ATTRS, COMPARISON_ATTRS


def included_full_text_records(review: Review) -> QuerySet[Record]:
    """Records included at full text (screening's resolution), duplicates left out.

    The one place that knows how screening records full-text inclusion.
    """
    return Record.objects.filter(
        review=review,
        duplicate_of__isnull=True,
        resolutions__stage="ft",
        resolutions__decision="include",
    ).distinct()


def settings_of(review: Review) -> ExtractionSettings:
    """The review's extraction settings, read fresh (defaults if never saved)."""
    return ExtractionSettings.objects.filter(review=review).first() or ExtractionSettings(
        review=review
    )


def current_template(review: Review) -> FormTemplate | None:
    return review.form_templates.order_by("-version").first()


def studies_for(review: Review) -> QuerySet[Study]:
    """Studies with their reports and extraction progress, for the study list."""
    return (
        review.studies.prefetch_related("reports__record")
        .prefetch_related(
            Prefetch(
                "extractions",
                queryset=Extraction.objects.select_related("extractor").order_by("created_at"),
            )
        )
        .annotate(
            n_submitted=Count(
                "extractions",
                filter=Q(extractions__kind=ExtractionKind.INDEPENDENT)
                & Q(extractions__status=ExtractionStatus.SUBMITTED),
                distinct=True,
            )
        )
    )


def study_counts(review: Review) -> dict[str, int]:
    """(studies included, reports of included studies, extraction progress) for PRISMA/dashboard."""
    studies = review.studies.all()
    return {
        "studies": studies.count(),
        "reports": Record.objects.filter(study_report__study__review=review).count(),
        "consensus": studies.filter(
            extractions__kind=ExtractionKind.CONSENSUS,
            extractions__status=ExtractionStatus.SUBMITTED,
        ).count(),
    }


def prisma_included(review: Review) -> tuple[int, int]:
    """PRISMA's "studies included in review" and "reports of included studies"."""
    counts = study_counts(review)
    return counts["studies"], counts["reports"]


def prisma_included_provider(review: Review) -> tuple[int, int] | None:
    """For screening's PRISMA registry: None until the review has studies."""
    if not review.studies.exists():
        return None
    return prisma_included(review)


def consensus_data_version(review: Review) -> str:
    """Changes whenever consensus data that analysis reads changes (a cache key)."""
    consensus = Extraction.objects.filter(study__review=review, kind=ExtractionKind.CONSENSUS)
    agg = consensus.aggregate(
        n=Count("id"),
        last=Max("updated_at"),
        data_last=Max("data__updated_at"),
    )
    settings = settings_of(review)
    structure = review.studies.aggregate(
        n_outcomes=Count("outcomes", distinct=True),
        n_timepoints=Count("timepoints", distinct=True),
        n_arms=Count("arms", distinct=True),
    )
    parts = [
        agg["n"],
        agg["last"].isoformat() if agg["last"] else "-",
        agg["data_last"].isoformat() if agg["data_last"] else "-",
        settings.multi_arm_rule,
        settings.updated_at.isoformat() if settings.updated_at else "-",
        *structure.values(),
    ]
    return ":".join(str(p) for p in parts)


# --- extraction contents as flat cells ----------------------------------------------------


def extraction_cells(extraction: Extraction) -> dict[str, Any]:
    """Every answer and number of an extraction as `key -> value`.

    Keys: ``f:<field key>`` for form answers, ``d:<outcome>:<timepoint>:<attr>`` for
    comparison-level values and the analysis population, ``a:<outcome>:<timepoint>:
    <arm>:<attr>`` for arm values. Empty values are left out.
    """
    cells: dict[str, Any] = {
        f"f:{key}": value for key, value in extraction.answers.items() if not is_empty(value)
    }
    for data in extraction.data.prefetch_related("arm_values"):
        base = f"{data.outcome_id}:{data.timepoint_id}"
        cells[f"d:{base}:population"] = data.population
        for attr in COMPARISON_ATTRS:
            if getattr(data, attr) is not None:
                cells[f"d:{base}:{attr}"] = getattr(data, attr)
        for value in data.arm_values.all():
            for attr in ARM_ATTRS:
                if getattr(value, attr) is not None:
                    cells[f"a:{base}:{value.arm_id}:{attr}"] = getattr(value, attr)
    return cells


def block_input(
    data: OutcomeData | None, arms: Iterable, outcome: Outcome, rule: str
) -> BlockInput:
    """The effect-size input of one OutcomeData row (arm values prefetched)."""
    values = {v.arm_id: v for v in data.arm_values.all()} if data else {}
    arm_inputs = []
    for arm in arms:
        v = values.get(arm.pk)
        arm_inputs.append(
            ArmInput(
                arm.pk,
                arm.name,
                arm.role,
                **({attr: getattr(v, attr) for attr in ARM_ATTRS} if v else {}),
            )
        )
    comparison = {attr: getattr(data, attr) for attr in COMPARISON_ATTRS} if data else {}
    return BlockInput(
        arms=tuple(arm_inputs), direction=outcome.direction, multi_arm_rule=rule, **comparison
    )


# --- what analysis reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class EffectRow:
    """One consensus effect size: a study × outcome × timepoint (× comparison if split)."""

    study_id: int
    study_label: str
    outcome_id: int
    outcome: str
    domain: str
    subdomain: str
    instrument: str
    direction: str
    preferred_rank: int | None  # 0 = the subdomain's most preferred instrument; None = unlisted
    timepoint_id: int
    timepoint: str
    weeks: float
    timepoint_kind: str  # "post" or "follow_up"
    comparison: str
    yi: float  # Hedges' g, positive favours the intervention
    vi: float
    n_intervention: float | None
    n_control: float | None
    population: str  # "itt", "completers" or "unclear"
    method: str
    steps: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)  # consensus form answers by key
    events: tuple[float, float] | None = None  # events per arm (intervention, control)
    means: tuple[float, float, float, float] | None = None  # mean, SD per arm


@dataclass(frozen=True)
class MissingRow:
    """An included study (or one of its outcomes/timepoints) left out, and why."""

    study_id: int
    study_label: str
    reason: str  # a key of extraction.effects.MISSING_REASONS
    reason_label: str
    detail: str = ""
    outcome: str = ""
    timepoint: str = ""


@dataclass(frozen=True)
class ConsensusEffects:
    rows: tuple[EffectRow, ...]
    missing: tuple[MissingRow, ...]
    field_labels: dict[str, str]  # form field key -> label (current template)
    field_choices: dict[str, list[str]]  # choice fields (candidate subgroup variables)
    version: str  # consensus_data_version at read time


def _matches(outcome: Outcome, domain: str | None, subdomain: str | None) -> bool:
    sub = outcome.subdomain
    if subdomain is not None and (sub is None or sub.name.casefold() != subdomain.casefold()):
        return False
    return not (
        domain is not None and (sub is None or sub.domain.name.casefold() != domain.casefold())
    )


def _in_window(
    tp: Timepoint, kind: str | None, weeks_min: float | None, weeks_max: float | None
) -> bool:
    if kind is not None and tp.kind != kind:
        return False
    if weeks_min is not None and tp.weeks < weeks_min:
        return False
    return not (weeks_max is not None and tp.weeks > weeks_max)


@dataclass(frozen=True)
class ConsensusSource:
    """What :func:`consensus_effect_sizes` reads from the database, read once.

    A page that lists many analyses of one review (certainty, Summary of Findings) selects
    different outcomes and windows from the same studies: it reads them once here and
    passes the source to every call, so its query count does not grow with the analyses.
    """

    rule: str
    template: FormTemplate | None
    studies: tuple[Study, ...]  # arms, timepoints, outcomes and consensus data prefetched
    version: str


def consensus_source(review: Review) -> ConsensusSource:
    """The review's studies with everything an effect size is computed from."""
    studies = review.studies.prefetch_related(
        "arms",
        "timepoints",
        Prefetch(
            "outcomes",
            queryset=Outcome.objects.select_related("subdomain__domain").order_by("position", "id"),
        ),
        Prefetch(
            "extractions",
            queryset=Extraction.objects.filter(
                kind=ExtractionKind.CONSENSUS, status=ExtractionStatus.SUBMITTED
            ).prefetch_related("data__arm_values"),
            to_attr="consensus_list",
        ),
    ).order_by("label", "id")
    return ConsensusSource(
        rule=settings_of(review).multi_arm_rule or MultiArmRule.COMBINE,
        template=current_template(review),
        studies=tuple(studies),
        version=consensus_data_version(review),
    )


def consensus_effect_sizes(
    review: Review,
    *,
    domain: str | None = None,
    subdomain: str | None = None,
    timepoint_kind: str | None = None,
    weeks_min: float | None = None,
    weeks_max: float | None = None,
    study_filters: dict[str, Any] | None = None,
    source: ConsensusSource | None = None,
) -> ConsensusEffects:
    """Consensus Hedges' g per study × outcome × timepoint, and the studies left out.

    Parameters
    ----------
    domain, subdomain
        Outcome domain / subdomain names (case-insensitive); None = any.
    timepoint_kind
        "post" or "follow_up"; None = any.
    weeks_min, weeks_max
        Inclusive window on weeks after baseline.
    study_filters
        Consensus form answers a study must have, ``{field key: value}``; for a
        multiple-choice field the value must be among the answers.
    source
        The review's studies read by :func:`consensus_source` (read here when None).

    Every study of the review appears either in ``rows`` or in ``missing``
    (possibly both, e.g. one outcome computed and another missing an SD).
    """
    if source is None:
        source = consensus_source(review)
    rule, template = source.rule, source.template
    rows: list[EffectRow] = []
    missing: list[MissingRow] = []
    for study in source.studies:
        consensus = study.consensus_list[0] if study.consensus_list else None
        if consensus is None:
            missing.append(
                MissingRow(study.pk, study.label, "no_consensus", MISSING_REASONS["no_consensus"])
            )
            continue
        answers = dict(consensus.answers)
        if study_filters and not _passes(answers, study_filters):
            continue
        outcomes = [o for o in study.outcomes.all() if _matches(o, domain, subdomain)]
        timepoints = [
            t for t in study.timepoints.all() if _in_window(t, timepoint_kind, weeks_min, weeks_max)
        ]
        if not outcomes:
            missing.append(
                MissingRow(study.pk, study.label, "no_outcome", MISSING_REASONS["no_outcome"])
            )
            continue
        data_by_key = {(d.outcome_id, d.timepoint_id): d for d in consensus.data.all()}
        arms = list(study.arms.all())
        study_rows_before = len(rows)
        study_missing: list[MissingRow] = []
        for outcome in outcomes:
            for tp in timepoints:
                data = data_by_key.get((outcome.pk, tp.pk))
                result: BlockResult = compute_block(block_input(data, arms, outcome, rule))
                if result.missing:
                    study_missing.append(
                        MissingRow(
                            study.pk,
                            study.label,
                            result.missing,
                            result.reason,
                            result.detail,
                            str(outcome),
                            tp.label,
                        )
                    )
                    continue
                sub = outcome.subdomain
                for est in result.estimates:
                    rows.append(
                        EffectRow(
                            study_id=study.pk,
                            study_label=study.label,
                            outcome_id=outcome.pk,
                            outcome=outcome.name,
                            domain=sub.domain.name if sub else "",
                            subdomain=sub.name if sub else "",
                            instrument=outcome.instrument,
                            direction=outcome.direction,
                            preferred_rank=sub.preference_rank(outcome.instrument) if sub else None,
                            timepoint_id=tp.pk,
                            timepoint=tp.label,
                            weeks=tp.weeks,
                            timepoint_kind=tp.kind,
                            comparison=est.comparison,
                            yi=est.yi,
                            vi=est.vi,
                            n_intervention=est.n_intervention,
                            n_control=est.n_control,
                            population=data.population if data else "unclear",
                            method=est.method,
                            steps=est.steps,
                            fields=answers,
                            events=est.events,
                            means=est.means,
                        )
                    )
        if not timepoints:
            study_missing.append(
                MissingRow(
                    study.pk,
                    study.label,
                    "no_data",
                    MISSING_REASONS["no_data"],
                    "no timepoint in this window",
                )
            )
        if len(rows) == study_rows_before and study_missing:
            # Nothing usable: report the study once per distinct reason.
            seen = set()
            for m in study_missing:
                if m.reason not in seen:
                    seen.add(m.reason)
                    missing.append(m)
        else:
            missing.extend(m for m in study_missing if m.reason != "no_data")
    fields = template.fields() if template else []
    return ConsensusEffects(
        rows=tuple(rows),
        missing=tuple(missing),
        field_labels={f["key"]: f["label"] for f in fields},
        field_choices={f["key"]: list(f["choices"]) for f in fields if "choices" in f},
        version=source.version,
    )


def _passes(answers: dict[str, Any], filters: dict[str, Any]) -> bool:
    for key, wanted in filters.items():
        value = answers.get(key)
        if isinstance(value, list):
            if wanted not in value:
                return False
        elif value != wanted:
            return False
    return True


# --- pages -------------------------------------------------------------------------------------


def outcome_table(review: Review) -> list[dict[str, Any]]:
    """Rows of the review's outcome table: consensus data only, with g or the reason for none."""
    result = consensus_effect_sizes(review)
    table: list[dict[str, Any]] = [
        {"kind": "row", "row": row, "ci": _ci(row.yi, row.vi)} for row in result.rows
    ]
    table += [{"kind": "missing", "row": m} for m in result.missing]
    table.sort(key=lambda r: (r["row"].study_label, r["row"].outcome, r["kind"]))
    return table


def _ci(yi: float, vi: float) -> tuple[float, float]:
    se = vi**0.5
    return yi - 1.959964 * se, yi + 1.959964 * se


def answers_display(template: FormTemplate, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Sections with (label, value) for read-only display; retired fields listed last."""
    out = []
    known = set()
    for section in template.schema["sections"]:
        items = []
        for f in section["fields"]:
            known.add(f["key"])
            items.append({"field": f, "value": display_value(f, answers.get(f["key"]))})
        out.append({"title": section["title"], "items": items})
    retired = [
        {"field": {"key": k, "label": k}, "value": display_value(None, v)}
        for k, v in answers.items()
        if k not in known and not is_empty(v)
    ]
    if retired:
        out.append({"title": "Answers to fields no longer in the form", "items": retired})
    return out
