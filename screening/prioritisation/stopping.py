"""Stopping aids for relevance-ordered screening: the tool suggests, the lead decides.

Two signals:

* :func:`consecutive_excludes` — excludes screened since the last include. A long run in
  a relevance-ordered queue is the classic heuristic stopping rule.
* :func:`estimate_remaining` — an estimate of the includes still among the unscreened
  records, by **exponential decay extrapolation** of the inclusion rate.

The estimator. In a queue ordered by predicted relevance the chance that the ``k``-th
screened record is an include falls as ``k`` grows. We model it as
``p(k) = a · exp(−b·k)`` and fit ``a`` and ``b`` by maximum likelihood to the observed
include/exclude sequence (a Poisson regression of the 0/1 outcomes on screening position,
log link, solved by Newton–Raphson). The includes still to come are the sum of ``p(k)``
over the unscreened positions, ``k = n+1 … n+m``, which has the closed form

    remaining = a · exp(−b·(n+1)) · (1 − exp(−b·m)) / (1 − exp(−b)).

Decay-curve extrapolation of this kind underlies several stopping rules for
technology-assisted review (e.g. the rate-based and "knee" rules of Cormack & Grossman
[1]_, and the curve-fitting estimators compared by Howard et al. [2]_). It is a model, not a
sample: it assumes the ranking keeps improving smoothly and can miss a cluster of includes
the classifier has never seen. When the fitted rate does not fall (``b ≤ 0``, e.g. early in
screening) the estimate falls back to the plain recent rate × records left, which errs on
the side of too many remaining includes.

References
----------
.. [1] Cormack GV, Grossman MR (2016). Engineering quality and reliability in
   technology-assisted review. SIGIR '16, 75-84. doi:10.1145/2911451.2911510
.. [2] Howard BE, Phillips J, Tandon A, et al. (2020). SWIFT-Active Screener: Accelerated
   document screening through active learning and integrated recall estimation.
   Environment International 138:105623. doi:10.1016/j.envint.2020.105623
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import PrioritisationError

DECAY_METHOD = "exponential decay of the inclusion rate along the screening order"
RECENT_RATE_METHOD = "inclusion rate of the most recent records × records not yet screened"
#: Records used by the recent-rate fallback.
RECENT_WINDOW = 100


@dataclass(frozen=True)
class RemainingEstimate:
    """Estimated includes among the unscreened records, and how it was obtained."""

    remaining: float
    method: str
    screened: int
    found: int
    unscreened: int
    decay: float | None  # fitted b per record; None when the fallback was used

    @property
    def estimated_total(self) -> float:
        return self.found + self.remaining

    @property
    def estimated_recall(self) -> float | None:
        """Found / (found + remaining), or None when nothing has been found yet."""
        total = self.estimated_total
        return None if total == 0 else self.found / total


def _binary(labels_in_order: Sequence[int]) -> np.ndarray:
    labels = np.asarray(list(labels_in_order))
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise PrioritisationError("Screening decisions must be 1 (include) or 0 (exclude).")
    return labels.astype(np.int64)


def consecutive_excludes(labels_in_order: Sequence[int]) -> int:
    """Excludes screened since the last include (all of them if there is no include yet)."""
    labels = _binary(labels_in_order)
    includes = np.flatnonzero(labels == 1)
    return int(len(labels) if includes.size == 0 else len(labels) - 1 - includes[-1])


def _decay_fit(labels: np.ndarray, iterations: int = 50) -> tuple[float, float] | None:
    """ML fit of log p(k) = α − b·k to 0/1 outcomes (Poisson log link); None if degenerate."""
    k = np.arange(1, len(labels) + 1, dtype=float)
    x = k / len(labels)  # rescaled position keeps the Newton steps well conditioned
    total = labels.sum()
    if total == 0 or total == len(labels):
        return None
    alpha, beta = math.log(total / len(labels)), 0.0  # start: constant rate
    for _ in range(iterations):
        mu = np.exp(alpha - beta * x)
        residual = labels - mu
        grad = np.array([residual.sum(), -(residual * x).sum()])
        hess = np.array([[mu.sum(), -(mu * x).sum()], [-(mu * x).sum(), (mu * x * x).sum()]])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        alpha, beta = alpha + step[0], beta + step[1]
        if not (math.isfinite(alpha) and math.isfinite(beta)):
            return None
        if abs(step).max() < 1e-10:
            break
    return alpha, beta / len(labels)  # b per record


def estimate_remaining(
    labels_in_order: Sequence[int], unscreened: int, *, window: int = RECENT_WINDOW
) -> RemainingEstimate:
    """Estimate the includes among ``unscreened`` records from the decisions so far.

    Parameters
    ----------
    labels_in_order
        1 (include) / 0 (exclude) of the screened records, in the order they were screened
        (prior/seed records first).
    unscreened
        Records still to screen.
    """
    labels = _binary(labels_in_order)
    if unscreened < 0:
        raise PrioritisationError(f"Unscreened records cannot be negative ({unscreened}).")
    n, found = len(labels), int(labels.sum())
    if unscreened == 0 or n == 0:
        return RemainingEstimate(0.0, DECAY_METHOD, n, found, unscreened, None)
    fit = _decay_fit(labels)
    if fit is not None and fit[1] > 0:
        alpha, b = fit
        # Sum of a·exp(−b·k) for k = n+1 … n+unscreened (geometric series).
        first = math.exp(alpha - b * (n + 1) * 1.0)
        remaining = first * -math.expm1(-b * unscreened) / -math.expm1(-b)
        return RemainingEstimate(remaining, DECAY_METHOD, n, found, unscreened, b)
    recent = labels[-window:]
    rate = recent.sum() / len(recent)
    return RemainingEstimate(
        float(rate * unscreened), RECENT_RATE_METHOD, n, found, unscreened, None
    )
