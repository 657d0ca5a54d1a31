"""Demo step: the demo review's analyses over its consensus data (idempotent).

- HbA1c, drug versus placebo: the placebo-controlled trials of Senn et al. (2013) as a
  mean difference (random effects, REML, Hartung-Knapp), subgroups by drug class;
  Willms 1999 gives two effects (metformin and acarbose, placebo arm split).
- Myocardial infarction, rosiglitazone versus control: the 38 type 2 diabetes trials of
  Nissen & Wolski (2007) as a Peto odds ratio, their original method.

Later demo steps (dependent effects, certainty) find these analyses with
``demo_analysis(review, key)``.
"""

from __future__ import annotations

from typing import Any

from extraction.demo import HBA1C, MI, PLACEBO

from . import services
from .models import Analysis, TimepointKind

HBA1C_TITLE = "HbA1c: oral glucose-lowering drug versus placebo (mean difference)"
MI_TITLE = "Myocardial infarction: rosiglitazone versus control (Peto odds ratio)"
DEMO_ANALYSES: dict[str, dict[str, Any]] = {
    "hba1c": {
        "title": HBA1C_TITLE,
        "domain": HBA1C[0],
        "subdomain": HBA1C[1],
        "effect_measure": "MD",
        "study_filters": {"comparator_type": PLACEBO},
        "subgroup_fields": ["drug_class"],
    },
    "mi": {
        "title": MI_TITLE,
        "domain": MI[0],
        "subdomain": MI[1],
        "effect_measure": "OR",
        "pooling_method": "PETO",
        "subgroup_fields": ["comparator_type"],
    },
}


def demo_analysis(review, key: str) -> Analysis | None:
    """One of the demo's analyses ("hba1c", "mi"), or None before the demo step has run."""
    return Analysis.objects.filter(review=review, title=DEMO_ANALYSES[key]["title"]).first()


def demo_analyses(review, users: dict[str, Any]) -> str | None:
    """Define the demo's analyses once their outcome has consensus data."""
    from . import data

    lead = users.get("lead")
    windows = services.windows_ensure_default(review=review, actor=lead)
    post = next(w for w in windows if w.kind == TimepointKind.POST)
    created = []
    for key, values in DEMO_ANALYSES.items():
        if demo_analysis(review, key) is not None:
            continue
        if not data.effects_read(
            review, domain=values["domain"], subdomain=values["subdomain"]
        ).rows:
            continue
        analysis = services.analysis_save(
            review=review, actor=lead, values=values | {"window": post}
        )
        created.append(analysis.title)
    if not created:
        return None
    return f"Analysis demo: {'; '.join(created)} defined (report, forest and funnel plots ready)."
