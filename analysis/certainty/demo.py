"""Demo step: the demo review's analyses rated (GRADE) and one Summary of Findings table.

Runs after the analyses' step. The two analyses of the demo (HbA1c, myocardial infarction)
are rated with the rules' suggestions, except where the demo lead's judgement is written
below with its reason; any other analysis that pools is rated with the suggestions as they
are. Idempotent: an analysis already rated and a table already built are left alone.
"""

from __future__ import annotations

from typing import Any

from ..demo import demo_analysis
from ..models import Analysis
from . import rules, selectors, services
from .models import CertaintyAssessment, SofTable

SOF_TITLE = "Oral glucose-lowering drugs for adults with type 2 diabetes"
SOF_TABLE = {
    "title": SOF_TITLE,
    "population": "Adults with type 2 diabetes",
    "setting": "Outpatient randomised trials",
    "intervention": "Oral glucose-lowering drugs (rosiglitazone for myocardial infarction)",
    "comparison": "Placebo (HbA1c); placebo or other treatment (myocardial infarction)",
}
# The demo lead's words per analysis, and the one rating they change (with the reason)
DEMO_RATINGS: dict[str, dict[str, Any]] = {
    "hba1c": {
        "outcome_label": "HbA1c (%)",
        "intervention": "oral glucose-lowering drugs",
        # Demo judgement: 0.3 percentage points as the minimal important difference
        "thresholds": [-0.3, 0.0, 0.3],
        "finals": {},
        "row": {
            "timepoint": "End of treatment",
            "comments": "Mean difference in percentage points.",
        },
    },
    "mi": {
        "outcome_label": "Myocardial infarction",
        "intervention": "rosiglitazone",
        "finals": {
            "indirectness": (
                rules.SERIOUS,
                "Demo judgement: myocardial infarctions were collected as adverse events in "
                "trials designed for glucose control, mostly of 24 to 52 weeks, while the "
                "question concerns long-term cardiovascular safety.",
            )
        },
        "row": {
            "timepoint": "End of treatment",
            "comments": "Peto odds ratio, as Nissen & Wolski.",
        },
    },
}


def _rate(analysis: Analysis, lead, spec: dict[str, Any]) -> bool:
    if CertaintyAssessment.objects.filter(analysis=analysis).exists():
        return False
    ctx = selectors.evidence_for(analysis, thresholds=spec.get("thresholds"))
    if not ctx.ok:
        return False
    finals = {key: (s.rating, "") for key, s in ctx.suggestions.items()}
    finals.update(spec.get("finals", {}))
    services.assessment_save(
        analysis=analysis,
        actor=lead,
        finals=finals,
        outcome_label=spec.get("outcome_label", ""),
        intervention=spec.get("intervention", ""),
        thresholds=spec.get("thresholds"),
    )
    return True


def demo_certainty(review, users: dict[str, Any]) -> str | None:
    lead = users.get("lead")
    rated = []
    demo = {key: demo_analysis(review, key) for key in DEMO_RATINGS}
    for key, analysis in demo.items():
        if analysis is not None and _rate(analysis, lead, DEMO_RATINGS[key]):
            rated.append(analysis.title)
    for analysis in Analysis.objects.filter(review=review).select_related("window", "review"):
        if analysis not in demo.values() and _rate(analysis, lead, {}):
            rated.append(analysis.title)
    built = ""
    if not SofTable.objects.filter(review=review, title=SOF_TITLE).exists():
        rows = [
            (key, CertaintyAssessment.objects.filter(analysis=analysis).first())
            for key, analysis in demo.items()
            if analysis is not None
        ]
        rows = [(key, a) for key, a in rows if a is not None]
        if rows:
            table = services.sof_table_save(review=review, actor=lead, values=SOF_TABLE)
            for key, assessment in rows:
                row = services.sof_row_add(table=table, assessment=assessment, actor=lead)
                services.sof_row_save(row=row, actor=lead, values=DEMO_RATINGS[key]["row"])
            built = f"; “{SOF_TITLE}” table built"
    if not rated and not built:
        return None
    return f"Certainty demo: {', '.join(rated) or 'nothing new'} rated{built}."
