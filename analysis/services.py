"""State changes of the analysis app: timepoint windows and analysis definitions.

Each function is keyword-only, validates against the review's extraction vocabulary
(outcome domains, categorical form fields) read through ``analysis.data``, runs in one
transaction and writes an :class:`AnalysisEvent` naming the actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from reviews.errors import ConflictError, DomainError
from reviews.models import Review

from . import data
from .models import (
    DICHOTOMOUS_MEASURES,
    Analysis,
    AnalysisEvent,
    EffectMeasure,
    EffectsModel,
    MultipleOutcomes,
    PoolingMethod,
    TimepointKind,
    TimepointWindow,
)
from .stats import METHODS

# The seed review's windows (Smit et al. 2023): post-test, 6-9 and 12-18 months; weeks are
# months × 4.345 with some slack so that "6 months" reported as 24 weeks still counts.
DEFAULT_WINDOWS: tuple[tuple[str, str, float | None, float | None], ...] = (
    ("Post-treatment", TimepointKind.POST, None, None),
    ("6 to 9 months", TimepointKind.FOLLOW_UP, 24.0, 43.0),
    ("12 to 18 months", TimepointKind.FOLLOW_UP, 48.0, 82.0),
)

ANALYSIS_FIELDS = (
    "title",
    "domain",
    "subdomain",
    "window",
    "study_filters",
    "effect_measure",
    "pooling_method",
    "tau2_method",
    "hartung_knapp",
    "min_studies",
    "min_per_subgroup",
    "multiple_outcomes",
    "subgroup_fields",
    "effects_model",
    "robust_variance",
    "moderators",
    "show_specific_outcomes",
    "show_small_study",
    "show_outliers",
    "show_rob",
)


def _event(review: Review, analysis: Analysis | None, action: str, actor: Any, **detail) -> None:
    AnalysisEvent.objects.create(
        review=review, analysis=analysis, action=action, actor=actor, detail=detail
    )


# --------------------------------------------------------------------------- windows


@transaction.atomic
def windows_ensure_default(*, review: Review, actor: Any = None) -> list[TimepointWindow]:
    """Give a review the default windows if it has none (idempotent)."""
    if not TimepointWindow.objects.filter(review=review).exists():
        for pos, (label, kind, lo, hi) in enumerate(DEFAULT_WINDOWS):
            TimepointWindow.objects.create(
                review=review, label=label, kind=kind, weeks_min=lo, weeks_max=hi, position=pos
            )
        _event(review, None, "windows created", actor)
    return list(TimepointWindow.objects.filter(review=review))


def _check_window(kind: str, weeks_min: float | None, weeks_max: float | None) -> None:
    if kind not in TimepointKind.values:
        raise DomainError(f"Unknown kind of timepoint “{kind}”.", field="kind")
    for name, value in (("weeks_min", weeks_min), ("weeks_max", weeks_max)):
        if value is not None and value < 0:
            raise DomainError("Weeks after baseline cannot be negative.", field=name)
    if weeks_min is not None and weeks_max is not None and weeks_max < weeks_min:
        raise DomainError("The window ends before it starts.", field="weeks_max")


@transaction.atomic
def window_save(
    *,
    review: Review,
    actor: Any,
    label: str,
    kind: str,
    weeks_min: float | None = None,
    weeks_max: float | None = None,
    window: TimepointWindow | None = None,
) -> TimepointWindow:
    """Create a window, or change one (analyses using it follow the change)."""
    label = (label or "").strip()
    if not label:
        raise DomainError("Give the window a label, e.g. “6 to 9 months”.", field="label")
    _check_window(kind, weeks_min, weeks_max)
    if window is None:
        position = TimepointWindow.objects.filter(review=review).aggregate(m=Max("position"))["m"]
        window = TimepointWindow(review=review, position=(position or 0) + 1)
    elif window.review_id != review.pk:
        raise DomainError("That window belongs to another review.")
    window.label, window.kind, window.weeks_min, window.weeks_max = (
        label,
        kind,
        weeks_min,
        weeks_max,
    )
    try:
        with transaction.atomic():
            window.save()
    except IntegrityError:
        raise ConflictError(f"There is already a window called “{label}”.") from None
    _event(review, None, "window saved", actor, window=window.pk, label=label)
    return window


@transaction.atomic
def window_delete(*, window: TimepointWindow, actor: Any) -> None:
    """Remove a window no analysis pools as its main timepoint."""
    used = list(window.main_analyses.values_list("title", flat=True))
    if used:
        raise ConflictError(
            f"“{window.label}” is the timepoint of {', '.join(used)}; change those analyses first."
        )
    _event(window.review, None, "window deleted", actor, label=window.label)
    window.delete()


# --------------------------------------------------------------------------- analyses


def _validate(review: Review, values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    title = (out.get("title") or "").strip()
    if not title:
        raise DomainError(
            "Give the analysis a title, e.g. “Primary outcome, post-treatment”.", field="title"
        )
    out["title"] = title
    domains = data.outcome_domains(review)
    domain, subdomain = out.get("domain") or "", out.get("subdomain") or ""
    names = dict(domains)
    if domain and domain not in names:
        raise DomainError(f"“{domain}” is not an outcome domain of this review.", field="domain")
    if subdomain:
        owners = [d for d, subs in domains if subdomain in subs]
        if not owners:
            raise DomainError(f"“{subdomain}” is not an outcome subdomain.", field="subdomain")
        if domain and domain not in owners:
            raise DomainError(f"“{subdomain}” is not part of “{domain}”.", field="subdomain")
        out["domain"] = domain or owners[0]
    window = out.get("window")
    if window is None or window.review_id != review.pk:
        raise DomainError("Choose a timepoint window of this review.", field="window")
    if out.get("tau2_method", "REML") not in METHODS:
        raise DomainError("Unknown τ² estimator.", field="tau2_method")
    measure = out.get("effect_measure", EffectMeasure.SMD)
    method = out.get("pooling_method", PoolingMethod.INVERSE_VARIANCE)
    if measure not in EffectMeasure.values:
        raise DomainError(f"Unknown effect measure “{measure}”.", field="effect_measure")
    if method not in PoolingMethod.values:
        raise DomainError(f"Unknown pooling method “{method}”.", field="pooling_method")
    if method == PoolingMethod.MANTEL_HAENSZEL and measure not in DICHOTOMOUS_MEASURES:
        raise DomainError(
            "Mantel–Haenszel pools odds ratios, risk ratios or risk differences.",
            field="pooling_method",
        )
    if method == PoolingMethod.PETO and measure != EffectMeasure.OR:
        raise DomainError("Peto's method pools odds ratios only.", field="pooling_method")
    if out.get("multiple_outcomes", "preferred") not in MultipleOutcomes.values:
        raise DomainError("Unknown rule for several outcomes.", field="multiple_outcomes")
    for name in ("min_studies", "min_per_subgroup"):
        if name in out and (out[name] is None or int(out[name]) < 2):
            raise DomainError("At least 2 studies are needed to pool.", field=name)
    fields = {key: (label, choices) for key, label, choices in data.categorical_fields(review)}
    subgroups = list(out.get("subgroup_fields") or [])
    for key in subgroups:
        if key not in fields:
            raise DomainError(
                f"“{key}” is not a categorical field of the extraction form.",
                field="subgroup_fields",
            )
    out["subgroup_fields"] = subgroups
    filters = dict(out.get("study_filters") or {})
    for key, value in filters.items():
        if key not in fields:
            raise DomainError(
                f"“{key}” is not a categorical field of the extraction form.", field="study_filters"
            )
        if value not in fields[key][1]:
            raise DomainError(
                f"“{value}” is not an answer of “{fields[key][0]}”.", field="study_filters"
            )
    out["study_filters"] = filters
    if out.get("effects_model", EffectsModel.ONE_PER_STUDY) not in EffectsModel.values:
        raise DomainError("Unknown way for effect sizes to enter.", field="effects_model")
    # The models weight each effect by its inverse variance (rma.mv / rma on yi, vi): any
    # measure on its analysis scale (g, MD, RD, log OR, log RR), but not MH or Peto weights.
    needs_iv = out.get("effects_model") == EffectsModel.THREE_LEVEL or out.get("moderators")
    if needs_iv and method != PoolingMethod.INVERSE_VARIANCE:
        raise DomainError(
            "A three-level model or a meta-regression weights effect sizes by inverse "
            "variance: choose inverse-variance pooling.",
            field="effects_model",
        )
    known = {key: label for key, label, _kind in data.moderator_fields(review)}
    moderators = list(out.get("moderators") or [])
    for key in moderators:
        if key not in known:
            raise DomainError(
                f"“{key}” is not a numeric or categorical field of the extraction form.",
                field="moderators",
            )
    if len(set(moderators)) != len(moderators):
        raise DomainError("A moderator is listed twice.", field="moderators")
    out["moderators"] = moderators
    return out


@transaction.atomic
def analysis_save(
    *,
    review: Review,
    actor: Any,
    values: Mapping[str, Any],
    long_term_windows: Iterable[TimepointWindow] = (),
    analysis: Analysis | None = None,
) -> Analysis:
    """Create or change an analysis from ``values`` (the names in ``ANALYSIS_FIELDS``)."""
    unknown = set(values) - set(ANALYSIS_FIELDS)
    if unknown:
        raise DomainError(f"Unknown analysis setting(s): {', '.join(sorted(unknown))}.")
    clean = _validate(review, values)
    windows = list(long_term_windows)
    if any(w.review_id != review.pk for w in windows):
        raise DomainError(
            "A long-term window belongs to another review.", field="long_term_windows"
        )
    created = analysis is None
    if created:
        position = Analysis.objects.filter(review=review).aggregate(m=Max("position"))["m"]
        analysis = Analysis(review=review, created_by=actor, position=(position or 0) + 1)
    elif analysis.review_id != review.pk:
        raise DomainError("That analysis belongs to another review.")
    for name, value in clean.items():
        setattr(analysis, name, value)
    try:
        with transaction.atomic():
            analysis.save()
    except IntegrityError:
        raise ConflictError(f"There is already an analysis called “{clean['title']}”.") from None
    analysis.long_term_windows.set(windows)
    _event(
        review,
        analysis,
        "created" if created else "changed",
        actor,
        settings={k: (v.pk if isinstance(v, TimepointWindow) else v) for k, v in clean.items()},
        long_term_windows=[w.pk for w in windows],
    )
    return analysis


@transaction.atomic
def analysis_delete(*, analysis: Analysis, actor: Any) -> None:
    """Delete a definition (no extracted data is touched; results are recomputed anyway)."""
    _event(analysis.review, None, "deleted", actor, title=analysis.title, id=analysis.pk)
    analysis.delete()
