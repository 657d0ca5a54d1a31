"""The preview's spill file: confirm imports from it without parsing again, and falls back."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reviews import dedup, rows, services
from reviews.importing import ParsedRecord
from reviews.models import ImportBatch, Record

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


def test_spill_round_trip_in_chunks():
    blank = ("",) * 3
    data = [
        (i, f"Title {i}", "", '["Smith, J"]', 2000, *blank, "", "", "", "[]", *blank)
        + ('{"TI": ["x"]}', f"title {i}", "smith")
        for i in range(rows.CHUNK_ROWS * 2 + 5)
    ]
    assert len(data[0]) == len(rows.ROW_FIELDS)
    out = io.BytesIO()
    assert rows.write_spill(out, data) == len(data)
    assert out.getvalue().count(b"\n") == 1 + 3  # header + three chunks
    out.seek(0)
    assert [tuple(r) for r in rows.read_spill(out)] == data


@pytest.mark.parametrize(
    "content",
    [b"", b"not json\n", b'{"format": "reviewflow-import-rows", "version": 0, "fields": []}\n'],
)
def test_stale_or_missing_header_is_refused(content):
    with pytest.raises(rows.SpillError):
        rows.read_spill(io.BytesIO(content))


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


@pytest.mark.parametrize("damage", ["missing", "stale", "truncated_chunk"])
def test_unusable_spill_falls_back_to_parsing_the_upload(cast, damage, monkeypatch):
    reference = _preview(cast)
    services.import_confirm(batch=reference, actor=cast.lead)
    expected = _stored(reference)

    monkeypatch.setattr(rows, "CHUNK_ROWS", 2)  # three chunks: the last one is damaged
    batch = _preview(cast)
    path = Path(batch.rows.path)
    if damage == "missing":
        path.unlink()
    elif damage == "stale":
        path.write_bytes(b'{"format": "reviewflow-import-rows", "version": 0}\n[]\n')
    else:  # rows of the first chunks are inserted, then undone
        *lines, last, _ = path.read_bytes().split(b"\n")
        path.write_bytes(b"\n".join([*lines, last[: len(last) // 2], b""]))
    batch = services.import_confirm(batch=batch, actor=cast.lead)
    assert batch.n_imported == 6
    got = _stored(batch)
    # The same values as the first import; the second batch's records are its duplicates.
    assert [row[:-1] for row in got] == [row[:-1] for row in expected]
    assert all(row[-1] for row in got)


def test_discard_removes_the_spill(cast):
    batch = _preview(cast)
    spill_name = batch.rows.name
    services.import_discard(batch=batch, actor=cast.lead)
    batch.refresh_from_db()
    assert not batch.rows and not batch.file.storage.exists(spill_name)
