"""Bringing a RevMan 5 review (``.rm5``) into a review: the plan shown before writing, and
the import that writes it through ``extraction.services.studies_import``.

How RevMan's structure lands here (the preview says the same to the lead):

- each included study becomes a study (RevMan's study ID, e.g. "Smith 2001", is its label);
- each comparison becomes an outcome domain ("1 Aspirin versus placebo") and each of its
  dichotomous or continuous outcomes a subdomain ("1.2 Death"), so an analysis chosen by
  domain and subdomain pools exactly the studies RevMan pooled in that forest plot;
- a study's data row becomes an outcome of that study ("1.2 Death", with " — <subgroup>"
  when the outcome has subgroups, and " [2]" for a study's second row in the same
  subgroup, as multi-arm trials are entered), holding two arms' numbers;
- RevMan's group labels ("Aspirin", "Placebo") become the study's arms, group 1 the
  intervention and group 2 the control; one timepoint per study, as RevMan has none;
- the numbers form a finalised consensus, ready for analysis.

The upload is kept in storage between preview and confirmation, named by a signed token;
``manage.py cleanup_files`` removes uploads never confirmed.
"""

from __future__ import annotations

import posixpath
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from extraction.models import ArmRole, Direction
from extraction.services import ImportedOutcome, ImportedStudy, studies_import
from reviews.errors import DomainError
from reviews.models import Review
from reviews.services import upload_store

from .revman import (
    CONTINUOUS,
    MEASURE_LABELS,
    METHOD_LABELS,
    OutcomeCheck,
    Rm5Outcome,
    Rm5Review,
    Rm5Row,
    Rm5Skipped,
    outcome_checks,
    parse_rm5,
)

TIMEPOINT_LABEL = "As analysed in RevMan"
TOKEN_SALT = "api.revman-import"
TOKEN_MAX_AGE = 7 * 24 * 3600  # a preview left longer is uploaded again


@dataclass(frozen=True)
class PlannedOutcome:
    """One RevMan outcome (forest plot): what is imported of it and RevMan's numbers
    next to ours."""

    outcome: Rm5Outcome
    rows: int
    imported: int
    check: OutcomeCheck

    @property
    def label(self) -> str:
        return f"{self.outcome.number} {self.outcome.name}"

    @property
    def method(self) -> str:
        o = self.outcome
        model = "random effects" if o.random else "fixed effect"
        return f"{METHOD_LABELS[o.method]}, {model}, {MEASURE_LABELS[o.measure]}"


@dataclass(frozen=True)
class RevManPlan:
    file: Rm5Review
    studies: tuple[ImportedStudy, ...]
    outcomes: tuple[PlannedOutcome, ...]
    not_imported: tuple[Rm5Skipped, ...]
    conflicts: tuple[str, ...]  # study labels the review already has

    @property
    def counts(self) -> dict[str, int]:
        return {
            "studies": len(self.studies),
            "arms": sum(len(s.arms) for s in self.studies),
            "outcomes": sum(len(s.outcomes) for s in self.studies),
            "values": sum(len(a) for s in self.studies for a in s.data.values()),
            "domains": len({o.outcome.comparison_no for o in self.outcomes}),
            "subdomains": len(self.outcomes),
        }

    @property
    def checked(self) -> tuple[int, int]:
        """(outcomes whose stored numbers we re-derived, outcomes RevMan computed)."""
        computed = [o for o in self.outcomes if o.check.comparisons]
        return sum(o.check.agrees for o in computed), len(computed)


def domain_name(outcome: Rm5Outcome) -> str:
    return f"{outcome.comparison_no} {outcome.comparison}"[:120]


def subdomain_name(outcome: Rm5Outcome) -> str:
    return f"{outcome.number} {outcome.name}"[:120]


def _direction(outcome: Rm5Outcome) -> str:
    """RevMan's left graph label says which side favours whom; by default the left
    ("Favours experimental") side, lower values, favours the experimental group."""
    left = outcome.graph_label_1.casefold()
    control = outcome.group_label_2.casefold()
    if "control" in left or (control and control in left):
        return Direction.HIGHER
    return Direction.LOWER


