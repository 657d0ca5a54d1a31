"""Web of Science exports: plain text ("Other reference software" / "Plain text file")
and tab-delimited ("Tab delimited file", Windows or Mac, UTF-8 or UTF-16).

Plain text: a ``FN``/``VR`` header, then records from ``PT`` to ``ER`` with two-letter tags
in the first two columns, a space, the value, and continuation lines indented by three
spaces (one author, address or cited reference per line); ``EF`` ends the file.
Tab-delimited: one header line of the same tags, one record per line, multi-valued
fields (authors) separated by ``"; "`` and no quoting at all, so a title may hold a ``"``
(the csv module would swallow the lines after it).

Both become the same ``{tag: [value]}`` fields (continuation lines joined with ``"\\n"``)
and the same ParsedRecord.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .records import (
    ImportFormatError,
    Notes,
    ParsedRecord,
    SkippedRecord,
    clean_doi,
    clean_pmid,
    parse_year,
    split_keywords,
)

__all__ = ["WOS_TAGS", "parse_wos", "parse_wos_tab", "wos_record"]

# Clarivate's export tags of every Web of Science database (Core Collection, MEDLINE,
# BIOSIS, Derwent, KCI, SciELO...), from its "Export records" help page.
_TAG_LIST = (
    "A2 AA AB AD AE AF AK AN AR AU AW BA BD BE BF BN BP BS C1 C2 C3 CA CC CE CH CI CL CN CO "
    "CP CR CT CY D2 DA DC DE DF DI DL DM DN DP DS DT DY EA EC ED EF EI EM EP ER EY FD FN FP "
    "FS FT FU FX GA GE GI GN GP GS GT HC HO HP ID IO IP IS IV J9 JC JI LA LS LT MA MC ME MH "
    "MI MN MQ NM NO NP NR NT OA OB OC OD OI OP OR OS P1 P2 PA PC PD PE PG PI PM PN PR PS PT "
    "PU PV PY RC RG RI RP S1 SA SC SD SE SF SI SN SO SP SS ST SU TA TC TF TI TL TM TN TR TS "
    "U1 U2 UC UR UT VL VN VR WC WE WP X1 X2 X4 X5 Y1 Y4 Y5 Z1 Z2 Z3 Z4 Z5 Z6 Z7 Z8 Z9 ZK"
)
WOS_TAGS = frozenset(_TAG_LIST.split())
# Tags whose continuation lines (plain text) or "; "-separated parts (tab-delimited) are
# one value each: people and groups.
_PEOPLE = ("AU", "AF", "BA", "BF", "CA", "GP", "BE")


def _lines(fields: dict[str, list[str]], tag: str) -> list[str]:
    values = fields.get(tag)
    if not values:
        return []
    return [part for value in values for part in value.split("\n") if part]


def _joined(fields: dict[str, list[str]], tag: str, sep: str = " ") -> str:
    values = fields.get(tag)
    if not values:
        return ""
    if len(values) == 1 and "\n" not in values[0]:
        return values[0]  # the common case, without building lists
    return sep.join(_lines(fields, tag))


def wos_record(line: int, fields: dict[str, list[str]]) -> ParsedRecord | SkippedRecord:
    """Map one record's Web of Science tags to a ParsedRecord (or say why it is none)."""
    title = _joined(fields, "TI")
    abstract = _joined(fields, "AB", "\n")
    doi = clean_doi(_joined(fields, "DI") or _joined(fields, "D2"))
    pmid = clean_pmid(_joined(fields, "PM"))
    if not (title or abstract or doi or pmid):
        return SkippedRecord(line, "record has no title, abstract, DOI or PMID")
    # AF holds full names ("Asampong, Emmanuel"), AU short ones ("Asampong, E"); books
    # name theirs in BF/BA; a group author (CA) is an author too.
    authors = _lines(fields, "AF") or _lines(fields, "AU")
    authors = authors or _lines(fields, "BF") or _lines(fields, "BA")
    authors += [ca for ca in _lines(fields, "CA") + _lines(fields, "GP") if ca not in authors]
    # Keywords wrap across lines at word boundaries: join with a space, then split on ";".
    keywords = split_keywords([_joined(fields, "DE"), _joined(fields, "ID")])
    pages = _joined(fields, "BP")
    end = _joined(fields, "EP")
    if pages and end and pages != end:
        pages = f"{pages}-{end}"
    pages = pages or _joined(fields, "AR")
    return ParsedRecord(
        line=line,
        title=title,
        abstract=abstract,
        authors=authors,
        year=parse_year(_joined(fields, "PY"))
        or parse_year(_joined(fields, "EA"))
        or parse_year(_joined(fields, "PD")),
        journal=_joined(fields, "SO") or _joined(fields, "SE"),
        volume=_joined(fields, "VL"),
        issue=_joined(fields, "IS"),
        pages=pages,
        doi=doi,
        pmid=pmid,
        keywords=list(dict.fromkeys(keywords)),
        language=_joined(fields, "LA"),
        record_type=_joined(fields, "DT") or _joined(fields, "PT"),
        source_fields=fields,
    )


