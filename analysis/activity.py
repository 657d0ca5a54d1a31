"""Analysis settings in the activity log (registered in AnalysisConfig.ready)."""

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

from .models import AnalysisEvent, ReviewVersion


def _events(query: ActivityQuery) -> Iterator[Activity]:
    rows = AnalysisEvent.objects.filter(review=query.review).select_related("actor", "analysis")
    for row in history_rows(rows, query):
        detail = dict(row.detail)
        subject = (
            row.analysis.title
            if row.analysis
            else str(detail.pop("title", "") or detail.get("label", "") or "Analyses")
        )
        settings = detail.pop("settings", None)
        parts = [f"{k.replace('_', ' ')}: {v}" for k, v in sorted(detail.items())]
        if isinstance(settings, dict):
            parts += [f"{k.replace('_', ' ')}: {v}" for k, v in sorted(settings.items())]
        yield Activity(
            row.at,
            "analysis",
            username(row.actor),
            f"Analysis {row.action}",
            subject,
            "; ".join(parts)[:500],
        )


def _versions(query: ActivityQuery) -> Iterator[Activity]:
    rows = (
        ReviewVersion.objects.filter(review=query.review)
        .select_related("published_by")
        .defer("snapshot")
    )
    for row in history_rows(rows, query, at="published_at", actor="published_by"):
        yield Activity(
            row.published_at,
            "analysis",
            username(row.published_by),
            "Version published",
            f"Version {row.number} (round {row.round})",
            row.note[:500],
            reverse(
                "analysis:version_detail",
                kwargs={"slug": query.review.slug, "number": row.number},
            ),
        )


def _items(query: ActivityQuery) -> Iterator[Activity]:
    return merged(_events(query), _versions(query))


def register() -> None:
    register_activity_source(
        ActivitySource("analysis", {"analysis": "Analysis settings"}, _items, order=40)
    )
