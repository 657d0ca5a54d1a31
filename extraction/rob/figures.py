"""Risk-of-bias figures drawn as robvis draws them, with matplotlib (Agg, no pyplot).

- :func:`traffic_light`: studies x domains, a coloured circle with a symbol per
  judgement (+ low, − some concerns, × high, ? no information), an overall column
  on grey, domain names and a judgement key underneath.
- :func:`summary_plot`: one horizontal 100 % stacked bar per domain and overall,
  the share (optionally weighted) of studies at each judgement.
- :func:`figure_to_bytes`: SVG (text kept as text), PNG or PDF.
- :func:`robvis_csv`: the table ``robvis::rob_traffic_light(tool = "ROB2")`` reads.

Unlike robvis this copes with "no information" judgements, any number of
domains, long study labels (wrapped to two lines, then truncated with "…") and
any number of studies (the figure grows with the rows).

References
----------
McGuinness LA, Higgins JPT. Risk-of-bias VISualization (robvis): An R package and
Shiny web app for visualizing risk-of-bias assessments. Res Syn Meth. 2021;12:55-61.
Colours and symbols follow robvis ``R/helpers.R`` (``get_colour``) and
``R/rob_traffic_light.R``.
"""

from __future__ import annotations

import csv
import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from .algorithm import FIGURE_JUDGEMENTS

# matplotlib is imported in the functions that draw (every figure gets an explicit Agg
# canvas; pyplot, its global figure registry and backend switching, is never imported):
# this module is imported by the app's views at start-up, and matplotlib added ~30 MB to
# every web and worker process that never draws a figure.
if TYPE_CHECKING:
    from matplotlib.figure import Figure


__all__ = [
    "PALETTES",
    "ROBVIS_LABELS",
    "SYMBOLS",
    "RobFigureError",
    "figure_to_bytes",
    "robvis_csv",
    "summary_plot",
    "traffic_light",
]

Row = tuple[str, Mapping[str, str], str]


class RobFigureError(ValueError):
    """Input a risk-of-bias figure cannot be drawn from."""


#: robvis colours for the RoB 2 judgements ("cochrane" and "colourblind" presets).
PALETTES: Final[dict[str, dict[str, str]]] = {
    "cochrane": {
        "low": "#02C100",
        "some_concerns": "#E2DF07",
        "high": "#BF0000",
        "no_information": "#4EA1F7",
    },
    "colourblind": {
        "low": "#fed98e",
        "some_concerns": "#fe9929",
        "high": "#d95f0e",
        "no_information": "#ffffff",
    },
}
#: Symbols drawn in each circle, so the judgement reads without colour too.
SYMBOLS: Final[dict[str, str]] = {
    "low": "+",
    "some_concerns": "\u2212",  # minus sign
    "high": "\u00d7",  # multiplication sign
    "no_information": "?",
}
#: Judgement spelling in robvis data and legends.
ROBVIS_LABELS: Final[dict[str, str]] = {
    "low": "Low",
    "some_concerns": "Some concerns",
    "high": "High",
    "no_information": "No information",
}
_LEGEND_ORDER: Final = ("high", "some_concerns", "low", "no_information")  # as robvis

# Traffic-light geometry, in inches.
_CELL: Final = 0.42
_RADIUS: Final = 0.165
_LABEL_CHARS: Final = 32  # wrap width of study labels
_LABEL_LINES: Final = 2
_CHAR_W: Final = 0.068  # average glyph width of 9 pt DejaVu Sans
_LINE_H: Final = 0.19
_MARGIN: Final = 0.15
_OVERALL_BG: Final = "#d3d3d3"
_HEADER_BG: Final = "#a9a9a9"
_GRID: Final = "#c8c8c8"
# PNG sides are limited to 2**16 pixels, and a raster of a few hundred studies
# at print resolution would need gigabytes: cap the side and the area.
_MAX_SIDE_PX: Final = 32000
_MAX_AREA_PX: Final = 40_000_000


# --- validation ----------------------------------------------------------------


def _palette(name: str) -> dict[str, str]:
    key = "colourblind" if name == "colorblind" else name
    try:
        return PALETTES[key]
    except KeyError:
        raise RobFigureError(
            f"Unknown palette {name!r}; expected one of {', '.join(PALETTES)}."
        ) from None


