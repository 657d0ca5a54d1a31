"""GRADE rules, case by case, with each threshold at its edge (analysis.certainty.rules)."""

from __future__ import annotations

import math

import pytest

from analysis.certainty import rules
from analysis.certainty.rules import (
    HIGH,
    LOW,
    MODERATE,
    NO_CONCERN,
    SERIOUS,
    VERY_LOW,
    VERY_SERIOUS,
    Evidence,
    Pooled,
    StudyInput,
)


def _studies(weights_rob, yi=0.3, vi=0.04, n=100):
    return tuple(
        StudyInput(f"S{i}", yi, vi, w, rob, n=n) for i, (w, rob) in enumerate(weights_rob, 1)
    )


def _ev(**kw) -> Evidence:
    base = {
        "measure": "SMD",
        "main": Pooled(0.3, 0.1, 0.5, 4),
        "studies": _studies([(25, "low")] * 4),
        "I2": 0.0,
    }
    base.update(kw)
    return Evidence(**base)


# --------------------------------------------------------------------------- risk of bias


def test_rob_all_low_is_no_concern():
    s = rules.risk_of_bias(_ev())
    assert s.rating == NO_CONCERN
    assert s.numbers["weight at low risk"] == "100.0%"


def test_rob_exactly_half_at_risk_is_not_serious_just_above_is():
    # the low-risk-only fit keeps the conclusion
    half = _ev(
        studies=_studies([(50, "some_concerns"), (50, "low")]),
        low_risk_only=Pooled(0.3, 0.05, 0.55, 2),
    )
    assert rules.risk_of_bias(half).rating == NO_CONCERN
    above = _ev(
        studies=_studies([(50.01, "some_concerns"), (49.99, "low")]),
        low_risk_only=Pooled(0.3, 0.05, 0.55, 2),
    )
    s = rules.risk_of_bias(above)
    assert s.rating == SERIOUS
    assert s.numbers["weight with some concerns"] == "50.0%"


def test_rob_high_share_edges():
    exactly = _ev(
        studies=_studies([(50, "high"), (50, "low")]), low_risk_only=Pooled(0.3, 0.1, 0.5, 2)
    )
    assert rules.risk_of_bias(exactly).rating == NO_CONCERN
    more = _ev(
        studies=_studies([(51, "high"), (49, "low")]), low_risk_only=Pooled(0.3, 0.1, 0.5, 2)
    )
    assert rules.risk_of_bias(more).rating == VERY_SERIOUS


def test_rob_conclusion_change_alone_is_serious():
    ev = _ev(
        studies=_studies([(30, "high"), (70, "low")]),
        low_risk_only=Pooled(0.1, -0.05, 0.25, 3),
    )
    s = rules.risk_of_bias(ev)
    assert s.rating == SERIOUS
    assert "changes the conclusion" in s.rule
    assert s.numbers["low risk only (k=3)"] == "0.10 (\u22120.05 to 0.25)"


def test_rob_missing_consensus_counts_as_some_concerns():
    ev = _ev(studies=_studies([(60, ""), (40, "low")]), low_risk_only=None)
    s = rules.risk_of_bias(ev)
    assert s.rating == SERIOUS
    assert "fewer than 2 results at low risk" in s.note


# --------------------------------------------------------------------------- inconsistency


@pytest.mark.parametrize(
    ("i2", "expected"),
    [(49.99, NO_CONCERN), (50.0, SERIOUS), (74.99, SERIOUS), (75.0, SERIOUS)],
)
def test_inconsistency_i2_edges_without_other_signals(i2, expected):
    assert rules.inconsistency(_ev(I2=i2)).rating == expected


