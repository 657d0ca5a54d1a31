"""GRADE ratings and SoF table edits in the activity log (registered in AnalysisConfig.ready)."""

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

from .models import CertaintyEvent
from .rules import CERTAINTY


def _value(key: str, value: object) -> str:
    if key == "certainty" and isinstance(value, list):
        return " → ".join(CERTAINTY[v][0] if v in CERTAINTY else "—" for v in value)
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0] or '—'} → {value[1] or '—'}"
    return str(value)


def _events(query: ActivityQuery) -> Iterator[Activity]:
    rows = CertaintyEvent.objects.filter(review=query.review).select_related(
        "actor", "assessment__analysis", "table"
    )
    for row in history_rows(rows, query):
        detail = dict(row.detail)
        subject = str(
            detail.pop("analysis", "")
            or detail.pop("outcome", "")
            or (row.table.title if row.table else detail.pop("title", ""))
        )
        changes = detail.pop("changes", {}) or {}
        overridden = detail.pop("overridden", {}) or {}
        parts = [f"{k.replace('_', ' ')}: {_value(k, v)}" for k, v in sorted(detail.items())]
        parts += [f"{k.replace('_', ' ')}: {_value(k, v)}" for k, v in sorted(changes.items())]
        parts += [f"reason ({k.replace('_', ' ')}): {v}" for k, v in sorted(overridden.items())]
        yield Activity(
            row.at,
            "certainty",
            username(row.actor),
            f"Certainty {row.action}",
            subject,
            "; ".join(parts)[:500],
        )


def register() -> None:
    register_activity_source(
        ActivitySource(
            "certainty", {"certainty": "Certainty (GRADE) and SoF tables"}, _events, order=45
        )
    )
