"""Reads of RoB 2 assessments: pages, the consensus comparison, figures and analysis.

`consensus_rob` is the door to the analysis app (risk-of-bias sensitivity
analyses): only *final* consensus judgements are read. Blinding is enforced
here too: nothing in this module returns an independent assessment's answers
or judgements except to its own assessor, or once both assessments are in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Prefetch, Q

from reviews.models import Review

from ..models import Extraction, ExtractionKind, ExtractionStatus, OutcomeData, Study
from .algorithm import (
    ANSWER_LABELS,
    DOMAIN_BY_ID,
    DOMAINS,
    JUDGEMENT_LABELS,
    Proposal,
    Question,
    Rob2Error,
    effective_answers,
    propose_domain,
    propose_overall,
    questions_for,
)
from .models import (
    RobAssessment,
    RobChange,
    RobDomain,
    RobKind,
    RobSettings,
    RobStatus,
    RobTarget,
    RobUnit,
)

__all__ = [
    "AssessmentView",
    "MissingDataEvidence",
    "assessment_view",
    "consensus_comparison",
    "consensus_rob",
    "consensus_rob_version",
    "figure_data",
    "missing_data_evidence",
    "rob_overview",
    "rob_settings_of",
    "visible_history",
]

_SEVERITY = {"low": 0, "some_concerns": 1, "high": 2}


def rob_settings_of(review: Review) -> RobSettings:
    """The review's RoB settings (defaults if never saved)."""
    return RobSettings.objects.filter(review=review).first() or RobSettings(review=review)


def both_submitted(target: RobTarget) -> bool:
    return (
        target.assessments.filter(kind=RobKind.INDEPENDENT, status=RobStatus.SUBMITTED).count() >= 2
    )


# --- one assessment as the page shows it ---------------------------------------------------


@dataclass(frozen=True)
class QuestionView:
    question: Question
    answer: str
    support: str
    options: tuple[tuple[str, str], ...]  # (code, label)


@dataclass(frozen=True)
class DomainView:
    id: str
    name: str
    short_name: str
    questions: tuple[QuestionView, ...]
    not_applicable: tuple[Question, ...]
    answered: int
    complete: bool
    next_question: str  # id of the first unanswered applicable question
    proposal: Proposal | None
    judgement: str
    override: str
    justification: str
    direction: str


@dataclass(frozen=True)
class OverallView:
    proposal: Proposal | None
    judgement: str
    override: str
    justification: str

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.proposal and self.proposal.needs_confirmation and not self.override)


@dataclass(frozen=True)
class AssessmentView:
    assessment: RobAssessment
    domains: tuple[DomainView, ...]
    overall: OverallView

    @property
    def complete(self) -> bool:
        return all(d.complete for d in self.domains) and bool(self.overall.judgement)

    @property
    def answered(self) -> int:
        return sum(d.answered for d in self.domains)

    @property
    def applicable(self) -> int:
        return sum(len(d.questions) for d in self.domains)


def _options(q: Question) -> tuple[tuple[str, str], ...]:
    return tuple((code, ANSWER_LABELS[code]) for code in q.options)


def domain_view(row: RobDomain | None, domain_id: str) -> DomainView:
    domain = DOMAIN_BY_ID[domain_id]
    answers = dict(row.answers) if row else {}
    support = dict(row.support) if row else {}
    applicable = questions_for(domain_id, answers)
    ids = {q.id for q in applicable}
    questions = tuple(
        QuestionView(q, answers.get(q.id, ""), support.get(q.id, ""), _options(q))
        for q in applicable
    )
    missing = [q.id for q in applicable if not answers.get(q.id)]
    proposal = None
    if not missing:
        try:
            proposal = propose_domain(domain_id, answers)
        except Rob2Error:
            proposal = None
    return DomainView(
        id=domain.id,
        name=domain.name,
        short_name=domain.short_name,
        questions=questions,
        not_applicable=tuple(q for q in domain.questions if q.id not in ids),
        answered=len(applicable) - len(missing),
        complete=proposal is not None,
        next_question=missing[0] if missing else "",
        proposal=proposal,
        judgement=row.judgement if row else "",
        override=row.override if row else "",
        justification=row.justification if row else "",
        direction=row.direction if row else "",
    )


