"""Cohen's kappa against published worked examples and an independent implementation."""

import pytest
from sklearn.metrics import cohen_kappa_score

from screening.agreement import AgreementError, cohen_kappa, kappa_from_pairs, kappa_label


def test_cohen_1960_table_1():
    """Cohen J (1960) Educ Psychol Meas 20:37-46, Table 1: 200 items, 3 categories.

    Proportions .44 .07 .09 / .05 .20 .05 / .01 .03 .06 (x 200); the paper reports
    p_o = .70, p_c = .41 and kappa = .49.
    """
    table = [[88, 14, 18], [10, 40, 10], [2, 6, 12]]
    k = cohen_kappa(table)
    assert k.n == 200
    assert k.observed == pytest.approx(0.70)
    assert k.expected == pytest.approx(0.41)
    assert k.kappa == pytest.approx(0.29 / 0.59)
    assert round(k.kappa, 2) == 0.49


def test_two_by_two_by_hand():
    # a=20 both include, b=5, c=10, d=15 exclude/exclude; p_o = .70,
    # p_e = .5 * .6 + .5 * .4 = .50, kappa = .2 / .5 = .40.
    k = cohen_kappa([[20, 5], [10, 15]])
    assert k.percent_agreement == pytest.approx(70.0)
    assert k.expected == pytest.approx(0.50)
    assert k.kappa == pytest.approx(0.40)
    assert k.agreements == 35


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_scikit_learn(seed):
    import random

    rng = random.Random(seed)
    r1 = [rng.choice("ie") for _ in range(300)]
    r2 = [a if rng.random() < 0.8 else rng.choice("ie") for a in r1]
    ours = kappa_from_pairs(list(zip(r1, r2, strict=True)), ["i", "e"])
    assert ours.kappa == pytest.approx(cohen_kappa_score(r1, r2))


def test_perfect_and_chance_level():
    assert cohen_kappa([[10, 0], [0, 5]]).kappa == pytest.approx(1.0)
    # Marginals 50/50 and half the items agree: kappa 0.
    assert cohen_kappa([[5, 5], [5, 5]]).kappa == pytest.approx(0.0)


def test_undefined_cases_say_so():
    empty = cohen_kappa([[0, 0], [0, 0]])
    assert empty.kappa is None and empty.observed is None and empty.n == 0
    # Both raters always "exclude": p_e = 1, kappa undefined (not 0, not 1).
    same = cohen_kappa([[0, 0], [0, 12]])
    assert same.kappa is None and same.observed == 1.0
    assert kappa_label(None) == "undefined"


@pytest.mark.parametrize(
    "bad", [[[1, 2]], [[1, -1], [0, 0]], [[1.5, 0], [0, 1]], [], [[True, 0], [0, 1]]]
)
def test_bad_tables_are_refused(bad):
    with pytest.raises(AgreementError):
        cohen_kappa(bad)


def test_unknown_category_is_refused():
    with pytest.raises(AgreementError, match="maybe"):
        kappa_from_pairs([("i", "maybe")], ["i", "e"])


@pytest.mark.parametrize(
    "value,label",
    [
        (-0.1, "poor"),
        (0.1, "slight"),
        (0.3, "fair"),
        (0.5, "moderate"),
        (0.7, "substantial"),
        (0.9, "almost perfect"),
    ],
)
def test_landis_koch_labels(value, label):
    assert kappa_label(value) == label
