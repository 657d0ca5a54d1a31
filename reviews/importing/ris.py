"""RIS reader (EndNote, Embase, Ovid, Zotero, Mendeley, EndNote .txt dialects).

A tight line loop rather than ``rispy``: rispy 0.10 returns one list for the whole file
(no streaming), has no line numbers, merges a record whose ``ER`` line is missing into the
next one, and silently drops tagged lines outside a record. This loop streams one record
at a time and is about as fast (see benchmarks/parse_bench.py).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator

from .records import (
    Notes,
    ParsedRecord,
    SkippedRecord,
    clean_doi,
    clean_pmid,
    parse_year,
    split_keywords,
)

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
    for tag in ("DO", "DI", "M3", "N1", "UR", "L3", "L1"):
        for value in fields.get(tag, ()):
            if tag in ("M3", "N1") and "10." not in value:
                continue
            # EBSCO's CINAHL writes a bare DOI in L3; Ovid's ERIC a dx.doi.org link in L1.
            bare = tag == "L3" and value.startswith("10.")
            if tag in ("UR", "L3", "L1", "N1") and "doi" not in value.lower() and not bare:
                continue
            if tag == "DO":
                value = value.split("\n", 1)[0]
            elif tag in ("UR", "L3", "L1"):
                # One URL per line; the query string is not part of the DOI.
                value = next(
                    (u for u in value.split("\n") if "doi" in u.lower() or u.startswith("10.")), ""
                )
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


# Patterns anchored on a literal "\n" rather than "^" + MULTILINE: re scans for the
# literal in C and is ~6x faster on a 200 MB file. Text handed to them starts with "\n".
_BOUNDARY = re.compile(r"\n(TY|ER) {1,2}-[^\n]*")
_TAG_LINE_2 = re.compile(r"\n([A-Z][A-Z0-9])  -(?= |$)", re.MULTILINE)
_TAG_LINE_1 = re.compile(r"\n([A-Z][A-Z0-9]) {1,2}-(?= |$)", re.MULTILINE)


def split_ris_record(text: str, single_space: bool = False) -> dict[str, list[str]]:
    """Tags -> values of one record's text (starting with "\\n"); untagged lines continue
    the previous tag and are kept joined with "\\n"."""
    parts = (_TAG_LINE_1 if single_space else _TAG_LINE_2).split(text)
    fields: dict[str, list[str]] = {}
    for k in range(1, len(parts) - 1, 2):
        tag, value = parts[k], parts[k + 1].strip()
        if "\n" in value:
            # Each line stripped, blank lines dropped (map and filter loop in C).
            value = "\n".join(filter(None, map(str.strip, value.split("\n"))))
        values = fields.get(tag)
        if values is None:
            fields[tag] = [value]
        else:
            values.append(value)
    return fields


def parse_ris(
    chunks: Iterable[str], notes: Notes | None = None
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from RIS text given in pieces that each end at a line end.

    Untagged lines inside a record continue the previous tag (kept with ``\\n``); lines
    between records are ignored; a ``TY`` without the previous ``ER`` closes that record;
    tagged lines outside any record are reported as a skipped record, other text there
    (a database banner, a search history) in ``notes``.

    Record boundaries are found with one regular expression per 64 KiB+ of text and each
    record is split into tags with another, so the per-line work happens in C (about 3x
    faster than a Python loop over lines; see benchmarks/parse_bench.py).
    """
    # Invariant: buffer starts with "\n" (the end of the line before it); lines_before is
    # the number of lines before buffer[1:]. A record's text runs from the "\n" before its
    # TY line to the "\n" before its ER line.
    between = _Between()
    buffer = "\n"
    lines_before = 0
    in_record = False
    single_space = False
    first_ty = True
    source = iter(chunks)
    while True:
        chunk = next(source, None)
        if chunk is not None:
            buffer += chunk
            if len(buffer) < 1 << 16:
                continue  # gather a useful amount of text first (lines may come one by one)
        seg_start, seg_line = 0, lines_before + 1
        counted_pos, counted_line = 0, lines_before  # line of the text after counted_pos
        for match in _BOUNDARY.finditer(buffer, 1 if in_record else 0):
            pos = match.start()
            counted_line += buffer.count("\n", counted_pos, pos + 1)
            counted_pos = pos + 1
            is_ty = match.group(1) == "TY"
            if is_ty and first_ty:
                single_space, first_ty = match.group(0)[3:6] != "  -", False
            if in_record:
                yield _finish(seg_line, buffer[seg_start:pos], single_space)
                in_record = False
            else:
                orphan = _orphan(buffer[seg_start:pos], seg_line, counted_line - is_ty, between)
                if orphan:
                    yield orphan
            if is_ty:
                in_record = True
                seg_start, seg_line = pos, counted_line
            else:
                seg_start, seg_line = match.end(), counted_line + 1
        buffer, lines_before = buffer[seg_start:], seg_line - 1
        if chunk is None:
            break
    if in_record:
        # The last record lacks its ER line (a truncated export): keep what was read.
        yield _finish(lines_before + 1, buffer, single_space)
    else:
        last_line = lines_before + buffer.rstrip().count("\n")
        orphan = _orphan(buffer, lines_before + 1, last_line, between)
        if orphan:
            yield orphan
    if between.lines and notes is not None:
        notes.add(
            f"{between.lines} line(s) of text outside any record were skipped (first on line "
            f"{between.first}): a database banner or search history, not a record."
        )


def _finish(line: int, text: str, single_space: bool) -> ParsedRecord | SkippedRecord:
    if "\x00" in text or "\ufffd" in text:
        bad = text.find("\x00") if "\x00" in text else text.find("\ufffd")
        bad_line = line - 1 + text.count("\n", 0, bad)
        return SkippedRecord(line, f"corrupt record: unreadable characters on line {bad_line}")
    return ris_record(line, split_ris_record(text, single_space))


class _Between:
    """Untagged text seen between records: how many lines, and the first one."""

    __slots__ = ("first", "lines")

    def __init__(self) -> None:
        self.lines, self.first = 0, 0


def _orphan(text: str, first_line: int, last_line: int, between: _Between) -> SkippedRecord | None:
    """Tagged lines between records (a record whose TY line is missing) -> SkippedRecord;
    other text there is counted in ``between``."""
    match = _TAG_LINE_1.search(text)
    if not match:
        if text.strip():  # a database banner between records: told, not a record
            lines = [i for i, ln in enumerate(text.split("\n")) if ln.strip()]
            between.first = between.first or first_line - 1 + lines[0]
            between.lines += len(lines)
        return None
    line = first_line - 1 + text.count("\n", 0, match.start() + 1)
    return SkippedRecord(
        line, f"lines {line}-{last_line} are outside a record (no 'TY  -' line before them)"
    )