def _check(rows: Sequence[Row], domains: Sequence[tuple[str, str]]) -> None:
    if not domains:
        raise RobFigureError("At least one domain is needed.")
    ids = [d for d, _ in domains]
    if len(set(ids)) != len(ids):
        raise RobFigureError(f"Domain ids must be unique, got {ids}.")
    if not rows:
        raise RobFigureError("There are no studies to plot.")
    for label, judgements, overall in rows:
        if not str(label).strip():
            raise RobFigureError("Every study needs a label.")
        extra = sorted(set(judgements) - set(ids))
        if extra:
            raise RobFigureError(f"Study {label!r}: unknown domain(s) {', '.join(extra)}.")
        for did in ids:
            if did not in judgements:
                raise RobFigureError(
                    f"Study {label!r} has no judgement for {did} "
                    "(use 'no_information' if there is none)."
                )
            _check_judgement(label, did, judgements[did])
        _check_judgement(label, "Overall", overall)


def _check_judgement(label: str, where: str, value: str) -> None:
    if value not in FIGURE_JUDGEMENTS:
        raise RobFigureError(
            f"Study {label!r}, {where}: {value!r} is not a judgement "
            f"(expected one of {', '.join(FIGURE_JUDGEMENTS)})."
        )


def _wrap(text: str, width: int, max_lines: int | None = None) -> list[str]:
    """Whitespace-normalised lines; the last kept line ends in "…" if text was cut."""
    return textwrap.wrap(
        " ".join(str(text).split()),
        width=width,
        max_lines=max_lines,
        placeholder=" …",
        break_long_words=True,
    ) or [""]


def _study_lines(label: str) -> list[str]:
    return _wrap(label, _LABEL_CHARS, _LABEL_LINES)


# --- traffic light ------------------------------------------------------------


