"""From entered numbers to a direction-aligned Hedges' g, every path and every refusal."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from analysis.stats import combine_groups, escalc_or, hedges_g, logor_to_smd, smd_from_p, smd_from_t
from extraction.effects import ArmInput, BlockInput, compute_block

INT, C = "intervention", "control"


def arm(pk, role, **values):
    return ArmInput(pk, f"arm{pk}", role, **values)


def block(*arms, **kwargs):
    return BlockInput(arms=tuple(arms), **kwargs)


def test_means_give_hedges_g_as_metafor_escalc_smd():
    # Normand (1999) Edinburgh: metafor escalc("SMD") gives yi = -0.3552, vi = 0.0131.
    result = compute_block(
        block(arm(1, INT, mean=55, sd=47, n=155), arm(2, C, mean=75, sd=64, n=156))
    )
    (est,) = result.estimates
    assert est.yi == pytest.approx(-0.3552, abs=5e-5)
    assert est.vi == pytest.approx(0.0131, abs=5e-5)
    assert (est.n_intervention, est.n_control) == (155, 156)
    assert est.method == "means and SDs"


def test_lower_is_better_reverses_the_sign_and_says_so():
    higher = compute_block(
        block(arm(1, INT, mean=55, sd=47, n=155), arm(2, C, mean=75, sd=64, n=156))
    )
    lower = compute_block(
        block(
            arm(1, INT, mean=55, sd=47, n=155), arm(2, C, mean=75, sd=64, n=156), direction="lower"
        )
    )
    assert lower.estimates[0].yi == pytest.approx(-higher.estimates[0].yi)
    assert lower.estimates[0].yi > 0
    assert lower.estimates[0].vi == pytest.approx(higher.estimates[0].vi)
    assert any("sign reversed" in s for s in lower.estimates[0].steps)


def test_sd_from_se_uses_se_times_root_n_and_shows_the_formula():
    result = compute_block(block(arm(1, INT, mean=10, se=0.5, n=36), arm(2, C, mean=8, sd=3, n=40)))
    expected, _ = hedges_g(10, 0.5 * 6, 36, 8, 3, 40)
    assert result.estimates[0].yi == pytest.approx(expected)
    step = result.estimates[0].steps[0]
    assert "SD = SE × √N = 0.5 × √36 = 3" in step


def test_sd_from_a_95_ci_uses_the_t_quantile():
    result = compute_block(
        block(arm(1, INT, mean=10, ci_low=9, ci_high=11, n=25), arm(2, C, mean=8, sd=3, n=25))
    )
    sd = 5 * 2 / (2 * stats.t.isf(0.025, 24))
    expected, _ = hedges_g(10, sd, 25, 8, 3, 25)
    assert result.estimates[0].yi == pytest.approx(expected)
    assert "95% CI" in result.estimates[0].steps[0] and f"{sd:.4g}" in result.estimates[0].steps[0]


def test_two_intervention_arms_are_combined_by_the_cochrane_formula():
    result = compute_block(
        block(
            arm(1, INT, mean=12, sd=4, n=20),
            arm(3, INT, mean=15, sd=5, n=30),
            arm(2, C, mean=10, sd=4, n=40),
            multi_arm_rule="combine",
        )
    )
    n, m, sd = combine_groups(20, 12, 4, 30, 15, 5)
    expected, _ = hedges_g(m, sd, n, 10, 4, 40)
    (est,) = result.estimates
    assert est.yi == pytest.approx(expected)
    assert est.n_intervention == 50
    assert any("Table 6.5.a" in s for s in est.steps)


def test_split_rule_compares_each_arm_with_half_the_shared_control():
    result = compute_block(
        block(
            arm(1, INT, mean=12, sd=4, n=20),
            arm(3, INT, mean=15, sd=5, n=30),
            arm(2, C, mean=10, sd=4, n=40),
            multi_arm_rule="split",
        )
    )
    assert len(result.estimates) == 2
    first, second = result.estimates
    assert first.yi == pytest.approx(hedges_g(12, 4, 20, 10, 4, 20)[0])
    assert second.yi == pytest.approx(hedges_g(15, 5, 30, 10, 4, 20)[0])
    assert first.n_control == second.n_control == 20
    assert first.comparison == "arm1 vs arm2" and "split across 2" in first.steps[0]


def test_two_control_arms_are_always_combined():
    result = compute_block(
        block(
            arm(1, INT, mean=12, sd=4, n=20),
            arm(2, C, mean=10, sd=4, n=20),
            arm(3, C, mean=11, sd=3, n=20),
        )
    )
    n, m, sd = combine_groups(20, 10, 4, 20, 11, 3)
    assert result.estimates[0].yi == pytest.approx(hedges_g(12, 4, 20, m, sd, n)[0])


def test_events_are_converted_from_the_log_odds_ratio():
    result = compute_block(
        block(arm(1, INT, events=5, n=50), arm(2, C, events=12, n=50), direction="lower")
    )
    lor = escalc_or([5], [45], [12], [38])
    es = logor_to_smd(lor.yi, lor.vi)
    assert result.estimates[0].yi == pytest.approx(-float(es.yi[0]))
    assert result.estimates[0].yi > 0
    assert result.estimates[0].vi == pytest.approx(float(es.vi[0]))


def test_t_statistic_with_group_sizes():
    result = compute_block(block(arm(1, INT), arm(2, C), t=2.1, n_intervention=30, n_control=32))
    es = smd_from_t([2.1], [30], [32])
    assert result.estimates[0].yi == pytest.approx(float(es.yi[0]))
    assert result.estimates[0].method == "t statistic"


def test_p_value_needs_a_direction_and_then_gives_g():
    missing = compute_block(block(p=0.03, n_intervention=30, n_control=32))
    assert missing.missing == "invalid" and "direction" in missing.detail
    result = compute_block(block(p=0.03, p_direction=-1, n_intervention=30, n_control=32))
    es = smd_from_p([0.03], [-1], [30], [32])
    assert result.estimates[0].yi == pytest.approx(float(es.yi[0])) and result.estimates[0].yi < 0


def test_reported_smd_with_its_ci():
    result = compute_block(block(effect=0.4, effect_ci_low=0.1, effect_ci_high=0.7))
    se = 0.6 / (2 * stats.norm.isf(0.025))
    assert result.estimates[0].yi == 0.4
    assert result.estimates[0].vi == pytest.approx(se**2)
    assert "SE from the 95% CI" in result.estimates[0].steps[0]


def test_reported_smd_with_se_and_lower_is_better():
    result = compute_block(block(effect=0.4, effect_se=0.2, direction="lower"))
    assert result.estimates[0].yi == -0.4 and result.estimates[0].vi == pytest.approx(0.04)


@pytest.mark.parametrize(
    "blk, reason",
    [
        (block(arm(1, INT), arm(2, C)), "no_data"),
        (block(arm(1, INT, mean=10, sd=2, n=20), arm(2, C)), "one_arm"),
        (block(arm(1, INT, mean=10, n=20), arm(2, C, mean=9, sd=2, n=20)), "missing_sd"),
        (block(arm(1, INT, mean=10, sd=2), arm(2, C, mean=9, sd=2, n=20)), "missing_n"),
        (block(arm(1, INT, sd=2, n=20), arm(2, C, sd=2, n=20)), "missing_mean"),
        (block(arm(1, INT, mean=10, sd=2, n=1), arm(2, C, mean=9, sd=2, n=20)), "invalid"),
        (block(t=2.0, n_intervention=20), "missing_n"),
        (block(effect=0.3), "invalid"),
    ],
)
def test_incomplete_data_says_why(blk, reason):
    result = compute_block(blk)
    assert result.estimates == ()
    assert result.missing == reason and result.reason


def test_comparison_statistics_rescue_incomplete_arm_data():
    result = compute_block(
        block(
            arm(1, INT, mean=10, n=20),
            arm(2, C, mean=9, n=20),
            t=2.0,
            n_intervention=20,
            n_control=20,
        )
    )
    assert result.estimates and result.estimates[0].method == "t statistic"


def test_confidence_interval_of_an_estimate():
    (est,) = compute_block(block(effect=0.5, effect_se=0.1)).estimates
    low, high = est.ci
    assert low == pytest.approx(0.5 - 1.959964 * 0.1) and high == pytest.approx(
        0.5 + 1.959964 * 0.1
    )
    assert est.se == pytest.approx(math.sqrt(est.vi))
