"""Sensitivity analyses: leave-one-out, outlier removal, re-fit on a subset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._batch import BATCH_METHODS, fit_intercept_batch
from .errors import StatsInputError
from .pooling import MetaResult, _check_options, _fit, _labels, clean_number, rma, validate_inputs


@dataclass(frozen=True)
class LeaveOneOutRow:
    """Model re-fitted without ``study``."""

    study: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p: float
    tau2: float
    I2: float
    H2: float
    Q: float
    Q_p: float

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study} | {
            name: clean_number(getattr(self, name))
            for name in ("estimate", "ci_low", "ci_high", "tau2", "I2", "Q", "se", "p", "H2", "Q_p")
        }


@dataclass(frozen=True)
class LeaveOneOutResult:
    rows: tuple[LeaveOneOutRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows]}


def leave1out(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    study: Sequence[object] | None = None,
) -> LeaveOneOutResult:
    """Leave-one-out analysis (metafor ``leave1out``): one re-fit per omitted study (k ≥ 3).

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
    meta-analysis. *Research Synthesis Methods*, 1, 112-125.
    """
    _check_options(method, test, level)
    y, v = validate_inputs(yi, vi, min_k=3)
    labels = _labels(study, len(y))
    k = len(y)
    rows = []
    if method in BATCH_METHODS:
        # all k fits at once, in row blocks to bound memory at O(block * k)
        block = max(1, min(k, 2_000_000 // k))
        for start in range(0, k, block):
            idx = np.arange(start, min(k, start + block))
            mask = np.ones((len(idx), k), dtype=bool)
            mask[np.arange(len(idx)), idx] = False
            Y = np.broadcast_to(y, mask.shape)
            V = np.broadcast_to(v, mask.shape)
            f = fit_intercept_batch(Y, V, mask, method, test, level)
            for j, i in enumerate(idx):
                rows.append(
                    LeaveOneOutRow(
                        labels[i],
                        float(f.beta[j]),
                        float(f.se[j]),
                        float(f.ci_lb[j]),
                        float(f.ci_ub[j]),
                        float(f.pval[j]),
                        float(f.tau2[j]),
                        float(f.I2[j]),
                        float(f.H2[j]),
                        float(f.QE[j]),
                        float(f.QEp[j]),
                    )
                )
        return LeaveOneOutResult(tuple(rows))
    X = np.ones((k - 1, 1))
    keep = ~np.eye(k, dtype=bool)
    for i in range(k):
        f = _fit(y[keep[i]], v[keep[i]], X, method, test, level)
        rows.append(
            LeaveOneOutRow(
                labels[i],
                float(f.beta[0]),
                float(f.se[0]),
                float(f.ci_lb[0]),
                float(f.ci_ub[0]),
                float(f.pval[0]),
                f.tau2,
                f.I2,
                f.H2,
                f.QE,
                f.QEp,
            )
        )
    return LeaveOneOutResult(tuple(rows))


@dataclass(frozen=True)
class OutlierResult:
    """Outlying studies and the model re-fitted without them (``model`` is the original
    model when no study is an outlier)."""

    outliers: tuple[str, ...]
    model: MetaResult
    original: MetaResult

    def to_dict(self) -> dict[str, Any]:
        return {"outliers": list(self.outliers), "model": self.model.pool_fields()}


# dmetar uses the literal 1.96 for the study CIs whatever the model's level
_DMETAR_Z = 1.96


def find_outliers(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    study: Sequence[object] | None = None,
) -> OutlierResult:
    """Outliers as dmetar's ``find.outliers``: studies whose 95 % CI (yᵢ ± 1.96√vᵢ) does
    not overlap the pooled CI; the model is re-fitted without them (same method and test).

    References
    ----------
    Harrer, M., Cuijpers, P., Furukawa, T. A., & Ebert, D. D. (2021). *Doing Meta-Analysis
    with R: A Hands-On Guide*, chapter 5.4. Chapman & Hall/CRC.
    """
    original = rma(yi, vi, method, test, level, study)
    y = np.asarray(original.yi)
    v = np.asarray(original.vi)
    half = _DMETAR_Z * np.sqrt(v)
    mask = (y + half < original.ci_low) | (y - half > original.ci_high)
    outliers = tuple(s for s, m in zip(original.study, mask, strict=True) if m)
    if not outliers:
        return OutlierResult((), original, original)
    kept = ~mask
    if kept.sum() < 2:
        raise StatsInputError("fewer than two studies remain after removing outliers")
    labels = [s for s, m in zip(original.study, kept, strict=True) if m]
    model = rma(y[kept], v[kept], method, test, level, labels)
    return OutlierResult(outliers, model, original)


def rma_subset(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    include: Sequence[bool] | np.ndarray,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    study: Sequence[object] | None = None,
) -> MetaResult:
    """Re-fit the model on the studies flagged in ``include`` (e.g. low risk of bias only)."""
    y, v = validate_inputs(yi, vi, min_k=1)
    mask = np.asarray(include, dtype=bool).ravel()
    if mask.shape != y.shape:
        raise StatsInputError(f"include has {mask.size} flags for {y.size} studies")
    labels = _labels(study, len(y))
    return rma(
        y[mask], v[mask], method, test, level, [s for s, m in zip(labels, mask, strict=True) if m]
    )
