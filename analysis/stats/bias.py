"""Small-study effects: Egger's regression test and Duval & Tweedie's trim-and-fill."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ._rmath import rank_first
from .errors import ConvergenceError, StatsInputError
from .pooling import MetaResult, _check_options, clean_number, rma, rma_mods, validate_inputs
from .tau2 import _project, estimate_tau2


@dataclass(frozen=True)
class EggerResult:
    """Egger's test (metafor ``regtest(model="lm", predictor="sei")``).

    ``stat`` is the t statistic of the slope on the standard error with ``df`` = k − 2;
    ``limit_estimate`` is the intercept, i.e. the expected effect as SE → 0.
    """

    k: int
    stat: float
    df: int
    p: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "stat": clean_number(self.stat),
            "df": self.df,
            "p": clean_number(self.p),
            "limit_estimate": clean_number(self.limit_estimate),
            "limit_ci_low": clean_number(self.limit_ci_low),
            "limit_ci_high": clean_number(self.limit_ci_high),
        }


def egger_test(
    yi: Sequence[float] | np.ndarray, vi: Sequence[float] | np.ndarray, level: float = 95
) -> EggerResult:
    """Egger's regression test: weighted least squares of yᵢ on SEᵢ with weights 1/vᵢ.

    References
    ----------
    Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis
    detected by a simple, graphical test. *BMJ*, 315, 629-634.
    Sterne, J. A. C., & Egger, M. (2005). Regression methods to detect publication and other
    bias in meta-analysis. In *Publication Bias in Meta-Analysis*, Wiley, 99-110.
    """
    y, v = validate_inputs(yi, vi, min_k=3)
    if np.ptp(y) == 0:
        raise StatsInputError("Egger's test is undefined when all effect sizes are identical")
    k = len(y)
    X = np.column_stack([np.ones(k), np.sqrt(v)])
    if np.ptp(X[:, 1]) == 0:
        raise StatsInputError("Egger's test needs studies with different standard errors")
    proj = _project(X, 1 / v, y)
    df = k - 2
    sigma2 = proj.rss / df  # lm() with weights: residual variance of the weighted fit
    cov = sigma2 * proj.A
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = proj.beta / se
    crit = float(stats.t.isf((1 - level / 100) / 2, df))
    b0 = float(proj.beta[0])
    return EggerResult(
        k=k,
        stat=float(t[1]),
        df=df,
        p=float(2 * stats.t.sf(abs(t[1]), df)),
        limit_estimate=b0,
        limit_ci_low=b0 - crit * float(se[0]),
        limit_ci_high=b0 + crit * float(se[0]),
    )


@dataclass(frozen=True)
class TrimFillResult:
    """Trim-and-fill result (metafor ``trimfill``): ``k`` counts studies after filling."""

    estimator: str
    side: str
    k0: int
    se_k0: float
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float
    filled_yi: tuple[float, ...]
    filled_vi: tuple[float, ...]
    model: MetaResult = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Command-line fields plus the filled studies."""
        return {
            "k0": self.k0,
            "side": self.side,
            "k": self.k,
            "estimate": clean_number(self.estimate),
            "se": clean_number(self.se),
            "ci_low": clean_number(self.ci_low),
            "ci_high": clean_number(self.ci_high),
            "tau2": clean_number(self.tau2),
            "estimator": self.estimator,
            "se_k0": clean_number(self.se_k0),
            "filled": [
                {"yi": clean_number(y), "vi": clean_number(v)}
                for y, v in zip(self.filled_yi, self.filled_vi, strict=True)
            ],
        }


def _pooled_beta(y: np.ndarray, v: np.ndarray, method: str) -> float:
    if len(y) == 1:  # metafor fits k = 1 as a common-effect model
        return float(y[0])
    tau2 = estimate_tau2(y, v, None, method)
    w = 1 / (v + tau2)
    return float(np.sum(w * y) / np.sum(w))


