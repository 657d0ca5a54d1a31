"""Pooling the way Review Manager 5 does it, to re-derive the numbers a ``.rm5`` file stores.

RevMan 5 follows Deeks & Higgins' published algorithms, which differ from metafor's
defaults in small ways that matter at 1e-6:

* the standardised mean difference is Hedges' adjusted g with the approximate correction
  ``1 − 3/(4N − 9)`` and ``SE = √(N/(n₁n₂) + g²/(2(N − 3.94)))`` (metafor: exact
  correction, ``vi = 1/n₁ + 1/n₂ + g²/(2N)``);
* a study with a zero cell gets 1/2 added to all four cells, for its own estimate and
  also inside the Mantel-Haenszel sums (metafor's ``rma.mh`` uses the raw counts); a
  study with no events, or only events, in both arms is "not estimable" for OR and RR and
  left out, while for RD it stays in;
* the heterogeneity statistic of a Mantel-Haenszel analysis is taken around the MH
  estimate, with inverse-variance weights, and the DerSimonian-Laird τ² of a random-effects
  MH analysis comes from that Q;
* confidence intervals are ``estimate ± z·SE`` with the normal quantile of the file's
  ``CI_STUDY``/``CI_TOTAL`` level.

Ratios (OR, RR, Peto OR) are kept on the natural-log scale; the file stores them
exponentiated.

References
----------
Deeks, J. J., & Higgins, J. P. T. (2010). *Statistical algorithms in Review Manager 5*.
The Cochrane Collaboration.
Greenland, S., & Robins, J. M. (1985). Estimation of a common effect parameter from sparse
follow-up data. *Biometrics*, 41, 55-68.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .errors import StatsInputError

DICHOTOMOUS_MEASURES = ("OR", "RR", "RD", "PETO_OR")
CONTINUOUS_MEASURES = ("MD", "SMD")
RATIO_MEASURES = ("OR", "RR", "PETO_OR")
DICHOTOMOUS_METHODS = ("MH", "IV", "PETO")


@dataclass(frozen=True)
class RevManRow:
    """One data row (a study in a comparison): its estimate on the analysis scale, or not
    estimable (``yi`` is NaN) and why."""

    estimable: bool
    yi: float
    se: float
    ci_low: float
    ci_high: float
    weight: float  # percent of the total weight, 0 when not estimable
    reason: str = ""


@dataclass(frozen=True)
class RevManResult:
    """A pooled RevMan analysis; ``estimate`` is None when no study is estimable."""

    measure: str
    method: str
    random: bool
    k: int  # estimable studies
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    z: float | None
    p: float | None
    chi2: float | None  # heterogeneity Q
    df: int
    p_chi2: float | None
    i2: float | None  # percent
    tau2: float | None
    rows: tuple[RevManRow, ...]


def display(measure: str, value: float | None) -> float | None:
    """A value on the analysis scale as RevMan stores it: exp() for ratios."""
    if value is None or measure not in RATIO_MEASURES:
        return value
    return math.exp(value)


def _z(level: float) -> float:
    if not 0 < level < 100:
        raise StatsInputError(f"a confidence level is a percentage between 0 and 100, not {level}")
    return float(stats.norm.isf((1 - level / 100) / 2))


def _arr(name: str, values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise StatsInputError(f"{name} must be a list of numbers")
    if not np.all(np.isfinite(arr)):
        raise StatsInputError(f"{name} holds a missing or infinite value")
    return arr


def _lengths(*arrays: np.ndarray) -> None:
    if len({len(a) for a in arrays}) != 1:
        raise StatsInputError("every input needs one value per study")


# --- individual studies ------------------------------------------------------------------------


def _dichotomous_rows(a, b, c, d, measure: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """(yi, se, estimable, reasons) per study, with RevMan's zero-cell rules."""
    k = len(a)
    yi, se = np.full(k, np.nan), np.full(k, np.nan)
    ok = np.zeros(k, dtype=bool)
    reasons = [""] * k
    for i in range(k):
        ai, bi, ci, di = a[i], b[i], c[i], d[i]
        n1, n2 = ai + bi, ci + di
        if n1 <= 0 or n2 <= 0:
            reasons[i] = "an arm without participants"
            continue
        if measure == "PETO_OR":
            n = n1 + n2
            v = n1 * n2 * (ai + ci) * (bi + di) / (n * n * (n - 1)) if n > 1 else 0.0
            if v <= 0:
                reasons[i] = "no events, or only events, in both arms"
                continue
            yi[i] = (ai - n1 * (ai + ci) / n) / v
            se[i] = 1 / math.sqrt(v)
            ok[i] = True
            continue
        double = (ai == 0 and ci == 0) or (bi == 0 and di == 0)
        if double and measure != "RD":
            reasons[i] = "no events, or only events, in both arms"
            continue
        if min(ai, bi, ci, di) == 0:
            ai, bi, ci, di = ai + 0.5, bi + 0.5, ci + 0.5, di + 0.5
            n1, n2 = ai + bi, ci + di
        if measure == "OR":
            yi[i] = math.log(ai * di / (bi * ci))
            se[i] = math.sqrt(1 / ai + 1 / bi + 1 / ci + 1 / di)
        elif measure == "RR":
            yi[i] = math.log((ai / n1) / (ci / n2))
            se[i] = math.sqrt(1 / ai + 1 / ci - 1 / n1 - 1 / n2)
        else:
            yi[i] = a[i] / (a[i] + b[i]) - c[i] / (c[i] + d[i])
            se[i] = math.sqrt(ai * bi / n1**3 + ci * di / n2**3)
        ok[i] = True
    return yi, se, ok, reasons


