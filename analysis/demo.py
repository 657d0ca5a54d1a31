"""Demo step: the demo review's analyses over its consensus data (idempotent).

- HbA1c, drug versus placebo: the placebo-controlled trials of Senn et al. (2013) as a
  mean difference (random effects, REML, Hartung-Knapp), subgroups by drug class;
  Willms 1999 gives two effects (metformin and acarbose, placebo arm split).
- Myocardial infarction, rosiglitazone versus control: the 38 type 2 diabetes trials of
  Nissen & Wolski (2007) as a Peto odds ratio, their original method.

``demo_models`` (the dependent-effects step, issue 21) adds two analyses of the same
HbA1c effects that keep every drug-versus-placebo comparison (Willms 1999 gives two): a
three-level model with cluster-robust CR2 inference, and a three-level meta-regression on
the drug class. Later steps (certainty) find every analysis with
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


THREE_LEVEL_TITLE = "HbA1c, every comparison: three-level model with CR2 (mean difference)"
DRUG_CLASS_TITLE = "HbA1c by drug class: three-level meta-regression (mean difference)"
# Model-based t tests for the meta-regression: with two or three trials in some classes
# the CR2 Satterthwaite df fall below 4 (F's denominator df 1.2), where robust tests are
# unreliable (Tipton 2015); the intercept-only model keeps CR2 (df 17).
DEMO_MODELS: dict[str, dict[str, Any]] = {
    "hba1c_three_level": DEMO_ANALYSES["hba1c"]
    | {
        "title": THREE_LEVEL_TITLE,
        "subgroup_fields": [],
        "effects_model": "three_level",
        "robust_variance": True,
    },
    "hba1c_drug_class": DEMO_ANALYSES["hba1c"]
    | {
        "title": DRUG_CLASS_TITLE,
        "effects_model": "three_level",
        "moderators": ["drug_class"],
        "robust_variance": False,
    },
}
ANALYSIS_NOTE = (
    "in this demo review every effect size, pooled estimate and model is computed from the "
    "published data cited in Data sources; the risk-of-bias rows, the certainty ratings' "
    "risk-of-bias domain and anything else that uses RoB 2 rest on the judgements the demo "
    "script generated (see Risk of bias)."
)


def demo_analysis(review, key: str) -> Analysis | None:
    """One of the demo's analyses ("hba1c", "mi", "hba1c_three_level", "hba1c_drug_class"),
    or None before its demo step has run."""
    values = DEMO_ANALYSES.get(key) or DEMO_MODELS[key]
    return Analysis.objects.filter(review=review, title=values["title"]).first()


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


def demo_models(review, users: dict[str, Any]) -> str | None:
    """Define the demo's dependent-effects analyses once the HbA1c data are agreed:
    every comparison in a three-level model (CR2), and a meta-regression on drug class."""
    from extraction.demo import SENN_CITATION
    from reviews import services as review_services

    from . import data

    lead = users.get("lead")
    hba1c = DEMO_ANALYSES["hba1c"]
    if not data.effects_read(review, domain=hba1c["domain"], subdomain=hba1c["subdomain"]).rows:
        return None
    # the data set these models use (cited by the extraction step already: kept once)
    review_services.review_source_add(review=review, actor=lead, citation=SENN_CITATION)
    review_services.review_generated_note_set(
        review=review, actor=lead, area="analysis", note=ANALYSIS_NOTE
    )
    windows = services.windows_ensure_default(review=review, actor=lead)
    post = next(w for w in windows if w.kind == TimepointKind.POST)
    created = []
    for key, values in DEMO_MODELS.items():
        if demo_analysis(review, key) is None:
            services.analysis_save(review=review, actor=lead, values=values | {"window": post})
            created.append(values["title"])
    if not created:
        return None
    return f"Dependent-effects demo: {'; '.join(created)} defined."
