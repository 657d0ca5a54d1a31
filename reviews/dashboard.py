"""Panels that apps to the right (screening, extraction, analysis) add to a review's dashboard.

`reviews` may not import those apps; they register a function here in their
AppConfig.ready() instead, and the dashboard asks each in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from .selectors import scheduled_runs_waiting


@dataclass(frozen=True)
class StageCount:
    label: str
    value: int | str
    hint: str = ""


@dataclass(frozen=True)
class NextTask:
    label: str
    url: str
    detail: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    counts: list[StageCount] = field(default_factory=list)
    tasks: list[NextTask] = field(default_factory=list)
    url: str = ""


PanelProvider = Callable[[Any, Any], Panel | None]  # (review, membership) -> Panel
_providers: list[tuple[int, PanelProvider]] = []


def register_panel(provider: PanelProvider, *, order: int = 100) -> None:
    """Register a provider once (re-registering the same function is ignored)."""
    if all(existing is not provider for _, existing in _providers):
        _providers.append((order, provider))
        _providers.sort(key=lambda item: item[0])


def panels_for(review: Any, membership: Any) -> list[Panel]:
    panels = [provider(review, membership) for _, provider in _providers]
    return [panel for panel in panels if panel is not None]


def scheduled_runs_panel(review: Any, membership: Any) -> Panel | None:
    """Tells every member that a scheduled search found records awaiting confirmation."""
    waiting = list(scheduled_runs_waiting(review)[:5])
    if not waiting:
        return None
    return Panel(
        "Scheduled searches",
        counts=[StageCount("Update runs awaiting confirmation", len(waiting))],
        tasks=[
            NextTask(
                f"{batch.search}: {batch.n_read} records found",
                reverse(
                    "reviews:import_detail", kwargs={"slug": review.slug, "batch_id": batch.pk}
                ),
                "a lead confirms or discards the run",
            )
            for batch in waiting
        ],
    )
