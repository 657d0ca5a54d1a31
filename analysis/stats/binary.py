"""Dichotomous outcomes: Mantel-Haenszel and Peto pooling as metafor's ``rma.mh``/``rma.peto``.

Both take the 2×2 cells per study (``ai, bi`` events/non-events in the intervention arm,
``ci, di`` in the control arm) and return a :class:`~.pooling.MetaResult` (common effect,
``tau2 = 0``, no prediction interval) on the analysis scale: log OR, log RR or RD.
:func:`pool_binary` also fits inverse-variance models the way
``rma(measure=, ai=, bi=, ci=, di=, method=)`` does, so one call covers every
measure × method the app offers.

metafor's defaults are mirrored exactly:

* the pooled estimate, its SE and weights use the raw counts of every table;
* the per-study ``yi``/``vi`` (forest plot rows and the Q statistic) come from ``escalc``
  with 1/2 added to every cell of a table with a zero cell, and double-zero tables
  (no events in either arm, or events only) left out (``drop00 = TRUE``), so
  ``Q_df = k_yi − 1`` may be smaller than ``k − 1``;
* inverse-variance fits use ``escalc``'s own default ``drop00 = FALSE``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from .effect_sizes import ArrayLike, _arrays, double_zero, escalc_binary
from .errors import StatsInputError
from .pooling import (
    METHODS,
    TESTS,
    MetaResult,
    _labels,
    i2_ci_test_based,
    rma,
)

BINARY_MEASURES = ("OR", "RR", "RD")
MH_METHODS = ("MH", "PETO")


def _cells(ai, bi, ci, di, study) -> tuple[np.ndarray, ...]:
    (a, b, c, d), _ = _arrays(("ai", "bi", "ci", "di"), (ai, bi, ci, di), study)
    for name, arr in (("ai", a), ("bi", b), ("ci", c), ("di", d)):
        if np.any(arr < 0):
            raise StatsInputError(f"cell counts must be >= 0 ({name})")
    if np.any(a + b <= 0) or np.any(c + d <= 0):
        raise StatsInputError("every study needs at least one patient in each arm")
    if len(a) < 2:
        raise StatsInputError(f"need at least 2 studies, got {len(a)}")
    return a, b, c, d


def _heterogeneity(
    yi: np.ndarray, vi: np.ndarray, beta: float
) -> tuple[float, int, float, float, float]:
    """Q, its df, p, I² and H² of the escalc'd (non double-zero) studies around ``beta``."""
    keep = np.isfinite(yi)
    k_yi = int(keep.sum())
    if k_yi <= 1:
        return 0.0, max(k_yi - 1, 0), 1.0, 0.0, 1.0
    q = max(0.0, float(np.sum((yi[keep] - beta) ** 2 / vi[keep])))
    df = k_yi - 1
    i2 = 0.0 if q == 0 else max(0.0, 100 * (q - df) / q)
    return q, df, float(stats.chi2.sf(q, df)), i2, q / df


def _result(
    *,
    method: str,
    level: float,
    beta: float,
    se: float,
    q: float,
    q_df: int,
    q_p: float,
    i2: float,
    h2: float,
    es_yi: np.ndarray,
    es_vi: np.ndarray,
    weights: np.ndarray,
    labels: tuple[str, ...],
) -> MetaResult:
    crit = float(stats.norm.isf((1 - level / 100) / 2))
    zval = beta / se
    t_lo, t_hi, i2_q = i2_ci_test_based(q, q_df, level) if q_df > 0 else (None, None, 0.0)
    return MetaResult(
        k=len(labels),
        method=method,
        test="z",
        level=level,
        estimate=beta,
        se=se,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        stat=zval,
        p=float(2 * stats.norm.sf(abs(zval))),
        df=None,
        tau2=0.0,
        tau=0.0,
        I2=i2,
        I2_q=i2_q,
        H2=h2,
        Q=q,
        Q_df=q_df,
        Q_p=q_p,
        pi_low=None,
        pi_high=None,
        I2_test_ci_low=t_lo,
        I2_test_ci_high=t_hi,
        # the Q-profile interval belongs to inverse-variance models; none for MH/Peto
        I2_qprofile_ci_low=None,
        I2_qprofile_ci_high=None,
        tau2_ci_low=None,
        tau2_ci_high=None,
        vt=float("nan"),
        yi=tuple(float(x) for x in es_yi),
        vi=tuple(float(x) for x in es_vi),
        weights=tuple(float(x) for x in 100 * weights / weights.sum()),
        study=labels,
    )


