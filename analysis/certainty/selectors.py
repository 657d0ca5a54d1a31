"""Reads of GRADE certainty: the evidence an analysis gives the rules, assessments, SoF tables.

:func:`evidence_for` turns an analysis' report (served from the report cache) into the
rules' plain :class:`~analysis.certainty.rules.Evidence`: each pooled study's weight, its
RoB 2 consensus *for the result pooled* (per outcome when the review assesses per
outcome, else per study), its design (a ``study_design``/``design`` answer of the
extraction form), the low-risk-only fit, Egger's test and trim-and-fill. The same numbers,
rounded, are the assessment's snapshot; their SHA-256 tells whether the data changed
since the lead rated it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet

from reviews.models import Review

from .. import data
from ..models import Analysis
from ..report import ReportInputError, StudyEffect, fit_effects
from ..selectors import analyses_for, analysis_report
from ..stats import StatsInputError
from . import absolute, rules
from .models import CertaintyAssessment, CertaintyDomain, CertaintyEvent, SofRow, SofTable

# Form fields read as the study design, and words that mark a non-randomised design
DESIGN_KEYS = ("study_design", "design")
NON_RANDOMISED_WORDS = (
    "non-random",
    "nonrandom",
    "not random",
    "quasi",
    "observational",
    "cohort",
    "case-control",
    "case control",
    "before-after",
    "before and after",
    "interrupted time",
    "uncontrolled",
)
ROB_SEVERITY = {"low": 0, "some_concerns": 1, "high": 2}


def randomised_from(value: Any) -> bool | None:
    """True/False from a design answer ("Randomised controlled trial", "Cohort study");
    None when there is no answer or it names neither."""
    if value is None:
        return None
    text = " ".join(value) if isinstance(value, list | tuple) else str(value)
    text = text.casefold()
    if not text.strip():
        return None
    if any(word in text for word in NON_RANDOMISED_WORDS):
        return False
    if "random" in text or "rct" in text.split():
        return True
    return None


@dataclass(frozen=True)
class EvidenceContext:
    """What the rules were given for one analysis, and what they suggested."""

    analysis: Analysis
    evidence: rules.Evidence | None
    problem: str  # why there is no evidence (not pooled)
    thresholds: tuple[float, ...] = ()
    suggestions: dict[str, rules.Suggestion] = field(default_factory=dict)
    start: tuple[int, str] = (rules.HIGH, "")
    large_effect: int = 0
    participants: int | None = None
    k: int = 0
    control_risk: float | None = None  # from the control arms (proportion)
    inputs: dict[str, Any] = field(default_factory=dict)
    inputs_hash: str = ""

    @property
    def ok(self) -> bool:
        return self.evidence is not None


def _round(x: Any) -> Any:
    """Ten significant digits: the same data hashes the same across platforms."""
    if isinstance(x, float):
        return float(f"{x:.10g}") if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_round(v) for v in x]
    return x


def _outcome_name(row: data.EffectInput) -> str:
    return f"{row.outcome} ({row.instrument})" if row.instrument else row.outcome


def _result_rob(
    effect: StudyEffect, rows: Sequence[data.EffectInput], rob: dict[int, data.RobJudgement]
) -> str:
    """The RoB 2 consensus of the result a study contributes: with per-outcome assessment
    the most severe over the outcomes pooled ("" if one is not assessed), else the study's."""
    judgement = rob.get(effect.study_id)
    if judgement is None:
        return ""
    if not judgement.outcomes:
        return judgement.overall
    names = set(effect.outcome.split("; "))
    ids = {r.outcome_id for r in rows if _outcome_name(r) in names} or {r.outcome_id for r in rows}
    found = [judgement.outcomes.get(i, "") for i in ids]
    if not found or "" in found:
        return ""
    return max(found, key=ROB_SEVERITY.__getitem__)


def _pooled(numbers: Any) -> rules.Pooled:
    return rules.Pooled(numbers.estimate, numbers.ci_low, numbers.ci_high, numbers.k)


def _thresholds(measure: str, typed: Iterable[float] | None) -> tuple[float, ...]:
    typed = tuple(float(t) for t in (typed or ()))
    return tuple(sorted(typed)) if typed else rules.default_thresholds(measure)


