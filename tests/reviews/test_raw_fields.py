"""Raw fields stored without their copies of the title/abstract, read back as imported.

Real files from ../shared/data (RIS, CSV) and the MEDLINE fixture go through the import
service; every record's ``raw_fields`` must equal what the parser kept for it, while the
stored form holds references instead of the repeated texts.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape

from reviews import rawfields, services
from reviews.archive.export import review_export
from reviews.archive.restore import review_import
from reviews.importing import ParsedRecord, iter_records
from reviews.models import Record
from screening import services as screening_services
from tests.factories import RecordFactory

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reviews"
FILES = [
    SHARED / "imports" / "kwok_2020_embase_included.ris",
    SHARED / "interop" / "databases" / "cff_baseline_pubmed.csv",
    SHARED / "interop" / "databases" / "cff_baseline_scopus.ris",
    SHARED / "interop" / "covidence" / "cff_baseline_covidence.csv",
    FIXTURES / "sources" / "efetch_page1.txt",  # MEDLINE
]


def _import(cast, path: Path):
    data = path.read_bytes()
    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(data), filename=path.name
    )
    return services.import_confirm(batch=batch, actor=cast.lead)


def _parsed(path: Path) -> list[ParsedRecord]:
    with path.open("rb") as fh:
        return [r for r in iter_records(fh) if isinstance(r, ParsedRecord)]


def test_pack_and_unpack_round_trip():
    raw = {"TY": ["JOUR"], "TI": ["A trial"], "AB": ["Text."], "T2": ["A trial"], "N1": ["x"]}
    stored = rawfields.pack(raw, "A trial", "Text.")
    assert stored["TI"] is None and stored["AB"] is None and stored["T2"] is None
    assert stored[rawfields.REF_KEY] == {"TI": ["title"], "AB": ["abstract"], "T2": ["title"]}
    back = rawfields.unpack(stored, "A trial", "Text.")
    assert back == raw and list(back) == list(raw)  # order kept too
    csv_row = {"Title": "A trial", "Abstract": "Text.", "Year": "2020"}
    stored = rawfields.pack(csv_row, "A trial", "Text.")
    assert stored[rawfields.REF_KEY] == {"Title": "title", "Abstract": "abstract"}
    assert rawfields.unpack(stored, "A trial", "Text.") == csv_row


def test_pack_keeps_what_is_not_an_exact_copy():
    # Two values, a stripped difference, a real "=" column: stored as imported.
    for raw in (
        {"TI": ["A trial", "A trial"]},
        {"TI": ["A trial "]},
        {"=": "A trial", "Title": "A trial"},
        {"N1": ["other"]},
        {"Title": "A trial ", "Abstract": "", "Notes": ""},  # no reference to an empty text
        {"AB": [""]},
    ):
        assert rawfields.pack(raw, "A trial", "") is raw
        assert rawfields.unpack(raw, "A trial", "") == raw


def test_rows_stored_before_the_scheme_read_as_they_are(cast):
    # No data migration: a row without the marker is its own raw fields.
    record = RecordFactory(review=cast.review, title="T", source_fields={"TI": ["T"]})
    record.refresh_from_db()
    assert record.source_fields == {"TI": ["T"]} and record.raw_fields == {"TI": ["T"]}


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_raw_fields_are_the_fields_as_imported(cast, path):
    batch = _import(cast, path)
    parsed = _parsed(path)
    records = list(Record.objects.filter(batch=batch).order_by("source_line", "id"))
    assert len(records) == len(parsed) > 0
    for rec, want in zip(records, sorted(parsed, key=lambda r: r.line), strict=True):
        assert rec.raw_fields == want.source_fields
    if path.suffix != ".txt":  # MEDLINE wraps TI/AB over lines: not exact copies, kept
        assert any(rawfields.REF_KEY in r.source_fields for r in records)
        stored = next(r.source_fields for r in records if rawfields.REF_KEY in r.source_fields)
        assert all(stored[key] is None for key in stored[rawfields.REF_KEY])


def _ris_record(cast) -> Record:
    batch = _import(cast, FILES[0])
    return Record.objects.filter(batch=batch, abstract__gt="").order_by("id").first()


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")
def test_a_correction_keeps_the_imported_raw_text(cast):
    record = _ris_record(cast)
    before = record.raw_fields
    refs = record.source_fields[rawfields.REF_KEY]
    assert {"title", "abstract"} <= {token[0] for token in refs.values()}
    changed = screening_services.record_correct(
        review=cast.review,
        record_id=record.pk,
        actor=cast.lead,
        title="Corrected title",
        abstract="Corrected abstract",
    )
    assert changed == ["title", "abstract"]
    record.refresh_from_db()
    assert (record.title, record.abstract) == ("Corrected title", "Corrected abstract")
    assert record.raw_fields == before
    assert rawfields.REF_KEY not in record.source_fields


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")
def test_record_page_shows_the_raw_fields(cast, client):
    record = _ris_record(cast)
    client.force_login(cast.lead)
    url = reverse("reviews:record", kwargs={"slug": cast.review.slug, "record_id": record.pk})
    page = client.get(url)
    assert page.status_code == 200
    table = page.content.decode().split("All fields in the source file", 1)[1]
    for key in record.source_fields[rawfields.REF_KEY]:
        assert f"<th>{key}</th><td>{escape(record.raw_fields[key])}</td>" in table
    assert "<th>=</th>" not in table and "<td>None</td>" not in table


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")
def test_archive_round_trip_keeps_the_raw_fields(cast):
    """The archive carries the stored form; the restored records read the same raw fields."""
    corrected = _ris_record(cast)
    _import(cast, FILES[1])  # CSV: references to whole cells
    screening_services.record_correct(
        review=cast.review, record_id=corrected.pk, actor=cast.lead, abstract="Corrected."
    )

    def raw(review) -> list[tuple]:
        records = Record.objects.filter(review=review).order_by("id")
        return [(r.title, r.abstract, r.raw_fields, r.source_fields) for r in records]

    before = raw(cast.review)
    assert any(rawfields.REF_KEY in stored for *_, stored in before)
    out = io.BytesIO()
    review_export(review=cast.review, out=out)
    copy = review_import(source=io.BytesIO(out.getvalue()), slug="raw-copy")
    assert copy.pk != cast.review.pk
    assert raw(copy) == before
