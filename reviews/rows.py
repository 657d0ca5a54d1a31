"""Parsed records as database rows, and the spill file that keeps them from preview to confirm.

Pure Python (no Django). The import preview parses the upload once and writes every
readable record here as a ready-to-insert row (clipped to the column sizes, dedup keys
computed, JSON columns already encoded), so confirming the import does not parse the
file a second time, encode JSON or read the de-duplication keys back from the database.

Spill format: an SQLite database holding one table (SPILL_TABLE, one column per ROW_FIELDS
entry, rows in rowid order), marked with an application id and a version so that a spill
of another layout (the newline-delimited JSON of version 1) is recognised as stale. The
sqlite3 module binds and reads the rows in C, and SQLite itself copies them into the
records table on confirm (``INSERT ... SELECT`` from the attached spill): unlike JSON, no
row is encoded, escaped or decoded in Python on the way, and a spill holds only values,
never code.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from .dedup import first_author_key, normalise_title
from .importing import ParsedRecord
from .rawfields import pack

__all__ = [
    "CHUNK_ROWS",
    "KEY_FIELDS",
    "ROW_FIELDS",
    "SpillError",
    "dedup_key_values",
    "open_spill",
    "read_spill",
    "read_spill_chunks",
    "record_row",
    "SPILL_TABLE",
    "spill_check",
    "spill_count",
    "spill_keys",
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
#: The DedupKey fields but the id, as row fields.
KEY_FIELDS: tuple[str, ...] = ("doi", "pmid", "title_norm", "year", "first_author")
CHUNK_ROWS = 2000
SPILL_TABLE = "import_rows"
_APPLICATION_ID = 0x52665277  # "RfRw": a spill database, told from any other SQLite file
_VERSION = 2  # 1 was newline-delimited JSON
_KEY_POSITIONS = tuple(ROW_FIELDS.index(name) for name in KEY_FIELDS)


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
    # The raw values that repeat the title or abstract are stored as references to them.
    source_json = _json(pack(parsed.source_fields, title, parsed.abstract))
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
    abstract = without_nul(parsed.abstract)
    first_author = first_author_key(authors[0]) if authors else ""
    return (
        parsed.line,
        title,
        abstract,
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
        _json(pack(without_nul(parsed.source_fields), title, abstract)),
        normalise_title(title),
        first_author[:200],
    )


def dedup_key_values(row: Sequence[Any]) -> tuple:
    """A row's DedupKey fields but the id (doi, pmid, title_norm, year, first_author).

    They are the values as written to the database, so ``DedupKey(id, *values)`` equals
    the key read back from the stored record.
    """
    return tuple(row[i] for i in _KEY_POSITIONS)


def _connect(path: str, *, create: bool = False) -> sqlite3.Connection:
    # Autocommit (isolation_level None): the writer opens its one transaction itself.
    uri = f"file:{quote(path)}?mode={'rwc' if create else 'ro'}"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def write_spill(path: str, rows: Iterable[Sequence[Any]]) -> int:
    """Write rows (ROW_FIELDS order) to a new spill database at `path`; return how many.

    `path` must be a new or empty file. The rows are bound by the sqlite3 module in C:
    no per-row Python work beyond producing them.
    """
    conn = _connect(path, create=True)
    try:
        # A scratch file: no journal, no fsync (an interrupted write is a missing spill,
        # and confirm then parses the upload again). Large pages keep a record's abstract
        # and source fields on one page instead of a chain of overflow pages.
        conn.execute("PRAGMA page_size = 65536")
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {_VERSION}")
        conn.execute(f"CREATE TABLE {SPILL_TABLE} ({', '.join(ROW_FIELDS)})")
        placeholders = ", ".join("?" * len(ROW_FIELDS))
        conn.execute("BEGIN")
        cursor = conn.executemany(f"INSERT INTO {SPILL_TABLE} VALUES ({placeholders})", rows)
        n = cursor.rowcount
        conn.execute("COMMIT")
        return n
    except sqlite3.Error as exc:
        raise OSError(f"The spill file could not be written: {exc}") from exc
    finally:
        conn.close()


def open_spill(path: str) -> sqlite3.Connection:
    """A read-only connection to a spill file, checked to hold rows of this layout.

    Raises
    ------
    SpillError
        The file is missing, not a spill database, or written for another row layout.
    """
    try:
        conn = _connect(path)
    except sqlite3.Error as exc:
        raise SpillError(f"The spill file cannot be opened: {exc}") from exc
    try:
        (app,) = conn.execute("PRAGMA application_id").fetchone()
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        columns = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({SPILL_TABLE})"))
    except sqlite3.Error as exc:
        conn.close()
        raise SpillError(f"The spill file is damaged: {exc}") from exc
    if (app, version, columns) != (_APPLICATION_ID, _VERSION, ROW_FIELDS):
        conn.close()
        raise SpillError("The spill file was written for another row layout.")
    return conn


def read_spill(conn: sqlite3.Connection, fields: Sequence[str] = ROW_FIELDS) -> Iterator[tuple]:
    """The spill's rows (their `fields`, ROW_FIELDS by default) in the order written.

    Raises SpillError while reading when the file turns out damaged.
    """
    for chunk in read_spill_chunks(conn, fields):
        yield from chunk


def read_spill_chunks(
    conn: sqlite3.Connection, fields: Sequence[str] = ROW_FIELDS, prefix: Sequence[Any] = ()
) -> Iterator[list[tuple]]:
    """The spill's rows in lists of up to CHUNK_ROWS, each row led by the `prefix` values
    (added by SQLite, not by a Python loop over the rows).

    Raises SpillError while reading when the file turns out damaged.
    """
    unknown = set(fields) - set(ROW_FIELDS)
    if unknown:
        raise ValueError(f"Not spill fields: {sorted(unknown)}")
    columns = ", ".join(["?"] * len(prefix) + list(fields))
    try:
        cursor = conn.execute(
            f"SELECT {columns} FROM {SPILL_TABLE} ORDER BY rowid",  # noqa: S608
            tuple(prefix),
        )
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            yield chunk
    except sqlite3.DatabaseError as exc:
        raise SpillError(f"The spill file is damaged: {exc}") from exc


def spill_check(path: str) -> str:
    """What SQLite finds wrong with the spill file at `path` ("" when nothing)."""
    try:
        with contextlib.closing(_connect(path)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "" if problems == ["ok"] else "; ".join(problems)


def spill_count(conn: sqlite3.Connection) -> int:
    """How many rows the spill holds, checked to be numbered 1..n (as written): a row's
    number is its place in the import, which the import's ids follow.

    Raises SpillError when the numbers have a gap (a row lost) or the file is damaged.
    """
    try:
        n, first, last = conn.execute(
            f"SELECT COUNT(*), MIN(rowid), MAX(rowid) FROM {SPILL_TABLE}"  # noqa: S608
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise SpillError(f"The spill file is damaged: {exc}") from exc
    if n and (first, last) != (1, n):
        raise SpillError(f"The spill's {n} rows are numbered {first} to {last}.")
    return n


def spill_keys(conn: sqlite3.Connection) -> list[tuple]:
    """Every row's dedup_key_values, in the order written."""
    return list(read_spill(conn, KEY_FIELDS))
