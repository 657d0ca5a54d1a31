"""`manage.py cleanup_files`: old archives and orphaned or half-written uploads go; whatever
a batch, a full text or an unfinished job still names stays (reviews/cleanup.py)."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from reviews import services
from reviews.cleanup import files_cleanup
from reviews.models import ImportBatch, Job
from screening import services as screening
from tests.factories import JobFactory
from tests.screening.factories import include_at_ta, records

RIS = b"TY  - JOUR\nTI  - Peer support for recovery\nAU  - Smith, Jane\nPY  - 2020\nER  - \n"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
WEEK = dt.timedelta(days=7)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _age(name: str, days: int = 10) -> str:
    when = time.time() - days * 86400
    os.utime(default_storage.path(name), (when, when))
    return name


def _store(name: str, data: bytes = b"x", days: int = 10) -> str:
    return _age(default_storage.save(name, ContentFile(data)), days)


def _preview(cast, name: str = "export.ris") -> ImportBatch:
    return services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(RIS), filename=name
    )


def _files(media: Path) -> set[str]:
    return {p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()}


@pytest.fixture
def stale(cast, media, client) -> dict[str, str]:
    """One of each: what must go and what must stay, most of it made by the app itself."""
    review = cast.review
    client.force_login(cast.lead)
    # review archives, written by the archive job: one old, one fresh
    client.post(f"/reviews/{review.slug}/archive/exports/")
    old_export = Job.objects.get(kind="archive_export").result["path"]
    client.post(f"/reviews/{review.slug}/archive/exports/")
    new_export = Job.objects.filter(kind="archive_export").first().result["path"]
    _age(old_export)
    # an upload whose preview job failed, and one a queued job has yet to read
    failed = _store(f"imports/{review.pk}/uploads/a1/broken.ris")
    JobFactory(
        review=review, kind="import_preview", status=Job.Status.FAILED, params={"path": failed}
    )
    queued = _store(f"imports/{review.pk}/uploads/b2/waiting.ris")
    JobFactory(
        review=review, kind="import_preview", status=Job.Status.QUEUED, params={"path": queued}
    )
    abandoned_mapping = _store("imports/pending/0123abcd.csv")
    incoming = _store("archives/incoming/feed.zip")
    # a preview awaiting confirmation (files old, batch recent) and an imported export
    live = _preview(cast, "live.ris")
    imported = services.import_confirm(batch=_preview(cast, "done.ris"), actor=cast.lead)
    for name in (live.file.name, live.rows.name, imported.file.name):
        _age(name)
    # a preview nobody confirmed for ten days
    forgotten = _preview(cast, "forgotten.ris")
    ImportBatch.objects.filter(pk=forgotten.pk).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )
    # a full text replaced by a newer PDF: the first file is named by nothing now
    (record,) = records(review, 1)
    include_at_ta(review, record, cast.alice, cast.bob)
    first = screening.fulltext_upload(
        review=review,
        record_id=record.pk,
        actor=cast.alice,
        upload=SimpleUploadedFile("a.pdf", PDF),
    ).file.name
    current = screening.fulltext_upload(
        review=review,
        record_id=record.pk,
        actor=cast.alice,
        upload=SimpleUploadedFile("b.pdf", PDF + b"%2\n"),
    ).file.name
    _age(first), _age(current)
    # what a killed upload leaves, old and fresh; a file in no area we own
    partial = _store(f"fulltexts/{review.pk}/{record.pk}/.upload-x1.part")
    fresh_partial = _store(f"fulltexts/{review.pk}/.upload-x2.part", days=0)
    foreign = _store("notes/keep-me.txt")
    return {
        "old_export": old_export,
        "new_export": new_export,
        "failed": failed,
        "queued": queued,
        "abandoned_mapping": abandoned_mapping,
        "incoming": incoming,
        "live_file": live.file.name,
        "live_rows": live.rows.name,
        "imported": imported.file.name,
        "forgotten_file": forgotten.file.name,
        "forgotten_rows": forgotten.rows.name,
        "forgotten_id": str(forgotten.pk),
        "first_pdf": first,
        "current_pdf": current,
        "partial": partial,
        "fresh_partial": fresh_partial,
        "foreign": foreign,
    }


GONE = ("old_export", "failed", "abandoned_mapping", "incoming", "first_pdf", "partial")
KEPT = (
    "new_export",
    "queued",
    "live_file",
    "live_rows",
    "imported",
    "current_pdf",
    "fresh_partial",
    "foreign",
)


def test_stale_files_go_and_what_is_still_needed_stays(stale, media):
    before = _files(media)
    assert {stale[k] for k in GONE + KEPT} | {stale["forgotten_file"]} <= before

    dry = files_cleanup(older_than=WEEK, dry_run=True)
    assert _files(media) == before  # a dry run changes nothing
    assert ImportBatch.objects.get(pk=stale["forgotten_id"]).status == "preview"
    assert {f.name for f in dry.files} == {stale[k] for k in GONE}
    assert [b.pk for b in dry.previews] == [int(stale["forgotten_id"])]

    report = files_cleanup(older_than=WEEK)
    left = _files(media)
    assert {f.name for f in report.files} == {stale[k] for k in GONE}
    assert not {stale[k] for k in GONE} & left
    assert {stale[k] for k in KEPT} <= left
    kinds = {f.name: f.kind for f in report.files}
    assert kinds[stale["old_export"]] == "review archive"
    assert kinds[stale["partial"]] == "partial upload"
    assert kinds[stale["first_pdf"]] == "full-text PDF"
    # the forgotten preview is discarded through the service: its upload and spill go
    forgotten = ImportBatch.objects.get(pk=stale["forgotten_id"])
    assert forgotten.status == ImportBatch.Status.DISCARDED and not forgotten.file
    assert stale["forgotten_file"] not in left and stale["forgotten_rows"] not in left
    # emptied directories go too, the areas' roots stay
    assert not (media / Path(stale["old_export"]).parent).exists()
    assert (media / "exports").is_dir()
    # a second run finds nothing more
    again = files_cleanup(older_than=WEEK)
    assert again.files == [] and again.previews == []


def test_a_confirm_job_under_way_keeps_its_preview(cast, media):
    batch = _preview(cast)
    ImportBatch.objects.filter(pk=batch.pk).update(
        created_at=timezone.now() - dt.timedelta(days=30)
    )
    _age(batch.file.name), _age(batch.rows.name)
    JobFactory(
        review=cast.review,
        kind="import_confirm",
        status=Job.Status.RUNNING,
        params={"batch_id": batch.pk},
    )
    report = files_cleanup(older_than=WEEK)
    assert report.previews == [] and report.files == []
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEW and default_storage.exists(batch.file.name)


def test_the_archive_download_says_export_again_once_cleaned(client, cast, media):
    client.force_login(cast.lead)
    client.post(f"/reviews/{cast.review.slug}/archive/exports/")
    job = Job.objects.get(kind="archive_export")
    download = f"/reviews/{cast.review.slug}/archive/exports/{job.pk}/"
    assert client.get(download).status_code == 200
    _age(job.result["path"])
    files_cleanup(older_than=WEEK)
    assert client.get(download).status_code == 409


def test_a_failed_import_run_again_after_cleaning_asks_for_the_upload(client, cast, media):
    path = _store(f"imports/{cast.review.pk}/uploads/c3/export.ris", RIS)
    job = JobFactory(
        review=cast.review,
        started_by=cast.lead,
        kind="import_preview",
        status=Job.Status.FAILED,
        params={"path": path, "filename": "export.ris", "fmt": "ris"},
    )
    files_cleanup(older_than=WEEK)
    services.job_retry(job=job, actor=cast.lead)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "The uploaded file is no longer on the server; upload it again."


def test_command_lists_deletes_and_checks_its_option(stale, media):
    out = io.StringIO()
    call_command("cleanup_files", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"Would discard import preview #{stale['forgotten_id']} forgotten.ris" in text
    assert stale["old_export"] in text and stale["foreign"] not in text
    assert f"Would delete {len(GONE)} files" in text
    assert stale["old_export"] in _files(media)

    out = io.StringIO()
    call_command("cleanup_files", "--older-than", "30", stdout=out)
    assert "Deleted 0 files" in out.getvalue()  # nothing is that old
    out = io.StringIO()
    call_command("cleanup_files", stdout=out)
    assert f"Deleted {len(GONE)} files" in out.getvalue()
    assert "1 stale import previews" in out.getvalue()
    assert stale["old_export"] not in _files(media)
    with pytest.raises(CommandError, match="at least 1 day"):
        call_command("cleanup_files", "--older-than", "0")
