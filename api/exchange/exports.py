"""Moving out: files other tools read, built from what every member may see.

Only resolutions (never a reviewer's vote) and finalised consensus extractions (never an
independent one) are read, so blinding holds for any member who downloads them.

- `asreview_csv`: ASReview LAB's labelled data-set layout (record_id,title,abstract,
  authors,doi,label_included; 1 included, 0 excluded, empty not decided at title/abstract),
  for a simulation or a switch of tools.
- `revman_*`: RevMan Web's study-centric data: study characteristics ("Char: <label>"
  columns, one row per study) and the consensus outcome data, one file per outcome type,
  one row per study × outcome × timepoint × (experimental arm, control arm) pair, with
  RevMan's data-table columns (Experimental Mean/SD/Total, Control Mean/SD/Total;
  Experimental Events/Total, Control Events/Total).
- `extraction_wide_*`: the whole consensus extraction, one row per study and one column
  per form field with the form's labels, for a characteristics table.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from extraction.models import ArmRole, ArmValue, Extraction, ExtractionKind, ExtractionStatus
from extraction.schema import display_value, is_empty
from extraction.selectors import current_template
from reviews.models import Review, Stage
from screening.models import FinalDecision, Resolution

ASREVIEW_COLUMNS = ("record_id", "title", "abstract", "authors", "doi", "label_included")
REVMAN_KEYS = ("Study", "Outcome", "Timepoint", "Experimental arm", "Control arm")
CONTINUOUS_COLUMNS = (
    *REVMAN_KEYS,
    "Experimental Mean",
    "Experimental SD",
    "Experimental Total",
    "Control Mean",
    "Control SD",
    "Control Total",
)
DICHOTOMOUS_COLUMNS = (
    *REVMAN_KEYS,
    "Experimental Events",
    "Experimental Total",
    "Control Events",
    "Control Total",
)


def _csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


# --- ASReview --------------------------------------------------------------------------------


def asreview_rows(review: Review) -> list[tuple]:
    labels = dict(
        Resolution.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).values_list(
            "record_id", "decision"
        )
    )
    label = {FinalDecision.INCLUDE: 1, FinalDecision.EXCLUDE: 0}
    return [
        (rid, title, abstract, "; ".join(authors or []), doi, label.get(labels.get(rid), ""))
        for rid, title, abstract, authors, doi in review.records.filter(duplicate_of__isnull=True)
        .order_by("id")
        .values_list("id", "title", "abstract", "authors", "doi")
    ]


def asreview_csv(review: Review) -> str:
    return _csv(ASREVIEW_COLUMNS, asreview_rows(review))


# --- RevMan ----------------------------------------------------------------------------------


def _consensus_values(review: Review) -> list[ArmValue]:
    return list(
        ArmValue.objects.filter(
            data__extraction__study__review=review,
            data__extraction__kind=ExtractionKind.CONSENSUS,
            data__extraction__status=ExtractionStatus.SUBMITTED,
        )
        .select_related("arm", "data__extraction__study", "data__outcome", "data__timepoint")
        .order_by(
            "data__extraction__study__label",
            "data__extraction__study_id",
            "data__outcome__position",
            "data__outcome_id",
            "data__timepoint__weeks",
            "data__timepoint_id",
            "arm__position",
            "arm_id",
        )
    )


def _sd(v: ArmValue) -> float | None:
    """The SD, or one derived from the SE (SD = SE × √N, Cochrane Handbook 6.5.2.2)."""
    if v.sd is not None:
        return v.sd
    if v.se is not None and v.n:
        return v.se * math.sqrt(v.n)
    return None


def _pairs(review: Review):
    """(study, outcome, timepoint, experimental value, control value) per comparison."""
    blocks: dict[int, list[ArmValue]] = defaultdict(list)
    order = []
    for v in _consensus_values(review):
        if v.data_id not in blocks:
            order.append(v.data_id)
        blocks[v.data_id].append(v)
    for data_id in order:
        values = blocks[data_id]
        data = values[0].data
        experimental = [v for v in values if v.arm.role == ArmRole.INTERVENTION]
        controls = [v for v in values if v.arm.role == ArmRole.CONTROL]
        for e in experimental:
            for c in controls:
                yield data.extraction.study, data.outcome, data.timepoint, e, c


def outcome_label(outcome) -> str:
    """An outcome as the files name it: with its instrument, as a study may measure one
    outcome with two instruments."""
    return f"{outcome.name} ({outcome.instrument})" if outcome.instrument else outcome.name


def revman_continuous_rows(review: Review) -> list[tuple]:
    rows = []
    for study, outcome, tp, e, c in _pairs(review):
        if e.mean is None or c.mean is None or e.events is not None:
            continue
        rows.append(
            (study.label, outcome_label(outcome), tp.label, e.arm.name, c.arm.name)
            + (e.mean, _sd(e), e.n, c.mean, _sd(c), c.n)
        )
    return rows


def revman_dichotomous_rows(review: Review) -> list[tuple]:
    rows = []
    for study, outcome, tp, e, c in _pairs(review):
        if e.events is None or c.events is None:
            continue
        rows.append(
            (study.label, outcome_label(outcome), tp.label, e.arm.name, c.arm.name)
            + (e.events, e.n, c.events, c.n)
        )
    return rows


def revman_continuous_csv(review: Review) -> str:
    return _csv(CONTINUOUS_COLUMNS, revman_continuous_rows(review))


def revman_dichotomous_csv(review: Review) -> str:
    return _csv(DICHOTOMOUS_COLUMNS, revman_dichotomous_rows(review))


# --- the whole extraction, wide ---------------------------------------------------------------


def _fields(review: Review) -> list[tuple[str, str]]:
    """(key, column label) per form field; a label used twice gets its section's name."""
    template = current_template(review)
    if template is None:
        return []
    fields = [(s["title"], f) for s in template.schema["sections"] for f in s["fields"]]
    counts: dict[str, int] = defaultdict(int)
    for _, f in fields:
        counts[f.get("label", f["key"])] += 1
    return [
        (
            f["key"],
            f.get("label", f["key"])
            if counts[f.get("label", f["key"])] == 1
            else f"{section}: {f.get('label', f['key'])}",
        )
        for section, f in fields
    ]


