"""RevMan Web's study-centric import files, built from finalised consensus only.

RevMan Web imports study data as four CSV files (the route Covidence's "Export to RevMan
Web" takes): Study information (one row per study: general information and "Char: <label>"
characteristics), Study arms (one row per arm of each study, with the intervention the arm
maps to), Study results (one row per arm: arm-level result data with the calculator's input
fields) and Risk of bias (RoB 2: one row per result). Sources:

- https://documentation.cochrane.org/revman-kb/data-extraction-templates-260702375.html
  (the four templates and their row granularity),
- https://documentation.cochrane.org/revman-kb/populate-study-data-260702462.html
  (what each kind of study data holds),
- https://support.covidence.org/help/how-to-upload-your-data-to-revman-web (the four CSVs
  and the "Char: <field>" columns of Study information).

Column names follow those pages' wording ("Study ID", "Arm", "Intervention", "Outcome",
"Events", "Total", "Mean", "SD", "Judgement", "Support for judgement"); the downloadable
templates themselves could not be consulted here, so a header RevMan Web names otherwise is
renamed in the spreadsheet before import. Outcome and intervention names must match the
review criteria set up in RevMan Web (its import refuses names it does not know).

Only finalised consensus extractions and final consensus RoB 2 assessments are read, so
the files show no reviewer's unresolved work and any member may download them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch

from extraction.models import (
    ArmValue,
    Extraction,
    ExtractionKind,
    ExtractionStatus,
    Study,
)
from extraction.rob.algorithm import DOMAINS, JUDGEMENT_LABELS
from extraction.rob.models import RobAssessment, RobKind, RobStatus
from extraction.schema import display_value, is_empty
from extraction.selectors import current_template
from reviews.models import Review

STUDY_INFORMATION = ("Study ID", "Year")
STUDY_ARMS = ("Study ID", "Arm", "Intervention")
STUDY_RESULTS = (
    "Study ID",
    "Outcome",
    "Timepoint",
    "Arm",
    "Intervention",
    "Data type",
    "Events",
    "Total",
    "Mean",
    "SD",
    "SE",
    "95% CI lower",
    "95% CI upper",
)
RISK_OF_BIAS = (
    "Study ID",
    "Outcome",
    *(
        f"{d.short_name}: {part}"
        for d in DOMAINS
        for part in ("Judgement", "Support for judgement")
    ),
    "Overall: Judgement",
    "Overall: Support for judgement",
)


def _final_studies(review: Review) -> list[Study]:
    """Studies with a finalised consensus, by label, with what the files read prefetched."""
    consensus = Extraction.objects.filter(
        kind=ExtractionKind.CONSENSUS, status=ExtractionStatus.SUBMITTED
    )
    return list(
        review.studies.filter(
            extractions__kind=ExtractionKind.CONSENSUS,
            extractions__status=ExtractionStatus.SUBMITTED,
        )
        .prefetch_related(
            "arms",
            "reports__record",
            Prefetch("extractions", queryset=consensus, to_attr="final"),
        )
        .order_by("label", "id")
    )


def _year(study: Study) -> Any:
    reports = list(study.reports.all())  # primary report first (StudyReport.Meta.ordering)
    return reports[0].record.year if reports and reports[0].record.year else ""


def outcome_label(outcome) -> str:
    """An outcome as the files name it: with its instrument, as a study may measure one
    outcome with two instruments."""
    return f"{outcome.name} ({outcome.instrument})" if outcome.instrument else outcome.name


def study_information(review: Review) -> tuple[Sequence[str], list[list[Any]]]:
    template = current_template(review)
    fields = template.fields() if template else []
    header = [*STUDY_INFORMATION, *(f"Char: {f['label']}" for f in fields)]
    rows = []
    for study in _final_studies(review):
        answers = study.final[0].answers
        rows.append(
            [study.label, _year(study)]
            + [
                "" if is_empty(answers.get(f["key"])) else display_value(f, answers.get(f["key"]))
                for f in fields
            ]
        )
    return header, rows


def study_arms(review: Review) -> tuple[Sequence[str], list[list[Any]]]:
    """One row per arm. Reviewflow's arms carry their intervention's name, so the arm's
    name is the intervention it maps to (rename to the review's intervention names)."""
    rows = [
        [study.label, arm.name, arm.name]
        for study in _final_studies(review)
        for arm in study.arms.all()
    ]
    return STUDY_ARMS, rows


def _data_type(value: ArmValue) -> str:
    if value.events is not None:
        return "Dichotomous"
    return "Continuous"


def study_results(review: Review) -> tuple[Sequence[str], list[list[Any]]]:
    """One row per arm of each study × outcome × timepoint with arm-level numbers."""
    values = (
        ArmValue.objects.filter(
            data__extraction__study__review=review,
            data__extraction__kind=ExtractionKind.CONSENSUS,
            data__extraction__status=ExtractionStatus.SUBMITTED,
        )
        .select_related("arm", "data__extraction__study", "data__outcome", "data__timepoint")
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
    rows = []
    for v in values:
        dichotomous = v.events is not None
        rows.append(
            [
                v.data.extraction.study.label,
                outcome_label(v.data.outcome),
                v.data.timepoint.label,
                v.arm.name,
                v.arm.name,
                _data_type(v),
                v.events if dichotomous else "",
                v.n,
                "" if dichotomous else v.mean,
                "" if dichotomous else v.sd,
                "" if dichotomous else v.se,
                "" if dichotomous else v.ci_low,
                "" if dichotomous else v.ci_high,
            ]
        )
    return STUDY_RESULTS, rows


def _support(domain) -> str:
    """The judgement's support: the written justification, else each signalling
    question's support text."""
    if domain.justification.strip():
        return domain.justification.strip()
    return " ".join(f"{q}: {t.strip()}" for q, t in sorted(domain.support.items()) if t.strip())


def risk_of_bias(review: Review) -> tuple[Sequence[str], list[list[Any]]]:
    """RoB 2 final consensus: one row per assessed result (per study when assessed by
    study, the outcome left empty)."""
    assessments = (
        RobAssessment.objects.filter(
            target__review=review, kind=RobKind.CONSENSUS, status=RobStatus.FINAL
        )
        .select_related("target__study", "target__outcome")
        .prefetch_related("domains")
        .order_by("target__study__label", "target__study_id", "target__outcome_id")
    )
    rows = []
    for a in assessments:
        domains = {d.domain: d for d in a.domains.all()}
        if not a.overall_judgement or not all(
            domains.get(d.id) and domains[d.id].judgement for d in DOMAINS
        ):
            continue
        row = [a.target.study.label, outcome_label(a.target.outcome) if a.target.outcome else ""]
        for d in DOMAINS:
            row += [JUDGEMENT_LABELS[domains[d.id].judgement], _support(domains[d.id])]
        row += [JUDGEMENT_LABELS[a.overall_judgement], a.overall_justification.strip()]
        rows.append(row)
    return RISK_OF_BIAS, rows


FILES = {
    "revman-web-study-information.csv": study_information,
    "revman-web-study-arms.csv": study_arms,
    "revman-web-study-results.csv": study_results,
    "revman-web-risk-of-bias.csv": risk_of_bias,
}
