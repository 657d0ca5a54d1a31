"""Effect measures other than Hedges' g: re-expressing consensus rows on the chosen scale.

Extraction computes a Hedges' g for every study; it also keeps the arm-level data behind
it (events and totals, or means and SDs). An analysis pooling a mean difference or an
odds ratio, risk ratio or risk difference recomputes each row's ``yi``/``vi`` from those
data with metafor's ``escalc`` defaults; a row without them is left out, saying why.
Ratios are kept on the log scale (the analysis scale) and exponentiated only for display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

from . import stats as engine  # loads scipy.stats when an analysis runs, not at start-up
from .data import EffectInput, LeftOut
from .stats import EffectSizeError

MEASURES = ("SMD", "MD", "OR", "RR", "RD")
DICHOTOMOUS = ("OR", "RR", "RD")
RATIOS = ("OR", "RR")
LABELS = {
    "SMD": "Hedges' g",
    "MD": "Mean difference",
    "OR": "Odds ratio",
    "RR": "Risk ratio",
    "RD": "Risk difference",
}
SHORT = {"SMD": "g", "MD": "MD", "OR": "OR", "RR": "RR", "RD": "RD"}
NEEDS = {
    "MD": "no mean and SD per arm (a mean difference needs them)",
    "OR": "no events and totals per arm (an odds ratio needs them)",
    "RR": "no events and totals per arm (a risk ratio needs them)",
    "RD": "no events and totals per arm (a risk difference needs them)",
}


def display(measure: str, value: float | None) -> float | None:
    """A value on the analysis scale as printed: exp() for ratios."""
    if value is None or measure not in RATIOS:
        return value
    return math.exp(value)


def rows_for_measure(
    rows: Iterable[EffectInput], measure: str
) -> tuple[tuple[EffectInput, ...], tuple[LeftOut, ...]]:
    """Rows with ``yi``/``vi`` on ``measure``'s scale, and the rows that cannot give it."""
    rows = tuple(rows)
    if measure == "SMD":
        return rows, ()
    kept: list[EffectInput] = []
    left: list[LeftOut] = []
    for r in rows:
        n1, n2 = r.n_intervention, r.n_control
        try:
            if measure == "MD" and r.means is not None and n1 and n2:
                m1, sd1, m2, sd2 = r.means
                es = engine.escalc_md([m1], [sd1], [n1], [m2], [sd2], [n2])
            elif measure in DICHOTOMOUS and r.events is not None and n1 and n2:
                a, c = r.events
                es = engine.escalc_binary(measure, [a], [n1 - a], [c], [n2 - c])
            else:
                left.append(
                    LeftOut(r.study_id, r.study_label, NEEDS[measure], "", r.outcome, r.timepoint)
                )
                continue
        except EffectSizeError as exc:
            left.append(
                LeftOut(
                    r.study_id,
                    r.study_label,
                    "data cannot give an effect size",
                    exc.message,
                    r.outcome,
                    r.timepoint,
                )
            )
            continue
        kept.append(replace(r, yi=float(es.yi[0]), vi=float(es.vi[0])))
    return tuple(kept), tuple(left)
