"""Cluster-robust inference for a fitted (meta-regression or multilevel) model.

* ``CR2``: the bias-reduced linearisation sandwich of Bell & McCaffrey (2002) with
  Satterthwaite degrees of freedom for each coefficient and the approximate Hotelling
  (HTZ) Wald test of Tipton & Pustejovsky (2015), exactly as R's ``clubSandwich``
  (``vcovCR(type = "CR2")``, ``coef_test``, ``conf_int``, ``Wald_test(test = "HTZ")``)
  computes them for a metafor fit with inverse-variance weights, i.e. what
  ``metafor::robust(fit, cluster, clubSandwich = TRUE)`` reports.
* ``CR1``: metafor's own ``robust(fit, cluster)``: sandwich times n/(n − p), t and F
  tests with n − p degrees of freedom (n clusters, p coefficients).

The model's marginal covariance within cluster j is V_j = diag(d_j) + s·11ᵀ (``d`` the
sampling variance plus the effect-level variance, ``s`` the variance of a random effect
shared by the cluster, 0 for ``rma.uni``); clusters are processed in batches of equal
size so that the per-cluster matrix algebra runs vectorised.

References
----------
Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
regression with multi-stage samples. *Survey Methodology*, 28, 169-181.
Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for cluster-robust
variance estimation and hypothesis testing in fixed effects models. *Journal of Business
& Economic Statistics*, 36, 672-683.
Tipton, E., & Pustejovsky, J. E. (2015). Small-sample adjustments for tests of
moderators and model fit using robust variance estimation in meta-regression. *Journal
of Educational and Behavioral Statistics*, 40, 604-634.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .errors import StatsInputError

ROBUST_TYPES = ("CR2", "CR1")
EIGEN_TOL = 1e-12  # clubSandwich matrix_power: eigenvalues <= 1e-12 count as zero


@dataclass(frozen=True)
class RobustResult:
    """Cluster-robust standard errors, tests and CIs (metafor ``robust`` naming)."""

    type: str
    n_clusters: int
    vb: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    p: np.ndarray
    df: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    QM: float
    QM_df: tuple[float, float]
    QM_p: float


def _power_sym(m: np.ndarray, power: float) -> np.ndarray:
    """Symmetric matrix power by eigen-decomposition, zeroing eigenvalues ≤ 1e-12."""
    vals, vecs = np.linalg.eigh(m)
    safe = np.where(vals > EIGEN_TOL, vals, 1.0)
    vp = np.where(vals > EIGEN_TOL, safe**power, 0.0)
    return (vecs * vp[..., None, :]) @ np.swapaxes(vecs, -1, -2)


def cluster_codes(cluster: object, k: int) -> tuple[np.ndarray, int]:
    """Integer codes 0..J-1 (first appearance order) for the cluster labels."""
    labels = [str(c) for c in cluster]  # type: ignore[union-attr]
    if len(labels) != k:
        raise StatsInputError(f"{len(labels)} cluster labels for {k} effects")
    _, codes = np.unique(labels, return_inverse=True)
    return codes.astype(int), int(codes.max()) + 1


def robust_inference(
    *,
    X: np.ndarray,
    y: np.ndarray,
    beta: np.ndarray,
    d: np.ndarray,
    s_cluster: float,
    codes: np.ndarray,
    vb_model: np.ndarray,
    btt: np.ndarray,
    type: str = "CR2",
    level: float = 95,
    names: tuple[str, ...] | None = None,
) -> RobustResult:
    """Cluster-robust inference for a GLS fit with V_j = diag(d_j) + s_cluster·11ᵀ.

    ``vb_model`` is the model-based covariance of ``beta`` (metafor's ``vb``: the CR1
    bread); ``btt`` the coefficients of the omnibus test (intercept-only models test the
    intercept alone, as metafor does). A coefficient whose robust variance is numerically
    zero (it rests on the effects of a single study, whose residuals it fits exactly) is
    refused: metafor would print rounding noise as its standard error.
    """
    if type not in ROBUST_TYPES:
        raise StatsInputError(f"unknown robust type {type!r}; use CR2 or CR1")
    k, p = X.shape
    n = int(codes.max()) + 1
    if n - p <= 0:
        raise StatsInputError(
            f"cluster-robust inference needs more studies (clusters) than coefficients: "
            f"{n} studies for {p} coefficient(s)"
        )
    alpha = 1 - level / 100
    resid = y - X @ beta
    W = _inv_blocks(d, s_cluster, codes, n)
    if type == "CR1":
        Wr = np.concatenate([W_j @ resid[idx] for idx, W_j in W.blocks()])
        order = W.row_order
        Sx = np.zeros((n, p))
        np.add.at(Sx, codes[order], X[order] * Wr[:, None])
        vb = (n / (n - p)) * vb_model @ (Sx.T @ Sx) @ vb_model
        _check_degenerate(vb, vb_model, names)
        se = np.sqrt(np.diag(vb))
        stat = beta / se
        dfs = float(n - p)
        pval = 2 * stats.t.sf(np.abs(stat), dfs)
        crit = float(stats.t.isf(alpha / 2, dfs))
        m = len(btt)
        b = beta[btt]
        QM = float(b @ np.linalg.solve(vb[np.ix_(btt, btt)], b)) / m
        return RobustResult(
            "CR1",
            n,
            vb,
            se,
            stat,
            pval,
            np.full(p, dfs),
            beta - crit * se,
            beta + crit * se,
            QM,
            (float(m), dfs),
            float(stats.f.sf(QM, m, dfs)),
        )
    return _cr2(X, resid, beta, d, s_cluster, codes, n, W, btt, alpha, vb_model, names)


def _check_degenerate(vb: np.ndarray, vb_model: np.ndarray, names: tuple[str, ...] | None) -> None:
    ratio = np.diag(vb) / np.diag(vb_model)
    bad = np.flatnonzero(~(ratio > 1e-10))
    if bad.size:
        i = int(bad[0])
        name = names[i] if names else f"coefficient {i + 1}"
        raise StatsInputError(
            f"the cluster-robust standard error of '{name}' is zero: it is estimated from the "
            "effects of a single study, so cluster-robust inference is not possible for it"
        )


@dataclass
class _Blocks:
    """Per-cluster blocks grouped by cluster size: (row indices (m, n), matrices (m, n, n))."""

    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # ids, rows, V, W
    row_order: np.ndarray

    def blocks(self):
        for ids, rows, _V, Wm in self.groups:
            for i in range(len(ids)):
                yield rows[i], Wm[i]


def _inv_blocks(d: np.ndarray, s: float, codes: np.ndarray, n: int) -> _Blocks:
    sizes = np.bincount(codes, minlength=n)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    groups = []
    row_order = []
    for size in np.unique(sizes):
        ids = np.flatnonzero(sizes == size)
        rows = order[starts[ids][:, None] + np.arange(size)[None, :]]
        dd = d[rows]
        V = s * np.ones((len(ids), size, size)) + dd[:, :, None] * np.eye(size)
        Wm = np.linalg.inv(V)
        groups.append((ids, rows, V, Wm))
        row_order.append(rows.ravel())
    return _Blocks(groups, np.concatenate(row_order))


def _cr2(
    X, resid, beta, d, s, codes, n, blocks: _Blocks, btt, alpha, vb_model, names
) -> RobustResult:
    p = X.shape[1]
    # M = (XᵀWX)⁻¹, the bread clubSandwich uses whatever the test of the model
    XWX = np.zeros((p, p))
    for _ids, rows, _V, Wm in blocks.groups:
        Xj = X[rows]
        XWX += np.einsum("mnp,mnq,mqr->pr", Xj, Wm, Xj)
    M = np.linalg.inv(XWX)
    L = np.linalg.cholesky(M)
    meat_terms = np.zeros((n, p))  # E_j r_j
    G_all = [None] * n  # p × n_j: M E_j Rᵀ
    H = np.zeros((n, p, p))  # M E_j X_j L
    for ids, rows, V, Wm in blocks.groups:
        Xj = X[rows]  # (m, nj, p)
        rj = resid[rows]
        R = np.swapaxes(np.linalg.cholesky(V), -1, -2)  # upper: RᵀR = V
        XW = np.swapaxes(Xj, -1, -2) @ Wm  # (m, p, nj)
        nj = V.shape[-1]
        IH = np.eye(nj) - Xj @ M @ XW
        Gm = R @ IH @ V @ np.swapaxes(R, -1, -2)
        Gm = (Gm + np.swapaxes(Gm, -1, -2)) / 2
        A = np.swapaxes(R, -1, -2) @ _power_sym(Gm, -0.5) @ R
        E = XW @ A  # (m, p, nj)
        meat_terms[ids] = (E @ rj[:, :, None])[:, :, 0]
        ME = M @ E
        Gs = ME @ np.swapaxes(R, -1, -2)
        H[ids] = ME @ Xj @ L
        for i, j in enumerate(ids):
            G_all[j] = Gs[i]
    vb = M @ (meat_terms.T @ meat_terms) @ M
    _check_degenerate(vb, M, names)
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    # GG[j] = G_j G_jᵀ (p × p) for each cluster
    GG = np.stack([g @ g.T for g in G_all])  # (n, p, p)
    Ht = np.transpose(H, (1, 2, 0))  # (p, u, J)
    df = np.empty(p)
    for i in range(p):
        P = -Ht[i].T @ Ht[i]
        P[np.diag_indices(n)] += GG[:, i, i]
        df[i] = 2 * np.trace(P) ** 2 / (2 * np.sum(P**2))
    pval = 2 * stats.t.sf(np.abs(stat), df)
    crit = stats.t.isf(alpha / 2, df)
    ci_low = beta - crit * se
    ci_high = beta + crit * se
    if p == 1:  # metafor: intercept-only models report the t test as QM
        QM = max(0.0, float(stat[0]) ** 2)
        QM_df = (1.0, float(df[0]))
        QM_p = float(pval[0])
    else:
        QM, QM_df, QM_p = _htz(beta, vb, Ht, GG, btt, n)
    return RobustResult("CR2", n, vb, se, stat, pval, df, ci_low, ci_high, QM, QM_df, QM_p)


def _htz(beta, vb, Ht, GG, btt, n) -> tuple[float, tuple[float, float], float]:
    """clubSandwich ``Wald_test(test = "HTZ")`` of the coefficients ``btt`` being zero."""
    q = len(btt)
    Hc = Ht[btt]  # (q, u, J)
    P = -np.einsum("sua,tub->stab", Hc, Hc)
    idx = np.arange(n)
    P[:, :, idx, idx] += np.transpose(GG[:, btt][:, :, btt], (1, 2, 0))
    Omega = np.einsum("staa->st", P)
    Ons = _power_sym(Omega, -0.5)
    Bjk = np.einsum("su,uwab,wt->stab", Ons, P, Ons)
    total = np.einsum("stab,tsab->", Bjk, Bjk) + np.einsum("ssab,ttab->", Bjk, Bjk)
    nu = q * (q + 1) / total
    b = beta[btt]
    Q = float(b @ np.linalg.solve(vb[np.ix_(btt, btt)], b))
    delta = max((nu - q + 1) / nu, 0.0)
    df2 = nu - q + 1
    F = delta * Q / q
    pval = float(stats.f.sf(F, q, df2)) if df2 > 0 else float("nan")
    return max(0.0, F), (float(q), float(df2)), pval
