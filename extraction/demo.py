"""Demo steps: the demo review's included studies, entered from two published data sets.

- ``demo_extraction``: the 26 trials of Senn et al. (2013) (R's metadat, ``dat.senn2013``),
  arm-level HbA1c (mean, SD, N) of oral glucose-lowering drugs, placebo or another drug;
  Willms 1999 has three arms, so the review splits the shared placebo arm (two effects).
- ``demo_extraction_dichotomous``: the 42 rosiglitazone trials of Nissen & Wolski (2007)
  (metadat ``dat.nissen2007``), participants with a myocardial infarction per arm; the four
  trials outside type 2 diabetes are excluded at full text (wrong population).

Each trial enters as a record found by citation searching (imported through the same
services as a user's CSV), is screened in by alice and bob, becomes a study, and is
extracted by both; the lead agrees the consensus. The data are the published numbers;
who entered them is generated, and the extraction pages say so (``GENERATED_NOTE``).
Running a step again changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews import services as review_services
from reviews.models import DuplicateLink, ExclusionReason, Record, Search, Stage

from . import selectors, services
from .models import (
    ArmRole,
    Direction,
    ExtractionKind,
    ExtractionStatus,
    MultiArmRule,
    Study,
    TimepointKind,
)
from .schema import field_spec

DATA_DIR = Path(__file__).resolve().parent / "demo_data"
SENN_DATA = DATA_DIR / "senn2013.csv"
SENN_DATASET = "dat.senn2013"
SENN_CITATION = (
    "Included studies, HbA1c (continuous outcome): the 26 randomised trials of Senn S, "
    "Gavini F, Magrez D, Scheen A (2013). Issues in performing a network meta-analysis. "
    "Statistical Methods in Medical Research 22(2):169-189. doi:10.1177/0962280211432220 - "
    "arm-level HbA1c (mean change from baseline, or mean at the end of treatment, with SD "
    "and N) as distributed in the R package metadat 1.2-0 (dat.senn2013, GPL >= 2)."
)
NISSEN_DATA = DATA_DIR / "nissen2007.csv"
NISSEN_DATASET = "dat.nissen2007"
NISSEN_CITATION = (
    "Included studies, myocardial infarction (dichotomous outcome): the 42 rosiglitazone "
    "trials of Nissen SE, Wolski K (2007). Effect of rosiglitazone on the risk of myocardial "
    "infarction and death from cardiovascular causes. New England Journal of Medicine "
    "356(24):2457-2471. doi:10.1056/NEJMoa072761 - participants with a myocardial infarction "
    "per arm, as distributed in the R package metadat 1.7-2 (dat.nissen2007, GPL >= 2; "
    "github.com/wviechtb/metadat, commit 0cb96ce); the four trials outside type 2 diabetes "
    "are excluded here."
)
GENERATED_NOTE = (
    "in this demo review, alice's and bob's extractions were entered by the demo script from "
    "the published data sets cited in Data sources (Senn et al. 2013; Nissen & Wolski 2007), "
    "not by people reading the trial reports; the one value they differ on (an SD in "
    "Kipnes 2001) is a deliberate slip for the consensus to show. The numbers themselves "
    "are the published ones."
)

HBA1C = ("Glycaemic control", "HbA1c")
MI = ("Cardiovascular safety", "Myocardial infarction")
DOMAINS = [(HBA1C[0], [HBA1C[1]]), (MI[0], [MI[1]])]
DRUG_CLASSES = {
    "metformin": "Biguanide",
    "acarbose": "Alpha-glucosidase inhibitor",
    "miglitol": "Alpha-glucosidase inhibitor",
    "pioglitazone": "Thiazolidinedione",
    "rosiglitazone": "Thiazolidinedione",
    "sitagliptin": "DPP-4 inhibitor",
    "vildagliptin": "DPP-4 inhibitor",
    "benfluorex": "Benfluorex",
    "sulfonylurea": "Sulfonylurea",
}
SEVERAL_CLASSES = "Several classes (multi-arm trial)"
PLACEBO = "Placebo"
OTHER_DRUG = "Another glucose-lowering drug"
USUAL_CARE = "Usual care"
REPORTED = {"change": "Change from baseline", "raw": "Value at end of treatment"}
NOT_REPORTED = "Not in the data set"
# Population descriptions (metadat's) outside type 2 diabetes: excluded at full text.
NOT_T2D = re.compile(r"psoriasis|alzheimer|impaired glucose", re.IGNORECASE)
MISTYPED = ("Kipnes (2001)", "pioglitazone", "sd", "13.69")  # bob's slip (1.369 → 13.69)


_f = field_spec

FORM: dict = {
    "sections": [
        {
            "title": "Study and participants",
            "fields": [
                _f("country", "Country", "text", "Where the trial took place."),
                _f("population", "Population", "long_text", "As the source describes it."),
                _f("mean_age", "Mean age (years)", "number", min=0, max=120),
                _f("period", "Trial period", "text", "Start and end, as reported."),
            ],
        },
        {
            "title": "Intervention",
            "fields": [
                _f("intervention_name", "Drug(s)", "text", "", True),
                _f(
                    "drug_class",
                    "Drug class",
                    "single_choice",
                    "The class of the intervention arm's drug.",
                    True,
                    choices=[*dict.fromkeys(DRUG_CLASSES.values()), SEVERAL_CLASSES],
                ),
                _f("duration_weeks", "Duration (weeks)", "number", min=0),
            ],
        },
        {
            "title": "Comparator",
            "fields": [
                _f(
                    "comparator_type",
                    "Comparator type",
                    "single_choice",
                    "",
                    True,
                    choices=[PLACEBO, USUAL_CARE, OTHER_DRUG],
                ),
                _f("comparator_description", "Comparator", "long_text"),
            ],
        },
        {
            "title": "Outcome reporting",
            "fields": [
                _f(
                    "hba1c_reported",
                    "HbA1c reported as",
                    "single_choice",
                    "Change scores and final values can be pooled as a mean difference "
                    "(Cochrane Handbook 10.5.2), not as a standardised one.",
                    choices=[*REPORTED.values(), NOT_REPORTED],
                ),
            ],
        },
        {
            "title": "Other",
            "fields": [
                _f("funding", "Funding", "text", "Funding sources and conflicts of interest."),
                _f("notes", "Notes", "long_text"),
            ],
        },
    ]
}


# --------------------------------------------------------------------------- shared


def demo_setup(review, lead) -> None:
    """The demo review's own outcome domains and form (not the defaults), and its citations."""
    subdomains = {(s.domain.name, s.name) for s in _subdomains(review)}
    if subdomains != {HBA1C, MI}:
        services.outcome_domains_replace(review=review, actor=lead, domains=DOMAINS)
    services.form_template_save(review=review, schema=FORM, actor=lead)
    settings = services.extraction_setup(review=review, actor=lead)
    if settings.multi_arm_rule != MultiArmRule.SPLIT:
        # Willms 1999 compares metformin and acarbose with one placebo arm: two effects.
        services.extraction_settings_update(
            review=review, actor=lead, mode=settings.mode, multi_arm_rule=MultiArmRule.SPLIT
        )
    review_services.review_generated_note_set(
        review=review, actor=lead, area="extraction", note=GENERATED_NOTE
    )


