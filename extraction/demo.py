"""Demo step: real outcome data (Normand 1999, via R's metadat) extracted by two people, agreed.

The nine trials enter the demo review as included reports (screened in by alice and bob
through screening's services), become studies, and are extracted by alice and bob through
the same services the pages use; bob mistypes one SD, and the lead's consensus keeps the
published value. Running the step again changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from django.db import transaction

from reviews import dedup
from reviews.models import ImportBatch, Record, Search
from reviews.services import search_create

from . import selectors, services
from .models import ArmRole, Direction, ExtractionKind, ExtractionStatus, Study, TimepointKind

DATA = Path(__file__).resolve().parent / "demo_data" / "normand1999.csv"
DATASET = "dat.normand1999"
CITATION = (
    "Normand S-LT (1999). Meta-analysis: formulating, evaluating, combining, and reporting. "
    "Statistics in Medicine 18(3):321-359. Data from the R package metadat (dat.normand1999)."
)
# Only where the source's city name leaves no doubt.
COUNTRY = {
    "Edinburgh": "United Kingdom",
    "Orpington": "United Kingdom",
    "Montreal": "Canada",
    "Umea": "Sweden",
    "Uppsala": "Sweden",
}
MISTYPED = ("Montreal-Home", "sd", 18.0)  # bob's transcription error, caught at consensus


def _rows() -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _agreed_already(study, lead, *, label: str) -> bool:
    """Give the demo study its trial's label; True when its consensus is already final."""
    if study.label != label:
        services.study_rename(study=study, label=label, actor=lead)
    return study.extractions.filter(kind=ExtractionKind.CONSENSUS, status="submitted").exists()


def _study_design(
    study, lead, *, arms: tuple[str, str], sizes: tuple[int, int], outcome: dict, timepoint: dict
):
    """The demo trial's two arms, its outcome and its post-treatment timepoint (made once)."""
    made_arms = list(study.arms.order_by("position")) or [
        services.arm_create(study=study, actor=lead, name=name, role=role, n_randomised=n)
        for name, role, n in zip(arms, (ArmRole.INTERVENTION, ArmRole.CONTROL), sizes, strict=True)
    ]
    made_outcome = study.outcomes.first() or services.outcome_create(
        study=study, actor=lead, **outcome
    )
    made_timepoint = study.timepoints.first() or services.timepoint_create(
        study=study, actor=lead, kind=TimepointKind.POST, **timepoint
    )
    return made_arms, made_outcome, made_timepoint


def _demo_batch(review, lead, *, detail: str, citation: str, data, n: int) -> ImportBatch:
    """The search and the import batch a demo data set's records come from."""
    search = search_create(
        review=review,
        actor=lead,
        source=Search.Source.OTHER,
        source_detail=detail,
        date_run=dt.date(2024, 1, 15),
        search_string=f"Trials summarised in {citation}",
        hits_reported=n,
        notes=citation,
    )
    return ImportBatch.objects.create(
        review=review,
        search=search,
        filename=data.name,
        format="csv",
        status=ImportBatch.Status.IMPORTED,
        n_read=n,
        n_imported=n,
        uploaded_by=lead,
    )


def _records(review, lead) -> dict[str, Record]:
    """One record per trial, imported once (found again by its source on later runs)."""
    existing = {
        r.source_fields.get("source"): r
        for r in Record.objects.filter(review=review, source_fields__dataset=DATASET)
    }
    missing = [row for row in _rows() if row["source"] not in existing]
    if not missing:
        return existing
    batch = _demo_batch(
        review,
        lead,
        detail="Demo outcome data (metadat)",
        citation=CITATION,
        data=DATA,
        n=len(missing),
    )
    for line, row in enumerate(missing, start=2):
        title = (
            f"{row['source']}: specialist stroke-unit care versus routine care, "
            "length of hospital stay (trial data as summarised by Normand 1999)"
        )
        authors = ["Normand, Sharon-Lise T."]
        existing[row["source"]] = Record.objects.create(
            review=review,
            batch=batch,
            source_line=line,
            title=title,
            abstract=f"Trial {row['study']} of {DATASET}. {CITATION}",
            authors=authors,
            year=1999,
            journal="Statistics in Medicine",
            volume="18",
            issue="3",
            pages="321-359",
            source_fields={"dataset": DATASET, "source": row["source"], "study": row["study"]},
            title_norm=dedup.normalise_title(title),
            first_author=dedup.first_author_key(authors[0]),
        )
    return existing


def _include_at_full_text(review, records: list[Record], screeners: list[Any]) -> None:
    """alice and bob include each record at title/abstract and at full text."""
    from screening import services as screening
    from screening.models import Resolution

    screening.items_sync(review, force=True)
    for stage in ("ta", "ft"):
        for record in records:
            if Resolution.objects.filter(record=record, stage=stage).exists():
                continue
            for user in screeners[: review.votes_required]:
                screening.vote_cast(
                    review=review, record_id=record.pk, stage=stage, actor=user, decision="include"
                )


