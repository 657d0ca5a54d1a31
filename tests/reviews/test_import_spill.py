"""The preview's spill file: confirm imports from it without parsing again, and falls back."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import sqlite3
from pathlib import Path

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from reviews import dedup, rows, services
from reviews.importing import ParsedRecord
from reviews.models import ImportBatch, Record
from reviews.storage import AtomicFileSystemStorage

EXCERPT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "reviews" / "kwok2020_embase_excerpt.ris"
)
FIELDS = ["source_line", "title", "abstract", "authors", "year", "journal", "volume", "issue"]
FIELDS += ["pages", "doi", "pmid", "keywords", "language", "url", "record_type"]
FIELDS += ["source_fields", "title_norm", "first_author", "duplicate_of_id"]


def _preview(cast) -> ImportBatch:
    return services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(EXCERPT.read_bytes()), filename="x.ris"
    )


def _stored(batch: ImportBatch) -> list[tuple]:
    return list(batch.records.order_by("id").values_list(*FIELDS))


def test_record_row_clips_and_encodes():
    parsed = ParsedRecord(
        line=3,
        title="The Ångström trial",
        authors=["Müller, J.", "Doe, A"],
        year=99999,
        journal="J" * 600,
        source_fields={"TI": ["The Ångström trial"], "AU": ["Müller, J.", "Doe, A"]},
    )
    row = dict(zip(rows.ROW_FIELDS, rows.record_row(parsed), strict=True))
    assert row["year"] is None and len(row["journal"]) == 500
    assert row["authors"] == '["Müller, J.","Doe, A"]'  # UTF-8 kept, not \\u-escaped
    assert row["title_norm"] == "angstrom trial" and row["first_author"] == "muller"
    key = dedup.DedupKey(7, *rows.dedup_key_values(rows.record_row(parsed)))
    assert key == dedup.DedupKey(7, "", "", "angstrom trial", None, "muller")


def _row(i: int) -> tuple:
    blank = ("",) * 3
    return (i, f"Title {i}", "", '["Smith, J"]', 2000, *blank, "", "", "", "[]", *blank) + (
        '{"TI": ["x"]}',
        f"title {i}",
        "smith",
    )


def test_spill_round_trip_in_chunks(tmp_path):
    data = [_row(i) for i in range(rows.CHUNK_ROWS * 2 + 5)]
    data[3] = (*data[3][:2], "Ångström \n ✓ \\u0000", *data[3][3:])
    assert len(data[0]) == len(rows.ROW_FIELDS)
    path = str(tmp_path / "rows.sqlite3")
    assert rows.write_spill(path, iter(data)) == len(data)
    with contextlib.closing(rows.open_spill(path)) as spill:
        assert list(rows.read_spill(spill)) == data
        assert rows.spill_keys(spill) == [rows.dedup_key_values(r) for r in data]
    assert rows.spill_check(path) == ""


@pytest.mark.parametrize("content", ["empty", "text", "json_spill", "other_layout"])
def test_stale_or_foreign_spill_is_refused(tmp_path, content):
    path = tmp_path / "rows.sqlite3"
    if content == "empty":
        path.write_bytes(b"")
    elif content == "text":
        path.write_bytes(b"not a database\n" * 100)
    elif content == "json_spill":  # what the spill was before it became a database
        path.write_bytes(b'{"format": "reviewflow-import-rows", "version": 1, "fields": []}\n[]\n')
    else:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("CREATE TABLE import_rows (title)")
    with pytest.raises(rows.SpillError):
        rows.open_spill(str(path))


def test_confirm_imports_from_the_spill_without_parsing_again(
    cast, monkeypatch, django_capture_on_commit_callbacks
):
    batch = _preview(cast)
    assert batch.rows and batch.rows.storage.exists(batch.rows.name)
    spill_name = batch.rows.name

    def no_second_parse(*args, **kwargs):
        raise AssertionError("confirm parsed the file again")

    monkeypatch.setattr(services, "iter_records", no_second_parse)
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.import_confirm(batch=batch, actor=cast.lead)
    assert batch.n_imported == 6 and Record.objects.count() == 6
    batch.refresh_from_db()
    assert not batch.rows and not batch.file.storage.exists(spill_name)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("spread", [False, True])
def test_confirm_writes_the_drawn_ids_and_the_links_with_the_rows(cast, monkeypatch, spread, debug):
    """The ids are drawn before the rows go in (de-duplication needs them) and the rows are
    written linked already; ids that are not one run (another transaction drew some at the
    same time on PostgreSQL) are written as drawn, in the file's order. With DEBUG's
    logging cursor too (`make run`), which formats every statement with ``%``."""
    reference = _preview(cast)
    services.import_confirm(batch=reference, actor=cast.lead)
    drawn = []
    allocate = services.records_allocate_ids

    def allocate_spread(n):
        ids = list(allocate(3 * n))[::3] if spread else allocate(n)  # gaps between them
        drawn.extend(ids)
        return ids

    monkeypatch.setattr(services, "records_allocate_ids", allocate_spread)
    preview = _preview(cast)
    with CaptureQueriesContext(connection) if debug else contextlib.nullcontext():
        batch = services.import_confirm(batch=preview, actor=cast.lead)
    stored = list(batch.records.order_by("source_line").values_list("id", "duplicate_of_id"))
    assert [record_id for record_id, _ in stored] == drawn
    first = list(reference.records.order_by("source_line").values_list("id", flat=True))
    assert [kept for _, kept in stored] == first  # each one the duplicate of its twin
    assert batch.n_duplicates == 6


@pytest.mark.parametrize("damage", ["missing", "stale", "truncated", "garbled", "short"])
def test_unusable_spill_falls_back_to_parsing_the_upload(cast, damage):
    reference = _preview(cast)
    services.import_confirm(batch=reference, actor=cast.lead)
    expected = _stored(reference)

    batch = _preview(cast)
    path = Path(batch.rows.path)
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "stale":
        path.write_bytes(b'{"format": "reviewflow-import-rows", "version": 1}\n[]\n')
    elif damage == "truncated":  # the rows' page is gone
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbled":  # the rows' page overwritten: SQLite finds it malformed
        half = len(data) // 2
        path.write_bytes(data[:half] + b"\xa5" * (len(data) - half))
    else:  # a row less than the preview read
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("DELETE FROM import_rows WHERE rowid = 3")
    batch = services.import_confirm(batch=batch, actor=cast.lead)
    assert batch.n_imported == 6
    got = _stored(batch)
    # The same values as the first import; the second batch's records are its duplicates.
    assert [row[:-1] for row in got] == [row[:-1] for row in expected]
    assert all(row[-1] for row in got)


def test_confirm_after_a_failed_confirm_reads_the_spill_again(cast, monkeypatch):
    """A confirm that fails after reading the spill leaves nothing, and the next one works
    from the same spill (on SQLite, the spill stays attached until the next import)."""
    batch = _preview(cast)

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "links_insert", fail)
    with pytest.raises(RuntimeError):
        services.import_confirm(batch=batch, actor=cast.lead)
    assert Record.objects.count() == 0
    monkeypatch.undo()
    monkeypatch.setattr(services, "iter_records", lambda *a, **k: pytest.fail("parsed again"))
    batch = services.import_confirm(batch=batch, actor=cast.lead)
    assert batch.n_imported == 6 and Record.objects.count() == 6


def test_discard_removes_the_spill(cast):
    batch = _preview(cast)
    spill_name = batch.rows.name
    services.import_discard(batch=batch, actor=cast.lead)
    batch.refresh_from_db()
    assert not batch.rows and not batch.file.storage.exists(spill_name)


def test_many_confirms_in_one_transaction(cast):
    """SQLite attaches at most 10 databases to a connection and a spill read inside a
    transaction stays attached until it ends: the eleventh import still goes in."""
    with transaction.atomic():
        for _ in range(12):
            services.import_confirm(batch=_preview(cast), actor=cast.lead)
    assert Record.objects.count() == 12 * 6
    assert Record.objects.filter(duplicate_of__isnull=True).count() == 6


@pytest.mark.parametrize("linkable", [True, False])
def test_a_temporary_file_is_linked_into_storage_not_copied(tmp_path, monkeypatch, linkable):
    storage = AtomicFileSystemStorage(location=tmp_path / "media")
    if not linkable:  # another file system: copied as any other upload
        link = os.link

        def cross_device(src, dst):
            if not str(src).startswith(str(tmp_path / "media")):
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            link(src, dst)  # the storage's own temporary part, in its directory

        monkeypatch.setattr("reviews.storage.os.link", cross_device)
    with TemporaryUploadedFile("rows.sqlite3", "application/vnd.sqlite3", 0, None) as upload:
        upload.write(b"spilled rows")
        upload.flush()
        first = storage.save("imports/rows.sqlite3", upload)
        second = storage.save("imports/rows.sqlite3", upload)  # the name is taken: a variant
        same_inode = (
            os.stat(upload.temporary_file_path()).st_ino == os.stat(storage.path(first)).st_ino
        )
    assert first != second
    assert same_inode is linkable
    for name in (first, second):
        assert Path(storage.path(name)).read_bytes() == b"spilled rows"
    assert sorted(p.name for p in (tmp_path / "media" / "imports").iterdir()) == sorted(
        Path(n).name for n in (first, second)
    )  # no temporary part left behind


def test_drawn_ids_are_one_run_or_the_ids_as_drawn(cast):
    """PostgreSQL: n ids from the sequence, as a range when they are one run, else (another
    transaction drew some meanwhile: here a sequence stepping by 2) the list in order."""
    from django.db import connection

    from reviews.bulk import records_allocate_ids

    ids = records_allocate_ids(5)
    assert isinstance(ids, range) and len(ids) == 5
    assert records_allocate_ids(0) == range(0)
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('reviews_record', 'id')")
        (sequence,) = cursor.fetchone()
        cursor.execute(f"ALTER SEQUENCE {sequence} INCREMENT BY 2")  # rolled back after
    spread = records_allocate_ids(4)
    assert list(spread) == list(range(spread[0], spread[0] + 8, 2)) and spread[0] > ids[-1]


TRICKY_RIS = (
    "TY  - JOUR\n"
    'TI  - Back\\slash \\N, "quotes", a\ttab and 😀 in Ångström\n'
    "AB  - First line\n"
    "second line with \\t and \\\\ kept\n"
    "AU  - Ørsted, H. C.\n"
    "KW  - \\N\n"
    "KW  - {braces} [brackets]\n"
    "N1  - Note: 100% ~ 50 \u00a0 nbsp\n"
    "ER  - \n\n"
    "TY  - BOOK\n"
    "TI  - No year, no authors\n"
    "PY  - \n"
    "ER  - \n"
)


def test_stored_rows_equal_the_spilled_rows_value_for_value(cast):
    """What confirm stores (a binary COPY on PostgreSQL, INSERT ... SELECT on SQLite) is
    the preview's row exactly: text with backslashes, tabs, quotes and characters outside
    the BMP, NULL years, and the JSON fields (sent as jsonb's binary form) as parsed."""
    from reviews.importing import iter_records

    parsed = [
        r for r in iter_records(io.BytesIO(TRICKY_RIS.encode())) if isinstance(r, ParsedRecord)
    ]
    expected = []
    for record in parsed:
        row = dict(zip(rows.ROW_FIELDS, rows.record_row(record), strict=True))
        for name in rows.JSON_FIELDS:
            row[name] = json.loads(row[name])
        expected.append(tuple(row.values()))
    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(TRICKY_RIS.encode()), filename="t.ris"
    )
    batch = services.import_confirm(batch=batch, actor=cast.lead)
    stored = list(batch.records.order_by("source_line").values_list(*rows.ROW_FIELDS))
    assert stored == expected
    assert stored[0][1].startswith('Back\\slash \\N, "quotes", a\ttab and 😀')
    assert stored[1][rows.ROW_FIELDS.index("year")] is None
