"""The demo's dichotomous outcome: Linde et al. (2005) responders, pooled as RR by MH.

The numbers are checked against metafor's ``rma.mh(measure = "RR")`` on metadat's
``dat.linde2005`` (fixture ``tests/stats/reference/binary/linde2005.json``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from analysis import selectors
from analysis.demo import RESPONSE_TITLE, demo_analyses
from analysis.models import Analysis
from extraction.demo import demo_extraction_dichotomous
from extraction.models import Extraction, Study
from tests.factories import UserFactory

FIXTURE = Path(__file__).resolve().parents[1] / "stats" / "reference" / "binary" / "linde2005.json"


def test_demo_pools_the_linde_trials_as_a_mantel_haenszel_risk_ratio(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": UserFactory()}
    assert "24 trials" in demo_extraction_dichotomous(cast.review, users)
    assert demo_extraction_dichotomous(cast.review, users) is None  # idempotent
    assert Study.objects.filter(review=cast.review).count() == 24
    assert Extraction.objects.filter(study__review=cast.review, kind="independent").count() == 48
    assert RESPONSE_TITLE in demo_analyses(cast.review, users)
    assert demo_analyses(cast.review, users) is None  # idempotent
    analysis = Analysis.objects.get(review=cast.review, title=RESPONSE_TITLE)
    assert (analysis.effect_measure, analysis.pooling_method) == ("RR", "MH")

    report, ad = selectors.analysis_report(analysis)
    ref = json.loads(FIXTURE.read_text())["fits"]["RR_MH_z"]
    main = report.main
    assert main.k == ref["k"] == 24 and main.Q_df == ref["Q_df"] == 22
    for name in ("estimate", "se", "ci_low", "ci_high", "p", "Q", "Q_p", "I2"):
        assert getattr(main, name) == pytest.approx(ref[name], rel=1e-6), name
    weights = dict(zip(main.study, main.weights, strict=True))
    assert weights["Osterheider et al. 1992"] == 0  # no responders in either arm
    assert ad.left_out == ()
    # RR = exp(0.442) = 1.56 with St John's wort, as Linde et al. report for all trials
    assert math.exp(main.estimate) == pytest.approx(1.556, abs=1e-3)
