"""Ovid direct export (the "Citavi", "EndNote" or "Reference Manager" download of Ovid
MEDLINE, Embase, APA PsycInfo, ERIC...), and the tag mapping Ovid's CSV shares.

Each record starts with a marker line ``<1. >`` (or ``<1>``), then ``XX  - value`` lines
with the tag in the first four columns; continuation lines are indented by six spaces
(the EndNote variant writes abstract paragraphs unindented). There is no ``TY`` line, so
this is not RIS, and ``IS`` is the ISSN, not the issue (``IP``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

from .records import (
    Notes,
    ParsedRecord,
    SkippedRecord,
    clean_doi,
    clean_pmid,
    parse_year,
    split_keywords,
)

__all__ = ["OVID_MARKER", "ovid_record", "parse_ovid"]

OVID_MARKER = re.compile(r"^<\s*\d+(?:\.\s*)?>\s*$")
_PM = re.compile(r"(\d{1,9})(?:\s|\[|$)")


def _lines(fields: dict[str, list[str]], *tags: str) -> list[str]:
    """Every non-empty line of the first of ``tags`` present (values and their lines)."""
    for tag in tags:
        values = fields.get(tag)
        if values:
            lines = [p.strip() for v in values for p in v.split("\n")]
            lines = [p for p in lines if p]
            if lines:
                return lines
    return []


def _joined(fields: dict[str, list[str]], *tags: str, sep: str = " ") -> str:
    for tag in tags:
        values = fields.get(tag)
        if values and len(values) == 1 and "\n" not in values[0] and values[0].strip():
            return values[0].strip()  # the common case, without building lists
        if values:
            break
    return sep.join(_lines(fields, *tags))


def _doi_from_links(fields: dict[str, list[str]]) -> str:
    """Ovid's full-text links carry the DOI as a query parameter (``...&DO=10.1007%2f...``)."""
    for url in _lines(fields, "FTURL") + _lines(fields, "URL") + _lines(fields, "UR"):
        if "DO=" not in url and "doi" not in url.lower():
            continue
        query = parse_qs(urlsplit(url).query)
        for key in ("DO", "doi", "id"):
            for value in query.get(key, ()):
                doi = clean_doi(value)
                if doi:
                    return doi
    return ""


def ovid_record(line: int, fields: dict[str, list[str]]) -> ParsedRecord | SkippedRecord:
    """Map one Ovid record's tags (direct export or CSV columns) to a ParsedRecord."""
    title = _joined(fields, "TI")
    abstract = _joined(fields, "AB", sep="\n")
    doi = clean_doi(_joined(fields, "DO", "DI")) or _doi_from_links(fields)
    pmid = ""
    # Embase's CSV writes "4411761 [https://www.ncbi.nlm.nih.gov/pubmed/?term=4411761]".
    pm = _PM.match(_joined(fields, "PM"))
    if pm:
        pmid = clean_pmid(pm.group(1))
    elif "medline" in _joined(fields, "DB").lower():
        ui = _joined(fields, "UI")
        pmid = clean_pmid(ui) if ui.isdigit() and len(ui) <= 8 else ""
    if not (title or abstract or doi or pmid):
        return SkippedRecord(line, "record has no title, abstract, DOI or PMID")
    source = _joined(fields, "SO")
    year = (
        parse_year(_joined(fields, "YR"))
        or parse_year(_joined(fields, "DP"))
        or parse_year(_joined(fields, "PY"))
        # Embase's source line ends with the year: "medRxiv. (no pagination), 2023."
        or parse_year(source)
    )
    journal = _joined(fields, "JN", "JT", "JX", "TA")
    if not journal and source:
        journal = source.split(". ", 1)[0].rstrip(".")
    keywords = split_keywords(_lines(fields, "MH") + _lines(fields, "KW") + _lines(fields, "ID"))
    return ParsedRecord(
        line=line,
        title=title,
        abstract=abstract,
        authors=_lines(fields, "AU", "FA", "ED"),
        year=year,
        journal=journal,
        volume=_joined(fields, "VI", "VO", "VL"),
        issue=_joined(fields, "IP"),
        pages=_joined(fields, "PG"),
        doi=doi,
        pmid=pmid,
        keywords=list(dict.fromkeys(keywords)),
        language=_joined(fields, "LG", "LA"),
        url=next((u for u in _lines(fields, "UR") if u.startswith(("http://", "https://"))), ""),
        record_type=_joined(fields, "PT"),
        source_fields=fields,
    )


# A tag line: the tag (2-4 capitals or digits) padded to four columns, then "- ".
_TAG_LINE = re.compile(r"([A-Z][A-Z0-9]{1,3}) *-(?: |\s*$)")


def _tag(line: str) -> str | None:
    """``"TI"`` for ``"TI  - text"``; None for any other line."""
    match = _TAG_LINE.match(line)
    if match and match.end() >= 5 and line[4] == "-":
        return match.group(1)
    return None


def parse_ovid(
    lines: Iterable[str], notes: Notes | None = None
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from an Ovid direct export.

    A marker line starts a record (so does a second ``VN`` line, should markers be lost);
    untagged lines continue the previous tag; text before the first record (a search
    history banner) is skipped and reported in ``notes``.
    """
    notes = notes if notes is not None else Notes()
    fields: dict[str, list[str]] | None = None
    last: list[str] | None = None
    start, corrupt = 0, ""
    outside: list[int] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line or line.isspace():
            continue
        if lineno == 1:
            line = line.lstrip("\ufeff")
        if line[0] == "<" and OVID_MARKER.match(line):
            if fields:
                yield _finish(start, fields, corrupt)
            fields, last, start, corrupt = {}, None, lineno, ""
            continue
        tag = _tag(line)
        if tag is not None:
            if fields is None or (tag == "VN" and "VN" in fields):
                if fields:
                    yield _finish(start, fields, corrupt)
                fields, start, corrupt = {}, lineno, ""
            value = line[6:].strip()
            if not corrupt and ("\x00" in value or "\ufffd" in value):
                corrupt = f"unreadable characters on line {lineno}"
            values = fields.get(tag)
            if values is None:
                last = fields[tag] = [value]
            else:
                values.append(value)
                last = values
            continue
        if fields is None or last is None:
            outside.append(lineno)
            continue
        text = line.strip()
        if not corrupt and ("\x00" in text or "\ufffd" in text):
            corrupt = f"unreadable characters on line {lineno}"
        last[-1] = f"{last[-1]}\n{text}" if last[-1] else text
    if fields:
        yield _finish(start, fields, corrupt)
    if outside:
        notes.add(
            f"{len(outside)} line(s) outside any record were skipped (first on line "
            f"{outside[0]}): text before the first <1. > record, such as a search history."
        )


def _finish(start: int, fields: dict[str, list[str]], corrupt: str) -> ParsedRecord | SkippedRecord:
    if corrupt:
        return SkippedRecord(start, f"corrupt record: {corrupt}")
    return ovid_record(start, fields)
