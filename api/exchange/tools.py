"""Screening decisions in other tools' exports, read from a record's source fields.

Pure Python: the records themselves are imported by `reviews.importing`, which keeps every
column of a CSV row (``{column: text}``) and every tag of a RIS record (``{tag: [values]}``)
in `Record.source_fields`; this module only reads the decisions there. Every decision read
comes back, including the ones that cannot be written, each with the reason
(`Decision.unwritten`), so that an import can say what it leaves out.

- ASReview LAB: the label of a record, one final title/abstract decision. v2 exports it in
  ``asreview_label`` (with ``asreview_time`` and ``asreview_note``), v1 in ``included``,
  labelled data sets in ``label_included``/``final_included`` (ASReview's reader accepts
  the same list). 1 relevant, 0 irrelevant; empty, ``-1``, ``NA``/``nan`` (a file
  re-written by R or pandas) not labelled. A RIS export marks ``N1  - ASReview_relevant``,
  ``ASReview_irrelevant`` or ``ASReview_not_seen``.
- Rayyan: ``articles.csv`` keeps each reviewer's decision in the ``notes`` column, the RIS
  export in ``N1``: ``RAYYAN-INCLUSION: {"Alice"=>"Included", "Bob"=>"Excluded"} |
  RAYYAN-LABELS: a,b | RAYYAN-EXCLUSION-REASONS: wrong population,wrong outcome``. A review
  screened in several rounds has one ``RAYYAN-INCLUSION`` block per round, oldest first.
  Rayyan keeps a record's exclusion reasons and labels, not whose they are: each exclusion
  vote of the record gets the reasons, each vote the labels (in its note).
- Covidence: references are exported per list, so the decision is the list's (named by
  the lead; Covidence names the file ``review_<id>_<list>_csv|ris_<date>``). A full-text
  exclusion's reason is in the notes (``Exclusion reason: Wrong population;``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ASREVIEW = "asreview"
RAYYAN = "rayyan"
COVIDENCE = "covidence"
TOOLS = {ASREVIEW: "ASReview", RAYYAN: "Rayyan", COVIDENCE: "Covidence"}
TA, FT = "ta", "ft"
STAGE_LABELS = {TA: "title/abstract", FT: "full text"}

# In ASReview's order of preference (asreview.data.base_reader: the "included" column).
ASREVIEW_COLUMNS = (
    "asreview_label",
    "included",
    "label_included",
    "final_included",
    "included_label",
    "included_final",
    "included_flag",
)
_ASREVIEW_INCLUDE = frozenset({"1", "yes", "y", "true", "relevant"})
_ASREVIEW_EXCLUDE = frozenset({"0", "no", "n", "false", "irrelevant"})
# "Not labelled": empty, ASReview v1's -1, and what R/pandas write for a missing value.
_ASREVIEW_UNLABELLED = frozenset({"", "-1", "na", "nan", "<na>", "none", "null", "not_seen"})
_ASREVIEW_RIS = re.compile(r"ASReview_(relevant|irrelevant|not_seen)", re.IGNORECASE)

# Rayyan rounds -> stages, chosen by the lead when a file has more than one round.
ROUNDS_LAST = "last"
ROUNDS_STAGES = "stages"
RAYYAN_ROUNDS = {
    ROUNDS_LAST: "The last round decides (title/abstract); earlier rounds are not written",
    ROUNDS_STAGES: "Round 1 is title/abstract screening, round 2 full-text screening",
}
RAYYAN_DECISIONS = {"included": "include", "excluded": "exclude", "maybe": "maybe"}
_RAYYAN_BLOCK = re.compile(r"RAYYAN-(INCLUSION|EXCLUSION-REASONS|LABELS):\s*")
_RAYYAN_PAIR = re.compile(r'"(?P<name>(?:[^"\\]|\\.)*)"\s*=>\s*"(?P<decision>[^"]*)"')

# list -> (what it is in Covidence, decisions at title/abstract and at full text)
COVIDENCE_LISTS: dict[str, tuple[str, str | None, str | None]] = {
    "screen": ("Title and abstract screening (not decided yet)", None, None),
    "select": ("Full text review (included at title/abstract)", "include", None),
    "included": ("Included", "include", "include"),
    "excluded": ("Excluded at full text", "include", "exclude"),
    "irrelevant": ("Irrelevant (excluded at title/abstract)", "exclude", None),
}
_COVIDENCE_FILE = re.compile(
    r"(?:^|[_\W])(" + "|".join(COVIDENCE_LISTS) + r")_(?:csv|ris)", re.IGNORECASE
)
_COVIDENCE_REASON = re.compile(r"Exclusion reason:\s*(?P<reason>[^;\n]+)", re.IGNORECASE)

# Examples of what each tool's export looks like, for the "Other tools" page and the API.
FORMATS: dict[str, list[dict[str, str]]] = {
    ASREVIEW: [
        {
            "version": "ASReview LAB 2.x export (CSV/TSV/XLSX saved as CSV)",
            "columns": "asreview_label, asreview_time, asreview_note",
            "example": "record_id,title,abstract,asreview_label,asreview_time,asreview_note\n"
            "7,Metformin versus placebo…,…,1,2025-01-20 10:02:11,fits the PICO",
        },
        {
            "version": "ASReview LAB 1.x export, labelled data sets",
            "columns": "included (or label_included, final_included); -1 or empty = not seen",
            "example": "record_id,title,abstract,included,asreview_ranking\n0,Metformin versus placebo…,…,1,1",
        },
        {
            "version": "Re-written by R (write.csv) or pandas",
            "columns": "the same columns, NA/nan for empty; primary_title, first_authors, "
            "notes_abstract",
            "example": 'primary_title,first_authors,notes_abstract,asreview_label\n"Peer…",'
            '"Smith, J",…,NA',
        },
        {
            "version": "ASReview RIS export",
            "columns": "N1 holds ASReview_relevant / ASReview_irrelevant / ASReview_not_seen",
            "example": "TY  - JOUR\nTI  - Metformin versus placebo…\nN1  - ASReview_relevant\nER  -",
        },
    ],
    RAYYAN: [
        {
            "version": "Rayyan articles.csv (export with notes)",
            "columns": "notes: RAYYAN-INCLUSION per round, RAYYAN-EXCLUSION-REASONS, RAYYAN-LABELS",
            "example": 'key,title,…,notes\nrayyan-1,Metformin versus placebo…,…,"RAYYAN-INCLUSION: '
            '{""Alice""=>""Included"", ""Bob""=>""Excluded""} | RAYYAN-INCLUSION: '
            '{""Alice""=>""Excluded""} | RAYYAN-EXCLUSION-REASONS: wrong population"',
        },
        {
            "version": "Rayyan RIS export",
            "columns": "N1 (one or two spaces after the tag) with the same blocks",
            "example": 'TY  - JOUR\nTI  - Metformin versus placebo…\nN1  -  RAYYAN-INCLUSION: {"Zbys"=>'
            '"Excluded"} | RAYYAN-LABELS: please review | RAYYAN-EXCLUSION-REASONS: wrong drug\n'
            "ER  -",
        },
    ],
    COVIDENCE: [
        {
            "version": "Covidence reference lists, CSV "
            "(review_<id>_<screen|select|included|excluded|irrelevant>_csv_<date>.csv)",
            "columns": "Title, Authors, Abstract, Published Year, …, Covidence #, Study, Notes, "
            "Tags; the list is the decision",
            "example": "Title,Authors,…,Covidence #,Study,Notes,Tags\nMetformin versus placebo…,"
            '"Wong, E",…,#30,Wong 2020,Exclusion reason: Wrong population; ,',
        },
        {
            "version": "Covidence reference lists, RIS (EndNote, Mendeley, RefWorks, Zotero)",
            "columns": "the list is the decision; N1 holds the notes",
            "example": "TY  - JOUR\nTI  - Metformin versus placebo…\nN1  - Exclusion reason: Wrong population;"
            "\nER  -",
        },
    ],
}


class ToolFormatError(ValueError):
    """The export is not in the named tool's format."""


