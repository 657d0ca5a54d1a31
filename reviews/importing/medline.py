"""PubMed MEDLINE (.nbib / .txt "PubMed format") reader.

The ``nbib`` package (0.3) reads a whole string, raises ``MalformedLine`` for the whole
file on one odd line and drops tags it does not know; it is used as a per-record oracle
in the tests, while this streaming loop keeps every tag in ``source_fields``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .records import Notes, ParsedRecord, SkippedRecord, clean_doi, clean_pmid, parse_year

__all__ = ["parse_medline"]


def _join(fields: dict[str, list[str]], tag: str) -> str:
    values = fields.get(tag)
    return values[0] if values else ""


def medline_record(line: int, fields: dict[str, list[str]]) -> ParsedRecord | SkippedRecord:
    """Map one MEDLINE record's tags to a ParsedRecord."""
    title = _join(fields, "TI") or _join(fields, "BTI") or _join(fields, "TT")
    abstract = _join(fields, "AB")
    pmid = clean_pmid(_join(fields, "PMID"))
    doi = ""
    for tag in ("LID", "AID"):
        for value in fields.get(tag, ()):
            if value.endswith("[doi]"):
                doi = clean_doi(value)
                break
        if doi:
            break
    if not (title or abstract or pmid or doi):
        return SkippedRecord(line, "record has no title, abstract, DOI or PMID")
    # FAU holds full names ("Smith, John A"), AU initials ("Smith JA"); collective authors
    # (CN) belong to the author list too.
    authors = list(fields.get("FAU") or fields.get("AU") or [])
    authors += [cn for cn in fields.get("CN", ()) if cn not in authors]
    keywords = [kw for kw in (*fields.get("MH", ()), *fields.get("OT", ())) if kw]
    url = f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else ""
    return ParsedRecord(
        line=line,
        title=title,
        abstract=abstract,
        authors=authors,
        year=parse_year(_join(fields, "DP")) or parse_year(_join(fields, "DEP")),
        journal=_join(fields, "JT") or _join(fields, "TA"),
        volume=_join(fields, "VI"),
        issue=_join(fields, "IP"),
        pages=_join(fields, "PG"),
        doi=doi,
        pmid=pmid,
        keywords=keywords,
        language=_join(fields, "LA"),
        url=url,
        record_type=_join(fields, "PT"),
        source_fields=fields,
    )


def parse_medline(
    lines: Iterable[str], notes: Notes | None = None
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from MEDLINE text: ``TAG - value`` with 4-column tags, continuation
    lines indented by six spaces, records separated by blank lines (or a new ``PMID-``).
    Text between records is told in ``notes``."""
    outside: list[int] = []
    fields: dict[str, list[str]] | None = None
    last: list[str] | None = None
    start = 0
    corrupt = ""
    for lineno, line in enumerate(lines, 1):
        if line[4:6] == "- " or line[4:7] == "-\n" or line[4:] == "-":
            tag = line[:4].rstrip()
            if tag and tag.isalnum() and tag.isupper():
                value = line[6:].strip()
                if tag == "PMID" and fields is not None:
                    yield _finish(start, fields, corrupt)
                    fields = None
                if fields is None:
                    fields, start, corrupt = {}, lineno, ""
                if "\x00" in value or "\ufffd" in value:
                    corrupt = corrupt or f"unreadable characters on line {lineno}"
                values = fields.get(tag)
                if values is None:
                    last = fields[tag] = [value]
                else:
                    values.append(value)
                    last = values
                continue
        text = line.strip()
        if not text:
            if fields is not None:
                yield _finish(start, fields, corrupt)
                fields, last = None, None
            continue
        if fields is None or last is None:
            outside.append(lineno)  # text between records (a search banner)
            continue
        if "\x00" in text or "\ufffd" in text:
            corrupt = corrupt or f"unreadable characters on line {lineno}"
        # MEDLINE wraps long values at ~80 columns: a continuation joins with a space.
        last[-1] = f"{last[-1]} {text}" if last[-1] else text
    if fields is not None:
        yield _finish(start, fields, corrupt)
    if outside and notes is not None:
        notes.add(
            f"{len(outside)} line(s) of text outside any record were skipped (first on line "
            f"{outside[0]}): a search banner, not a record."
        )


def _finish(start: int, fields: dict[str, list[str]], corrupt: str) -> ParsedRecord | SkippedRecord:
    if corrupt:
        return SkippedRecord(start, f"corrupt record: {corrupt}")
    return medline_record(start, fields)
