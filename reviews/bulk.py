"""Fast bulk insertion of imported records.

The ORM's bulk_create spends most of its time compiling SQL and preparing values
field by field (about 25 s for 100,000 records). Imports insert plain tuples instead,
prepared once by the preview (reviews.rows): PostgreSQL's COPY through psycopg 3, and
one prepared INSERT with executemany on SQLite. Duplicate links and merges go in as one
statement over arrays on PostgreSQL. Column names come from the model, so they cannot
drift from the schema. Callers run this inside their transaction, so an import stays
all-or-nothing.
"""

from __future__ import annotations

import contextlib
import gc
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone

from .models import DuplicateLink, Record
from .rows import ROW_FIELDS, SPILL_TABLE, SpillError, open_spill, read_spill_chunks, spill_check

#: DuplicateLink columns written by de-duplication, in order (created_at is added).
LINK_FIELDS: tuple[str, ...] = ("review", "kept", "duplicate", "score", "tier", "reason", "status")
#: Record columns written on import, in order (everything but id and duplicate_of).
RECORD_FIELDS: tuple[str, ...] = ("review", "batch", *ROW_FIELDS)


def _columns() -> list[str]:
    meta = Record._meta
    return [meta.get_field(name).column for name in RECORD_FIELDS]


def records_insert(rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (values in RECORD_FIELDS order, JSON fields already encoded as text).

    The JSON text comes from reviews.rows, encoded once when the preview parsed the file.
    """
    columns = _columns()
    table = connection.ops.quote_name(Record._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    n = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _prefer_lz4(cursor)
            raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})"
            # Lists of rows, not the stream: Django's executemany tees a generator to peek
            # at its first row, which keeps every row in memory (876 MB for 100,000).
            batch: list[Sequence[Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= 5000:
                    cursor.executemany(sql, batch)
                    n += len(batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                n += len(batch)
    return n


_SPILL_ALIAS = "import_spill"


def _copy_chunks(chunks: Iterable[list[tuple]], progress: Callable[[int], None]) -> int:
    """COPY rows (RECORD_FIELDS order) given in lists into the records table (PostgreSQL)."""
    table = connection.ops.quote_name(Record._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in _columns())
    n = 0
    with connection.cursor() as cursor:
        _prefer_lz4(cursor)
        with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            write_row = copy.write_row
            for chunk in chunks:
                for row in chunk:
                    write_row(row)
                n += len(chunk)
                progress(n)
    return n


def records_insert_spill(
    path: str,
    *,
    review_id: int,
    batch_id: int,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Insert every row of the spill file at `path` as a record of the batch; return how many.

    SQLite copies the rows itself (the spill is attached to the connection and read by
    ``INSERT ... SELECT``), so no row becomes a Python object; PostgreSQL gets them by COPY,
    read from the spill in C by the sqlite3 module, `progress` told the rows sent so far.

    Raises
    ------
    SpillError
        The spill is missing, stale or damaged; the caller's savepoint undoes what was
        inserted before that was found.
    """
    if connection.vendor != "sqlite":
        with contextlib.closing(open_spill(path)) as spill:
            return _copy_chunks(read_spill_chunks(spill, prefix=(review_id, batch_id)), progress)
    open_spill(path).close()  # the layout is checked before anything is written
    # And its pages: once attached, a damaged spill would fail every later statement of
    # this transaction (SQLite flags the connection), not only the one that reads it.
    problem = spill_check(path)
    if problem:
        raise SpillError(f"The spill file is damaged: {problem}")
    columns = ", ".join(connection.ops.quote_name(c) for c in _columns())
    table = connection.ops.quote_name(Record._meta.db_table)
    try:
        alias = _spill_attach(path)
    except OperationalError:
        # At most 10 databases attach to one connection, and a spill stays attached until
        # its transaction ends: many imports in one transaction get the rows through Python.
        with contextlib.closing(open_spill(path)) as spill:
            chunks = read_spill_chunks(spill, prefix=(review_id, batch_id))
            return records_insert(row for chunk in chunks for row in chunk)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT %s, %s, {', '.join(ROW_FIELDS)} "  # noqa: S608
                f"FROM {alias}.{SPILL_TABLE} ORDER BY rowid",
                [review_id, batch_id],
            )
            return cursor.rowcount
    finally:
        _spill_detach(alias)


