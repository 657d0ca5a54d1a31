"""Absolute effects and plain-language sizes for a Summary of Findings table (no Django).

Dichotomous outcomes: from the assumed control risk (ACR, per 1,000) and the pooled
relative effect, the corresponding risk with the intervention and the risk difference,
each with the CI the relative effect's CI gives (GRADEpro, Cochrane Handbook 14.1.5):

* RR: CR = ACR × RR
* OR: CR = ACR × OR / (1 − ACR + ACR × OR)   (ACR and CR as proportions)
* RD: CR = ACR + RD

Continuous outcomes: an SMD is described by its size (0.2 small, 0.5 moderate, 0.8 large:
Cochrane Handbook 15.5.3.1) and, given the SD of a named scale, re-expressed on that scale
as MD = SMD × SD (Handbook 15.5.3.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .rules import RuleInputError, fmt


@dataclass(frozen=True)
class Absolute:
    """Per 1,000: the assumed risk, the risk with the intervention (CI), the difference (CI)."""

    assumed: float
    corresponding: float
    corresponding_low: float
    corresponding_high: float

    @property
    def difference(self) -> float:
        return self.corresponding - self.assumed

    @property
    def difference_low(self) -> float:
        return self.corresponding_low - self.assumed

    @property
    def difference_high(self) -> float:
        return self.corresponding_high - self.assumed


def corresponding_risk(measure: str, assumed: float, effect: float) -> float:
    """Risk with the intervention (proportion) for an assumed control risk (proportion) and
    a relative effect on the natural scale (RR, OR) or a risk difference."""
    if not 0 <= assumed <= 1:
        raise RuleInputError("the assumed control risk is a proportion between 0 and 1")
    if measure == "RR":
        return assumed * effect
    if measure == "OR":
        return assumed * effect / (1 - assumed + assumed * effect)
    if measure == "RD":
        return assumed + effect
    raise RuleInputError(f"{measure} is not a dichotomous effect measure")


def absolute_effect(
    measure: str, assumed_per_1000: float, estimate: float, low: float, high: float
) -> Absolute:
    """``estimate``/``low``/``high`` on the natural scale (RR, OR or RD). Risks are kept
    within 0..1,000 (a risk ratio can carry a high control risk past 1)."""
    acr = assumed_per_1000 / 1000

    def per_1000(effect: float) -> float:
        return 1000 * min(1.0, max(0.0, corresponding_risk(measure, acr, effect)))

    lo, hi = sorted((per_1000(low), per_1000(high)))
    return Absolute(assumed_per_1000, per_1000(estimate), lo, hi)


def fmt_per_1000(value: float) -> str:
    return f"{round(value):d}"


def fmt_difference(value: float) -> str:
    """ "75 fewer", "12 more", "0 fewer" as GRADEpro writes a difference per 1,000."""
    n = round(value)
    return f"{abs(n)} {'more' if n > 0 else 'fewer'}"


def difference_text(a: Absolute) -> str:
    return (
        f"{fmt_difference(a.difference)} per 1,000 "
        f"(from {fmt_difference(a.difference_low)} to {fmt_difference(a.difference_high)})"
    )


def smd_size(smd: float) -> str:
    """Plain words for the size of an SMD (Cohen's rule of thumb, Handbook 15.5.3.1)."""
    d = abs(smd)
    if d < 0.2:
        return "a trivial difference"
    if d < 0.5:
        return "a small effect"
    if d < 0.8:
        return "a moderate effect"
    return "a large effect"


def smd_text(smd: float, low: float, high: float) -> str:
    """E.g. "SMD 0.25 higher (0.10 higher to 0.40 higher): a small effect; positive favours
    the intervention"."""
    return (
        f"SMD {fmt(smd)} ({fmt(low)} to {fmt(high)}): {smd_size(smd)} "
        "(positive favours the intervention)"
    )


def back_transform(
    smd: float, low: float, high: float, sd: float, scale: str
) -> tuple[float, float, float, str]:
    """An SMD on a named scale: MD = SMD × SD, with its words."""
    if not (sd > 0 and math.isfinite(sd)):
        raise RuleInputError("the SD of the named scale must be a positive number")
    md, md_low, md_high = smd * sd, low * sd, high * sd
    text = (
        f"{fmt(abs(md), 1)} points {'better' if md >= 0 else 'worse'} on {scale} "
        f"({fmt(md_low, 1)} to {fmt(md_high, 1)}; SD {fmt(sd, 1)})"
    )
    return md, md_low, md_high, text


def md_text(md: float, low: float, high: float) -> str:
    return f"MD {fmt(md)} ({fmt(low)} to {fmt(high)})"
