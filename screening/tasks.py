"""Background tasks of the screening app: refits of the prioritised ranking."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.urls import reverse

from reviews.errors import DomainError
from reviews.job_queue import register_job_kind
from reviews.jobs import Progress, run_job
from reviews.models import Job

from . import ranking

RANKING_REFIT = "ranking_refit"


@shared_task(name=ranking.REFIT_TASK_NAME, ignore_result=True)
def ranking_refit_task(review_id: int) -> int:
    """Refit a review's ranking (queued after every N resolutions); one per review at a time."""
    return ranking.refit_while_requested(review_id)


@shared_task(name=ranking.FEATURES_TASK_NAME, ignore_result=True)
def ranking_features_task(review_id: int) -> bool:
    """Build a review's ranking features as its records arrive, before the first refit."""
    return ranking.features_prepare(review_id)


def _ranking_refit(job: Job, progress: Progress) -> dict[str, Any]:
    review = job.review
    if not ranking.training_data(review).usable:
        raise DomainError(
            "The ranking needs at least one resolved include and one resolved exclude."
        )
    progress(0.1, "Fitting the ranking on the resolved decisions", force=True)
    ranking.refit_mark(review.pk)
    n = ranking.refit_while_requested(review.pk)
    latest = ranking.ranking_latest(review)
    if n and latest is not None:
        message = f"Ranking refitted on {latest.n_resolved:,} resolved decisions"
    else:
        message = "Another refit was running; it refits again on the latest decisions"
    return {
        "url": reverse("screening:overview", kwargs={"slug": review.slug}),
        "label": "Back to the screening overview",
        "follow": True,
        "message": message,
    }


@shared_task(bind=True, name="screening.ranking_refit_job")
def ranking_refit_job_task(self, job_id: int) -> None:
    run_job(job_id, self.request.id, _ranking_refit)


register_job_kind(RANKING_REFIT, label="Refitting the ranking", task=ranking_refit_job_task)
