"""The review's "Other tools" page: downloads for every member, decisions import for leads."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.models import DecisionsImport
from reviews import services as review_services
from screening.models import Resolution, ScreeningItem, Vote, VoteChange
from tests.conftest import browser_login, save_screenshot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"


def _imported(cast, name: str):
    data = (FIXTURES / name).read_bytes()
    batch = review_services.import_preview(
        review=cast.review,
        actor=cast.lead,
        file=SimpleUploadedFile(name, data),
        filename=name,
    )
    return review_services.import_confirm(batch=batch, actor=cast.lead)


@pytest.mark.django_db
def test_member_downloads_and_lead_imports_rayyan_votes(client, cast):
    batch = _imported(cast, "rayyan_articles.csv")
    client.force_login(cast.bob)
    page = client.get(f"/reviews/{cast.review.slug}/exchange/")
    assert page.status_code == 200 and b"RevMan Web" in page.content
    assert b"Screening decisions from another tool" not in page.content  # leads only
    download = client.get(f"/reviews/{cast.review.slug}/exchange/asreview.csv")
    assert download.status_code == 200
    assert download.content.startswith(b"record_id,title,abstract,authors,doi,label_included")
    assert client.get(f"/reviews/{cast.review.slug}/exchange/nothing.csv").status_code == 404
    assert client.post(f"/reviews/{cast.review.slug}/exchange/decisions/").status_code == 403

    client.force_login(cast.lead)
    url = f"/reviews/{cast.review.slug}/exchange/decisions/"
    # The preview runs as a job; its page follows to the preview when it is done.
    step1 = client.post(url, {"batch": batch.pk, "tool": "rayyan"}, follow=True)
    assert step1.redirect_chain[-1][0].startswith(f"/reviews/{cast.review.slug}/exchange/")
    assert step1.status_code == 200 and b"reviewer-mapping" in step1.content
    assert not Vote.objects.exists()  # a preview writes nothing
    names = ["Alice", "Bob", "Pilot Screener"]
    assert [n.encode() in step1.content for n in names] == [True, True, True]
    # The names are guessed (Alice -> alice), so the preview already counts their votes.
    report = step1.context["preview"]["report"]
    assert (report["read"], report["written"], report["not_written"]) == (8, 7, 1)
    assert report["groups"][2]["why"] == {"Pilot Screener is not mapped to a member yet": 1}
    assert b"Import 7 decisions" in step1.content
    form = {"batch": batch.pk, "tool": "rayyan", "mapped": "1", "name": names}
    form |= {"reviewer-0": "alice", "reviewer-1": "bob", "reviewer-2": ""}
    step2 = client.post(url, form, follow=True)
    assert step2.context["preview"]["report"]["groups"][2]["why"] == {
        "Pilot Screener is mapped to nobody (left out)": 1
    }
    done = client.post(url, form | {"confirm": "1"}, follow=True)
    assert done.redirect_chain[-1][0].startswith(f"/reviews/{cast.review.slug}/exchange/decisions/")
    assert b"Rayyan decisions imported: 7 of 8 written" in done.content
    assert b"mapped to nobody (left out)" in done.content  # the summary repeats the report
    assert Vote.objects.count() == 7
    assert set(VoteChange.objects.values_list("imported_from", flat=True)) == {"Rayyan"}
    entry = DecisionsImport.objects.get()
    assert (entry.actor, entry.n_read, entry.n_written, entry.n_not_written) == (cast.lead, 8, 7, 1)
    activity = client.get(f"/reviews/{cast.review.slug}/activity/")
    assert b"Rayyan decisions imported" in activity.content
    assert b"8 read, 7 written, 1 not" in activity.content
    # Reviewers do not see the report (it names every vote).
    client.force_login(cast.bob)
    report_url = f"/reviews/{cast.review.slug}/exchange/decisions/{entry.pk}/"
    assert client.get(report_url).status_code == 403


@pytest.mark.django_db
def test_bad_decisions_request_is_a_clear_4xx(client, cast):
    batch = _imported(cast, "covidence_included.csv")
    client.force_login(cast.lead)
    url = f"/reviews/{cast.review.slug}/exchange/decisions/"
    response = client.post(url, {"batch": batch.pk, "tool": "covidence", "confirm": "1"})
    assert response.status_code == 400 and b"Covidence list" in response.content
    response = client.post(url, {"batch": 999999, "tool": "asreview"})
    assert response.status_code == 400
    assert not Resolution.objects.exists()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_brings_in_asreview_decisions_and_makes_a_token_in_the_browser(new_page, cast):
    _imported(cast, "asreview_export.csv")
    page = new_page()
    browser_login(page, "lead")
    page.goto(f"/reviews/{cast.review.slug}/")
    page.click("a.nav-link:has-text('Other tools')")
    page.select_option("select[name=tool]", "asreview")
    page.click("button:has-text('Preview decisions')")
    page.wait_for_selector("[data-testid=decisions-report]")
    assert "4 will be written" in " ".join(
        page.inner_text("[data-testid=decisions-report]").split()
    )
    assert Resolution.objects.count() == 0  # nothing written by the preview
    page.click("button:has-text('Import 4 decisions')")
    page.wait_for_selector("text=ASReview decisions imported: 4 of 4 written")
    save_screenshot(page, "exchange_decisions")
    assert Resolution.objects.filter(imported_from="ASReview").count() == 4
    assert ScreeningItem.objects.filter(review=cast.review, stage="ft").count() == 2
    page.click("text=Back to other tools")
    with page.expect_download() as info:
        page.click("text=ASReview labelled data set (CSV)")
    path = info.value.path()
    lines = Path(path).read_text().splitlines()
    assert lines[0] == "record_id,title,abstract,authors,doi,label_included"
    assert sum(1 for line in lines[1:] if line.endswith(",1")) == 2

    # A personal token, shown once, then usable by a script.
    page.click("a.nav-link:has-text('API tokens')")
    page.fill("input[name=name]", "R analysis")
    page.click("button:has-text('Create token')")
    key = page.inner_text("#new-token-key").strip()
    assert key.startswith("rf_")
    page.goto("/accounts/tokens/")
    assert key not in page.content()
    response = page.request.get(
        f"/api/v1/reviews/{cast.review.slug}/prisma/", headers={"Authorization": f"Token {key}"}
    )
    assert response.status == 200 and response.json()["records_excluded"] == 2
    page.click("button:has-text('Revoke')")
    page.wait_for_selector("text=revoked")
    response = page.request.get(
        f"/api/v1/reviews/{cast.review.slug}/prisma/", headers={"Authorization": f"Token {key}"}
    )
    assert response.status == 401


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_maps_a_two_round_rayyan_export_in_the_browser(new_page, cast):
    from tests.factories import MembershipFactory, UserFactory

    for username in ("dana", "eli"):
        MembershipFactory(review=cast.review, user=UserFactory(username=username), is_reviewer=True)
    _imported(cast, "rayyan_two_rounds_four_reviewers.csv")
    page = new_page()
    browser_login(page, "lead")
    page.goto(f"/reviews/{cast.review.slug}/exchange/")
    page.select_option("select[name=tool]", "rayyan")
    page.click("button:has-text('Preview decisions')")
    page.wait_for_selector("[data-testid=reviewer-mapping]", timeout=90_000)
    # Names sorted: Coralie, Lorenzo, Losia, z5393783; none is a username here.
    for i, username in enumerate(["bob", "dana", "eli", "alice"]):
        page.select_option(f"#reviewer-{i}", username)
    assert page.is_checked("#rounds-last")
    page.check("#create_reasons")
    page.click("button:has-text('Preview again')")
    page.wait_for_selector("[data-testid=decisions-groups]", timeout=90_000)
    groups = page.inner_text("[data-testid=decisions-groups]")
    assert "round 1 of 2: the last round decides" in groups
    assert not Vote.objects.exists()
    page.click("button[name=confirm]")
    page.wait_for_selector("text=Rayyan decisions imported:", timeout=90_000)
    entry = DecisionsImport.objects.get()
    assert (entry.n_read, entry.n_written, entry.n_not_written) == (262, 130, 132)
    assert Vote.objects.count() == 130
    save_screenshot(page, "exchange_rayyan_rounds_report")
    page.goto(f"/reviews/{cast.review.slug}/activity/")
    assert "Rayyan decisions imported" in page.content()
