"""Reads of published versions: the snapshot a version freezes, the list, the comparison."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from extraction.rob.selectors import consensus_rob
from extraction.selectors import consensus_effect_sizes, studies_for
from reviews.dedup import normalise_doi, normalise_pmid, normalise_title
from reviews.models import Review, Stage
from screening.prisma import prisma_counts
from screening.selectors import included_records

from ..certainty.selectors import assessments_for
from ..data import ReviewReads
from ..exports import data_records, formatted_cells, results_records
from ..figures import method_text
from ..report import ReportInputError
from ..selectors import analyses_for, analysis_report
from .models import ReviewVersion

SNAPSHOT_FORMAT = 1
RATIO_MEASURES = ("OR", "RR")
PRISMA_ROWS = (
    ("records_screened", "Records screened"),
    ("reports_assessed", "Reports assessed for eligibility"),
    ("total_studies", "Studies included in review"),
    ("total_reports", "Reports of included studies"),
)


def versions_for(review: Review) -> QuerySet[ReviewVersion]:
    """The review's published versions, newest first, without their (large) snapshots."""
    return review.versions.select_related("published_by").defer("snapshot")


def version_latest(review: Review) -> ReviewVersion | None:
    return review.versions.order_by("-number").first()


def previous_version_included(review: Review) -> tuple[int, int] | None:
    """(studies, reports) the last version published before the current round included,
    for PRISMA's template for updated reviews (``screening.prisma``'s registry)."""
    version = (
        review.versions.filter(round__lt=review.round)
        .order_by("-number")
        .values_list("snapshot__prisma", flat=True)
        .first()
    )
    if version is None:
        return None
    return _total(version, "studies"), _total(version, "reports")


def _total(prisma: dict[str, Any], what: str) -> int:
    """Studies or reports a version's PRISMA counts include, previous versions' too."""
    if f"total_{what}" in prisma:
        return int(prisma[f"total_{what}"])
    return int(prisma.get(f"previous_{what}") or 0) + int(prisma[f"{what}_included"])


# --- The snapshot ------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Plain JSON: dataclasses as dicts, tuples as lists, NaN/inf as None (jsonb has neither)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def snapshot_digest(snapshot: dict[str, Any]) -> str:
    """SHA-256 of the snapshot's canonical JSON (keys sorted, no whitespace)."""
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _report_key(record: Any) -> str:
    """A record by content: DOI, else PMID, else its normalised title (never its id)."""
    doi, pmid = normalise_doi(record.doi), normalise_pmid(record.pmid)
    if doi:
        return f"doi:{doi}"
    if pmid:
        return f"pmid:{pmid}"
    return f"title:{normalise_title(record.title)}"


def _report(record: Any) -> dict[str, Any]:
    return {
        "key": _report_key(record),
        "citation": record.citation,
        "title": record.title,
        "doi": record.doi,
        "pmid": record.pmid,
        "year": record.year,
    }


def _studies(review: Review) -> list[dict[str, Any]]:
    """Included studies with their reports; every included report is its own study until
    extraction groups reports into studies."""
    studies = [
        {"label": study.label, "reports": [_report(r.record) for r in study.reports.all()]}
        for study in studies_for(review)
    ]
    if studies:
        return studies
    return [
        {"label": record.citation, "reports": [_report(record)]}
        for record in included_records(review, Stage.FULL_TEXT)
    ]


def _extraction(review: Review) -> dict[str, Any]:
    effects = consensus_effect_sizes(review)
    rows = []
    for row in effects.rows:
        data = dataclasses.asdict(row)
        for name in ("study_id", "outcome_id", "timepoint_id"):  # ids mean nothing later
            data.pop(name)
        rows.append(data)
    missing = []
    for row in effects.missing:
        data = dataclasses.asdict(row)
        data.pop("study_id")
        missing.append(data)
    return {"effects": rows, "missing": missing, "field_labels": effects.field_labels}


def _rob(review: Review) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "study": entry["label"],
                "overall": entry["overall"],
                "domains": entry["domains"],
                # per-outcome judgements by outcome name would need extraction's outcomes;
                # the study-level summary is what tables and sensitivity analyses use
                "per_outcome": len(entry["outcomes"]),
            }
            for entry in consensus_rob(review).values()
        ),
        key=lambda e: e["study"],
    )


def _analysis(analysis: Any, reads: ReviewReads) -> dict[str, Any]:
    out: dict[str, Any] = {"title": analysis.title, "measure": analysis.effect_measure}
    try:
        report, _ = analysis_report(analysis, reads=reads)
    except ReportInputError as exc:
        return {**out, "error": str(exc), "method": "", "main": None, "rows": [], "studies": []}
    measure = report.settings.measure
    main = next((r for r in report.rows() if r.key == "all"), None)
    numbers = main.numbers if main is not None else None
    studies = []
    for record in data_records(report):
        record.pop("study_id", None)
        studies.append(record)
    return {
        **out,
        "error": "",
        "measure": measure,
        "method": method_text(report),
        "main": {
            "k": main.k if main is not None else 0,
            "estimate": numbers.estimate if numbers else None,
            "ci_low": numbers.ci_low if numbers else None,
            "ci_high": numbers.ci_high if numbers else None,
            "I2": numbers.I2 if numbers else None,
            "tau2": numbers.tau2 if numbers else None,
            "p": numbers.p if numbers else None,
            "cells": formatted_cells(main, measure) if main is not None else {},
        },
        "rows": results_records(report),
        "studies": studies,
    }


