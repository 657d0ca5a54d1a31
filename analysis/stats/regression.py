"""Meta-regression and three-level models with their (optionally cluster-robust) inference.

:func:`metareg` is metafor's ``rma(yi, vi, mods = ~ ...)``; :func:`multilevel` is
``rma.mv(yi, vi, mods = ~ ..., random = ~ 1 | study/es)``. Either takes ``robust="CR2"``
(``robust(fit, cluster = study, clubSandwich = TRUE)``) or ``robust="CR1"``
(``robust(fit, cluster = study)``). Both return a :class:`ModelResult` whose
:meth:`ModelResult.fields` are the command-line keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from .errors import StatsInputError
from .moderators import INTERCEPT, Moderator, design_matrix
from .multilevel import (
    ThreeLevelModel,
    check_levels,
    check_ml_options,
    fit_variance_components,
    profile_ci,
    typical_variance,
)
from .pooling import _check_options, _fit, clean_number, validate_inputs
from .robust import ROBUST_TYPES, RobustResult, cluster_codes, robust_inference
from .tau2 import _project, estimate_tau2

LOG2PI = math.log(2 * math.pi)

FIELDS = (
    "b",
    "se",
    "ci_low",
    "ci_high",
    "stat",
    "p",
    "df",
    "sigma2",
    "tau2",
    "I2",
    "R2",
    "QE",
    "QE_p",
    "QM",
    "QM_p",
    "logLik",
)


@dataclass(frozen=True)
class ModelResult:
    """A fitted meta-regression or three-level model (metafor naming, I² and R² in %).

    ``sigma2`` is (level 3 = between studies, level 2 = within studies) for the
    three-level model and ``None`` for a meta-regression, ``tau2`` the reverse. ``df`` are
    the t-test degrees of freedom per coefficient (``None`` for z tests). ``I2_levels``
    splits the three-level I² as Cheung (2014) does, in ``sigma2`` order.
    """

    model: str  # "metareg" | "multilevel"
    method: str
    test: str
    robust: str | None
    level: float
    k: int
    n_studies: int
    names: tuple[str, ...]
    moderators: tuple[Moderator, ...]
    b: tuple[float, ...]
    se: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    stat: tuple[float, ...]
    p: tuple[float, ...]
    df: tuple[float, ...] | None
    sigma2: tuple[float, float] | None
    tau2: float | None
    I2: float
    I2_levels: tuple[float, float] | None
    R2: float | None
    QE: float
    QE_df: int
    QE_p: float
    QM: float | None
    QM_df: tuple[float, float | None] | None
    QM_p: float | None
    logLik: float
    sigma2_ci: tuple[tuple[float | None, float | None], ...] | None = None
    vb: tuple[tuple[float, ...], ...] = field(default=(), repr=False)

    def fields(self) -> dict[str, Any]:
        """The command-line keys; per-coefficient values are scalars for one coefficient."""

        def per_coef(values: Sequence[float] | None) -> Any:
            if values is None:
                return None
            vals = [clean_number(x) for x in values]
            return vals[0] if len(vals) == 1 else vals

        out: dict[str, Any] = {
            "b": per_coef(self.b),
            "se": per_coef(self.se),
            "ci_low": per_coef(self.ci_low),
            "ci_high": per_coef(self.ci_high),
            "stat": per_coef(self.stat),
            "p": per_coef(self.p),
            "df": per_coef(self.df),
            "sigma2": None if self.sigma2 is None else [clean_number(s) for s in self.sigma2],
            "tau2": clean_number(self.tau2),
            # the three-level model's I² is split by level, in sigma2 order
            "I2": clean_number(self.I2)
            if self.I2_levels is None
            else [clean_number(x) for x in self.I2_levels],
            "R2": clean_number(self.R2),
            "QE": clean_number(self.QE),
            "QE_p": clean_number(self.QE_p),
            "QM": clean_number(self.QM),
            "QM_p": clean_number(self.QM_p),
            "logLik": clean_number(self.logLik),
        }
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-safe."""
        out = self.fields()
        out.update(
            model=self.model,
            method=self.method,
            test=self.test,
            robust=self.robust,
            level=self.level,
            k=self.k,
            n_studies=self.n_studies,
            names=list(self.names),
            QE_df=self.QE_df,
            QM_df=None if self.QM_df is None else [clean_number(x) for x in self.QM_df],
            I2_levels=None if self.I2_levels is None else [clean_number(x) for x in self.I2_levels],
            sigma2_ci=None
            if self.sigma2_ci is None
            else [[clean_number(a), clean_number(b)] for a, b in self.sigma2_ci],
            moderators=[
                {"name": m.name, "kind": m.kind, "levels": list(m.levels)} for m in self.moderators
            ],
        )
        return out


def _tuple(x: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(x).ravel())


def _btt(names: Sequence[str]) -> np.ndarray:
    p = len(names)
    if names[0] == INTERCEPT:
        return np.arange(1, p) if p > 1 else np.arange(1)
    return np.arange(p)


