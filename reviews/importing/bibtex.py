"""BibTeX reader: bibtexparser v2 on chunks of entries, so a large file streams."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Iterator

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.middlewares import LatexDecodingMiddleware
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, ParsingFailedBlock, String

from .records import (
    ParsedRecord,
    SkippedRecord,
    clean_doi,
    clean_pmid,
    parse_year,
    split_keywords,
)

__all__ = ["parse_bibtex"]

CHUNK_ENTRIES = 200
_ENTRY_START = re.compile(r"^\s*@")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_BRACES = re.compile(r"[{}]")
_SPACES = re.compile(r"\s+")


def _clean(value: object) -> str:
    text = str(value).strip()
    if (
        len(text) >= 2
        and text[0] == "{"
        and text[-1] == "}"
        or len(text) >= 2
        and text[0] == '"'
        and text[-1] == '"'
    ):
        text = text[1:-1]
    return _SPACES.sub(" ", _BRACES.sub("", text)).strip()


def bibtex_record(line: int, entry: Entry) -> ParsedRecord | SkippedRecord:
    """Map a bibtexparser Entry to a ParsedRecord."""
    raw = {f.key: str(f.value) for f in entry.fields}
    fields = {k.lower(): _clean(v) for k, v in raw.items()}
    title = fields.get("title", "") or fields.get("booktitle", "")
    abstract = fields.get("abstract", "")
    doi = clean_doi(fields.get("doi", ""))
    pmid = clean_pmid(fields.get("pmid", ""))
    if not pmid and fields.get("eprinttype", "").lower() == "pubmed":
        pmid = clean_pmid(fields.get("eprint", ""))
    if not (title or abstract or doi or pmid):
        return SkippedRecord(line, f"entry '{entry.key}' has no title, abstract, DOI or PMID")
    authors = [a.strip() for a in _AND.split(fields.get("author", "")) if a.strip()]
    keywords = split_keywords([kw for kw in re.split(r"[;,]\s*", fields.get("keywords", "")) if kw])
    journal = fields.get("journal") or fields.get("journaltitle") or ""
    if not journal and entry.entry_type.lower() in ("inproceedings", "incollection", "inbook"):
        journal = fields.get("booktitle", "")
    return ParsedRecord(
        line=line,
        title=title,
        abstract=abstract,
        authors=authors,
        year=parse_year(fields.get("year") or fields.get("date")),
        journal=journal,
        volume=fields.get("volume", ""),
        issue=fields.get("number") or fields.get("issue") or "",
        pages=fields.get("pages", "").replace("--", "-").replace("\u2013", "-"),
        doi=doi,
        pmid=pmid,
        keywords=keywords,
        language=fields.get("language") or fields.get("langid") or "",
        url=fields.get("url", ""),
        record_type=entry.entry_type.lower(),
        source_fields={"ENTRYTYPE": entry.entry_type, "ID": entry.key, **raw},
    )


def _chunks(lines: Iterable[str], size: int = CHUNK_ENTRIES) -> Iterator[tuple[int, str]]:
    """(first line number, text) of consecutive groups of up to ``size`` entries."""
    buffer: list[str] = []
    first = 1
    entries = 0
    for lineno, line in enumerate(lines, 1):
        if _ENTRY_START.match(line):
            if entries >= size:
                yield first, "".join(buffer)
                buffer, first, entries = [], lineno, 0
            entries += 1
        buffer.append(line)
    if buffer:
        yield first, "".join(buffer)


def _parse_chunk(text: str, strings: list[String]) -> Library:
    library = Library(blocks=list(strings))
    # The splitter logs every failed block; the skipped list reports them instead.
    logger = logging.getLogger("bibtexparser.splitter")
    previous = logger.disabled
    logger.disabled = True
    try:
        return bibtexparser.parse_string(
            text, append_middleware=[LatexDecodingMiddleware()], library=library
        )
    finally:
        logger.disabled = previous


def parse_bibtex(lines: Iterable[str]) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from BibTeX text; a syntax error skips one entry, not the file."""
    strings: list[String] = []
    for first, text in _chunks(lines):
        try:
            libraries = [(first, _parse_chunk(text, strings))]
        except Exception:  # noqa: BLE001 - a parser bug on one entry must not lose the chunk
            libraries = []
            for sub_first, entry_text in _chunks(io.StringIO(text), size=1):
                line = first + sub_first - 1
                try:
                    libraries.append((line, _parse_chunk(entry_text, strings)))
                except Exception as exc:  # noqa: BLE001
                    yield SkippedRecord(line, f"BibTeX entry could not be parsed: {exc}")
        for offset, library in libraries:
            strings = list(library.strings)
            yield from _records(offset, library)


def _records(first: int, library: Library) -> Iterator[ParsedRecord | SkippedRecord]:
    items: list[tuple[int, ParsedRecord | SkippedRecord]] = []
    for block in library.entries:
        line = first + (block.start_line or 0)
        items.append((line, bibtex_record(line, block)))
    for block in library.failed_blocks:
        line = first + (block.start_line or 0)
        if isinstance(block, DuplicateBlockKeyBlock) and isinstance(
            block.ignore_error_block, Entry
        ):
            # A repeated citation key is not a broken record: import it (dedup sees it).
            items.append((line, bibtex_record(line, block.ignore_error_block)))
        elif isinstance(block, DuplicateBlockKeyBlock):
            continue  # a repeated @string: the first definition stands
        elif isinstance(block, ParsingFailedBlock):
            reason = getattr(block.error, "abort_reason", "") or str(block.error or "")
            reason = " ".join(reason.split()) or "syntax error"
            items.append((line, SkippedRecord(line, f"BibTeX syntax error: {reason}")))
    items.sort(key=lambda item: item[0])
    for _, item in items:
        yield item
