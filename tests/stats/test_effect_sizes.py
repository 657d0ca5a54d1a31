"""Effect sizes against metafor's escalc, conversions, and input validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import (
    EffectSizeError,
    ci_from_se,
    combine_groups,
    escalc_md,
    escalc_or,
    escalc_rd,
    escalc_rr,
    escalc_smd,
    hedges_correction,
    hedges_g,
    logor_to_smd,
    sd_from_ci,
    sd_from_se,
    se_from_ci,
    smd_from_p,
    smd_from_t,
)

from .helpers import CASES_DIR, assert_close

REF = json.loads((CASES_DIR / "escalc.json").read_text())
SMD_ARGS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")


@pytest.mark.parametrize(("name", "func"), [("smd", escalc_smd), ("md", escalc_md)])
def test_continuous_measures_match_escalc(name, func):
    ref = REF[name]
    es = func(*(ref[a] for a in SMD_ARGS))
    assert_close(list(es.yi), ref["yi"], f"{name} yi")
    assert_close(list(es.vi), ref["vi"], f"{name} vi")


@pytest.mark.parametrize(
    ("name", "func"), [("or", escalc_or), ("rr", escalc_rr), ("rd", escalc_rd)]
)
def test_binary_measures_match_escalc_including_zero_cells(name, func):
    ref = REF[name]
    es = func(ref["ai"], ref["bi"], ref["ci"], ref["di"])
    assert_close(list(es.yi), ref["yi"], f"{name} yi")
    assert_close(list(es.vi), ref["vi"], f"{name} vi")


def test_smd_from_t_matches_escalc_ti():
    ref = REF["smd_from_t"]
    es = smd_from_t(ref["ti"], ref["n1i"], ref["n2i"])
    assert_close(list(es.yi), ref["yi"], "yi")
    assert_close(list(es.vi), ref["vi"], "vi")


def test_smd_from_p_matches_escalc_with_recovered_t():
    ref = REF["smd_from_p"]
    es = smd_from_p(ref["pi"], ref["sign"], ref["n1i"], ref["n2i"])
    assert_close(list(es.yi), ref["yi"], "yi")
    assert_close(list(es.vi), ref["vi"], "vi")


def test_hedges_correction_is_exact_gamma_ratio():
    # J(m) = Γ(m/2)/(√(m/2)Γ((m−1)/2)); m = 2: Γ(1)/(1·Γ(0.5)) = 1/√π
    assert hedges_correction(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-14)
    # far from the 1 − 3/(4m − 1) approximation for tiny m, close to it for large m
    assert abs(hedges_correction(4) - (1 - 3 / 15)) > 1e-3
    assert hedges_correction(200) == pytest.approx(1 - 3 / 799, rel=1e-5)


def test_hedges_g_single_study_equals_vectorised():
    g, v = hedges_g(55, 47, 155, 75, 64, 156)
    es = escalc_smd([55], [47], [155], [75], [64], [156])
    assert (g, v) == (float(es.yi[0]), float(es.vi[0]))
    assert g == pytest.approx(REF["smd"]["yi"][0], rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sd1": 0}, "sd1"),
        ({"sd2": -1.0}, "sd2"),
        ({"n1": 1}, "n1"),
        ({"n2": 0}, "n2"),
        ({"m1": None}, "m1"),
        ({"m2": "abc"}, "m2"),
        ({"sd1": float("nan")}, "sd1"),
    ],
)
def test_hedges_g_rejects_bad_input_naming_study_and_field(kwargs, field):
    args = {"m1": 1.0, "sd1": 1.0, "n1": 10, "m2": 0.0, "sd2": 1.0, "n2": 10} | kwargs
    with pytest.raises(EffectSizeError) as info:
        hedges_g(**args, study="Smith 2020")
    assert isinstance(info.value, ValueError)
    assert info.value.study == "Smith 2020"
    assert info.value.field == field
    assert "Smith 2020" in str(info.value) and field in str(info.value)


def test_vector_error_names_the_offending_study_label():
    with pytest.raises(EffectSizeError) as info:
        escalc_smd([1, 2], [1, 0], [10, 10], [0, 0], [1, 1], [10, 10], study=["A", "B"])
    assert (info.value.study, info.value.field) == ("B", "sd1")


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_smd_from_p_rejects_p_outside_unit_interval(p):
    with pytest.raises(EffectSizeError, match="field 'p'"):
        smd_from_p([p], [1], [10], [10])


def test_binary_rejects_negative_and_empty_arms():
    with pytest.raises(EffectSizeError, match="'ai'"):
        escalc_or([-1], [5], [2], [5])
    with pytest.raises(EffectSizeError, match="treatment group is empty"):
        escalc_rr([0], [0], [2], [5])


def test_logor_to_smd_uses_sqrt3_over_pi():
    es = logor_to_smd([math.log(2.0)], [0.04])
    assert es.yi[0] == pytest.approx(math.log(2.0) * math.sqrt(3) / math.pi, rel=1e-15)
    assert es.vi[0] == pytest.approx(0.04 * 3 / math.pi**2, rel=1e-15)
    # Chinn (2000): OR = 2 corresponds to d ≈ 0.38
    assert round(float(es.yi[0]), 2) == 0.38


def test_se_sd_ci_conversions_round_trip():
    lo, hi = ci_from_se([0.5], [0.1])
    assert se_from_ci(lo, hi)[0] == pytest.approx(0.1, rel=1e-12)
    assert sd_from_se([2.0], [25])[0] == pytest.approx(10.0)
    # hand-computed: n = 25, CI 3.0 to 7.0, t(0.975, 24) = 2.0639 -> SD = 5 x 4 / 4.1278 = 4.845
    assert round(float(sd_from_ci([3.0], [7.0], [25])[0]), 3) == 4.845
    assert sd_from_ci([3.0], [7.0], [25], t_dist=False)[0] == pytest.approx(
        5 * 4 / (2 * 1.959963985), rel=1e-8
    )


def test_combine_groups_matches_cochrane_formula_and_pooled_raw_data():
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 2, 17), rng.normal(13, 3, 24)
    n, m, sd = combine_groups(len(a), a.mean(), a.std(ddof=1), len(b), b.mean(), b.std(ddof=1))
    both = np.concatenate([a, b])
    assert n == 41
    assert m == pytest.approx(both.mean(), rel=1e-12)
    assert sd == pytest.approx(both.std(ddof=1), rel=1e-12)


def test_combine_groups_rejects_negative_sd():
    with pytest.raises(EffectSizeError, match="sd2"):
        combine_groups(10, 1.0, 1.0, 10, 2.0, -1.0)


def test_cli_escalc_adds_yi_vi_equal_to_metafor(run_cli):
    raw = CASES_DIR / "normand1999_raw.csv"
    code, out, _ = run_cli("escalc", raw)
    assert code == 0
    from io import StringIO

    table = pd.read_csv(StringIO(out))
    ref = pd.read_csv(CASES_DIR / "normand1999.csv")
    assert list(table.columns[-2:]) == ["yi", "vi"]
    assert list(table["study"]) == list(ref["study"])
    assert_close(table["yi"].tolist(), ref["yi"].tolist(), "yi")
    assert_close(table["vi"].tolist(), ref["vi"].tolist(), "vi")


def test_cli_pool_from_means_equals_pool_from_yi_vi(run_cli):
    code1, out1, _ = run_cli("pool", CASES_DIR / "normand1999_raw.csv")
    code2, out2, _ = run_cli("pool", CASES_DIR / "normand1999.csv")
    assert code1 == code2 == 0
    a, b = json.loads(out1), json.loads(out2)
    for key in a:
        assert_close(a[key], b[key], key)
