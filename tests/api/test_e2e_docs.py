"""In the browser: the API docs (Swagger UI) and the browsable API load from the Python
packages and break no Content-Security-Policy rule (checked by `new_page`).

(Redoc is left out here: its bundle always asks cdn.redoc.ly for the "by Redocly" logo, which
the CSP blocks, as it should, and reports as a violation.)"""

from __future__ import annotations

import pytest

from tests.conftest import browser_login, save_screenshot
from tests.screening.factories import records


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_docs_and_browsable_api(new_page, cast):
    records(cast.review, 3)
    page = new_page()
    browser_login(page, "alice")
    page.goto("/api/v1/docs/")
    page.wait_for_selector("text=Reviewflow API")
    page.wait_for_selector("text=/api/v1/reviews/{slug}/records/")
    save_screenshot(page, "api_docs")
    page.goto(f"/api/v1/reviews/{cast.review.slug}/records/?ta_status=open")
    page.wait_for_selector("text=Record List")
    assert page.locator("text=A randomised trial of peer support").count() >= 3
    save_screenshot(page, "api_browsable")