def _apply_robust(kw: dict[str, Any], rob: RobustResult, int_only: bool) -> dict[str, Any]:
    kw.update(
        se=_tuple(rob.se),
        stat=_tuple(rob.stat),
        p=_tuple(rob.p),
        df=_tuple(rob.df),
        ci_low=_tuple(rob.ci_low),
        ci_high=_tuple(rob.ci_high),
        QM=rob.QM,
        QM_df=rob.QM_df,
        QM_p=rob.QM_p,
        vb=tuple(_tuple(r) for r in rob.vb),
    )
    return kw


def _prepare(
    yi, vi, mods, kinds, study, min_k: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], tuple[Moderator, ...]]:
    y, v = validate_inputs(yi, vi, min_k=min_k)
    X, names, moderators = design_matrix(mods or {}, len(y), kinds)
    return y, v, X, names, moderators


def metareg(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    mods: Mapping[str, Sequence[object]],
    *,
    kinds: Mapping[str, str] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    study: Sequence[object] | None = None,
    robust: str | None = None,
) -> ModelResult:
    """Mixed-effects meta-regression as metafor's ``rma(yi, vi, mods = ~ ..., method, test)``.

    R² is metafor's default: the proportional reduction of τ² against the intercept-only
    model with the same estimator (0 when that τ² is 0). ``robust`` needs ``study``, the
    cluster of each effect.

    References
    ----------
    Thompson, S. G., & Higgins, J. P. T. (2002). How should meta-regression analyses be
    undertaken and interpreted? *Statistics in Medicine*, 21, 1559-1573.
    Raudenbush, S. W. (2009). Analyzing effect sizes: Random-effects models. In *The
    Handbook of Research Synthesis and Meta-Analysis* (2nd ed., pp. 295-315).
    """
    _check_options(method, test, level)
    if not mods:
        raise StatsInputError("a meta-regression needs at least one moderator")
    y, v, X, names, moderators = _prepare(yi, vi, mods, kinds, study)
    k, p = X.shape
    fit = _fit(y, v, X, method, test, level)
    btt = _btt(names)
    b = fit.beta[btt]
    QM = float(b @ np.linalg.solve(fit.vb[np.ix_(btt, btt)], b))
    m = len(btt)
    if test == "knha":
        QM /= m
        QM_df: tuple[float, float | None] = (float(m), float(k - p))
        QM_p = float(stats.f.sf(QM, m, k - p))
    else:
        QM_df = (float(m), None)
        QM_p = float(stats.chi2.sf(QM, m))
    R2: float | None = None
    if method != "FE":
        try:
            tau2_re = estimate_tau2(y, v, np.ones((k, 1)), method)
        except StatsInputError:
            tau2_re = float("nan")
        if math.isnan(tau2_re):
            R2 = None
        elif tau2_re == 0:
            R2 = 0.0
        else:
            R2 = max(0.0, 100 * (tau2_re - fit.tau2) / tau2_re)
    w = 1 / (v + fit.tau2)
    proj = _project(X, w, y)
    ll_ml = -0.5 * k * LOG2PI - 0.5 * float(np.sum(np.log(v + fit.tau2))) - 0.5 * proj.rss
    if method == "REML":
        _, ldxx = np.linalg.slogdet(X.T @ X)
        _, ldxwx = np.linalg.slogdet(X.T @ (X * w[:, None]))
        ll = (
            -0.5 * (k - p) * LOG2PI
            + 0.5 * ldxx
            - 0.5 * float(np.sum(np.log(v + fit.tau2)))
            - 0.5 * ldxwx
            - 0.5 * proj.rss
        )
    else:
        ll = ll_ml
    n_studies = len(set(map(str, study))) if study is not None else k
    kw: dict[str, Any] = {
        "model": "metareg",
        "method": method,
        "test": test,
        "robust": robust,
        "level": level,
        "k": k,
        "n_studies": n_studies,
        "names": names,
        "moderators": moderators,
        "b": _tuple(fit.beta),
        "se": _tuple(fit.se),
        "ci_low": _tuple(fit.ci_lb),
        "ci_high": _tuple(fit.ci_ub),
        "stat": _tuple(fit.zval),
        "p": _tuple(fit.pval),
        "df": None if fit.ddf is None else tuple(float(fit.ddf) for _ in range(p)),
        "sigma2": None,
        "tau2": fit.tau2,
        "I2": fit.I2,
        "I2_levels": None,
        "R2": R2,
        "QE": fit.QE,
        "QE_df": k - p,
        "QE_p": fit.QEp,
        "QM": QM,
        "QM_df": QM_df,
        "QM_p": QM_p,
        "logLik": ll,
        "vb": tuple(_tuple(r) for r in fit.vb),
    }
    if robust is not None:
        if study is None:
            raise StatsInputError("cluster-robust inference needs the study of each effect")
        codes, _ = cluster_codes(study, k)
        rob = robust_inference(
            X=X,
            y=y,
            beta=fit.beta,
            d=v + fit.tau2,
            s_cluster=0.0,
            codes=codes,
            vb_model=fit.vb,
            btt=btt,
            type=robust,
            level=level,
            names=names,
        )
        kw = _apply_robust(kw, rob, p == 1)
    return ModelResult(**kw)


