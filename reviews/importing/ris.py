"""RIS reader (EndNote, Embase, Ovid, Zotero, Mendeley, EndNote .txt dialects).

A tight line loop rather than ``rispy``: rispy 0.10 returns one list for the whole file
(no streaming), has no line numbers, merges a record whose ``ER`` line is missing into the
next one, and silently drops tagged lines outside a record. This loop streams one record
at a time and is about as fast (see benchmarks/parse_bench.py).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator

from .records import ParsedRecord, SkippedRecord, clean_doi, clean_pmid, parse_year, split_keywords

__all__ = ["parse_ris", "ris_record"]

_TAGS = frozenset(
    a + b for a in string.ascii_uppercase for b in string.ascii_uppercase + string.digits
)

# Preference order among dialect synonyms.
_TITLE = ("TI", "T1", "CT", "ST", "BT")
_AUTHORS = ("AU", "A1")
_YEAR = ("PY", "Y1", "DA", "Y2")
_JOURNAL = ("JF", "JO", "T2", "J2", "JA", "J1", "T3")
_ABSTRACT = ("AB", "N2")
_ISSUE = ("IS", "CP")
_URL = ("UR", "L2", "LK")
_PMID_TAGS = ("AN", "M1", "C5", "U1", "U2", "U3", "U4", "U5")


def _first(fields: dict[str, list[str]], tags: tuple[str, ...], sep: str = " ") -> str:
    for tag in tags:
        values = fields.get(tag)
        if values:
            for value in values:
                if value:
                    return value.replace("\n", sep) if sep != "\n" else value
    return ""


def _pmid(fields: dict[str, list[str]]) -> str:
    """PMID from AN/M1/U1..: bare digits (<= 8, longer ones are Embase accession numbers)
    or "PMID: 123" anywhere in those fields or the notes."""
    for tag in _PMID_TAGS:
        for value in fields.get(tag, ()):
            text = value.strip()
            if text.isdigit() and len(text) <= 8:
                return clean_pmid(text)
            lowered = text.lower()
            pos = lowered.find("pmid")
            if pos >= 0:
                pmid = clean_pmid(text[pos + 4 : pos + 20])
                if pmid:
                    return pmid
    for value in fields.get("N1", ()):
        pos = value.find("PMID")
        if pos >= 0:
            pmid = clean_pmid(value[pos + 4 : pos + 20])
            if pmid:
                return pmid
    return ""


def _doi(fields: dict[str, list[str]]) -> str:
    for tag in ("DO", "DI", "M3", "N1", "UR", "L3"):
        for value in fields.get(tag, ()):
            if tag in ("M3", "N1") and "10." not in value:
                continue
            if tag in ("UR", "L3", "N1") and "doi" not in value.lower():
                continue
            if tag == "DO":
                value = value.split("\n", 1)[0]
            elif tag in ("UR", "L3"):
                # One URL per line; the query string is not part of the DOI.
                value = next((u for u in value.split("\n") if "doi" in u.lower()), "")
                value = value.split("?", 1)[0].split("#", 1)[0]
            doi = clean_doi(value)
            if doi:
                return doi
    return ""


def ris_record(line: int, fields: dict[str, list[str]]) -> ParsedRecord | SkippedRecord:
    """Map one record's tags to a ParsedRecord (or say why it cannot be one)."""
    title = _first(fields, _TITLE)
    abstract = _first(fields, _ABSTRACT, sep="\n")
    doi = _doi(fields)
    pmid = _pmid(fields)
    if not (title or abstract or doi or pmid):
        return SkippedRecord(line, "record has no title, abstract, DOI or PMID")
    authors: list[str] = []
    for tag in _AUTHORS:
        for value in fields.get(tag, ()):
            # Some exports put "Smith, J.; Doe, A." on one line.
            for name in (
                value.replace("\n", ";").split(";") if ";" in value or "\n" in value else (value,)
            ):
                name = name.strip()
                if name:
                    authors.append(name)
    year = None
    for tag in _YEAR:
        for value in fields.get(tag, ()):
            year = parse_year(value)
            if year:
                break
        if year:
            break
    pages = _first(fields, ("SP",))
    end_page = _first(fields, ("EP",))
    if end_page and pages and "-" not in pages:
        pages = f"{pages}-{end_page}"
    elif end_page and not pages:
        pages = end_page
    keywords = split_keywords(fields.get("KW", []))
    url = ""
    for tag in _URL:
        for value in fields.get(tag, ()):
            for candidate in value.split("\n"):
                candidate = candidate.strip()
                if candidate.startswith(("http://", "https://")):
                    url = candidate
                    break
            if url:
                break
        if url:
            break
    return ParsedRecord(
        line=line,
        title=title.strip(),
        abstract=abstract.strip(),
        authors=authors,
        year=year,
        journal=_first(fields, _JOURNAL).strip(),
        volume=_first(fields, ("VL",)).strip(),
        issue=_first(fields, _ISSUE).strip(),
        pages=pages.strip(),
        doi=doi,
        pmid=pmid,
        keywords=keywords,
        language=_first(fields, ("LA",)).strip(),
        url=url,
        record_type=_first(fields, ("TY",)).strip(),
        source_fields=fields,
    )


