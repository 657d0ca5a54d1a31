"""The fixed cast every review test uses: a lead, two reviewers, an adjudicator, an outsider."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from reviews.models import Membership, Review
from reviews.services import exclusion_reasons_seed
from tests.factories import MembershipFactory, ReviewFactory, UserFactory


@dataclass
class Cast:
    review: Review
    lead: object
    alice: object
    bob: object
    carol: object
    outsider: object

    def membership(self, user) -> Membership:
        return Membership.objects.get(review=self.review, user=user)


@pytest.fixture
def cast(db) -> Cast:
    review = ReviewFactory(title="Peer support for people with mental illness", slug="peer-support")
    exclusion_reasons_seed(review=review)
    lead = UserFactory(username="lead")
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    carol = UserFactory(username="carol")
    outsider = UserFactory(username="outsider")
    MembershipFactory(review=review, user=lead, is_lead=True, is_reviewer=True)
    MembershipFactory(review=review, user=alice, is_reviewer=True)
    MembershipFactory(review=review, user=bob, is_reviewer=True)
    MembershipFactory(review=review, user=carol, is_reviewer=False, is_adjudicator=True)
    # The outsider leads another review: membership elsewhere must not leak in.
    MembershipFactory(review=ReviewFactory(slug="other-review"), user=outsider, is_lead=True)
    return Cast(review, lead, alice, bob, carol, outsider)


@pytest.fixture
def other_review(cast) -> Review:
    return Review.objects.get(slug="other-review")


# --- Browser (end-to-end) ------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; never a downloaded browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM in the
    # same test thread is still synchronous, so allow it explicitly for e2e tests.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a fresh browser context (own cookies) per call: `page = new_page()`."""
    contexts = []

    violations: list[str] = []

    def make():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1366, "height": 900}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        # Every browser test also checks that no page breaks the Content-Security-Policy.
        page.on(
            "console",
            lambda msg: (
                violations.append(f"{page.url}: {msg.text}")
                if "Content Security Policy" in msg.text
                else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def browser_login(page, username: str, password: str = "pw-for-tests-1") -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def save_screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Keep a screenshot as a test artefact under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture(scope="session")
def demo_site_url(tmp_path_factory) -> str:
    """A fresh demo site (`load_demo` into its own SQLite database, `runserver`), built once
    per test session for the tests that walk the demo as its users do. While working on
    pages, REVIEWFLOW_DEMO_SITE_URL=http://... walks a demo server already running instead."""
    from tools.demo_site import demo_site

    if os.environ.get("REVIEWFLOW_DEMO_SITE_URL"):
        yield os.environ["REVIEWFLOW_DEMO_SITE_URL"].rstrip("/")
        return
    with demo_site(tmp_path_factory.mktemp("demo-site")) as url:
        yield url


# --- Property-based tests ---------------------------------------------------------------
# Few examples and no deadline: the fuzz tests must keep the suite fast on a shared machine
# (HYPOTHESIS_PROFILE=thorough runs many more by hand).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "reviewflow",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reviewflow"))
