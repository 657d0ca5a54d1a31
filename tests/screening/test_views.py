"""The screening pages: queue, htmx fragments, errors as 4xx, PDFs, exports, settings."""

import csv
import io

import pytest
import rispy
from django.core.files.uploadedfile import SimpleUploadedFile

from reviews.models import Stage
from screening.models import BlindingChange, ScreeningItem, Vote
from tests.screening.factories import ft_reason, include_at_ta, pair, records, vote
from tests.screening.matrix_params import PDF_BYTES

pytestmark = pytest.mark.django_db


def url(cast, tail: str) -> str:
    return f"/reviews/{cast.review.slug}/screening/{tail}"


def test_screen_page_shows_record_keywords_criteria_and_shortcuts(client, cast):
    cast.review.include_keywords = "peer*"
    cast.review.exclude_keywords = "rats"
    cast.review.eligibility_criteria = "Include: RCTs of peer support."
    cast.review.save()
    (record,) = records(cast.review, 1, abstract="Peer support <i>vs</i> usual care in rats.")
    client.force_login(cast.alice)
    page = client.get(url(cast, "title-abstract/")).content.decode()
    assert f'data-record-id="{record.pk}"' in page
    assert '<mark class="kw-include">Peer</mark>' in page
    assert '<mark class="kw-exclude">rats</mark>' in page
    assert "&lt;i&gt;vs&lt;/i&gt;" in page  # the record's markup is shown, not executed
    assert "Include: RCTs of peer support." in page
    for label in ("Include", "Exclude", "Maybe", "Undo my last decision", "Previous record"):
        assert label in page
    assert 'id="screening-keymap"' in page and "<kbd" in page


