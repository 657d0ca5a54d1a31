"""Browser test: the lead rates an outcome (accepts one suggestion, overrides another with a
reason), builds a Summary of Findings table and downloads it as Word."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse

from analysis.certainty import rules, selectors
from analysis.certainty.models import CertaintyAssessment
from tests.analysis.factories import clinical_analysis, review_setup, study_extracted
from tests.analysis.test_dichotomous import LINDE, response_spec
from tests.conftest import browser_login, save_screenshot


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_rates_an_outcome_and_downloads_the_sof_table(cast, new_page):
    review_setup(cast)
    for row in LINDE:
        study_extracted(cast, response_spec(*row))
    analysis = clinical_analysis(
        cast,
        title="Response",
        subdomain="Depressive symptoms",
        effect_measure="RR",
        pooling_method="MH",
        subgroup_fields=[],
    )
    ctx = selectors.evidence_for(analysis)
    slug = cast.review.slug
    # The override: a downgrade other than the rules' imprecision suggestion (so that the
    # SoF table's footnote carries the lead's reason)
    suggested = ctx.suggestions["imprecision"].rating
    override = rules.VERY_SERIOUS if suggested != rules.VERY_SERIOUS else rules.SERIOUS

    page = new_page()
    browser_login(page, "lead")
    page.goto(reverse("certainty:index", kwargs={"slug": slug}))
    page.get_by_role("link", name="Response").click()
    # the suggestion shows the numbers it used
    rob = page.locator('tr[data-domain="risk_of_bias"]')
    assert "weight at high risk" in rob.inner_text()
    assert (
        page.locator('tr[data-domain="imprecision"] [data-suggested]').get_attribute(
            "data-suggested"
        )
        == suggested
    )
    # accept risk of bias as suggested (the select starts there), override imprecision
    assert page.locator("#id_risk_of_bias").input_value() == ctx.suggestions["risk_of_bias"].rating
    page.fill("#id_intervention", "St John's wort")
    page.select_option("#id_imprecision", override)
    page.locator("#save-rating").click()
    # refused without a reason: the page says why, nothing is saved
    assert "say why" in page.locator('tr[data-domain="imprecision"]').inner_text()
    assert not CertaintyAssessment.objects.exists()
    page.fill("#id_imprecision_reason", "Only 7 small trials with few events.")
    page.locator("#save-rating").click()
    page.wait_for_selector("#certainty-now")
    save_screenshot(page, "certainty-rated")
    a = CertaintyAssessment.objects.get()
    assert a.domains.get(domain="imprecision").final == override
    assert a.domains.get(domain="risk_of_bias").final == ctx.suggestions["risk_of_bias"].rating
    assert page.locator("#certainty-now").inner_text() == rules.certainty_label(a.certainty)

    # a SoF table with this outcome
    page.goto(reverse("certainty:sof_list", kwargs={"slug": slug}))
    page.fill("#id_title", "St John's wort compared with placebo")
    page.fill("#id_comparison", "placebo")
    page.locator("#sof-create button").click()
    page.wait_for_selector("#sof-add-row")
    page.locator("#sof-add-row button").click()
    page.wait_for_selector('#sof-table td[data-col="participants"]')
    save_screenshot(page, "certainty-sof-table")
    view = selectors.sof_view(a.sof_rows.get().table)
    line = view.lines[0]
    assert page.locator('#sof-table td[data-col="participants"]').inner_text() == line.participants
    assert line.relative in page.locator('#sof-table td[data-col="relative"]').inner_text()
    assert "Only 7 small trials with few events." in page.locator("#sof-footnotes").inner_text()

    # the Word file, opened with python-docx
    with page.expect_download() as info:
        page.locator("#download-docx").click()
    from docx import Document

    doc = Document(io.BytesIO(Path(info.value.path()).read_bytes()))
    (grid,) = doc.tables
    header = [c.text for c in grid.rows[0].cells]
    assert header[0] == "Outcomes" and header[5] == "Certainty of the evidence (GRADE)"
    cells = [c.text for c in grid.rows[1].cells]
    assert cells[0].startswith("Response")
    assert cells[1] == line.assumed and cells[2].startswith(line.corresponding)
    assert cells[3] == line.relative and cells[4] == line.participants
    assert cells[5].startswith(rules.certainty_label(a.certainty))
    assert "St John's wort" in cells[6]
    footnotes = "\n".join(p.text for p in doc.paragraphs)
    assert "Imprecision: rated down" in footnotes
    assert "Only 7 small trials with few events." in footnotes