def _values(row: Rm5Row, group: int) -> dict[str, Any]:
    n = row.total1 if group == 1 else row.total2
    if row.kind == CONTINUOUS:
        sd = row.sd1 if group == 1 else row.sd2
        return {
            "mean": row.mean1 if group == 1 else row.mean2,
            "sd": sd if sd else None,  # an SD of 0 is no SD (RevMan cannot use it either)
            "n": n,
        }
    return {"events": row.events1 if group == 1 else row.events2, "n": n}


def _row_problem(row: Rm5Row) -> str:
    if row.total1 == 0 or row.total2 == 0:
        return "no data entered (a group of 0 participants)"
    if row.kind == CONTINUOUS and (row.mean1 is None or row.mean2 is None):
        return "no means entered"
    return ""


class _StudyBuilder:
    def __init__(self, label: str) -> None:
        self.label = label
        self.arms: list[tuple[str, str]] = []
        self.outcomes: list[ImportedOutcome] = []
        self.data: dict[int, dict[int, dict[str, Any]]] = {}
        self.seen: Counter = Counter()

    def arm(self, label: str, role: str, other: str) -> int:
        name = label
        if label.casefold() == other.casefold() or any(
            n.casefold() == label.casefold() and r != role for n, r in self.arms
        ):
            name = f"{label} ({'intervention' if role == ArmRole.INTERVENTION else 'control'})"
        for i, (n, r) in enumerate(self.arms):
            if n.casefold() == name.casefold()[:120] and r == role:
                return i
        self.arms.append((name[:120], role))
        return len(self.arms) - 1

    def add(self, outcome: Rm5Outcome, row: Rm5Row) -> None:
        name = f"{outcome.number} {outcome.name}"
        if row.subgroup is not None:
            name += f" — {outcome.subgroups[row.subgroup].name}"
        self.seen[(outcome.number, row.subgroup)] += 1
        if (k := self.seen[(outcome.number, row.subgroup)]) > 1:
            name += f" [{k}]"
        # The bracketed count is kept whole when a long name is shortened.
        suffix = f" [{k}]" if k > 1 else ""
        name = name if len(name) <= 200 else name[: 200 - len(suffix) - 1] + "…" + suffix
        self.outcomes.append(
            ImportedOutcome(
                name=name,
                direction=_direction(outcome),
                domain=domain_name(outcome),
                subdomain=subdomain_name(outcome),
            )
        )
        e = self.arm(outcome.group_label_1, ArmRole.INTERVENTION, outcome.group_label_2)
        c = self.arm(outcome.group_label_2, ArmRole.CONTROL, outcome.group_label_1)
        self.data[len(self.outcomes) - 1] = {e: _values(row, 1), c: _values(row, 2)}

    def build(self) -> ImportedStudy:
        return ImportedStudy(self.label, tuple(self.arms), tuple(self.outcomes), self.data)


def plan_build(file: Rm5Review, *, existing_labels: set[str]) -> RevManPlan:
    """What importing ``file`` creates, what it leaves out and why (pure)."""
    builders = {s.id: _StudyBuilder(s.name) for s in file.studies}
    not_imported = list(file.skipped)
    planned = []
    checks = {c.outcome.number: c for c in outcome_checks(file)}
    for outcome in file.outcomes:
        imported = 0
        for row in outcome.rows:
            problem = _row_problem(row)
            if problem:
                not_imported.append(
                    Rm5Skipped(
                        f"Analysis {outcome.number}, {file.study(row.study_id).name}", problem
                    )
                )
                continue
            builders[row.study_id].add(outcome, row)
            imported += 1
        if outcome.swap_events:
            not_imported.append(
                Rm5Skipped(
                    f"Analysis {outcome.number}: RevMan analysed the non-events",
                    "the events are imported as entered; pool them as RevMan did by "
                    "reading them as non-events",
                )
            )
        planned.append(PlannedOutcome(outcome, len(outcome.rows), imported, checks[outcome.number]))
    if file.other_studies:
        not_imported.append(
            Rm5Skipped(
                f"{file.other_studies} excluded, awaiting or ongoing studies",
                "only included studies become studies here",
            )
        )
    not_imported += [
        Rm5Skipped(
            "Risk of bias tables, characteristics of studies, references and the review text",
            "RevMan's risk of bias is the 2011 tool (Reviewflow assesses RoB 2) and the "
            "characteristics are free text; import references as records under Imports",
        )
    ]
    studies = tuple(b.build() for b in builders.values())
    conflicts = tuple(s.label for s in studies if s.label in existing_labels)
    return RevManPlan(file, studies, tuple(planned), tuple(not_imported), conflicts)


