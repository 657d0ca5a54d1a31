"""Uploads: type by content, size limits, members-only PDFs, and a full disk at upload.

The disk-full tests mount a 256 KiB tmpfs as MEDIA_ROOT (root only; skipped otherwise):
the upload answers a clear 400 and no file, not even a truncated one, is left.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviews.models import ImportBatch, Job, Record
from screening.models import FullText
from tests.factories import RecordFactory
from tests.screening.matrix_params import PDF_BYTES

pytestmark = pytest.mark.django_db


def _ft_record(cast):
    from screening import services

    record = RecordFactory(review=cast.review)
    services.items_sync(cast.review, force=True)
    for user in (cast.alice, cast.bob):
        services.vote_cast(
            review=cast.review, record_id=record.pk, stage="ta", actor=user, decision="include"
        )
    return record


def _upload_pdf(client, cast, record, data: bytes, name: str = "paper.pdf"):
    return client.post(
        f"/reviews/{cast.review.slug}/screening/full-texts/{record.pk}/upload/",
        {"file": SimpleUploadedFile(name, data, content_type="application/pdf")},
    )


def _files(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "data",
    [
        b"<html><script>alert(1)</script>%PDF-1.4 " + PDF_BYTES,  # a polyglot: HTML first
        b"\xef\xbb\xbf" + PDF_BYTES,
        b"GIF89a" + PDF_BYTES,
        b"%PDF",
        b"",
    ],
    ids=["html-polyglot", "bom", "gif-polyglot", "magic-cut", "empty"],
)
def test_a_pdf_must_start_with_the_pdf_header(client, cast, settings, data):
    record = _ft_record(cast)
    client.force_login(cast.alice)
    response = _upload_pdf(client, cast, record, data)
    assert response.status_code == 400
    assert not FullText.objects.filter(record=record).exclude(file="").exists()
    assert not any("fulltext" in p.name for p in _files(settings.MEDIA_ROOT))


def test_pdf_size_limit(client, cast, settings):
    settings.REVIEWFLOW_MAX_PDF_BYTES = 1000
    record = _ft_record(cast)
    client.force_login(cast.alice)
    response = _upload_pdf(client, cast, record, PDF_BYTES + b"0" * 2000)
    assert response.status_code == 400 and "the limit is" in response.content.decode()
    assert _upload_pdf(client, cast, record, PDF_BYTES).status_code == 302


def test_import_size_limit(client, cast, settings):
    settings.REVIEWFLOW_MAX_IMPORT_BYTES = 1024 * 1024
    client.force_login(cast.lead)
    big = b"TY  - JOUR\nTI  - x\nER  - \n" * 50_000
    response = client.post(
        f"/reviews/{cast.review.slug}/imports/upload/",
        {"file": SimpleUploadedFile("big.ris", big)},
    )
    assert response.status_code == 400 and "larger than 1 MB" in response.content.decode()
    assert not Job.objects.exists() and not ImportBatch.objects.exists()


def test_pdfs_are_served_to_members_only_with_safe_headers(client, cast):
    record = _ft_record(cast)
    client.force_login(cast.alice)
    assert _upload_pdf(client, cast, record, PDF_BYTES, name="<script>.pdf").status_code == 302
    url = f"/reviews/{cast.review.slug}/screening/full-texts/{record.pk}/pdf/"
    for user in (cast.lead, cast.alice, cast.carol):
        client.force_login(user)
        pdf = client.get(url)
        assert pdf.status_code == 200 and b"".join(pdf.streaming_content) == PDF_BYTES
        assert pdf["Content-Type"] == "application/pdf"
        # The stored name is ours, never the uploader's ("<script>.pdf").
        assert pdf["Content-Disposition"] == f'inline; filename="record-{record.pk}.pdf"'
        assert pdf["X-Content-Type-Options"] == "nosniff"
        assert pdf["X-Frame-Options"] == "SAMEORIGIN"  # framed by our own pages only
        assert "frame-ancestors 'self'" in pdf["Content-Security-Policy"]
    download = client.get(url + "?download=1")
    assert download["Content-Disposition"].startswith("attachment;")
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


# --- A full disk -------------------------------------------------------------------------------


@pytest.fixture
def full_disk(settings):
    """MEDIA_ROOT on a 256 KiB tmpfs, so uploads larger than that fail with ENOSPC."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mountpoint = tempfile.mkdtemp(prefix="reviewflow-full-disk-")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mountpoint],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        os.rmdir(mountpoint)
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    settings.MEDIA_ROOT = mountpoint
    try:
        yield Path(mountpoint)
    finally:
        subprocess.run(["umount", mountpoint], check=True)
        os.rmdir(mountpoint)


def test_pdf_upload_on_a_full_disk_is_a_clear_error_and_leaves_nothing(client, cast, full_disk):
    record = _ft_record(cast)
    client.force_login(cast.alice)
    response = _upload_pdf(client, cast, record, PDF_BYTES + b"0" * (1024 * 1024))
    assert response.status_code == 400
    assert "could not store the PDF" in response.content.decode()
    assert _files(full_disk) == []  # no truncated PDF, no temporary part
    assert not FullText.objects.filter(record=record).exclude(file="").exists()
    # A PDF that fits is stored afterwards.
    assert _upload_pdf(client, cast, record, PDF_BYTES).status_code == 302
    assert [p.read_bytes() for p in _files(full_disk)] == [PDF_BYTES]


def test_import_on_a_full_disk_is_a_clear_error_and_leaves_nothing(cast, full_disk):
    from reviews import services
    from reviews.errors import DomainError

    data = b"".join(
        b"TY  - JOUR\nTI  - Trial number %d of peer support\nAB  - %s\nER  - \n\n"
        % (i, b"words " * 40)
        for i in range(1500)
    )
    assert len(data) > 256 * 1024
    with pytest.raises(DomainError, match="could not store the upload"):
        services.import_preview(
            review=cast.review, actor=cast.lead, file=io.BytesIO(data), filename="big.ris"
        )
    assert _files(full_disk) == []
    assert not ImportBatch.objects.exists() and not Record.objects.exists()


def test_import_upload_view_on_a_full_disk_answers_400(client, cast, full_disk):
    client.force_login(cast.lead)
    data = b"TY  - JOUR\nTI  - A trial\nAB  - " + b"w" * (400 * 1024) + b"\nER  - \n"
    response = client.post(
        f"/reviews/{cast.review.slug}/imports/upload/",
        {"file": SimpleUploadedFile("big.ris", data)},
    )
    assert response.status_code == 400
    assert "could not store the upload" in response.content.decode()
    assert _files(full_disk) == []
    assert not Job.objects.exists() and not ImportBatch.objects.exists()
