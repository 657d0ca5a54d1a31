"""Worked examples from the literature, typed from the published papers.

1. Normand, S.-L. T. (1999). Meta-analysis: formulating, evaluating, combining, and
   reporting. *Statistics in Medicine*, 18, 321-359, Table IV: length of hospital stay (days)
   of stroke patients under specialised vs routine care, nine trials (means, SDs, Ns).
   Hedges' g per trial, pooled by REML. Printed results for exactly this analysis
   (``escalc(measure="SMD")`` then ``rma(yi, vi)``) are in the metafor documentation
   (W. Viechtbauer, "Assembling data for a meta-analysis of standardized mean differences",
   metafor-project.org): tau^2 = 0.7908, tau = 0.8893.
2. Colditz, G. A., et al. (1994). Efficacy of BCG vaccine in the prevention of tuberculosis.
   *JAMA*, 271, 698-702 (13 trials, 2x2 counts), as analysed in Viechtbauer, W. (2010).
   Conducting meta-analyses in R with the metafor package. *Journal of Statistical Software*,
   36(3), 1-48 (REML model output printed to 4 decimals; the same printout appears in the
   metafor documentation of dat.bcg).
"""

from __future__ import annotations

import math

from analysis.stats import escalc_rr, escalc_smd, rma

# Normand (1999), Table IV: (trial, n1, mean1, sd1, n2, mean2, sd2); 1 = specialist care
NORMAND_TABLE_IV = [
    ("Edinburgh", 155, 55, 47, 156, 75, 64),
    ("Orpington-Mild", 31, 27, 7, 32, 29, 4),
    ("Orpington-Moderate", 75, 64, 17, 71, 119, 29),
    ("Orpington-Severe", 18, 66, 20, 18, 137, 48),
    ("Montreal-Home", 8, 14, 8, 13, 18, 11),
    ("Montreal-Transfer", 57, 19, 7, 52, 18, 4),
    ("Newcastle", 34, 52, 45, 33, 41, 34),
    ("Umea", 110, 21, 16, 183, 31, 27),
    ("Uppsala", 60, 30, 27, 52, 23, 20),
]

# Colditz et al. (1994): (trial, vaccinated TB+, TB−, unvaccinated TB+, TB−)
BCG_TRIALS = [
    ("Aronson 1948", 4, 119, 11, 128),
    ("Ferguson & Simes 1949", 6, 300, 29, 274),
    ("Rosenthal et al 1960", 3, 228, 11, 209),
    ("Hart & Sutherland 1977", 62, 13536, 248, 12619),
    ("Frimodt-Moller et al 1973", 33, 5036, 47, 5761),
    ("Stein & Aronson 1953", 180, 1361, 372, 1079),
    ("Vandiviere et al 1973", 8, 2537, 10, 619),
    ("TPT Madras 1980", 505, 87886, 499, 87892),
    ("Coetzee & Berjak 1968", 29, 7470, 45, 7232),
    ("Rosenthal et al 1961", 17, 1699, 65, 1600),
    ("Comstock et al 1974", 186, 50448, 141, 27197),
    ("Comstock & Webster 1969", 5, 2493, 3, 2338),
    ("Comstock et al 1976", 27, 16886, 29, 17825),
]


def test_normand_stroke_trials_hedges_g_reml():
    name, n1, m1, sd1, n2, m2, sd2 = zip(*NORMAND_TABLE_IV, strict=True)
    es = escalc_smd(m1, sd1, n1, m2, sd2, n2, study=name)
    res = rma(es.yi, es.vi, method="REML")
    assert res.k == 9
    assert round(res.tau2, 4) == 0.7908  # printed tau^2
    assert round(res.tau, 4) == 0.8893  # printed tau
    # specialist care shortens the stay in most trials; pooled g negative, CI crosses 0
    assert res.estimate < 0 < res.ci_high
    assert res.I2 > 90


def test_bcg_trials_reml_as_printed_in_viechtbauer_2010():
    name, a, b, c, d = zip(*BCG_TRIALS, strict=True)
    es = escalc_rr(a, b, c, d, study=name)
    res = rma(es.yi, es.vi, method="REML")
    assert round(res.estimate, 4) == -0.7145
    assert round(res.se, 4) == 0.1798
    assert (round(res.ci_low, 4), round(res.ci_high, 4)) == (-1.0669, -0.3622)
    assert round(res.tau2, 4) == 0.3132
    assert round(res.I2, 2) == 92.22
    assert round(res.H2, 2) == 12.86
    assert round(res.Q, 4) == 152.2330
    assert res.Q_df == 12
    # as a risk ratio: exp(-0.7145) = 0.49 (95 % CI 0.34 to 0.70)
    assert [round(math.exp(x), 2) for x in (res.estimate, res.ci_low, res.ci_high)] == [
        0.49,
        0.34,
        0.70,
    ]
