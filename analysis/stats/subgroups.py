"""Subgroup analyses: separate random-effects models per subgroup, or a common τ²."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .errors import StatsInputError
from .pooling import _check_options, clean_number, rma, rma_mods, validate_inputs


@dataclass(frozen=True)
class SubgroupEstimate:
    """Pooled result within one subgroup."""

    group: str
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float
    I2: float | None
    pi_low: float | None
    pi_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "k": self.k,
            **{
                name: clean_number(getattr(self, name))
                for name in (
                    "estimate",
                    "se",
                    "ci_low",
                    "ci_high",
                    "tau2",
                    "I2",
                    "pi_low",
                    "pi_high",
                )
            },
        }


@dataclass(frozen=True)
class SubgroupResult:
    """Per-group estimates and the test for subgroup differences.

    With ``common_tau2`` under Knapp-Hartung, ``Q_between`` is metafor's F statistic with
    (``Q_between_df``, ``Q_between_df2``) degrees of freedom; otherwise a χ² statistic.
    """

    groups: tuple[SubgroupEstimate, ...]
    Q_between: float
    Q_between_df: int
    Q_between_p: float
    Q_between_df2: int | None
    method: str
    test: str
    common_tau2: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": [g.to_dict() for g in self.groups],
            "Q_between": clean_number(self.Q_between),
            "Q_between_df": self.Q_between_df,
            "Q_between_p": clean_number(self.Q_between_p),
            "Q_between_df2": self.Q_between_df2,
            "method": self.method,
            "test": self.test,
            "common_tau2": self.common_tau2,
        }


def _group_labels(groups: Sequence[object], k: int) -> np.ndarray:
    labels = np.asarray([str(g) if g is not None else "" for g in groups], dtype=object)
    if len(labels) != k:
        raise StatsInputError(f"{len(labels)} group labels for {k} studies")
    bad = np.flatnonzero((labels == "") | (labels == "nan"))
    if bad.size:
        raise StatsInputError(f"group of study {bad[0] + 1} is missing")
    return labels


def subgroup_analysis(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    groups: Sequence[object],
    method: str = "REML",
    test: str = "z",
    common_tau2: bool = False,
    level: float = 95,
) -> SubgroupResult:
    """Subgroup analysis with a test for subgroup differences.

    Default (``common_tau2=False``, "mixed-effects" as in R package meta and Borenstein et
    al.): a model with its own τ² in each subgroup, then a common-effect test of the
    subgroup estimates, Q_between = Σ (μ̂_g − μ̂)²/SE_g² with G−1 df. A one-study subgroup
    contributes its own estimate with τ² = 0 (I² and PI undefined).

    ``common_tau2=True``: metafor ``rma(yi, vi, mods = ~ factor(group))``: one τ² for all
    studies, QM omnibus test of the group contrasts; per-group estimates from the
    cell-means parametrisation.

    Groups are reported in sorted label order (as R's ``factor``).

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
    *Introduction to Meta-Analysis*, chapter 19. Wiley.
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
    *Journal of Statistical Software*, 36(3), 1-48.
    """
    _check_options(method, test, level)
    y, v = validate_inputs(yi, vi)
    labels = _group_labels(groups, len(y))
    levels = sorted(set(labels))
    if len(levels) < 2:
        raise StatsInputError("subgroup analysis needs at least two groups")
    if common_tau2:
        return _common(y, v, labels, levels, method, test, level)
    return _separate(y, v, labels, levels, method, test, level)


def _separate(y, v, labels, levels, method, test, level) -> SubgroupResult:
    z = float(stats.norm.isf((1 - level / 100) / 2))
    rows = []
    for g in levels:
        sel = labels == g
        if sel.sum() == 1:
            e, s = float(y[sel][0]), math.sqrt(float(v[sel][0]))
            rows.append(SubgroupEstimate(g, 1, e, s, e - z * s, e + z * s, 0.0, None, None, None))
        else:
            r = rma(y[sel], v[sel], method, test, level)
            rows.append(
                SubgroupEstimate(
                    g, r.k, r.estimate, r.se, r.ci_low, r.ci_high, r.tau2, r.I2, r.pi_low, r.pi_high
                )
            )
    est = np.array([r.estimate for r in rows])
    se = np.array([r.se for r in rows])
    w = 1 / se**2
    mean = np.sum(w * est) / np.sum(w)
    q = float(np.sum(w * (est - mean) ** 2))
    df = len(levels) - 1
    return SubgroupResult(
        tuple(rows), q, df, float(stats.chi2.sf(q, df)), None, method, test, False
    )


def _common(y, v, labels, levels, method, test, level) -> SubgroupResult:
    dummies = np.column_stack([(labels == g).astype(float) for g in levels])
    X_contrast = np.column_stack([np.ones(len(y)), dummies[:, 1:]])
    contrast = rma_mods(y, v, X_contrast, method, test, level)
    cells = rma_mods(y, v, dummies, method, test, level)
    vb = np.asarray(cells.vb)
    rows = []
    for j, g in enumerate(levels):
        b = cells.beta[j]
        # metafor predict(): PI = b ± crit·√(Var(b) + τ²), crit as for the CI
        half = cells.crit * math.sqrt(vb[j, j] + cells.tau2)
        rows.append(
            SubgroupEstimate(
                g,
                int(np.sum(labels == g)),
                b,
                cells.se[j],
                cells.ci_low[j],
                cells.ci_high[j],
                cells.tau2,
                cells.I2,
                None if method == "FE" else b - half,
                None if method == "FE" else b + half,
            )
        )
    return SubgroupResult(
        tuple(rows),
        contrast.QM,
        contrast.QM_df[0],
        contrast.QM_p,
        contrast.QM_df[1],
        method,
        test,
        True,
    )
