"""RevMan 5's pooling (``analysis.stats.revman``).

The reference for what real files contain is RevMan's own stored output
(``tests/api/test_revman_import.py`` re-derives every number of three real ``.rm5`` files
to 1e-6: MH and IV, fixed and random, OR, RR and MD, zero cells, subgroups). The methods
those files do not use (Peto, RD, SMD) are checked here where RevMan's published
algorithm coincides with metafor's, through the engine's metafor-verified functions
(``rma_peto``, ``rma_mh``, ``escalc_*``, ``rma``), and against the published formulas
where it does not (Hedges' adjusted g with RevMan's approximations); and against the
metafor fixtures of ``reference/binary`` (made by ``reference/make_reference.R``) for every
case where the two algorithms coincide.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from analysis.stats import StatsInputError, escalc_rd, rma, rma_mh, rma_peto
from analysis.stats.revman import display, revman_continuous, revman_dichotomous

# Three trials without zero cells, where every RevMan method equals metafor's.
E1, N1, E2, N2 = [12, 30, 7], [100, 150, 60], [20, 41, 9], [98, 149, 64]


def _cells():
    a, n1, c, n2 = (np.array(x, dtype=float) for x in (E1, N1, E2, N2))
    return a, n1 - a, c, n2 - c


def test_peto_equals_metafors_rma_peto():
    ours = revman_dichotomous(E1, N1, E2, N2, measure="PETO_OR", method="PETO")
    ref = rma_peto(*_cells())
    assert ours.estimate == pytest.approx(ref.estimate, abs=1e-12)
    assert ours.se == pytest.approx(ref.se, abs=1e-12)
    assert ours.chi2 == pytest.approx(ref.Q, abs=1e-10)
    assert [r.yi for r in ours.rows] == pytest.approx(ref.yi, abs=1e-12)


@pytest.mark.parametrize("measure", ["OR", "RR", "RD"])
def test_mantel_haenszel_fixed_equals_rma_mh_without_zero_cells(measure):
    ours = revman_dichotomous(E1, N1, E2, N2, measure=measure, method="MH")
    ref = rma_mh(*_cells(), measure=measure)
    assert ours.estimate == pytest.approx(ref.estimate, abs=1e-12)
    if measure == "RD":
        # RevMan's SE of the MH risk difference is Greenland & Robins' (1985)
        # √(J/K²); metafor's rma.mh uses Sato, Greenland & Robins (1989).
        a, b, c, d = _cells()
        n1, n2 = a + b, c + d
        n = n1 + n2
        j = ((a * b * n2**3 + c * d * n1**3) / (n1 * n2 * n**2)).sum()
        k = (n1 * n2 / n).sum()
        assert ours.se == pytest.approx(math.sqrt(j / k**2), abs=1e-14)
        assert ours.se == pytest.approx(ref.se, rel=1e-3)
    else:
        assert ours.se == pytest.approx(ref.se, abs=1e-12)
    assert ours.chi2 == pytest.approx(ref.Q, abs=1e-10)
    assert [r.weight for r in ours.rows] == pytest.approx(ref.weights, abs=1e-9)


def test_risk_difference_rows_and_inverse_variance_random_effects_equal_metafor():
    ours = revman_dichotomous(E1, N1, E2, N2, measure="RD", method="IV", random=True)
    es = escalc_rd(*_cells())
    assert [r.yi for r in ours.rows] == pytest.approx(es.yi, abs=1e-12)
    assert [r.se**2 for r in ours.rows] == pytest.approx(es.vi, abs=1e-12)
    ref = rma(es.yi, es.vi, "DL")
    assert (ours.estimate, ours.se, ours.tau2) == pytest.approx(
        (ref.estimate, ref.se, ref.tau2), abs=1e-12
    )


def test_a_risk_difference_keeps_a_study_without_events_and_a_ratio_leaves_it_out():
    rd = revman_dichotomous([0, 3], [10, 20], [0, 5], [12, 20], measure="RD", method="MH")
    rr = revman_dichotomous([0, 3], [10, 20], [0, 5], [12, 20], measure="RR", method="MH")
    assert rd.k == 2 and rd.rows[0].yi == 0.0 and rd.rows[0].se > 0
    assert rr.k == 1 and not rr.rows[0].estimable and math.isnan(rr.rows[0].yi)
    assert "no events" in rr.rows[0].reason


def test_smd_is_hedges_adjusted_g_with_revmans_approximations():
    m1, s1, n1, m2, s2, n2 = 5.0, 4.7, 13, 6.5, 3.8, 13
    ours = revman_continuous([m1], [s1], [n1], [m2], [s2], [n2], measure="SMD")
    n = n1 + n2
    s = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n - 2))
    g = (m1 - m2) / s * (1 - 3 / (4 * n - 9))
    se = math.sqrt(n / (n1 * n2) + g**2 / (2 * (n - 3.94)))
    assert (ours.rows[0].yi, ours.rows[0].se) == pytest.approx((g, se), abs=1e-14)
    assert ours.ci_low == pytest.approx(g - 1.959963984540054 * se, abs=1e-12)


def test_a_row_without_an_sd_is_not_estimable_and_the_rest_pools():
    result = revman_continuous(
        [1, 2, 3], [1, 0, 1], [10, 10, 10], [0, 1, 2], [1, 1, 1], [10, 10, 10], measure="MD"
    )
    assert [r.estimable for r in result.rows] == [True, False, True]
    assert result.k == 2 and result.df == 1


def test_ratios_are_pooled_on_the_log_scale_and_shown_exponentiated():
    result = revman_dichotomous(E1, N1, E2, N2, measure="OR", method="IV")
    assert display("OR", result.estimate) == pytest.approx(math.exp(result.estimate))
    assert display("MD", 0.5) == 0.5 and display("OR", None) is None


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"measure": "HR", "method": "IV"}, "OR, RR, RD or PETO_OR"),
        ({"measure": "OR", "method": "REML"}, "MH, IV and PETO"),
        ({"measure": "OR", "method": "PETO"}, "Peto"),
        ({"measure": "OR", "method": "MH", "ci_total": 100}, "percentage"),
    ],
)
def test_options_are_checked_when_called(kwargs, words):
    with pytest.raises(StatsInputError, match=words):
        revman_dichotomous(E1, N1, E2, N2, **kwargs)


def test_impossible_counts_are_refused():
    with pytest.raises(StatsInputError, match="between 0"):
        revman_dichotomous([5], [4], [1], [4], measure="OR", method="MH")
    with pytest.raises(StatsInputError, match="one value per study"):
        revman_dichotomous([1, 2], [4], [1], [4], measure="OR", method="MH")


# --- against metafor's fixtures (tests/stats/reference/make_reference.R) --------------------

BINARY_DIR = Path(__file__).resolve().parent / "reference" / "binary"


def _tables_without_zero_cells() -> list[str]:
    """The metafor cases where no table has a zero cell: there RevMan's algorithms and
    metafor's coincide (RevMan corrects zero cells inside the MH sums and leaves double-zero
    tables out of OR/RR fits; metafor does neither)."""
    names = []
    for path in sorted(BINARY_DIR.glob("*.csv")):
        rows = list(csv.DictReader(path.open()))
        cells = [(float(r["ai"]), float(r["n1i"]), float(r["ci"]), float(r["n2i"])) for r in rows]
        if all(0 < a < n1 and 0 < c < n2 for a, n1, c, n2 in cells):
            names.append(path.stem)
    return names


@pytest.mark.parametrize("case", _tables_without_zero_cells())
def test_revman_pooling_equals_metafor_where_the_algorithms_coincide(case):
    rows = list(csv.DictReader((BINARY_DIR / f"{case}.csv").open()))
    fits = json.loads((BINARY_DIR / f"{case}.json").read_text())["fits"]
    e1, n1, e2, n2 = ([float(r[k]) for r in rows] for k in ("ai", "n1i", "ci", "n2i"))
    runs = [
        (measure, method, random, key)
        for measure in ("OR", "RR", "RD")
        for method, random, key in (("IV", False, "FE"), ("IV", True, "DL"), ("MH", False, "MH"))
    ] + [("PETO_OR", "PETO", False, "PETO")]
    for measure, method, random, key in runs:
        ref = fits[f"{'OR' if measure == 'PETO_OR' else measure}_{key}_z"]
        ours = revman_dichotomous(e1, n1, e2, n2, measure=measure, method=method, random=random)
        assert ours.estimate == pytest.approx(ref["estimate"], abs=1e-9), (measure, key)
        assert ours.chi2 == pytest.approx(ref["Q"], abs=1e-8), (measure, key)
        if not (measure == "RD" and method == "MH"):  # RevMan: Greenland & Robins' SE
            assert ours.se == pytest.approx(ref["se"], abs=1e-9), (measure, key)
        if random:
            assert ours.tau2 == pytest.approx(ref["tau2"], abs=1e-9), (measure, key)
        if method == "IV":
            assert [r.yi for r in ours.rows] == pytest.approx(ref["yi"], abs=1e-9)
            assert [r.se**2 for r in ours.rows] == pytest.approx(ref["vi"], abs=1e-9)
            assert [r.weight for r in ours.rows] == pytest.approx(ref["weights"], abs=1e-7)