@dataclass(frozen=True)
class Decision:
    """One decision read from an exported row.

    ``reviewer`` is the tool's reviewer name ("" for a record's final decision); ``round``
    the Rayyan round (0 for tools without rounds); ``reasons`` the exclusion reasons the
    tool gives; ``unwritten`` why it will not be written, when the file alone says so.
    """

    stage: str  # "ta" or "ft"
    decision: str  # include / exclude / maybe, or the tool's own word when unknown
    reviewer: str = ""
    reasons: tuple[str, ...] = ()
    round: int = 0
    note: str = ""
    unwritten: str = ""

    @property
    def reason(self) -> str:
        return self.reasons[0] if self.reasons else ""


def _text(value: Any) -> str:
    """A source field as text: CSV cells are strings, RIS tags lists of strings."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value if v is not None)
    return str(value)


def _field(fields: Mapping[str, Any], names: Iterable[str]) -> str | None:
    """The key of ``fields`` that is the first of ``names`` present (case and spaces ignored)."""
    lowered = {str(k).strip().lower(): k for k in fields}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _blank(text: str) -> bool:
    return text.strip().lower() in _ASREVIEW_UNLABELLED


def detect_tool(headers: Iterable[str]) -> str | None:
    """The tool whose export has these CSV headers (or RIS notes), when they say so."""
    keys = {h.strip().lower() for h in headers}
    if keys & set(ASREVIEW_COLUMNS):
        return ASREVIEW
    if "covidence #" in keys:
        return COVIDENCE
    if "notes" in keys and "key" in keys:
        return RAYYAN
    return None


# --- ASReview -----------------------------------------------------------------------------


def asreview_column(fields: Mapping[str, Any]) -> str | None:
    """The label column ASReview itself would read, or "N1" for a RIS export."""
    column = _field(fields, ASREVIEW_COLUMNS)
    if column is None and _ASREVIEW_RIS.search(_text(fields.get("N1"))):
        return "N1"
    return column


def asreview_decisions(fields: Mapping[str, Any], column: str | None = None) -> list[Decision]:
    column = column or asreview_column(fields)
    if column == "N1":
        match = _ASREVIEW_RIS.search(_text(fields.get("N1")))
        value = match.group(1).lower() if match else ""
    elif column is None or column not in fields:
        if column is None and not any(k in fields for k in ("N1", "TY")):
            raise ToolFormatError(
                "An ASReview export has an “asreview_label” column (LAB 2), “included” "
                "(LAB 1) or “label_included” (data sets); this has none of them."
            )
        return []
    else:
        value = _text(fields[column]).strip().lower()
    note = "; ".join(
        part
        for part in (
            _text(fields.get(_field(fields, ("asreview_note",)) or "", "")).strip(),
            _labelled_at(fields),
            _ris_note(fields) if column == "N1" else "",
        )
        if part and not _blank(part)
    )
    if _blank(value):
        return []
    with contextlib.suppress(ValueError, OverflowError):  # "1.0": pandas writes labels so
        value = str(int(float(value)))
    if value in _ASREVIEW_INCLUDE:
        return [Decision(TA, "include", note=note)]
    if value in _ASREVIEW_EXCLUDE:
        return [Decision(TA, "exclude", note=note)]
    return [
        Decision(
            TA, value, note=note, unwritten=f"“{value}” is not an ASReview label (1, 0 or empty)"
        )
    ]


def _ris_note(fields: Mapping[str, Any]) -> str:
    """ASReview LAB 2's RIS export writes ``asreview_note: "..."`` (JSON) into N1."""
    for line in _text(fields.get("N1")).splitlines():
        if line.strip().startswith("asreview_note:"):
            text = line.split(":", 1)[1].strip()
            with contextlib.suppress(ValueError):
                text = str(json.loads(text))
            return "" if _blank(text) else text
    return ""


