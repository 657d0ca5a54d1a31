"""The demo's analyses, after extraction's and RoB's steps, equal metafor's.

Fixture: tests/stats/reference/demo/demo_glucose.json, written by make_demo_reference.R
beside it from the same data files the demo reads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from analysis import selectors
from analysis.demo import HBA1C_TITLE, MI_TITLE, demo_analyses, demo_analysis
from extraction.demo import demo_extraction, demo_extraction_dichotomous
from extraction.rob.services import rob_demo_step
from tests.factories import UserFactory

FIXTURE = Path(__file__).resolve().parents[1] / "stats" / "reference" / "demo" / "demo_glucose.json"


def test_demo_defines_two_analyses_that_equal_metafor(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": UserFactory()}
    assert demo_analyses(cast.review, users) is None  # nothing extracted yet: nothing to define
    demo_extraction(cast.review, users)
    demo_extraction_dichotomous(cast.review, users)
    rob_demo_step(cast.review, users)
    message = demo_analyses(cast.review, users)
    assert HBA1C_TITLE in message and MI_TITLE in message
    assert demo_analyses(cast.review, users) is None  # idempotent
    ref = json.loads(FIXTURE.read_text())

    # HbA1c: placebo-controlled trials, mean difference, REML with Hartung-Knapp
    hba1c = demo_analysis(cast.review, "hba1c")
    assert (hba1c.effect_measure, hba1c.study_filters) == ("MD", {"comparator_type": "Placebo"})
    report, ad = selectors.analysis_report(hba1c)
    main = report.main
    assert main.k == ref["hba1c"]["k"] == 20  # 19 trials, Willms 1999 twice
    for name in ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "I2", "Q"):
        assert getattr(main, name) == pytest.approx(ref["hba1c"][name], rel=1e-6), name
    # left out, saying why: the 7 trials with an active comparator (the filter) and the
    # 38 rosiglitazone trials of the other outcome
    left_out = {lo.label for lo in ad.left_out}
    active = {"Hanefeld 2004", "Derosa 2004", "Yang 2003", "Vongthavaravat 2002", "Oyama 2008"}
    assert active | {"Alex 1998", "Kim 2007", "ADOPT"} <= left_out and len(left_out) == 45
    assert report.row("rob:head").k == 20  # the RoB demo judged every study
    assert report.egger is not None

    # Myocardial infarction: Peto odds ratio, 38 trials in type 2 diabetes
    mi = demo_analysis(cast.review, "mi")
    assert (mi.effect_measure, mi.pooling_method) == ("OR", "PETO")
    report, ad = selectors.analysis_report(mi)
    main = report.main
    assert main.k == ref["mi"]["k"] == 38 and len(ad.left_out) == 26  # the HbA1c trials
    for name in ("estimate", "se", "ci_low", "ci_high", "p", "Q"):
        assert getattr(main, name) == pytest.approx(ref["mi"][name], rel=1e-6), name
    # OR 1.37 (0.96 to 1.96); Nissen & Wolski's 1.43 includes the four non-diabetes trials
    assert math.exp(main.estimate) == pytest.approx(1.371, abs=1e-3)
