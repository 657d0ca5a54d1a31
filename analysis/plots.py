"""Forest and funnel plots for meta-analysis reports.

The functions take plain data (the small dataclasses below, or arrays) so they do not
depend on the statistics engine's result classes. Figures are built on
:class:`matplotlib.figure.Figure` directly, never through ``pyplot``, so no global figure
state is shared between threads (Django serves requests from several threads).

The layout follows the forest plots of R's ``meta::forest`` and ``metafor::forest``:
study labels on the left, squares sized by weight with confidence-interval lines, the
pooled diamond, the prediction interval as a bar below it, aligned "estimate [95% CI]"
and weight columns on the right, and the heterogeneity statistics in the footer.

References
----------
Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw
2010;36(3):1-48. doi:10.18637/jss.v036.i03

Balduzzi S, Rücker G, Schwarzer G. How to perform a meta-analysis with R: a practical
tutorial. Evid Based Ment Health 2019;22:153-160. doi:10.1136/ebmental-2019-300117

Sterne JAC, Egger M. Funnel plots for detecting bias in meta-analysis: guidelines on
choice of axis. J Clin Epidemiol 2001;54:1046-1055. doi:10.1016/S0895-4356(01)00377-8
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator
from matplotlib.transforms import blended_transform_factory, offset_copy

__all__ = [
    "ForestRow",
    "PooledSummary",
    "SubgroupBlock",
    "SubgroupDifference",
    "PlotInputError",
    "forest_plot",
    "funnel_plot",
    "bubble_plot",
    "figure_to_bytes",
    "format_estimate",
    "format_p",
]

FONT_FAMILY = "DejaVu Sans"
FONT_SIZE = 9.0  # points
SMALL_FONT_SIZE = 8.0
ROW_HEIGHT = 0.22  # inches per forest-plot row
PANEL_WIDTH = 3.1  # inches for the graphical panel
MAX_LABEL_WIDTH = 3.2  # inches; longer labels are shortened with an ellipsis
SQUARE_MAX_SIDE = 11.0  # points, for the largest weight
SQUARE_MIN_SIDE = 3.5  # points, so tiny weights stay visible
SQUARE_COLOR = "#3b4f6b"
CI_COLOR = "#111111"
DIAMOND_COLOR = "#1f2a3a"
PI_COLOR = "#c0392b"
GRID_GRAY = "#9a9a9a"
MINUS = "\u2212"  # typographic minus, as journals print it
# Ratio axes are labelled at these values (those inside the limits), as metafor's atransf=exp
LOG_TICKS = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20, 50, 100)


class PlotInputError(ValueError):
    """Raised when plot data is missing, non-finite or inconsistent."""


@dataclass(frozen=True)
class ForestRow:
    """One study line of a forest plot; ``weight_percent`` in percent (0-100) or None."""

    label: str
    estimate: float
    ci_low: float
    ci_high: float
    weight_percent: float | None = None
    cells: tuple[str, ...] = ()  # texts of the extra study columns, e.g. "12/40" per arm


@dataclass(frozen=True)
class PooledSummary:
    """A pooled estimate drawn as a diamond, with the statistics printed in the footer.

    ``I2`` is in percent (0-100), as metafor reports it; ``pi_low``/``pi_high`` bound the
    95% prediction interval (None for fixed-effect models). ``method_text`` is printed
    verbatim under the heterogeneity line, e.g. "Random-effects model (REML),
    Hartung-Knapp adjustment".
    """

    label: str
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float | None = None
    pi_high: float | None = None
    k: int | None = None
    tau2: float | None = None
    I2: float | None = None  # noqa: N815 - the statistic's conventional name
    Q: float | None = None  # noqa: N815
    Q_df: int | None = None  # noqa: N815
    Q_p: float | None = None  # noqa: N815
    method_text: str = ""


@dataclass(frozen=True)
class SubgroupBlock:
    """A block of studies with its own header and (optionally) its own diamond."""

    label: str
    rows: tuple[ForestRow, ...]
    pooled: PooledSummary | None = None


@dataclass(frozen=True)
class SubgroupDifference:
    """Test for subgroup differences (Q-between), printed in the footer."""

    Q: float  # noqa: N815
    df: int
    p: float


# ---------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def format_estimate(value: float, digits: int = 2) -> str:
    """Format a number as journals print it (fixed decimals, typographic minus)."""
    text = f"{value:.{digits}f}"
    if float(text) == 0:  # avoid "-0.00"
        text = text.lstrip("-")
    return _minus(text)


def format_p(p: float) -> str:
    """Format a p value: ``< 0.001``, three decimals below 0.01, else two."""
    if p < 0.001:
        return "< 0.001"
    if p < 0.01:
        return f"= {p:.3f}"
    return f"= {p:.2f}"


def _format_tau2(tau2: float) -> str:
    if tau2 == 0:
        return "0"
    return f"{tau2:.4f}" if tau2 < 0.01 else f"{tau2:.2f}"


def _heterogeneity_text(p: PooledSummary, *, short: bool = False) -> str:
    parts = []
    if p.tau2 is not None:
        parts.append(f"τ² = {_format_tau2(p.tau2)}")
    if p.I2 is not None:
        parts.append(f"I² = {round(p.I2):d}%")
    if p.Q is not None and not short:
        q = f"Q = {p.Q:.2f}"
        if p.Q_df is not None:
            q += f" (df = {p.Q_df})"
        parts.append(q)
    if p.Q_p is not None:
        parts.append(f"p {format_p(p.Q_p)}")
    return ("Heterogeneity: " + "; ".join(parts)) if parts else ""


# ---------------------------------------------------------------------------------------
# Validation and text measurement
# ---------------------------------------------------------------------------------------


def _finite(value: float | None, what: str) -> None:
    if value is None or not math.isfinite(value):
        raise PlotInputError(f"{what} must be a finite number, got {value!r}")


def _check_interval(label: str, est: float, lo: float, hi: float) -> None:
    _finite(est, f"estimate of '{label}'")
    _finite(lo, f"lower CI bound of '{label}'")
    _finite(hi, f"upper CI bound of '{label}'")
    if not lo <= est <= hi:
        raise PlotInputError(
            f"'{label}': the confidence interval [{lo}, {hi}] does not contain the estimate {est}"
        )


def _check_row(row: ForestRow) -> None:
    if not str(row.label).strip():
        raise PlotInputError("every forest-plot row needs a label")
    _check_interval(row.label, row.estimate, row.ci_low, row.ci_high)
    if row.weight_percent is not None and (
        not math.isfinite(row.weight_percent) or row.weight_percent < 0
    ):
        raise PlotInputError(f"'{row.label}': weight must be a non-negative percentage")


def _check_pooled(p: PooledSummary) -> None:
    _check_interval(p.label, p.estimate, p.ci_low, p.ci_high)
    if (p.pi_low is None) != (p.pi_high is None):
        raise PlotInputError(f"'{p.label}': give both prediction-interval bounds or neither")
    if p.pi_low is not None:
        _finite(p.pi_low, "prediction interval lower bound")
        _finite(p.pi_high, "prediction interval upper bound")


def _text_width_in(text: str, size: float = FONT_SIZE, bold: bool = False) -> float:
    """Width of ``text`` in inches; get_font caches one FT2Font per thread."""
    prop = FontProperties(family=FONT_FAMILY, size=size, weight="bold" if bold else "normal")
    font = get_font(findfont(prop))
    font.set_size(size, 72)
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64 / 72 * 1.02


def _shorten(text: str, max_in: float, size: float = FONT_SIZE) -> str:
    text = " ".join(str(text).split())
    if _text_width_in(text, size) <= max_in:
        return text
    while text and _text_width_in(text + "…", size) > max_in:
        text = text[:-1]
    return text.rstrip() + "…"


def _text_kw(size: float = FONT_SIZE, **kw) -> dict:
    # parse_math=False: user labels containing "$" must not be read as mathtext.
    return {"fontfamily": FONT_FAMILY, "fontsize": size, "parse_math": False, **kw}


# ---------------------------------------------------------------------------------------
# Forest plot
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    kind: str  # header, study, block, pooled, pi, het, blank
    label: str = ""
    row: ForestRow | None = None
    pooled: PooledSummary | None = None
    weight: float | None = None
    text: str = ""
    overall: bool = False


def _nice_limits(values: Sequence[float], core: Sequence[float]) -> tuple[float, float]:
    """x limits covering ``core`` fully and ``values`` (CI ends) up to a bounded spread.

    A single very wide CI would otherwise squash every other study into a sliver; its
    line is clipped and ends in an arrow instead, as metafor does.
    """
    lo_core, hi_core = min(core), max(core)
    span = max(hi_core - lo_core, 0.2)
    lo = max(min(values), lo_core - 0.75 * span)
    hi = min(max(values), hi_core + 0.75 * span)
    pad = 0.04 * (hi - lo)
    locator = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])
    ticks = locator.tick_values(lo - pad, hi + pad)
    # Snap to a tick when it costs little room, so the axis ends on a labelled value.
    tick_lo = max((t for t in ticks if t <= lo), default=lo - pad)
    tick_hi = min((t for t in ticks if t >= hi), default=hi + pad)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    lo_lim = tick_lo if lo - tick_lo < 0.5 * step else lo - pad
    hi_lim = tick_hi if tick_hi - hi < 0.5 * step else hi + pad
    return float(lo_lim), float(hi_lim)


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ratios from LOG_TICKS inside [lo, hi] (log units), walking out from 1 and skipping
    any closer than 1/9 of the axis to the previous one, so labels never overlap."""
    inside = [r for r in LOG_TICKS if lo <= math.log(r) <= hi]
    min_gap = (hi - lo) / 9
    kept: list[float] = []
    for side in ([r for r in inside if r >= 1], sorted((r for r in inside if r < 1), reverse=True)):
        last = 0.0 if 1 in inside else None
        for r in side:
            if r == 1 or last is None or abs(math.log(r) - last) >= min_gap:
                kept.append(r)
                last = math.log(r)
    return sorted(set(kept))


