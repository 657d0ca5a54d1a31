"""Analysis settings in the activity log (registered in AnalysisConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator

from reviews.activity import (
    Activity,
    ActivityQuery,
    ActivitySource,
    history_rows,
    register_activity_source,
    username,
)

from .models import AnalysisEvent


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


def register() -> None:
    register_activity_source(
        ActivitySource("analysis", {"analysis": "Analysis settings"}, _events, order=40)
    )
