"""In the browser: the API docs (Swagger UI, Redoc) and the browsable API load from the
Python packages, ask no other host for anything and break no Content-Security-Policy rule
(checked by `new_page`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import browser_login, save_screenshot
from tests.screening.factories import records


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_docs_and_browsable_api(new_page, cast):
    records(cast.review, 3)
    page = new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    browser_login(page, "alice")
    page.goto("/api/v1/docs/")
    page.wait_for_selector("text=Reviewflow API")
    page.wait_for_selector("text=/api/v1/reviews/{slug}/records/")
    save_screenshot(page, "api_docs")
    page.goto("/api/v1/redoc/")
    page.wait_for_selector("text=/api/v1/reviews/{slug}/records/")
    page.wait_for_load_state("networkidle")
    # Redoc renders every endpoint on one page, tens of thousands of pixels tall: the
    # window's view is the artefact (a full-page capture timed out on a loaded machine).
    save_screenshot(page, "api_redoc", full_page=False)
    ours = urlsplit(page.url).netloc
    # data: and blob: (Redoc's search worker) are made in the page; all else is ours
    fetched = [urlsplit(u) for u in requested if urlsplit(u).scheme not in ("data", "blob")]
    elsewhere = [u.geturl() for u in fetched if u.netloc != ours]
    assert elsewhere == []
    page.goto(f"/api/v1/reviews/{cast.review.slug}/records/?ta_status=open")
    page.wait_for_selector("text=Record List")
    assert page.locator("text=A randomised trial of peer support").count() >= 3
    save_screenshot(page, "api_browsable")
