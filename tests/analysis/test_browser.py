"""Browser test: changing the τ² estimator on the report page updates the table (htmx)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis import stats
from analysis.formatting import fmt_estimate_ci
from tests.analysis.factories import (
    OutcomeSpec,
    StudySpec,
    clinical_analysis,
    review_setup,
    study_extracted,
)
from tests.conftest import browser_login, save_screenshot

MEANS = [(31.0, 40), (30.0, 60), (34.5, 35), (29.5, 80), (33.0, 45), (36.0, 30), (30.5, 90)]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_changing_the_estimator_updates_the_table(cast, new_page):
    review_setup(cast)
    ys, vs = [], []
    for i, (mean, n) in enumerate(MEANS):
        spec = StudySpec(
            f"Trial {2010 + i}",
            [OutcomeSpec("Hope", "Herth Hope Index", (mean, 5.0, n), (30.0, 5.2, n))],
            {
                "diagnosis": "Depression" if i % 2 else "Serious mental illness (SMI)",
                "format": "Group",
            },
            rob=("low", "high", "some_concerns")[i % 3],
        )
        study_extracted(cast, spec)
        g, v = stats.hedges_g(mean, 5.0, n, 30.0, 5.2, n)
        ys.append(g)
        vs.append(v)
    analysis = clinical_analysis(cast, title="Hope", domain="Personal recovery", subdomain="Hope")
    reml = stats.rma(ys, vs, method="REML", test="knha")
    dl = stats.rma(ys, vs, method="DL", test="knha")
    assert fmt_estimate_ci(reml.estimate, reml.ci_low, reml.ci_high) != fmt_estimate_ci(
        dl.estimate, dl.ci_low, dl.ci_high
    )

    page = new_page()
    browser_login(page, "alice")
    page.goto(
        reverse("analysis:detail", kwargs={"slug": cast.review.slug, "analysis_id": analysis.pk})
    )
    cell = page.locator('tr[data-row="all"] td[data-col="g"]')
    assert cell.inner_text() == fmt_estimate_ci(reml.estimate, reml.ci_low, reml.ci_high)
    page.wait_for_function(
        # a function, not a bare expression: Playwright evals those, which the CSP refuses
        "() => document.querySelector('#forest-img').complete"
        " && document.querySelector('#forest-img').naturalWidth > 0"
    )
    save_screenshot(page, "analysis-report-reml")

    page.select_option("#id_method", "DL")
    page.wait_for_selector('#report-body[data-method="DL"]')
    assert cell.inner_text() == fmt_estimate_ci(dl.estimate, dl.ci_low, dl.ci_high)
    # the plots follow the chosen estimator, and the saved analysis is unchanged
    assert "method=DL" in page.locator("#forest-img").get_attribute("src")
    analysis.refresh_from_db()
    assert analysis.tau2_method == "REML"

    page.uncheck("#id_hk")
    page.wait_for_selector('#report-body[data-hk="0"]')
    z = stats.rma(ys, vs, method="DL", test="z")
    assert cell.inner_text() == fmt_estimate_ci(z.estimate, z.ci_low, z.ci_high)
    page.wait_for_function(
        "() => ['#forest-img', '#funnel-img'].every(s => document.querySelector(s).complete"
        " && document.querySelector(s).naturalWidth > 0)"
    )
    save_screenshot(page, "analysis-report-dl")
