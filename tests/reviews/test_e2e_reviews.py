"""A lead, in the browser: logs in, creates a review, logs a search, imports a RIS export."""

from pathlib import Path

import pytest

from reviews.models import Record, Review
from tests.conftest import browser_login, save_screenshot
from tests.factories import UserFactory

RIS = (
    Path(__file__).resolve().parent.parent / "fixtures" / "reviews" / "kwok2020_embase_excerpt.ris"
)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_creates_review_logs_search_and_imports(new_page):
    UserFactory(username="lead")
    page = new_page()
    browser_login(page, "lead")

    page.click("text=New review")
    page.fill("input[name=title]", "Peer support for people with mental illness")
    page.fill("textarea[name=question]", "Is peer support effective?")
    page.click("button:has-text('Create review')")
    page.wait_for_selector("text=Records imported")
    review = Review.objects.get()

    page.click("a.nav-link:has-text('Search log')")
    page.click("text=Log a search")
    page.select_option("select[name=source]", "embase")
    page.fill("input[name=date_run]", "2020-12-18")
    page.fill("textarea[name=search_string]", "'peer support'/exp AND depression")
    page.fill("input[name=hits_reported]", "12")
    page.click("button:has-text('Save')")
    page.wait_for_selector("td:has-text('Embase')")

    page.click("a.nav-link:has-text('Imports')")
    page.click("text=Import a file")
    page.set_input_files("input[name=file]", str(RIS))
    page.select_option("select[name=search]", index=1)
    page.click("#import-submit")
    page.wait_for_selector("#confirm-import")
    n_read = int(page.inner_text("#n-read"))
    assert n_read == 6
    save_screenshot(page, "import_preview")
    page.click("#confirm-import")
    page.wait_for_selector("text=Imported")
    assert Record.objects.filter(review=review).count() == n_read