def multilevel(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    study: Sequence[object],
    *,
    es: Sequence[object] | None = None,
    mods: Mapping[str, Sequence[object]] | None = None,
    kinds: Mapping[str, str] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    robust: str | None = None,
    profile: bool = True,
) -> ModelResult:
    """Three-level model ``rma.mv(yi, vi, mods, random = ~ 1 | study/es, method, test)``.

    ``test="t"`` uses metafor's default residual df k − p. I² is split as Cheung (2014):
    I²₍₃₎ = σ²₃/(σ²₃ + σ²₂ + ṽ), I²₍₂₎ = σ²₂/(…), ṽ = (k − p)/tr(P) with W = diag(1/v)
    (metafor FAQ; Higgins-Thompson's typical variance for an intercept-only model).
    ``profile`` adds profile-likelihood CIs of both components (``confint``).
    ``robust`` ("CR2" or "CR1") clusters by study.
    """
    check_ml_options(method, test, level)
    if robust is not None and robust not in ROBUST_TYPES:
        raise StatsInputError(f"unknown robust type {robust!r}; use CR2 or CR1")
    y, v, X, names, moderators = _prepare(yi, vi, mods, kinds, study, min_k=2)
    k, p = X.shape
    study = list(study)
    if len(study) != k:
        raise StatsInputError(f"{len(study)} study labels for {k} effects")
    check_levels(study, es)
    codes, n = cluster_codes(study, k)
    reml = method == "REML"
    model = ThreeLevelModel(y, v, X, codes)
    th = fit_variance_components(model, reml)
    st = model.state(th[0], th[1], reml, want_grad=False)
    if model.sizes.max() > 1:
        # σ²₃ is not identified when the moderators fit every study's mean exactly (e.g. a
        # study-level moderator with as many coefficients as studies): the likelihood is
        # then flat in σ²₃ and metafor reports wherever its optimiser happened to stop
        far = model.state(th[0] + 1.0, th[1], reml, want_grad=False).ll
        if abs(far - st.ll) < 1e-9:
            raise StatsInputError(
                f"the between-study variance is not identified: with {n} studies the "
                "moderators fit every study's mean exactly; use fewer study-level moderators"
            )
    beta, vb = st.beta, st.B
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    alpha = 1 - level / 100
    btt = _btt(names)
    m = len(btt)
    b_t = beta[btt]
    QM = float(b_t @ np.linalg.solve(vb[np.ix_(btt, btt)], b_t))
    if test == "t":
        ddf = k - p
        pval = 2 * stats.t.sf(np.abs(stat), ddf)
        crit = float(stats.t.isf(alpha / 2, ddf))
        df: tuple[float, ...] | None = tuple(float(ddf) for _ in range(p))
        QM /= m
        QM_df: tuple[float, float | None] = (float(m), float(ddf))
        QM_p = float(stats.f.sf(QM, m, ddf))
    else:
        pval = 2 * stats.norm.sf(np.abs(stat))
        crit = float(stats.norm.isf(alpha / 2))
        df = None
        QM_df = (float(m), None)
        QM_p = float(stats.chi2.sf(QM, m))
    proj_fe = _project(X, 1 / v, y)
    QE = max(0.0, proj_fe.rss)
    vt = typical_variance(v, X)
    total = th[0] + th[1] + vt
    I2_levels = (100 * th[0] / total, 100 * th[1] / total)
    sigma2_ci = None
    if profile:
        sigma2_ci = tuple(profile_ci(model, reml, th, st.ll, j, level) for j in range(2))
    kw: dict[str, Any] = {
        "model": "multilevel",
        "method": method,
        "test": test,
        "robust": robust,
        "level": level,
        "k": k,
        "n_studies": n,
        "names": names,
        "moderators": moderators,
        "b": _tuple(beta),
        "se": _tuple(se),
        "ci_low": _tuple(beta - crit * se),
        "ci_high": _tuple(beta + crit * se),
        "stat": _tuple(stat),
        "p": _tuple(pval),
        "df": df,
        "sigma2": (float(th[0]), float(th[1])),
        "tau2": None,
        "I2": I2_levels[0] + I2_levels[1],
        "I2_levels": I2_levels,
        "R2": None,
        "QE": QE,
        "QE_df": k - p,
        "QE_p": float(stats.chi2.sf(QE, k - p)),
        "QM": QM,
        "QM_df": QM_df,
        "QM_p": QM_p,
        "logLik": st.ll,
        "sigma2_ci": sigma2_ci,
        "vb": tuple(_tuple(r) for r in vb),
    }
    if robust is not None:
        rob = robust_inference(
            X=X,
            y=y,
            beta=beta,
            d=v + th[1],
            s_cluster=float(th[0]),
            codes=codes,
            vb_model=vb,
            btt=btt,
            type=robust,
            level=level,
            names=names,
        )
        kw = _apply_robust(kw, rob, p == 1)
    return ModelResult(**kw)