def forest_plot(
    rows: Sequence[ForestRow],
    pooled: PooledSummary | None,
    *,
    subgroups: Sequence[SubgroupBlock] | None = None,
    effect_label: str = "Hedges' g",
    favours: tuple[str, str] | None = ("Favours control", "Favours intervention"),
    title: str | None = None,
    estimate_header: str | None = None,
    subgroup_difference: SubgroupDifference | None = None,
    null_value: float | None = 0.0,
    xlim: tuple[float, float] | None = None,
    log_scale: bool = False,
    study_columns: Sequence[str] = (),
) -> Figure:
    """Draw a forest plot.

    Parameters
    ----------
    rows : sequence of ForestRow
        Studies, drawn in the given order. With ``subgroups``, pass the studies inside the
        blocks instead and leave ``rows`` empty (or pass the same studies again).
    pooled : PooledSummary or None
        Overall estimate drawn as a diamond under the studies, with its prediction
        interval and heterogeneity footer.
    subgroups : sequence of SubgroupBlock, optional
        Blocks drawn one after another, each with a header and its own diamond.
    effect_label : str
        x-axis label; its last word (if short, e.g. "g") heads the estimate column
        unless ``estimate_header`` is given.
    favours : (left, right) or None
        Labels printed under the axis on either side of the null line.
    title : str, optional
        Bold title above the plot.
    subgroup_difference : SubgroupDifference, optional
        Q-between test printed in the footer.
    null_value : float or None
        Position of the vertical line of no effect (None to omit).
    xlim : (float, float), optional
        Override the automatic x limits; CIs beyond them end in arrows.
    log_scale : bool
        Estimates are log ratios (log OR, log RR): the axis is labelled with the ratios
        at 0.25, 0.5, 1, 2, 4 ... and the text columns print exp(estimate).
    study_columns : sequence of str
        Headers of extra columns between the labels and the panel (e.g. events/total
        per arm); each row gives their texts in ``ForestRow.cells``.

    Returns
    -------
    matplotlib.figure.Figure
        Height grows with the number of rows, so 30+ studies stay readable.
    """
    rows = tuple(rows)
    blocks = tuple(subgroups or ())
    if blocks:
        block_rows = [r for b in blocks for r in b.rows]
        if rows and sorted(r.label for r in rows) != sorted(r.label for r in block_rows):
            raise PlotInputError(
                "with subgroups, rows must be empty or list the same studies as the blocks"
            )
        for b in blocks:
            if not b.rows:
                raise PlotInputError(f"subgroup '{b.label}' has no studies")
            if b.pooled is not None:
                _check_pooled(b.pooled)
        rows_to_check = block_rows
    else:
        rows_to_check = list(rows)
    if not rows_to_check:
        raise PlotInputError("a forest plot needs at least one study")
    for r in rows_to_check:
        _check_row(r)
    if pooled is not None:
        _check_pooled(pooled)
    if xlim is not None and not xlim[0] < xlim[1]:
        raise PlotInputError(f"xlim must be increasing, got {xlim}")

    # ---- rows, top to bottom -------------------------------------------------------
    lines: list[_Line] = [_Line("header")]
    if blocks:
        for i, b in enumerate(blocks):
            if i:
                lines.append(_Line("blank"))
            lines.append(_Line("block", label=b.label))
            lines.extend(_Line("study", row=r) for r in b.rows)
            if b.pooled is not None:
                weights = [r.weight_percent for r in b.rows if r.weight_percent is not None]
                lines.append(
                    _Line("pooled", pooled=b.pooled, weight=sum(weights) if weights else None)
                )
                het = _heterogeneity_text(b.pooled, short=True)
                if het:
                    lines.append(_Line("het", text=het))
    else:
        lines.extend(_Line("study", row=r) for r in rows)
    if pooled is not None:
        lines.append(_Line("blank"))
        # The overall model carries all the weight by definition, even when the rows
        # hold within-subgroup weights.
        has_w = any(r.weight_percent is not None for r in rows_to_check)
        lines.append(_Line("pooled", pooled=pooled, weight=100.0 if has_w else None, overall=True))
        if pooled.pi_low is not None:
            lines.append(_Line("pi", pooled=pooled))

    # ---- text columns (inches) ----------------------------------------------------
    est_head = estimate_header
    if est_head is None:
        last = effect_label.split()[-1] if effect_label.split() else effect_label
        est_head = last if len(last) <= 3 else effect_label
    est_head = f"{est_head} [95% CI]"

    def label_of(line: _Line) -> tuple[str, bool]:
        if line.kind == "study":
            return line.row.label, False
        if line.kind == "block":
            return line.label, True
        if line.kind == "pooled":
            return line.pooled.label, True
        if line.kind == "pi":
            return "Prediction interval", False
        return "", False

    label_texts = {}
    for i, line in enumerate(lines):
        text, bold = label_of(line)
        if text:
            indent = (
                0.12 if (blocks and line.kind in ("study", "pooled") and not line.overall) else 0
            )
            label_texts[i] = (_shorten(text, MAX_LABEL_WIDTH - indent), bold, indent)
    label_w = max(
        [_text_width_in("Study", bold=True)]
        + [_text_width_in(t, bold=b) + ind for t, b, ind in label_texts.values()]
    )

    def shown(value: float) -> str:
        return format_estimate(math.exp(value) if log_scale else value)

    def ci_parts(est: float | None, lo: float, hi: float) -> tuple[str, str, str]:
        e = shown(est) if est is not None else ""
        return e, f"[{shown(lo)},", f"{shown(hi)}]"

    ci_texts: dict[int, tuple[tuple[str, str, str], bool]] = {}
    for i, line in enumerate(lines):
        if line.kind == "study":
            r = line.row
            ci_texts[i] = (ci_parts(r.estimate, r.ci_low, r.ci_high), False)
        elif line.kind == "pooled":
            p = line.pooled
            ci_texts[i] = (ci_parts(p.estimate, p.ci_low, p.ci_high), True)
        elif line.kind == "pi":
            p = line.pooled
            ci_texts[i] = (ci_parts(None, p.pi_low, p.pi_high), False)
    widths = [0.0, 0.0, 0.0]
    for parts, bold in ci_texts.values():
        for j, part in enumerate(parts):
            widths[j] = max(widths[j], _text_width_in(part, bold=bold))
    space = _text_width_in(" ")
    ci_col_w = max(sum(widths) + 2 * space, _text_width_in(est_head, bold=True))
    weight_col_w = max(_text_width_in("Weight", bold=True), _text_width_in("100.0%", bold=True))
    has_weights = any(r.weight_percent is not None for r in rows_to_check)

    margin, gap = 0.15, 0.22
    x_label = margin
    study_columns = tuple(study_columns)
    for r in rows_to_check:
        if r.cells and len(r.cells) != len(study_columns):
            raise PlotInputError(
                f"{r.label}: {len(r.cells)} column texts, expected {len(study_columns)}"
            )
    col_ws = [
        max(
            [_text_width_in(h, bold=True)]
            + [_text_width_in(r.cells[j]) for r in rows_to_check if r.cells]
        )
        for j, h in enumerate(study_columns)
    ]
    col_rights = []
    x_cols = x_label + label_w
    for w in col_ws:
        x_cols += gap + w
        col_rights.append(x_cols)
    x_panel = x_cols + gap
    x_ci_right = x_panel + PANEL_WIDTH + gap + ci_col_w
    x_weight_right = x_ci_right + gap + weight_col_w
    fig_w = (x_weight_right if has_weights else x_ci_right) + margin

    footer_lines: list[tuple[str, str]] = []  # (text, style)
    if pooled is not None:
        het = _heterogeneity_text(pooled)
        if het:
            footer_lines.append((het, "normal"))
    if subgroup_difference is not None:
        sd = subgroup_difference
        footer_lines.append(
            (
                f"Test for subgroup differences: Q = {sd.Q:.2f} (df = {sd.df}), p {format_p(sd.p)}",
                "normal",
            )
        )
    if pooled is not None and pooled.method_text:
        wrap_chars = max(int(fig_w / (SMALL_FONT_SIZE * 0.55 / 72)), 40)
        footer_lines.extend((t, "method") for t in textwrap.wrap(pooled.method_text, wrap_chars))

    top = margin + (0.35 if title else 0.0)
    n = len(lines)
    rows_h = n * ROW_HEIGHT
    axis_h = 0.42  # tick labels + axis label
    favours_h = 0.2 if favours else 0.0
    footer_h = 0.08 + len(footer_lines) * 0.19
    fig_h = top + rows_h + axis_h + favours_h + footer_h + margin

    fig = Figure(figsize=(fig_w, fig_h))
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(
        (x_panel / fig_w, 1 - (top + rows_h) / fig_h, PANEL_WIDTH / fig_w, rows_h / fig_h)
    )
    ax.set_ylim(n - 0.5, -0.5)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=FONT_SIZE, labelfontfamily=FONT_FAMILY, length=3.5)
    ax.set_xlabel(effect_label, **_text_kw())
    ax.patch.set_alpha(0)

    # x range
    ci_values = [v for r in rows_to_check for v in (r.ci_low, r.ci_high)]
    core = [r.estimate for r in rows_to_check]
    diamonds = [pooled] if pooled else []
    diamonds += [b.pooled for b in blocks if b.pooled is not None]
    for p in diamonds:
        core += [p.ci_low, p.ci_high]
        if p.pi_low is not None:
            core += [p.pi_low, p.pi_high]
    if null_value is not None:
        core.append(null_value)
    lo_lim, hi_lim = xlim if xlim is not None else _nice_limits(ci_values + core, core)
    if log_scale and xlim is None:
        # widen to the labelled ratios just outside, so the axis ends on 0.25, 0.5, 2, 4...
        lo_lim = max((math.log(t) for t in LOG_TICKS if math.log(t) <= lo_lim), default=lo_lim)
        hi_lim = min((math.log(t) for t in LOG_TICKS if math.log(t) >= hi_lim), default=hi_lim)
    ax.set_xlim(lo_lim, hi_lim)
    if log_scale:
        ratios = _log_ticks(lo_lim, hi_lim)
        ax.xaxis.set_major_locator(FixedLocator([math.log(r) for r in ratios]))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{r:g}" for r in ratios]))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))

    fig_x = blended_transform_factory(fig.transFigure, ax.transData)

    def at_x(inches: float) -> float:
        return inches / fig_w

    # Header and rules
    header_y = 0
    ax.text(
        at_x(x_label),
        header_y,
        "Study",
        transform=fig_x,
        va="center",
        ha="left",
        **_text_kw(fontweight="bold"),
    )
    ax.text(
        at_x(x_ci_right),
        header_y,
        est_head,
        transform=fig_x,
        va="center",
        ha="right",
        **_text_kw(fontweight="bold"),
    )
    for head, right in zip(study_columns, col_rights, strict=True):
        ax.text(
            at_x(right),
            header_y,
            head,
            transform=fig_x,
            va="center",
            ha="right",
            **_text_kw(fontweight="bold"),
        )
    if has_weights:
        ax.text(
            at_x(x_weight_right),
            header_y,
            "Weight",
            transform=fig_x,
            va="center",
            ha="right",
            **_text_kw(fontweight="bold"),
        )
    rule_right = at_x(x_weight_right if has_weights else x_ci_right)
    for y in (0.5,):
        ax.add_line(
            Line2D(
                [at_x(x_label), rule_right],
                [y, y],
                transform=fig_x,
                color="black",
                linewidth=0.6,
                clip_on=False,
            )
        )

    # Null line spans the study rows only (not the header).
    last_row = n - 1
    if null_value is not None and lo_lim <= null_value <= hi_lim:
        ax.plot(
            [null_value, null_value],
            [0.5, last_row + 0.5],
            color=GRID_GRAY,
            linewidth=0.8,
            zorder=1,
        )
    if pooled is not None and lo_lim <= pooled.estimate <= hi_lim:
        # Dotted reference line at the pooled estimate, as in meta::forest.
        ax.plot(
            [pooled.estimate, pooled.estimate],
            [0.5, last_row + 0.5],
            color=GRID_GRAY,
            linewidth=0.8,
            linestyle=(0, (2, 2)),
            zorder=1,
        )

    # Study squares (area proportional to weight) and CI lines.
    weights = [r.weight_percent for r in rows_to_check if r.weight_percent is not None]
    w_max = max(weights) if weights else 0.0
    sq_x, sq_y, sq_s = [], [], []
    for i, line in enumerate(lines):
        if line.kind != "study":
            continue
        r = line.row
        lo, hi = max(r.ci_low, lo_lim), min(r.ci_high, hi_lim)
        ax.plot([lo, hi], [i, i], color=CI_COLOR, linewidth=0.9, zorder=2, solid_capstyle="butt")
        for clipped, end, marker in (
            (r.ci_low < lo_lim, lo_lim, "<"),
            (r.ci_high > hi_lim, hi_lim, ">"),
        ):
            if clipped:
                ax.plot(
                    [end],
                    [i],
                    marker=marker,
                    color=CI_COLOR,
                    markersize=4.5,
                    zorder=3,
                    clip_on=False,
                )
        if lo_lim <= r.estimate <= hi_lim:
            if r.weight_percent is not None and w_max > 0:
                side = max(SQUARE_MAX_SIDE * math.sqrt(r.weight_percent / w_max), SQUARE_MIN_SIDE)
            else:
                side = 5.0
            sq_x.append(r.estimate)
            sq_y.append(i)
            sq_s.append(side**2)
    ax.scatter(sq_x, sq_y, s=sq_s, marker="s", color=SQUARE_COLOR, linewidths=0, zorder=4)

    # Diamonds, prediction interval, and text columns.
    trans_ci = [
        at_x(x_ci_right - widths[2] - widths[1] - 2 * space),
        at_x(x_ci_right - widths[2] - space),
        at_x(x_ci_right),
    ]
    for i, line in enumerate(lines):
        if i in label_texts:
            text, bold, indent = label_texts[i]
            ax.text(
                at_x(x_label + indent),
                i,
                text,
                transform=fig_x,
                va="center",
                ha="left",
                **_text_kw(fontweight="bold" if bold else "normal"),
            )
        if i in ci_texts:
            parts, bold = ci_texts[i]
            for j, part in enumerate(parts):
                if part:
                    ax.text(
                        trans_ci[j],
                        i,
                        part,
                        transform=fig_x,
                        va="center",
                        ha="right",
                        **_text_kw(fontweight="bold" if bold else "normal"),
                    )
        if line.kind == "study":
            for text, right in zip(line.row.cells, col_rights, strict=False):
                ax.text(
                    at_x(right), i, text, transform=fig_x, va="center", ha="right", **_text_kw()
                )
        if has_weights and line.kind == "study" and line.row.weight_percent is not None:
            ax.text(
                at_x(x_weight_right),
                i,
                f"{line.row.weight_percent:.1f}%",
                transform=fig_x,
                va="center",
                ha="right",
                **_text_kw(),
            )
        if line.kind == "pooled":
            p = line.pooled
            half = 0.34
            ax.add_patch(
                Polygon(
                    [(p.ci_low, i), (p.estimate, i - half), (p.ci_high, i), (p.estimate, i + half)],
                    closed=True,
                    facecolor=DIAMOND_COLOR if line.overall else "#7f8c9d",
                    edgecolor=DIAMOND_COLOR,
                    linewidth=0.8,
                    zorder=4,
                )
            )
            if has_weights and line.weight is not None:
                ax.text(
                    at_x(x_weight_right),
                    i,
                    f"{line.weight:.1f}%",
                    transform=fig_x,
                    va="center",
                    ha="right",
                    **_text_kw(fontweight="bold"),
                )
        elif line.kind == "pi":
            p = line.pooled
            lo, hi = max(p.pi_low, lo_lim), min(p.pi_high, hi_lim)
            ax.add_patch(
                Polygon(
                    [(lo, i - 0.1), (hi, i - 0.1), (hi, i + 0.1), (lo, i + 0.1)],
                    closed=True,
                    facecolor=PI_COLOR,
                    edgecolor=PI_COLOR,
                    linewidth=0.6,
                    zorder=3,
                )
            )
        elif line.kind == "het":
            ax.text(
                at_x(x_label + 0.12),
                i,
                line.text,
                transform=fig_x,
                va="center",
                ha="left",
                **_text_kw(SMALL_FONT_SIZE, color="#333333"),
            )

    # Favours labels under the axis label, either side of the null line.
    if favours and null_value is not None:
        x_null = min(max(null_value, lo_lim), hi_lim)
        base = blended_transform_factory(ax.transData, ax.transAxes)
        y_off = -(axis_h + 0.1) * 72
        left_tr = offset_copy(base, fig=fig, x=-4, y=y_off, units="points")
        right_tr = offset_copy(base, fig=fig, x=4, y=y_off, units="points")
        ax.text(
            x_null,
            0,
            f"\u2190 {favours[0]}",
            transform=left_tr,
            ha="right",
            va="center",
            **_text_kw(SMALL_FONT_SIZE),
        )
        ax.text(
            x_null,
            0,
            f"{favours[1]} \u2192",
            transform=right_tr,
            ha="left",
            va="center",
            **_text_kw(SMALL_FONT_SIZE),
        )

    # Footer
    y_in = top + rows_h + axis_h + favours_h + 0.12
    for text, style in footer_lines:
        fig.text(
            at_x(x_label),
            1 - y_in / fig_h,
            text,
            ha="left",
            va="top",
            **_text_kw(
                SMALL_FONT_SIZE if style == "method" else FONT_SIZE - 0.5,
                color="#444444" if style == "method" else "black",
            ),
        )
        y_in += 0.19
    if title:
        fig.text(
            at_x(x_label),
            1 - margin / fig_h,
            title,
            ha="left",
            va="top",
            **_text_kw(FONT_SIZE + 2, fontweight="bold"),
        )
    return fig


