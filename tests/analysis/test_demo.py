"""The demo: after extraction's (Normand 1999) and RoB's steps, a full report at once."""

from __future__ import annotations

import csv

import pytest

from analysis import selectors, stats
from analysis.demo import demo_analyses
from analysis.models import Analysis
from extraction.demo import DATA, demo_extraction
from extraction.rob.services import rob_demo_step
from tests.factories import UserFactory


def test_demo_defines_an_analysis_that_pools_the_normand_trials(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": UserFactory()}
    assert demo_analyses(cast.review, users) is None  # nothing extracted yet: nothing to define
    demo_extraction(cast.review, users)
    rob_demo_step(cast.review, users)
    assert "Service use" in demo_analyses(cast.review, users)
    assert demo_analyses(cast.review, users) is None  # idempotent
    analysis = Analysis.objects.get(review=cast.review)
    assert analysis.long_term_windows.count() == 2
    report, ad = selectors.analysis_report(analysis)

    with DATA.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    es = stats.escalc_smd(
        *([float(r[c]) for r in rows] for c in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"))
    )
    # length of stay: lower is better, so the app flips the sign (g > 0 favours stroke units)
    ref = stats.rma(-es.yi, es.vi, method="REML", test="knha")
    main = report.row("all").numbers
    assert report.row("all").k == 9 == ref.k
    assert main.estimate == pytest.approx(ref.estimate, rel=1e-9)
    assert main.pi_high == pytest.approx(ref.pi_high, rel=1e-9)
    assert report.row("rob:head").k == 9  # the RoB demo judged every study
    assert report.egger is not None and report.row("outliers").numbers is not None
    assert ad.left_out == ()