def _labelled_at(fields: Mapping[str, Any]) -> str:
    """Who labelled the record and when, and its tags, as ASReview LAB 2 exports them
    (``asreview_user_name``, ``asreview_time``, ``asreview_tag_<group>_<tag>`` = 1)."""

    def value(name: str) -> str:
        column = _field(fields, (name,))
        text = _text(fields.get(column)).strip() if column else ""
        return "" if _blank(text) else text

    who, when = value("asreview_user_name"), value("asreview_time")
    said = "labelled in ASReview" + (f" by {who}" if who else "") + (f" at {when}" if when else "")
    tags = [
        str(k).strip()[len("asreview_tag_") :]
        for k, v in fields.items()
        if str(k).strip().lower().startswith("asreview_tag_") and _text(v).strip() in ("1", "1.0")
    ]
    parts = [said] if who or when else []
    if tags:
        parts.append(f"ASReview tags: {', '.join(tags)}")
    return "; ".join(parts)


# --- Rayyan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayyanNotes:
    """A record's Rayyan notes, split: one {reviewer: decision} per round, oldest first."""

    rounds: tuple[tuple[tuple[str, str], ...], ...]
    reasons: tuple[str, ...]
    labels: tuple[str, ...]
    other: str  # text outside the RAYYAN- blocks (a reference manager's own notes)


