"""Background tasks of the reviews app: reading and importing exports, de-duplication.

Each task runs one `Job` (`reviews.jobs.run_job`) and is safe to run again: a worker
killed half-way leaves nothing half-written, and the next delivery finishes the work.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.core.files import File
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from . import services
from .errors import DomainError
from .job_queue import register_job_kind
from .jobs import Progress, run_job, start_reaper
from .models import ImportBatch, Job

log = logging.getLogger(__name__)
IMPORT_PREVIEW = "import_preview"
IMPORT_CONFIRM = "import_confirm"
DUPLICATES_FIND = "duplicates_find"
ARCHIVE_EXPORT = "archive_export"
ARCHIVE_IMPORT = "archive_import"


def _batch_url(batch: ImportBatch) -> str:
    return reverse(
        "reviews:import_detail", kwargs={"slug": batch.review.slug, "batch_id": batch.pk}
    )


def _upload_still_there(path: str) -> None:
    """A failed job run again days later may find its upload gone (``cleanup_files``)."""
    if not default_storage.exists(path):
        raise DomainError("The uploaded file is no longer on the server; upload it again.")


def _run(params: dict[str, Any]) -> dict[str, Any]:
    """A search run's fields from a job's parameters (dates kept as ISO text)."""
    run = dict(params)
    for name in ("date_run", "covers_from", "covers_to"):
        if run.get(name):
            run[name] = dt.date.fromisoformat(run[name])
    return run


def _import_preview(job: Job, progress: Progress) -> dict[str, Any]:
    params = job.params
    # The stored upload names the batch it becomes: a second run after a crash between
    # saving the batch and finishing the job finds it rather than reading the file twice.
    batch = ImportBatch.objects.filter(review=job.review, file=params["path"]).first()
    if batch is None:
        _upload_still_there(params["path"])
        search = job.review.searches.filter(pk=params.get("search_id")).first()
        with default_storage.open(params["path"], "rb") as handle:
            batch = services.import_preview(
                review=job.review,
                actor=job.started_by,
                file=handle,
                filename=params["filename"],
                fmt=params.get("fmt") or None,
                search=search,
                run=_run(params.get("run") or {}),
                csv_mapping=params.get("csv_mapping") or None,
                stored_name=params["path"],
                progress=progress,
            )
    return {
        "url": _batch_url(batch),
        "label": "See the preview",
        "follow": True,
        "batch_id": batch.pk,
        "message": f"{batch.n_read:,} records read, {batch.n_skipped:,} skipped",
    }


def _import_confirm(job: Job, progress: Progress) -> dict[str, Any]:
    batch = ImportBatch.objects.select_related("review").get(
        pk=job.params["batch_id"], review=job.review
    )
    # Confirming is one transaction: either an earlier run committed it all, or nothing.
    if batch.status != ImportBatch.Status.IMPORTED:
        batch = services.import_confirm(batch=batch, actor=job.started_by, progress=progress)
    return {
        "url": _batch_url(batch),
        "label": "See the import",
        "follow": True,
        "batch_id": batch.pk,
        "message": (
            f"Imported {batch.n_imported:,} records; {batch.n_duplicates:,} linked as duplicates"
        ),
    }


def _duplicates_find(job: Job, progress: Progress) -> dict[str, Any]:
    progress(0.1, "Comparing records", force=True)
    n = services.duplicates_find(review=job.review)
    return {
        "url": reverse("reviews:duplicates", kwargs={"slug": job.review.slug}),
        "label": "See the duplicates",
        "follow": True,
        "message": f"De-duplication re-run: {n:,} new automatic merges",
    }


def _archive_export(job: Job, progress: Progress) -> dict[str, Any]:
    from .archive.export import review_export

    review = job.review
    progress(0.05, "Writing the archive", force=True)
    # Written to a temporary file, then moved into storage (it holds every full-text PDF).
    with tempfile.NamedTemporaryFile(suffix=".zip") as handle:
        review_export(review=review, out=handle)
        handle.flush()
        handle.seek(0)
        filename = f"{review.slug}-{timezone.localdate():%Y-%m-%d}.zip"
        path = default_storage.save(f"exports/{review.pk}/{job.pk}/{filename}", File(handle))
    return {
        "url": reverse("reviews:archive_download", kwargs={"slug": review.slug, "job_id": job.pk}),
        "label": "Download the archive",
        "follow": True,
        "path": path,
        "filename": filename,
        "message": f"The archive of {review.title[:200]} is ready",
    }


def _archive_import(job: Job, progress: Progress) -> dict[str, Any]:
    """Import an uploaded archive as a new review (one transaction: all of it or nothing)."""
    from .archive.restore import review_import

    params = job.params
    progress(0.05, "Checking and reading the archive", force=True)
    review = _archive_imported_already(job)
    if review is None:
        _upload_still_there(params["path"])
        with default_storage.open(params["path"], "rb") as handle:
            review = review_import(source=handle, slug=params["slug"], actor=job.started_by)
    default_storage.delete(params["path"])
    return {
        "url": reverse("reviews:dashboard", kwargs={"slug": review.slug}),
        "label": "Open the imported review",
        "follow": True,
        "review_slug": review.slug,
        "message": f"Imported “{review.title[:200]}” at /reviews/{review.slug}/",
    }


def _archive_imported_already(job: Job):
    """A run that committed the import but died before recording it: the review is there,
    created by this job's lead after the job was (a second import would be refused)."""
    from .models import MembershipChange, Review

    review = Review.objects.filter(slug=job.params["slug"]).first()
    if review is None or job.started_by is None:
        return None
    by_this_job = MembershipChange.objects.filter(
        review=review, user=job.started_by, actor=job.started_by, at__gte=job.created_at
    ).exists()
    return review if by_this_job else None


@shared_task(bind=True, name="reviews.import_preview")
def import_preview_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _import_preview)


@shared_task(bind=True, name="reviews.import_confirm")
def import_confirm_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _import_confirm)


@shared_task(bind=True, name="reviews.duplicates_find")
def duplicates_find_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _duplicates_find)


register_job_kind(IMPORT_PREVIEW, label="Reading the export", task=import_preview_task)
register_job_kind(IMPORT_CONFIRM, label="Importing the records", task=import_confirm_task)


@shared_task(bind=True, name="reviews.archive_export")
def archive_export_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _archive_export)


register_job_kind(ARCHIVE_EXPORT, label="Writing the review's archive", task=archive_export_task)


@shared_task(bind=True, name="reviews.archive_import")
def archive_import_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _archive_import)


register_job_kind(ARCHIVE_IMPORT, label="Importing a review archive", task=archive_import_task)
register_job_kind(DUPLICATES_FIND, label="Finding duplicates", task=duplicates_find_task)


@worker_ready.connect
def _take_up_jobs_of_dead_workers(**_: Any) -> None:
    """Each worker looks for jobs whose worker died, from its start on (`jobs.start_reaper`)."""
    start_reaper()


@shared_task(name="reviews.search_schedules_due", ignore_result=True)
def search_schedules_due_task() -> int:
    """Celery beat, hourly: run every scheduled search that is due, one after the other
    (so that the sources' rate limits hold across the deployment); returns how many ran."""
    n = 0
    for schedule in services.search_schedules_due():
        try:
            services.search_schedule_run(schedule=schedule)
        except DomainError as exc:  # kept on the schedule (last_error); the others still run
            log.warning("Scheduled search %s failed: %s", schedule.pk, exc)
        n += 1
    return n