def _spill_attach(path: str) -> str:
    """Attach the spill (read-only) to the connection under a fresh name; return it.

    A spill read inside a transaction stays locked (and attached) until that transaction
    ends: each import detaches what earlier ones could not before attaching its own.
    """
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA database_list")
        for name in [row[1] for row in cursor.fetchall() if row[1].startswith(_SPILL_ALIAS)]:
            with contextlib.suppress(DatabaseError):
                cursor.execute(f"DETACH DATABASE {name}")
        alias = f"{_SPILL_ALIAS}_{uuid.uuid4().hex[:12]}"
        cursor.execute(f"ATTACH DATABASE %s AS {alias}", [f"file:{quote(path)}?mode=ro"])
    return alias


def _spill_detach(alias: str) -> None:
    def detach() -> None:
        with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
            cursor.execute(f"DETACH DATABASE {alias}")

    if connection.in_atomic_block:
        transaction.on_commit(detach)  # a rollback leaves it to the next import
    else:
        detach()


#: SQLite page cache for an import's transaction. With the default 2 MB, the records
#: table's and its indexes' (doi, pmid: random order) dirty pages are written out to the
#: WAL and read back again many times while 100,000 rows go in; 64 MB keeps them until the
#: commit writes each once.
IMPORT_CACHE_KIB = 64 * 1024


@contextmanager
def import_page_cache(kib: int = IMPORT_CACHE_KIB) -> Iterator[None]:
    """On SQLite, a larger page cache for the block (wrap the whole transaction: shrinking it
    before the commit would spill the dirty pages anyway); elsewhere nothing.

    Memory only: the transaction, its journal and its all-or-nothing commit are unchanged.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield  # inside a caller's transaction its commit comes later: leave its cache be
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _prefer_lz4(cursor: Any) -> None:
    """Compress this transaction's large values (abstracts, source fields) with LZ4.

    PostgreSQL compresses every value over ~2 KB before storing it; its default pglz
    takes a fifth of the COPY's server time on 100,000 records, LZ4 a fraction of that
    (and decompresses faster too). The stored data is the same. Servers built without
    LZ4 (or older than PostgreSQL 14) keep their default.
    """
    cursor.execute(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    row = cursor.fetchone()
    if row and row[0]:
        cursor.execute("SET LOCAL default_toast_compression = 'lz4'")


def links_insert(rows: Sequence[Sequence[Any]]) -> None:
    """Insert duplicate links (values in LINK_FIELDS order); a pair already linked is skipped.

    Like ``bulk_create(ignore_conflicts=True)``, without the ORM's per-object cost; on
    PostgreSQL as one statement over arrays rather than one round trip per link.
    """
    if not rows:
        return
    meta = DuplicateLink._meta
    fields = [meta.get_field(name) for name in (*LINK_FIELDS, "created_at")]
    quote = connection.ops.quote_name
    created_at = connection.ops.adapt_datetimefield_value(timezone.now())
    head = (
        f"{connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)} "
        f"{quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    )
    tail = connection.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ("bigint", "bigint", "bigint", "float8", "text", "text", "text")
            arrays = ", ".join(f"%s::{t}[]" for t in types)
            cursor.execute(
                f"{head} SELECT u.*, %s FROM unnest({arrays}) AS u {tail}",
                [created_at, *(list(column) for column in zip(*rows, strict=True))],
            )
        else:
            values = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"{head} VALUES ({values}) {tail}", [(*row, created_at) for row in rows]
            )


def records_link_duplicates(pairs: Iterable[tuple[int, int]]) -> None:
    """Set duplicate_of for (duplicate_id, kept_id) pairs."""
    table = connection.ops.quote_name(Record._meta.db_table)
    column = connection.ops.quote_name(Record._meta.get_field("duplicate_of").column)
    params = [(kept, duplicate) for duplicate, kept in pairs]
    if not params:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement over two arrays, not one round trip per record.
            kept_ids, duplicate_ids = (list(ids) for ids in zip(*params, strict=True))
            cursor.execute(
                f"UPDATE {table} SET {column} = u.kept FROM unnest(%s::bigint[], %s::bigint[])"
                f" AS u(kept, duplicate) WHERE {table}.id = u.duplicate",
                [kept_ids, duplicate_ids],
            )
        else:
            cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE id = %s", params)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a bulk step.

    Hundreds of thousands of short-lived, acyclic objects (parsed records, dedup keys)
    make the collector rescan its growing oldest generation again and again; pausing it
    halves de-duplication time on 100,000 records. Reference counting still frees memory.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
