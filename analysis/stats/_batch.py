"""Many intercept-only fits at once (leave-one-out), vectorised over rows.

Row ``b`` fits the studies with ``mask[b] == 1``. The arithmetic and the iteration rules
(HE start, Fisher scoring with |Δτ²| ≤ 1e-5 and step halving, ll0check) are those of
:mod:`analysis.stats.tau2`; each row stops iterating on its own, exactly as a separate fit
would. Paule-Mandel needs a sequential root search per row and is not handled here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._rmath import DBL_EPSILON, UNIROOT_TOL
from .errors import ConvergenceError
from .tau2 import MAXITER, THRESHOLD

BATCH_METHODS = ("DL", "REML", "ML", "SJ", "HE", "FE")


@dataclass(frozen=True)
class BatchFit:
    beta: np.ndarray
    se: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    tau2: np.ndarray
    QE: np.ndarray
    QEp: np.ndarray
    I2: np.ndarray
    H2: np.ndarray


def _wls(Y: np.ndarray, W: np.ndarray):
    sw = W.sum(1)
    b = (W * Y).sum(1) / sw
    R = Y - b[:, None]
    rss = (W * R**2).sum(1)
    return sw, b, R, rss


def _he(Y, V, M, n):
    ybar = (M * Y).sum(1) / n
    rss = (M * (Y - ybar[:, None]) ** 2).sum(1)
    sv = (M * V).sum(1)
    return (rss - (sv - sv / n)) / (n - 1)


def _loglik(tau2, Y, V, M, n, reml):
    W = M / (V + tau2[:, None])
    sw, _, _, rss = _wls(Y, W)
    logv = (M * np.log(V + tau2[:, None])).sum(1)
    if reml:
        return -0.5 * (n - 1) * np.log(2 * np.pi) - 0.5 * logv - 0.5 * np.log(sw) - 0.5 * rss
    return -0.5 * n * np.log(2 * np.pi) - 0.5 * logv - 0.5 * rss


def _fisher(Y, V, M, n, reml):
    tau2 = np.maximum(0.0, _he(Y, V, M, n))
    active = np.ones(len(tau2), dtype=bool)
    it = 0
    while active.any():
        it += 1
        W = M / (V + tau2[:, None])
        sw, _, R, _ = _wls(Y, W)
        py = W * R
        ypp = (py**2).sum(1)
        s2 = (W**2).sum(1)
        if reml:
            s3 = (W**3).sum(1)
            tr_p = sw - s2 / sw
            tr_pp = s2 - 2 * s3 / sw + (s2 / sw) ** 2
            adj = (ypp - tr_p) / tr_pp
        else:
            adj = (ypp - sw) / s2
        adj = np.where(np.isnan(adj) | ~active, 0.0, adj)
        while True:
            neg = tau2 + adj < 0
            if not neg.any():
                break
            adj = np.where(neg, adj / 2, adj)
        new = tau2 + adj
        change = np.abs(tau2 - new)
        tau2 = np.where(active, new, tau2)
        active &= change > THRESHOLD
        if it > MAXITER:  # as metafor: iteration 101 is a failure even if it converged
            raise ConvergenceError("Fisher scoring algorithm did not converge")
    check = tau2 > THRESHOLD
    if check.any():
        ll0 = _loglik(np.zeros_like(tau2), Y, V, M, n, reml)
        ll = _loglik(tau2, Y, V, M, n, reml)
        tau2 = np.where(check & (ll0 - ll > UNIROOT_TOL), 0.0, tau2)
    return tau2


def fit_intercept_batch(
    Y: np.ndarray, V: np.ndarray, M: np.ndarray, method: str, test: str, level: float
) -> BatchFit:
    """Fit one intercept-only model per row of ``M`` (0/1 inclusion mask)."""
    M = M.astype(float)
    Y = np.where(M > 0, Y, 0.0)
    V = np.where(M > 0, V, 1.0)
    n = M.sum(1)
    if method == "FE":
        tau2 = np.zeros(len(n))
    elif method == "HE":
        tau2 = _he(Y, V, M, n)
    elif method == "DL":
        W = M / V
        sw, _, _, rss = _wls(Y, W)
        tau2 = (rss - (n - 1)) / (sw - (W**2).sum(1) / sw)
    elif method == "SJ":
        ybar = (M * Y).sum(1) / n
        tau0 = (M * (Y - ybar[:, None]) ** 2).sum(1) / n
        _, _, _, rss = _wls(Y, M / (V + tau0[:, None]))
        tau2 = tau0 * rss / (n - 1)
    elif method in ("REML", "ML"):
        tau2 = _fisher(Y, V, M, n, method == "REML")
    else:
        raise ValueError(f"method {method} is not vectorised")
    tau2 = np.maximum(0.0, tau2)

    alpha = 1 - level / 100
    W = M / (V + tau2[:, None])
    sw, beta, _, rss = _wls(Y, W)
    vb = 1 / sw
    if test == "knha":
        s2w = np.where(rss <= DBL_EPSILON, 0.0, rss / (n - 1))
        vb = s2w * vb
        crit = stats.t.isf(alpha / 2, n - 1)
    else:
        crit = np.full(len(n), stats.norm.isf(alpha / 2))
    se = np.sqrt(vb)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = beta / se
    pval = 2 * stats.t.sf(np.abs(z), n - 1) if test == "knha" else 2 * stats.norm.sf(np.abs(z))

    Wf = M / V
    swf, _, _, qe = _wls(Y, Wf)
    qe = np.maximum(0.0, qe)
    df = n - 1
    vt = df / (swf - (Wf**2).sum(1) / swf)
    if method == "FE":
        with np.errstate(divide="ignore", invalid="ignore"):
            I2 = np.where(qe == 0, 0.0, np.maximum(0.0, 100 * (qe - df) / qe))
        H2 = qe / df
    else:
        I2 = 100 * tau2 / (vt + tau2)
        H2 = tau2 / vt + 1
    return BatchFit(
        beta, se, pval, beta - crit * se, beta + crit * se, tau2, qe, stats.chi2.sf(qe, df), I2, H2
    )