def rayyan_notes_text(fields: Mapping[str, Any]) -> str | None:
    """The Rayyan notes of a row: the CSV's ``notes`` column, or a RIS record's ``N1``."""
    column = _field(fields, ("notes",))
    if column is not None:
        return _text(fields[column])
    if "N1" in fields or "TY" in fields:
        return _text(fields.get("N1"))
    return None


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def rayyan_notes(text: str) -> RayyanNotes:
    rounds: list[tuple[tuple[str, str], ...]] = []
    reasons: list[str] = []
    labels: list[str] = []
    other: list[str] = []
    matches = list(_RAYYAN_BLOCK.finditer(text))
    if matches and matches[0].start() > 0:
        other.append(text[: matches[0].start()])
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip().rstrip("|").strip()
        kind = match.group(1)
        if kind == "INCLUSION":
            brace = body.find("}")
            pairs = _RAYYAN_PAIR.finditer(body[: brace if brace >= 0 else len(body)])
            rounds.append(
                tuple(
                    (p.group("name").replace('\\"', '"').strip(), p.group("decision").strip())
                    for p in pairs
                )
            )
            if brace >= 0 and body[brace + 1 :].strip(" |"):
                other.append(body[brace + 1 :].strip(" |"))
        elif kind == "EXCLUSION-REASONS":
            reasons.extend(r for r in _split_list(body) if r not in reasons)
        else:
            labels.extend(label for label in _split_list(body) if label not in labels)
    return RayyanNotes(
        tuple(rounds), tuple(reasons), tuple(labels), " ".join(o.strip() for o in other).strip()
    )


def rayyan_decisions(fields: Mapping[str, Any], rounds: str = ROUNDS_LAST) -> list[Decision]:
    text = rayyan_notes_text(fields)
    if text is None:
        raise ToolFormatError(
            "A Rayyan export has a “notes” column (articles.csv) or N1 notes (RIS); this has not."
        )
    if rounds not in RAYYAN_ROUNDS:
        raise ToolFormatError("Say how Rayyan's rounds map: “last” or “stages”.")
    notes = rayyan_notes(text)
    n = len(notes.rounds)
    note = f"Rayyan labels: {', '.join(notes.labels)}" if notes.labels else ""
    out = []
    for number, votes in enumerate(notes.rounds, start=1):
        stage, unwritten = TA, ""
        if rounds == ROUNDS_LAST and number < n:
            unwritten = f"round {number} of {n}: the last round decides"
        elif rounds == ROUNDS_STAGES and n > 1:
            if number == 1:
                stage = TA
            elif number == n:
                stage = FT
            else:
                stage, unwritten = FT, f"round {number} of {n}: only the last round is full text"
        for name, word in votes:
            decision = RAYYAN_DECISIONS.get(word.lower())
            why = unwritten
            if decision is None:
                decision, why = word, f"“{word}” is not a Rayyan decision"
            out.append(
                Decision(
                    stage,
                    decision,
                    name,
                    notes.reasons if decision == "exclude" else (),
                    number,
                    note,
                    why,
                )
            )
    return out