def assessment_view(assessment: RobAssessment) -> AssessmentView:
    """Everything the assessment page shows, from the stored answers (algorithm re-run)."""
    rows = {d.domain: d for d in assessment.domains.all()}
    domains = tuple(domain_view(rows.get(d.id), d.id) for d in DOMAINS)
    proposal = None
    if all(d.judgement for d in domains):
        proposal = propose_overall({d.id: d.judgement for d in domains})
    overall = OverallView(
        proposal=proposal,
        judgement=assessment.overall_judgement,
        override=assessment.overall_override,
        justification=assessment.overall_justification,
    )
    return AssessmentView(assessment, domains, overall)


# --- consensus comparison ---------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRow:
    question: Question
    a: str  # effective answer ("NA" when the question did not apply for that assessor)
    b: str
    a_support: str
    b_support: str
    consensus: str
    consensus_support: str
    applies: bool  # applies given the consensus answers so far
    options: tuple[tuple[str, str], ...]

    @property
    def differs(self) -> bool:
        return self.a != self.b

    @property
    def resolved(self) -> bool:
        return bool(self.consensus) or not self.applies


@dataclass(frozen=True)
class CompareDomain:
    view: DomainView  # the consensus domain
    rows: tuple[CompareRow, ...]
    a_judgement: str
    b_judgement: str
    a_justification: str
    b_justification: str

    @property
    def n_differences(self) -> int:
        return sum(1 for r in self.rows if r.differs)

    @property
    def judgements_differ(self) -> bool:
        return self.a_judgement != self.b_judgement


@dataclass(frozen=True)
class Comparison:
    a: RobAssessment
    b: RobAssessment
    consensus: RobAssessment
    domains: tuple[CompareDomain, ...]
    overall: OverallView

    @property
    def n_differences(self) -> int:
        return sum(d.n_differences for d in self.domains)

    @property
    def complete(self) -> bool:
        return all(d.view.complete for d in self.domains) and bool(self.overall.judgement)

    @property
    def overall_differs(self) -> bool:
        return self.a.overall_judgement != self.b.overall_judgement


def _effective(domain_id: str, answers: dict[str, str]) -> dict[str, str]:
    try:
        return effective_answers(domain_id, answers)
    except Rob2Error:
        return dict(answers)


def consensus_comparison(consensus: RobAssessment) -> Comparison:
    """Both submitted assessments beside the consensus, question by question.

    Only call once both are submitted (the consensus exists only then).
    """
    target = consensus.target
    a, b = (
        target.assessments.filter(kind=RobKind.INDEPENDENT, status=RobStatus.SUBMITTED)
        .select_related("assessor")
        .prefetch_related("domains")
        .order_by("submitted_at", "id")[:2]
    )
    rows_a = {d.domain: d for d in a.domains.all()}
    rows_b = {d.domain: d for d in b.domains.all()}
    rows_c = {d.domain: d for d in consensus.domains.all()}
    view = assessment_view(consensus)
    domains = []
    for dv in view.domains:
        da, db, dc = rows_a.get(dv.id), rows_b.get(dv.id), rows_c.get(dv.id)
        ea = _effective(dv.id, da.answers if da else {})
        eb = _effective(dv.id, db.answers if db else {})
        applicable = {qv.question.id for qv in dv.questions}
        compare = []
        for q in DOMAIN_BY_ID[dv.id].questions:
            compare.append(
                CompareRow(
                    question=q,
                    a=ea.get(q.id, ""),
                    b=eb.get(q.id, ""),
                    a_support=(da.support if da else {}).get(q.id, ""),
                    b_support=(db.support if db else {}).get(q.id, ""),
                    consensus=(dc.answers if dc else {}).get(q.id, "")
                    if q.id in applicable
                    else "",
                    consensus_support=(dc.support if dc else {}).get(q.id, ""),
                    applies=q.id in applicable,
                    options=_options(q),
                )
            )
        domains.append(
            CompareDomain(
                view=dv,
                rows=tuple(compare),
                a_judgement=da.judgement if da else "",
                b_judgement=db.judgement if db else "",
                a_justification=da.justification if da else "",
                b_justification=db.justification if db else "",
            )
        )
    return Comparison(a=a, b=b, consensus=consensus, domains=tuple(domains), overall=view.overall)


# --- history ------------------------------------------------------------------------------------


