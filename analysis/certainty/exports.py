"""Summary of Findings as CSV and Word (python-docx); the evidence profile as CSV and XLSX.

The Word table follows the Cochrane/GRADEpro layout: outcomes; anticipated absolute
effects (risk with the comparison, risk with the intervention); relative effect; number
of participants (studies); certainty with its footnote marks; comments. Footnotes name
each domain rated down and why; GRADE's certainty definitions close the table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from . import rules
from .selectors import AssessmentView, SofLine, SofView

SOF_COLUMNS = (
    "outcome",
    "timepoint",
    "participants (studies)",
    "relative effect (95% CI)",
    "risk with comparison",
    "risk with intervention (95% CI)",
    "risk difference (95% CI)",
    "effect (continuous)",
    "on a named scale",
    "certainty",
    "footnotes",
    "statement",
    "comments",
    "data changed since rated",
)


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula starts with a quote (typed input)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def _absolute_cells(line: SofLine) -> tuple[str, str]:
    """The two "anticipated absolute effects" cells."""
    if line.continuous:
        text = line.continuous + (f"; {line.back_transformed}" if line.back_transformed else "")
        return "", text
    return line.assumed, (
        f"{line.corresponding}; {line.difference}" if line.corresponding else "not estimable"
    )


def sof_records(view: SofView) -> list[list[Any]]:
    out = []
    for line in view.lines:
        out.append(
            [
                line.outcome,
                line.timepoint,
                line.participants,
                line.relative,
                line.assumed,
                line.corresponding,
                line.difference,
                line.continuous,
                line.back_transformed,
                line.certainty or line.problem,
                " ".join(line.marks),
                line.statement,
                line.comments,
                "yes" if line.stale else "no",
            ]
        )
    return out


def sof_csv(view: SofView) -> str:
    rows = sof_records(view)
    rows += [[f"{f.mark}. {f.text}"] + [""] * (len(SOF_COLUMNS) - 1) for f in view.footnotes]
    return _csv(SOF_COLUMNS, rows)


DOCX_HEADER = (
    "Outcomes",
    "Risk with comparison",
    "Risk with intervention / effect",
    "Relative effect (95% CI)",
    "\u2116 of participants (studies)",
    "Certainty of the evidence (GRADE)",
    "Comments",
)


def docx_rows(view: SofView) -> list[list[str]]:
    """The Word table's body, one list of cell texts per outcome."""
    rows = []
    for line in view.lines:
        risk_c, risk_i = _absolute_cells(line)
        certainty = line.certainty or line.problem
        if line.marks:
            certainty += " " + ",".join(line.marks)
        if line.stale:
            certainty += " (data changed since rated)"
        comments = "\n".join(t for t in (line.statement, line.comments) if t)
        rows.append(
            [
                f"{line.outcome}\n{line.timepoint}",
                risk_c,
                risk_i,
                line.relative or "\u2014",
                line.participants,
                certainty,
                comments,
            ]
        )
    return rows


def sof_docx(view: SofView) -> bytes:
    """The table as a Word document (landscape A4, GRADEpro's columns)."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt

    table = view.table
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    style = doc.styles["Normal"]
    style.font.name, style.font.size = "Calibri", Pt(9)
    doc.add_heading(f"Summary of findings: {table.title}", level=1)
    for label, value in (
        ("Patient or population", table.population),
        ("Setting", table.setting),
        ("Intervention", table.intervention),
        ("Comparison", table.comparison),
    ):
        if value:
            p = doc.add_paragraph()
            p.add_run(f"{label}: ").bold = True
            p.add_run(value)
    grid = doc.add_table(rows=1, cols=len(DOCX_HEADER))
    grid.style = "Table Grid"
    for cell, text in zip(grid.rows[0].cells, DOCX_HEADER, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for values in docx_rows(view):
        cells = grid.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            cell.text = text
    doc.add_paragraph(
        "*The risk in the intervention group (and its 95% CI) is based on the assumed risk in "
        "the comparison group and the relative effect of the intervention (and its 95% CI). "
        "CI: confidence interval; OR: odds ratio; RR: risk ratio; SMD: standardised mean "
        "difference; MD: mean difference."
    )
    for note in view.footnotes:
        doc.add_paragraph(f"{note.mark}. {note.text}")
    doc.add_paragraph().add_run("GRADE Working Group grades of evidence").bold = True
    for level in sorted(rules.CERTAINTY, reverse=True):
        name, _ = rules.CERTAINTY[level]
        p = doc.add_paragraph()
        p.add_run(f"{name} certainty: ").bold = True
        p.add_run(rules.CERTAINTY_MEANING[level])
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- evidence profile


def profile_header() -> list[str]:
    head = [
        "analysis",
        "outcome",
        "timepoint",
        "measure",
        "studies",
        "participants",
        "starting level",
    ]
    for label in rules.DOMAINS.values():
        head += [
            f"{label}: suggested",
            f"{label}: rule",
            f"{label}: numbers",
            f"{label}: final",
            f"{label}: reason",
        ]
    head += [
        "upgrades",
        "upgrade reason",
        "certainty",
        "statement",
        "data changed since rated",
        "confirmed by",
        "confirmed at (UTC)",
    ]
    return head


def profile_records(views: Sequence[AssessmentView]) -> list[list[Any]]:
    """One row per rated analysis; the suggestion columns are those of the current data."""
    out = []
    for view in views:
        a = view.assessment
        if a is None:
            continue
        ctx = view.context
        row: list[Any] = [
            a.analysis.title,
            a.outcome,
            a.analysis.window.label,
            a.analysis.effect_measure,
            ctx.k,
            ctx.participants,
            rules.CERTAINTY[a.start_level][0],
        ]
        for line in view.lines:
            row += [
                rules.RATINGS[line.suggestion.rating],
                line.suggestion.rule,
                "; ".join(f"{k}: {v}" for k, v in line.suggestion.numbers.items()),
                rules.RATINGS.get(line.final, ""),
                line.reason,
            ]
        ups = [
            f"{rules.UPGRADES[k]} +{v}"
            for k, v in zip(rules.UPGRADES, a.upgrades, strict=True)
            if v
        ]
        row += [
            "; ".join(ups),
            a.upgrade_reason,
            rules.certainty_label(a.certainty),
            a.statement,
            "yes" if view.stale else "no",
            a.confirmed_by.get_username() if a.confirmed_by else "",
            a.confirmed_at.strftime("%Y-%m-%d %H:%M"),
        ]
        out.append(row)
    return out


def profile_csv(views: Sequence[AssessmentView]) -> str:
    return _csv(profile_header(), profile_records(views))


def profile_xlsx(views: Sequence[AssessmentView]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Evidence profile"
    ws.append(profile_header())
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in profile_records(views):
        ws.append([_cell(v) for v in row])
    ws.freeze_panes = "C2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
