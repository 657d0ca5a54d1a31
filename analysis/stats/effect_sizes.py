"""Effect sizes and their sampling variances, as metafor's ``escalc`` (3.8) computes them.

All ``escalc_*`` functions take array-likes (one entry per study) and return an
:class:`EffectSizes`. Impossible inputs raise :class:`EffectSizeError` naming the study
(label if ``study`` is given, otherwise the 1-based position) and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from .errors import EffectSizeError

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class EffectSizes:
    """Per-study effect sizes ``yi`` and sampling variances ``vi`` (metafor names)."""

    yi: np.ndarray
    vi: np.ndarray
    measure: str
    study: tuple[str, ...] | None = None

    @property
    def sei(self) -> np.ndarray:
        """Standard errors ``sqrt(vi)``."""
        return np.sqrt(self.vi)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python representation (lists of floats)."""
        return {
            "measure": self.measure,
            "study": list(self.study) if self.study is not None else None,
            "yi": [float(x) for x in self.yi],
            "vi": [float(x) for x in self.vi],
        }


# --------------------------------------------------------------------------- validation


def _labels(study: Sequence[object] | None, k: int) -> list[object]:
    if study is None:
        return list(range(1, k + 1))
    labels = list(study)
    if len(labels) != k:
        raise EffectSizeError(None, "study", f"{len(labels)} labels given for {k} studies")
    return labels


def _arrays(names: Sequence[str], values: Sequence[Any], study: Sequence[object] | None):
    """Convert inputs to equal-length float arrays, rejecting missing / non-numeric values."""
    arrays = []
    k = None
    for name, value in zip(names, values, strict=True):
        arr = np.atleast_1d(np.asarray(value, dtype=object))
        if k is None:
            k = len(arr)
        elif len(arr) != k:
            raise EffectSizeError(None, name, f"has {len(arr)} values, expected {k}")
        arrays.append(arr)
    labels = _labels(study, k or 0)
    out = []
    for name, arr in zip(names, arrays, strict=True):
        conv = np.empty(len(arr), dtype=float)
        for i, x in enumerate(arr):
            try:
                conv[i] = float(x) if x is not None and x != "" else np.nan
            except (TypeError, ValueError):
                raise EffectSizeError(labels[i], name, f"not a number: {x!r}") from None
            if not np.isfinite(conv[i]):
                raise EffectSizeError(labels[i], name, "missing or not finite")
        out.append(conv)
    return out, labels


def _check(cond: np.ndarray, labels: list[object], field: str, message: str) -> None:
    bad = np.flatnonzero(~cond)
    if bad.size:
        raise EffectSizeError(labels[bad[0]], field, message)


def _study_tuple(study: Sequence[object] | None) -> tuple[str, ...] | None:
    return None if study is None else tuple(str(s) for s in study)


# --------------------------------------------------------------------------- continuous


def hedges_correction(df: ArrayLike) -> np.ndarray:
    """Exact small-sample bias correction J(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2)).

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and
    related estimators. *Journal of Educational Statistics*, 6(2), 107-128.
    """
    m = np.asarray(df, dtype=float)
    # log-gamma keeps this finite for large m, as metafor's .cmicalc does
    return np.exp(special.gammaln(m / 2) - np.log(np.sqrt(m / 2)) - special.gammaln((m - 1) / 2))


