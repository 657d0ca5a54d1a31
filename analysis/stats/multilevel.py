"""Three-level meta-analysis: effects within studies, as metafor 3.8's
``rma.mv(yi, vi, mods, random = ~ 1 | study/es)``.

The marginal covariance is block diagonal by study, V_j = diag(v_j + σ²₂) + σ²₃·11ᵀ
(σ²₃ between studies, "level 3"; σ²₂ between effects within a study, "level 2"), so
V_j⁻¹ and log|V_j| have closed forms (Sherman-Morrison) and a likelihood evaluation
costs O(k p²) instead of metafor's dense O(k³). The (restricted) likelihood is
maximised exactly (L-BFGS-B on σ² ≥ 0, then Newton steps), so a component whose
optimum is on the boundary is 0 here where metafor's optimiser, working on log σ²,
stops at a value of order 1e-9.

References
----------
Konstantopoulos, S. (2011). Fixed effects and variance components estimation in
three-level meta-analysis. *Research Synthesis Methods*, 2, 61-76.
Cheung, M. W.-L. (2014). Modeling dependent effect sizes with three-level
meta-analyses: A structural equation modeling approach. *Psychological Methods*, 19,
211-229.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
*Journal of Statistical Software*, 36(3), 1-48.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from ._rmath import DBL_EPSILON, UNIROOT_TOL, uniroot
from .errors import ConvergenceError, StatsInputError

ML_METHODS = ("REML", "ML")
ML_TESTS = ("z", "t")
LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class _State:
    """Everything a fit needs at one value of (σ²₃, σ²₂)."""

    ll: float
    grad: np.ndarray
    beta: np.ndarray
    B: np.ndarray  # (XᵀV⁻¹X)⁻¹


class ThreeLevelModel:
    """Data of a three-level model (rows sorted by study internally)."""

    def __init__(self, y: np.ndarray, v: np.ndarray, X: np.ndarray, codes: np.ndarray) -> None:
        order = np.argsort(codes, kind="stable")
        self.order = order
        self.y = y[order]
        self.v = v[order]
        self.X = X[order]
        self.codes = codes[order]
        self.k, self.p = X.shape
        sizes = np.bincount(self.codes)
        self.n = len(sizes)
        self.sizes = sizes
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        _, self.logdet_xx = np.linalg.slogdet(self.X.T @ self.X)

    def _rowsum(self, Z: np.ndarray) -> np.ndarray:
        return np.add.reduceat(Z, self.starts, axis=0)

    def state(self, s3: float, s2: float, reml: bool, want_grad: bool = True) -> _State:
        """(Restricted) log-likelihood, its gradient in (σ²₃, σ²₂) and the GLS fit."""
        y, v, X, k, p = self.y, self.v, self.X, self.k, self.p
        a = 1.0 / (v + s2)
        S = self._rowsum(a)
        c = s3 / (1.0 + s3 * S)
        ci = c[self.codes]
        aX = a[:, None] * X
        WX = aX - a[:, None] * (ci[:, None] * self._rowsum(aX)[self.codes])
        ay = a * y
        Wy = ay - a * ci * self._rowsum(ay)[self.codes]
        XWX = X.T @ WX
        try:
            chol = np.linalg.cholesky(XWX)
        except np.linalg.LinAlgError:
            raise StatsInputError("the model matrix is not of full rank") from None
        B = np.linalg.inv(XWX)
        beta = B @ (WX.T @ y)
        u = Wy - WX @ beta  # V⁻¹(y − Xβ)
        rss = float((y - X @ beta) @ u)
        logdet_v = float(np.sum(np.log(v + s2)) + np.sum(np.log1p(s3 * S)))
        if reml:
            logdet_xwx = 2 * float(np.sum(np.log(np.diag(chol))))
            ll = (
                -0.5 * (k - p) * LOG2PI
                + 0.5 * self.logdet_xx
                - 0.5 * logdet_v
                - 0.5 * logdet_xwx
                - 0.5 * rss
            )
        else:
            ll = -0.5 * k * LOG2PI - 0.5 * logdet_v - 0.5 * rss
        grad = np.zeros(2)
        if want_grad:
            su = self._rowsum(u)
            tr_w3 = float(np.sum(S / (1.0 + s3 * S)))
            tr_w2 = float(np.sum(a) - np.sum(c * self._rowsum(a * a)))
            g3 = -0.5 * tr_w3 + 0.5 * float(su @ su)
            g2 = -0.5 * tr_w2 + 0.5 * float(u @ u)
            if reml:
                Rw = self._rowsum(WX)
                g3 += 0.5 * float(np.sum(B * (Rw.T @ Rw)))
                g2 += 0.5 * float(np.sum(B * (WX.T @ WX)))
            grad = np.array([g3, g2])
        return _State(float(ll), grad, beta, B)


def _maximise(
    model: ThreeLevelModel,
    reml: bool,
    start: np.ndarray,
    fixed: tuple[float | None, float | None] = (None, None),
) -> np.ndarray:
    """Maximise the (restricted) likelihood over the free σ² (≥ 0); returns (σ²₃, σ²₂)."""
    free = [i for i in range(2) if fixed[i] is None]
    if len(free) == 1:
        return _maximise_1d(model, reml, float(start[free[0]]), fixed, free[0])

    def full(x: np.ndarray) -> np.ndarray:
        th = np.array([0.0 if f is None else f for f in fixed], dtype=float)
        th[free] = x
        return th

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        st = model.state(*full(x), reml)
        return -st.ll, -st.grad[free]

    x0 = np.maximum(np.asarray(start, dtype=float)[free], 0.0)
    res = optimize.minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, None)] * len(free),
        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 2000},
    )
    x = np.maximum(np.asarray(res.x, dtype=float), 0.0)
    # Newton polish on the components away from the boundary (finite-difference Hessian
    # of the analytic gradient): L-BFGS-B stops on the objective, we want σ² to 1e-10.
    for _ in range(30):
        st = model.state(*full(x), reml)
        g = st.grad[free]
        active = [i for i in range(len(free)) if not (x[i] <= 0.0 and g[i] < 0)]
        if not active:
            break
        Hm = np.empty((len(active), len(active)))
        for col, i in enumerate(active):
            h = 1e-6 * max(x[i], 1e-4)
            xp = x.copy()
            xp[i] += h
            gp = model.state(*full(xp), reml).grad[free]
            Hm[:, col] = (gp[active] - g[active]) / h
        Hm = (Hm + Hm.T) / 2
        try:
            step = -np.linalg.solve(Hm, g[active])
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.any(np.linalg.eigvalsh(Hm) >= 0):
            break
        xn = x.copy()
        xn[active] = np.maximum(x[active] + step, 0.0)
        if model.state(*full(xn), reml, want_grad=False).ll < st.ll - 1e-12:
            break
        moved = np.max(np.abs(xn - x) / np.maximum(1.0, np.abs(x)))
        x = xn
        if moved < 1e-13:
            break
    return full(x)


def _maximise_1d(
    model: ThreeLevelModel,
    reml: bool,
    start: float,
    fixed: tuple[float | None, float | None],
    i: int,
) -> np.ndarray:
    """One free component: the root of the score on [0, ∞) (0 if the score is negative there)."""

    def theta(x: float) -> np.ndarray:
        th = np.array([0.0 if f is None else f for f in fixed], dtype=float)
        th[i] = x
        return th

    def score(x: float) -> float:
        return float(model.state(*theta(x), reml).grad[i])

    if score(0.0) <= 0:
        return theta(0.0)
    hi = max(start, 1e-4)
    for _ in range(200):
        if score(hi) < 0:
            break
        hi *= 4
    else:
        raise ConvergenceError("the variance component grows without bound")
    root = optimize.brentq(score, 0.0, hi, xtol=1e-14, rtol=1e-13, maxiter=500)
    return theta(root)


def fit_variance_components(
    model: ThreeLevelModel, reml: bool, fixed: tuple[float | None, float | None] = (None, None)
) -> np.ndarray:
    """ML/REML estimates of (σ²₃, σ²₂), starting where metafor starts.

    metafor's start is half of max(0.002, var(residuals of the 1/v fit) − 1/mean(1/v)) for
    each component. When every study has one effect the two levels are not identified
    (only their sum is); metafor's optimiser then keeps the equal split of its start, and
    so do we: the sum is fitted and split in halves.
    """
    y, v, X = model.y, model.v, model.X
    w = 1 / v
    beta_fe = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    resid = y - X @ beta_fe
    total = max(0.002, float(np.var(resid, ddof=1)) - 1 / float(np.mean(w)))
    start = np.array([total / 2, total / 2])
    if model.sizes.max() == 1 and fixed == (None, None):
        th = _maximise(model, reml, np.array([0.0, total]), fixed=(0.0, None))
        return np.array([th[1] / 2, th[1] / 2])
    for i, f in enumerate(fixed):
        if f is not None:
            start[i] = f
    th = _maximise(model, reml, start, fixed)
    # metafor treats components ≤ 10·eps as 0
    return np.where(th <= DBL_EPSILON * 10, 0.0, th)


def profile_ci(
    model: ThreeLevelModel,
    reml: bool,
    sigma2: np.ndarray,
    ll_hat: float,
    which: int,
    level: float = 95,
) -> tuple[float | None, float | None]:
    """Profile-likelihood CI of σ²[which] (metafor ``confint(fit, sigma2 = which + 1)``).

    The other component is re-estimated at each trial value; the limits are where
    −2(ℓ(σ²) − ℓ̂) equals the χ²₁ quantile, searched by R's ``uniroot`` on [0, σ̂²] and
    [σ̂², max(10, 100·σ̂²)] as metafor does (a limit is the search bound when the
    profile never crosses inside it).
    """
    objective = float(stats.chi2.isf(1 - level / 100, 1))
    est = float(sigma2[which])

    def f(val: float) -> float:
        fixed: list[float | None] = [None, None]
        fixed[which] = val
        other = fit_variance_components(model, reml, (fixed[0], fixed[1]))
        ll = model.state(other[0], other[1], reml, want_grad=False).ll
        return -2 * (ll - ll_hat) - objective

    vc_min = 0.0
    vc_max = 10.0 if est <= DBL_EPSILON**0.5 else max(10.0, est * 100)
    try:
        lb = vc_min if f(vc_min) < 0 else uniroot(f, vc_min, est, tol=UNIROOT_TOL)
    except (ConvergenceError, StatsInputError):
        lb = None
    try:
        ub = vc_max if f(vc_max) < 0 else uniroot(f, est, vc_max, tol=UNIROOT_TOL)
    except (ConvergenceError, StatsInputError):
        ub = None
    return lb, ub


def typical_variance(v: np.ndarray, X: np.ndarray) -> float:
    """(k − p)/tr(P) with P = W − WX(XᵀWX)⁻¹XᵀW, W = diag(1/v) (metafor's 'typical' vᵢ)."""
    w = 1 / v
    Xw = X * w[:, None]
    A = np.linalg.inv(X.T @ Xw)
    tr_p = float(np.sum(w) - np.trace(A @ (Xw.T @ Xw)))
    k, p = X.shape
    return (k - p) / tr_p


def check_levels(study: Sequence[object], es: Sequence[object] | None) -> None:
    """Each effect must be its own level-2 unit within its study."""
    if es is None:
        return
    seen: set[tuple[str, str]] = set()
    for s, e in zip(study, es, strict=True):
        key = (str(s), str(e))
        if key in seen:
            raise StatsInputError(
                f"study {s} has two effects with the same id {e!r}; each effect needs its own id"
            )
        seen.add(key)


def check_ml_options(method: str, test: str, level: float) -> None:
    if method not in ML_METHODS:
        raise StatsInputError(f"unknown method {method!r}; use REML or ML")
    if test not in ML_TESTS:
        raise StatsInputError(f"unknown test {test!r}; use 'z' or 't'")
    if not (0 < level < 100):
        raise StatsInputError(f"level must be a percentage between 0 and 100, got {level}")