def test_inconsistency_very_serious_needs_considerable_i2_and_a_pi_crossing_null():
    ev = _ev(I2=75.0, I2_low=40, I2_high=90, pi_low=-0.4, pi_high=1.0)
    s = rules.inconsistency(ev)
    assert s.rating == VERY_SERIOUS
    assert s.numbers["I² 95% CI"] == "40% to 90%"
    assert s.numbers["95% prediction interval"] == "\u22120.40 to 1.00"
    assert rules.inconsistency(_ev(I2=74.9, pi_low=-0.4, pi_high=1.0)).rating == SERIOUS


def test_inconsistency_pi_touching_null_does_not_cross_it_when_ci_excludes():
    # the PI's bound equal to the null does not exclude it: it counts as including it
    assert rules.inconsistency(_ev(pi_low=0.0, pi_high=0.6)).rating == SERIOUS
    assert rules.inconsistency(_ev(pi_low=0.01, pi_high=0.6)).rating == NO_CONCERN


def test_inconsistency_non_overlapping_cis_on_opposite_sides():
    studies = (
        StudyInput("A", 0.8, 0.01, 50, "low"),  # CI 0.60 to 1.00
        StudyInput("B", -0.3, 0.01, 50, "low"),  # CI -0.50 to -0.10
    )
    s = rules.inconsistency(_ev(studies=studies, main=Pooled(0.25, -0.8, 1.3, 2)))
    assert s.rating == SERIOUS
    assert s.numbers["study pairs with non-overlapping CIs on opposite sides"] == "1"


def test_inconsistency_single_study_not_assessable():
    s = rules.inconsistency(_ev(main=Pooled(0.3, 0.1, 0.5, 1), studies=_studies([(100, "low")])))
    assert s.rating == NO_CONCERN and "not assessable" in s.note


# --------------------------------------------------------------------------- imprecision


def test_default_thresholds():
    assert rules.default_thresholds("SMD") == (-0.2, 0.0, 0.2)
    assert rules.default_thresholds("RR") == (0.75, 1.0, 1.25)
    assert rules.default_thresholds("MD") == (0.0,)


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0.2, 0.5, NO_CONCERN),  # a bound on the MID does not cross it
        (0.19, 0.5, SERIOUS),  # crosses 0.2
        (0.0, 0.5, SERIOUS),  # touches the null, crosses 0.2
        (-0.01, 0.5, VERY_SERIOUS),  # crosses 0 and 0.2
        (-0.3, 0.3, VERY_SERIOUS),  # crosses -0.2, 0, 0.2
    ],
)
def test_imprecision_threshold_edges(lo, hi, expected):
    ev = _ev(main=Pooled(0.3, lo, hi, 10), studies=_studies([(10, "low")] * 10, n=100))
    assert rules.imprecision(ev).rating == expected


def test_imprecision_ois_for_smd_edge():
    # 4 (z_a + z_b)^2 / 0.2^2 = 784.9 participants
    ois = 4 * (rules.Z_ALPHA + rules.Z_BETA) ** 2 / 0.2**2
    assert ois == pytest.approx(784.9, abs=0.1)
    enough = _ev(main=Pooled(0.5, 0.25, 0.75, 5), studies=_studies([(20, "low")] * 5, n=157))
    short = _ev(main=Pooled(0.5, 0.25, 0.75, 5), studies=_studies([(20, "low")] * 5, n=156))
    assert rules.imprecision(enough).rating == NO_CONCERN
    s = rules.imprecision(short)
    assert s.rating == SERIOUS and "optimal information size" in s.rule
    assert s.numbers["optimal information size"] == "785"
    assert s.numbers["participants"] == "780"


def test_imprecision_ratio_thresholds_compared_on_log_scale():
    ev = Evidence(
        measure="RR",
        main=Pooled(math.log(0.6), math.log(0.45), math.log(0.76), 6),
        studies=_studies([(10, "low")] * 6, n=1000),
        control_risk=0.3,
    )
    assert rules.imprecision(ev).rating == SERIOUS  # crosses 0.75 only
    assert rules.imprecision(ev, thresholds=(0.8, 1.0)).rating == NO_CONCERN
    # dichotomous OIS: 25% relative reduction of a 30% control risk
    p0, p1 = 0.3, 0.225
    per_arm = (rules.Z_ALPHA + rules.Z_BETA) ** 2 * (p0 * (1 - p0) + p1 * (1 - p1)) / 0.075**2
    assert rules.optimal_information_size(ev, (0.75, 1, 1.25)) == pytest.approx(2 * per_arm)