def visible_history(assessment: RobAssessment, viewer: Any, *, limit: int = 200) -> list[RobChange]:
    """An assessment's changes, newest first, if the viewer may see them (blinding)."""
    if (
        assessment.kind == RobKind.INDEPENDENT
        and assessment.assessor_id != getattr(viewer, "pk", None)
        and not both_submitted(assessment.target)
    ):
        return []
    return list(assessment.changes.select_related("actor")[:limit])


# --- review-specific rule: missing outcome data --------------------------------------------------


@dataclass(frozen=True)
class ArmMissing:
    name: str
    randomised: int
    analysed: int

    @property
    def percent(self) -> float:
        return 100.0 * max(self.randomised - self.analysed, 0) / self.randomised


@dataclass(frozen=True)
class MissingDataEvidence:
    """What the extracted numbers say about missing outcome data (domain 3)."""

    percent: float  # the worst result's share of randomised participants not analysed
    threshold: float
    outcome: str
    timepoint: str
    source: str  # "consensus extraction" or "your extraction"
    arms: tuple[ArmMissing, ...]

    @property
    def randomised(self) -> int:
        return sum(a.randomised for a in self.arms)

    @property
    def analysed(self) -> int:
        return sum(min(a.analysed, a.randomised) for a in self.arms)

    @property
    def within(self) -> bool:
        return self.percent <= self.threshold

    @property
    def proposed_judgement(self) -> str:
        return "low" if self.within else ""

    @property
    def suggested_answer(self) -> str:
        """3.1 "Were data available for all, or nearly all, participants randomized?"."""
        return "Y" if self.within else "N"

    @property
    def support_text(self) -> str:
        per_arm = "; ".join(f"{a.name}: {a.analysed}/{a.randomised}" for a in self.arms)
        rule = "within" if self.within else "above"
        return (
            f"{self.analysed} of {self.randomised} randomised participants analysed for "
            f"{self.outcome} at {self.timepoint} ({self.percent:.1f} % missing; {per_arm}), "
            f"{rule} this review's {self.threshold:g} % threshold. Source: {self.source}."
        )


def _extraction_for(study: Study, viewer: Any) -> tuple[Extraction | None, str]:
    """The finalised consensus extraction, else the viewer's own (never someone else's)."""
    consensus = study.extractions.filter(
        kind=ExtractionKind.CONSENSUS, status=ExtractionStatus.SUBMITTED
    ).first()
    if consensus is not None:
        return consensus, "consensus extraction"
    own = study.extractions.filter(
        kind=ExtractionKind.INDEPENDENT, extractor_id=getattr(viewer, "pk", None)
    ).first()
    return (own, "your extraction") if own is not None else (None, "")


def _missing_for(data: OutcomeData, arms: list[Any]) -> tuple[ArmMissing, ...] | None:
    values = {v.arm_id: v for v in data.arm_values.all()}
    out = []
    roles = [a.role for a in arms]
    for arm in arms:
        if not arm.n_randomised:
            return None
        n = values[arm.pk].n if arm.pk in values else None
        if n is None and roles.count(arm.role) == 1:
            # Comparison-level group sizes stand in when arm rows have no N.
            n = data.n_intervention if arm.role == "intervention" else data.n_control
        if n is None:
            return None
        out.append(ArmMissing(arm.name, arm.n_randomised, n))
    return tuple(out) if len(out) >= 2 else None


def missing_data_evidence(target: RobTarget, viewer: Any) -> MissingDataEvidence | None:
    """Apply the review's missing-data rule to the extracted numbers, if it can be applied.

    Uses the study's N randomised per arm and N analysed per arm at the earliest
    post-treatment timepoint with data (any timepoint if none is post-treatment),
    for the target's outcome, or for every outcome of a per-study target (the
    worst one counts). None when the rule is off or the numbers are incomplete.
    """
    settings = rob_settings_of(target.review)
    if settings.missing_threshold is None:
        return None
    study = target.study
    extraction, source = _extraction_for(study, viewer)
    if extraction is None:
        return None
    arms = list(study.arms.all())
    data_rows = (
        extraction.data.select_related("outcome", "timepoint")
        .prefetch_related("arm_values")
        .order_by("outcome_id", "timepoint__weeks")
    )
    if target.outcome_id:
        data_rows = data_rows.filter(outcome_id=target.outcome_id)
    by_outcome: dict[int, list[OutcomeData]] = {}
    for data in data_rows:
        by_outcome.setdefault(data.outcome_id, []).append(data)
    worst: MissingDataEvidence | None = None
    for rows in by_outcome.values():
        rows.sort(key=lambda d: (d.timepoint.kind != "post", d.timepoint.weeks))
        for data in rows:
            arm_missing = _missing_for(data, arms)
            if arm_missing is None:
                continue
            randomised = sum(a.randomised for a in arm_missing)
            analysed = sum(min(a.analysed, a.randomised) for a in arm_missing)
            evidence = MissingDataEvidence(
                percent=100.0 * (randomised - analysed) / randomised,
                threshold=settings.missing_threshold,
                outcome=str(data.outcome),
                timepoint=data.timepoint.label,
                source=source,
                arms=arm_missing,
            )
            if worst is None or evidence.percent > worst.percent:
                worst = evidence
            break
    return worst


