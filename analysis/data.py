"""The one door from the analysis app to the extraction app (reads only).

Everything analysis needs from extraction (consensus effect sizes, the studies left out
and why, outcome domains, categorical extraction fields, RoB 2 consensus judgements)
passes through this module and is converted into the small dataclasses below, so a
rename on the extraction side is a one-place fix here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from extraction import selectors as extraction_selectors
from extraction.models import OutcomeDomain, Study
from extraction.rob import selectors as rob_selectors
from reviews.models import Review

# RoB 2 overall judgements as the extraction app spells them, and how tables print them.
ROB_LEVELS: dict[str, str] = {
    "low": "Low risk",
    "some_concerns": "Some concerns",
    "high": "High risk",
}


@dataclass(frozen=True)
class EffectInput:
    """One consensus effect size (Hedges' g, positive favours the intervention)."""

    study_id: int
    study_label: str
    outcome_id: int
    outcome: str
    domain: str
    subdomain: str
    instrument: str
    preferred_rank: int | None
    timepoint: str
    weeks: float
    timepoint_kind: str
    comparison: str
    yi: float
    vi: float
    n_intervention: float | None
    n_control: float | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[float, float] | None = None  # per arm (intervention, control)
    means: tuple[float, float, float, float] | None = None  # mean, SD per arm


@dataclass(frozen=True)
class LeftOut:
    """An included study (or one of its outcomes) that yields no effect size, and why."""

    study_id: int
    study_label: str
    reason: str
    detail: str = ""
    outcome: str = ""
    timepoint: str = ""


@dataclass(frozen=True)
class Extracted:
    rows: tuple[EffectInput, ...]
    left_out: tuple[LeftOut, ...]
    field_labels: dict[str, str]
    field_choices: dict[str, list[str]]


@dataclass(frozen=True)
class RobJudgement:
    overall: str  # a key of ROB_LEVELS
    domains: dict[str, str] = field(default_factory=dict)
    outcomes: dict[int, str] = field(default_factory=dict)  # per result: outcome id -> overall


def effects_read(
    review: Review,
    *,
    domain: str = "",
    subdomain: str = "",
    timepoint_kind: str = "any",
    weeks_min: float | None = None,
    weeks_max: float | None = None,
    study_filters: Mapping[str, Any] | None = None,
    reads: ReviewReads | None = None,
) -> Extracted:
    """Consensus effect sizes selected by outcome, timepoint window and study filters.

    Studies removed by ``study_filters`` are reported as left out ("excluded by the
    analysis' study filter"), so every study of the review is accounted for. ``reads``:
    the review's studies already read (a page computing many analyses).
    """
    result = extraction_selectors.consensus_effect_sizes(
        review,
        domain=domain or None,
        subdomain=subdomain or None,
        timepoint_kind=None if timepoint_kind == "any" else timepoint_kind,
        weeks_min=weeks_min,
        weeks_max=weeks_max,
        study_filters=dict(study_filters) if study_filters else None,
        source=reads.consensus if reads is not None else None,
    )
    rows = tuple(
        EffectInput(
            study_id=r.study_id,
            study_label=r.study_label,
            outcome_id=r.outcome_id,
            outcome=r.outcome,
            domain=r.domain,
            subdomain=r.subdomain,
            instrument=r.instrument,
            preferred_rank=r.preferred_rank,
            timepoint=r.timepoint,
            weeks=r.weeks,
            timepoint_kind=r.timepoint_kind,
            comparison=r.comparison,
            yi=r.yi,
            vi=r.vi,
            n_intervention=r.n_intervention,
            n_control=r.n_control,
            fields=r.fields,
            events=r.events,
            means=r.means,
        )
        for r in result.rows
    )
    left_out = [
        LeftOut(m.study_id, m.study_label, m.reason_label, m.detail, m.outcome, m.timepoint)
        for m in result.missing
    ]
    if study_filters:
        seen = {r.study_id for r in rows} | {m.study_id for m in left_out}
        filters = ", ".join(f"{k} = {v}" for k, v in study_filters.items())
        everyone = (
            [(s.pk, s.label) for s in reads.consensus.studies]
            if reads is not None
            else Study.objects.filter(review=review).values_list("id", "label")
        )
        for study_id, label in everyone:
            if study_id not in seen:
                left_out.append(
                    LeftOut(study_id, label, "excluded by the analysis' study filter", filters)
                )
    return Extracted(
        rows=rows,
        left_out=tuple(left_out),
        field_labels=dict(result.field_labels),
        field_choices={k: list(v) for k, v in result.field_choices.items()},
    )


def measures_available(review: Review) -> list[str]:
    """Effect measures some consensus data of the review can give: always SMD (every
    effect size is a Hedges' g), MD where arms have means and SDs, OR/RR/RD where arms
    have events and totals."""
    rows = extraction_selectors.consensus_effect_sizes(review).rows
    out = ["SMD"]
    if any(r.means is not None for r in rows):
        out.append("MD")
    if any(r.events is not None for r in rows):
        out += ["OR", "RR", "RD"]
    return out


def outcome_domains(review: Review) -> list[tuple[str, list[str]]]:
    """The review's outcome domains with their subdomains, in the review's order."""
    domains = OutcomeDomain.objects.filter(review=review).prefetch_related("subdomains")
    return [(d.name, [s.name for s in d.subdomains.all()]) for d in domains]


def categorical_fields(review: Review) -> list[tuple[str, str, list[str]]]:
    """(key, label, choices) of the current form's single/multiple-choice and yes/no fields:
    the candidate subgroup variables and study filters."""
    return _categorical(extraction_selectors.current_template(review))


def _categorical(template: Any) -> list[tuple[str, str, list[str]]]:
    if template is None:
        return []
    out = []
    for f in template.fields():
        if "choices" in f:
            out.append((f["key"], f["label"], list(f["choices"])))
        elif f.get("type") == "yes_no":
            out.append((f["key"], f["label"], ["Yes", "No"]))
    return out


ROB_MODERATOR = "rob"


def moderator_fields(review: Review) -> list[tuple[str, str, str]]:
    """(key, label, kind) of the candidate moderators of a meta-regression: the current
    form's numeric fields ("numeric"), its choice and yes/no fields ("categorical") and the
    RoB 2 overall judgement (key "rob")."""
    return _moderators(extraction_selectors.current_template(review))


def _moderators(template: Any) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    if template is not None:
        for f in template.fields():
            if f.get("type") in ("number", "integer"):
                out.append((f["key"], f["label"], "numeric"))
            elif "choices" in f or f.get("type") == "yes_no":
                out.append((f["key"], f["label"], "categorical"))
    out.append((ROB_MODERATOR, "Risk of bias (RoB 2 overall)", "categorical"))
    return out


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def rob_read(review: Review) -> dict[int, RobJudgement]:
    """Consensus RoB 2 overall (and domain) judgement per study id; empty if none yet.

    Reads ``extraction.rob_selectors.consensus_rob(review)``; a study without a final
    consensus assessment is absent. With per-outcome assessment the study-level entry
    (the most severe judgement over the study's outcomes) is used.
    """
    raw = rob_selectors.consensus_rob(review)
    items = raw.items() if isinstance(raw, Mapping) else ((_get(r, "study_id"), r) for r in raw)
    out: dict[int, RobJudgement] = {}
    for study_id, judgement in items:
        overall = _get(judgement, "overall")
        overall = _get(overall, "judgement", overall)  # a Proposal-like object or a plain string
        if overall not in ROB_LEVELS:
            continue
        domains = _get(judgement, "domains", {}) or {}
        outcomes = _get(judgement, "outcomes", {}) or {}
        out[int(study_id)] = RobJudgement(
            str(overall),
            {str(k): str(_get(v, "judgement", v)) for k, v in dict(domains).items()},
            {int(k): str(_get(v, "overall", v)) for k, v in dict(outcomes).items()},
        )
    return out


class ReviewReads:
    """The review-level reads of analysis, each made once when first asked for.

    A page computing many analyses of one review (certainty, Summary of Findings, the
    dashboard) would otherwise read the same studies, RoB 2 consensus and form fields
    again for every analysis, and its query count would grow with them. Hold one for
    the reads of one request or task only: it does not see writes made after a read.
    """

    def __init__(self, review: Review) -> None:
        self.review = review

    @cached_property
    def consensus(self) -> extraction_selectors.ConsensusSource:
        return extraction_selectors.consensus_source(self.review)

    @cached_property
    def rob(self) -> dict[int, RobJudgement]:
        return rob_read(self.review)

    @cached_property
    def categorical_fields(self) -> list[tuple[str, str, list[str]]]:
        return _categorical(self.consensus.template)

    @cached_property
    def moderator_fields(self) -> list[tuple[str, str, str]]:
        return _moderators(self.consensus.template)

    @cached_property
    def outcome_domains(self) -> list[tuple[str, list[str]]]:
        return outcome_domains(self.review)