def extraction_wide(review: Review) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows: one row per study, one column per form field (consensus values)."""
    fields = _fields(review)
    columns = ["Study", "Study ID", "Consensus", *[label for _, label in fields]]
    consensus = {
        e.study_id: e
        for e in Extraction.objects.filter(
            study__review=review, kind=ExtractionKind.CONSENSUS, status=ExtractionStatus.SUBMITTED
        )
    }
    rows = []
    for study in review.studies.order_by("label", "id"):
        answers = consensus[study.pk].answers if study.pk in consensus else {}
        rows.append(
            [study.label, study.pk, "final" if study.pk in consensus else "not final"]
            + [
                "" if is_empty(answers.get(key)) else display_value(None, answers.get(key))
                for key, _ in fields
            ]
        )
    return columns, rows


def extraction_wide_csv(review: Review) -> str:
    return _csv(*extraction_wide(review))


def extraction_wide_xlsx(review: Review) -> bytes:
    columns, rows = extraction_wide(review)
    book = Workbook()
    sheet = book.active
    sheet.title = "Extraction"
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def revman_characteristics_csv(review: Review) -> str:
    """RevMan Web's study characteristics: "Study" and a "Char: <label>" column per field."""
    columns, rows = extraction_wide(review)
    keep = [i for i, c in enumerate(columns) if c not in ("Study ID", "Consensus")]
    header = ["Study", *[f"Char: {columns[i]}" for i in keep[1:]]]
    final = [r for r in rows if r[2] == "final"]
    return _csv(header, [[r[i] for i in keep] for r in final])


EXPORTS: dict[str, tuple[str, Any]] = {
    # name -> (content type, builder)
    "asreview.csv": ("text/csv", asreview_csv),
    "revman-characteristics.csv": ("text/csv", revman_characteristics_csv),
    "revman-continuous.csv": ("text/csv", revman_continuous_csv),
    "revman-dichotomous.csv": ("text/csv", revman_dichotomous_csv),
    "extraction.csv": ("text/csv", extraction_wide_csv),
    "extraction.xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        extraction_wide_xlsx,
    ),
}