def _mh(a, b, c, d, measure: str) -> tuple[float, float]:
    """Mantel-Haenszel estimate and SE over the estimable tables (zero cells corrected)."""
    zero = np.minimum.reduce([a, b, c, d]) == 0
    a, b, c, d = (np.where(zero, x + 0.5, x) for x in (a, b, c, d))
    n1, n2 = a + b, c + d
    n = n1 + n2
    if measure == "OR":
        r, s = a * d / n, b * c / n
        p, q = (a + d) / n, (b + c) / n
        big_r, big_s = r.sum(), s.sum()
        var = 0.5 * (
            (p * r).sum() / big_r**2
            + (p * s + q * r).sum() / (big_r * big_s)
            + (q * s).sum() / big_s**2
        )
        return math.log(big_r / big_s), math.sqrt(var)
    if measure == "RR":
        big_r, big_s = (a * n2 / n).sum(), (c * n1 / n).sum()
        p = ((n1 * n2 * (a + c) - a * c * n) / n**2).sum()
        return math.log(big_r / big_s), math.sqrt(p / (big_r * big_s))
    k_sum = (n1 * n2 / n).sum()
    # The RD itself from the raw counts (a zero cell is no problem for a difference).
    a0, c0 = np.where(zero, a - 0.5, a), np.where(zero, c - 0.5, c)
    n10, n20 = np.where(zero, n1 - 1, n1), np.where(zero, n2 - 1, n2)
    rd = ((a0 * n20 - c0 * n10) / (n10 + n20)).sum() / (n10 * n20 / (n10 + n20)).sum()
    j = ((a * b * n2**3 + c * d * n1**3) / (n1 * n2 * n**2)).sum()
    return float(rd), math.sqrt(j / k_sum**2)


