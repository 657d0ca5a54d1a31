"""Background tasks of the analysis app: PNG and PDF plot downloads, prepared in a job."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from celery import shared_task
from django.urls import reverse

from reviews.errors import DomainError
from reviews.job_queue import register_job_kind
from reviews.jobs import Progress, run_job
from reviews.models import Job

from . import selectors
from .models import Analysis
from .report import ReportInputError

FIGURE_EXPORT = "figure_export"


def _figure_export(job: Job, progress: Progress) -> dict[str, Any]:
    params = job.params
    analysis = Analysis.objects.select_related("window", "review").get(
        review=job.review, pk=params["analysis_id"]
    )
    kind, fmt, subgroup = params["kind"], params["fmt"], params.get("subgroup") or None
    progress(0.1, "Computing the analysis", force=True)
    hk = {"1": True, "0": False}.get(params.get("hk", ""))
    try:
        report, ad = selectors.analysis_report(
            analysis, method=params.get("method") or None, hartung_knapp=hk
        )
    except ReportInputError as exc:
        raise DomainError(str(exc)) from None
    progress(0.3, f"Drawing the {kind} plot", force=True)
    selectors.figure_bytes(report, ad, kind=kind, fmt=fmt, subgroup=subgroup)
    # The download reads the plot from the cache the job has just filled.
    query = {"download": "1", "subgroup": subgroup or "", "method": params.get("method", "")}
    query["hk"] = params.get("hk", "")
    url = reverse(
        f"analysis:{kind}",
        kwargs={"slug": job.review.slug, "analysis_id": analysis.pk, "fmt": fmt},
    )
    return {
        "url": f"{url}?{urlencode({k: v for k, v in query.items() if v})}",
        "label": f"Download the {kind} plot ({fmt.upper()})",
        "follow": True,
        "message": f"The {kind} plot of {analysis.title} is ready",
    }


@shared_task(bind=True, name="analysis.figure_export")
def figure_export_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _figure_export)


register_job_kind(FIGURE_EXPORT, label="Preparing a plot download", task=figure_export_task)
