"""In the browser: alice fills the default form and one outcome row, bob differs on one value,
the lead resolves it on the consensus page, and only the consensus reaches the outcome table."""

from __future__ import annotations

import pytest

from analysis.stats import hedges_g
from extraction import services
from extraction.models import Extraction, ExtractionKind
from tests.conftest import browser_login, save_screenshot
from tests.extraction.factories import COMPLETE_ANSWERS, arm_data, included_study, with_structure

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_dual_extraction_and_consensus_in_the_browser(new_page, cast):
    study = included_study(
        cast, authors=["Smit, Anna"], year=2023, title="Peer support groups for depression: an RCT"
    )
    s = with_structure(study, cast.lead)
    base = f"/reviews/{cast.review.slug}/extraction"

    # alice: start, fill the default form, enter one outcome block, submit
    page = new_page()
    browser_login(page, "alice")
    page.goto(f"{base}/")
    page.get_by_role("button", name="Extract").click()
    page.wait_for_url(f"**/studies/{study.pk}/extract/")
    page.fill("input[name=country]", "Netherlands")
    page.select_option("select[name=diagnosis]", "Depression")
    page.fill("input[name=mean_age]", "41,5")  # comma decimal: refused with a message
    page.fill("input[name=intervention_name]", "Peer support groups")
    page.select_option("select[name=format]", "Group")
    page.select_option("select[name=delivery]", "Face-to-face")
    page.select_option("select[name=comparator_type]", "Care as usual")
    page.get_by_test_id("save-draft").click()
    assert page.locator(".invalid-feedback, .is-invalid").first.is_visible()
    assert "decimal separator" in page.content()
    page.fill("input[name=mean_age]", "41.5")
    page.get_by_test_id("save-draft").click()
    page.wait_for_selector("text=Draft saved.")
    save_screenshot(page, "extraction_form")

    page.get_by_role("link", name="Outcome data").first.click()
    block = page.locator(f"#b-{s['outcome'].pk}-{s['post'].pk}")
    for arm, (mean, sd, n) in ((s["peer"], ("30", "5", "45")), (s["cau"], ("28", "6", "44"))):
        block.locator(f"input[name=arm-{arm.pk}-mean]").fill(mean)
        block.locator(f"input[name=arm-{arm.pk}-sd]").fill(sd)
        block.locator(f"input[name=arm-{arm.pk}-n]").fill(n)
    block.locator("select[name=population]").select_option("itt")
    block.get_by_role("button", name="Save Hope").click()
    g = hedges_g(30, 5, 45, 28, 6, 44)[0]
    page.wait_for_selector(f"text=g = {g:.2f}")
    save_screenshot(page, "extraction_outcome_data")
    page.get_by_test_id("submit-extraction").click()
    page.wait_for_selector("text=Extraction submitted")

    # bob extracts the same study and differs on one value (the control SD)
    extraction = services.extraction_start(study=study, user=cast.bob)
    services.outcome_data_save(
        extraction=extraction,
        outcome=s["outcome"],
        timepoint=s["post"],
        raw=arm_data(s, cau=("28", "6.5", "44")),
        actor=cast.bob,
    )
    services.extraction_save_answers(
        extraction=extraction,
        raw_answers=COMPLETE_ANSWERS | {"country": "Netherlands"},
        actor=cast.bob,
        submit=True,
    )
    assert Extraction.objects.filter(study=study, kind=ExtractionKind.CONSENSUS).count() == 0

    # the outcome table holds nothing before the consensus
    lead = new_page()
    browser_login(lead, "lead")
    lead.goto(f"{base}/outcomes/")
    assert "no consensus extraction yet" in lead.content()

    # consensus: exactly the differing value is highlighted; pick alice's and save
    lead.goto(f"{base}/studies/{study.pk}/consensus/")
    differing = lead.locator("tr[data-differ]")
    assert differing.count() == 1
    assert "Care as usual — SD" in differing.first.inner_text()
    save_screenshot(lead, "extraction_consensus")
    differing.first.get_by_role("button", name="Use").first.click()
    key = differing.first.get_attribute("data-key")
    assert lead.locator(f"input[name='{key}']").input_value() == "6"
    lead.get_by_test_id("finalise").click()
    lead.wait_for_selector("text=Consensus saved")

    lead.goto(f"{base}/outcomes/")
    table = lead.get_by_test_id("outcome-table").inner_text()
    assert "Smit 2023" in table and f"{g:.2f}" in table
    save_screenshot(lead, "extraction_outcome_table")
    consensus = Extraction.objects.get(study=study, kind=ExtractionKind.CONSENSUS)
    assert consensus.data.get().arm_values.get(arm=s["cau"]).sd == 6
    assert consensus.answers["mean_age"] == 41.5
