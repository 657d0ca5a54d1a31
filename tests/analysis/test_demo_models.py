"""The demo's dependent-effects step: every HbA1c comparison of Senn et al. (2013) in a
three-level model with CR2, and a meta-regression on drug class, equal to metafor and
clubSandwich.

Fixture: tests/stats/reference/demo/demo_models.json, written by make_demo_models.R beside
it from the same data file the demo reads (extraction/demo_data/senn2013.csv).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from analysis import selectors
from analysis.demo import DRUG_CLASS_TITLE, THREE_LEVEL_TITLE, demo_analysis, demo_models
from extraction.demo import SEVERAL_CLASSES, demo_extraction
from extraction.rob.services import rob_demo_step
from tests.factories import UserFactory

FIXTURE = Path(__file__).resolve().parents[1] / "stats" / "reference" / "demo" / "demo_models.json"
FIELDS = ("b", "se", "ci_low", "ci_high", "stat", "p", "df")


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _assert_fit(res, ref: dict) -> None:
    """Every number of the fit equals R's. metafor stops its optimiser ~1e-6 short of the
    REML maximum where σ²(level 2) sits at its bound (1e-9 in R, 0 in the engine)."""
    assert list(res.names) == _listed(ref["names"])
    for name in FIELDS:
        got = list(getattr(res, name))
        assert got == pytest.approx(_listed(ref[name]), rel=2e-5, abs=1e-6), name
    assert list(res.sigma2) == pytest.approx(ref["sigma2"], rel=1e-4, abs=1e-6)
    assert list(res.I2_levels) == pytest.approx(ref["I2_levels"], rel=1e-4, abs=1e-4)
    assert pytest.approx(ref["QE"], rel=1e-9) == res.QE
    assert res.logLik == pytest.approx(ref["logLik"], rel=1e-7)
    assert (res.k, res.n_studies) == (ref["k"], ref["n_studies"])
    # the profile-likelihood CIs of σ² the page shows (confint)
    for got, want in zip(res.sigma2_ci, ref["sigma2_ci"], strict=True):
        assert list(got) == pytest.approx(want, rel=1e-4, abs=1e-6)
    if len(res.names) > 1:
        assert pytest.approx(ref["QM"], rel=2e-5) == res.QM
        assert res.QM_p == pytest.approx(ref["QM_p"], rel=2e-5)


def test_demo_models_use_every_comparison_and_equal_metafor(cast, client):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": UserFactory()}
    assert demo_models(cast.review, users) is None  # nothing extracted yet
    demo_extraction(cast.review, users)
    rob_demo_step(cast.review, users)
    message = demo_models(cast.review, users)
    assert THREE_LEVEL_TITLE in message and DRUG_CLASS_TITLE in message
    assert demo_models(cast.review, users) is None  # idempotent
    ref = json.loads(FIXTURE.read_text())

    # every drug-versus-placebo comparison: 20 effects from 19 trials, Willms 1999 twice
    three = demo_analysis(cast.review, "hba1c_three_level")
    assert (three.effect_measure, three.robust_variance) == ("MD", True)
    report, _ = selectors.analysis_report(three)
    section = report.model
    assert section.error == "" and section.kind == "three_level"
    got = sorted((round(e.yi, 9), round(e.vi, 9)) for e in section.effects)
    want = sorted(
        (round(y, 9), round(v, 9))
        for y, v in zip(ref["effects"]["yi"], ref["effects"]["vi"], strict=True)
    )
    assert got == want
    willms = [e for e in section.effects if e.study == "Willms 1999"]
    assert len(willms) == 2 and {e.outcome.rsplit(", ", 1)[1] for e in willms} == {
        "Metformin vs Placebo",
        "Acarbose vs Placebo",
    }
    assert section.result.robust == "CR2"
    _assert_fit(section.result, ref["three_level_cr2"])

    # drug class (the form's study-level answer) as the moderator, model-based t tests
    by_class = demo_analysis(cast.review, "hba1c_drug_class")
    section = selectors.analysis_report(by_class)[0].model
    assert section.result.robust is None
    assert {e.values["drug_class"] for e in section.effects} >= {SEVERAL_CLASSES, "Biguanide"}
    _assert_fit(section.result, ref["drug_class"])

    # the pages: listed on the analyses page, the model section with its numbers
    client.force_login(cast.alice)
    slug = cast.review.slug
    index = client.get(reverse("analysis:index", kwargs={"slug": slug})).content.decode()
    for analysis in (three, by_class):
        url = reverse("analysis:detail", kwargs={"slug": slug, "analysis_id": analysis.pk})
        assert f'href="{url}"' in index
    # ... with the model's own result beside the one-per-study table's
    assert "All effect sizes: three-level model, CR2: MD −1.02 (−1.21 to −0.83)" in index
    assert "test of moderators F(5, 14.0) = 1.19, p = 0.36" in index
    html = client.get(
        reverse("analysis:detail", kwargs={"slug": slug, "analysis_id": three.pk})
    ).content.decode()
    assert "All effect sizes: three-level model" in html and "cluster-robust CR2" in html
    assert "20 effect sizes, 19 studies" in html and "On the mean difference scale" in html
    assert "Generated data:" in html  # the RoB rows rest on generated judgements
    html = client.get(
        reverse("analysis:detail", kwargs={"slug": slug, "analysis_id": by_class.pk})
    ).content.decode()
    assert "Drug class: Thiazolidinedione" in html and "Test of moderators: F(5, 14" in html
