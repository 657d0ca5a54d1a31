"""Extraction's and RoB 2's part of the activity log (registered in ExtractionConfig.ready):
extraction saves and consensus, study changes, form versions, RoB 2 answers and consensus."""

from __future__ import annotations

from collections.abc import Iterator

from django.urls import reverse

from reviews.activity import (
    Activity,
    ActivityQuery,
    ActivitySource,
    history_rows,
    merged,
    register_activity_source,
    username,
)

from .models import ExtractionKind, ExtractionRevision, FormTemplate, StudyEvent
from .rob.models import RobChange, RobKind


def _study_url(query: ActivityQuery, study_id: int) -> str:
    return reverse("extraction:study", kwargs={"slug": query.review.slug, "study_id": study_id})


def _revisions(query: ActivityQuery) -> Iterator[Activity]:
    rows = ExtractionRevision.objects.filter(extraction__study__review=query.review)
    if not query.wants("consensus"):
        rows = rows.exclude(extraction__kind=ExtractionKind.CONSENSUS)
    elif not query.wants("extraction"):
        rows = rows.filter(extraction__kind=ExtractionKind.CONSENSUS)
    rows = rows.select_related("actor", "extraction__study").defer("cells")
    for row in history_rows(rows, query):
        study = row.extraction.study
        consensus = row.extraction.kind == ExtractionKind.CONSENSUS
        yield Activity(
            row.at,
            "consensus" if consensus else "extraction",
            username(row.actor),
            f"{'Consensus' if consensus else 'Extraction'} {row.action}",
            study.label,
            f"form v{row.template_version}",
            _study_url(query, study.pk),
        )


def _studies(query: ActivityQuery) -> Iterator[Activity]:
    rows = StudyEvent.objects.filter(review=query.review).select_related("actor", "study")
    for row in history_rows(rows, query):
        label = row.study.label if row.study else str(row.detail.get("label", "removed study"))
        detail = ", ".join(
            f"{k.replace('_', ' ')}: {v}" for k, v in sorted(row.detail.items()) if k != "label"
        )
        url = _study_url(query, row.study_id) if row.study_id else ""
        yield Activity(
            row.at, "study", username(row.actor), f"Study {row.action}", label, detail, url
        )


def _forms(query: ActivityQuery) -> Iterator[Activity]:
    rows = FormTemplate.objects.filter(review=query.review).select_related("created_by")
    for row in history_rows(rows, query, at="created_at", actor="created_by"):
        n = sum(len(section.get("fields", ())) for section in row.schema.get("sections", ()))
        yield Activity(
            row.created_at,
            "form",
            username(row.created_by),
            "Extraction form saved",
            f"version {row.version}",
            f"{n} fields",
        )


def _rob(query: ActivityQuery) -> Iterator[Activity]:
    rows = RobChange.objects.filter(assessment__target__review=query.review)
    if not query.wants("rob_consensus"):
        rows = rows.exclude(assessment__kind=RobKind.CONSENSUS)
    elif not query.wants("rob"):
        rows = rows.filter(assessment__kind=RobKind.CONSENSUS)
    rows = rows.select_related("actor", "assessment__target__study", "assessment__target__outcome")
    for row in history_rows(rows, query):
        assessment = row.assessment
        consensus = assessment.kind == RobKind.CONSENSUS
        detail = f"{row.old or '—'} → {row.new or '—'}" + (f" · {row.note}" if row.note else "")
        yield Activity(
            row.at,
            "rob_consensus" if consensus else "rob",
            username(row.actor),
            f"RoB 2 {'consensus ' if consensus else ''}{row.field}",
            str(assessment.target),
            detail[:300],
            reverse(
                "extraction:rob_assess",
                kwargs={"slug": query.review.slug, "rob_target_id": assessment.target_id},
            ),
        )


def _items(query: ActivityQuery) -> Iterator[Activity]:
    streams = []
    if query.wants("extraction") or query.wants("consensus"):
        streams.append(_revisions(query))
    if query.wants("study"):
        streams.append(_studies(query))
    if query.wants("form"):
        streams.append(_forms(query))
    if query.wants("rob") or query.wants("rob_consensus"):
        streams.append(_rob(query))
    return merged(*streams)


def register() -> None:
    register_activity_source(
        ActivitySource(
            "extraction",
            {
                "extraction": "Extraction answers",
                "consensus": "Extraction consensus",
                "study": "Studies",
                "form": "Extraction form",
                "rob": "RoB 2 answers",
                "rob_consensus": "RoB 2 consensus",
            },
            _items,
            order=30,
        )
    )
