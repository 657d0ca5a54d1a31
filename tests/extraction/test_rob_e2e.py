"""Two assessors answer RoB 2 domain 1 differently in the browser; the consensus resolves it."""

from __future__ import annotations

import pytest

from extraction.rob import services as svc
from extraction.rob.models import RobAssessment, RobKind
from tests.conftest import browser_login, save_screenshot
from tests.extraction.rob_matrix_params import ALL_LOW, fill, rob_study, submitted_pair

LATER_DOMAINS = {d: j for d, j in ALL_LOW.items() if d != "D1"}


def answer(page, qid: str, code: str) -> None:
    """Click an answer button and wait until the re-rendered card shows it checked."""
    page.click(f'label[for="a-{qid}-{code}"]')
    page.wait_for_selector(f'input[id="a-{qid}-{code}"][checked]', state="attached")


def assess_d1(page, cast, user, answers: dict[str, str], expected: str) -> RobAssessment:
    """`user` starts the Smit 2023 assessment from the overview and answers D1 in the page."""
    browser_login(page, user.username)
    page.goto(f"/reviews/{cast.review.slug}/extraction/rob/")
    page.click("tr:has-text('Smit 2023') button:has-text('Assess')")
    page.wait_for_selector('[data-testid="domain-D1"]')
    # SQLite's in-memory test database is one connection shared with the live server:
    # touch it from the test only while the browser is idle.
    page.wait_for_load_state("networkidle")
    mine = RobAssessment.objects.get(assessor=user, target__study__label="Smit 2023")
    fill(mine, user, LATER_DOMAINS)  # domains 2-5 agreed; the test is about domain 1
    page.reload()
    page.fill('textarea[id="s-1.2"]', f"{user.username}: allocation by sealed envelopes")
    page.press('textarea[id="s-1.2"]', "Tab")
    page.wait_for_selector('[data-testid="saved-1.2"]')
    for qid, code in answers.items():
        answer(page, qid, code)
    page.wait_for_selector(f'[data-testid="proposal-D1"] [data-judgement="{expected}"]')
    page.wait_for_selector('[data-testid="submit-rob"]:not([disabled])')
    return mine


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_assessors_disagree_on_d1_and_the_consensus_resolves_it(new_page, cast):
    rob_study(cast, "Smit 2023", n_randomised=(60, 58))
    # A study already through consensus, so the figure has more than one row.
    jones = submitted_pair(
        cast,
        s=rob_study(cast, "Jones 2019"),
        profile_a={**ALL_LOW, "D3": "high"},
        profile_b={**ALL_LOW, "D3": "high"},
    )
    svc.rob_consensus_finalise(
        consensus=svc.rob_consensus_open(target=jones["target"], actor=cast.alice), actor=cast.alice
    )

    # Alice: concealment adequate -> low.
    page_a = new_page()
    assess_d1(page_a, cast, cast.alice, {"1.1": "Y", "1.2": "Y", "1.3": "N"}, "low")
    save_screenshot(page_a, "rob_assess")
    page_a.click('[data-testid="submit-rob"]')
    page_a.wait_for_selector("text=The consensus opens when the second assessor submits")

    # Bob: no information on concealment -> some concerns. He never sees alice's answers.
    page_b = new_page()
    assess_d1(page_b, cast, cast.bob, {"1.1": "Y", "1.2": "NI", "1.3": "N"}, "some_concerns")
    assert "sealed envelopes" not in page_b.content().replace(
        "bob: allocation by sealed envelopes", ""
    )
    page_b.click('[data-testid="submit-rob"]')

    # Both in: bob lands on the consensus, where 1.2 is highlighted.
    page_b.wait_for_selector('[data-testid="n-differences"]')
    assert "1 question answered differently" in page_b.inner_text('[data-testid="n-differences"]')
    assert page_b.locator('tr[data-differs="1"]').count() == 1
    assert page_b.locator('tr[data-testid="row-1.2"][data-differs="1"]').count() == 1
    assert "alice: allocation by sealed envelopes" in page_b.content()
    save_screenshot(page_b, "rob_consensus_open")
    finalise = page_b.locator('[data-testid="finalise"]')
    assert finalise.is_disabled()

    page_b.click('label[for="c-1.2-PY"]')
    page_b.wait_for_selector('[data-testid="proposal-D1"] [data-judgement="low"]')
    page_b.wait_for_selector('[data-testid="finalise"]:not([disabled])')
    save_screenshot(page_b, "rob_consensus_resolved")
    page_b.click('[data-testid="finalise"]')
    page_b.wait_for_selector("text=is final")
    page_b.wait_for_load_state("networkidle")

    consensus = RobAssessment.objects.get(target__study__label="Smit 2023", kind=RobKind.CONSENSUS)
    assert consensus.status == "final"
    d1 = consensus.domains.get(domain="D1")
    assert (d1.answers["1.2"], d1.judgement, consensus.overall_judgement) == ("PY", "low", "low")
    save_screenshot(page_b, "rob_overview")

    # The traffic-light figure shows the study.
    page_b.goto(f"/reviews/{cast.review.slug}/extraction/rob/figures/")
    page_b.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=traffic-light]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    svg = page_b.request.get(page_b.get_attribute('[data-testid="traffic-light"]', "src")).text()
    assert "Smit 2023" in svg and "Jones 2019" in svg and "· Hope (HHI)" in svg
    save_screenshot(page_b, "rob_figures")
    page_b.click('label[for="pal-cb"]')
    page_b.wait_for_url("**palette=colourblind**")
    svg = page_b.request.get(page_b.get_attribute('[data-testid="traffic-light"]', "src")).text()
    assert "#fed98e" in svg.lower()
