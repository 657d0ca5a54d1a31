"""Reads of the analysis app: analyses of a review, and an analysis' report (cached).

The report is a pure function of the consensus data an analysis selects and of its
settings. It is cached under a SHA-256 of exactly those inputs (every study's g,
variance, subgroup levels and RoB judgement, plus the settings and the code version),
so a change to any consensus value yields a new key and a recomputation; nothing
expires by time.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace

from django.core.cache import cache
from django.db.models import QuerySet

from reviews.models import Review

from . import data, measures
from .measures import rows_for_measure
from .modelling import ROB_KEY, ModelEffect, ModeratorVar, all_effects, moderator_value
from .models import Analysis, EffectsModel, TimepointWindow
from .report import (
    Dataset,
    Report,
    ReportInput,
    ReportInputError,
    Settings,
    SubgroupVar,
    one_per_study,
    report_compute,
)
from .stats import METHODS

# Bump when the computation changes so cached results of the old code are not served.
REPORT_CODE_VERSION = "3"
CACHE_PREFIX = "analysis-report"
# Reports and figures are keyed by a hash of their inputs, so they never go stale; they
# expire all the same, so that a shared cache (Redis) does not grow without bound.
REPORT_CACHE_SECONDS = 30 * 24 * 3600


def analyses_for(review: Review) -> QuerySet[Analysis]:
    # Through the related manager each analysis' .review is this instance (no query each).
    return review.analyses.all().select_related("window").prefetch_related("long_term_windows")


def windows_for(review: Review) -> QuerySet[TimepointWindow]:
    return TimepointWindow.objects.filter(review=review)


@dataclass(frozen=True)
class LeftOutStudy:
    """An included study missing from the main analysis, with every reason found."""

    study_id: int
    label: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AnalysisData:
    input: ReportInput
    left_out: tuple[LeftOutStudy, ...]
    partial: tuple[data.LeftOut, ...]  # studies in the analysis with some outcome missing
    cache_key: str
    # the main window's rows before the one-per-study rule (design answers, outcome ids)
    main_rows: tuple[data.EffectInput, ...] = ()


def settings_for(
    analysis: Analysis, *, method: str | None = None, hartung_knapp: bool | None = None
) -> Settings:
    """The analysis' settings, with an optional τ² estimator / Hartung-Knapp override
    (the report page lets any member try another estimator without saving it)."""
    if method is not None and method not in METHODS:
        raise ReportInputError(f"unknown τ² estimator {method!r}; use one of {', '.join(METHODS)}")
    return Settings(
        measure=analysis.effect_measure,
        pooling=analysis.pooling_method,
        method=method or analysis.tau2_method,
        hartung_knapp=analysis.hartung_knapp if hartung_knapp is None else hartung_knapp,
        min_studies=analysis.min_studies,
        min_per_subgroup=analysis.min_per_subgroup,
        multiple_outcomes=analysis.multiple_outcomes,
    )


def _read(reads: data.ReviewReads, analysis: Analysis, window: TimepointWindow) -> data.Extracted:
    """The window's consensus rows on the analysis' effect measure; rows that cannot give
    that measure join the studies left out."""
    extracted = data.effects_read(
        reads.review,
        domain=analysis.domain,
        subdomain=analysis.subdomain,
        timepoint_kind=window.kind,
        weeks_min=window.weeks_min,
        weeks_max=window.weeks_max,
        study_filters=analysis.study_filters or None,
        reads=reads,
    )
    rows, cannot = rows_for_measure(extracted.rows, analysis.effect_measure)
    return replace(extracted, rows=rows, left_out=extracted.left_out + cannot)


def analysis_data(
    analysis: Analysis, settings: Settings, reads: data.ReviewReads | None = None
) -> AnalysisData:
    """Read the consensus data an analysis selects and apply its rules (one per study).
    ``reads``: the review's data already read for other analyses of the same page."""
    if reads is None:
        reads = data.ReviewReads(analysis.review)
    rob = {sid: j.overall for sid, j in reads.rob.items()}
    fields = {key: (label, choices) for key, label, choices in reads.categorical_fields}
    keys = list(analysis.subgroup_fields or [])
    subgroup_vars = tuple(
        SubgroupVar(k, fields.get(k, (k, []))[0], tuple(fields.get(k, (k, []))[1])) for k in keys
    )
    # Counts or raw means of different instruments cannot be averaged into one table:
    # measures other than g always take the preferred instrument.
    rule = settings.multiple_outcomes if settings.measure == "SMD" else "preferred"
    main_read = _read(reads, analysis, analysis.window)
    known = {key: (label, kind) for key, label, kind in reads.moderator_fields}
    moderators = tuple(
        ModeratorVar(k, known[k][0], known[k][1]) for k in analysis.moderators or [] if k in known
    )
    value_keys = [m.key for m in moderators if m.key != ROB_KEY]
    main = one_per_study(main_read.rows, rule, keys, rob, value_keys)
    model_kind = ""
    model_effects: tuple[ModelEffect, ...] = ()
    if analysis.effects_model == EffectsModel.THREE_LEVEL:
        model_kind = "three_level"
        model_effects = all_effects(main_read.rows, moderators, rob, measure=settings.measure)
    elif moderators:
        model_kind = "metareg"
        model_effects = tuple(
            ModelEffect(
                e.study_id,
                e.label,
                e.outcome,
                e.yi,
                e.vi,
                {
                    m.key: moderator_value(
                        e.rob if m.key == ROB_KEY else e.values.get(m.key), m.kind
                    )
                    for m in moderators
                },
            )
            for e in main
        )

    specific: list[Dataset] = []
    if analysis.show_specific_outcomes and not analysis.subdomain:
        order = [sub for _, subs in reads.outcome_domains for sub in subs]
        by_sub: OrderedDict[str, list] = OrderedDict()
        for r in main_read.rows:
            if r.subdomain:
                by_sub.setdefault(r.subdomain, []).append(r)
        names = sorted(by_sub, key=lambda n: (order.index(n) if n in order else len(order), n))
        if len(names) > 1 or (names and len(by_sub[names[0]]) != len(main_read.rows)):
            specific = [
                Dataset(f"outcome{i}", name, one_per_study(by_sub[name], rule, keys, rob))
                for i, name in enumerate(names, start=1)
            ]

    windows = []
    # Windows are ordered by (position, id); .all() keeps a prefetch of them usable.
    for i, w in enumerate(analysis.long_term_windows.all(), start=1):
        if w.pk == analysis.window_id:
            continue
        rows = _read(reads, analysis, w).rows
        windows.append(Dataset(f"window{i}", w.label, one_per_study(rows, rule, keys, rob)))

    inp = ReportInput(
        title=analysis.title,
        main=Dataset("main", analysis.window.label, main),
        specific=tuple(specific),
        windows=tuple(windows),
        subgroup_vars=subgroup_vars,
        settings=settings,
        show_small_study=analysis.show_small_study,
        show_outliers=analysis.show_outliers,
        show_rob=analysis.show_rob,
        effect_label=measures.LABELS[settings.measure],
        model_kind=model_kind,
        model_effects=model_effects,
        moderators=moderators,
        robust=analysis.robust_variance,
    )
    in_main = {e.study_id for e in main}
    reasons: OrderedDict[int, tuple[str, list[str]]] = OrderedDict()
    partial = []
    for m in main_read.left_out:
        if m.study_id in in_main:
            partial.append(m)
            continue
        text = m.reason + (f" ({m.detail})" if m.detail else "")
        if m.outcome:
            text += f" — {m.outcome}" + (f", {m.timepoint}" if m.timepoint else "")
        label, texts = reasons.setdefault(m.study_id, (m.study_label, []))
        if text not in texts:
            texts.append(text)
    left_out = tuple(
        LeftOutStudy(sid, label, tuple(texts))
        for sid, (label, texts) in sorted(reasons.items(), key=lambda kv: kv[1][0].casefold())
    )
    return AnalysisData(inp, left_out, tuple(partial), input_key(inp), main_read.rows)