def _answers(row: dict[str, str]) -> dict[str, Any]:
    city, _, variant = row["source"].partition("-")
    return {
        "country": COUNTRY.get(city, ""),
        "setting": f"Inpatient stroke care, {city}" + (f" ({variant.lower()})" if variant else ""),
        "diagnosis": "Other",
        "intervention_name": "Specialist stroke-unit care",
        "format": "Mixed",
        "delivery": "Face-to-face",
        "comparator_type": "Care as usual",
        "comparator_description": "Routine (non-specialist) care",
        "notes": f"Demo data. {CITATION}",
    }


def _extract(study: Study, user, row: dict[str, str], arms, outcome, timepoint, mistype: bool):
    extraction = services.extraction_start(study=study, user=user)
    if extraction.is_submitted:
        return
    raw = {"population": "unclear"}
    for arm, suffix in ((arms[0], "1"), (arms[1], "2")):
        raw |= {
            f"arm-{arm.pk}-mean": row[f"m{suffix}i"],
            f"arm-{arm.pk}-sd": row[f"sd{suffix}i"],
            f"arm-{arm.pk}-n": row[f"n{suffix}i"],
        }
    if mistype:
        raw[f"arm-{arms[0].pk}-{MISTYPED[1]}"] = str(MISTYPED[2])
    services.outcome_data_save(
        extraction=extraction, outcome=outcome, timepoint=timepoint, raw=raw, actor=user
    )
    services.extraction_save_answers(
        extraction=extraction, raw_answers=_answers(row), actor=user, submit=True
    )


def demo_extraction(review, users: dict[str, Any]) -> str | None:
    """Extract the Normand (1999) trials in the demo review (idempotent)."""
    lead, alice, bob = users["lead"], users["alice"], users["bob"]
    done = Study.objects.filter(
        review=review,
        reports__record__source_fields__dataset=DATASET,
        extractions__kind=ExtractionKind.CONSENSUS,
        extractions__status=ExtractionStatus.SUBMITTED,
    ).count()
    rows = _rows()
    if done >= len(rows):
        return None
    with transaction.atomic():
        services.extraction_setup(review=review, actor=lead)
        subdomain = services.subdomain_save(
            review=review, actor=lead, domain_name="Service use", name="Length of hospital stay"
        )
        records = _records(review, lead)
        _include_at_full_text(review, [records[r["source"]] for r in rows], [alice, bob])
        services.studies_sync(review=review, actor=lead)
        for row in rows:
            study = records[row["source"]].study_report.study
            if _agreed_already(study, lead, label=row["source"]):
                continue
            arms, outcome, timepoint = _study_design(
                study,
                lead,
                arms=("Specialist stroke care", "Routine care"),
                sizes=(int(row["n1i"]), int(row["n2i"])),
                outcome={
                    "name": "Length of hospital stay",
                    "direction": Direction.LOWER,
                    "subdomain": subdomain,
                    "instrument": "Days in hospital",
                },
                timepoint={"label": "Discharge", "weeks": 0},
            )
            _extract(study, alice, row, arms, outcome, timepoint, mistype=False)
            _extract(
                study, bob, row, arms, outcome, timepoint, mistype=row["source"] == MISTYPED[0]
            )
            # The lead checks the differing value against the paper and keeps alice's.
            agreed = selectors.extraction_cells(
                study.extractions.get(kind=ExtractionKind.INDEPENDENT, extractor=alice)
            )
            services.consensus_save(study=study, cells=agreed, actor=lead, finalise=True)
    return f"Extraction demo: {len(rows)} studies from {DATASET} extracted twice and agreed."


# --------------------------------------------------------------------------- dichotomous

LINDE_DATA = Path(__file__).resolve().parent / "demo_data" / "linde2005.csv"
LINDE_DATASET = "dat.linde2005"
LINDE_CITATION = (
    "Linde K, Berner M, Egger M, Mulrow C (2005). St John's wort for depression: "
    "meta-analysis of randomised controlled trials. British Journal of Psychiatry "
    "186(2):99-107. Data from the R package metadat (dat.linde2005)."
)
RESPONSE_SUBDOMAIN = ("Clinical recovery", "Treatment response")


def _linde_rows() -> list[dict[str, str]]:
    with LINDE_DATA.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["label"] = f"{row['study']} {row['year']}"
    return rows


