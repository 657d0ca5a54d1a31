"""A lead, in the browser, runs an update round: opens it, imports the re-run search, reads
the preview (new / already decided), confirms, and finds PRISMA's updated-review diagram."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.versions import services as version_services
from reviews.models import ImportBatch, Search
from screening import services
from screening.models import ScreeningItem
from tests.analysis.test_living_review import _screen
from tests.conftest import browser_login, save_screenshot
from tests.factories import SearchFactory
from tests.reviews.living import imported, ris_export


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_update_round_from_the_import_preview_to_the_updated_prisma_diagram(
    new_page, cast, tmp_path
):
    # Round 1, done through the services: six records, two included, version 1 published.
    search = SearchFactory(review=cast.review, source=Search.Source.PUBMED, hits_reported=6)
    imported(cast, range(6), search=search, date_run=dt.date(2026, 1, 10))
    services.items_sync(cast.review, force=True)
    _screen(cast, [0, 1], [2, 3, 4, 5], [0, 1])
    version_services.version_publish(review=cast.review, actor=cast.lead, note="Version 1")
    update = tmp_path / "pubmed-july.ris"
    update.write_bytes(ris_export([4, 5, 6, 7, 8]))  # 4-5 decided before, 6-8 new

    page = new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Open round 2?"
    browser_login(page, "lead")
    slug = cast.review.slug
    page.goto(f"/reviews/{slug}/searches/")
    page.fill("#round-note", "July update")
    page.click("#round-open")
    page.wait_for_selector("tr[data-round='2'] >> text=current")

    page.goto(f"/reviews/{slug}/imports/upload/")
    page.set_input_files("input[name=file]", str(update))
    page.select_option("select[name=search]", str(search.pk))
    page.fill("input[name=date_run]", "2026-07-01")
    page.fill("input[name=covers_from]", "2026-01-11")
    page.fill("input[name=covers_to]", "2026-07-01")
    page.fill("input[name=hits_reported]", "5")
    page.click("#import-submit")
    page.wait_for_selector("#import-overlap")
    assert page.inner_text("#overlap-new") == "3"
    assert page.inner_text("#overlap-decided") == "2"
    assert page.inner_text("#overlap-seen") == "0"
    save_screenshot(page, "living_update_preview")
    page.click("#confirm-import")
    page.wait_for_selector("text=screened in round 2")
    assert ImportBatch.objects.get(status="imported", round=2).n_duplicates == 2

    # The update's queue holds the three new records only; the team screens them.
    page.goto(f"/reviews/{slug}/screening/")
    page.wait_for_selector("#round-switch")
    assert ScreeningItem.objects.filter(review=cast.review, round=2, stage="ta").count() == 3
    _screen(cast, [6], [7, 8], [6])

    page.goto(f"/reviews/{slug}/screening/prisma/")
    diagram = page.locator("#prisma-diagram")
    assert diagram.locator("[data-box='header_previous']").text_content() == "Previous studies"
    previous = diagram.locator("[data-box='previous'] [data-n]")
    assert previous.first.get_attribute("data-n") == "2"
    total = diagram.locator("[data-box='total'] [data-n]")
    assert total.first.get_attribute("data-n") == "3"
    new = diagram.locator("[data-box='included'] [data-n]")
    assert "New studies included in review" in new.first.text_content()
    screened = diagram.locator("[data-box='records_screened'] [data-n]")
    assert screened.first.get_attribute("data-n") == "3"
    assert page.locator("[data-box='total_studies']").inner_text() == "3"
    save_screenshot(page, "living_update_prisma")
    with page.expect_download() as download:
        page.click("a:has-text('Counts (CSV)')")
    text = download.value.path().read_text()
    assert "previous,Studies included in previous version of review,2" in text