def evidence_for(
    analysis: Analysis,
    *,
    thresholds: Iterable[float] | None = None,
    reads: data.ReviewReads | None = None,
) -> EvidenceContext:
    """The rules' input and suggestions for the analysis' current consensus data.
    ``reads``: the review's data, read once for all the analyses of a page."""
    if reads is None:
        reads = data.ReviewReads(analysis.review)
    try:
        report, ad = analysis_report(analysis, reads=reads)
    except ReportInputError as exc:
        return EvidenceContext(analysis, None, str(exc))
    main = report.main
    if main is None:
        row = report.row("all")
        return EvidenceContext(analysis, None, row.note or "not pooled", k=row.k)
    settings = report.settings
    measure = settings.measure
    effects = ad.input.main.effects
    by_study: dict[int, list[data.EffectInput]] = {}
    for r in ad.main_rows:
        by_study.setdefault(r.study_id, []).append(r)
    rob = reads.rob
    studies = []
    for e, weight in zip(effects, main.weights, strict=True):
        rows = by_study.get(e.study_id, [])
        design = next((r.fields.get(k) for r in rows for k in DESIGN_KEYS if r.fields.get(k)), None)
        n = (
            e.n_intervention + e.n_control
            if e.n_intervention is not None and e.n_control is not None
            else None
        )
        studies.append(
            rules.StudyInput(
                e.label,
                e.yi,
                e.vi,
                weight,
                _result_rob(e, rows, rob),
                randomised_from(design) is not False,
                n,
            )
        )
    low = [e for e, s in zip(effects, studies, strict=True) if s.rob == "low"]
    low_fit = None
    if 2 <= len(low) < len(effects):
        try:
            low_fit = _pooled(fit_effects(low, settings))
        except StatsInputError:
            low_fit = None
    elif len(low) == len(effects):
        low_fit = _pooled(main)
    trimfill = None
    try:
        tf_row = report.row("trimfill")
        trimfill = _pooled(tf_row.numbers) if tf_row.numbers else None
    except KeyError:
        pass
    with_events = [e for e in effects if e.events is not None and e.n_control]
    control_risk = (
        sum(e.events[1] for e in with_events) / sum(e.n_control for e in with_events)  # type: ignore[index, misc]
        if with_events
        else None
    )
    evidence = rules.Evidence(
        measure=measure,
        main=_pooled(main),
        studies=tuple(studies),
        pi_low=main.pi_low,
        pi_high=main.pi_high,
        I2=main.I2,
        I2_low=main.I2_qprofile_ci_low,
        I2_high=main.I2_qprofile_ci_high,
        low_risk_only=low_fit,
        egger_p=report.egger.p if report.egger else None,
        trimfill=trimfill,
        trimfill_k0=report.trimfill_k0,
        control_risk=control_risk,
    )
    chosen = _thresholds(measure, thresholds)
    designs = [
        randomised_from(
            next((r.fields.get(k) for r in by_study.get(e.study_id, []) for k in DESIGN_KEYS), None)
        )
        for e in effects
    ]
    start = rules.starting_level(designs)
    if all(d is None for d in designs):
        start = (rules.HIGH, "no study design answer: taken as randomised trials (RoB 2)")
    inputs = _round(
        {
            "evidence": asdict(evidence),
            "thresholds": list(chosen),
            "start": list(start),
            "settings": asdict(settings),
        }
    )
    digest = hashlib.sha256(
        json.dumps(inputs, sort_keys=True, ensure_ascii=True).encode()
    ).hexdigest()
    total = evidence.total_n
    return EvidenceContext(
        analysis=analysis,
        evidence=evidence,
        problem="",
        thresholds=chosen,
        suggestions=rules.suggest(evidence, chosen),
        start=start,
        large_effect=rules.large_effect(evidence),
        participants=round(total) if total is not None else None,
        k=main.k,
        control_risk=control_risk,
        inputs=inputs,
        inputs_hash=digest,
    )


# --------------------------------------------------------------------------- assessments


def assessments_for(review: Review) -> QuerySet[CertaintyAssessment]:
    return (
        CertaintyAssessment.objects.filter(review=review)
        .select_related("analysis__window", "confirmed_by")
        .prefetch_related(Prefetch("domains", queryset=CertaintyDomain.objects.order_by("id")))
    )


def assessment_of(analysis: Analysis) -> CertaintyAssessment | None:
    return assessments_for(analysis.review).filter(analysis=analysis).first()


@dataclass(frozen=True)
class DomainLine:
    """One domain on the page: the suggestion now, the lead's final rating (if rated)."""

    key: str
    label: str
    suggestion: rules.Suggestion
    final: str = ""
    reason: str = ""
    rated_suggestion: str = ""  # what the rules said when the lead confirmed

    @property
    def overridden(self) -> bool:
        return bool(self.final) and self.final != self.suggestion.rating

    @property
    def suggested_label(self) -> str:
        return rules.RATINGS[self.suggestion.rating]

    @property
    def final_label(self) -> str:
        return rules.RATINGS.get(self.final, "")