# --- the overview table ------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewRow:
    study: Study
    outcome: Any  # Outcome or None
    target: RobTarget | None
    assessors: tuple[tuple[str, str], ...]  # (username, status label) — never judgements
    mine: RobAssessment | None
    consensus: RobAssessment | None
    domains: dict[str, str] = field(default_factory=dict)  # final consensus only

    @property
    def n_submitted(self) -> int:
        return sum(1 for _, status in self.assessors if status == RobStatus.SUBMITTED.label)

    @property
    def stage(self) -> str:
        """not_started | assessing | consensus | referred | final."""
        if self.consensus is not None:
            return {
                RobStatus.FINAL: "final",
                RobStatus.REFERRED: "referred",
            }.get(self.consensus.status, "consensus")
        if self.n_submitted >= 2:
            return "consensus"
        return "assessing" if self.assessors else "not_started"

    @property
    def domain_list(self) -> list[tuple[str, str]]:
        """(domain id, final consensus judgement) for D1..D5 and "Overall"."""
        ids = [d.id for d in DOMAINS]
        return [(d, self.domains.get(d, "")) for d in ids] + [
            ("Overall", self.domains.get("overall", ""))
        ]

    @property
    def places_left(self) -> int:
        return max(0, 2 - len(self.assessors))


def rob_overview(review: Review, viewer: Any) -> list[OverviewRow]:
    """One row per target the review's unit calls for (study, or study × outcome)."""
    unit = rob_settings_of(review).unit
    studies = list(review.studies.prefetch_related("outcomes").order_by("label", "id"))
    targets = RobTarget.objects.filter(review=review).prefetch_related(
        Prefetch(
            "assessments",
            queryset=RobAssessment.objects.select_related("assessor")
            .prefetch_related("domains")
            .order_by("created_at", "id"),
        )
    )
    by_key = {(t.study_id, t.outcome_id): t for t in targets}
    viewer_id = getattr(viewer, "pk", None)
    rows = []
    for study in studies:
        outcomes = list(study.outcomes.all()) if unit == RobUnit.OUTCOME else [None]
        for outcome in outcomes:
            target = by_key.get((study.pk, outcome.pk if outcome else None))
            assessments = list(target.assessments.all()) if target else []
            independents = [a for a in assessments if a.kind == RobKind.INDEPENDENT]
            consensus = next((a for a in assessments if a.kind == RobKind.CONSENSUS), None)
            domains = {}
            if consensus is not None and consensus.status == RobStatus.FINAL:
                domains = {d.domain: d.judgement for d in consensus.domains.all()}
                domains["overall"] = consensus.overall_judgement
            rows.append(
                OverviewRow(
                    study=study,
                    outcome=outcome,
                    target=target,
                    assessors=tuple(
                        (a.assessor.username, a.get_status_display()) for a in independents
                    ),
                    mine=next((a for a in independents if a.assessor_id == viewer_id), None),
                    consensus=consensus,
                    domains=domains,
                )
            )
    return rows


# --- what analysis and the figures read -----------------------------------------------------------


def _final_consensus(review: Review):
    return (
        RobAssessment.objects.filter(
            target__review=review, kind=RobKind.CONSENSUS, status=RobStatus.FINAL
        )
        .select_related("target__study", "target__outcome")
        .prefetch_related("domains")
        .order_by("target__study__label", "target__study_id", "target__outcome_id")
    )


def _worst(values: list[str]) -> str:
    return max(values, key=_SEVERITY.__getitem__)


