"""Numerical helpers reproducing R's own algorithms.

metafor stops its root searches at R's default ``uniroot`` tolerance
(``.Machine$double.eps^0.25`` ~ 1.2e-4), so to agree with it to 1e-6 we must take
*the same* Brent steps rather than solve more precisely. ``uniroot`` is a line-by-line
port of ``R_zeroin2`` (R: src/library/stats/src/zeroin.c).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import ConvergenceError

DBL_EPSILON = float(np.finfo(float).eps)
UNIROOT_TOL = DBL_EPSILON**0.25


def uniroot(
    f: Callable[[float], float],
    lower: float,
    upper: float,
    tol: float = UNIROOT_TOL,
    maxiter: int = 1000,
) -> float:
    """Brent root search identical to R's ``uniroot(f, c(lower, upper), tol, maxiter)``.

    References
    ----------
    Brent, R. (1973). *Algorithms for Minimization without Derivatives*. Prentice-Hall.
    R Core Team. ``zeroin.c`` in R's stats package.
    """
    fa = float(f(lower))
    fb = float(f(upper))
    if np.isnan(fa) or np.isnan(fb):
        raise ConvergenceError("root search: function value at an interval end is NaN")
    if fa * fb > 0:
        raise ConvergenceError(
            "root search: function values at the interval ends have the same sign"
        )
    a, b = float(lower), float(upper)
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * DBL_EPSILON * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = float(f(b))
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise ConvergenceError("root search did not converge")


def r_mad(x: np.ndarray) -> float:
    """R's ``mad(x)``: median absolute deviation scaled by 1.4826."""
    med = np.median(x)
    return float(1.4826 * np.median(np.abs(x - med)))


def rank_first(x: np.ndarray) -> np.ndarray:
    """R's ``rank(x, ties.method = "first")`` (1-based)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(1, len(x) + 1)
    return ranks
