"""Importing search exports through the services: preview, confirm, atomicity, bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reviews import bulk, services
from reviews.errors import ConflictError, DomainError
from reviews.models import ImportBatch, Record
from tests.factories import SearchFactory

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EXCERPT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "reviews" / "kwok2020_embase_excerpt.ris"
)
needs_shared = pytest.mark.skipif(
    not SHARED.exists(), reason="../shared/data is not beside the repo"
)


def _import(cast, data: bytes, name: str, **kwargs) -> ImportBatch:
    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(data), filename=name, **kwargs
    )
    return services.import_confirm(batch=batch, actor=cast.lead)


def test_preview_stores_nothing_until_confirmed(cast):
    batch = services.import_preview(
        review=cast.review,
        actor=cast.lead,
        file=io.BytesIO(EXCERPT.read_bytes()),
        filename="embase.ris",
    )
    assert batch.format == "ris"
    assert batch.n_read == 6 and batch.status == ImportBatch.Status.PREVIEW
    assert len(batch.preview) == 5 and batch.preview[0]["title"]
    assert Record.objects.count() == 0
    services.import_confirm(batch=batch, actor=cast.lead)
    assert Record.objects.filter(review=cast.review).count() == 6


def test_confirm_twice_is_refused(cast):
    batch = _import(cast, EXCERPT.read_bytes(), "embase.ris")
    with pytest.raises(ConflictError):
        services.import_confirm(batch=batch, actor=cast.lead)
    assert Record.objects.count() == 6


def test_discard_leaves_nothing(cast):
    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(EXCERPT.read_bytes()), filename="x.ris"
    )
    services.import_discard(batch=batch, actor=cast.lead)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DISCARDED and not batch.file
    assert Record.objects.count() == 0


@pytest.mark.parametrize(
    "data,name,message",
    [
        (b"", "empty.ris", ""),
        (bytes(range(256)) * 40, "binary.ris", ""),
        (b"just some words\nwithout any structure\n", "notes.txt", ""),
        (b"id,year\n1,2020\n2,2021\n", "no_title.csv", "title"),
    ],
)
def test_files_without_records_are_refused_with_a_message(cast, data, name, message):
    with pytest.raises(DomainError) as excinfo:
        services.import_preview(
            review=cast.review, actor=cast.lead, file=io.BytesIO(data), filename=name
        )
    assert excinfo.value.message
    assert message in excinfo.value.message.lower()
    assert ImportBatch.objects.count() == 0


@pytest.mark.parametrize("source", ["spill", "upload"])
def test_a_failure_half_way_leaves_no_record(cast, monkeypatch, source):
    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(EXCERPT.read_bytes()), filename="x.ris"
    )
    if source == "upload":  # no spill: confirm parses the upload again (into a new spill)
        batch.rows.delete(save=True)

    def dies_after_the_spill(path, **kwargs):
        assert bulk.records_insert_spill(path, **kwargs) == 6  # really written...
        raise RuntimeError("the process dies half-way")  # ...then the process dies

    monkeypatch.setattr(services, "records_insert_spill", dies_after_the_spill)
    with pytest.raises(RuntimeError):
        services.import_confirm(batch=batch, actor=cast.lead)
    assert Record.objects.count() == 0
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEW
    monkeypatch.undo()
    services.import_confirm(batch=batch, actor=cast.lead)  # and it can still be confirmed
    assert Record.objects.count() == 6


def test_search_of_another_review_is_refused(cast, other_review):
    search = SearchFactory(review=other_review)
    with pytest.raises(DomainError):
        services.import_preview(
            review=cast.review,
            actor=cast.lead,
            file=io.BytesIO(EXCERPT.read_bytes()),
            filename="x.ris",
            search=search,
        )


def test_csv_with_mapping(cast):
    data = b"Heading;Summary;Writers;Yr\nPeer support trial;An RCT.;Smith J, Doe A;2019\n"
    batch = _import(
        cast,
        data,
        "odd.csv",
        fmt="csv",
        csv_mapping={"title": "Heading", "abstract": "Summary", "authors": "Writers", "year": "Yr"},
    )
    record = batch.records.get()
    assert record.title == "Peer support trial" and record.abstract == "An RCT."
    assert record.year == 2019


@needs_shared
@pytest.mark.parametrize(
    "path",
    sorted((SHARED / "imports").glob("*.ris")) if SHARED.exists() else [],
    ids=lambda p: p.name,
)
def test_real_ris_exports_import_every_record(cast, path):
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    expected = sum(1 for line in lines if line.startswith("TY  -"))
    abstracts = sum(1 for line in lines if line.startswith(("AB  -", "N2  -")))
    batch = _import(cast, path.read_bytes(), path.name)
    assert batch.n_imported == expected
    assert batch.records.exclude(title="").count() == expected
    assert batch.records.exclude(abstract="").count() == abstracts
    assert batch.records.exclude(year=None).count() == expected


@needs_shared
def test_real_screening_csv_imports_every_row(cast):
    path = SHARED / "screening" / "cohen2006_adhd.csv"
    batch = _import(cast, path.read_bytes(), path.name)
    assert batch.n_imported == 851
    record = batch.records.exclude(pmid="").first()
    assert record.pmid.isdigit() and record.title and record.authors


def test_import_records_command(cast, tmp_path):
    out = io.StringIO()
    call_command("import_records", "peer-support", str(EXCERPT), "--format", "ris", stdout=out)
    assert "Imported 6 records" in out.getvalue()
    assert Record.objects.filter(review=cast.review).count() == 6


def test_import_records_command_reports_bad_files(cast, tmp_path):
    bad = tmp_path / "bad.ris"
    bad.write_bytes(b"")
    with pytest.raises(CommandError):
        call_command("import_records", "peer-support", str(bad))
    with pytest.raises(CommandError):
        call_command("import_records", "no-such-review", str(EXCERPT))