def _pool(
    yi: np.ndarray,
    se: np.ndarray,
    *,
    measure: str,
    method: str,
    random: bool,
    ci_total: float,
    fixed: tuple[float, float] | None = None,
    peto: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict, np.ndarray]:
    """The pooled estimate and heterogeneity over estimable studies; weights per study."""
    k = len(yi)
    w = 1 / se**2
    if peto is not None:
        o_e, v = peto
        est, est_se = o_e.sum() / v.sum(), 1 / math.sqrt(v.sum())
        chi2 = max(0.0, float((o_e**2 / v).sum() - o_e.sum() ** 2 / v.sum()))
        weights = v
    else:
        if fixed is None:
            fixed = (float((w * yi).sum() / w.sum()), 1 / math.sqrt(w.sum()))
        est, est_se = fixed
        chi2 = float((w * (yi - est) ** 2).sum())
        weights = w if method == "IV" else None
    df = k - 1
    tau2 = 0.0
    if random and k > 1:
        tau2 = max(0.0, (chi2 - df) / (w.sum() - (w**2).sum() / w.sum()))
        wr = 1 / (se**2 + tau2)
        est, est_se = float((wr * yi).sum() / wr.sum()), 1 / math.sqrt(wr.sum())
        weights = wr
    z = _z(ci_total)
    zval = est / est_se
    return {
        "estimate": float(est),
        "se": float(est_se),
        "ci_low": float(est - z * est_se),
        "ci_high": float(est + z * est_se),
        "z": float(zval),
        "p": float(2 * stats.norm.sf(abs(zval))),
        "chi2": chi2,
        "df": df,
        "p_chi2": float(stats.chi2.sf(chi2, df)) if df > 0 else None,
        "i2": (max(0.0, 100 * (chi2 - df) / chi2) if chi2 > 0 else 0.0) if df > 0 else None,
        "tau2": tau2 if random else None,
    }, weights


def _result(measure, method, random, yi, se, ok, reasons, pooled, weights, ci_study):
    z = _z(ci_study)
    total = float(weights.sum()) if weights is not None and len(weights) else 0.0
    rows, j = [], 0
    for i in range(len(yi)):
        if not ok[i]:
            rows.append(RevManRow(False, math.nan, math.nan, math.nan, math.nan, 0.0, reasons[i]))
            continue
        weight = 100 * float(weights[j]) / total if total else 0.0
        j += 1
        rows.append(
            RevManRow(
                True,
                float(yi[i]),
                float(se[i]),
                float(yi[i] - z * se[i]),
                float(yi[i] + z * se[i]),
                weight,
            )
        )
    empty = {
        "estimate": None,
        "se": None,
        "ci_low": None,
        "ci_high": None,
        "z": None,
        "p": None,
        "chi2": None,
        "df": 0,
        "p_chi2": None,
        "i2": None,
        "tau2": None,
    }
    return RevManResult(
        measure=measure,
        method=method,
        random=random,
        k=int(ok.sum()),
        rows=tuple(rows),
        **(pooled or empty),
    )


# --- public -------------------------------------------------------------------------------------


def revman_dichotomous(
    events1: Sequence[float],
    total1: Sequence[float],
    events2: Sequence[float],
    total2: Sequence[float],
    *,
    measure: str,
    method: str,
    random: bool = False,
    ci_study: float = 95,
    ci_total: float = 95,
) -> RevManResult:
    """Pool dichotomous data rows (group 1 = experimental) as RevMan 5 does.

    ``measure`` is OR, RR, RD or PETO_OR; ``method`` MH, IV or PETO (Peto pools the Peto
    OR only, with a common effect as RevMan offers it).
    """
    if measure not in DICHOTOMOUS_MEASURES:
        raise StatsInputError(
            f"RevMan pools dichotomous data as OR, RR, RD or PETO_OR, not {measure!r}"
        )
    if method not in DICHOTOMOUS_METHODS:
        raise StatsInputError(f"RevMan's dichotomous methods are MH, IV and PETO, not {method!r}")
    if (method == "PETO") != (measure == "PETO_OR"):
        raise StatsInputError("Peto's method goes with the Peto odds ratio, and only with it")
    e1, n1 = _arr("events1", events1), _arr("total1", total1)
    e2, n2 = _arr("events2", events2), _arr("total2", total2)
    _lengths(e1, n1, e2, n2)
    if np.any(e1 < 0) or np.any(e2 < 0) or np.any(e1 > n1) or np.any(e2 > n2):
        raise StatsInputError("events must lie between 0 and the group's total")
    a, b, c, d = e1, n1 - e1, e2, n2 - e2
    yi, se, ok, reasons = _dichotomous_rows(a, b, c, d, measure)
    pooled, weights = None, None
    if ok.any():
        sel = (a[ok], b[ok], c[ok], d[ok])
        if method == "PETO":
            n = n1[ok] + n2[ok]
            o_e = sel[0] - n1[ok] * (sel[0] + sel[2]) / n
            v = n1[ok] * n2[ok] * (sel[0] + sel[2]) * (sel[1] + sel[3]) / (n * n * (n - 1))
            pooled, weights = _pool(
                yi[ok], se[ok], measure=measure, method=method, random=False,
                ci_total=ci_total, peto=(o_e, v),
            )  # fmt: skip
        else:
            fixed = _mh(*sel, measure) if method == "MH" else None
            pooled, weights = _pool(
                yi[ok], se[ok], measure=measure, method=method, random=random,
                ci_total=ci_total, fixed=fixed,
            )  # fmt: skip
            if weights is None:  # MH common effect: MH weights
                weights = _mh_weights(*sel, measure)
    return _result(measure, method, random, yi, se, ok, reasons, pooled, weights, ci_study)