def parse_ris(lines: Iterable[str]) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from RIS text lines (newlines already normalised to ``\\n``).

    Untagged lines inside a record continue the previous tag (kept with ``\\n``); lines
    between records are ignored; a ``TY`` without the previous ``ER`` closes that record;
    tagged lines outside any record are reported as a skipped record.
    """
    tags = _TAGS
    fields: dict[str, list[str]] | None = None
    start = 0
    last: list[str] | None = None
    corrupt = ""
    orphan_start = 0  # first line of tagged lines seen outside a record
    orphan_tags = 0
    lineno = 0
    for lineno, line in enumerate(lines, 1):
        tag = line[:2]
        if line[2:5] == "  -" and tag in tags:
            value = line[6:].strip()
        elif line[2:4] == " -" and tag in tags and line[4:5] in (" ", "\n", ""):
            value = line[5:].strip()  # single-space dialect "TY - JOUR"
        else:
            if fields is not None and last is not None:
                text = line.strip()
                if text:
                    if "\x00" in text or "\ufffd" in text:
                        corrupt = corrupt or f"unreadable characters on line {lineno}"
                    last[-1] = f"{last[-1]}\n{text}" if last[-1] else text
            continue
        if tag == "TY":
            if fields is not None:
                yield _finish(start, fields, corrupt)
            elif orphan_tags:
                yield _orphan(orphan_start, lineno - 1)
            orphan_tags = 0
            fields = {"TY": [value]}
            last = fields["TY"]
            start, corrupt = lineno, ""
            continue
        if fields is None:
            if tag != "ER":
                if not orphan_tags:
                    orphan_start = lineno
                orphan_tags += 1
            elif orphan_tags:
                yield _orphan(orphan_start, lineno)
                orphan_tags = 0
            continue
        if tag == "ER":
            yield _finish(start, fields, corrupt)
            fields, last = None, None
            continue
        if "\x00" in value or "\ufffd" in value:
            corrupt = corrupt or f"unreadable characters on line {lineno}"
        values = fields.get(tag)
        if values is None:
            last = fields[tag] = [value]
        else:
            values.append(value)
            last = values
    if fields is not None:
        # The last record lacks its ER line (a truncated export): keep what was read.
        yield _finish(start, fields, corrupt)
    elif orphan_tags:
        yield _orphan(orphan_start, lineno)


def _finish(start: int, fields: dict[str, list[str]], corrupt: str) -> ParsedRecord | SkippedRecord:
    if corrupt:
        return SkippedRecord(start, f"corrupt record: {corrupt}")
    return ris_record(start, fields)


def _orphan(start: int, end: int) -> SkippedRecord:
    return SkippedRecord(
        start, f"tagged lines {start}-{end} are outside a record (no 'TY  -' line)"
    )