def consensus_rob(review: Review) -> dict[int, dict[str, Any]]:
    """Final consensus RoB 2 judgements per study, for risk-of-bias sensitivity analyses.

    Returns ``{study_id: {"label": str, "overall": judgement, "domains": {"D1": ...,
    "D5": ...}, "outcomes": {outcome_id: {"overall": ..., "domains": {...}}}}}`` with
    judgements "low", "some_concerns" or "high". With per-outcome assessment the
    study-level entry is the most severe judgement over its assessed outcomes (per
    domain and overall) and ``outcomes`` holds each one; with per-study assessment
    ``outcomes`` is empty. Studies without a final consensus are absent.
    """
    out: dict[int, dict[str, Any]] = {}
    for consensus in _final_consensus(review):
        target = consensus.target
        domains = {d.domain: d.judgement for d in consensus.domains.all()}
        if not consensus.overall_judgement or not all(domains.get(d.id) for d in DOMAINS):
            continue
        entry = out.setdefault(
            target.study_id,
            {"label": target.study.label, "overall": None, "domains": {}, "outcomes": {}},
        )
        judged = {"overall": consensus.overall_judgement, "domains": domains}
        if target.outcome_id:
            entry["outcomes"][target.outcome_id] = judged
        for did, value in domains.items():
            entry["domains"][did] = _worst([value, entry["domains"].get(did, "low")])
        entry["overall"] = _worst([consensus.overall_judgement, entry["overall"] or "low"])
    for entry in out.values():
        entry["domains"] = {d.id: entry["domains"][d.id] for d in DOMAINS}
    return out


def consensus_rob_version(review: Review) -> str:
    """Changes whenever a final consensus judgement changes (for analysis cache keys)."""
    agg = RobAssessment.objects.filter(target__review=review, kind=RobKind.CONSENSUS).aggregate(
        n=Count("id", filter=Q(status=RobStatus.FINAL)), last=Max("updated_at")
    )
    return f"rob:{agg['n']}:{agg['last'].isoformat() if agg['last'] else '-'}"


@dataclass(frozen=True)
class FigureData:
    rows: tuple[tuple[str, dict[str, str], str], ...]
    weights: tuple[float, ...]
    domains: tuple[tuple[str, str], ...]
    outcomes: tuple[str, ...]  # outcome names available as filters (per-outcome unit)
    weights_complete: bool  # every study has N randomised
    result: str = ""  # the one result every row is about, if they share one


def figure_data(review: Review, *, outcome: str = "") -> FigureData:
    """Rows for the traffic-light and summary plots, from final consensus judgements.

    Per-outcome reviews get one row per study × outcome ("Smit 2023 · Hope (HHI)"
    when the rows mix results, else "Smit 2023"), or only the outcomes named
    ``outcome``. Weights are the studies' N randomised.
    """
    consensus = list(_final_consensus(review).prefetch_related("target__study__arms"))
    names = sorted({str(c.target.outcome.name) for c in consensus if c.target.outcome_id})
    chosen = [
        c
        for c in consensus
        if not outcome or (c.target.outcome_id and c.target.outcome.name == outcome)
    ]
    shown = {str(c.target.outcome) for c in chosen if c.target.outcome_id}
    # Name the result in each label only when the rows mix several results.
    with_outcome = len(shown) > 1
    rows, weights = [], []
    complete = True
    for c in chosen:
        target = c.target
        domains = {d.domain: d.judgement for d in c.domains.all()}
        if not c.overall_judgement or not all(domains.get(d.id) for d in DOMAINS):
            continue
        label = target.study.label
        if target.outcome_id and with_outcome:
            label = f"{label} · {target.outcome}"
        rows.append((label, domains, c.overall_judgement))
        n = sum(a.n_randomised or 0 for a in target.study.arms.all())
        complete = complete and n > 0
        weights.append(float(n))
    if not complete:
        weights = [1.0] * len(rows)
    return FigureData(
        rows=tuple(rows),
        weights=tuple(weights),
        domains=tuple((d.id, d.short_name) for d in DOMAINS),
        outcomes=tuple(names),
        weights_complete=complete and bool(rows),
        result=next(iter(shown)) if len(shown) == 1 else "",
    )


def judgement_label(value: str) -> str:
    return JUDGEMENT_LABELS.get(value, "")
