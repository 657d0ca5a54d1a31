"""The api app's part of the activity log: imports of other tools' screening decisions
(registered in ApiConfig.ready). The votes and resolutions they wrote are screening's."""

from __future__ import annotations

from collections.abc import Iterator

from django.urls import reverse

from reviews.activity import (
    Activity,
    ActivityQuery,
    ActivitySource,
    history_rows,
    register_activity_source,
    username,
)

from .exchange import tools
from .models import DecisionsImport


def _detail(row: DecisionsImport) -> str:
    """Counts per reviewer and round or stage, as the report gives them."""
    parts = [f"{row.n_read:,} read, {row.n_written:,} written, {row.n_not_written:,} not"]
    for group in (row.report or {}).get("groups", [])[:12]:
        who = group.get("reviewer") or "final decision"
        where = (f"round {group['round']} " if group.get("round") else "") + group.get(
            "stage_label", ""
        )
        parts.append(f"{who} ({where}): {group.get('written', 0)}/{group.get('read', 0)}")
    return " · ".join(parts)


def _imports(query: ActivityQuery) -> Iterator[Activity]:
    rows = DecisionsImport.objects.filter(review=query.review).select_related("actor", "batch")
    for row in history_rows(rows, query):
        yield Activity(
            row.at,
            "decisions_import",
            username(row.actor),
            f"{tools.TOOLS.get(row.tool, row.tool)} decisions imported",
            row.batch.filename,
            _detail(row),
            reverse(
                "api_pages:decisions_report",
                kwargs={"slug": query.review.slug, "import_id": row.pk},
            ),
        )


def register() -> None:
    register_activity_source(
        ActivitySource(
            "api", {"decisions_import": "Decisions from other tools"}, _imports, order=50
        )
    )
