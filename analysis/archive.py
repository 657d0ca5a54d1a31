"""Analysis definitions in a review archive (registered in AnalysisConfig.ready)."""

from __future__ import annotations

from typing import Any

from reviews.archive import Table, register_tables

from .models import Analysis, AnalysisEvent, ReviewVersion, TimepointWindow

WINDOW, ANALYSIS = "analysis.timepointwindow", "analysis.analysis"


def _event(row: dict[str, Any], ids) -> dict[str, Any]:
    """Analysis events keep the window(s) and analysis a change named (services._event)."""
    detail = row.get("detail")
    if isinstance(detail, dict):
        detail = dict(detail)
        if "window" in detail:
            detail["window"] = ids.map(WINDOW, detail["window"])
        if "long_term_windows" in detail:
            detail["long_term_windows"] = ids.map_list(WINDOW, detail["long_term_windows"])
        if "id" in detail:
            detail["id"] = ids.map(ANALYSIS, detail["id"])
        settings = detail.get("settings")
        if isinstance(settings, dict) and "window" in settings:
            detail["settings"] = {**settings, "window": ids.map(WINDOW, settings["window"])}
        row["detail"] = detail
    return row


def register() -> None:
    register_tables(
        Table(TimepointWindow, "review"),
        Table(Analysis, "review"),
        Table(Analysis.long_term_windows.through, "analysis__review"),
        Table(AnalysisEvent, "review", encode=_event, decode=_event, depends=(WINDOW, ANALYSIS)),
        # Snapshots name records, studies and analyses by content, not by id: kept as is.
        Table(ReviewVersion, "review"),
    )
