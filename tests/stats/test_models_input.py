"""Models that cannot be fitted are refused in words (engine and command line)."""

from __future__ import annotations

import pytest

from analysis.stats import StatsInputError
from analysis.stats.moderators import design_matrix, r_sort_key
from analysis.stats.regression import metareg, multilevel

Y = [0.1, 0.3, 0.2, 0.5, 0.4, 0.6, 0.2, 0.35]
V = [0.02, 0.03, 0.025, 0.04, 0.02, 0.05, 0.03, 0.02]
STUDY = ["a", "a", "b", "b", "c", "c", "d", "d"]


def test_factor_levels_sort_as_r_and_the_first_is_the_reference():
    X, names, mods = design_matrix({"g": ["beta", "Alpha", "gamma", "beta"]}, 4)
    assert mods[0].levels == ("Alpha", "beta", "gamma")
    assert names == ("intrcpt", "gbeta", "ggamma")
    assert X[:, 1].tolist() == [1, 0, 0, 1]
    assert sorted(["b", "B", "a"], key=r_sort_key) == ["a", "b", "B"]


@pytest.mark.parametrize(
    ("mods", "message"),
    [
        ({"g": ["x"] * 8}, "only one level"),
        ({"x": [1.0] * 8}, "same value for every effect"),
        ({"x": [1, 2, 3, 4, 5, 6, 7, 8], "z": [2, 4, 6, 8, 10, 12, 14, 16]}, "collinear"),
        ({"g": list("abcdefgh")}, "cannot be estimated from 8 effects"),
        ({"x": [1, 2, None, 4, 5, 6, 7, 8]}, "missing for effect 3"),
    ],
)
def test_unfittable_moderators_are_refused_in_words(mods, message):
    with pytest.raises(StatsInputError, match=message):
        metareg(Y, V, mods)
    with pytest.raises(StatsInputError, match=message):
        multilevel(Y, V, STUDY, mods=mods)


def test_cr2_needs_more_studies_than_coefficients():
    x = [1, 1, 2, 2, 1, 1, 2, 2]
    with pytest.raises(StatsInputError, match="more studies"):
        multilevel(Y, V, ["a"] * 4 + ["b"] * 4, mods={"x": x}, robust="CR2")
    # with four studies it is fitted
    res = multilevel(Y, V, STUDY, mods={"x": [1, 2, 1, 3, 2, 2, 4, 1]}, robust="CR2")
    assert res.df is not None and all(d > 0 for d in res.df)


def test_a_coefficient_resting_on_one_study_has_no_robust_se():
    g = ["a", "a", "b", "b", "b", "b", "b", "b"]  # level a only in study a
    with pytest.raises(StatsInputError, match="single study"):
        multilevel(Y, V, STUDY, mods={"g": g}, robust="CR1")


def test_duplicate_effect_ids_within_a_study_are_refused():
    with pytest.raises(StatsInputError, match="same id"):
        multilevel(Y, V, STUDY, es=[1, 1, 1, 2, 1, 2, 1, 2])


def test_unknown_options_are_refused():
    with pytest.raises(StatsInputError, match="REML or ML"):
        multilevel(Y, V, STUDY, method="DL")
    with pytest.raises(StatsInputError, match="CR2 or CR1"):
        multilevel(Y, V, STUDY, robust="HC0")
    with pytest.raises(StatsInputError, match="at least one moderator"):
        metareg(Y, V, {})


def test_cli_refuses_a_missing_moderator_column(run_cli, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "study,es,yi,vi\n"
        + "".join(f"{s},{i},{y},{v}\n" for i, (s, y, v) in enumerate(zip(STUDY, Y, V, strict=True)))
    )
    code, out, err = run_cli("multilevel", path, "--mods", "year")
    assert code == 1 and out == ""
    assert err == "error: moderator column 'year' not found in the input\n"
    code, out, _ = run_cli("multilevel", path, "--robust", "CR2")
    assert code == 0 and '"df": ' in out
