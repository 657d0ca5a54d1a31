"""Browser test: the lead creates a risk-ratio analysis and sees its log-scale forest plot."""

from __future__ import annotations

import math

import pytest
from django.urls import reverse

from analysis.formatting import fmt_estimate_ci
from analysis.models import Analysis
from analysis.services import windows_ensure_default
from analysis.stats import pool_binary
from tests.analysis.factories import review_setup, study_extracted
from tests.analysis.test_dichotomous import LINDE, columns, response_spec
from tests.conftest import browser_login, save_screenshot


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_creates_a_risk_ratio_analysis_and_sees_the_log_scale_forest(cast, new_page):
    review_setup(cast)
    for row in LINDE:
        study_extracted(cast, response_spec(*row))
    windows_ensure_default(review=cast.review, actor=cast.lead)
    mh = pool_binary("RR", *columns(), method="MH")

    page = new_page()
    browser_login(page, "lead")
    page.goto(reverse("analysis:create", kwargs={"slug": cast.review.slug}))
    page.fill("#id_title", "Response to treatment")
    page.select_option("#id_outcome", "s:Clinical recovery:Depressive symptoms")
    page.select_option("#id_effect_measure", "RR")
    page.select_option("#id_pooling_method", "MH")
    page.fill("#id_min_studies", "3")
    page.get_by_role("button", name="Create analysis").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    save_screenshot(page, "analysis-risk-ratio-created")

    analysis = Analysis.objects.get(title="Response to treatment")
    assert (analysis.effect_measure, analysis.pooling_method) == ("RR", "MH")
    cell = page.locator('tr[data-row="all"] td[data-col="g"]')
    assert cell.inner_text() == fmt_estimate_ci(
        math.exp(mh.estimate), math.exp(mh.ci_low), math.exp(mh.ci_high)
    )
    assert page.locator('th[data-col="measure"]').inner_text() == "RR (95% CI)"
    page.wait_for_function(
        "document.querySelector('#forest-img').complete"
        " && document.querySelector('#forest-img').naturalWidth > 0"
    )
    src = page.locator("#forest-img").get_attribute("src")
    svg = page.request.get(src).text()
    # a ratio axis: labelled 0.25 ... 4 around the line of no effect at 1, events per arm
    assert "Risk ratio (log scale)" in svg
    for text in ("19/30", "3/30", "Intervention", "Control"):
        assert text in svg
    save_screenshot(page, "analysis-risk-ratio-forest")
