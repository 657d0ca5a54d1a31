"""Forest and funnel plots of a :class:`~analysis.report.Report` (via ``analysis.plots``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from . import measures
from .report import Report, StudyEffect, _fit, _ordered_levels
from .stats import StatsInputError

# ``.plots`` (matplotlib) and scipy.stats are imported by the functions that draw: this
# module is imported at start-up for method_text, and matplotlib added ~30 MB to every
# process, scipy.stats ~57 MB.
if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .plots import ForestRow, PooledSummary
    from .stats import MetaResult

Z975 = 1.959963984540054
TAU2_NAMES = {
    "REML": "REML",
    "DL": "DerSimonian–Laird",
    "PM": "Paule–Mandel",
    "ML": "ML",
    "SJ": "Sidik–Jonkman",
    "HE": "Hedges",
}


class FigureError(ValueError):
    """A figure that cannot be drawn for this report (e.g. no studies)."""


def method_text(report: Report) -> str:
    s = report.settings
    if s.pooling == "MH":
        return "Common-effect model (Mantel–Haenszel)"
    if s.pooling == "PETO":
        return "Common-effect model (Peto)"
    if s.method == "FE":
        model = "Common-effect model"
    else:
        model = f"Random-effects model ({TAU2_NAMES[s.method]} τ²)"
    return model + (", Hartung–Knapp adjustment" if s.hartung_knapp else "")


def _summary(label: str, r: MetaResult, text: str = "") -> PooledSummary:
    from .plots import PooledSummary

    return PooledSummary(
        label=label,
        estimate=r.estimate,
        ci_low=r.ci_low,
        ci_high=r.ci_high,
        pi_low=r.pi_low,
        pi_high=r.pi_high,
        k=r.k,
        tau2=r.tau2 if r.method not in ("FE", "MH", "PETO") else None,
        I2=r.I2,
        Q=r.Q,
        Q_df=r.Q_df,
        Q_p=r.Q_p,
        method_text=text,
    )


def _row(e: StudyEffect, weight: float | None, measure: str = "SMD") -> ForestRow:
    from .plots import ForestRow

    half = Z975 * e.se
    cells: tuple[str, ...] = ()
    if measure in measures.DICHOTOMOUS and e.cells is not None:
        a, c = e.events
        cells = (f"{a:g}/{e.n_intervention:g}", f"{c:g}/{e.n_control:g}")
    return ForestRow(e.label, e.yi, e.yi - half, e.yi + half, weight, cells)


def _scale_kw(report: Report) -> dict:
    """Ratio measures on a log axis labelled with ratios; events/total columns for 2×2 data."""
    m = report.settings.measure
    kw: dict = {"effect_label": report.input.effect_label}
    if m != "SMD":
        # only g is aligned so that positive favours the intervention; other measures keep
        # the direction of the data (events, raw means)
        what = "risk" if m in measures.DICHOTOMOUS else "values"
        kw["favours"] = (f"Lower {what} with intervention", f"Higher {what} with intervention")
    if m in measures.RATIOS:
        kw.update(log_scale=True, effect_label=f"{report.input.effect_label} (log scale)")
    if m in measures.DICHOTOMOUS:
        kw.update(study_columns=("Intervention", "Control"), estimate_header=measures.SHORT[m])
    return kw


def forest_figure(report: Report, subgroup: str | None = None) -> Figure:
    """Forest plot of the main analysis; with ``subgroup`` (a subgroup variable key), one
    block per level with its own diamond and the test for subgroup differences."""
    from .plots import SubgroupBlock, SubgroupDifference, forest_plot

    inp = report.input
    effects = inp.main.effects
    if not effects:
        raise FigureError("no study has data for this analysis yet")
    s = report.settings
    title = f"{inp.title}: {inp.main.label}"
    main = report.main
    overall = (
        _summary(
            "Random-effects model" if s.iv_method != "FE" else "Common-effect model",
            main,
            method_text(report),
        )
        if main is not None
        else None
    )
    if subgroup is None:
        weights = main.weights if main is not None else [None] * len(effects)
        rows = [_row(e, w, s.measure) for e, w in zip(effects, weights, strict=True)]
        return forest_plot(rows, overall, title=title, **_scale_kw(report))

    var = next((v for v in inp.subgroup_vars if v.key == subgroup), None)
    if var is None:
        raise FigureError(f"{subgroup!r} is not a subgroup variable of this analysis")
    levels = _ordered_levels((e.subgroups.get(var.key, "") for e in effects), var.levels)
    blocks = []
    for level in [*levels, ""]:
        sel = [e for e in effects if e.subgroups.get(var.key, "") == level]
        if not sel:
            continue
        pooled = None
        weights: list[float | None] = [None] * len(sel)
        if len(sel) >= s.min_per_subgroup:
            try:
                fit = _fit(sel, s)
                pooled = _summary(f"Subtotal ({level})", fit)
                weights = list(fit.weights)
            except StatsInputError:
                pooled = None
        blocks.append(
            SubgroupBlock(
                level or "Not reported",
                tuple(_row(e, w, s.measure) for e, w in zip(sel, weights, strict=True)),
                pooled,
            )
        )
    heading = next((r for r in report.rows() if r.key == f"subhead:{var.key}"), None)
    difference = (
        SubgroupDifference(heading.Q_between, heading.Q_between_df, heading.p_between)
        if heading is not None
        and heading.p_between is not None
        and not math.isnan(heading.p_between)
        else None
    )
    return forest_plot(
        [],
        overall,
        subgroups=blocks,
        subgroup_difference=difference,
        title=f"{title}, by {var.label.lower()}",
        **_scale_kw(report),
    )


def funnel_figure(report: Report) -> Figure:
    """Funnel plot with pseudo 95% limits, trim-and-fill's imputed studies and Egger's p."""
    from .plots import funnel_plot

    effects = report.input.main.effects
    if len(effects) < 2 or report.main is None:
        raise FigureError("a funnel plot needs a pooled analysis")
    estimate = report.main.estimate
    filled_yi, filled_sei = list(report.filled_yi), [math.sqrt(v) for v in report.filled_vi]
    if filled_yi:
        # centre on the adjusted estimate when drawing the imputed studies (as metafor)
        tf = next((r for r in report.rows() if r.key == "trimfill"), None)
        if tf is not None and tf.numbers is not None:
            estimate = tf.numbers.estimate
    return funnel_plot(
        [e.yi for e in effects],
        [e.se for e in effects],
        estimate=estimate,
        filled_yi=filled_yi,
        filled_sei=filled_sei,
        egger_p=report.egger.p if report.egger is not None else None,
        labels=[e.label for e in effects],
        title=f"{report.input.title}: {report.input.main.label}",
        # the funnel stays on the analysis scale (log ratios), as metafor's funnel()
        effect_label=(
            f"Log {report.input.effect_label.lower()}"
            if report.settings.measure in measures.RATIOS
            else report.input.effect_label
        ),
    )


def bubble_figure(report: Report) -> Figure:
    """Bubble plot of the model section: effect sizes against its first continuous
    moderator, the fitted line (other numeric moderators at their mean, factors at their
    reference level) and its confidence band; point area by inverse sampling variance."""
    from .plots import bubble_plot

    section = report.model
    if section is None or section.result is None:
        raise FigureError(section.error if section else "This analysis has no meta-regression.")
    mod = section.bubble
    if mod is None:
        raise FigureError("A bubble plot needs a continuous (numeric) moderator.")
    res = section.result
    x = np.array([e.values[mod.key] for e in section.effects], dtype=float)
    y = np.array([e.yi for e in section.effects])
    w = 1 / np.array([e.vi for e in section.effects])
    means = {
        m.key: float(np.mean([e.values[m.key] for e in section.effects]))
        for m in section.moderators
        if m.kind == "numeric"
    }
    grid = np.linspace(x.min(), x.max(), 60) if np.ptp(x) > 0 else np.array([x.min()])
    rows = []
    for g in grid:
        row = []
        for name in res.names:
            if name == "intrcpt":
                row.append(1.0)
            elif name == mod.key:
                row.append(float(g))
            elif name in means:
                row.append(means[name])
            else:
                row.append(0.0)  # a factor's dummy: its reference level
        rows.append(row)
    Xg = np.array(rows)
    b = np.array(res.b)
    vb = np.array(res.vb)
    pred = Xg @ b
    se = np.sqrt(np.einsum("ij,jk,ik->i", Xg, vb, Xg))
    j = res.names.index(mod.key)
    df = res.df[j] if res.df is not None else None
    alpha = 1 - res.level / 100
    from scipy import stats

    crit = float(stats.t.isf(alpha / 2, df) if df is not None else stats.norm.isf(alpha / 2))
    model = "three-level model" if section.kind == "three_level" else "meta-regression"
    caption = (
        f"{len(y)} effect sizes; line: {model} prediction with its {res.level:g}% CI"
        + (" (cluster-robust CR2)" if section.robust else "")
        + "; point area proportional to the inverse sampling variance."
    )
    return bubble_plot(
        x,
        y,
        w,
        line_x=grid,
        line_y=pred,
        band_low=pred - crit * se,
        band_high=pred + crit * se,
        x_label=mod.label,
        # yi on the analysis scale: the log of a ratio
        effect_label=section.scale[0].upper() + section.scale[1:],
        caption=caption,
    )
