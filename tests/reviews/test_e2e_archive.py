"""A lead, in the browser: downloads the review's archive from the protocol page and
imports it again as a new review."""

from __future__ import annotations

import pytest

from reviews.models import Membership, Record, Review
from tests.conftest import browser_login, save_screenshot
from tests.factories import MembershipFactory, ReviewFactory, UserFactory
from tests.screening.factories import records, vote


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_downloads_the_archive_and_imports_it_as_a_new_review(new_page, tmp_path):
    lead, alice = UserFactory(username="lead"), UserFactory(username="alice")
    review = ReviewFactory(slug="peer-support", title="Peer support")
    MembershipFactory(review=review, user=lead, is_lead=True)
    MembershipFactory(review=review, user=alice)
    for record in records(review, 3):
        vote(review, record, alice, "include")

    page = new_page()
    browser_login(page, "lead")
    page.goto(f"/reviews/{review.slug}/protocol/")
    with page.expect_download() as info:
        page.click("#archive-prepare")
    download = info.value
    assert download.suggested_filename.startswith("peer-support-")
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    page.goto(f"/reviews/{review.slug}/protocol/")
    page.set_input_files("input[name=archive]", str(path))
    page.fill("input[name=slug]", "peer-support-copy")
    page.click("button:has-text('Import')")
    page.wait_for_url("**/reviews/peer-support-copy/")
    save_screenshot(page, "archive_imported")
    copy = Review.objects.get(slug="peer-support-copy")
    assert copy.title == "Peer support"
    assert Record.objects.filter(review=copy).count() == 3
    assert Membership.objects.get(review=copy, user=lead).is_lead

    # the same archive again under the taken address: refused on the page, nothing new
    page.goto(f"/reviews/{review.slug}/protocol/")
    page.set_input_files("input[name=archive]", str(path))
    page.fill("input[name=slug]", "peer-support-copy")
    page.click("button:has-text('Import')")
    page.wait_for_selector("text=exists already")
    assert Review.objects.count() == 2
