"""Journal formatting of table cells (Smit et al. 2023, Tables 1-3)."""

import math

import pytest

from analysis.formatting import fmt_estimate_ci, fmt_i2, fmt_num, fmt_p, fmt_p_text, fmt_range


def test_estimate_with_ci_uses_a_dash_or_to_as_the_paper_does():
    assert fmt_estimate_ci(0.19, 0.11, 0.27) == "0.19 (0.11–0.27)"
    assert fmt_estimate_ci(0.19, -0.2, 0.58) == "0.19 (−0.20 to 0.58)"
    assert fmt_estimate_ci(-0.5, -0.9, -0.1) == "−0.50 (−0.90 to −0.10)"


def test_numbers_round_to_two_decimals_without_negative_zero():
    assert fmt_num(0.125) == "0.12"  # float rounding of 0.125, as printf does
    assert fmt_num(-0.004) == "0.00"
    assert fmt_num(float("nan")) == "NA"
    assert fmt_range(None, 1.0) == "NA"


def test_i2_is_an_integer_percent_with_its_ci():
    assert fmt_i2(10.4, 0.0, 44.2) == "10 (0–44)"
    assert fmt_i2(56.6) == "57"
    assert fmt_i2(None) == "NA"


@pytest.mark.parametrize(
    "p,text",
    [
        (0.0004, "<0.001"),
        (0.001, "0.001"),
        (0.0034, "0.003"),
        (0.0149, "0.01"),
        (0.27, "0.27"),
        (math.nan, "NA"),
    ],
)
def test_p_values(p, text):
    assert fmt_p(p) == text


def test_p_in_running_text():
    assert fmt_p_text(0.0001) == "p < 0.001"
    assert fmt_p_text(0.27) == "p = 0.27"