# --- services -----------------------------------------------------------------------------------


def revman_preview(*, review: Review, data: bytes) -> RevManPlan:
    """Read the file and plan its import into ``review`` (nothing is written)."""
    file = parse_rm5(data)
    labels = {s.name for s in file.studies}
    existing = set(review.studies.filter(label__in=labels).values_list("label", flat=True))
    return plan_build(file, existing_labels=existing)


def revman_upload(*, review: Review, upload: Any) -> tuple[RevManPlan, str]:
    """Check an uploaded ``.rm5``, keep it for the confirmation, and plan its import.

    Returns the plan and a signed token naming the stored upload; a file that cannot be
    read is refused before anything is stored.
    """
    if upload.size > 50 * 1024 * 1024:
        raise DomainError("The file is larger than 50 MB.", field="file")
    data = b"".join(upload.chunks())
    plan = revman_preview(review=review, data=data)
    stored = upload_store(
        name=f"imports/{review.pk}/revman/{uuid.uuid4().hex}.rm5", upload=ContentFile(data)
    )
    token = signing.dumps(
        {"review": review.pk, "name": stored, "filename": posixpath.basename(upload.name)[:200]},
        salt=TOKEN_SALT,
    )
    return plan, token


def _stored_upload(review: Review, token: str) -> tuple[str, str, bytes]:
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        raise DomainError(
            "This preview is no longer valid (it expired or was changed): upload the file again."
        ) from None
    if payload.get("review") != review.pk:
        raise DomainError("This preview belongs to another review: upload the file again.")
    name = payload["name"]
    try:
        with default_storage.open(name, "rb") as fh:
            data = fh.read()
    except OSError:
        raise DomainError(
            "The uploaded file is gone (it was imported already, or removed as stale): "
            "upload it again."
        ) from None
    return name, payload.get("filename", ""), data


def revman_confirm(*, review: Review, actor: Any, token: str) -> dict[str, Any]:
    """Import the previewed file: studies, arms, outcomes and a finalised consensus each,
    in one transaction (``studies_import``); nothing is written when anything is refused."""
    name, filename, data = _stored_upload(review, token)
    plan = revman_preview(review=review, data=data)
    if plan.conflicts:
        raise DomainError(
            f"The review already has {len(plan.conflicts)} of the file's studies "
            f"(e.g. “{plan.conflicts[0]}”); nothing was imported."
        )
    source = {
        "source": "RevMan 5",
        "file": filename,
        "revman_version": plan.file.version,
        "review_title": plan.file.title[:200],
    }
    studies_import(
        review=review,
        actor=actor,
        studies=plan.studies,
        timepoint_label=TIMEPOINT_LABEL,
        source=source,
    )
    default_storage.delete(name)
    agreed, computed = plan.checked
    return {**plan.counts, "file": filename, "checked": agreed, "computed": computed}


# --- what is understood, for the "Other tools" page and the API ---------------------------------