def _linde_records(review, lead) -> dict[str, Record]:
    """One record per trial of Linde et al. (2005), imported once."""
    existing = {
        r.source_fields.get("label"): r
        for r in Record.objects.filter(review=review, source_fields__dataset=LINDE_DATASET)
    }
    missing = [row for row in _linde_rows() if row["label"] not in existing]
    if not missing:
        return existing
    batch = _demo_batch(
        review,
        lead,
        detail="Demo dichotomous outcome data (metadat)",
        citation=LINDE_CITATION,
        data=LINDE_DATA,
        n=len(missing),
    )
    for line, row in enumerate(missing, start=2):
        title = (
            f"{row['label']}: Hypericum extract ({row['prep']}) versus placebo for depression, "
            "response (trial data as summarised by Linde et al. 2005)"
        )
        authors = ["Linde, Klaus", "Berner, Michael", "Egger, Matthias", "Mulrow, Cynthia"]
        existing[row["label"]] = Record.objects.create(
            review=review,
            batch=batch,
            source_line=line,
            title=title,
            abstract=f"Trial {row['label']} of {LINDE_DATASET}. {LINDE_CITATION}",
            authors=authors,
            year=2005,
            journal="British Journal of Psychiatry",
            volume="186",
            issue="2",
            pages="99-107",
            source_fields={"dataset": LINDE_DATASET, "label": row["label"], "id": row["id"]},
            title_norm=dedup.normalise_title(title),
            first_author=dedup.first_author_key(authors[0]),
        )
    return existing


def _linde_answers(row: dict[str, str]) -> dict[str, Any]:
    return {
        "country": row["country"],
        "setting": "Outpatients with depressive disorders",
        "diagnosis": "Depression",
        "intervention_name": f"Hypericum extract (St John's wort, {row['prep']})",
        "format": "One-to-one",
        "delivery": "Face-to-face",
        "duration_weeks": row["duration"],
        "comparator_type": "Inactive control",
        "comparator_description": "Placebo",
        "notes": f"Demo data. {LINDE_CITATION}",
    }


def _extract_events(study: Study, user, row: dict[str, str], arms, outcome, timepoint) -> None:
    extraction = services.extraction_start(study=study, user=user)
    if extraction.is_submitted:
        return
    raw = {"population": "unclear"}
    for arm, (events, n) in ((arms[0], ("ai", "n1i")), (arms[1], ("ci", "n2i"))):
        raw |= {f"arm-{arm.pk}-events": row[events], f"arm-{arm.pk}-n": row[n]}
    services.outcome_data_save(
        extraction=extraction, outcome=outcome, timepoint=timepoint, raw=raw, actor=user
    )
    services.extraction_save_answers(
        extraction=extraction, raw_answers=_linde_answers(row), actor=user, submit=True
    )


def demo_extraction_dichotomous(review, users: dict[str, Any]) -> str | None:
    """Extract the responders per arm of Linde et al. (2005) in the demo review (idempotent).

    24 placebo-controlled trials of St John's wort with response data (metadat's
    ``dat.linde2005`` without the two trials that reported none): a dichotomous outcome
    the analysis demo pools as a risk ratio by Mantel-Haenszel.
    """
    lead, alice, bob = users["lead"], users["alice"], users["bob"]
    rows = _linde_rows()
    done = Study.objects.filter(
        review=review,
        reports__record__source_fields__dataset=LINDE_DATASET,
        extractions__kind=ExtractionKind.CONSENSUS,
        extractions__status=ExtractionStatus.SUBMITTED,
    ).count()
    if done >= len(rows):
        return None
    with transaction.atomic():
        services.extraction_setup(review=review, actor=lead)
        domain, name = RESPONSE_SUBDOMAIN
        subdomain = services.subdomain_save(
            review=review, actor=lead, domain_name=domain, name=name
        )
        records = _linde_records(review, lead)
        _include_at_full_text(review, [records[r["label"]] for r in rows], [alice, bob])
        services.studies_sync(review=review, actor=lead)
        for row in rows:
            study = records[row["label"]].study_report.study
            if _agreed_already(study, lead, label=row["label"]):
                continue
            arms, outcome, timepoint = _study_design(
                study,
                lead,
                arms=("St John's wort", "Placebo"),
                sizes=(int(row["n1i"]), int(row["n2i"])),
                outcome={
                    "name": "Response",
                    "direction": Direction.HIGHER,
                    "subdomain": subdomain,
                    "instrument": "HRSD response",
                },
                timepoint={"label": f"Week {row['duration']}", "weeks": float(row["duration"])},
            )
            _extract_events(study, alice, row, arms, outcome, timepoint)
            _extract_events(study, bob, row, arms, outcome, timepoint)
            agreed = selectors.extraction_cells(
                study.extractions.get(kind=ExtractionKind.INDEPENDENT, extractor=alice)
            )
            services.consensus_save(study=study, cells=agreed, actor=lead, finalise=True)
    return (
        f"Extraction demo: {len(rows)} trials from {LINDE_DATASET} (responders per arm) "
        "extracted twice and agreed."
    )
