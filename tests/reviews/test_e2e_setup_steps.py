"""A lead, in the browser: a new review's dashboard lists the next steps; each one taken
through its link disappears from the list."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login, save_screenshot
from tests.factories import UserFactory


def _steps(page) -> list[str]:
    return page.locator("#next-steps li").evaluate_all("ls => ls.map(l => l.dataset.step)")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_new_review_guides_its_lead_step_by_step(new_page):
    UserFactory(username="lead")
    page = new_page()
    browser_login(page, "lead")
    page.click("text=New review")
    page.fill("input[name=title]", "Metformin for prediabetes")
    page.click("button:has-text('Create review')")
    page.wait_for_selector("#next-steps")
    assert _steps(page) == ["invite", "criteria", "search", "import"]
    save_screenshot(page, "dashboard_next_steps")

    page.click("#next-steps a:has-text('Set the eligibility criteria')")
    page.fill("textarea[name=eligibility_criteria]", "Randomised trials in adults.")
    page.click("button:has-text('Save')")
    page.wait_for_selector("#next-steps")
    assert _steps(page) == ["invite", "search", "import"]

    page.click("#next-steps a:has-text('Log a search')")
    page.select_option("select[name=source]", "pubmed")
    page.fill("input[name=date_run]", "2026-01-05")
    page.fill("textarea[name=search_string]", "metformin AND prediabetes")
    page.fill("input[name=hits_reported]", "3")
    page.click("button:has-text('Save')")
    page.goto(page.url.split("/searches/")[0] + "/")
    page.wait_for_selector("#next-steps")
    assert _steps(page) == ["invite", "import"]
