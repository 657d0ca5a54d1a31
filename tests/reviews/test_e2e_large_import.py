"""A 20,000-record export through the real upload form: the job's progress bar, then the count."""

from __future__ import annotations

import pytest
from django.db import connection

from reviews.models import ImportBatch, Job, Record
from tests.conftest import browser_login, save_screenshot
from tests.factories import MembershipFactory, ReviewFactory, UserFactory
from tests.reviews.synthetic import write_ris

N_RECORDS = 20_000


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_large_export_is_read_and_imported_by_jobs_with_progress(new_page, settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: the job's thread and the live server would lock each other out "
            "of the in-memory SQLite test database"
        )
    # As `make run` does without a broker: jobs in a thread, so the page can show progress.
    settings.REVIEWFLOW_JOBS_IN_THREAD = True
    review = ReviewFactory(slug="large-import")
    MembershipFactory(review=review, user=UserFactory(username="lead"), is_lead=True)
    path = tmp_path / "large.ris"
    write_ris(path, N_RECORDS)
    assert path.stat().st_size > settings.FILE_UPLOAD_MAX_MEMORY_SIZE  # streamed to disk

    page = new_page()
    page.set_default_timeout(120_000)
    browser_login(page, "lead")
    page.goto(f"/reviews/{review.slug}/imports/upload/")
    page.set_input_files("input[name=file]", str(path))
    page.click("#import-submit")
    # The job's page: a progress bar that polls until the file is read.
    page.wait_for_selector("progress.job-progress")
    save_screenshot(page, "large_import_reading")
    page.wait_for_selector("#confirm-import")
    assert page.inner_text("#n-read") == str(N_RECORDS)
    page.click("#confirm-import")
    page.wait_for_selector("progress.job-progress")
    page.wait_for_selector("text=Linked as duplicates")
    save_screenshot(page, "large_import_done")

    batch = ImportBatch.objects.get(review=review)
    assert batch.status == ImportBatch.Status.IMPORTED and batch.n_imported == N_RECORDS
    assert Record.objects.filter(review=review).count() == N_RECORDS
    jobs = Job.objects.filter(review=review).order_by("id")
    assert [(j.kind, j.status) for j in jobs] == [
        ("import_preview", "succeeded"),
        ("import_confirm", "succeeded"),
    ]