def traffic_light(
    rows: Sequence[Row],
    domains: Sequence[tuple[str, str]],
    *,
    palette: str = "cochrane",
    title: str | None = None,
) -> Figure:
    """Traffic-light plot: one row per study, one circle per domain plus overall.

    Parameters
    ----------
    rows : (study label, {domain id: judgement}, overall judgement) per study, in
        display order. Judgements are "low", "some_concerns", "high" or
        "no_information"; every domain must be present.
    domains : (id, name) pairs in column order, e.g. ("D1", "Bias arising from the
        randomization process"); any number of domains is drawn.
    palette : "cochrane" (robvis default) or "colourblind".
    title : optional heading above the plot.

    Raises
    ------
    RobFigureError
        Empty input, unknown palette, duplicate domain ids, a missing or unknown
        judgement (naming the study and domain).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    colours = _palette(palette)
    _check(rows, domains)

    labels = [_study_lines(label) for label, _, _ in rows]
    longest = max(len(line) for lines in labels for line in lines)
    label_w = max(1.0, longest * _CHAR_W + 0.25)
    columns = [d for d, _ in domains] + ["Overall"]
    grid_w = len(columns) * _CELL

    present = [j for j in _LEGEND_ORDER if any(j == o or j in js.values() for _, js, o in rows)]
    width = max(_MARGIN * 2 + label_w + grid_w, 6.0)
    legend_chars = int((width - 2 * _MARGIN - 1.9) / _CHAR_W)
    domain_lines = [
        line for did, name in domains for line in _wrap(f"{did}: {name}", max(legend_chars, 20))
    ]

    top = _MARGIN + (0.35 if title else 0.0)
    header_y = top + 0.3  # "Risk of bias domains" sits above the column header
    grid_top = header_y + _CELL
    grid_bottom = grid_top + len(rows) * _CELL
    legend_top = grid_bottom + 0.3
    legend_h = max(len(domain_lines) + 1, len(present) + 1) * _LINE_H
    height = legend_top + legend_h + _MARGIN

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # y grows downwards, in inches
    ax.set_axis_off()

    x0 = _MARGIN + label_w
    text = {"parse_math": False}  # "$" in a study label must not start mathtext

    if title:
        ax.text(_MARGIN, _MARGIN, title, fontsize=11, fontweight="bold", va="top", **text)
    ax.text(
        x0 + grid_w / 2,
        top + 0.12,
        "Risk of bias domains",
        ha="center",
        va="center",
        fontsize=9,
        fontweight="bold",
        **text,
    )
    ax.text(
        x0 - 0.12,
        header_y + _CELL / 2,
        "Study",
        ha="right",
        va="center",
        fontsize=9,
        fontweight="bold",
        **text,
    )

    # Overall column on grey, as robvis; header strip above all columns.
    overall_x = x0 + (len(columns) - 1) * _CELL
    ax.add_patch(
        Rectangle(
            (overall_x, grid_top),
            _CELL,
            grid_bottom - grid_top,
            facecolor=_OVERALL_BG,
            edgecolor="none",
            zorder=0,
        )
    )
    ax.add_patch(
        Rectangle((x0, header_y), grid_w, _CELL, facecolor=_HEADER_BG, edgecolor="white", zorder=0)
    )
    for i, col in enumerate(columns):
        ax.text(
            x0 + (i + 0.5) * _CELL,
            header_y + _CELL / 2,
            col,
            ha="center",
            va="center",
            fontsize=8 if col == "Overall" else 9,
            **text,
        )

    for r, ((_, judgements, overall), lines) in enumerate(zip(rows, labels, strict=True)):
        cy = grid_top + (r + 0.5) * _CELL
        ax.text(
            x0 - 0.12,
            cy,
            "\n".join(lines),
            ha="right",
            va="center",
            fontsize=9,
            linespacing=1.1,
            **text,
        )
        for i, col in enumerate(columns):
            value = overall if col == "Overall" else judgements[col]
            _light(ax, x0 + (i + 0.5) * _CELL, cy, value, colours)
        ax.plot(
            [_MARGIN, x0 + grid_w],
            [grid_top + (r + 1) * _CELL] * 2,
            color=_GRID,
            linewidth=0.5,
            zorder=0,
        )
    ax.add_patch(
        Rectangle(
            (x0, grid_top),
            grid_w,
            grid_bottom - grid_top,
            fill=False,
            edgecolor=_GRID,
            linewidth=0.8,
            zorder=0,
        )
    )

    # Domain key (left) and judgement key (right), as robvis's caption and legend.
    ax.text(_MARGIN, legend_top, "Domains:", fontsize=8, fontweight="bold", va="top", **text)
    for k, line in enumerate(domain_lines, start=1):
        ax.text(_MARGIN, legend_top + k * _LINE_H, line, fontsize=8, va="top", **text)
    key_x = width - _MARGIN - 1.55
    ax.text(key_x, legend_top, "Judgement", fontsize=8, fontweight="bold", va="top", **text)
    for k, judgement in enumerate(present, start=1):
        cy = legend_top + (k + 0.5) * _LINE_H
        _light(ax, key_x + 0.08, cy, judgement, colours, radius=0.075, fontsize=7)
        ax.text(key_x + 0.22, cy, ROBVIS_LABELS[judgement], fontsize=8, va="center", **text)
    return fig


def _light(
    ax,
    x: float,
    y: float,
    judgement: str,
    colours: Mapping[str, str],
    *,
    radius: float = _RADIUS,
    fontsize: float = 13,
) -> None:
    from matplotlib.patches import Circle

    ax.add_patch(
        Circle(
            (x, y), radius, facecolor=colours[judgement], edgecolor="black", linewidth=0.8, zorder=2
        )
    )
    ax.text(
        x,
        y,
        SYMBOLS[judgement],
        ha="center",
        va="center_baseline",
        fontsize=fontsize,
        fontweight="bold",
        color="black",
        zorder=3,
        parse_math=False,
    )


# --- summary bar plot ------------------------------------------------------------


def summary_plot(
    rows: Sequence[Row],
    domains: Sequence[tuple[str, str]],
    *,
    weights: Sequence[float] | None = None,
    palette: str = "cochrane",
    title: str | None = None,
) -> Figure:
    """Weighted summary plot: % of studies at each judgement, per domain and overall.

    Parameters
    ----------
    rows, domains, palette, title : as for :func:`traffic_light`.
    weights : one non-negative weight per study (e.g. its meta-analysis weight);
        ``None`` counts every study once.

    Returns
    -------
    Figure with one 100 % stacked horizontal bar per domain (in order) and an
    "Overall risk of bias" bar at the bottom.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    colours = _palette(palette)
    _check(rows, domains)
    w = _weights(weights, len(rows))
    total = math.fsum(w)

    categories = [(did, name, [js[did] for _, js, _ in rows]) for did, name in domains]
    categories.append(("Overall", "Overall risk of bias", [o for _, _, o in rows]))
    order = ("low", "some_concerns", "high", "no_information")

    n = len(categories)
    fig = Figure(figsize=(8.0, 1.5 + 0.42 * n + (0.3 if title else 0.0)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ypos = list(range(n - 1, -1, -1))  # first domain on top, overall at the bottom
    for judgement in order:
        shares = []
        for _, _, values in categories:
            shares.append(
                100
                * math.fsum(wi for wi, v in zip(w, values, strict=True) if v == judgement)
                / total
            )
        lefts = [
            100
            * math.fsum(
                wi
                for wi, v in zip(w, values, strict=True)
                if order.index(v) < order.index(judgement)
            )
            / total
            for _, _, values in categories
        ]
        ax.barh(
            ypos,
            shares,
            left=lefts,
            height=0.7,
            color=colours[judgement],
            edgecolor="black",
            linewidth=0.6,
            label=ROBVIS_LABELS[judgement],
        )
        for y, left, share in zip(ypos, lefts, shares, strict=True):
            if share >= 8:
                ax.text(
                    left + share / 2,
                    y,
                    f"{share:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=_ink(colours[judgement]),
                )

    ax.set_yticks(ypos, ["\n".join(_wrap(name, 45, 3)) for _, name, _ in categories])
    for tick in ax.get_yticklabels()[-1:]:
        tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0, labelsize=9)
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(100))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=4,
        fontsize=8,
        frameon=True,
        edgecolor="black",
    )
    return fig