def _certainty(review: Review) -> list[dict[str, Any]]:
    """The GRADE assessments confirmed so far: certainty, statement, each domain's rating."""
    return [
        {
            "analysis": a.analysis.title,
            "outcome": a.outcome_label or a.analysis.title,
            "certainty": a.get_certainty_display(),
            "start": a.get_start_level_display(),
            "statement": a.statement,
            "domains": [
                {
                    "domain": d.get_domain_display(),
                    "final": d.get_final_display(),
                    "suggested": d.get_suggested_display(),
                    "reason": d.reason,
                }
                for d in a.domains.all()
            ],
            "confirmed_at": a.confirmed_at.isoformat() if a.confirmed_at else None,
        }
        for a in assessments_for(review).order_by("analysis__position", "analysis_id")
    ]


def version_snapshot(review: Review) -> dict[str, Any]:
    """Everything a version freezes, as plain JSON."""
    counts = prisma_counts(review)
    reads = ReviewReads(review)  # the studies and RoB 2 read once for all the analyses
    return _jsonable(
        {
            "format": SNAPSHOT_FORMAT,
            "round": review.round,
            "studies": _studies(review),
            "extraction": _extraction(review),
            "rob": _rob(review),
            "analyses": [_analysis(a, reads) for a in analyses_for(review)],
            "prisma": {
                **dataclasses.asdict(counts),
                "is_update": counts.is_update,
                "total_studies": counts.total_studies,
                "total_reports": counts.total_reports,
            },
            "certainty": _certainty(review),
        }
    )


# --- Comparing two versions ----------------------------------------------------------------


@dataclass(frozen=True)
class EstimateChange:
    """One analysis' pooled estimate in two versions ("" cells where it was not pooled)."""

    title: str
    measure: str
    before: str
    after: str
    k_before: int | None
    k_after: int | None
    change: str  # after − before (ratio of ratios for OR/RR); "" unless both pooled
    change_value: float | None


@dataclass(frozen=True)
class Comparison:
    older: ReviewVersion
    newer: ReviewVersion
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    kept: int
    estimates: list[EstimateChange]
    prisma: list[tuple[str, int, int]]


def _study_keys(study: dict[str, Any]) -> set[str]:
    return {r["key"] for r in study["reports"]}


def _change(before: dict | None, after: dict | None, measure: str) -> tuple[str, float | None]:
    a = before and before.get("estimate")
    b = after and after.get("estimate")
    if a is None or b is None:
        return "", None
    if measure in RATIO_MEASURES:  # pooled on the log scale: the ratio of the two ratios
        value = math.exp(b - a)
        return f"× {value:.3f}", value
    value = b - a
    return f"{value:+.3f}", value


def version_compare(older: ReviewVersion, newer: ReviewVersion) -> Comparison:
    """Studies added and removed, and every analysis' pooled estimate before and after."""
    if older.number > newer.number:
        older, newer = newer, older
    before, after = older.snapshot, newer.snapshot
    before_keys = set().union(*(_study_keys(s) for s in before["studies"]))
    after_keys = set().union(*(_study_keys(s) for s in after["studies"]))
    added = [s for s in after["studies"] if not _study_keys(s) & before_keys]
    removed = [s for s in before["studies"] if not _study_keys(s) & after_keys]
    old_analyses = {a["title"]: a for a in before["analyses"]}
    new_analyses = {a["title"]: a for a in after["analyses"]}
    estimates = []
    for title in [*new_analyses, *(t for t in old_analyses if t not in new_analyses)]:
        a, b = old_analyses.get(title), new_analyses.get(title)
        measure = (b or a)["measure"]
        main_a, main_b = (a or {}).get("main"), (b or {}).get("main")
        text, value = _change(main_a, main_b, measure)
        estimates.append(
            EstimateChange(
                title=title,
                measure=measure,
                before=(main_a or {}).get("cells", {}).get("g", "") if a else "not in this version",
                after=(main_b or {}).get("cells", {}).get("g", "") if b else "not in this version",
                k_before=(main_a or {}).get("k") if a else None,
                k_after=(main_b or {}).get("k") if b else None,
                change=text,
                change_value=value,
            )
        )
    prisma = [
        (label, before["prisma"].get(name, 0), after["prisma"].get(name, 0))
        for name, label in PRISMA_ROWS
    ]  # an update's own flow counts only its round: the totals compare across versions
    return Comparison(
        older=older,
        newer=newer,
        added=added,
        removed=removed,
        kept=len(after["studies"]) - len(added),
        estimates=estimates,
        prisma=prisma,
    )
