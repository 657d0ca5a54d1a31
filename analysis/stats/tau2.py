"""Between-study variance (τ²) estimators, reproducing metafor 3.8's ``rma.uni``.

Every estimator works for a general (k × p) design matrix ``X`` so that it also serves
meta-regression (subgroups with a common τ², the trim-and-fill side test). The
projection matrix P = W − W X (XᵀWX)⁻¹ XᵀW is never formed: the quantities metafor
needs (YᵀPY, tr P, YᵀPPY, tr PP) are computed from p × p matrices, which keeps a fit
O(k p²) instead of O(k²).

Iterative estimators deliberately follow metafor's stopping rules (Fisher scoring stops
when |Δτ²| ≤ 1e-5; Paule-Mandel uses R's ``uniroot`` with tol ≈ 1.2e-4), because the
returned value then differs from the exact optimum by up to those tolerances and
matching metafor to 1e-6 requires taking the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._rmath import UNIROOT_TOL, r_mad, uniroot
from .errors import ConvergenceError, StatsInputError

METHODS = ("DL", "REML", "ML", "PM", "SJ", "HE", "FE")

# metafor rma.uni control defaults
THRESHOLD = 1e-5
MAXITER = 100
TAU2_MAX_DEFAULT = 100.0


@dataclass(frozen=True)
class _Projection:
    """Weighted least-squares pieces for weights ``w`` (diagonal W)."""

    w: np.ndarray
    A: np.ndarray  # (XᵀWX)⁻¹
    beta: np.ndarray
    resid: np.ndarray

    @property
    def rss(self) -> float:  # YᵀPY
        return float(np.sum(self.w * self.resid**2))


def _project(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> _Projection:
    Xw = X * w[:, None]
    A = np.linalg.inv(X.T @ Xw)
    beta = A @ (Xw.T @ y)
    return _Projection(w, A, beta, y - X @ beta)


def _tr_p(X: np.ndarray, proj: _Projection) -> float:
    Xw = X * proj.w[:, None]
    return float(np.sum(proj.w) - np.trace(proj.A @ (Xw.T @ Xw)))


def _tr_pp(X: np.ndarray, proj: _Projection) -> float:
    w = proj.w
    Xw = X * w[:, None]
    B2 = proj.A @ (Xw.T @ Xw)  # A XᵀW²X
    B3 = proj.A @ (Xw.T @ (Xw * w[:, None]))  # A XᵀW³X
    return float(np.sum(w**2) - 2 * np.trace(B3) + np.trace(B2 @ B2))


def qe_at(tau2: float, y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    """Generalised Q statistic YᵀP(τ²)Y with weights 1/(vᵢ + τ²) (metafor ``.QE.func``)."""
    return _project(X, 1.0 / (v + tau2), y).rss


def tau2_max_default(y: np.ndarray) -> float:
    """Upper search bound metafor uses for Paule-Mandel: max(100, 10·mad(y)²)."""
    return max(TAU2_MAX_DEFAULT, 10 * r_mad(y) ** 2)


def _he(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    k, p = X.shape
    proj = _project(X, np.ones(k), y)
    # tr(PV) with P = I − X(XᵀX)⁻¹Xᵀ
    tr_pv = float(np.sum(v) - np.trace(proj.A @ (X.T @ (X * v[:, None]))))
    return (proj.rss - tr_pv) / (k - p)


def _dl(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    k, p = X.shape
    proj = _project(X, 1.0 / v, y)
    return (proj.rss - (k - p)) / _tr_p(X, proj)


def _sj(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    k, p = X.shape
    tau2_0 = float(np.mean((y - y.mean()) ** 2))  # var(y)·(k−1)/k
    proj = _project(X, 1.0 / (v + tau2_0), y)
    return tau2_0 * proj.rss / (k - p)


def _pm(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    k, p = X.shape
    target = k - p
    if qe_at(0.0, y, v, X) < target:
        return 0.0
    upper = tau2_max_default(y)
    if qe_at(upper, y, v, X) > target:
        raise ConvergenceError(
            f"Paule-Mandel: tau2 exceeds the search bound {upper:g}; use another method"
        )
    return uniroot(
        lambda t: qe_at(t, y, v, X) - target, 0.0, upper, tol=UNIROOT_TOL, maxiter=MAXITER
    )


def _loglik(tau2: float, y: np.ndarray, v: np.ndarray, X: np.ndarray, reml: bool) -> float:
    k, p = X.shape
    proj = _project(X, 1.0 / (v + tau2), y)
    if reml:
        _, logdet = np.linalg.slogdet(X.T @ (X * proj.w[:, None]))
        return float(
            -0.5 * (k - p) * np.log(2 * np.pi)
            - 0.5 * np.sum(np.log(v + tau2))
            - 0.5 * logdet
            - 0.5 * proj.rss
        )
    return float(-0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * proj.rss)


def _fisher_scoring(y: np.ndarray, v: np.ndarray, X: np.ndarray, reml: bool) -> float:
    tau2 = max(0.0, _he(y, v, X))  # metafor starts from the (truncated) HE estimate
    change = THRESHOLD + 1
    it = 0
    while change > THRESHOLD:
        it += 1
        old = tau2
        proj = _project(X, 1.0 / (v + tau2), y)
        w = proj.w
        py = w * proj.resid  # P Y
        if reml:
            adj = (float(py @ py) - _tr_p(X, proj)) / _tr_pp(X, proj)
        else:
            adj = (float(py @ py) - float(np.sum(w))) / float(np.sum(w**2))
        if np.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0:  # step halving keeps τ² ≥ tau2.min = 0
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if it > MAXITER:
            raise ConvergenceError("Fisher scoring algorithm did not converge")
    # metafor's ll0check: fall back to τ² = 0 if it has a higher likelihood
    if tau2 > THRESHOLD:
        ll0 = _loglik(0.0, y, v, X, reml)
        ll = _loglik(tau2, y, v, X, reml)
        if ll0 - ll > UNIROOT_TOL:
            tau2 = 0.0
    return tau2


def estimate_tau2(
    y: np.ndarray, v: np.ndarray, X: np.ndarray | None = None, method: str = "REML"
) -> float:
    """Estimate τ² by ``method`` (DL, REML, ML, PM, SJ, HE; FE gives 0), truncated at 0.

    Parameters
    ----------
    y, v
        Effect sizes and sampling variances (length k).
    X
        Design matrix (k × p); an intercept column if omitted.
    method
        Estimator name as in metafor.

    References
    ----------
    DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. *Controlled
    Clinical Trials*, 7, 177-188.
    Hedges, L. V. (1983). A random effects model for effect sizes. *Psychological Bulletin*,
    93, 388-395.
    Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors. *Journal of
    Research of the National Bureau of Standards*, 87, 377-385.
    Sidik, K., & Jonkman, J. N. (2005). Simple heterogeneity variance estimation for
    meta-analysis. *JRSS C*, 54, 367-384.
    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. *Journal of Educational and Behavioral Statistics*, 30, 261-293.
    """
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if X is None:
        X = np.ones((len(y), 1))
    k, p = X.shape
    if method not in METHODS:
        raise StatsInputError(f"unknown tau2 method {method!r}; use one of {', '.join(METHODS)}")
    if method == "FE":
        return 0.0
    if k <= p:
        raise StatsInputError(f"cannot estimate tau2 with k = {k} studies and {p} coefficient(s)")
    if method == "DL":
        tau2 = _dl(y, v, X)
    elif method == "HE":
        tau2 = _he(y, v, X)
    elif method == "SJ":
        tau2 = _sj(y, v, X)
    elif method == "PM":
        tau2 = _pm(y, v, X)
    else:
        tau2 = _fisher_scoring(y, v, X, reml=method == "REML")
    return max(0.0, float(tau2))
