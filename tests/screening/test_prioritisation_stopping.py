"""Stopping aids: consecutive excludes and the remaining-includes estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from screening.prioritisation import PrioritisationError
from screening.prioritisation.stopping import (
    DECAY_METHOD,
    RECENT_RATE_METHOD,
    consecutive_excludes,
    estimate_remaining,
)


def test_consecutive_excludes() -> None:
    assert consecutive_excludes([1, 0, 1, 0, 0, 0]) == 3
    assert consecutive_excludes([0, 0, 1]) == 0
    assert consecutive_excludes([0, 0]) == 2
    assert consecutive_excludes([]) == 0


def test_decay_estimate_recovers_a_known_rate_curve() -> None:
    # Expected outcomes of p(k) = 0.5·exp(-0.01 k): the ML fit of the Poisson model to
    # fractional "counts" equal to their means returns the generating parameters.
    k = np.arange(1, 301)
    p = 0.5 * np.exp(-0.01 * k)
    from screening.prioritisation.stopping import _decay_fit

    alpha, b = _decay_fit(p)  # type: ignore[arg-type]
    assert math.exp(alpha) == pytest.approx(0.5, rel=1e-6)
    assert b == pytest.approx(0.01, rel=1e-6)


def test_decay_estimate_on_a_falling_inclusion_rate() -> None:
    rng = np.random.default_rng(0)
    k = np.arange(1, 401)
    labels = (rng.random(400) < 0.6 * np.exp(-0.01 * k)).astype(int)
    estimate = estimate_remaining(labels, 600)
    assert estimate.method == DECAY_METHOD
    assert estimate.decay is not None and estimate.decay > 0
    # The true expected remainder is 0.6·Σ exp(-0.01 k), k = 401…1000 ≈ 1.08.
    truth = 0.6 * np.exp(-0.01 * np.arange(401, 1001)).sum()
    assert estimate.remaining == pytest.approx(truth, abs=2.0)
    assert estimate.found == labels.sum()
    assert estimate.estimated_recall == pytest.approx(
        labels.sum() / (labels.sum() + estimate.remaining)
    )


def test_flat_rate_falls_back_to_recent_rate() -> None:
    labels = [0, 0, 0, 1] * 50  # no decay: 25 % throughout, last include at the end
    estimate = estimate_remaining(labels, 100, window=100)
    assert estimate.method == RECENT_RATE_METHOD
    assert estimate.remaining == pytest.approx(25.0)


def test_nothing_left_means_nothing_remaining() -> None:
    assert estimate_remaining([1, 0], 0).remaining == 0.0


def test_bad_decisions_are_rejected() -> None:
    with pytest.raises(PrioritisationError, match="1 \\(include\\) or 0"):
        consecutive_excludes([1, 2])
    with pytest.raises(PrioritisationError, match="negative"):
        estimate_remaining([1, 0], -1)
