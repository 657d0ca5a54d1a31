"""Browser test: a lead defines an all-effects (three-level) analysis and a meta-regression
through the form and sees the model section with its bubble plot."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis.models import Analysis
from tests.analysis.factories import build_dependent_effects
from tests.conftest import browser_login, save_screenshot

BUBBLE_LOADED = (
    "() => document.querySelector('#bubble-img')"
    " && document.querySelector('#bubble-img').complete"
    " && document.querySelector('#bubble-img').naturalWidth > 0"
)


def _create(page, cast, title: str, *, three_level: bool) -> Analysis:
    page.goto(reverse("analysis:create", kwargs={"slug": cast.review.slug}))
    page.fill("#id_title", title)
    page.select_option("#id_outcome", "d:Clinical recovery")
    if three_level:
        page.check('input[name="effects_model"][value="three_level"]')
        page.check('input[name="robust_variance"]')
    page.check('input[name="moderators"][value="mean_age"]')
    page.get_by_role("button", name="Create analysis").click()
    page.wait_for_selector("#model-section")
    return Analysis.objects.get(review=cast.review, title=title)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_creates_an_all_effects_model_and_a_meta_regression_with_bubble_plots(cast, new_page):
    build_dependent_effects(cast)
    page = new_page()
    browser_login(page, "lead")

    three = _create(page, cast, "All depression effects", three_level=True)
    assert three.effects_model == "three_level" and three.robust_variance
    heading = page.locator("#model-title").inner_text()
    assert heading == "All effect sizes: three-level model with moderators"
    assert "16 effect sizes, 8 studies" in page.locator("#model-section").inner_text()
    split = page.locator("[data-variance-split]").inner_text()
    assert "Between studies (level 3)" in split and "Within studies (level 2)" in split
    assert "Mean age (years)" in page.locator("[data-coefficients]").inner_text()
    page.wait_for_function(BUBBLE_LOADED)
    save_screenshot(page, "analysis-three-level-bubble")

    metareg = _create(page, cast, "Age meta-regression", three_level=False)
    assert metareg.effects_model == "one_per_study" and metareg.moderators == ["mean_age"]
    assert page.locator("#model-title").inner_text() == "Meta-regression"
    assert "R² =" in page.locator("#model-section").inner_text()
    page.wait_for_function(BUBBLE_LOADED)
    save_screenshot(page, "analysis-meta-regression-bubble")
