"""Extraction's and RoB 2's tables in a review archive (registered in ExtractionConfig.ready).

Models are looked up by label so that this list does not follow where they live.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps

from reviews.archive import Table, register_tables

OUTCOME, TIMEPOINT, ARM = "extraction.outcome", "extraction.timepoint", "extraction.arm"
RECORD, STUDY = "reviews.record", "extraction.study"


def _cells(cells: Any, ids) -> Any:
    """Revision cells name outcomes, timepoints and arms by id in their keys:
    ``d:<outcome>:<timepoint>:<attr>`` and ``a:<outcome>:<timepoint>:<arm>:<attr>``."""
    if not isinstance(cells, dict):
        return cells
    out = {}
    for key, value in cells.items():
        parts = key.split(":")
        labels = {"d": (OUTCOME, TIMEPOINT), "a": (OUTCOME, TIMEPOINT, ARM)}.get(parts[0], ())
        if labels and len(parts) == len(labels) + 2:
            for i, label in enumerate(labels, 1):
                parts[i] = str(ids.map(label, int(parts[i]) if parts[i].isdigit() else None) or 0)
            key = ":".join(parts)
        out[key] = value
    return out


def _revision(row: dict[str, Any], ids) -> dict[str, Any]:
    row["cells"] = _cells(row.get("cells"), ids)
    return row


def _study_event(row: dict[str, Any], ids) -> dict[str, Any]:
    """Study events keep the record(s) and the new study a change named."""
    detail = row.get("detail")
    if isinstance(detail, dict):
        detail = dict(detail)
        if "record" in detail:
            detail["record"] = ids.map(RECORD, detail["record"])
        if "records" in detail:
            detail["records"] = ids.map_list(RECORD, detail["records"])
        if "new_study" in detail:
            detail["new_study"] = ids.map(STUDY, detail["new_study"])
        row["detail"] = detail
    return row


def register() -> None:
    model = apps.get_model
    register_tables(
        Table(model("extraction", "ExtractionSettings"), "review"),
        Table(model("extraction", "OutcomeDomain"), "review"),
        Table(model("extraction", "OutcomeSubdomain"), "domain__review"),
        Table(model("extraction", "Study"), "review"),
        Table(model("extraction", "StudyReport"), "study__review"),
        Table(
            model("extraction", "StudyEvent"),
            "review",
            encode=_study_event,
            decode=_study_event,
            depends=(RECORD, STUDY),
        ),
        Table(model("extraction", "FormTemplate"), "review"),
        Table(model("extraction", "Arm"), "study__review"),
        Table(model("extraction", "Outcome"), "study__review"),
        Table(model("extraction", "Timepoint"), "study__review"),
        Table(model("extraction", "Extraction"), "study__review"),
        Table(
            model("extraction", "ExtractionRevision"),
            "extraction__study__review",
            encode=_revision,
            decode=_revision,
            depends=(OUTCOME, TIMEPOINT, ARM),
        ),
        Table(model("extraction", "OutcomeData"), "extraction__study__review"),
        Table(model("extraction", "ArmValue"), "data__extraction__study__review"),
        # RoB 2
        Table(model("extraction", "RobSettings"), "review"),
        Table(model("extraction", "RobTarget"), "review"),
        Table(model("extraction", "RobAssessment"), "target__review"),
        Table(model("extraction", "RobDomain"), "assessment__target__review"),
        Table(model("extraction", "RobChange"), "assessment__target__review"),
    )