# Patterns anchored on a literal "\n" (text handed to them starts with one), as in ris.py:
# the record boundaries and the tags inside a record are found in C, not line by line.
_BOUNDARY = re.compile(r"\n(?:(PT) [^\n]*|(ER|EF)[ \t]*)(?=\n|$)")
_TAG_SPLIT = re.compile(r"\n([A-Z][A-Z0-9])(?: |(?=\n)|$)")
_INDENT = re.compile(r"\n\s*")
_HEADER_TAGS = frozenset({"FN", "VR", "EF", "ER"})


def parse_wos(
    chunks: Iterable[str], notes: Notes | None = None
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from Web of Science plain text given in pieces ending at line ends.

    A record runs from ``PT`` to ``ER``; a new ``PT`` closes a record whose ``ER`` is
    missing, and tagged lines after an ``ER`` whose ``PT`` was lost are a record too.
    Untagged lines continue the tag above them. Other text outside records, and tags the
    format does not define (kept in ``source_fields``), are reported in ``notes``.
    """
    notes = notes if notes is not None else Notes()
    state = _State()
    # Invariant, as in parse_ris: buffer starts with "\n"; lines_before counts the lines
    # before buffer[1:].
    buffer, lines_before, in_record = "\n", 0, False
    source = iter(chunks)
    while True:
        chunk = next(source, None)
        if chunk is not None:
            buffer += chunk
            if len(buffer) < 1 << 16:
                continue
        seg_start, seg_line = 0, lines_before + 1
        counted_pos, counted_line = 0, lines_before
        # An open record's own PT line is at 0: look for its end after it.
        for match in _BOUNDARY.finditer(buffer, 1 if in_record else 0):
            pos = match.start()
            counted_line += buffer.count("\n", counted_pos, pos + 1)
            counted_pos = pos + 1
            is_pt = match.group(1) == "PT"
            if in_record:
                yield _record(seg_line, buffer[seg_start:pos], state)
            else:
                yield from _between(buffer[seg_start:pos], seg_line, state)
            if is_pt:
                in_record, seg_start, seg_line = True, pos, counted_line
            else:
                in_record, seg_start, seg_line = False, match.end(), counted_line + 1
        buffer, lines_before = buffer[seg_start:], seg_line - 1
        if chunk is None:
            break
    if in_record:
        yield _record(lines_before + 1, buffer, state)  # a truncated export: keep it
    else:
        yield from _between(buffer, lines_before + 1, state)
    if state.outside:
        notes.add(
            f"{state.outside} line(s) outside any record were skipped "
            f"(first on line {state.first_outside}): not part of a Web of Science record."
        )
    _note_unknown(notes, state.unknown)


class _State:
    """What parse_wos gathers for its notes."""

    __slots__ = ("first_outside", "outside", "unknown")

    def __init__(self) -> None:
        self.outside, self.first_outside = 0, 0
        self.unknown: set[str] = set()


def _record(line: int, text: str, state: _State) -> ParsedRecord | SkippedRecord:
    """One record's text (from the "\\n" before its first tag line) -> a record."""
    if "\x00" in text or "\ufffd" in text:
        bad = text.find("\x00") if "\x00" in text else text.find("\ufffd")
        bad_line = line - 1 + text.count("\n", 0, bad)
        return SkippedRecord(line, f"corrupt record: unreadable characters on line {bad_line}")
    parts = _TAG_SPLIT.split(text)
    fields: dict[str, list[str]] = {}
    for k in range(1, len(parts) - 1, 2):
        tag, value = parts[k], parts[k + 1].strip()
        if "\n" in value:
            # Continuation lines are indented three spaces; trailing blanks are dropped too.
            value = _INDENT.sub("\n", value)
            if "\n\n" in value:
                value = "\n".join(v for v in value.split("\n") if v)
        values = fields.get(tag)
        if values is None:
            fields[tag] = [value]
        else:
            values.append(value)
    unknown = fields.keys() - WOS_TAGS
    if unknown:
        state.unknown.update(unknown)
    return wos_record(line, fields)


def _between(text: str, first_line: int, state: _State) -> Iterator[ParsedRecord | SkippedRecord]:
    """Text outside PT...ER: the FN/VR header, blank lines, stray text (counted for the
    notes), or the tagged lines of a record whose PT line was lost (read as a record)."""
    if not text.strip():
        return
    start = None
    for match in _TAG_SPLIT.finditer(text):
        if match.group(1) not in _HEADER_TAGS:
            start = match.start()
            break
    stray = text if start is None else text[:start]
    for offset, line in enumerate(stray.split("\n")):
        if line.strip() and not _TAG_SPLIT.match("\n" + line):
            state.outside += 1
            state.first_outside = state.first_outside or first_line - 1 + offset
    if start is not None:
        yield _record(first_line - 1 + text.count("\n", 0, start + 1), text[start:], state)


def _note_unknown(notes: Notes, unknown: Iterable[str]) -> None:
    tags = sorted(set(unknown))
    if tags:
        listed = ", ".join(tags[:30]) + (" ..." if len(tags) > 30 else "")
        notes.add(
            "Tags that Web of Science does not define were kept with the records but not "
            f"shown: {listed}."
        )


def _finish(start: int, fields: dict[str, list[str]], corrupt: str) -> ParsedRecord | SkippedRecord:
    if corrupt:
        return SkippedRecord(start, f"corrupt record: {corrupt}")
    return wos_record(start, fields)


def wos_tab_header(line: str) -> list[str] | None:
    """The tags of a tab-delimited export's header line, or None if it is not one."""
    tags = [t.strip().lstrip("\ufeff") for t in line.rstrip("\r\n").split("\t")]
    while tags and not tags[-1]:
        tags.pop()  # the header ends with a tab in Windows exports
    known = sum(1 for t in tags if t in WOS_TAGS)
    if tags[:1] == ["PT"] and "TI" in tags and known >= 5 and known * 2 > len(tags):
        return tags
    return None


def parse_wos_tab(
    lines: Iterable[str], notes: Notes | None = None
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from a Web of Science tab-delimited export (one record a line).

    Raises
    ------
    ImportFormatError
        When the first non-blank line is not a Web of Science header (checked at once).
    """
    notes = notes if notes is not None else Notes()
    source = iter(enumerate(lines, 1))
    for _, line in source:
        if line.strip("\ufeff \t\r\n"):
            header = wos_tab_header(line)
            break
    else:
        raise ImportFormatError("The file is empty.")
    if header is None:
        raise ImportFormatError(
            "The first line is not a Web of Science tab-delimited header (PT, AU, TI...)."
        )
    return _tab_rows(source, header, notes)


def _tab_rows(
    source: Iterator[tuple[int, str]], header: list[str], notes: Notes
) -> Iterator[ParsedRecord | SkippedRecord]:
    n_cols = len(header)
    unknown = [t for t in header if t not in WOS_TAGS]
    for lineno, line in source:
        cells = line.rstrip("\r\n").split("\t")
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > n_cols and any(c.strip() for c in cells[n_cols:]):
            yield SkippedRecord(
                lineno, f"row has {len(cells)} columns, the header {n_cols} (a stray tab?)"
            )
            continue
        if "\x00" in line or "\ufffd" in line:
            yield SkippedRecord(lineno, f"corrupt record: unreadable characters on line {lineno}")
            continue
        fields: dict[str, list[str]] = {}
        for tag, cell in zip(header, cells, strict=False):
            value = cell.strip()
            if not value:
                continue
            if tag in _PEOPLE:
                value = "\n".join(p for p in (x.strip() for x in value.split(";")) if p)
            fields.setdefault(tag, []).append(value)
        yield wos_record(lineno, fields)
    if unknown:
        _note_unknown(notes, unknown)