# ---------------------------------------------------------------------------------------
# Funnel plot
# ---------------------------------------------------------------------------------------


def _as_array(values: Sequence[float] | None, name: str) -> np.ndarray:
    arr = np.asarray(values if values is not None else [], dtype=float)
    if arr.ndim != 1:
        raise PlotInputError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(arr)):
        raise PlotInputError(f"{name} contains missing or non-finite values")
    return arr


def funnel_plot(
    yi: Sequence[float],
    sei: Sequence[float],
    *,
    estimate: float,
    filled_yi: Sequence[float] | None = None,
    filled_sei: Sequence[float] | None = None,
    egger_p: float | None = None,
    labels: Sequence[str] | None = None,
    effect_label: str = "Hedges' g",
    title: str | None = None,
) -> Figure:
    """Draw a funnel plot: effect sizes against standard error (inverted axis).

    Parameters
    ----------
    yi, sei : sequences of float
        Observed effect sizes and their standard errors (> 0).
    estimate : float
        Pooled estimate; the funnel (pseudo 95% confidence limits,
        ``estimate ± 1.96·SE``) is centred on it. Pass the trim-and-fill adjusted
        estimate when drawing filled studies, as metafor does.
    filled_yi, filled_sei : sequences of float, optional
        Studies imputed by trim-and-fill, drawn as open circles.
    egger_p : float, optional
        p value of Egger's regression test, printed in the caption.
    labels : sequence of str, optional
        Study labels printed next to the observed points.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = _as_array(yi, "yi")
    se = _as_array(sei, "sei")
    if y.size == 0:
        raise PlotInputError("a funnel plot needs at least one study")
    if y.shape != se.shape:
        raise PlotInputError(f"yi has {y.size} values but sei has {se.size}")
    if np.any(se <= 0):
        raise PlotInputError("sei must be positive")
    fy = _as_array(filled_yi, "filled_yi")
    fse = _as_array(filled_sei, "filled_sei")
    if fy.shape != fse.shape:
        raise PlotInputError(f"filled_yi has {fy.size} values but filled_sei has {fse.size}")
    if np.any(fse <= 0):
        raise PlotInputError("filled_sei must be positive")
    _finite(estimate, "estimate")
    if labels is not None and len(labels) != y.size:
        raise PlotInputError(f"labels has {len(labels)} entries but there are {y.size} studies")
    if egger_p is not None and not 0 <= egger_p <= 1:
        raise PlotInputError(f"egger_p must be a probability, got {egger_p}")

    se_all = np.concatenate([se, fse])
    se_max = float(se_all.max())
    ticks = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(0, se_max * 1.02)
    se_top = float(ticks[ticks >= se_max * 1.02][0]) if np.any(ticks >= se_max * 1.02) else se_max

    caption = []
    caption.append(
        "Dashed lines: pseudo 95% confidence limits (estimate \u00b1 1.96 \u00d7 SE); "
        "solid line: pooled estimate."
    )
    if fy.size:
        noun = "study" if fy.size == 1 else "studies"
        caption.append(f"Open circles: {fy.size} {noun} imputed by trim-and-fill.")
    if egger_p is not None:
        # No-break spaces keep "p = 0.04" on one caption line.
        p_text = f"p {format_p(egger_p)}".replace(" ", "\u00a0")
        caption.append(f"Egger's regression test for funnel plot asymmetry: {p_text}.")
    fig_w = 6.0
    left, right = 0.8, 0.25
    cap_chars = int((fig_w - left - right) * 72 / (SMALL_FONT_SIZE * 0.56))
    cap_lines = textwrap.wrap(" ".join(caption), cap_chars)
    cap_h = 0.1 + 0.17 * len(cap_lines)
    ax_h = 3.8
    top = 0.5 if title else (0.35 if fy.size else 0.15)
    bottom_axis = 0.6
    fig_h = top + ax_h + bottom_axis + cap_h + 0.1
    fig = Figure(figsize=(fig_w, fig_h))
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(
        (
            (left / fig_w),
            (bottom_axis + cap_h + 0.1) / fig_h,
            (fig_w - left - right) / fig_w,
            ax_h / fig_h,
        )
    )
    z = 1.959963984540054  # normal 97.5% quantile
    half = z * se_top
    x_vals = np.concatenate([y, fy, [estimate - half, estimate + half]])
    pad = 0.06 * float(x_vals.max() - x_vals.min())
    ax.set_xlim(float(x_vals.min()) - pad, float(x_vals.max()) + pad)
    ax.set_ylim(se_top, 0)

    # metafor's default look: grey background, white funnel interior.
    ax.set_facecolor("#e9e9e9")
    ax.add_patch(
        Polygon(
            [(estimate - half, se_top), (estimate, 0), (estimate + half, se_top)],
            closed=True,
            facecolor="white",
            edgecolor="none",
            zorder=0,
        )
    )
    ax.plot(
        [estimate - half, estimate, estimate + half],
        [se_top, 0, se_top],
        color="#333333",
        linestyle=(0, (4, 3)),
        linewidth=0.9,
        zorder=1,
    )
    ax.plot([estimate, estimate], [0, se_top], color="#333333", linewidth=0.9, zorder=1)
    ax.scatter(y, se, s=26, color="black", zorder=3, label="Observed studies")
    if fy.size:
        ax.scatter(
            fy,
            fse,
            s=26,
            facecolor="white",
            edgecolor="black",
            linewidths=0.9,
            zorder=3,
            label="Imputed (trim-and-fill)",
        )
        # Above the panel, so it never hides a study.
        ax.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=2,
            frameon=False,
            borderaxespad=0.2,
            prop={"family": FONT_FAMILY, "size": SMALL_FONT_SIZE},
        )
    if labels is not None:
        for xi, si, lab in zip(y, se, labels, strict=True):
            ax.annotate(
                _shorten(str(lab), 1.4, 6.5),
                (xi, si),
                xytext=(4, 2),
                textcoords="offset points",
                **_text_kw(6.5, color="#333333"),
            )
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.tick_params(labelsize=FONT_SIZE, labelfontfamily=FONT_FAMILY)
    ax.set_xlabel(effect_label, **_text_kw())
    ax.set_ylabel("Standard error", **_text_kw())
    _finish_scatter(
        fig,
        ax,
        title=title,
        cap_lines=cap_lines,
        left=left,
        caption_top=top + ax_h + bottom_axis + 0.05,
        fig_w=fig_w,
        fig_h=fig_h,
    )
    return fig


def bubble_plot(
    x: Sequence[float],
    yi: Sequence[float],
    weights: Sequence[float],
    *,
    line_x: Sequence[float],
    line_y: Sequence[float],
    band_low: Sequence[float],
    band_high: Sequence[float],
    x_label: str,
    effect_label: str = "Hedges' g",
    caption: str = "",
    title: str | None = None,
) -> Figure:
    """Bubble plot of a meta-regression: effect sizes against a continuous moderator.

    Points are sized by ``weights`` (area proportional), the fitted regression line is
    drawn with its confidence band (``band_low``/``band_high`` along ``line_x``), as
    metafor's ``regplot``.
    """
    xv = _as_array(x, "x")
    yv = _as_array(yi, "yi")
    wv = _as_array(weights, "weights")
    if xv.size == 0:
        raise PlotInputError("a bubble plot needs at least one effect size")
    if not (xv.shape == yv.shape == wv.shape):
        raise PlotInputError("x, yi and weights must have the same length")
    if np.any(wv <= 0):
        raise PlotInputError("weights must be positive")
    lx, ly = _as_array(line_x, "line_x"), _as_array(line_y, "line_y")
    lo, hi = _as_array(band_low, "band_low"), _as_array(band_high, "band_high")
    if not (lx.shape == ly.shape == lo.shape == hi.shape):
        raise PlotInputError("the regression line and its band must have the same length")
    fig_w, left, right = 6.0, 0.8, 0.25
    cap_chars = int((fig_w - left - right) * 72 / (SMALL_FONT_SIZE * 0.56))
    cap_lines = textwrap.wrap(caption, cap_chars) if caption else []
    cap_h = 0.1 + 0.17 * len(cap_lines)
    ax_h, top, bottom_axis = 3.8, (0.5 if title else 0.15), 0.6
    fig_h = top + ax_h + bottom_axis + cap_h + 0.1
    fig = Figure(figsize=(fig_w, fig_h))
    fig.patch.set_facecolor("white")
    ax = fig.add_axes(
        (
            left / fig_w,
            (bottom_axis + cap_h + 0.1) / fig_h,
            (fig_w - left - right) / fig_w,
            ax_h / fig_h,
        )
    )
    ax.fill_between(lx, lo, hi, color="#c9d3e0", alpha=0.7, linewidth=0, zorder=1)
    ax.plot(lx, ly, color=DIAMOND_COLOR, linewidth=1.4, zorder=2)
    area = 20 + 280 * wv / wv.max()
    ax.scatter(
        xv, yv, s=area, facecolor="#8fa3bf", edgecolor=SQUARE_COLOR, linewidths=0.7, zorder=3
    )
    ax.axhline(0, color=GRID_GRAY, linewidth=0.8, linestyle=(0, (2, 2)), zorder=0)
    ax.tick_params(labelsize=FONT_SIZE, labelfontfamily=FONT_FAMILY)
    ax.set_xlabel(x_label, **_text_kw())
    ax.set_ylabel(effect_label, **_text_kw())
    _finish_scatter(
        fig,
        ax,
        title=title,
        cap_lines=cap_lines,
        left=left,
        caption_top=top + ax_h + bottom_axis + 0.05,
        fig_w=fig_w,
        fig_h=fig_h,
    )
    return fig


def _finish_scatter(
    fig: Figure,
    ax: Axes,
    *,
    title: str | None,
    cap_lines: Sequence[str],
    left: float,
    caption_top: float,
    fig_w: float,
    fig_h: float,
) -> None:
    """The funnel and bubble plots' open frame, title and caption lines (sizes in inches)."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        fig.text(
            left / fig_w,
            1 - 0.15 / fig_h,
            title,
            ha="left",
            va="top",
            **_text_kw(FONT_SIZE + 2, fontweight="bold"),
        )
    y_in = caption_top
    for line in cap_lines:
        fig.text(
            left / fig_w,
            1 - y_in / fig_h,
            line,
            ha="left",
            va="top",
            **_text_kw(SMALL_FONT_SIZE, color="#222222"),
        )
        y_in += 0.17


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------

# svg.fonttype is read from the global rcParams at save time; the lock keeps two threads
# of this module from interleaving rc_context enter/exit.
_save_lock = threading.Lock()
_FORMATS = {"svg", "png", "pdf"}


def figure_to_bytes(fig: Figure, fmt: str, *, dpi: int = 200) -> bytes:
    """Serialise ``fig`` as ``svg``, ``png`` or ``pdf``.

    SVG keeps text as ``<text>`` elements (``svg.fonttype = "none"``) so study labels are
    searchable and selectable; output is deterministic (no dates, fixed id salt).
    """
    fmt = fmt.lower()
    if fmt not in _FORMATS:
        raise PlotInputError(f"unsupported format {fmt!r}; choose one of svg, png, pdf")
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {}}[fmt]
    buf = io.BytesIO()
    with _save_lock, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "reviewflow"}):
        fig.savefig(
            buf,
            format=fmt,
            dpi=dpi,
            facecolor="white",
            metadata=metadata,
            bbox_inches="tight",
            pad_inches=0.05,
        )
    return buf.getvalue()
