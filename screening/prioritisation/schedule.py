"""When to refit: after every decision at first, then in batches that grow with the screening.

A refit after every decision matters most early on, when each new include can reorder
the queue; once hundreds of decisions are known one more moves the model little. The
batch of decisions taken from one ranking therefore grows in proportion to the number
already labelled, ``max(every, floor(fraction × labelled))``, the schedule of the BMI
baseline of continuous active learning (there with 10 % growth) [1]_. With the default
1 % the reviewer sees a ranking at most 1 % of the screening out of date, and a
simulated review needs O(100 log N) refits instead of N.

References
----------
.. [1] Cormack GV, Grossman MR (2015). Autonomy and reliability of continuous active
   learning for technology-assisted review. arXiv:1504.06868
"""

from __future__ import annotations

import math

from .errors import PrioritisationError

__all__ = ["DEFAULT_REFIT_EVERY", "DEFAULT_REFIT_FRACTION", "refit_interval", "refit_points"]

#: Smallest batch: refit after every decision while ``fraction × labelled`` is below 2.
DEFAULT_REFIT_EVERY = 1
#: Growth of the batch with the number of labelled records (0 = fixed batches).
DEFAULT_REFIT_FRACTION = 0.01


def _check(every: int, fraction: float) -> None:
    if every < 1:
        raise PrioritisationError(f"refit_every must be at least 1, got {every}.")
    if not 0 <= fraction < 1:
        raise PrioritisationError(f"refit_fraction must be in [0, 1), got {fraction}.")


def refit_interval(
    n_labelled: int,
    *,
    every: int = DEFAULT_REFIT_EVERY,
    fraction: float = DEFAULT_REFIT_FRACTION,
) -> int:
    """New decisions to take from a ranking fitted on ``n_labelled`` records before refitting.

    ``max(every, floor(fraction × n_labelled))``; e.g. with the defaults 1 up to 199
    labelled records, 2 from 200, 5 from 500.
    """
    _check(every, fraction)
    if n_labelled < 0:
        raise PrioritisationError(f"n_labelled must be >= 0, got {n_labelled}.")
    # Round away float noise first: 0.29 * 100 is 28.999999999999996, whose floor is 28.
    return max(every, math.floor(round(fraction * n_labelled, 9)))


def refit_points(
    n_start: int,
    n_total: int,
    *,
    every: int = DEFAULT_REFIT_EVERY,
    fraction: float = DEFAULT_REFIT_FRACTION,
) -> tuple[int, ...]:
    """Numbers of labelled records at which a screening of ``n_total`` records refits.

    Screening starts with ``n_start`` labelled records (the prior knowledge) and ends
    when all ``n_total`` are labelled; no refit happens once nothing is left to rank.
    """
    _check(every, fraction)
    if not 0 <= n_start <= n_total:
        raise PrioritisationError(f"Need 0 <= n_start <= n_total, got {n_start}, {n_total}.")
    points = []
    n = n_start
    while n < n_total:
        points.append(n)
        n += refit_interval(n, every=every, fraction=fraction)
    return tuple(points)
