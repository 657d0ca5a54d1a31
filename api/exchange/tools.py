"""Screening decisions in other tools' CSV exports, read from a record's source columns.

Pure Python: the records themselves are imported by `reviews.importing` (which keeps every
column of a CSV row in `Record.source_fields`); this module only reads the decisions.

- ASReview LAB: the exported data set carries the label in `included` (older exports and
  data sets: `label_included`, `final_included`): 1 relevant, 0 irrelevant, empty or -1
  not labelled. One decision per record.
- Rayyan: `articles.csv` keeps each reviewer's decision in the `notes` column, e.g.
  ``RAYYAN-INCLUSION: {"Alice"=>"Included", "Bob"=>"Excluded"} | RAYYAN-EXCLUSION-REASONS:
  wrong population``. One vote per reviewer.
- Covidence: references are exported per list (Included, Excluded at full text,
  Irrelevant at title/abstract), so the decision is the list's, named at import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ASREVIEW = "asreview"
RAYYAN = "rayyan"
COVIDENCE = "covidence"
TOOLS = {ASREVIEW: "ASReview", RAYYAN: "Rayyan", COVIDENCE: "Covidence"}

ASREVIEW_COLUMNS = ("included", "label_included", "final_included")
COVIDENCE_LISTS = {
    # list -> decisions at (title/abstract, full text)
    "included": ("include", "include"),
    "excluded": ("include", "exclude"),
    "irrelevant": ("exclude", None),
}
RAYYAN_DECISIONS = {"included": "include", "excluded": "exclude", "maybe": "maybe"}
_RAYYAN_INCLUSION = re.compile(r"RAYYAN-INCLUSION:\s*\{(?P<body>[^}]*)\}")
_RAYYAN_PAIR = re.compile(r'"(?P<name>(?:[^"\\]|\\.)*)"\s*=>\s*"(?P<decision>[^"]*)"')
_RAYYAN_REASONS = re.compile(r"RAYYAN-EXCLUSION-REASONS:\s*(?P<body>[^|]*)")


class ToolFormatError(ValueError):
    """The export is not in the named tool's format."""


@dataclass(frozen=True)
class Decision:
    stage: str  # "ta" or "ft"
    decision: str  # include / exclude / maybe
    reviewer: str = ""  # the tool's reviewer name; "" for a record's final decision
    reason: str = ""  # an exclusion reason's label, when the tool gives one


def _column(fields: Mapping[str, str], names: Iterable[str]) -> str | None:
    lowered = {k.strip().lower(): k for k in fields}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def detect_tool(headers: Iterable[str]) -> str | None:
    """The tool whose export has these CSV headers, when they say so."""
    keys = {h.strip().lower() for h in headers}
    if keys & set(ASREVIEW_COLUMNS):
        return ASREVIEW
    if "covidence #" in keys:
        return COVIDENCE
    if "notes" in keys and "key" in keys:
        return RAYYAN
    return None


def asreview_decisions(fields: Mapping[str, str]) -> list[Decision]:
    column = _column(fields, ASREVIEW_COLUMNS)
    if column is None:
        raise ToolFormatError(
            "An ASReview export has an “included” (or “label_included”) column; this has not."
        )
    value = (fields[column] or "").strip()
    try:
        label = int(float(value)) if value else -1
    except ValueError:
        raise ToolFormatError(f"“{value}” is not an ASReview label (1, 0 or empty).") from None
    if label == 1:
        return [Decision("ta", "include")]
    if label == 0:
        return [Decision("ta", "exclude")]
    return []


def rayyan_decisions(fields: Mapping[str, str]) -> list[Decision]:
    column = _column(fields, ("notes",))
    if column is None:
        raise ToolFormatError("A Rayyan export has a “notes” column; this has not.")
    notes = fields[column] or ""
    match = _RAYYAN_INCLUSION.search(notes)
    if match is None:
        return []
    reasons = _RAYYAN_REASONS.search(notes)
    reason = reasons.group("body").split(",")[0].strip() if reasons else ""
    out = []
    for pair in _RAYYAN_PAIR.finditer(match.group("body")):
        decision = RAYYAN_DECISIONS.get(pair.group("decision").strip().lower())
        if decision is None:
            raise ToolFormatError(f"“{pair.group('decision')}” is not a Rayyan decision.")
        name = pair.group("name").replace('\\"', '"').strip()
        out.append(Decision("ta", decision, name, reason if decision == "exclude" else ""))
    return out


def covidence_decisions(fields: Mapping[str, str], covidence_list: str) -> list[Decision]:
    if covidence_list not in COVIDENCE_LISTS:
        raise ToolFormatError(
            "Say which Covidence list the file is: included, excluded (at full text) or irrelevant."
        )
    ta, ft = COVIDENCE_LISTS[covidence_list]
    out = [Decision("ta", ta)]
    if ft:
        out.append(Decision("ft", ft))
    return out


def decisions_for(
    tool: str, fields: Mapping[str, str], *, covidence_list: str = ""
) -> list[Decision]:
    """The decisions one exported row carries, in the order they were made."""
    if tool == ASREVIEW:
        return asreview_decisions(fields)
    if tool == RAYYAN:
        return rayyan_decisions(fields)
    if tool == COVIDENCE:
        return covidence_decisions(fields, covidence_list)
    raise ToolFormatError(f"Unknown tool “{tool}”: use asreview, rayyan or covidence.")


def reviewer_names(tool: str, rows: Iterable[Mapping[str, str]]) -> list[str]:
    """The tool's reviewer names found in the rows (only Rayyan has them), sorted."""
    if tool != RAYYAN:
        return []
    names = {d.reviewer for row in rows for d in rayyan_decisions(row)}
    return sorted(names, key=str.casefold)
