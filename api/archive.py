"""The api app's tables in a review archive (registered in ApiConfig.ready). Tokens belong
to users, not reviews, and are never archived."""

from __future__ import annotations

from typing import Any

from reviews.archive import Table, register_tables

from .models import DecisionsImport

RECORD = "reviews.record"
REASON = "reviews.exclusionreason"


def _report_ids(row: dict[str, Any], ids) -> dict[str, Any]:
    """A report names records (every vote not written) and the fallback reason by id."""
    report = dict(row.get("report") or {})
    if isinstance(report.get("unwritten"), list):
        report["unwritten"] = [
            {
                **u,
                "record": ids.map(RECORD, u.get("record")),
                "target": ids.map(RECORD, u.get("target")),
            }
            if isinstance(u, dict)
            else u
            for u in report["unwritten"]
        ]
    row["report"] = report
    options = dict(row.get("options") or {})
    if options.get("ft_reason") is not None:
        options["ft_reason"] = ids.map(REASON, options["ft_reason"])
    row["options"] = options
    return row


def register() -> None:
    register_tables(
        Table(
            DecisionsImport,
            "review",
            encode=_report_ids,
            decode=_report_ids,
            depends=(RECORD, REASON),
        )
    )
