"""Parsed records as database rows, and the spill file that keeps them from preview to confirm.

Pure Python (no Django). The import preview parses the upload once and writes every
readable record here as a ready-to-insert row (clipped to the column sizes, dedup keys
computed, JSON columns already encoded), so confirming the import does not parse the
file a second time, encode JSON or read the de-duplication keys back from the database.

Spill format: UTF-8 lines. The first is a header object (format name, version and the
row fields, so a spill written by another version of this code is recognised as stale);
each further line is a JSON array of up to CHUNK_ROWS rows. Only JSON is ever decoded
(never pickle), so a spill file cannot run code, and memory stays bounded by one chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import orjson

from .dedup import first_author_key, normalise_title
from .importing import ParsedRecord

__all__ = [
    "CHUNK_ROWS",
    "ROW_FIELDS",
    "SpillError",
    "dedup_key_values",
    "read_spill",
    "record_row",
    "without_nul",
    "write_spill",
]

#: Row values in this order: the Record columns an import writes, less review and batch.
ROW_FIELDS: tuple[str, ...] = (
    "source_line",
    "title",
    "abstract",
    "authors",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "keywords",
    "language",
    "url",
    "record_type",
    "source_fields",
    "title_norm",
    "first_author",
)
JSON_FIELDS = frozenset({"authors", "keywords", "source_fields"})
CHUNK_ROWS = 2000
_FORMAT, _VERSION = "reviewflow-import-rows", 1
_KEY_POSITIONS = tuple(
    ROW_FIELDS.index(name) for name in ("doi", "pmid", "title_norm", "year", "first_author")
)


class SpillError(ValueError):
    """The spill file is missing its header, stale (another layout) or damaged."""


def _json(value: Any) -> str:
    # orjson is ~10x faster than json.dumps on these nested lists/dicts of strings; its
    # output is compact UTF-8 (non-ASCII kept, as json.dumps(ensure_ascii=False) did).
    return orjson.dumps(value).decode()


def without_nul(value: Any) -> Any:
    """``value`` (a string, or lists/dicts of them) with every NUL character removed.

    PostgreSQL refuses NUL in text and in jsonb; a corrupt export must not make a whole
    import fail at confirm, so the byte is dropped where the text is kept.
    """
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def _json_text(value: Any) -> str:
    text = _json(value)
    # orjson writes NUL as the escape \u0000; only then is the value walked.
    return _json(without_nul(value)) if "\\u0000" in text else text


def record_row(parsed: ParsedRecord) -> tuple:
    """One record's values in ROW_FIELDS order: clipped to the column sizes, JSON as text."""
    year = parsed.year if parsed.year and 0 < parsed.year < 32767 else None
    authors, title = parsed.authors, parsed.title
    authors_json = _json(authors)
    keywords_json = _json(parsed.keywords)
    source_json = _json(parsed.source_fields)
    texts = (
        title,
        parsed.abstract,
        parsed.journal,
        parsed.volume,
        parsed.issue,
        parsed.pages,
        parsed.doi,
        parsed.pmid,
        parsed.language,
        parsed.url,
        parsed.record_type,
    )
    # One search of all the text for NUL (orjson writes it as \u0000; readers that skip
    # corrupt records never produce it): removing it field by field costs a dozen calls
    # per record, a tenth of the preview's time on 100,000 records.
    if (
        "\x00" in "".join(texts)
        or "\\u0000" in source_json
        or "\\u0000" in authors_json
        or "\\u0000" in keywords_json
    ):
        return _record_row_without_nul(parsed, year)
    first_author = first_author_key(authors[0]) if authors else ""
    return (
        parsed.line,
        title,
        parsed.abstract,
        authors_json,
        year,
        parsed.journal[:500],
        parsed.volume[:50],
        parsed.issue[:50],
        parsed.pages[:50],
        parsed.doi[:255],
        parsed.pmid[:20],
        keywords_json,
        parsed.language[:100],
        parsed.url,
        parsed.record_type[:50],
        source_json,
        normalise_title(title),
        first_author[:200],
    )


def _record_row_without_nul(parsed: ParsedRecord, year: int | None) -> tuple:
    """record_row for a record holding NUL characters: each one removed."""
    authors = parsed.authors
    if any("\x00" in a for a in authors):
        authors = without_nul(authors)
    title = without_nul(parsed.title)
    first_author = first_author_key(authors[0]) if authors else ""
    return (
        parsed.line,
        title,
        without_nul(parsed.abstract),
        _json(authors),
        year,
        without_nul(parsed.journal)[:500],
        without_nul(parsed.volume)[:50],
        without_nul(parsed.issue)[:50],
        without_nul(parsed.pages)[:50],
        without_nul(parsed.doi)[:255],
        without_nul(parsed.pmid)[:20],
        _json_text(parsed.keywords),
        without_nul(parsed.language)[:100],
        without_nul(parsed.url),
        without_nul(parsed.record_type)[:50],
        _json_text(parsed.source_fields),
        normalise_title(title),
        first_author[:200],
    )


def dedup_key_values(row: Sequence[Any]) -> tuple:
    """A row's DedupKey fields but the id (doi, pmid, title_norm, year, first_author).

    They are the values as written to the database, so ``DedupKey(id, *values)`` equals
    the key read back from the stored record.
    """
    return tuple(row[i] for i in _KEY_POSITIONS)


def write_spill(out: IO[bytes], rows: Iterable[tuple]) -> int:
    """Write rows to a spill file, CHUNK_ROWS to a line; return how many were written."""
    out.write(orjson.dumps({"format": _FORMAT, "version": _VERSION, "fields": ROW_FIELDS}))
    out.write(b"\n")
    n, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            out.write(orjson.dumps(chunk))
            out.write(b"\n")
            n, chunk = n + len(chunk), []
    if chunk:
        out.write(orjson.dumps(chunk))
        out.write(b"\n")
        n += len(chunk)
    return n


def read_spill(source: IO[bytes]) -> Iterator[list]:
    """Rows of a spill file (each a list in ROW_FIELDS order), one chunk in memory at a time.

    Raises
    ------
    SpillError
        Before the first row, when the header is missing or describes another layout;
        while reading, when a line is not a chunk of rows of the right width.
    """
    try:
        header = orjson.loads(source.readline())
    except orjson.JSONDecodeError as exc:
        raise SpillError("The spill file has no header.") from exc
    if not isinstance(header, dict) or (
        header.get("format"),
        header.get("version"),
        tuple(header.get("fields") or ()),
    ) != (_FORMAT, _VERSION, ROW_FIELDS):
        raise SpillError("The spill file was written for another row layout.")
    return _rows(source)


def _rows(source: IO[bytes]) -> Iterator[list]:
    width = len(ROW_FIELDS)
    # readline, not iteration: django.core.files.File.__iter__ starts again from byte 0.
    for line in iter(source.readline, b""):
        try:
            chunk = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise SpillError("The spill file is damaged.") from exc
        for row in chunk:
            if len(row) != width:
                raise SpillError("The spill file is damaged.")
            yield row
