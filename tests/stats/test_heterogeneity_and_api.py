"""I² confidence intervals, prediction intervals, meta-regression and engine internals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from analysis.stats import (
    StatsInputError,
    estimate_tau2,
    i2_ci_qprofile,
    i2_ci_test_based,
    predict,
    rma,
    rma_mods,
    rma_subset,
    subgroup_analysis,
)
from analysis.stats._rmath import r_mad, rank_first, uniroot

from .helpers import CASES_DIR, load_case


def _case(name: str) -> pd.DataFrame:
    return pd.read_csv(CASES_DIR / f"{name}.csv")


def test_i2_test_based_ci_hand_computed_q_above_k():
    # Higgins & Thompson (2002), Appendix: Q = 20, k = 10 (Q > k branch), by hand:
    # H = √(20/9) = 1.4907; SE(ln H) = ½(ln 20 − ln 9)/(√40 − √17) = 0.18136;
    # H limits exp(0.39925 ± 1.95996·0.18136) = 1.0448, 2.1270 -> I² 8.39 %, 77.90 %
    lo, hi, i2 = i2_ci_test_based(20.0, 9)
    assert round(i2, 2) == 55.00
    assert round(lo, 2) == 8.39
    assert round(hi, 2) == 77.90


def test_i2_test_based_ci_hand_computed_q_below_k():
    # Q = 5, k = 6 (Q <= k branch): SE(ln H) = √(1/8 · (1 − 1/48)) = 0.34985; H = √(5/5) = 1,
    # so I² = 0 and the lower limit is 0; upper H = exp(1.95996·0.34985) = 1.98515 -> 74.62 %
    lo, hi, i2 = i2_ci_test_based(5.0, 5)
    assert (i2, lo) == (0.0, 0.0)
    assert round(hi, 2) == 74.62


def test_i2_test_based_ci_needs_three_studies():
    lo, hi, i2 = i2_ci_test_based(9.0, 1)
    assert lo is None and hi is None
    assert i2 == pytest.approx(100 * 8 / 9)


def test_i2_qprofile_function_equals_model_fields():
    d = _case("bcg")
    res = rma(d.yi, d.vi)
    lo, hi = i2_ci_qprofile(d.yi, d.vi, res.tau2)
    assert (lo, hi) == (res.I2_qprofile_ci_low, res.I2_qprofile_ci_high)
    assert lo < res.I2 < hi


def test_predict_matches_model_and_metafor_at_other_level():
    d = _case("normand1999")
    ref = load_case("normand1999")["pool"]["REML_knha"]
    res = rma(d.yi, d.vi, test="knha")
    pr = predict(res)
    assert (pr.pi_low, pr.pi_high) == pytest.approx((ref["pi_low"], ref["pi_high"]), rel=1e-6)
    wider = predict(res, level=99)
    assert wider.pi_low < pr.pi_low and wider.pi_high > pr.pi_high
    assert predict(rma(d.yi, d.vi, method="FE")).pi_low is None


def test_rma_mods_intercept_only_equals_rma():
    d = _case("random_k030_tau2_0p5")
    for method in ("DL", "REML", "PM", "SJ", "HE", "ML"):
        a = rma(d.yi, d.vi, method=method, test="knha")
        b = rma_mods(d.yi, d.vi, np.ones((len(d), 1)), method=method, test="knha")
        assert b.beta[0] == pytest.approx(a.estimate, rel=1e-12)
        assert b.tau2 == pytest.approx(a.tau2, rel=1e-12, abs=1e-15)
        assert b.ci_low[0] == pytest.approx(a.ci_low, rel=1e-12)


def test_estimate_tau2_truncates_at_zero_and_knows_fe():
    d = _case("tau2_zero")
    for method in ("DL", "REML", "ML", "PM", "SJ", "HE"):
        assert estimate_tau2(d.yi.values, d.vi.values, method=method) >= 0
    assert estimate_tau2(d.yi.values, d.vi.values, method="FE") == 0.0
    with pytest.raises(StatsInputError, match="unknown tau2 method"):
        estimate_tau2(d.yi.values, d.vi.values, method="EB")


def test_uniroot_port_finds_same_root_as_brent():
    def f(x):
        return x**3 - 2 * x - 5

    assert uniroot(f, 2, 3, tol=1e-12) == pytest.approx(optimize.brentq(f, 2, 3), abs=1e-11)
    with pytest.raises(StatsInputError, match="same sign"):
        uniroot(f, 3, 4)


def test_r_helpers_follow_r_conventions():
    assert r_mad(np.array([1.0, 2.0, 4.0, 7.0, 11.0])) == pytest.approx(1.4826 * 3)
    assert list(rank_first(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.0, 1.0, 4.0, 2.0]


@pytest.mark.parametrize(
    ("yi", "vi", "match"),
    [
        ([0.1], [0.1], "at least 2"),
        ([0.1, 0.2], [0.1, 0.0], "vi of study 2"),
        ([0.1, float("nan")], [0.1, 0.1], "yi of study 2"),
        ([0.1, 0.2, 0.3], [0.1, 0.1], "yi has 3 values"),
    ],
)
def test_rma_rejects_bad_input(yi, vi, match):
    with pytest.raises(StatsInputError, match=match):
        rma(yi, vi)


def test_rma_rejects_unknown_options():
    with pytest.raises(StatsInputError, match="unknown method"):
        rma([0.1, 0.2], [0.1, 0.1], method="XX")
    with pytest.raises(StatsInputError, match="unknown test"):
        rma([0.1, 0.2], [0.1, 0.1], test="t")


def test_result_dict_is_json_safe_with_weights_summing_to_100():
    d = _case("identical")
    res = rma(d.yi, d.vi, test="knha", study=d.study)
    out = res.to_dict()
    assert out["se"] == 0.0 and out["stat"] is None  # 0/0 t statistic for identical effects
    assert sum(s["weight"] for s in out["studies"]) == pytest.approx(100)
    assert [s["study"] for s in out["studies"]] == list(d.study)


def test_rma_subset_refits_selected_studies():
    d = _case("bcg")
    low_risk = d.group == "random"
    sub = rma_subset(d.yi, d.vi, low_risk, study=d.study)
    direct = rma(d.yi[low_risk], d.vi[low_risk])
    assert sub.k == int(low_risk.sum())
    assert sub.estimate == direct.estimate
    assert set(sub.study) == set(d.study[low_risk])
    with pytest.raises(StatsInputError, match="flags"):
        rma_subset(d.yi, d.vi, [True, False])


def test_subgroup_requires_two_groups_and_labels():
    d = _case("bcg")
    with pytest.raises(StatsInputError, match="two groups"):
        subgroup_analysis(d.yi, d.vi, ["a"] * len(d))
    with pytest.raises(StatsInputError, match="missing"):
        subgroup_analysis(d.yi, d.vi, [None] + ["a", "b"] * 6)


def test_one_study_subgroup_keeps_its_own_estimate():
    d = _case("subgroup_single")
    res = subgroup_analysis(d.yi, d.vi, d.group)
    solo = next(g for g in res.groups if g.group == "solo")
    assert (solo.k, solo.estimate, solo.tau2) == (1, d.yi[0], 0.0)
    assert solo.se == pytest.approx(math.sqrt(d.vi[0]))
    assert solo.I2 is None and solo.pi_low is None