def test_imprecision_md_without_mid_uses_the_null_only():
    ev = _ev(measure="MD", main=Pooled(2.0, 0.5, 3.5, 5))
    s = rules.imprecision(ev)
    assert s.rating == NO_CONCERN and "not computed" in s.note
    ev_sd = _ev(measure="MD", main=Pooled(2.0, 0.5, 3.5, 5), sd=10.0)
    s = rules.imprecision(ev_sd, thresholds=(-2.0, 0.0, 2.0))
    assert s.rating == SERIOUS  # crosses +2


def test_bad_ratio_threshold_is_refused():
    ev = Evidence(measure="OR", main=Pooled(0.1, -0.1, 0.3, 3), studies=_studies([(1, "low")]))
    with pytest.raises(rules.RuleInputError, match="positive"):
        rules.imprecision(ev, thresholds=(0.0, 1.0))


# --------------------------------------------------------------------------- publication bias


def test_publication_bias_fewer_than_ten_not_assessable():
    s = rules.publication_bias(_ev(main=Pooled(0.3, 0.1, 0.5, 9), egger_p=0.001))
    assert s.rating == NO_CONCERN and s.note == "not assessable"


@pytest.mark.parametrize(
    ("p", "expected"), [(0.0999, SERIOUS), (0.10, NO_CONCERN), (None, NO_CONCERN)]
)
def test_publication_bias_egger_edge(p, expected):
    ev = _ev(main=Pooled(0.3, 0.1, 0.5, 10), egger_p=p, trimfill=Pooled(0.25, 0.05, 0.45, 12))
    assert rules.publication_bias(ev).rating == expected


def test_publication_bias_trimfill_changing_conclusion():
    tf = Pooled(0.1, -0.05, 0.25, 13)
    ev = _ev(main=Pooled(0.3, 0.1, 0.5, 10), egger_p=0.5, trimfill=tf, trimfill_k0=3)
    s = rules.publication_bias(ev)
    assert s.rating == SERIOUS
    assert s.numbers["trim-and-fill (3 imputed)"] == "0.10 (\u22120.05 to 0.25)"
    both = _ev(main=Pooled(0.3, 0.1, 0.5, 10), egger_p=0.01, trimfill=tf)
    assert rules.publication_bias(both).rating == VERY_SERIOUS


# --------------------------------------------------------------------------- certainty


def test_starting_level_from_designs():
    assert rules.starting_level([True, True])[0] == HIGH
    assert rules.starting_level([False, False])[0] == LOW
    assert rules.starting_level([True, False])[0] == HIGH
    assert rules.starting_level([None])[0] == HIGH


def test_certainty_arithmetic_and_bounds():
    assert rules.certainty(HIGH, [0, 1, 0, 0, 0]) == MODERATE
    assert rules.certainty(HIGH, [2, 1, 0, 1, 0]) == VERY_LOW  # floors at very low
    assert rules.certainty(HIGH, [1], upgrades=[1]) == MODERATE  # no upgrade for RCTs
    assert rules.certainty(LOW, [0], upgrades=[1]) == MODERATE
    assert rules.certainty(LOW, [0], upgrades=[2, 1]) == HIGH  # caps at high
    with pytest.raises(rules.RuleInputError):
        rules.certainty(HIGH, [3])


