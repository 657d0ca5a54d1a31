"""A lead, in the browser, imports a Web of Science plain-text export and an Embase.com CSV
with a search preamble: both are recognised, and the preview says what was passed over."""

from pathlib import Path

import pytest

from reviews.models import ImportBatch, Record
from tests.conftest import browser_login, save_screenshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
EMBASE_CSV = (
    '"SEARCH QUERY","peer support:ti"\n-------------------------------------\n\n'
    '"Title","Author Names","Source title","Publication Year","Abstract","DOI"\n'
    '"Peer support in psychosis","Smith J., Doe A.","Psychiatric Services","2019",'
    '"A trial.","10.1176/appi.ps.2019.0001"\n'
)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_imports_wos_plain_text_and_an_embase_csv_with_a_preamble(new_page, cast, tmp_path):
    page = new_page()
    browser_login(page, "lead")

    page.goto(f"/reviews/{cast.review.slug}/imports/upload/")
    page.set_input_files("input[name=file]", str(FIXTURES / "wos_plaintext_clarivate.txt"))
    page.click("#import-submit")
    page.wait_for_selector("#confirm-import")
    assert int(page.inner_text("#n-read")) == 3
    assert page.is_visible("text=Caregivers' views on stigmatization")
    assert page.query_selector("#import-notes") is None  # nothing passed over
    page.click("#confirm-import")
    page.wait_for_selector("text=Imported")
    assert ImportBatch.objects.get(filename="wos_plaintext_clarivate.txt").format == "wos"

    csv_path = tmp_path / "embase.csv"
    csv_path.write_text(EMBASE_CSV)
    page.goto(f"/reviews/{cast.review.slug}/imports/upload/")
    page.set_input_files("input[name=file]", str(csv_path))
    page.click("#import-submit")
    page.wait_for_selector("#confirm-import")
    notes = page.inner_text("#import-notes")
    assert "Line(s) 1-3 above the header row were skipped" in notes
    assert '"SEARCH QUERY","peer support:ti"' in notes
    save_screenshot(page, "import_preview_notes")
    page.click("#confirm-import")
    page.wait_for_selector("text=Imported")
    record = Record.objects.get(title="Peer support in psychosis")
    assert (record.year, record.journal, record.authors) == (
        2019,
        "Psychiatric Services",
        ["Smith J.", "Doe A."],
    )