def rayyan_rounds(rows: Iterable[Mapping[str, Any]]) -> int:
    """The largest number of rounds a row of the file has."""
    most = 0
    for fields in rows:
        text = rayyan_notes_text(fields) or ""
        most = max(most, text.count("RAYYAN-INCLUSION"))
    return most


# --- Covidence ----------------------------------------------------------------------------


def covidence_list_from_filename(filename: str) -> str:
    """The list a Covidence export is of, from the name Covidence gives the file ("")."""
    match = _COVIDENCE_FILE.search(filename or "")
    return match.group(1).lower() if match else ""


def covidence_decisions(fields: Mapping[str, Any], covidence_list: str) -> list[Decision]:
    if covidence_list not in COVIDENCE_LISTS:
        raise ToolFormatError(
            "Say which Covidence list the file is: "
            + ", ".join(f"{key} ({label})" for key, (label, _, _) in COVIDENCE_LISTS.items())
            + "."
        )
    _label, ta, ft = COVIDENCE_LISTS[covidence_list]
    column = _field(fields, ("notes",)) or ("N1" if "N1" in fields else None)
    notes = _text(fields.get(column)).strip() if column else ""
    tags_column = _field(fields, ("tags",))
    tags = _text(fields.get(tags_column)).strip() if tags_column else ""
    reasons = tuple(m.group("reason").strip() for m in _COVIDENCE_REASON.finditer(notes))
    notes = notes.rstrip("; ")
    note = "; ".join(
        p
        for p in (f"Covidence notes: {notes}" if notes else "", f"tags: {tags}" if tags else "")
        if p
    )
    out = []
    if ta:
        out.append(Decision(TA, ta, note=note))
    if ft:
        out.append(Decision(FT, ft, reasons=reasons if ft == "exclude" else (), note=note))
    return out


# --- Any tool -----------------------------------------------------------------------------


def decisions_for(
    tool: str,
    fields: Mapping[str, Any],
    *,
    covidence_list: str = "",
    rayyan_rounds: str = ROUNDS_LAST,
    asreview_label_column: str | None = None,
) -> list[Decision]:
    """The decisions one exported row carries, in the order they were made."""
    if tool == ASREVIEW:
        return asreview_decisions(fields, asreview_label_column)
    if tool == RAYYAN:
        return rayyan_decisions(fields, rayyan_rounds)
    if tool == COVIDENCE:
        return covidence_decisions(fields, covidence_list)
    raise ToolFormatError(f"Unknown tool “{tool}”: use asreview, rayyan or covidence.")


def reviewer_names(tool: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The tool's reviewer names found in the rows (only Rayyan has them), sorted."""
    if tool != RAYYAN:
        return []
    names = {
        name
        for row in rows
        for votes in rayyan_notes(rayyan_notes_text(row) or "").rounds
        for name, _ in votes
    }
    return sorted(names, key=str.casefold)


def formats_markdown() -> str:
    """The formats understood, with an example of each, for the API's documentation."""
    lines = []
    for tool, versions in FORMATS.items():
        lines.append(f"**{TOOLS[tool]}**\n")
        for v in versions:
            example = "\n".join("    " + line for line in v["example"].splitlines())
            lines.append(f"- {v['version']}: {v['columns']}\n\n{example}\n")
    return "\n".join(lines)
