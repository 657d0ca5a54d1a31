"""In the browser: two reviewers screen the same five records with the keyboard, one
conflict reaches the adjudicator (carol), she resolves it, and the PRISMA diagram shows
the resulting counts."""

import pytest

from screening import services
from screening.models import Resolution, Vote
from tests.conftest import browser_login, save_screenshot
from tests.factories import ImportBatchFactory, RecordFactory, SearchFactory

TOPICS = [
    "peer mentoring",
    "recovery colleges",
    "hearing voices groups",
    "clubhouses",
    "warm lines",
]


def panel_record(page) -> str:
    return page.get_attribute("#screen-panel", "data-record-id") or ""


def press_and_wait(page, key: str) -> None:
    """Press a shortcut and wait until htmx has swapped in another record (or 'done')."""
    before = panel_record(page)
    page.keyboard.press(key)
    page.wait_for_function(
        "before => { const p = document.querySelector('#screen-panel');"
        " return p && ((p.dataset.recordId || '') !== before); }",
        arg=before,
    )


def screen_five(page, slug: str, decisions: dict[str, str]) -> list[str]:
    page.goto(f"/reviews/{slug}/screening/title-abstract/")
    page.wait_for_selector("#screen-panel[data-record-id]")
    assert page.is_visible("text=Undo my last decision")  # the shortcuts are on the page
    seen = []
    while page.query_selector("#queue-done") is None:
        title = page.inner_text("#record-title")
        seen.append(title)
        press_and_wait(page, decisions[title])
    return seen


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_reviewers_a_conflict_and_the_prisma_diagram(new_page, cast, settings):
    review = cast.review
    review.include_keywords = "peer*\nrandomi*"
    review.save()
    search = SearchFactory(review=review, source="pubmed", hits_reported=5)
    batch = ImportBatchFactory(review=review, search=search, n_imported=5)
    titles = [f"A randomised trial of {t}" for t in TOPICS]
    for title in titles:
        RecordFactory(review=review, batch=batch, title=title)
    services.items_sync(review, force=True)

    alice_keys = dict(zip(titles, ["i", "i", "e", "e", "e"], strict=True))
    bob_keys = dict(zip(titles, ["i", "i", "e", "e", "i"], strict=True))  # disagrees on the last

    alice = new_page()
    browser_login(alice, "alice")
    # A wrong key, then undo (U) and the right one: the record comes back to be decided again.
    alice.goto(f"/reviews/{review.slug}/screening/title-abstract/")
    alice.wait_for_selector("#screen-panel[data-record-id]")
    first = alice.inner_text("#record-title")
    assert alice.query_selector("mark.kw-include")  # keyword highlighting
    save_screenshot(alice, "screening_page")
    wrong = "e" if alice_keys[first] == "i" else "i"
    press_and_wait(alice, wrong)
    alice.keyboard.press("u")
    alice.wait_for_function(
        "t => document.querySelector('#record-title')?.innerText === t", arg=first
    )
    seen_by_alice = screen_five(alice, review.slug, alice_keys)
    assert sorted(seen_by_alice) == sorted(titles)
    # Arrow left: back to her last decision, without a page load.
    alice.keyboard.press("ArrowLeft")
    alice.wait_for_selector("#my-vote")
    assert Vote.objects.filter(reviewer=cast.alice).count() == 5

    bob = new_page()
    browser_login(bob, "bob")
    seen_by_bob = screen_five(bob, review.slug, bob_keys)
    assert sorted(seen_by_bob) == sorted(titles)
    assert Resolution.objects.filter(review=review, stage="ta").count() == 4

    carol = new_page()
    browser_login(carol, "carol")
    carol.goto(f"/reviews/{review.slug}/screening/conflicts/")
    rows = carol.locator("#conflict-table tbody tr")
    assert rows.count() == 1 and titles[4] in rows.first.inner_text()
    rows.first.locator("text=Resolve").click()
    carol.wait_for_selector("#votes-side-by-side")
    assert "alice" in carol.inner_text("#votes-side-by-side")
    carol.check("input[name=decision][value=include]")
    carol.fill("textarea[name=note]", "Randomised; peer-delivered.")
    carol.click("text=Save final decision")
    carol.wait_for_selector("text=No title/abstract conflicts are waiting")
    resolution = Resolution.objects.get(record__title=titles[4], stage="ta")
    assert resolution.adjudicated and resolution.actor == cast.carol

    carol.goto(f"/reviews/{review.slug}/screening/prisma/")
    diagram = carol.inner_text("#prisma-diagram")
    for text in (
        "PubMed/MEDLINE (n = 5)",
        "Records screened (n = 5)",
        "Records excluded (n = 2)",
        "Reports sought for retrieval (n = 3)",
    ):
        assert text in diagram, text
    save_screenshot(carol, "prisma_diagram")
