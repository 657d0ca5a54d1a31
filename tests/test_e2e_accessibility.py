"""axe-core finds no WCAG 2.1 A/AA violation on any page of the demo review's navigation,
as its lead, a reviewer and the adjudicator, nor on the login page, the top bar's pages and
the API docs. A new violation anywhere there fails this test."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.axe import axe_source, axe_violations
from tools.demo_site import DEMO_PASSWORD

# The demo's users: lead (lead, reviewer, adjudicator), alice (reviewer), carol (adjudicator).
USERS = ["lead", "alice", "carol"]


@pytest.fixture
def axe_page(browser, demo_site_url):
    """A page on the demo site with axe-core loaded; fails on a CSP violation too."""
    context = browser.new_context(base_url=demo_site_url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(20_000)
    context.add_init_script(script=axe_source())
    page = context.new_page()
    csp: list[str] = []
    page.on(
        "console",
        lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    yield page
    context.close()
    assert not csp, "Content-Security-Policy violations:\n" + "\n".join(csp)


def _settle(page) -> None:
    """Let htmx fragments load (pages that poll a job never go quiet: give up after a while)."""
    page.wait_for_load_state("load")
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=3_000)


def _check(page, url: str, found: list[str], seen: list[str]) -> None:
    page.goto(url)
    _settle(page)
    seen.append(url)
    found.extend(axe_violations(page))


def _log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _links(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "links => links.map(a => a.getAttribute('href'))")


@pytest.mark.e2e
@pytest.mark.parametrize("username", USERS)
def test_no_axe_violation_on_any_page_of_the_review_navigation(axe_page, username):
    page, found, seen = axe_page, [], []
    lead = username == USERS[0]
    if lead:
        _check(page, "/accounts/login/", found, seen)
    _log_in(page, username)
    _check(page, "/", found, seen)
    review_url = page.locator(".list-group a.list-group-item").first.get_attribute("href")
    top_bar = _links(page, "nav.navbar a.nav-link")
    footer = _links(page, "footer a")
    page.goto(review_url)
    nav = _links(page, "nav.review-nav a")
    assert len(nav) >= 10, nav
    extra = ["/api/v1/redoc/"] if lead else []
    for url in dict.fromkeys([*nav, *top_bar, *footer, *extra]):
        if url not in seen:
            _check(page, url, found, seen)
    if lead:  # the user guide's pages, linked from its index (the footer's "User guide")
        page.goto("/guide/")
        for url in dict.fromkeys(_links(page, "article.guide a[href^='/guide/']")):
            _check(page, url, found, seen)
    assert not found, f"{len(found)} axe violations on {len(seen)} pages:\n" + "\n".join(found)