@dataclass(frozen=True)
class AssessmentView:
    context: EvidenceContext
    assessment: CertaintyAssessment | None
    lines: tuple[DomainLine, ...]
    stale: bool

    @property
    def certainty_label(self) -> str:
        return rules.certainty_label(self.assessment.certainty) if self.assessment else ""


def assessment_view(analysis: Analysis) -> AssessmentView:
    """The current suggestions beside the stored assessment; stale when the data changed."""
    return assessment_view_of(analysis, assessment_of(analysis))


def assessment_view_of(
    analysis: Analysis,
    assessment: CertaintyAssessment | None,
    *,
    reads: data.ReviewReads | None = None,
) -> AssessmentView:
    """:func:`assessment_view` of an assessment already read (None: not rated)."""
    ctx = evidence_for(
        analysis, thresholds=assessment.thresholds if assessment else None, reads=reads
    )
    stored = {d.domain: d for d in assessment.domains.all()} if assessment else {}
    lines = []
    for key, label in rules.DOMAINS.items():
        suggestion = ctx.suggestions.get(key) or rules.Suggestion(key, rules.NO_CONCERN, "")
        d = stored.get(key)
        lines.append(
            DomainLine(
                key,
                label,
                suggestion,
                d.final if d else "",
                d.reason if d else "",
                d.suggested if d else "",
            )
        )
    stale = bool(assessment) and (not ctx.ok or ctx.inputs_hash != assessment.inputs_hash)
    return AssessmentView(ctx, assessment, tuple(lines), stale)


@dataclass(frozen=True)
class IndexLine:
    analysis: Analysis
    view: AssessmentView


def certainty_index(review: Review) -> list[IndexLine]:
    """Every analysis of the review with its assessment (if any) and whether it is stale."""
    stored = {a.analysis_id: a for a in assessments_for(review)}
    reads = data.ReviewReads(review)
    return [
        IndexLine(a, assessment_view_of(a, stored.get(a.pk), reads=reads))
        for a in analyses_for(review)
    ]


def events_for(review: Review, *, limit: int = 50) -> QuerySet[CertaintyEvent]:
    return CertaintyEvent.objects.filter(review=review).select_related("actor", "assessment")[
        :limit
    ]


# --------------------------------------------------------------------------- SoF tables


def sof_tables_for(review: Review) -> QuerySet[SofTable]:
    # Through the related manager each table's .review is this instance (no query each).
    return review.sof_tables.all()


@dataclass(frozen=True)
class Footnote:
    mark: str
    text: str


@dataclass(frozen=True)
class SofLine:
    """One outcome of a SoF table, as the table prints it."""

    row: SofRow
    outcome: str
    timepoint: str
    measure: str
    participants: str  # "1,234 (8 RCTs)"
    relative: str  # "RR 0.75 (0.60 to 0.94)" or ""
    assumed: str  # "300 per 1,000"
    corresponding: str  # "225 per 1,000 (180 to 282)"
    difference: str  # "75 fewer per 1,000 (from 120 fewer to 18 fewer)"
    continuous: str  # SMD/MD text with its interpretation
    back_transformed: str
    certainty: str  # symbols and words, "" when not rated
    certainty_level: int | None
    marks: tuple[str, ...]
    statement: str
    comments: str
    stale: bool
    problem: str = ""
    absolute: absolute.Absolute | None = None
    assumed_source: str = ""


@dataclass(frozen=True)
class SofView:
    table: SofTable
    lines: tuple[SofLine, ...]
    footnotes: tuple[Footnote, ...]

    @property
    def any_stale(self) -> bool:
        return any(line.stale for line in self.lines)


def sof_rows_for(table: SofTable) -> QuerySet[SofRow]:
    return table.rows.select_related("assessment__analysis__window", "assessment").prefetch_related(
        Prefetch("assessment__domains", queryset=CertaintyDomain.objects.order_by("id")),
        "assessment__analysis__long_term_windows",
    )