def input_key(inp: ReportInput) -> str:
    """SHA-256 of everything the report depends on."""
    payload = json.dumps(
        [REPORT_CODE_VERSION, asdict(inp)], sort_keys=True, default=str, ensure_ascii=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def analysis_report(
    analysis: Analysis,
    *,
    method: str | None = None,
    hartung_knapp: bool | None = None,
    reads: data.ReviewReads | None = None,
) -> tuple[Report, AnalysisData]:
    """The analysis' report for the current consensus data (served from the cache when the
    data and settings are unchanged). ``reads``: shared by the analyses of one page."""
    settings = settings_for(analysis, method=method, hartung_knapp=hartung_knapp)
    ad = analysis_data(analysis, settings, reads)
    key = f"{CACHE_PREFIX}:{ad.cache_key}"
    report = cache.get(key)
    if report is None:
        report = report_compute(ad.input)
        cache.set(key, report, timeout=REPORT_CACHE_SECONDS)
    return report, ad


def cached_bytes(key: str, make) -> bytes:
    """A rendered artefact (plot, export) cached under a key derived from the report's."""
    full = f"{CACHE_PREFIX}:bytes:{key}"
    value = cache.get(full)
    if value is None:
        value = make()
        cache.set(full, value, timeout=REPORT_CACHE_SECONDS)
    return value


PLOT_KINDS = ("forest", "funnel", "bubble")


def figure_bytes(
    report: Report, ad: AnalysisData, *, kind: str, fmt: str, subgroup: str | None = None
) -> bytes:
    """A forest or funnel plot of the report as SVG/PNG/PDF bytes, cached with the report.

    PNG and PDF take a second or more for a large analysis: their downloads are prepared by
    a job (`analysis.tasks`) that leaves them here, in the cache every server shares.
    """
    from reviews.errors import DomainError

    from .figures import FigureError, bubble_figure, forest_figure, funnel_figure
    from .plots import PlotInputError, figure_to_bytes

    def make() -> bytes:
        try:
            if kind == "forest":
                fig = forest_figure(report, subgroup)
            elif kind == "bubble":
                fig = bubble_figure(report)
            else:
                fig = funnel_figure(report)
            return figure_to_bytes(fig, fmt)
        except (FigureError, PlotInputError) as exc:
            raise DomainError(str(exc)) from None

    return cached_bytes(f"{ad.cache_key}:{kind}:{subgroup}:{fmt}", make)
