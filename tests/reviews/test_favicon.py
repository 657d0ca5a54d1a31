"""The favicon: linked from every page, served by the static pipeline, /favicon.ico too."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login


def test_favicon_ico_redirects_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_pages_link_an_icon_and_load_without_a_failed_request(new_page):
    from tests.factories import UserFactory

    UserFactory(username="alice")
    page = new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    page.goto("/accounts/login/")
    icons = page.eval_on_selector_all("link[rel=icon]", "links => links.map(l => l.href)")
    assert len(icons) == 2
    for href in [*icons, page.url.split("/accounts/")[0] + "/favicon.ico"]:
        response = page.request.get(href)
        assert response.ok and response.headers["content-type"].startswith("image/"), href
    browser_login(page, "alice")
    assert not failed, failed