def test_htmx_vote_returns_the_next_record_without_a_page(client, cast):
    one, two = records(cast.review, 2)
    client.force_login(cast.alice)
    first = client.get(url(cast, "title-abstract/"), HTTP_HX_REQUEST="true").content.decode()
    current = one if f'data-record-id="{one.pk}"' in first else two
    other = two if current is one else one
    assert "<html" not in first  # a fragment
    response = client.post(
        url(cast, f"ta/records/{current.pk}/vote/"),
        {"decision": "exclude", "note": "animal study", "mode": "queue"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-record-id="{other.pk}"' in body and "<html" not in body
    assert "1 done" in body
    assert Vote.objects.get(record=current, reviewer=cast.alice).note == "animal study"
    # Without htmx the same post redirects to the queue.
    response = client.post(url(cast, f"ta/records/{other.pk}/vote/"), {"decision": "include"})
    assert response.status_code == 302
    page = client.get(url(cast, "title-abstract/")).content.decode()
    assert 'id="queue-done"' in page


def test_bad_votes_are_4xx_with_a_message_and_change_nothing(client, cast):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    client.force_login(cast.alice)
    response = client.post(
        url(cast, f"ft/records/{record.pk}/vote/"), {"decision": "exclude"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "needs an exclusion reason" in response.content.decode()
    response = client.post(
        url(cast, f"ft/records/{record.pk}/vote/"), {"decision": "explode"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    # Resolved at title/abstract: a change is refused with 409.
    response = client.post(
        url(cast, f"ta/records/{record.pk}/vote/"), {"decision": "exclude"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert not Vote.objects.filter(stage="ft").exists()
    assert response.content.decode().count('id="screen-panel"') == 1


def test_undo_shows_the_record_again(client, cast):
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "include")
    client.force_login(cast.alice)
    response = client.post(url(cast, "ta/undo/"), HTTP_HX_REQUEST="true")
    assert f'data-record-id="{record.pk}"' in response.content.decode()
    assert not Vote.objects.exists()
    assert client.post(url(cast, "ta/undo/")).status_code == 409
    assert client.get(url(cast, "ta/undo/")).status_code == 405


def test_history_navigation_links(client, cast):
    one, two, three = records(cast.review, 3)
    vote(cast.review, one, cast.alice, "include")
    vote(cast.review, two, cast.alice, "exclude")
    client.force_login(cast.alice)
    page = client.get(url(cast, f"ta/records/{one.pk}/")).content.decode()
    assert f"ta/records/{two.pk}/" in page and 'data-action="next"' in page
    page = client.get(url(cast, f"ta/records/{two.pk}/")).content.decode()
    assert f"ta/records/{one.pk}/" in page and "Back to my queue" in page
    # Changing a past decision stays on that record.
    response = client.post(
        url(cast, f"ta/records/{one.pk}/vote/"),
        {"decision": "maybe", "mode": "history"},
        HTTP_HX_REQUEST="true",
    )
    assert f'data-record-id="{one.pk}"' in response.content.decode()
    assert Vote.objects.get(record=one).decision == "maybe"


def test_pdf_upload_view_and_access_checked_pdf(client, cast, settings):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    client.force_login(cast.alice)
    response = client.post(
        url(cast, f"full-texts/{record.pk}/upload/"),
        {"file": SimpleUploadedFile("a.pdf", b"MZ not a pdf", content_type="application/pdf")},
    )
    assert response.status_code == 400 and "not a PDF" in response.content.decode()
    response = client.post(
        url(cast, f"full-texts/{record.pk}/upload/"),
        {"file": SimpleUploadedFile("a.pdf", PDF_BYTES, content_type="application/pdf")},
    )
    assert response.status_code == 302
    pdf = client.get(url(cast, f"full-texts/{record.pk}/pdf/"))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content) == PDF_BYTES
    assert pdf["X-Frame-Options"] == "SAMEORIGIN" and pdf["X-Content-Type-Options"] == "nosniff"
    # The stored file is not under a public URL the page hands out.
    page = client.get(url(cast, f"ft/records/{record.pk}/")).content.decode()
    assert settings.MEDIA_URL not in page and f"full-texts/{record.pk}/pdf/" in page
    client.force_login(cast.outsider)
    assert client.get(url(cast, f"full-texts/{record.pk}/pdf/")).status_code == 404


def test_fulltext_list_and_not_retrievable(client, cast):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    client.force_login(cast.bob)
    page = client.get(url(cast, "full-texts/")).content.decode()
    assert record.title in page and "Cannot be retrieved" in page
    client.post(url(cast, f"full-texts/{record.pk}/not-retrievable/"), {"not_retrievable": "1"})
    assert ScreeningItem.objects.get(record=record, stage="ft").status == "not_retrieved"
    assert "Not retrievable" in client.get(url(cast, "full-texts/")).content.decode()


def test_conflict_queue_and_adjudication(client, cast):
    one, two = records(cast.review, 2)
    pair(cast.review, one, cast.alice, cast.bob, "include", "exclude", note="see methods")
    pair(cast.review, two, cast.alice, cast.bob, "maybe", "exclude")
    client.force_login(cast.carol)
    page = client.get(url(cast, "conflicts/")).content.decode()
    assert one.title in page and two.title in page
    page = client.get(url(cast, f"conflicts/ta/{one.pk}/")).content.decode()
    assert "alice" in page and "bob" in page and "see methods" in page
    response = client.post(
        url(cast, f"conflicts/ta/{one.pk}/"), {"decision": "include", "note": "RCT"}
    )
    assert response.status_code == 302 and f"conflicts/ta/{two.pk}/" in response["Location"]
    res = one.resolutions.get(stage="ta")
    assert res.adjudicated and res.actor == cast.carol and res.note == "RCT"
    # Resolving again is a 409 with the message on the page.
    response = client.post(url(cast, f"conflicts/ta/{one.pk}/"), {"decision": "exclude"})
    assert response.status_code == 409 and "not in conflict" in response.content.decode()
    client.force_login(cast.alice)
    assert client.get(url(cast, "conflicts/")).status_code == 403


def test_full_text_adjudication_needs_a_reason(client, cast):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    pair(cast.review, record, cast.alice, cast.bob, "include", "maybe", stage="ft")
    client.force_login(cast.carol)
    response = client.post(url(cast, f"conflicts/ft/{record.pk}/"), {"decision": "exclude"})
    assert response.status_code == 400 and "needs an exclusion reason" in response.content.decode()
    reason = ft_reason(cast.review)
    response = client.post(
        url(cast, f"conflicts/ft/{record.pk}/"), {"decision": "exclude", "reason": reason.pk}
    )
    assert response.status_code == 302


def test_overview_agreement_and_curve(client, cast):
    rs = records(cast.review, 4)
    pair(cast.review, rs[0], cast.alice, cast.bob, "include", "include")
    pair(cast.review, rs[1], cast.alice, cast.bob, "exclude", "exclude")
    pair(cast.review, rs[2], cast.alice, cast.bob, "exclude", "exclude")
    pair(cast.review, rs[3], cast.alice, cast.bob, "include", "exclude")
    client.force_login(cast.lead)
    page = client.get(url(cast, "")).content.decode()
    # Lead: all 4 completed records; 3 of 4 agree; p_e = .5*.25 + .5*.75 = .5 -> kappa .5.
    assert 'data-kappa="ta">0.50<' in page and "75.0 % agreement on 4 records" in page
    assert 'id="progress-curve"' in page and 'id="consecutive-excludes">2<' in page
    client.force_login(cast.alice)
    page = client.get(url(cast, "")).content.decode()
    # Blinded reviewer: resolved records only (the conflict would reveal bob's vote).
    assert "agreement on 3 records" in page and "(resolved records)" in page
    agreement = client.get(url(cast, "agreement/")).content.decode()
    assert "alice &amp; bob" in agreement


def test_exports(client, cast):
    rs = records(cast.review, 2)
    include_at_ta(cast.review, rs[0], cast.alice, cast.bob)
    pair(cast.review, rs[1], cast.alice, cast.bob, "include", "exclude", note="=HYPERLINK(1)")
    reason = ft_reason(cast.review)
    vote(cast.review, rs[0], cast.alice, "include", "ft")
    vote(cast.review, rs[0], cast.bob, "include", "ft")
    client.force_login(cast.lead)
    text = client.get(url(cast, "exports/decisions.csv")).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_key = {(r["record_id"], r["stage"]): r for r in rows}
    ta0 = by_key[(str(rs[0].pk), "Title/abstract")]
    assert (ta0["reviewer_1"], ta0["decision_1"], ta0["final_decision"]) == (
        "alice",
        "include",
        "include",
    )
    assert ta0["resolved_by"] == "automatic (agreement)"
    conflict = by_key[(str(rs[1].pk), "Title/abstract")]
    assert conflict["final_decision"] == "" and conflict["status"] == "In conflict"
    assert conflict["note_2"] == "'=HYPERLINK(1)"  # no formula injection
    assert (str(rs[0].pk), "Full text") in by_key
    agreement = list(
        csv.DictReader(
            io.StringIO(client.get(url(cast, "exports/agreement.csv")).content.decode("utf-8-sig"))
        )
    )
    assert agreement[0]["rater_1"] == "all pairs" and agreement[0]["n"] == "2"
    client.force_login(cast.alice)
    entries = rispy.loads(client.get(url(cast, "exports/included.ris")).content.decode())
    assert [e["title"] for e in entries] == [rs[0].title]
    entries = rispy.loads(
        client.get(url(cast, "exports/included.ris") + "?stage=ta").content.decode()
    )
    assert len(entries) == 1 and reason


def test_record_correction_view(client, cast):
    (record,) = records(cast.review, 1, abstract="")
    client.force_login(cast.alice)
    page = client.get(url(cast, f"records/{record.pk}/correct/"))
    assert page.status_code == 200
    data = {
        "title": record.title,
        "authors": "Smith, Jane\nDoe, John",
        "journal": record.journal,
        "year": "2020",
        "doi": "",
        "abstract": "Pasted abstract.",
        "keywords": "",
        "next": "https://evil.example/",
    }
    response = client.post(url(cast, f"records/{record.pk}/correct/"), data)
    assert response.status_code == 302 and "evil" not in response["Location"]
    record.refresh_from_db()
    assert record.abstract == "Pasted abstract."
    page = client.get(url(cast, f"records/{record.pk}/correct/")).content.decode()
    assert 'id="correction-history"' in page and "Pasted abstract." in page
    assert client.post(url(cast, f"records/{record.pk}/correct/"), {"title": ""}).status_code == 400


def test_keymap_preferences_page(client, cast):
    client.force_login(cast.alice)
    data = {
        "include": "y",
        "exclude": "n",
        "maybe": "m",
        "undo": "u",
        "prev": "ArrowLeft",
        "next": "ArrowRight",
    }
    assert client.post(url(cast, "shortcuts/"), data).status_code == 302
    (record,) = records(cast.review, 1)
    page = client.get(url(cast, "title-abstract/")).content.decode()
    assert '"include": ["y"]' in page
    data["exclude"] = "y"
    response = client.post(url(cast, "shortcuts/"), data)
    assert response.status_code == 400 and "used for both" in response.content.decode()


def test_settings_switch_blinding_is_logged(client, cast):
    client.force_login(cast.lead)
    data = {
        "votes_required": "2",
        "prioritise": "on",
        "include_keywords": "peer*",
        "exclude_keywords": "",
    }
    assert client.post(url(cast, "settings/"), data).status_code == 302  # blinded unchecked
    change = BlindingChange.objects.get()
    assert change.actor == cast.lead and change.blinded is False
    assert (
        "switched <strong>off</strong> by lead"
        in client.get(url(cast, "settings/")).content.decode()
    )
    cast.review.refresh_from_db()
    assert cast.review.include_keywords == "peer*"


def test_dashboard_panel_and_nav(client, cast):
    (record,) = records(cast.review, 1)
    client.force_login(cast.alice)
    page = client.get(f"/reviews/{cast.review.slug}/").content.decode()
    assert 'data-panel="Screening"' in page and "1 waiting for you" in page
    assert "Screen titles/abstracts" in page and "Conflicts" not in page
    client.force_login(cast.carol)
    page = client.get(f"/reviews/{cast.review.slug}/").content.decode()
    assert "Conflicts" in page and "Screen titles/abstracts" not in page
    assert Stage.TITLE_ABSTRACT
