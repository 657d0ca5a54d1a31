"""Demo step: default analyses over the demo review's consensus data (idempotent)."""

from __future__ import annotations

from typing import Any

from . import data, services
from .models import Analysis, TimepointKind


def _varying_fields(review, rows) -> list[str]:
    """Categorical fields whose consensus answers differ between studies (subgroup candidates);
    if none differs, the first answered one, so the subgroup block can still be seen."""
    answered = []
    varying = []
    for key, _, _ in data.categorical_fields(review):
        levels = {str(r.fields.get(key)) for r in rows if r.fields.get(key) not in (None, "", [])}
        if levels:
            answered.append(key)
        if len(levels) >= 2:
            varying.append(key)
    return varying[:3] or answered[:1]


# The dichotomous outcome extraction's demo enters (Linde et al. 2005, metadat dat.linde2005):
# responders to St John's wort versus placebo, pooled as a risk ratio by Mantel-Haenszel.
RESPONSE = ("Clinical recovery", "Treatment response")
RESPONSE_TITLE = "Response to treatment (risk ratio)"


def _risk_ratio_demo(review, lead, window) -> list[str]:
    domain, subdomain = RESPONSE
    if Analysis.objects.filter(review=review, title=RESPONSE_TITLE).exists():
        return []
    rows = data.effects_read(review, domain=domain, subdomain=subdomain).rows
    if not any(r.events is not None for r in rows):
        return []
    analysis = services.analysis_save(
        review=review,
        actor=lead,
        values={
            "title": RESPONSE_TITLE,
            "domain": domain,
            "subdomain": subdomain,
            "window": window,
            "effect_measure": "RR",
            "pooling_method": "MH",
            "subgroup_fields": [],
        },
    )
    return [analysis.title]


def demo_analyses(review, users: dict[str, Any]) -> str | None:
    """One post-treatment analysis per outcome domain with consensus data."""
    lead = users.get("lead")
    windows = services.windows_ensure_default(review=review, actor=lead)
    post = next(w for w in windows if w.kind == TimepointKind.POST)
    follow_up = [w for w in windows if w.kind == TimepointKind.FOLLOW_UP]
    created = []
    for domain, _ in data.outcome_domains(review):
        if Analysis.objects.filter(review=review, domain=domain, subdomain="").exists():
            continue
        rows = data.effects_read(review, domain=domain).rows
        if not rows:
            continue
        analysis = services.analysis_save(
            review=review,
            actor=lead,
            values={
                "title": domain,
                "domain": domain,
                "window": post,
                "subgroup_fields": _varying_fields(review, rows),
            },
            long_term_windows=follow_up,
        )
        created.append(analysis.title)
    created += _risk_ratio_demo(review, lead, post)
    if not created:
        return None
    return f"Analysis demo: {', '.join(created)} defined (report, forest and funnel plots ready)."