def rma_mh(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    measure: str = "OR",
    level: float = 95,
    study: Sequence[object] | None = None,
) -> MetaResult:
    """Mantel-Haenszel common-effect estimate of the OR, RR or RD (metafor ``rma.mh``).

    SE of the log OR from Robins, Breslow & Greenland (1986), of the log RR from
    Greenland & Robins (1985), of the RD from Sato, Greenland & Robins (1989).
    Raises :class:`StatsInputError` where metafor's estimate is NA (OR: no events in one
    arm or no non-events in the other across all studies; RR: no events in one arm).

    References
    ----------
    Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
    retrospective studies of disease. *JNCI*, 22, 719-748.
    Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel
    variance consistent in both sparse data and large-strata limiting models.
    *Biometrics*, 42, 311-323.
    """
    if measure not in BINARY_MEASURES:
        raise StatsInputError(f"Mantel-Haenszel pools OR, RR or RD, not {measure!r}")
    _check_level(level)
    a, b, c, d = _cells(ai, bi, ci, di, study)
    labels = _labels(study, len(a))
    n1, n2 = a + b, c + d
    n = n1 + n2
    if measure == "OR":
        p_, q_ = (a + d) / n, (b + c) / n
        r_, s_ = a * d / n, b * c / n
        big_r, big_s = r_.sum(), s_.sum()
        if big_r == 0 or big_s == 0:
            raise StatsInputError(
                "the Mantel-Haenszel odds ratio cannot be estimated: one arm has no events "
                "(or no non-events) in any study"
            )
        beta = math.log(big_r / big_s)
        var = 0.5 * (
            (p_ * r_).sum() / big_r**2
            + (p_ * s_ + q_ * r_).sum() / (big_r * big_s)
            + (q_ * s_).sum() / big_s**2
        )
        w = b * c / n
    elif measure == "RR":
        if a.sum() == 0 or c.sum() == 0:
            raise StatsInputError(
                "the Mantel-Haenszel risk ratio cannot be estimated: one arm has no events "
                "in any study"
            )
        big_r, big_s = (a * n2 / n).sum(), (c * n1 / n).sum()
        beta = math.log(big_r / big_s)
        var = ((n1 / n) * (n2 / n) * (a + c) - (a / n) * c).sum() / (big_r * big_s)
        w = c * n1 / n
    else:
        denom = (n1 * n2 / n).sum()
        beta = float((a * n2 / n - c * n1 / n).sum() / denom)
        var = (
            beta
            * (c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2).sum()
            + (a * (n2 - c) / n + c * (n1 - a) / n).sum() / 2
        ) / denom**2
        w = n1 * n2 / n
    es = escalc_binary(measure, a, b, c, d, drop00=True)
    q, q_df, q_p, i2, h2 = _heterogeneity(es.yi, es.vi, beta)
    return _result(
        method="MH",
        level=level,
        beta=float(beta),
        se=math.sqrt(var),
        q=q,
        q_df=q_df,
        q_p=q_p,
        i2=i2,
        h2=h2,
        es_yi=es.yi,
        es_vi=es.vi,
        weights=w,
        labels=labels,
    )


def rma_peto(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    level: float = 95,
    study: Sequence[object] | None = None,
) -> MetaResult:
    """Peto's one-step log odds ratio Σ(O − E)/ΣV, SE 1/√ΣV (metafor ``rma.peto``).

    Q = Σ(O − E)²/V − (Σ(O − E))²/ΣV over tables with V > 0.

    References
    ----------
    Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during
    and after myocardial infarction. *Progress in Cardiovascular Diseases*, 27, 335-371.
    """
    _check_level(level)
    a, b, c, d = _cells(ai, bi, ci, di, study)
    labels = _labels(study, len(a))
    n1, n2 = a + b, c + d
    n = n1 + n2
    xt, yt = a + c, b + d
    o_e = a - xt * n1 / n
    v = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
    if v.sum() == 0:
        raise StatsInputError(
            "Peto's method cannot be used: one of the two outcomes never occurred in any study"
        )
    beta = float(o_e.sum() / v.sum())
    pos = v > 0
    q = max(0.0, float((o_e[pos] ** 2 / v[pos]).sum() - o_e.sum() ** 2 / v.sum()))
    es = escalc_binary("PETO", a, b, c, d, drop00=True)
    k_yi = int(np.isfinite(es.yi).sum())
    q_df = max(k_yi - 1, 0)
    if pos.sum() > 1:
        q_p = float(stats.chi2.sf(q, q_df))
        i2 = 0.0 if q == 0 else max(0.0, 100 * (q - q_df) / q)
        h2 = q / q_df
    else:
        q_p, i2, h2 = 1.0, 0.0, 1.0
    return _result(
        method="PETO",
        level=level,
        beta=beta,
        se=1 / math.sqrt(v.sum()),
        q=q,
        q_df=q_df,
        q_p=q_p,
        i2=i2,
        h2=h2,
        es_yi=es.yi,
        es_vi=es.vi,
        weights=v,
        labels=labels,
    )


def _check_level(level: float) -> None:
    if not (0 < level < 100):
        raise StatsInputError(f"level must be a percentage between 0 and 100, got {level}")


def check_binary_options(measure: str, method: str, test: str) -> None:
    """Refuse combinations metafor does not fit (Peto is OR only; MH/Peto have no knha)."""
    if measure not in BINARY_MEASURES:
        raise StatsInputError(f"unknown dichotomous measure {measure!r}; use OR, RR or RD")
    if method not in (*METHODS, *MH_METHODS):
        raise StatsInputError(
            f"unknown method {method!r}; use one of {', '.join((*METHODS, *MH_METHODS))}"
        )
    if test not in TESTS:
        raise StatsInputError(f"unknown test {test!r}; use 'z' or 'knha'")
    if method == "PETO" and measure != "OR":
        raise StatsInputError("Peto's method pools odds ratios only (measure OR)")
    if method in MH_METHODS and test != "z":
        raise StatsInputError(f"{method} is a common-effect method; it has no Knapp-Hartung test")


def pool_binary(
    measure: str,
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    method: str = "MH",
    test: str = "z",
    level: float = 95,
    study: Sequence[object] | None = None,
) -> MetaResult:
    """Pool 2×2 tables by MH, Peto, or inverse variance (``rma(measure=, ai=, ...)``)."""
    check_binary_options(measure, method, test)
    if method == "MH":
        return rma_mh(ai, bi, ci, di, measure, level, study)
    if method == "PETO":
        return rma_peto(ai, bi, ci, di, level, study)
    a, b, c, d = _cells(ai, bi, ci, di, study)
    es = escalc_binary(measure, a, b, c, d, study=study)
    return rma(es.yi, es.vi, method, test, level, study)


__all__ = [
    "BINARY_MEASURES",
    "MH_METHODS",
    "check_binary_options",
    "double_zero",
    "pool_binary",
    "rma_mh",
    "rma_peto",
]