FORMATS: list[dict[str, str]] = [
    {
        "direction": "import",
        "version": "RevMan 5 review file (.rm5), RevMan 5.0 to 5.4, intervention reviews; "
        "also Cochrane's “data only” downloads (<CD number>StatsDataOnly.rm5)",
        "reads": "STUDIES_AND_REFERENCES/STUDIES/INCLUDED_STUDIES/STUDY (ID, NAME, YEAR); "
        "ANALYSES_AND_DATA/COMPARISON with DICH_OUTCOME/DICH_DATA (EVENTS_1, TOTAL_1, "
        "EVENTS_2, TOTAL_2) and CONT_OUTCOME/CONT_DATA (MEAN_1, SD_1, TOTAL_1, MEAN_2, SD_2, "
        "TOTAL_2), their subgroups, and RevMan's EFFECT_MEASURE, METHOD, RANDOM, "
        "EFFECT_SIZE, CI_START, CI_END to compare with",
        "example": '<COCHRANE_REVIEW REVMAN_VERSION="5" TYPE="INTERVENTION">\n'
        "  <STUDIES_AND_REFERENCES><STUDIES><INCLUDED_STUDIES>\n"
        '    <STUDY ID="STD-ISIS_x002d_2" NAME="ISIS-2" YEAR="1988"/>\n'
        "  </INCLUDED_STUDIES></STUDIES></STUDIES_AND_REFERENCES>\n"
        '  <ANALYSES_AND_DATA><COMPARISON NO="1"><NAME>Aspirin versus control</NAME>\n'
        '    <DICH_OUTCOME NO="1" EFFECT_MEASURE="OR" METHOD="MH" RANDOM="NO" '
        'EFFECT_SIZE="0.897" CI_START="0.841" CI_END="0.957">\n'
        "      <NAME>Death</NAME><GROUP_LABEL_1>Aspirin</GROUP_LABEL_1>"
        "<GROUP_LABEL_2>Control</GROUP_LABEL_2>\n"
        '      <DICH_DATA STUDY_ID="STD-ISIS_x002d_2" EVENTS_1="1570" TOTAL_1="8587" '
        'EVENTS_2="1720" TOTAL_2="8600"/>\n'
        "    </DICH_OUTCOME></COMPARISON></ANALYSES_AND_DATA>\n</COCHRANE_REVIEW>",
    },
    {
        "direction": "not read",
        "version": "RevMan 5 “Data and analyses” CSV export",
        "reads": "refused by the record importer (its rows are analyses, not references), "
        "with a pointer to the .rm5 import; generic inverse-variance, O − E and “other "
        "data” outcomes of a .rm5 are listed as not imported",
        "example": "Comparison Number,Outcome Number,Subgroup Number,Name,Data Type,"
        "Statistical Method,Effect Measure,Analysis Model,Events 1,…",
    },
    {
        "direction": "export",
        "version": "RevMan Web study-centric import (study information, study arms, study "
        "results one row per arm, risk of bias: RoB 2)",
        "reads": "finalised consensus extractions and final consensus RoB 2 assessments "
        "only (exports/revman-web-*.csv)",
        "example": "Study ID,Outcome,Timepoint,Arm,Intervention,Data type,Events,Total,Mean,"
        "SD,SE,95% CI lower,95% CI upper\n"
        "ISIS-2,1.1 Death,As analysed in RevMan,Aspirin,Aspirin,Dichotomous,1570,8587,,,,,",
    },
]


def plan_as_dict(plan: RevManPlan) -> dict[str, Any]:
    """The preview as plain data (the API's answer)."""
    return {
        "title": plan.file.title,
        "revman_version": plan.file.version,
        "counts": plan.counts,
        "conflicts": list(plan.conflicts),
        "checked": {"agree": plan.checked[0], "computed": plan.checked[1]},
        "analyses": [
            {
                "number": o.outcome.number,
                "name": o.outcome.name,
                "data_type": o.outcome.kind,
                "method": o.method,
                "rows": o.rows,
                "rows_imported": o.imported,
                "revman": {
                    "estimate": o.outcome.stored.effect,
                    "ci": [o.outcome.stored.ci_start, o.outcome.stored.ci_end],
                },
                "ours": {"estimate": o.check.estimate, "ci": list(o.check.ci or ())},
                "agrees": o.check.agrees if o.check.comparisons else None,
            }
            for o in plan.outcomes
        ],
        "not_imported": [{"what": s.what, "reason": s.reason} for s in plan.not_imported],
        "studies": [s.label for s in plan.studies],
    }
