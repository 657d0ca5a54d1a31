"""Inverse-variance pooling: common-effect and random-effects models as metafor's ``rma.uni``.

:func:`rma` fits an intercept-only model and returns a :class:`MetaResult` carrying every
figure a forest plot needs (pooled estimate, CI, test, heterogeneity with both I² CIs,
prediction interval, study weights). :func:`rma_mods` fits a meta-regression (used by the
subgroup and trim-and-fill code).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ._rmath import DBL_EPSILON, UNIROOT_TOL, uniroot
from .errors import ConvergenceError, StatsInputError
from .tau2 import METHODS, _project, _tr_p, estimate_tau2, qe_at

TESTS = ("z", "knha")

POOL_FIELDS = (
    "k",
    "method",
    "test",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "stat",
    "p",
    "tau2",
    "tau",
    "I2",
    "I2_q",
    "H2",
    "Q",
    "Q_df",
    "Q_p",
    "pi_low",
    "pi_high",
    "I2_test_ci_low",
    "I2_test_ci_high",
    "I2_qprofile_ci_low",
    "I2_qprofile_ci_high",
)


def clean_number(x: Any) -> Any:
    """Python float for finite numbers, ``None`` for NaN/±inf (JSON-safe)."""
    if x is None:
        return None
    if isinstance(x, bool | str):
        return x
    if isinstance(x, int | np.integer):
        return int(x)
    xf = float(x)
    return xf if math.isfinite(xf) else None


# --------------------------------------------------------------------------- validation


def validate_inputs(
    yi: Sequence[float] | np.ndarray, vi: Sequence[float] | np.ndarray, min_k: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``yi``, ``vi`` as float arrays or raise :class:`StatsInputError`."""
    try:
        y = np.asarray(yi, dtype=float).ravel()
        v = np.asarray(vi, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"yi and vi must be numeric: {exc}") from None
    if y.shape != v.shape:
        raise StatsInputError(f"yi has {y.size} values but vi has {v.size}")
    if y.size < min_k:
        raise StatsInputError(f"need at least {min_k} studies, got {y.size}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise StatsInputError(f"yi of study {bad[0] + 1} is missing or not finite")
    bad = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if bad.size:
        raise StatsInputError(f"vi of study {bad[0] + 1} must be a finite number > 0")
    return y, v


def _check_options(method: str, test: str, level: float) -> None:
    if method not in METHODS:
        raise StatsInputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise StatsInputError(f"unknown test {test!r}; use 'z' or 'knha'")
    if not (0 < level < 100):
        raise StatsInputError(f"level must be a percentage between 0 and 100, got {level}")


# --------------------------------------------------------------------------- core fit


@dataclass(frozen=True)
class _Fit:
    """Internal result of a (meta-regression) fit, metafor naming."""

    k: int
    p: int
    method: str
    test: str
    alpha: float
    tau2: float
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    crit: float
    ddf: int | None
    QE: float
    QEp: float
    I2: float
    H2: float
    vt: float
    weights: np.ndarray  # 1/(v + tau2)


def _fit(y: np.ndarray, v: np.ndarray, X: np.ndarray, method: str, test: str, level: float) -> _Fit:
    k, p = X.shape
    alpha = 1 - level / 100
    tau2 = estimate_tau2(y, v, X, method)
    proj = _project(X, 1.0 / (v + tau2), y)
    vb = proj.A.copy()
    if test == "knha":
        rss = proj.rss
        # metafor: no truncation of the Knapp-Hartung factor, but 0 if RSS is numerically 0
        s2w = 0.0 if rss <= DBL_EPSILON or k == p else rss / (k - p)
        vb = s2w * vb
        ddf: int | None = k - p
        crit = float(stats.t.isf(alpha / 2, ddf)) if ddf > 0 else float("nan")
    else:
        ddf = None
        crit = float(stats.norm.isf(alpha / 2))
    se = np.sqrt(np.diag(vb))
    beta = proj.beta
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    pval = 2 * (stats.t.sf(np.abs(zval), ddf) if ddf is not None else stats.norm.sf(np.abs(zval)))
    ci_lb = beta - crit * se
    ci_ub = beta + crit * se

    # heterogeneity always from the common-effect (1/v) weights
    proj_fe = _project(X, 1.0 / v, y)
    if k == p:  # saturated (common-effect) model: metafor sets these by convention
        QE, QEp, I2, H2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    else:
        QE = max(0.0, proj_fe.rss)
        QEp = float(stats.chi2.sf(QE, k - p))
        vt = (k - p) / _tr_p(X, proj_fe)
        if method == "FE":
            I2 = 0.0 if QE == 0 else max(0.0, 100 * (QE - (k - p)) / QE)
            H2 = QE / (k - p)
        else:
            I2 = 100 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1
    return _Fit(
        k,
        p,
        method,
        test,
        alpha,
        tau2,
        beta,
        vb,
        se,
        zval,
        pval,
        ci_lb,
        ci_ub,
        crit,
        ddf,
        QE,
        QEp,
        I2,
        H2,
        vt,
        proj.w,
    )


# --------------------------------------------------------------------------- heterogeneity CIs


def i2_ci_test_based(
    Q: float, df: int, level: float = 95
) -> tuple[float | None, float | None, float]:
    """I² and its test-based CI (Higgins & Thompson 2002), as R package ``meta`` computes it.

    Returns ``(lower, upper, I2)`` in percent; the limits are ``None`` when k = df + 1 < 3.
    SE(ln H) = ½(ln Q − ln df)/(√(2Q) − √(2k−3)) if Q > k, else
    √(1/(2(k−2)) · (1 − 1/(3(k−2)²))); H limits exp(ln H ± z·SE) truncated at 1.

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a
    meta-analysis. *Statistics in Medicine*, 21, 1539-1558 (Appendix A.2).
    Schwarzer, G. R package meta, functions ``calcH`` and ``isquared``.
    """
    k = df + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        H = math.sqrt(Q / df) if df > 0 else float("nan")

    def to_i2(h: float) -> float:
        return 100 * (h**2 - 1) / h**2

    i2 = to_i2(max(H, 1.0)) if math.isfinite(H) else 0.0
    if k < 3:
        return None, None, i2
    if k < Q:
        se_log_h = 0.5 * (math.log(Q) - math.log(k - 1)) / (math.sqrt(2 * Q) - math.sqrt(2 * k - 3))
    else:
        se_log_h = math.sqrt(1 / (2 * (k - 2)) * (1 - 1 / (3 * (k - 2) ** 2)))
    z = float(stats.norm.isf((1 - level / 100) / 2))
    log_h = math.log(H) if H > 0 else -math.inf
    lower = to_i2(max(math.exp(log_h - z * se_log_h), 1.0))
    upper = to_i2(max(math.exp(log_h + z * se_log_h), 1.0))
    return lower, upper, i2


def tau2_ci_qprofile(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    tau2: float = 0.0,
    level: float = 95,
    X: np.ndarray | None = None,
) -> tuple[float | None, float | None]:
    """Q-profile CI for τ² (metafor ``confint(..., type="QP")``).

    ``tau2`` is the model's estimate; it only sets the upper search bound
    max(100, 10·τ̂²) exactly as metafor does. Limits are ``None`` if a search fails.

    References
    ----------
    Viechtbauer, W. (2007). Confidence intervals for the amount of heterogeneity in
    meta-analysis. *Statistics in Medicine*, 26, 37-52.
    """
    y, v = validate_inputs(yi, vi)
    if X is None:
        X = np.ones((len(y), 1))
    k, p = X.shape
    alpha = 1 - level / 100
    t_min = min(0.0, tau2)
    t_max = max(100.0, tau2 * 10, t_min * 10)
    crit_u = float(stats.chi2.isf(alpha / 2, k - p))
    crit_l = float(stats.chi2.ppf(alpha / 2, k - p))
    q_max = qe_at(t_max, y, v, X)
    q_min = qe_at(t_min, y, v, X)

    def root(target: float) -> float | None:
        try:
            return uniroot(
                lambda t: qe_at(t, y, v, X) - target, t_min, t_max, tol=UNIROOT_TOL, maxiter=1000
            )
        except ConvergenceError:
            return None

    lb: float | None
    ub: float | None
    lb = ub = None
    if q_min < crit_l:
        lb = ub = t_min
    elif q_max > crit_l:
        ub = t_max
    else:
        ub = root(crit_l)
    if q_max > crit_u:
        lb = ub = t_max
    elif q_min < crit_u:
        lb = t_min
    else:
        lb = root(crit_u)
    return lb, ub


def i2_ci_qprofile(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    tau2: float = 0.0,
    level: float = 95,
) -> tuple[float | None, float | None]:
    """I² CI (percent) from the Q-profile τ² CI, I² = 100·τ²/(ṽ + τ²) (metafor ``confint``)."""
    y, v = validate_inputs(yi, vi)
    lb, ub = tau2_ci_qprofile(y, v, tau2, level)
    vt = _typical_variance(v)
    return (
        None if lb is None else 100 * lb / (vt + lb),
        None if ub is None else 100 * ub / (vt + ub),
    )


def _typical_variance(v: np.ndarray) -> float:
    """metafor's 'typical' within-study variance (k−1)/tr(P) with weights 1/v."""
    w = 1 / v
    return (len(v) - 1) / (w.sum() - (w**2).sum() / w.sum())


# --------------------------------------------------------------------------- public results


@dataclass(frozen=True)
class Prediction:
    """Pooled estimate with its CI and prediction interval (metafor ``predict``)."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float | None
    pi_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: clean_number(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class MetaResult:
    """Intercept-only meta-analysis (common-effect or random-effects), metafor ``rma.uni``.

    I², I2_q and their CIs are in percent. ``weights`` are percentages (metafor
    ``weights()``), ``df`` is the t-distribution df under Knapp-Hartung (``None`` for z).
    """

    k: int
    method: str
    test: str
    level: float
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    stat: float
    p: float
    df: int | None
    tau2: float
    tau: float
    I2: float
    I2_q: float
    H2: float
    Q: float
    Q_df: int
    Q_p: float
    pi_low: float | None
    pi_high: float | None
    I2_test_ci_low: float | None
    I2_test_ci_high: float | None
    I2_qprofile_ci_low: float | None
    I2_qprofile_ci_high: float | None
    tau2_ci_low: float | None
    tau2_ci_high: float | None
    vt: float
    yi: tuple[float, ...] = field(repr=False)
    vi: tuple[float, ...] = field(repr=False)
    weights: tuple[float, ...] = field(repr=False)
    study: tuple[str, ...] = field(repr=False)

    def pool_fields(self) -> dict[str, Any]:
        """The ``pool`` command-line fields only (JSON-safe)."""
        return {name: clean_number(getattr(self, name)) for name in POOL_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-safe (NaN/inf → None), per-study data as lists."""
        out = self.pool_fields()
        for name in ("level", "df", "tau2_ci_low", "tau2_ci_high", "vt"):
            out[name] = clean_number(getattr(self, name))
        out["studies"] = [
            {"study": s, "yi": clean_number(y), "vi": clean_number(v), "weight": clean_number(w)}
            for s, y, v, w in zip(self.study, self.yi, self.vi, self.weights, strict=True)
        ]
        return out


def _labels(study: Sequence[object] | None, k: int) -> tuple[str, ...]:
    if study is None:
        return tuple(str(i) for i in range(1, k + 1))
    labels = tuple(str(s) for s in study)
    if len(labels) != k:
        raise StatsInputError(f"{len(labels)} study labels for {k} studies")
    return labels


def rma(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    study: Sequence[object] | None = None,
) -> MetaResult:
    """Fit a common-effect (``method="FE"``) or random-effects model, as metafor ``rma``.

    Parameters
    ----------
    yi, vi
        Effect sizes and sampling variances (k ≥ 2, vi > 0).
    method
        τ² estimator: DL, REML (default), ML, PM, SJ, HE, or FE for a common-effect model.
    test
        ``"z"`` (normal) or ``"knha"`` (Hartung-Knapp-Sidik-Jonkman, t with k−1 df).
    level
        Confidence level in percent.
    study
        Optional study labels (kept for weights, leave-one-out and outliers).

    References
    ----------
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
    *Journal of Statistical Software*, 36(3), 1-48.
    Hartung, J., & Knapp, G. (2001). On tests of the overall treatment effect in
    meta-analysis with normally distributed responses. *Statistics in Medicine*, 20, 1771-1782.
    """
    _check_options(method, test, level)
    y, v = validate_inputs(yi, vi)
    labels = _labels(study, len(y))
    X = np.ones((len(y), 1))
    fit = _fit(y, v, X, method, test, level)
    return _result_from_fit(fit, y, v, X, labels, level)


def _result_from_fit(
    fit: _Fit, y: np.ndarray, v: np.ndarray, X: np.ndarray, labels: tuple[str, ...], level: float
) -> MetaResult:
    k = fit.k
    b = float(fit.beta[0])
    se = float(fit.se[0])
    half = fit.crit * math.sqrt(se**2 + fit.tau2)
    t_lo, t_hi, i2_q = i2_ci_test_based(fit.QE, k - 1, level)
    if fit.method == "FE":
        # Q-profile bounds do not depend on the estimate except via the search bound
        q_lb, q_ub = tau2_ci_qprofile(y, v, 0.0, level, X)
    else:
        q_lb, q_ub = tau2_ci_qprofile(y, v, fit.tau2, level, X)
    w = fit.weights
    return MetaResult(
        k=k,
        method=fit.method,
        test=fit.test,
        level=level,
        estimate=b,
        se=se,
        ci_low=float(fit.ci_lb[0]),
        ci_high=float(fit.ci_ub[0]),
        stat=float(fit.zval[0]),
        p=float(fit.pval[0]),
        df=fit.ddf,
        tau2=fit.tau2,
        tau=math.sqrt(fit.tau2),
        I2=fit.I2,
        I2_q=i2_q,
        H2=fit.H2,
        Q=fit.QE,
        Q_df=k - 1,
        Q_p=fit.QEp,
        # metafor gives no prediction interval for common-effect models
        pi_low=None if fit.method == "FE" else b - half,
        pi_high=None if fit.method == "FE" else b + half,
        I2_test_ci_low=t_lo,
        I2_test_ci_high=t_hi,
        I2_qprofile_ci_low=None if q_lb is None else 100 * q_lb / (fit.vt + q_lb),
        I2_qprofile_ci_high=None if q_ub is None else 100 * q_ub / (fit.vt + q_ub),
        tau2_ci_low=q_lb,
        tau2_ci_high=q_ub,
        vt=fit.vt,
        yi=tuple(float(x) for x in y),
        vi=tuple(float(x) for x in v),
        weights=tuple(float(x) for x in 100 * w / w.sum()),
        study=labels,
    )


def predict(result: MetaResult, level: float | None = None) -> Prediction:
    """Pooled estimate, CI and prediction interval (metafor ``predict.rma``, pi.type default).

    PI = μ̂ ± crit·√(SE² + τ²), crit from z, or t with k−1 df under Knapp-Hartung.
    Common-effect (FE) models have no PI (``None``), as in metafor.

    References
    ----------
    Riley, R. D., Higgins, J. P. T., & Deeks, J. J. (2011). Interpretation of random
    effects meta-analyses. *BMJ*, 342, d549.
    """
    lvl = result.level if level is None else level
    alpha = 1 - lvl / 100
    crit = float(stats.t.isf(alpha / 2, result.df) if result.df else stats.norm.isf(alpha / 2))
    half_ci = crit * result.se
    half_pi = crit * math.sqrt(result.se**2 + result.tau2)
    return Prediction(
        result.estimate,
        result.se,
        result.estimate - half_ci,
        result.estimate + half_ci,
        None if result.method == "FE" else result.estimate - half_pi,
        None if result.method == "FE" else result.estimate + half_pi,
    )


@dataclass(frozen=True)
class ModsResult:
    """Meta-regression fit (metafor ``rma(yi, vi, mods=...)``) used internally and by subgroups."""

    k: int
    p: int
    method: str
    test: str
    beta: tuple[float, ...]
    se: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    tau2: float
    I2: float
    QE: float
    QEp: float
    QM: float
    QM_df: tuple[int, int | None]
    QM_p: float
    vb: tuple[tuple[float, ...], ...] = field(repr=False)
    crit: float = field(repr=False)


def rma_mods(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    X: np.ndarray,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    btt: Sequence[int] | None = None,
) -> ModsResult:
    """Meta-regression with design matrix ``X`` (include the intercept column yourself).

    ``QM`` is the omnibus Wald test of the coefficients ``btt`` (default: all but the first
    column if it is constant, else all); an F statistic with (m, k−p) df under Knapp-Hartung.
    """
    _check_options(method, test, level)
    y, v = validate_inputs(yi, vi)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != len(y):
        raise StatsInputError("design matrix must have one row per study")
    k, p = X.shape
    if np.linalg.matrix_rank(X) < p:
        raise StatsInputError("design matrix is not of full rank")
    # metafor: a common-effect model may be saturated (k = p), a random-effects one may not
    if k < p or (k == p and method != "FE"):
        raise StatsInputError(f"{p} coefficients cannot be estimated from {k} studies")
    fit = _fit(y, v, X, method, test, level)
    if btt is None:
        btt = list(range(1, p)) if np.allclose(X[:, 0], 1) and p > 1 else list(range(p))
    idx = np.asarray(btt, dtype=int)
    b = fit.beta[idx]
    try:
        QM = float(b @ np.linalg.solve(fit.vb[np.ix_(idx, idx)], b))
    except np.linalg.LinAlgError:
        QM = float("nan")
    m = len(idx)
    if test == "knha":
        QM /= m
        qm_df: tuple[int, int | None] = (m, k - p)
        QMp = float(stats.f.sf(QM, m, k - p))
    else:
        qm_df = (m, None)
        QMp = float(stats.chi2.sf(QM, m))
    return ModsResult(
        k=k,
        p=p,
        method=method,
        test=test,
        beta=tuple(map(float, fit.beta)),
        se=tuple(map(float, fit.se)),
        ci_low=tuple(map(float, fit.ci_lb)),
        ci_high=tuple(map(float, fit.ci_ub)),
        tau2=fit.tau2,
        I2=fit.I2,
        QE=fit.QE,
        QEp=fit.QEp,
        QM=QM,
        QM_df=qm_df,
        QM_p=QMp,
        vb=tuple(tuple(map(float, row)) for row in fit.vb),
        crit=fit.crit,
    )