def test_large_effect_edges():
    def ev(rr, lo, hi):
        return Evidence(
            measure="RR",
            main=Pooled(math.log(rr), math.log(lo), math.log(hi), 3),
            studies=_studies([(1, "low")]),
        )

    assert rules.large_effect(ev(2.0, 1.5, 2.5)) == 0  # exactly 2 is not "more than 2"
    assert rules.large_effect(ev(2.01, 1.5, 2.5)) == 1
    assert rules.large_effect(ev(0.19, 0.1, 0.3)) == 2
    assert rules.large_effect(ev(3.0, 0.9, 9.0)) == 0  # CI includes the null


def test_labels_and_statements():
    assert rules.certainty_label(MODERATE) == "\u2295\u2295\u2295\u25ef Moderate"
    kw = {"measure": "RR", "intervention": "peer support", "outcome": "hospital admission"}
    assert (
        rules.statement(MODERATE, estimate=math.log(0.6), **kw)
        == "Peer support probably reduces hospital admission."
    )
    assert (
        rules.statement(LOW, estimate=math.log(0.9), **kw)
        == "Peer support may result in little to no difference in hospital admission."
    )
    assert rules.statement(HIGH, estimate=math.log(1.3), **kw) == (
        "Peer support increases hospital admission."
    )
    assert rules.statement(VERY_LOW, estimate=0.0, **kw).startswith(
        "The evidence is very uncertain"
    )
    smd = {"measure": "SMD", "intervention": "peer support", "outcome": "hope"}
    assert rules.statement(LOW, estimate=0.25, **smd) == "Peer support may improve hope."
    assert rules.statement(LOW, estimate=0.2, **smd) == "Peer support may improve hope."
    assert rules.statement(LOW, estimate=0.19, **smd) == (
        "Peer support may result in little to no difference in hope."
    )


def test_suggest_returns_every_domain_in_order():
    out = rules.suggest(_ev())
    assert list(out) == list(rules.DOMAINS)
    assert all(s.rule for s in out.values())


# --------------------------------------------------------------------------- SoF effects


def test_smd_sizes_and_back_transformation_to_a_named_scale():
    from analysis.certainty import absolute

    assert absolute.smd_size(0.19) == "a trivial difference"
    assert absolute.smd_size(0.2) == "a small effect"
    assert absolute.smd_size(-0.5) == "a moderate effect"
    assert absolute.smd_size(0.8) == "a large effect"
    assert absolute.smd_text(0.25, 0.1, 0.4) == (
        "SMD 0.25 (0.10 to 0.40): a small effect (positive favours the intervention)"
    )
    md, lo, hi, text = absolute.back_transform(0.25, 0.1, 0.4, 10.0, "BDI-II")
    assert (md, lo, hi) == pytest.approx((2.5, 1.0, 4.0))
    assert text == "2.5 points better on BDI-II (1.0 to 4.0; SD 10.0)"
    with pytest.raises(rules.RuleInputError):
        absolute.back_transform(0.25, 0.1, 0.4, 0.0, "BDI-II")


def test_risk_ratio_per_1000_and_bounds():
    from analysis.certainty import absolute

    a = absolute.absolute_effect("RR", 300, 0.75, 0.6, 0.94)
    assert (a.corresponding, a.corresponding_low, a.corresponding_high) == pytest.approx(
        (225, 180, 282)
    )
    assert absolute.difference_text(a) == "75 fewer per 1,000 (from 120 fewer to 18 fewer)"
    # a risk ratio cannot carry a risk past 1,000 per 1,000
    capped = absolute.absolute_effect("RR", 600, 2.0, 1.5, 3.0)
    assert capped.corresponding == 1000 and capped.corresponding_high == 1000
    with pytest.raises(rules.RuleInputError):
        absolute.corresponding_risk("SMD", 0.3, 0.5)


def test_outcome_names_in_a_sentence():
    assert rules.in_sentence("Clinical recovery") == "clinical recovery"
    assert rules.in_sentence("HbA1c (%)") == "HbA1c (%)"
    assert rules.in_sentence("BDI-II score") == "BDI-II score"
    assert rules.in_sentence("QoL") == "QoL"
    assert rules.in_sentence("hope") == "hope"
