"""The analysis panel of a review's dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from reviews.dashboard import NextTask, Panel, StageCount
from reviews.models import Role

from . import selectors
from .data import ReviewReads
from .formatting import fmt_estimate_ci
from .measures import SHORT

MAX_LISTED = 4


def analysis_panel(review: Any, membership: Any) -> Panel:
    """Each analysis' main effect (from the cached report), or the way to define one."""
    url = reverse("analysis:index", kwargs={"slug": review.slug})
    analyses = list(selectors.analyses_for(review)[:MAX_LISTED])
    reads = ReviewReads(review)  # the studies and RoB 2 read once for all the analyses
    counts = []
    for analysis in analyses:
        report, _ = selectors.analysis_report(analysis, reads=reads)
        row = report.row("all")
        if row.numbers is not None:
            n = row.numbers
            m = report.settings.measure
            value = f"{SHORT[m]} = {fmt_estimate_ci(n.estimate, n.ci_low, n.ci_high, m)}"
        else:
            value = "not pooled"
        counts.append(
            StageCount(f"{analysis.title} ({analysis.window.label})", value, f"k = {row.k}")
        )
    tasks = []
    if not analyses and membership.has_role(Role.LEAD):
        tasks.append(
            NextTask("Define an analysis", reverse("analysis:create", kwargs={"slug": review.slug}))
        )
    elif analyses:
        tasks.append(NextTask("Open the report", url))
    return Panel("Analysis", counts=counts, tasks=tasks, url=url)
