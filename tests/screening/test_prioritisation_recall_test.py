"""The hypergeometric stopping test against hand-computed values and its error rate."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from screening.prioritisation import PrioritisationError
from screening.prioritisation.recall_test import (
    alpha_spent,
    false_stop_probability,
    recall_test,
    relevant_under_null,
)


def hypergeom_cdf(k: int, urn: int, relevant: int, n: int) -> float:
    """P(X <= k) by counting: sum_x C(K, x) C(N - K, n - x) / C(N, n)."""
    total = sum(comb(relevant, x) * comb(urn - relevant, n - x) for x in range(k + 1))
    return total / comb(urn, n)


def test_relevant_under_null_is_buscars_k_h0() -> None:
    # floor(r_seen / tau - r_al + 1): 42 / 0.95 = 44.2 -> 44 + 1 - 40 = 5
    assert relevant_under_null(40, 2, 0.95) == 5
    assert relevant_under_null(40, 0, 0.95) == 3  # 40 / 0.95 = 42.1 -> 42 + 1 - 40
    # 19 / 0.95 is exactly 20: a recall of 19/20 meets the target, so H0 needs 21 relevant.
    assert relevant_under_null(19, 0, 0.95) == 2
    # 9 / 0.9 is exactly 10 (not 9.999...): 10 + 1 - 8 = 3
    assert relevant_under_null(8, 1, 0.9) == 3


def test_one_relevant_in_an_urn_of_ten() -> None:
    # 5 includes found in 10 ranked records: H0 needs K = floor(5/0.95) + 1 - 5 = 1 more
    # among the 10 left, and P(none in n draws) = C(9, n) / C(10, n) = (10 - n) / 10.
    t = recall_test(
        records=20, ranked_screened=10, ranked_found=5, sampled=9, sample_found=0, correction=False
    )
    assert t.p_value == pytest.approx(0.1)
    assert not t.stop  # 0.1 is not below 0.05
    assert t.more_needed == 1  # the 10th draw leaves P = 0
    loose = recall_test(
        records=20,
        ranked_screened=10,
        ranked_found=5,
        sampled=9,
        sample_found=0,
        confidence=0.8,
        correction=False,
    )
    assert loose.stop and loose.more_needed == 0  # 0.1 < 0.2
    start = recall_test(
        records=20,
        ranked_screened=10,
        ranked_found=5,
        sampled=0,
        sample_found=0,
        confidence=0.8,
        correction=False,
    )
    assert start.p_value == 1.0
    assert start.more_needed == 9  # (10 - n) / 10 < 0.2 first at n = 9
    assert (start.urn, start.screened, start.found) == (10, 10, 5)


def test_no_include_in_a_sample_of_100() -> None:
    # N = 1000, 600 ranked with 40 includes, 100 sampled with none: K = 3 in an urn of 400.
    t = recall_test(
        records=1000,
        ranked_screened=600,
        ranked_found=40,
        sampled=100,
        sample_found=0,
        correction=False,
    )
    # C(397, 100) / C(400, 100) = (300 * 299 * 298) / (400 * 399 * 398)
    assert t.p_value == pytest.approx(26_730_600 / 63_520_800, rel=1e-12)
    assert t.p_value == pytest.approx(0.420816, abs=1e-6)
    assert not t.stop
    # 0.95 confidence: the least n with C(397, n) / C(400, n) < 0.05.
    n = next(n for n in range(101, 401) if hypergeom_cdf(0, 400, 3, n) < 0.05)
    assert t.more_needed == n - 100
    assert hypergeom_cdf(0, 400, 3, n - 1) >= 0.05
    # Corrected: the same p, compared with alpha_0 = 0.05 * 6 / pi^2 = 0.0304.
    c = recall_test(records=1000, ranked_screened=600, ranked_found=40, sampled=100, sample_found=0)
    assert c.p_value == t.p_value and c.alpha == pytest.approx(0.0303964, abs=1e-7)
    m = next(m for m in range(101, 401) if hypergeom_cdf(0, 400, 3, m) < c.alpha)
    assert c.more_needed == m - 100 > t.more_needed


def test_includes_in_the_sample_raise_the_null() -> None:
    # 2 includes in the sample: K = floor(42/0.95) + 1 - 40 = 5.
    t = recall_test(records=1000, ranked_screened=600, ranked_found=40, sampled=300, sample_found=2)
    assert t.p_value == pytest.approx(hypergeom_cdf(2, 400, 5, 300), rel=1e-9)
    # sum over x = 0, 1, 2 of C(5, x) C(395, 300 - x) / C(400, 300), in exact integers
    assert t.p_value == pytest.approx(0.102187, abs=1e-6)
    assert t.found == 42


def test_stop_when_urn_is_exhausted_or_cannot_hold_enough() -> None:
    done = recall_test(records=50, ranked_screened=50, ranked_found=7, sampled=0, sample_found=0)
    assert done.stop and done.p_value == 0.0
    whole = recall_test(records=50, ranked_screened=20, ranked_found=7, sampled=30, sample_found=0)
    assert whole.stop


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_recall": 1.0},
        {"confidence": 0.0},
        {"sampled": 31},
        {"sample_found": 2, "sampled": 1},
        {"ranked_found": -1},
    ],
)
def test_bad_input_is_refused(kwargs: dict) -> None:
    args = {
        "records": 50,
        "ranked_screened": 20,
        "ranked_found": 7,
        "sampled": 0,
        "sample_found": 0,
    }
    with pytest.raises(PrioritisationError):
        recall_test(**{**args, **kwargs})


def test_alpha_is_spent_over_the_includes_found_and_sums_to_alpha() -> None:
    levels = [alpha_spent(k, 0.05) for k in range(100_000)]
    assert levels[0] == pytest.approx(0.05 * 6 / np.pi**2)
    assert levels[1] == pytest.approx(levels[0] / 4)
    assert sum(levels) == pytest.approx(0.05, rel=1e-4) and sum(levels) < 0.05


def test_looking_after_every_record_breaks_the_uncorrected_guarantee() -> None:
    # 100 includes found in ranked order, 8 more among the 400 records left (recall
    # 100/108 = 0.926 < 0.95). Testing at alpha = 5 % after every record, the exact chance
    # of stopping below target is 6.5 %: each include found gives the null another chance.
    plain = false_stop_probability(urn=400, ranked_found=100, remaining=8, correction=False)
    assert plain == pytest.approx(0.0649, abs=5e-4) and plain > 0.05
    corrected = false_stop_probability(urn=400, ranked_found=100, remaining=8)
    assert corrected == pytest.approx(0.0129, abs=5e-4)


@pytest.mark.parametrize(
    ("urn", "ranked_found", "remaining"),
    [(300, 20, 2), (300, 40, 3), (600, 40, 4), (200, 15, 1), (150, 60, 5), (120, 9, 1)],
)
def test_the_corrected_rule_stops_below_target_at_most_alpha(urn, ranked_found, remaining) -> None:
    chance = false_stop_probability(urn=urn, ranked_found=ranked_found, remaining=remaining)
    assert 0 < chance <= 0.05


def test_false_stops_simulated_agree_with_the_exact_chance() -> None:
    # 57 includes found in ranked order, 4 more hidden among the 500 records left: the true
    # recall is 57/61 = 0.934 < 0.95. Sampling at random and asking the test after every
    # record, count how often it says "stop" before recall reaches 0.95.
    rng = np.random.default_rng(20201)
    urn, hidden, runs = 500, 4, 4000

    def threshold(k: int) -> int:
        # p falls with n for a fixed k: the test says stop from this sample size on.
        t = recall_test(
            records=1000, ranked_screened=500, ranked_found=57, sampled=k, sample_found=k
        )
        return k + t.more_needed

    first_stop = [threshold(k) for k in range(hidden + 1)]
    false_stops = 0
    for _ in range(runs):
        found_at = np.sort(rng.choice(urn, hidden, replace=False)) + 1  # draws 1..urn
        k, n = 0, 0
        while True:
            n = max(n, first_stop[k])
            if k < hidden and found_at[k] <= n:
                n, k = found_at[k], k + 1  # an include turned up before the test stopped
                continue
            break
        false_stops += (57 + k) / 61 < 0.95
    exact = false_stop_probability(urn=urn, ranked_found=57, remaining=hidden)
    assert 0 < exact <= 0.05
    assert abs(false_stops / runs - exact) <= 4 * np.sqrt(exact * (1 - exact) / runs)
    assert false_stops > 0  # the test is not trivially conservative here