def _mh_weights(a, b, c, d, measure: str) -> np.ndarray:
    zero = np.minimum.reduce([a, b, c, d]) == 0
    a, b, c, d = (np.where(zero, x + 0.5, x) for x in (a, b, c, d))
    n1, n2 = a + b, c + d
    n = n1 + n2
    if measure == "OR":
        return b * c / n
    if measure == "RR":
        return c * n1 / n
    return n1 * n2 / n


def revman_continuous(
    mean1: Sequence[float],
    sd1: Sequence[float],
    total1: Sequence[float],
    mean2: Sequence[float],
    sd2: Sequence[float],
    total2: Sequence[float],
    *,
    measure: str,
    random: bool = False,
    ci_study: float = 95,
    ci_total: float = 95,
) -> RevManResult:
    """Pool continuous data rows (group 1 = experimental) by inverse variance as RevMan 5
    does: MD, or SMD as Hedges' adjusted g. A row with an SD of 0 or a group of fewer than
    two is not estimable (left out)."""
    if measure not in CONTINUOUS_MEASURES:
        raise StatsInputError(f"RevMan pools continuous data as MD or SMD, not {measure!r}")
    m1, s1, n1 = _arr("mean1", mean1), _arr("sd1", sd1), _arr("total1", total1)
    m2, s2, n2 = _arr("mean2", mean2), _arr("sd2", sd2), _arr("total2", total2)
    _lengths(m1, s1, n1, m2, s2, n2)
    k = len(m1)
    yi, se = np.full(k, np.nan), np.full(k, np.nan)
    ok = (s1 > 0) & (s2 > 0) & (n1 >= 2) & (n2 >= 2)
    reasons = ["" if good else "an SD of 0 or a group of fewer than two" for good in ok]
    if measure == "MD":
        yi[ok] = (m1 - m2)[ok]
        se[ok] = np.sqrt(s1**2 / n1 + s2**2 / n2)[ok]
    else:
        n = n1 + n2
        s = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / np.maximum(n - 2, 1))
        g = (m1 - m2) / np.where(s > 0, s, 1) * (1 - 3 / (4 * n - 9))
        yi[ok] = g[ok]
        se[ok] = np.sqrt(n / (n1 * n2) + g**2 / (2 * (n - 3.94)))[ok]
    pooled, weights = None, None
    if ok.any():
        pooled, weights = _pool(
            yi[ok], se[ok], measure=measure, method="IV", random=random, ci_total=ci_total
        )
    return _result(measure, "IV", random, yi, se, ok, reasons, pooled, weights, ci_study)


__all__ = [
    "CONTINUOUS_MEASURES",
    "DICHOTOMOUS_MEASURES",
    "DICHOTOMOUS_METHODS",
    "RATIO_MEASURES",
    "RevManResult",
    "RevManRow",
    "display",
    "revman_continuous",
    "revman_dichotomous",
]
