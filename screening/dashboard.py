"""The screening panel of a review's dashboard."""

from __future__ import annotations

from django.urls import reverse

from reviews.dashboard import NextTask, Panel, StageCount
from reviews.models import Stage

from . import selectors


def screening_panel(review, membership) -> Panel | None:
    """Counts per stage and the member's next tasks (blinding respected)."""
    user = membership.user
    slug = review.slug
    counts: list[StageCount] = []
    tasks: list[NextTask] = []
    for stage, name in ((Stage.TITLE_ABSTRACT, "screen_ta"), (Stage.FULL_TEXT, "screen_ft")):
        p = selectors.progress(review, stage, user, membership)
        label = Stage(stage).label
        counts.append(StageCount(f"{label}: resolved", f"{p.resolved} / {p.total}"))
        counts.append(StageCount(f"{label}: included", p.included, hint=f"{p.excluded} excluded"))
        if p.conflicts is not None:
            counts.append(StageCount(f"{label}: conflicts", p.conflicts))
        if membership.can_screen and p.mine_remaining:
            tasks.append(
                NextTask(
                    f"Screen {label.lower()}s"
                    if stage == Stage.FULL_TEXT
                    else "Screen titles/abstracts",
                    reverse(f"screening:{name}", kwargs={"slug": slug}),
                    f"{p.mine_remaining} waiting for you",
                )
            )
        if membership.can_adjudicate and p.conflicts:
            tasks.append(
                NextTask(
                    f"Resolve {label.lower()} conflicts",
                    reverse("screening:conflicts", kwargs={"slug": slug}) + f"?stage={stage}",
                    f"{p.conflicts} open",
                )
            )
    return Panel(
        title="Screening",
        counts=counts,
        tasks=tasks,
        url=reverse("screening:overview", kwargs={"slug": slug}),
    )