def _smd_from_d(d: np.ndarray, n1: np.ndarray, n2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = n1 + n2
    g = hedges_correction(n - 2) * d
    # vtype "LS" (metafor's default): large-sample variance evaluated at g
    v = 1 / n1 + 1 / n2 + g**2 / (2 * n)
    return g, v


def escalc_smd(
    m1: ArrayLike,
    sd1: ArrayLike,
    n1: ArrayLike,
    m2: ArrayLike,
    sd2: ArrayLike,
    n2: ArrayLike,
    study: Sequence[object] | None = None,
) -> EffectSizes:
    """Standardised mean difference, Hedges' g (metafor ``measure="SMD"``, ``vtype="LS"``).

    g = J(n1+n2−2)·(m1−m2)/s_pooled, v = 1/n1 + 1/n2 + g²/(2(n1+n2)).

    References
    ----------
    Hedges, L. V., & Olkin, I. (1985). *Statistical Methods for Meta-Analysis*. Academic Press.
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
    *Journal of Statistical Software*, 36(3), 1-48.
    """
    (m1a, sd1a, n1a, m2a, sd2a, n2a), labels = _arrays(
        ("m1", "sd1", "n1", "m2", "sd2", "n2"), (m1, sd1, n1, m2, sd2, n2), study
    )
    _check(sd1a > 0, labels, "sd1", "standard deviation must be > 0")
    _check(sd2a > 0, labels, "sd2", "standard deviation must be > 0")
    _check(n1a >= 2, labels, "n1", "group size must be >= 2")
    _check(n2a >= 2, labels, "n2", "group size must be >= 2")
    df = n1a + n2a - 2
    sdp = np.sqrt(((n1a - 1) * sd1a**2 + (n2a - 1) * sd2a**2) / df)
    g, v = _smd_from_d((m1a - m2a) / sdp, n1a, n2a)
    return EffectSizes(g, v, "SMD", _study_tuple(study))


def hedges_g(
    m1: float, sd1: float, n1: float, m2: float, sd2: float, n2: float, study: object = None
) -> tuple[float, float]:
    """Hedges' g and its sampling variance for a single study (see :func:`escalc_smd`)."""
    es = escalc_smd([m1], [sd1], [n1], [m2], [sd2], [n2], None if study is None else [study])
    return float(es.yi[0]), float(es.vi[0])


def escalc_md(
    m1: ArrayLike,
    sd1: ArrayLike,
    n1: ArrayLike,
    m2: ArrayLike,
    sd2: ArrayLike,
    n2: ArrayLike,
    study: Sequence[object] | None = None,
) -> EffectSizes:
    """Raw mean difference with heteroscedastic variance sd1²/n1 + sd2²/n2 (``measure="MD"``)."""
    (m1a, sd1a, n1a, m2a, sd2a, n2a), labels = _arrays(
        ("m1", "sd1", "n1", "m2", "sd2", "n2"), (m1, sd1, n1, m2, sd2, n2), study
    )
    _check(sd1a > 0, labels, "sd1", "standard deviation must be > 0")
    _check(sd2a > 0, labels, "sd2", "standard deviation must be > 0")
    _check(n1a >= 2, labels, "n1", "group size must be >= 2")
    _check(n2a >= 2, labels, "n2", "group size must be >= 2")
    return EffectSizes(m1a - m2a, sd1a**2 / n1a + sd2a**2 / n2a, "MD", _study_tuple(study))


def smd_from_t(
    t: ArrayLike, n1: ArrayLike, n2: ArrayLike, study: Sequence[object] | None = None
) -> EffectSizes:
    """Hedges' g from an independent-samples t statistic: d = t·√(1/n1 + 1/n2)."""
    (ta, n1a, n2a), labels = _arrays(("t", "n1", "n2"), (t, n1, n2), study)
    _check(n1a >= 2, labels, "n1", "group size must be >= 2")
    _check(n2a >= 2, labels, "n2", "group size must be >= 2")
    g, v = _smd_from_d(ta * np.sqrt(1 / n1a + 1 / n2a), n1a, n2a)
    return EffectSizes(g, v, "SMD", _study_tuple(study))


def smd_from_p(
    p: ArrayLike,
    direction: ArrayLike,
    n1: ArrayLike,
    n2: ArrayLike,
    study: Sequence[object] | None = None,
) -> EffectSizes:
    """Hedges' g from a two-sided p value of a t test, its direction (+1/−1) and group sizes.

    The t statistic is recovered as sign · t_{1−p/2; n1+n2−2}.
    """
    (pa, da, n1a, n2a), labels = _arrays(
        ("p", "direction", "n1", "n2"), (p, direction, n1, n2), study
    )
    _check((pa > 0) & (pa < 1), labels, "p", "p value must lie strictly between 0 and 1")
    _check(np.isin(da, (-1.0, 1.0)), labels, "direction", "direction must be +1 or -1")
    _check(n1a >= 2, labels, "n1", "group size must be >= 2")
    _check(n2a >= 2, labels, "n2", "group size must be >= 2")
    t = da * stats.t.isf(pa / 2, n1a + n2a - 2)
    return smd_from_t(t, n1a, n2a, study)


def logor_to_smd(
    yi: ArrayLike, vi: ArrayLike, study: Sequence[object] | None = None
) -> EffectSizes:
    """Convert log odds ratios to SMDs: d = log(OR)·√3/π, v = v_logOR·3/π².

    References
    ----------
    Chinn, S. (2000). A simple method for converting an odds ratio to effect size for use
    in meta-analysis. *Statistics in Medicine*, 19(22), 3127-3131.
    """
    (ya, va), labels = _arrays(("yi", "vi"), (yi, vi), study)
    _check(va > 0, labels, "vi", "sampling variance must be > 0")
    return EffectSizes(ya * np.sqrt(3) / np.pi, va * 3 / np.pi**2, "SMD", _study_tuple(study))


def sd_from_se(se: ArrayLike, n: ArrayLike) -> np.ndarray:
    """Standard deviation from the standard error of a mean: SD = SE·√n (Cochrane 6.5.2.2)."""
    (sea, na), labels = _arrays(("se", "n"), (se, n), None)
    _check(sea > 0, labels, "se", "standard error must be > 0")
    _check(na >= 1, labels, "n", "sample size must be >= 1")
    return sea * np.sqrt(na)


def se_from_ci(lower: ArrayLike, upper: ArrayLike, level: float = 95) -> np.ndarray:
    """Standard error from a symmetric (normal-based) confidence interval: (U − L)/(2 z)."""
    (lo, up), labels = _arrays(("ci_low", "ci_high"), (lower, upper), None)
    _check(up > lo, labels, "ci_high", "upper limit must exceed lower limit")
    z = stats.norm.isf((1 - level / 100) / 2)
    return (up - lo) / (2 * z)


def ci_from_se(
    estimate: ArrayLike, se: ArrayLike, level: float = 95
) -> tuple[np.ndarray, np.ndarray]:
    """Normal-based confidence interval estimate ± z·SE."""
    (est, sea), labels = _arrays(("estimate", "se"), (estimate, se), None)
    _check(sea >= 0, labels, "se", "standard error must be >= 0")
    z = stats.norm.isf((1 - level / 100) / 2)
    return est - z * sea, est + z * sea


def sd_from_ci(
    lower: ArrayLike, upper: ArrayLike, n: ArrayLike, level: float = 95, t_dist: bool = True
) -> np.ndarray:
    """SD of a single group from the CI of its mean: SD = √n·(U − L)/(2·crit).

    ``crit`` is the t quantile with n−1 df (Cochrane Handbook 6.5.2.2 for small samples)
    or the normal quantile when ``t_dist`` is False.
    """
    (lo, up, na), labels = _arrays(("ci_low", "ci_high", "n"), (lower, upper, n), None)
    _check(up > lo, labels, "ci_high", "upper limit must exceed lower limit")
    _check(na >= 2, labels, "n", "sample size must be >= 2")
    alpha = 1 - level / 100
    crit = stats.t.isf(alpha / 2, na - 1) if t_dist else stats.norm.isf(alpha / 2)
    return np.sqrt(na) * (up - lo) / (2 * crit)


def combine_groups(
    n1: float, m1: float, sd1: float, n2: float, m2: float, sd2: float
) -> tuple[float, float, float]:
    """Merge two arms into one group (Cochrane Handbook, Table 6.5.a).

    N = N1 + N2, M = (N1 M1 + N2 M2)/N,
    SD = √{[(N1−1)SD1² + (N2−1)SD2² + N1 N2/N (M1−M2)²] / (N − 1)}.

    References
    ----------
    Higgins, J. P. T., et al. (eds.) (2023). *Cochrane Handbook for Systematic Reviews of
    Interventions*, version 6.4, section 6.5.2.10, Table 6.5.a.
    """
    (n1a, m1a, sd1a, n2a, m2a, sd2a), labels = _arrays(
        ("n1", "m1", "sd1", "n2", "m2", "sd2"), ([n1], [m1], [sd1], [n2], [m2], [sd2]), None
    )
    _check(n1a >= 1, labels, "n1", "group size must be >= 1")
    _check(n2a >= 1, labels, "n2", "group size must be >= 1")
    _check(sd1a >= 0, labels, "sd1", "standard deviation must be >= 0")
    _check(sd2a >= 0, labels, "sd2", "standard deviation must be >= 0")
    n = n1a + n2a
    m = (n1a * m1a + n2a * m2a) / n
    sd = np.sqrt(
        ((n1a - 1) * sd1a**2 + (n2a - 1) * sd2a**2 + n1a * n2a / n * (m1a - m2a) ** 2) / (n - 1)
    )
    return float(n[0]), float(m[0]), float(sd[0])


# --------------------------------------------------------------------------- binary


def _two_by_two(ai, bi, ci, di, study):
    (a, b, c, d), labels = _arrays(("ai", "bi", "ci", "di"), (ai, bi, ci, di), study)
    for name, arr in (("ai", a), ("bi", b), ("ci", c), ("di", d)):
        _check(arr >= 0, labels, name, "cell count must be >= 0")
    _check(a + b > 0, labels, "bi", "treatment group is empty (ai + bi = 0)")
    _check(c + d > 0, labels, "di", "control group is empty (ci + di = 0)")
    # metafor default add = 1/2, to = "only0": 0.5 is added to every cell of a table
    # that has at least one zero cell (also for RD, since addyi/addvi default to TRUE)
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    add = np.where(zero, 0.5, 0.0)
    return a + add, b + add, c + add, d + add


def escalc_or(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    study: Sequence[object] | None = None,
) -> EffectSizes:
    """Log odds ratio from a 2×2 table (events/non-events per arm), ``measure="OR"``."""
    a, b, c, d = _two_by_two(ai, bi, ci, di, study)
    yi = np.log(a / b) - np.log(c / d)
    vi = 1 / a + 1 / b + 1 / c + 1 / d
    return EffectSizes(yi, vi, "OR", _study_tuple(study))


def escalc_rr(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    study: Sequence[object] | None = None,
) -> EffectSizes:
    """Log risk ratio from a 2×2 table, ``measure="RR"``."""
    a, b, c, d = _two_by_two(ai, bi, ci, di, study)
    n1, n2 = a + b, c + d
    yi = np.log(a / n1) - np.log(c / n2)
    vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
    return EffectSizes(yi, vi, "RR", _study_tuple(study))


def escalc_rd(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    study: Sequence[object] | None = None,
) -> EffectSizes:
    """Risk difference from a 2×2 table, ``measure="RD"`` (variance vtype "LS")."""
    a, b, c, d = _two_by_two(ai, bi, ci, di, study)
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    return EffectSizes(p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2, "RD", _study_tuple(study))


def escalc_peto(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    study: Sequence[object] | None = None,
) -> EffectSizes:
    """Peto's log odds ratio (O − E)/V with variance 1/V, ``measure="PETO"``.

    As in metafor, 1/2 is added to every cell of a table with a zero cell first.

    References
    ----------
    Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during
    and after myocardial infarction. *Progress in Cardiovascular Diseases*, 27, 335-371.
    """
    a, b, c, d = _two_by_two(ai, bi, ci, di, study)
    n1, n2 = a + b, c + d
    n = n1 + n2
    xt, yt = a + c, b + d
    v = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
    return EffectSizes((a - xt * n1 / n) / v, 1 / v, "PETO", _study_tuple(study))


def tables_from_totals(
    ai: ArrayLike,
    n1i: ArrayLike,
    ci: ArrayLike,
    n2i: ArrayLike,
    study: Sequence[object] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """2×2 cells ``ai, bi, ci, di`` from events and totals per arm (metafor ``n1i``/``n2i``)."""
    (a, n1, c, n2), labels = _arrays(("ai", "n1i", "ci", "n2i"), (ai, n1i, ci, n2i), study)
    _check(a >= 0, labels, "ai", "number of events must be >= 0")
    _check(c >= 0, labels, "ci", "number of events must be >= 0")
    _check(n1 >= 1, labels, "n1i", "group size must be >= 1")
    _check(n2 >= 1, labels, "n2i", "group size must be >= 1")
    _check(a <= n1, labels, "ai", "more events than patients in the intervention group")
    _check(c <= n2, labels, "ci", "more events than patients in the control group")
    for name, arr in (("ai", a), ("n1i", n1), ("ci", c), ("n2i", n2)):
        _check(arr == np.round(arr), labels, name, "counts must be whole numbers")
    return a, n1 - a, c, n2 - c


def double_zero(ai: ArrayLike, bi: ArrayLike, ci: ArrayLike, di: ArrayLike) -> np.ndarray:
    """Tables without events in both arms, or with only events (metafor's ``drop00``)."""
    a, b, c, d = (np.asarray(x, dtype=float) for x in (ai, bi, ci, di))
    return ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))


BINARY_ESCALC = {"OR": escalc_or, "RR": escalc_rr, "RD": escalc_rd, "PETO": escalc_peto}


def escalc_binary(
    measure: str,
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    study: Sequence[object] | None = None,
    drop00: bool = False,
) -> EffectSizes:
    """``escalc(measure, ai, bi, ci, di, drop00=...)`` for OR, RR, RD and PETO.

    With ``drop00=True`` double-zero tables get ``yi = vi = NaN``, as metafor leaves them
    out of ``rma.mh``/``rma.peto``'s heterogeneity statistics.
    """
    if measure not in BINARY_ESCALC:
        raise EffectSizeError(None, "measure", f"unknown measure {measure!r}")
    es = BINARY_ESCALC[measure](ai, bi, ci, di, study)
    if not drop00:
        return es
    dz = double_zero(ai, bi, ci, di)
    return EffectSizes(
        np.where(dz, np.nan, es.yi), np.where(dz, np.nan, es.vi), es.measure, es.study
    )
