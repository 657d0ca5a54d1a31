"""GRADE assessments and SoF tables in a review archive (registered in AnalysisConfig.ready).

Their JSON values (a domain's numbers, an assessment's input snapshot, event details) hold
labels and numbers, never ids, so no row needs remapping.
"""

from __future__ import annotations

from reviews.archive import Table, register_tables

from .models import CertaintyAssessment, CertaintyDomain, CertaintyEvent, SofRow, SofTable


def register() -> None:
    register_tables(
        Table(CertaintyAssessment, "review"),
        Table(CertaintyDomain, "assessment__review"),
        Table(SofTable, "review"),
        Table(SofRow, "table__review"),
        Table(CertaintyEvent, "review"),
    )