def _subdomains(review):
    """The review's subdomains with their domains."""
    from .models import OutcomeSubdomain

    return OutcomeSubdomain.objects.filter(domain__review=review).select_related("domain")


def _subdomain(review, names: tuple[str, str]):
    return _subdomains(review).get(domain__name=names[0], name=names[1])


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _import_records(
    review, lead, *, dataset: str, detail: str, citation: str, rows: Sequence[dict[str, str]]
) -> dict[str, Record]:
    """The data set's trials as records found by citation searching (imported once).

    ``rows`` hold the CSV columns (title, authors, year, abstract, labels); ``trial`` keys
    them. The import goes through the same services as a user's CSV upload.
    """
    existing = {
        r.raw_fields.get("trial"): r
        for r in Record.objects.filter(review=review, source_fields__dataset=dataset)
    }
    if existing:
        return existing
    search = review_services.search_create(
        review=review,
        actor=lead,
        source=Search.Source.CITATION,
        source_detail=detail,
        date_run=timezone.localdate(),
        search_string=f"The trials included by: {citation}",
        hits_reported=len(rows),
        notes="The date is the day these records were imported into the demo. " + citation,
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    batch = review_services.import_preview(
        review=review,
        actor=lead,
        file=io.BytesIO(out.getvalue().encode("utf-8")),
        filename=f"{dataset}_trials.csv",
        fmt="csv",
        search=search,
    )
    review_services.import_confirm(batch=batch, actor=lead)
    # The data set's trials share a title pattern, so de-duplication proposes pairs among
    # them; the lead checks each (different trials, different numbers) and rejects it.
    pending = DuplicateLink.objects.filter(
        review=review,
        status=DuplicateLink.Status.PENDING,
        kept__batch=batch,
        duplicate__batch=batch,
    )
    for link in pending:
        review_services.duplicate_decide(link=link, actor=lead, is_duplicate=False)
    return {
        r.raw_fields.get("trial"): r
        for r in Record.objects.filter(review=review, source_fields__dataset=dataset)
    }


def _screen(review, decisions: list[tuple[Record, bool]], screeners: list[Any]) -> None:
    """alice and bob include each record at title/abstract; at full text they include it,
    or exclude it for its population."""
    from screening import services as screening
    from screening.models import Resolution

    reason = ExclusionReason.objects.filter(
        review=review, stage=Stage.FULL_TEXT, label="Wrong population"
    ).first()
    screening.items_sync(review, force=True)
    for stage in (Stage.TITLE_ABSTRACT, Stage.FULL_TEXT):
        for record, include in decisions:
            if Resolution.objects.filter(record=record, stage=stage).exists():
                continue
            decision = "include" if include or stage == Stage.TITLE_ABSTRACT else "exclude"
            for user in screeners[: review.votes_required]:
                screening.vote_cast(
                    review=review,
                    record_id=record.pk,
                    stage=stage,
                    actor=user,
                    decision=decision,
                    reason_id=reason.pk if decision == "exclude" and reason else None,
                )


def _design(study, lead, *, arms, outcome: dict, timepoint: dict):
    """The study's arms, its outcome and its timepoint (made once)."""
    made_arms = list(study.arms.order_by("position")) or [
        services.arm_create(study=study, actor=lead, name=name, role=role, n_randomised=n)
        for name, role, n in arms
    ]
    made_outcome = study.outcomes.first() or services.outcome_create(
        study=study, actor=lead, **outcome
    )
    made_timepoint = study.timepoints.first() or services.timepoint_create(
        study=study, actor=lead, kind=TimepointKind.POST, **timepoint
    )
    return made_arms, made_outcome, made_timepoint


def _extract(study, user, *, raw: dict[str, str], answers: dict[str, Any], outcome, timepoint):
    extraction = services.extraction_start(study=study, user=user)
    if extraction.is_submitted:
        return
    services.outcome_data_save(
        extraction=extraction,
        outcome=outcome,
        timepoint=timepoint,
        raw={"population": "unclear"} | raw,
        actor=user,
    )
    services.extraction_save_answers(
        extraction=extraction, raw_answers=answers, actor=user, submit=True
    )


def _agree(study, lead, alice) -> None:
    """The lead checks the differing values against the source and keeps alice's."""
    agreed = selectors.extraction_cells(
        study.extractions.get(kind=ExtractionKind.INDEPENDENT, extractor=alice)
    )
    services.consensus_save(study=study, cells=agreed, actor=lead, finalise=True)


def _agreed(study, lead, label: str) -> bool:
    """Give the study its trial's label; True when its consensus is already final."""
    if study.label != label:
        services.study_rename(study=study, label=label, actor=lead)
    return study.extractions.filter(
        kind=ExtractionKind.CONSENSUS, status=ExtractionStatus.SUBMITTED
    ).exists()


def _done(review, dataset: str) -> int:
    return Study.objects.filter(
        review=review,
        reports__record__source_fields__dataset=dataset,
        extractions__kind=ExtractionKind.CONSENSUS,
        extractions__status=ExtractionStatus.SUBMITTED,
    ).count()


# --------------------------------------------------------------------------- Senn et al. 2013


def senn_trials() -> dict[str, list[dict[str, str]]]:
    """metadat's arms grouped by trial, in the data set's order."""
    trials: dict[str, list[dict[str, str]]] = {}
    for row in _read(SENN_DATA):
        trials.setdefault(row["study"], []).append(row)
    return trials


def senn_label(study: str) -> str:
    """ "Johnston (1998a)" → "Johnston 1998a"."""
    return re.sub(r"\s*\((\w+)\)", r" \1", study).strip()


def _senn_roles(arms: list[dict[str, str]]) -> list[str]:
    """Placebo-controlled: every drug arm is an intervention. Two drugs: the arm metadat
    lists first is the intervention (a convention; such trials are not pooled here)."""
    if any(a["treatment"] == "placebo" for a in arms):
        return [
            ArmRole.CONTROL if a["treatment"] == "placebo" else ArmRole.INTERVENTION for a in arms
        ]
    return [ArmRole.INTERVENTION] + [ArmRole.CONTROL] * (len(arms) - 1)


def _senn_record(study: str, arms: list[dict[str, str]]) -> dict[str, str]:
    roles = _senn_roles(arms)

    def named(role: str) -> str:
        return " and ".join(
            f"{a['treatment']} (N = {a['ni']})"
            for a, r in zip(arms, roles, strict=True)
            if r == role
        )

    author, year = senn_label(study).rsplit(" ", 1)
    return {
        # The arm sizes keep Johnston 1998a and 1998b apart for de-duplication, as in life.
        "title": (
            f"{senn_label(study)}: {named(ArmRole.INTERVENTION)} versus "
            f"{named(ArmRole.CONTROL)} in type 2 diabetes, HbA1c "
            "(trial as summarised by Senn et al. 2013)"
        ),
        "authors": author,
        "year": year[:4],
        "abstract": (
            f"Trial {study} of the R data set {SENN_DATASET}: "
            + "; ".join(f"{a['treatment']} (N = {a['ni']})" for a in arms)
            + ". The trial report itself is not part of the data set. "
            + SENN_CITATION
        ),
        "dataset": SENN_DATASET,
        "trial": study,
    }


def _senn_answers(arms: list[dict[str, str]], roles: list[str]) -> dict[str, Any]:
    drugs = [a["treatment"] for a, r in zip(arms, roles, strict=True) if r == ArmRole.INTERVENTION]
    classes = {DRUG_CLASSES[d] for d in drugs}
    controls = [a["treatment"] for a, r in zip(arms, roles, strict=True) if r == ArmRole.CONTROL]
    return {
        "population": "Adults with type 2 diabetes (no further detail in the data set).",
        "intervention_name": " and ".join(d.capitalize() for d in drugs),
        "drug_class": classes.pop() if len(classes) == 1 else SEVERAL_CLASSES,
        "comparator_type": PLACEBO if controls == ["placebo"] else OTHER_DRUG,
        "comparator_description": " and ".join(c.capitalize() for c in controls),
        "hba1c_reported": REPORTED[arms[0]["comment"]],
        "notes": f"Data: {SENN_CITATION}",
    }


def demo_extraction(review, users: dict[str, Any]) -> str | None:
    """Enter the 26 trials of Senn et al. (2013) in the demo review (idempotent)."""
    lead, alice, bob = users["lead"], users["alice"], users["bob"]
    trials = senn_trials()
    if _done(review, SENN_DATASET) >= len(trials):
        return None
    with transaction.atomic():
        demo_setup(review, lead)
        review_services.review_source_add(review=review, actor=lead, citation=SENN_CITATION)
        records = _import_records(
            review,
            lead,
            dataset=SENN_DATASET,
            detail="Included studies of Senn et al. 2013",
            citation=SENN_CITATION,
            rows=[_senn_record(study, arms) for study, arms in trials.items()],
        )
        _screen(review, [(records[study], True) for study in trials], [alice, bob])
        services.studies_sync(review=review, actor=lead)
        subdomain = _subdomain(review, HBA1C)
        for study_name, arms in trials.items():
            study = records[study_name].study_report.study
            if _agreed(study, lead, senn_label(study_name)):
                continue
            roles = _senn_roles(arms)
            made_arms, outcome, timepoint = _design(
                study,
                lead,
                arms=[
                    (a["treatment"].capitalize(), role, int(a["ni"]))
                    for a, role in zip(arms, roles, strict=True)
                ],
                outcome={
                    "name": "HbA1c",
                    "direction": Direction.LOWER,
                    "subdomain": subdomain,
                    "instrument": (
                        "HbA1c (%), change from baseline"
                        if arms[0]["comment"] == "change"
                        else "HbA1c (%), at the end of treatment"
                    ),
                },
                # dat.senn2013 gives no trial durations: the label says so.
                timepoint={"label": "End of treatment (duration not in the data set)", "weeks": 0},
            )
            raw = {}
            for arm, row in zip(made_arms, arms, strict=True):
                raw |= {
                    f"arm-{arm.pk}-mean": row["mi"],
                    f"arm-{arm.pk}-sd": row["sdi"],
                    f"arm-{arm.pk}-n": row["ni"],
                }
            answers = _senn_answers(arms, roles)
            _extract(study, alice, raw=raw, answers=answers, outcome=outcome, timepoint=timepoint)
            if study_name == MISTYPED[0]:
                slipped = next(a for a in made_arms if a.name.lower() == MISTYPED[1])
                raw = raw | {f"arm-{slipped.pk}-{MISTYPED[2]}": MISTYPED[3]}
            _extract(study, bob, raw=raw, answers=answers, outcome=outcome, timepoint=timepoint)
            _agree(study, lead, alice)
    return f"Extraction demo: {len(trials)} trials from {SENN_DATASET} extracted twice and agreed."


# --------------------------------------------------------------------------- Nissen & Wolski 2007


def nissen_trials() -> list[dict[str, str]]:
    return _read(NISSEN_DATA)


def nissen_included(row: dict[str, str]) -> bool:
    """Type 2 diabetes (the protocol's population); not psoriasis, Alzheimer's, prediabetes."""
    return NOT_T2D.search(row["population"]) is None


def _comparator_type(control: str) -> str:
    if control == "placebo":
        return PLACEBO
    return USUAL_CARE if control.startswith("usual care") else OTHER_DRUG


def _nissen_record(row: dict[str, str]) -> dict[str, str]:
    return {
        "title": (
            f"Rosiglitazone trial {row['study']}: {row['treatment']} versus {row['control']}, "
            f"{row['population']}, {row['weeks']} weeks (as tabulated by Nissen & Wolski 2007)"
        ),
        "authors": "",
        "year": row["end"][:4],
        "abstract": (
            f"Trial {row['study']} ({row['type']}, phase {row['phase']}, {row['start']} to "
            f"{row['end']}) of the R data set {NISSEN_DATASET}: myocardial infarctions "
            f"{row['treat.infarction']} of {row['treat.total']} with rosiglitazone, "
            f"{row['cont.infarction']} of {row['cont.total']} with control. " + NISSEN_CITATION
        ),
        "dataset": NISSEN_DATASET,
        "trial": row["study"],
    }


def _nissen_answers(row: dict[str, str]) -> dict[str, Any]:
    return {
        "population": row["population"],
        "period": f"{row['start']} to {row['end']}",
        "intervention_name": row["treatment"].capitalize(),
        "drug_class": DRUG_CLASSES["rosiglitazone"],
        "duration_weeks": row["weeks"],
        "comparator_type": _comparator_type(row["control"]),
        "comparator_description": row["control"].capitalize(),
        "hba1c_reported": NOT_REPORTED,
        "notes": f"Trial type: {row['type']}; phase {row['phase']}. Data: {NISSEN_CITATION}",
    }


def demo_extraction_dichotomous(review, users: dict[str, Any]) -> str | None:
    """Enter the rosiglitazone trials of Nissen & Wolski (2007) in the demo review (idempotent).

    All 42 enter as records; the 38 in type 2 diabetes are included and extracted
    (participants with a myocardial infarction per arm), the other 4 excluded at full text.
    """
    lead, alice, bob = users["lead"], users["alice"], users["bob"]
    rows = nissen_trials()
    included = [row for row in rows if nissen_included(row)]
    if _done(review, NISSEN_DATASET) >= len(included):
        return None
    with transaction.atomic():
        demo_setup(review, lead)
        review_services.review_source_add(review=review, actor=lead, citation=NISSEN_CITATION)
        records = _import_records(
            review,
            lead,
            dataset=NISSEN_DATASET,
            detail="Included studies of Nissen & Wolski 2007",
            citation=NISSEN_CITATION,
            rows=[_nissen_record(row) for row in rows],
        )
        _screen(
            review, [(records[row["study"]], nissen_included(row)) for row in rows], [alice, bob]
        )
        services.studies_sync(review=review, actor=lead)
        subdomain = _subdomain(review, MI)
        for row in included:
            study = records[row["study"]].study_report.study
            if _agreed(study, lead, row["study"]):
                continue
            (treated, control), outcome, timepoint = _design(
                study,
                lead,
                arms=[
                    (row["treatment"].capitalize(), ArmRole.INTERVENTION, int(row["treat.total"])),
                    (row["control"].capitalize(), ArmRole.CONTROL, int(row["cont.total"])),
                ],
                outcome={
                    "name": "Myocardial infarction",
                    "direction": Direction.LOWER,
                    "subdomain": subdomain,
                    "instrument": "Participants with a myocardial infarction",
                },
                timepoint={"label": f"Week {row['weeks']}", "weeks": float(row["weeks"])},
            )
            raw = {
                f"arm-{treated.pk}-events": row["treat.infarction"],
                f"arm-{treated.pk}-n": row["treat.total"],
                f"arm-{control.pk}-events": row["cont.infarction"],
                f"arm-{control.pk}-n": row["cont.total"],
            }
            answers = _nissen_answers(row)
            for user in (alice, bob):
                _extract(
                    study, user, raw=raw, answers=answers, outcome=outcome, timepoint=timepoint
                )
            _agree(study, lead, alice)
    return (
        f"Extraction demo: {len(included)} trials from {NISSEN_DATASET} (myocardial infarctions "
        f"per arm) extracted twice and agreed; {len(rows) - len(included)} excluded at full text."
    )
