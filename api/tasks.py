"""Background jobs of the api app: previewing and importing another tool's decisions.

A file of a few thousand decisions takes longer than a request should (each vote goes
through the screening services, twice counting the preview), so both run as `Job`s; the
job page follows the result's link to the preview or to the import's report.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.urls import reverse

from reviews.job_queue import register_job_kind
from reviews.jobs import Progress, run_job
from reviews.models import ImportBatch, Job

from . import services
from .models import DecisionsImport

DECISIONS_PREVIEW = "decisions_preview"
DECISIONS_IMPORT = "decisions_import"


def _batch(job: Job) -> ImportBatch:
    return ImportBatch.objects.get(review=job.review, pk=job.params["batch_id"])


def _decisions_preview(job: Job, progress: Progress) -> dict[str, Any]:
    # A preview writes nothing (its writes are rolled back): running it again is harmless.
    report = services.decisions_import(
        batch=_batch(job),
        actor=job.started_by,
        dry_run=True,
        progress=progress,
        **job.params["options"],
    )
    url = reverse(
        "api_pages:decisions_preview", kwargs={"slug": job.review.slug, "preview_id": job.pk}
    )
    return {"url": url, "label": "See the preview", "follow": True, "report": report}


def _decisions_import(job: Job, progress: Progress) -> dict[str, Any]:
    # The import is one transaction; one that committed before its worker died is found
    # by its job id instead of importing everything again as "already decided".
    entry = DecisionsImport.objects.filter(review=job.review, options__job=job.pk).first()
    if entry is None:
        report = services.decisions_import(
            batch=_batch(job),
            actor=job.started_by,
            progress=progress,
            job_id=job.pk,
            **job.params["options"],
        )
        entry = DecisionsImport.objects.get(pk=report["import_id"])
    url = reverse(
        "api_pages:decisions_report", kwargs={"slug": job.review.slug, "import_id": entry.pk}
    )
    return {
        "url": url,
        "label": "See what was imported",
        "follow": True,
        "import_id": entry.pk,
        "message": f"{entry.n_written:,} of {entry.n_read:,} decisions written, "
        f"{entry.n_not_written:,} not (each with the reason)",
    }


@shared_task(bind=True, name="api.decisions_preview")
def decisions_preview_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _decisions_preview)


@shared_task(bind=True, name="api.decisions_import")
def decisions_import_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _decisions_import)


register_job_kind(
    DECISIONS_PREVIEW, label="Previewing another tool's decisions", task=decisions_preview_task
)
register_job_kind(
    DECISIONS_IMPORT, label="Importing another tool's decisions", task=decisions_import_task
)