def _weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise RobFigureError(f"Got {len(weights)} weights for {n} studies.")
    out = []
    for i, value in enumerate(weights):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise RobFigureError(f"Weight {i + 1} ({value!r}) is not a number.") from None
        if not math.isfinite(v) or v < 0:
            raise RobFigureError(f"Weight {i + 1} ({value!r}) must be finite and non-negative.")
        out.append(v)
    if math.fsum(out) <= 0:
        raise RobFigureError("The weights sum to zero.")
    return out


def _ink(background: str) -> str:
    """Black or white text, whichever reads better on the given fill."""
    r, g, b = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


# --- export ----------------------------------------------------------------------


def figure_to_bytes(fig: Figure, fmt: str, *, dpi: int = 200) -> bytes:
    """Render a figure as "svg", "png" or "pdf".

    SVG keeps text as ``<text>`` (searchable, editable, accessible) instead of
    glyph outlines. PNG resolution is lowered for very tall figures so that no
    side exceeds what PNG encoders accept.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fmt not in ("svg", "png", "pdf"):
        raise RobFigureError(f"Unknown format {fmt!r}; expected svg, png or pdf.")
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    dpi = _safe_dpi(fig, dpi)
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": None}[fmt]
    buffer = io.BytesIO()
    # rc_context restores the previous values on exit; svg.fonttype is only read
    # from rcParams, there is no per-call option.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "reviewflow-rob"}):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata, facecolor="white")
    return buffer.getvalue()


def _safe_dpi(fig: Figure, dpi: int) -> int:
    """The requested dpi, lowered so the raster stays within side and area limits."""
    w, h = fig.get_size_inches()
    limit = min(_MAX_SIDE_PX / max(w, h), math.sqrt(_MAX_AREA_PX / (w * h)))
    return max(10, min(int(dpi), int(limit)))


def robvis_csv(
    rows: Sequence[Row],
    domains: Sequence[tuple[str, str]],
    *,
    weights: Sequence[float] | None = None,
) -> str:
    """CSV for robvis: ``Study, D1..D5, Overall, Weight`` with robvis's spelling.

    Read it in R with ``read.csv(path, check.names = FALSE)`` and pass it to
    ``rob_traffic_light(data, tool = "ROB2")`` or ``rob_summary(data, tool =
    "ROB2", weighted = TRUE)``. With other than five domains use ``tool =
    "Generic"``. Weights default to 1.
    """
    _check(rows, domains)
    w = _weights(weights, len(rows))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Study", *(d for d, _ in domains), "Overall", "Weight"])
    for (label, judgements, overall), weight in zip(rows, w, strict=True):
        writer.writerow(
            [
                " ".join(str(label).split()),
                *(ROBVIS_LABELS[judgements[d]] for d, _ in domains),
                ROBVIS_LABELS[overall],
                format(weight, "g"),
            ]
        )
    return out.getvalue()
