"""In the browser: the lead sets the stopping test, switches the queue to random sampling,
two reviewers screen the sample with the keyboard, and the overview says when to stop."""

from datetime import timedelta

import pytest
from django.utils import timezone

from screening import services
from screening.models import StoppingRule, Vote
from tests.conftest import browser_login, save_screenshot
from tests.screening.factories import pair, records
from tests.screening.test_e2e_screening import press_and_wait


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_switches_to_random_sampling_and_the_test_says_stop(new_page, cast, settings):
    settings.SCREENING_RANKING_SYNC = True  # refits in the server's thread
    review = cast.review
    made = records(review, 20)
    # Ranked phase: 10 records, 5 includes, resolved before the switch.
    for i, record in enumerate(made[:10]):
        decision = "include" if i < 5 else "exclude"
        pair(review, record, cast.alice, cast.bob, decision, decision)
    Vote.objects.filter(review=review).update(created_at=timezone.now() - timedelta(minutes=5))

    lead = new_page()
    browser_login(lead, "lead")
    lead.goto(f"/reviews/{review.slug}/screening/settings/")
    lead.fill("input[name=confidence]", "80")
    lead.click("main button:has-text('Save')")
    lead.wait_for_selector("text=Screening settings saved.")
    assert StoppingRule.objects.get(review=review).confidence == 0.8

    lead.goto(f"/reviews/{review.slug}/screening/")
    state = lead.locator("#stopping-test-state")
    assert "Not started" in state.inner_text()
    assert "target 95 % recall, 80 % confidence" in lead.inner_text("#stopping-test")
    lead.click("#start-sampling")
    lead.wait_for_selector("#stopping-test[data-state=keep]")
    # One more include among the 10 left would put recall below 95 %; with none found,
    # P = (10 - n) / 10 falls below 0.2 at n = 9.
    assert state.inner_text() == "Keep screening: about 9 more records needed"
    assert services.stopping_sampling_on(review)

    for name in ("alice", "bob"):
        page = new_page()
        browser_login(page, name)
        page.goto(f"/reviews/{review.slug}/screening/title-abstract/")
        page.wait_for_selector("#screen-panel[data-record-id]")
        for _ in range(9):
            press_and_wait(page, "e")

    lead.reload()
    lead.wait_for_selector("#stopping-test[data-state=stop]")
    assert state.inner_text() == (
        "Stop: 95 % recall reached with 80 % confidence after 19 of 20 records"
    )
    assert "Consecutive excludes" in lead.inner_text("#stopping-aid")  # the heuristic aids
    save_screenshot(lead, "screening_stopping_test")
