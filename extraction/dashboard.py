"""The extraction panel on a review's dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from reviews.dashboard import NextTask, Panel, StageCount

from .models import ExtractionKind, ExtractionStatus
from .selectors import settings_of, study_counts


def extraction_panel(review: Any, membership: Any) -> Panel | None:
    counts = study_counts(review)
    settings = settings_of(review)
    studies = review.studies.all()
    mine_open = studies.filter(
        extractions__kind=ExtractionKind.INDEPENDENT,
        extractions__extractor=membership.user,
        extractions__status=ExtractionStatus.DRAFT,
    ).count()
    url = reverse("extraction:studies", kwargs={"slug": review.slug})
    tasks = []
    if mine_open and membership.can_screen:
        tasks.append(NextTask("Continue extracting", url, f"{mine_open} in progress"))
    elif counts["studies"] and membership.can_screen:
        tasks.append(NextTask("Extract studies", url))
    return Panel(
        title="Extraction",
        counts=[
            StageCount("Studies included", counts["studies"]),
            StageCount("Reports of included studies", counts["reports"]),
            StageCount("Studies with consensus data", counts["consensus"]),
            StageCount(
                "Mode", "dual" if settings.extractors_needed == 2 else "single + verification"
            ),
        ],
        tasks=tasks,
        url=url,
    )
