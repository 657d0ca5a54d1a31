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


_TAG = re.compile(r"[A-Z][A-Z0-9](?: |$)")


def parse_wos(
    lines: Iterable[str], notes: Notes | None = None
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from Web of Science plain text.

    A record runs from ``PT`` (or the first tag after an ``ER``, when ``PT`` was lost) to
    ``ER``; a new ``PT`` closes a record whose ``ER`` is missing. Lines outside records
    and tags the format does not define are reported in ``notes`` (the latter are kept in
    ``source_fields``).
    """
    notes = notes if notes is not None else Notes()
    fields: dict[str, list[str]] | None = None
    values: list[str] = []  # the current tag's values
    parts: list[str] = []  # the lines of its last value (joined once, not per line)
    start = 0
    corrupt = ""
    unknown: set[str] = set()
    outside: list[int] = []
    tag_line = _TAG.match
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line or line.isspace():
            continue
        if lineno == 1:
            line = line.lstrip("\ufeff")
        bad = "\x00" in line or "\ufffd" in line
        if tag_line(line):
            if len(parts) > 1:
                values[-1] = "\n".join(p for p in parts if p)
            tag, value = line[:2], line[3:].strip()
            if fields is None and tag in ("FN", "VR", "EF"):
                parts = []
                continue  # the file's header and end: not part of a record
            if tag == "ER" or tag == "EF":
                if fields is not None:
                    yield _finish(start, fields, corrupt)
                fields, corrupt, parts = None, "", []
                continue
            if tag == "PT" and fields is not None:
                yield _finish(start, fields, corrupt)
                fields = None
            if fields is None:
                fields, start, corrupt = {}, lineno, ""
            if bad and not corrupt:
                corrupt = f"unreadable characters on line {lineno}"
            if tag not in WOS_TAGS:
                unknown.add(tag)
            values = fields.setdefault(tag, [])
            values.append(value)
            parts = [value]
            continue
        if fields is None or not parts:
            outside.append(lineno)
            continue
        if bad and not corrupt:
            corrupt = f"unreadable characters on line {lineno}"
        parts.append(line.strip())
    if fields is not None:
        if len(parts) > 1:
            values[-1] = "\n".join(p for p in parts if p)
        yield _finish(start, fields, corrupt)
    if outside:
        notes.add(
            f"{len(outside)} line(s) outside any record were skipped "
            f"(first on line {outside[0]}): not part of a Web of Science record."
        )
    _note_unknown(notes, unknown)


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