def _marks() -> Iterable[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        q, r = divmod(n, 26)
        yield letters[r] * (q + 1)
        n += 1


def _participants(ctx: EvidenceContext) -> str:
    designs = ctx.evidence.studies if ctx.evidence else ()
    randomised = all(s.randomised for s in designs)
    kind = (
        ("RCT" if randomised else "study") if ctx.k == 1 else ("RCTs" if randomised else "studies")
    )
    n = f"{ctx.participants:,}" if ctx.participants is not None else "not reported"
    return f"{n} ({ctx.k} {kind})"


def sof_view(table: SofTable, *, reads: data.ReviewReads | None = None) -> SofView:
    """The table's rows with relative and absolute effects, certainty and footnotes.
    ``reads``: the review's data, shared by the tables of one page."""
    lines: list[SofLine] = []
    footnotes: list[Footnote] = []
    marks = _marks()
    review = table.review
    if reads is None:
        reads = data.ReviewReads(review)
    for row in sof_rows_for(table):
        a = row.assessment
        a.review = a.analysis.review = review  # one instance: no query per row
        view = assessment_view_of(a.analysis, a, reads=reads)
        ctx = view.context
        outcome = a.outcome
        timepoint = row.timepoint or a.analysis.window.label
        measure = a.analysis.effect_measure
        if not ctx.ok:
            lines.append(
                SofLine(
                    row,
                    outcome,
                    timepoint,
                    measure,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    None,
                    (),
                    "",
                    row.comments,
                    True,
                    ctx.problem,
                )  # fmt: skip
            )
            continue
        ev = ctx.evidence
        assert ev is not None
        est = rules.to_natural(measure, ev.main.estimate)
        lo = rules.to_natural(measure, ev.main.ci_low)
        hi = rules.to_natural(measure, ev.main.ci_high)
        assert est is not None and lo is not None and hi is not None
        relative = assumed = corresponding = difference = continuous = back = source = ""
        absolute_effect = None
        if measure in rules.DICHOTOMOUS:
            if measure in rules.RATIOS:
                relative = f"{measure} {rules.fmt(est)} ({rules.fmt(lo)} to {rules.fmt(hi)})"
            if row.assumed_risk is not None:
                acr, source = row.assumed_risk, "typed by the lead"
            elif ctx.control_risk is not None:
                acr, source = 1000 * ctx.control_risk, "risk in the control arms"
            else:
                acr = None
            if acr is not None:
                absolute_effect = absolute.absolute_effect(measure, acr, est, lo, hi)
                assumed = f"{absolute.fmt_per_1000(acr)} per 1,000"
                corresponding = (
                    f"{absolute.fmt_per_1000(absolute_effect.corresponding)} per 1,000 "
                    f"({absolute.fmt_per_1000(absolute_effect.corresponding_low)} to "
                    f"{absolute.fmt_per_1000(absolute_effect.corresponding_high)})"
                )
                difference = absolute.difference_text(absolute_effect)
        elif measure == "SMD":
            continuous = absolute.smd_text(est, lo, hi)
            if row.scale_sd and row.scale_name:
                back = absolute.back_transform(est, lo, hi, row.scale_sd, row.scale_name)[3]
        else:
            continuous = absolute.md_text(est, lo, hi)
        row_marks: list[str] = []
        for d in a.domains.all():
            if d.final == rules.NO_CONCERN:
                continue
            mark = next(marks)
            row_marks.append(mark)
            levels = "one level" if d.final == rules.SERIOUS else "two levels"
            why = d.reason or f"{d.rule}" + (
                " (" + "; ".join(f"{k} {v}" for k, v in d.numbers.items()) + ")"
                if d.numbers
                else ""
            )
            footnotes.append(
                Footnote(
                    mark,
                    f"{rules.DOMAINS[d.domain]}: rated down {levels} ({d.get_final_display().lower()}): {why}",
                )
            )
        if view.stale:
            mark = next(marks)
            row_marks.append(mark)
            footnotes.append(
                Footnote(
                    mark,
                    "Data changed since rated: the extraction, RoB 2 or the analysis changed "
                    "after the lead confirmed this certainty.",
                )
            )
        lines.append(
            SofLine(
                row=row,
                outcome=outcome,
                timepoint=timepoint,
                measure=measure,
                participants=_participants(ctx),
                relative=relative,
                assumed=assumed,
                corresponding=corresponding,
                difference=difference,
                continuous=continuous,
                back_transformed=back,
                certainty=rules.certainty_label(a.certainty),
                certainty_level=a.certainty,
                marks=tuple(row_marks),
                statement=a.statement,
                comments=row.comments,
                stale=view.stale,
                absolute=absolute_effect,
                assumed_source=source,
            )
        )
    return SofView(table, tuple(lines), tuple(footnotes))


def analyses_not_in(table: SofTable) -> QuerySet[CertaintyAssessment]:
    """Rated analyses the table does not list yet (for "add a row")."""
    return assessments_for(table.review).exclude(sof_rows__table=table)
