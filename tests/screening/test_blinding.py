"""Blinding: before resolution, alice never learns bob's vote, note, or whether he voted.

Every GET URL of the screening app (pages, htmx fragments, exports, the PDF) is fetched
as alice, once before and once after bob votes on the record; the responses must be
identical, and none may contain bob's note or name. Write endpoints that answer with a
fragment (vote, undo) are checked the same way.
"""

import difflib
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from reviews.models import Stage
from screening import services
from screening.models import ScreeningItem
from tests.screening.factories import include_at_ta, records, vote
from tests.screening.matrix_params import PDF_BYTES

SECRET = "BOBSECRETNOTE"
CSRF = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')


def screening_get_urls(slug: str, record_id: int) -> list[str]:
    resolver = get_resolver()
    urls = []

    def walk(patterns, prefix=""):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and "/screening/" in route:
                urls.append(route)

    walk(resolver.url_patterns)
    out = []
    for route in urls:
        for stage in ("ta", "ft") if "<stage:stage>" in route else (None,):
            url = (
                route.replace("<slug:slug>", slug)
                .replace("<int:record_id>", str(record_id))
                .replace("<diagramformat:fmt>", "svg")
            )
            if stage:
                url = url.replace("<stage:stage>", stage)
            out.append("/" + url)
    return out


def normalise(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    return CSRF.sub(r"\1TOKEN", text)


def fetch_all(client, urls):
    pages = {}
    for url in urls:
        for htmx in (False, True):
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            response = client.get(url, **headers)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            pages[(url, htmx)] = (response.status_code, normalise(body))
            for extra in ("?stage=ft", "?stage=ta"):
                r = client.get(url + extra, **headers)
                b = b"".join(r.streaming_content) if r.streaming else r.content
                pages[(url + extra, htmx)] = (r.status_code, normalise(b))
    return pages


@pytest.mark.django_db
@pytest.mark.parametrize("stage", [Stage.TITLE_ABSTRACT, Stage.FULL_TEXT])
def test_other_reviewers_vote_is_invisible_until_resolution(client, cast, stage):
    (record,) = records(cast.review, 1)
    if stage == Stage.FULL_TEXT:
        include_at_ta(cast.review, record, cast.alice, cast.bob)
        from django.core.files.uploadedfile import SimpleUploadedFile

        services.fulltext_upload(
            review=cast.review,
            record_id=record.pk,
            actor=cast.lead,
            upload=SimpleUploadedFile("p.pdf", PDF_BYTES, content_type="application/pdf"),
        )
    # Alice has decided; her page is the baseline.
    vote(cast.review, record, cast.alice, "include", stage=stage, note="alice thinks so")
    client.force_login(cast.alice)
    urls = screening_get_urls(cast.review.slug, record.pk)
    assert len(urls) >= 20
    before = fetch_all(client, urls)

    reason = cast.review.exclusion_reasons.filter(stage=stage).first()
    vote(cast.review, record, cast.bob, "exclude", stage=stage, note=SECRET, reason_id=reason.pk)
    assert ScreeningItem.objects.get(record=record, stage=stage).status == "conflict"
    after = fetch_all(client, urls)

    assert before.keys() == after.keys()
    for key in before:
        status, body = after[key]
        assert SECRET not in body, key
        if stage == Stage.TITLE_ABSTRACT:  # at full text, bob's resolved t/a vote may show
            assert ">bob<" not in body and "bob:" not in body, key
        if before[key] != after[key]:
            diff = difflib.unified_diff(
                before[key][1].splitlines(), body.splitlines(), lineterm="", n=0
            )
            pytest.fail(f"{key} changes when bob votes:\n" + "\n".join(list(diff)[:20]))


@pytest.mark.django_db
def test_vote_and_undo_fragments_do_not_reveal_the_other_vote(client, cast):
    one, two = records(cast.review, 2)
    vote(cast.review, one, cast.bob, "exclude", note=SECRET)
    client.force_login(cast.alice)
    for record in (one, two):
        response = client.post(
            f"/reviews/{cast.review.slug}/screening/ta/records/{record.pk}/vote/",
            {"decision": "include", "mode": "history"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
        assert "In conflict" not in response.content.decode()
    response = client.post(
        f"/reviews/{cast.review.slug}/screening/ta/undo/", HTTP_HX_REQUEST="true"
    )
    assert SECRET not in response.content.decode()


@pytest.mark.django_db
def test_decisions_export_is_for_leads_only(client, cast):
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.bob, "exclude", note=SECRET)
    client.force_login(cast.alice)
    url = f"/reviews/{cast.review.slug}/screening/exports/decisions.csv"
    assert client.get(url).status_code == 403
    client.force_login(cast.lead)
    assert SECRET in client.get(url).content.decode()


@pytest.mark.django_db
def test_votes_become_visible_after_resolution_or_when_blinding_is_off(client, cast):
    one, two = records(cast.review, 2)
    vote(cast.review, one, cast.bob, "exclude", note=SECRET)
    vote(cast.review, one, cast.alice, "exclude")
    client.force_login(cast.alice)
    page = client.get(
        f"/reviews/{cast.review.slug}/screening/ta/records/{one.pk}/"
    ).content.decode()
    assert SECRET in page and "Reviewers agreed" in page
    vote(cast.review, two, cast.bob, "include", note="second secret")
    vote(cast.review, two, cast.alice, "exclude")
    url = f"/reviews/{cast.review.slug}/screening/ta/records/{two.pk}/"
    assert "second secret" not in client.get(url).content.decode()
    services.blinding_set(review=cast.review, actor=cast.lead, blinded=False)
    page = client.get(url).content.decode()
    assert "second secret" in page and "In conflict" in page


@pytest.mark.django_db
def test_progress_numbers_never_tell_a_blinded_reviewer_whether_the_other_voted(cast, monkeypatch):
    """The team's numbers are shared by every reviewer (read once a moment for the whole
    team); each reviewer's own share of them must still move only with their own votes
    and with resolutions, never with another reviewer's unresolved vote."""
    from screening import selectors

    monkeypatch.setattr(selectors, "PROGRESS_CACHE_SECONDS", 0)  # fresh numbers every time
    one, two, three = records(cast.review, 3)
    alice_m, bob_m, carol_m = (cast.membership(u) for u in (cast.alice, cast.bob, cast.carol))

    def seen(user, membership):
        p = selectors.progress(cast.review, Stage.TITLE_ABSTRACT, user, membership)
        return p.mine_done, p.mine_remaining, p.resolved, p.included, p.conflicts

    assert seen(cast.alice, alice_m) == (0, 3, 0, 0, None)
    vote(cast.review, one, cast.alice, "include")
    assert seen(cast.alice, alice_m) == (1, 2, 0, 0, None)
    assert seen(cast.bob, bob_m) == (0, 3, 0, 0, None)  # alice's vote: nothing to see
    vote(cast.review, two, cast.bob, "include")
    assert seen(cast.alice, alice_m) == (1, 2, 0, 0, None)  # bob's vote: nothing to see
    vote(cast.review, one, cast.bob, "include")  # resolves: everyone may know
    assert seen(cast.alice, alice_m) == (1, 2, 1, 1, None)
    assert seen(cast.bob, bob_m) == (2, 1, 1, 1, None)
    vote(cast.review, two, cast.alice, "exclude")  # a conflict: blinded reviewers don't see it
    assert seen(cast.alice, alice_m) == (2, 1, 1, 1, None)
    assert seen(cast.bob, bob_m) == (2, 1, 1, 1, None)
    assert seen(cast.carol, carol_m)[2:] == (1, 1, 1)  # the adjudicator does
