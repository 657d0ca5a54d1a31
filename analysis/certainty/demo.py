"""Demo step: the demo review's analyses rated (GRADE) and one Summary of Findings table.

Runs after the analyses' step; rates every analysis that pools, accepting the rules'
suggestions except indirectness, which the lead judges (idempotent).
"""

from __future__ import annotations

from typing import Any

from ..models import Analysis
from . import selectors, services
from .models import CertaintyAssessment, SofTable

SOF_TITLE = "Summary of findings"


def demo_certainty(review, users: dict[str, Any]) -> str | None:
    lead = users.get("lead")
    rated = []
    for analysis in Analysis.objects.filter(review=review).select_related("window", "review"):
        if CertaintyAssessment.objects.filter(analysis=analysis).exists():
            continue
        ctx = selectors.evidence_for(analysis)
        if not ctx.ok:
            continue
        finals = {key: (s.rating, "") for key, s in ctx.suggestions.items()}
        services.assessment_save(analysis=analysis, actor=lead, finals=finals)
        rated.append(analysis.title)
    if SofTable.objects.filter(review=review, title=SOF_TITLE).exists() or not rated:
        return f"Certainty demo: {', '.join(rated)} rated." if rated else None
    table = services.sof_table_save(
        review=review,
        actor=lead,
        values={"title": SOF_TITLE, "population": review.title[:200]},
    )
    for assessment in selectors.assessments_for(review):
        services.sof_row_add(table=table, assessment=assessment, actor=lead)
    return f"Certainty demo: {', '.join(rated)} rated; “{SOF_TITLE}” table built."