def trimfill(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    estimator: str = "L0",
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    side: str | None = None,
    study: Sequence[object] | None = None,
    maxiter: int = 100,
) -> TrimFillResult:
    """Trim-and-fill as metafor ``trimfill`` (estimators L0 and R0).

    The side with missing studies is taken from the sign of the slope of a meta-regression
    on √vᵢ (fitted with the same τ² method) unless ``side`` is given; the model is re-fitted
    to the filled data with the same method and test.

    References
    ----------
    Duval, S., & Tweedie, R. (2000). Trim and fill: A simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. *Biometrics*, 56, 455-463.
    Duval, S., & Tweedie, R. (2000). A nonparametric "trim and fill" method of accounting
    for publication bias in meta-analysis. *JASA*, 95, 89-98.
    """
    _check_options(method, test, level)
    if estimator not in ("L0", "R0"):
        raise StatsInputError(f"unknown trim-and-fill estimator {estimator!r}; use 'L0' or 'R0'")
    if side not in (None, "left", "right"):
        raise StatsInputError(f"side must be 'left' or 'right', got {side!r}")
    y0, v0 = validate_inputs(yi, vi)
    if np.ptp(y0) == 0:
        # every study sits on the pooled estimate: no funnel asymmetry to trim (metafor fails)
        raise StatsInputError("trim-and-fill is undefined when all effect sizes are identical")
    original = rma(y0, v0, method, test, level, study)
    if side is None:
        X = np.column_stack([np.ones(len(y0)), np.sqrt(v0)])
        slope = rma_mods(y0, v0, X, method, "z", level).beta[1]
        side = "right" if slope < 0 else "left"
    y = -y0 if side == "right" else y0.copy()
    order = np.argsort(y, kind="stable")
    y, v = y[order], v0[order]
    k = len(y)

    k0_prev, k0, it = -1, 0, 0
    se_k0 = float("nan")
    beta = float("nan")
    yc = y
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise ConvergenceError("trim-and-fill algorithm did not converge")
        beta = _pooled_beta(y[: k - k0], v[: k - k0], method)
        yc = y - beta
        signed = np.sign(yc) * rank_first(np.abs(yc))
        if estimator == "R0":
            neg = signed[signed < 0]
            if neg.size == 0:
                raise ConvergenceError(
                    "trim-and-fill (R0): no study lies below the pooled estimate"
                )
            k0_raw = (k - np.max(-neg)) - 1
            se_k0 = float(np.sqrt(2 * max(0.0, k0_raw) + 2))
        else:
            sr = float(np.sum(signed[signed > 0]))
            k0_raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * k0_raw**3
                + 27 * k0_raw**2
                + 17 * k0_raw
                - 18 * k * k0_raw**2
                - 18 * k * k0_raw
                + 6 * k**2 * k0_raw
            ) / 24
            se_k0 = float(4 * np.sqrt(var_sr) / (2 * k - 1)) if var_sr >= 0 else float("nan")
        # R's round() rounds half to even, as numpy does
        k0 = int(max(0, np.round(k0_raw)))
        se_k0 = max(0.0, se_k0) if np.isfinite(se_k0) else se_k0
        if k0 >= k:
            raise ConvergenceError("trim-and-fill: estimated number of missing studies >= k")

    if k0 == 0:
        return TrimFillResult(
            estimator,
            side,
            0,
            se_k0,
            original.k,
            original.estimate,
            original.se,
            original.ci_low,
            original.ci_high,
            original.tau2,
            (),
            (),
            original,
        )
    fill = 2 * beta - y[k - k0 :]  # mirror the k0 most extreme studies around beta
    if side == "right":
        fill = -fill
    fill_v = v[k - k0 :]
    labels = list(original.study) + [f"Filled {i}" for i in range(1, k0 + 1)]
    model = rma(
        np.concatenate([y0, fill]), np.concatenate([v0, fill_v]), method, test, level, labels
    )
    return TrimFillResult(
        estimator,
        side,
        k0,
        se_k0,
        model.k,
        model.estimate,
        model.se,
        model.ci_low,
        model.ci_high,
        model.tau2,
        tuple(map(float, fill)),
        tuple(map(float, fill_v)),
        model,
    )
