"""Moving out: files other tools read, built from what every member may see.

Only resolutions (never a reviewer's vote) and finalised consensus extractions (never an
independent one) are read, so blinding holds for any member who downloads them.

- `asreview_csv`: ASReview LAB's labelled data-set layout (record_id,title,abstract,
  authors,doi,label_included; 1 included, 0 excluded, empty not decided at title/abstract),
  for a simulation or a switch of tools.
- `revman-web-*`: RevMan Web's study-centric import files (``revman_web``): study
  information, study arms, study results (one row per arm) and RoB 2 risk of bias.
- `extraction_wide_*`: the whole consensus extraction, one row per study and one column
  per form field with the form's labels, for a characteristics table.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from extraction.models import Extraction, ExtractionKind, ExtractionStatus
from extraction.schema import display_value, is_empty
from extraction.selectors import current_template
from reviews.models import Review, Stage
from screening.models import FinalDecision, Resolution

from . import revman_web

ASREVIEW_COLUMNS = ("record_id", "title", "abstract", "authors", "doi", "label_included")


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


# --- RevMan Web ---------------------------------------------------------------------------------


def _revman_web(builder):
    def build(review: Review) -> str:
        return _csv(*builder(review))

    build.__doc__ = builder.__doc__
    return build


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
    # Imported here: this module loads with the app's views, and openpyxl (with lxml) is
    # ~15 MB that every web and worker process carried for this one export.
    from openpyxl import Workbook

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


EXPORTS: dict[str, tuple[str, Any]] = {
    # name -> (content type, builder)
    "asreview.csv": ("text/csv", asreview_csv),
    **{name: ("text/csv", _revman_web(builder)) for name, builder in revman_web.FILES.items()},
    "extraction.csv": ("text/csv", extraction_wide_csv),
    "extraction.xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        extraction_wide_xlsx,
    ),
}
