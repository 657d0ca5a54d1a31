"""The lead's archive download is written by a job, then downloaded from storage."""

from __future__ import annotations

import io
import zipfile

from reviews.models import Job
from tests.factories import JobFactory
from tests.reviews.test_archive import full  # noqa: F401  (a review with every kind of data)


def test_the_archive_is_written_by_a_job_and_downloaded(client, full, cast):  # noqa: F811
    client.force_login(cast.lead)
    page = client.get(f"/reviews/{full.slug}/protocol/").content.decode()
    assert 'id="archive-prepare"' in page
    response = client.post(f"/reviews/{full.slug}/archive/exports/")
    job = Job.objects.get(kind="archive_export")
    assert response["Location"] == f"/reviews/{full.slug}/jobs/{job.pk}/"
    assert job.status == Job.Status.SUCCEEDED, job.error
    download_url = f"/reviews/{full.slug}/archive/exports/{job.pk}/"
    assert client.get(response["Location"])["Location"] == download_url
    download = client.get(download_url)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as archive:
        assert "manifest.json" in archive.namelist()


def test_only_a_finished_archive_job_can_be_downloaded(client, full, cast):  # noqa: F811
    client.force_login(cast.lead)
    other = JobFactory(review=full, kind="duplicates_find", status=Job.Status.SUCCEEDED)
    assert client.get(f"/reviews/{full.slug}/archive/exports/{other.pk}/").status_code == 409
    client.force_login(cast.alice)
    assert client.post(f"/reviews/{full.slug}/archive/exports/").status_code == 403
    assert not Job.objects.filter(kind="archive_export").exists()
