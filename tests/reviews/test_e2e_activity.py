"""A lead, in the browser: opens Activity, filters by person and kind, downloads the CSV;
a reviewer does not get the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviews.models import Membership
from screening import services as screening
from tests.conftest import browser_login, save_screenshot
from tests.factories import MembershipFactory, ReviewFactory, UserFactory
from tests.screening.factories import records, vote


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_filters_activity_and_downloads_csv(new_page):
    lead, alice, bob = (UserFactory(username=n) for n in ("lead", "alice", "bob"))
    review = ReviewFactory(slug="peer-support")
    MembershipFactory(review=review, user=lead, is_lead=True)
    MembershipFactory(review=review, user=alice)
    MembershipFactory(review=review, user=bob)
    a, b = records(review, 2)
    vote(review, a, alice, "include")
    vote(review, a, bob, "exclude")
    vote(review, b, alice, "exclude")
    screening.vote_undo(review=review, stage="ta", actor=alice)

    page = new_page()
    browser_login(page, "lead")
    page.goto(f"/reviews/{review.slug}/")
    page.click("a.nav-link:has-text('Activity')")
    page.wait_for_selector("#activity-table")
    kinds = page.locator("#activity-table tbody tr").evaluate_all(
        "rs => rs.map(r => r.dataset.kind)"
    )
    # the default extraction form came with the review
    assert sorted(kinds) == ["form", "undo", "vote", "vote", "vote"], kinds

    page.select_option("select[name=person]", label="alice")
    page.select_option("select[name=kind]", label="Votes")
    page.click("#activity-filter button[type=submit]")
    page.wait_for_url(lambda url: "person=" in url)
    rows = page.locator("#activity-table tbody tr")
    assert rows.count() == 2
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.kind)")) == {"vote"}
    assert "bob" not in page.inner_text("#activity-table tbody")
    save_screenshot(page, "activity_filtered")

    href = page.get_attribute("#activity-csv", "href")
    assert f"person={alice.pk}" in href and "kind=vote" in href
    with page.expect_download() as info:
        page.click("#activity-csv")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    assert lines[0].startswith("when (UTC),person,kind") and len(lines) == 3
    assert all(",alice,Votes," in line for line in lines[1:])

    reviewer = new_page()
    browser_login(reviewer, "alice")
    reviewer.goto(f"/reviews/{review.slug}/")
    assert reviewer.locator("a.nav-link:has-text('Activity')").count() == 0
    response = reviewer.goto(f"/reviews/{review.slug}/activity/")
    assert response.status == 403
    assert Membership.objects.filter(review=review).count() == 3
