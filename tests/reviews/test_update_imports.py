"""Update runs of a search: runs, rounds, and what an update import finds already decided."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviews import dedup, overlap, services
from reviews.activity import ActivityQuery, activity_list
from reviews.errors import ConflictError, DomainError
from reviews.models import ImportBatch, Record, ReviewRound, SearchRun
from screening.models import Resolution, ScreeningItem
from screening.services import items_sync
from tests.factories import SearchFactory
from tests.reviews.living import Ref, imported, preview, ris_export
from tests.screening.factories import pair

pytestmark = pytest.mark.django_db


def _key(rid: int, ref: Ref) -> dedup.DedupKey:
    return dedup.build_key(rid, title=ref.title, doi=ref.doi, year=2020, authors=["A, B"])


def test_overlap_classifies_each_record_of_an_export_once():
    old = [_key(1, Ref(1)), _key(2, Ref(2)), _key(3, Ref(3))]

    def fields(key: dedup.DedupKey) -> tuple:
        return (key.doi, key.pmid, key.title_norm, key.year, key.first_author)

    new = [
        fields(_key(0, Ref(1))),  # the decided record 1 again
        fields(_key(0, Ref(2))),  # the undecided record 2 again
        fields(_key(0, Ref(9))),  # new
        fields(_key(0, Ref(9))),  # new, twice in the export
        fields(_key(0, Ref(10))),  # new
    ]
    found = overlap.overlap_classify(old, new, decided=lambda ids: ids & {1})
    assert found.as_dict() == {"new": 2, "seen": 1, "decided": 1, "possible": 0, "within_file": 1}


def test_a_search_run_is_recorded_with_its_export(cast):
    search = SearchFactory(review=cast.review, hits_reported=5)
    batch = preview(
        cast,
        range(5),
        search=search,
        date_run=dt.date(2026, 6, 1),
        covers_from=dt.date(2026, 1, 1),
        covers_to=dt.date(2026, 5, 31),
        hits_reported=5,
    )
    run = SearchRun.objects.get(batch=batch)
    assert (run.search, run.date_run, run.covers_from, run.hits_reported) == (
        search,
        dt.date(2026, 6, 1),
        dt.date(2026, 1, 1),
        5,
    )
    assert batch.overlap == {}  # nothing to compare with yet
    services.import_confirm(batch=batch, actor=cast.lead)
    run.refresh_from_db()
    assert run.round == 1


def test_a_discarded_export_is_no_run(cast):
    batch = preview(cast, range(3), search=SearchFactory(review=cast.review))
    services.import_discard(batch=batch, actor=cast.lead)
    assert not SearchRun.objects.exists()


def test_a_run_with_dates_backwards_is_refused_before_anything_is_stored(cast):
    with pytest.raises(DomainError, match="ending before"):
        preview(
            cast,
            range(3),
            search=SearchFactory(review=cast.review),
            covers_from=dt.date(2026, 5, 1),
            covers_to=dt.date(2026, 1, 1),
        )
    assert not ImportBatch.objects.exists() and not SearchRun.objects.exists()


def test_an_update_round_needs_the_current_one_imported(cast):
    with pytest.raises(ConflictError, match="no imported records"):
        services.round_open(review=cast.review, actor=cast.lead)
    imported(cast, range(3))
    opened = services.round_open(review=cast.review, actor=cast.lead, note=" June update ")
    cast.review.refresh_from_db()
    assert cast.review.round == 2 and (opened.number, opened.note) == (2, "June update")
    assert opened.actor == cast.lead
    with pytest.raises(ConflictError, match="Round 2 has no imported"):
        services.round_open(review=cast.review, actor=cast.lead)
    assert ReviewRound.objects.count() == 1
    (item,) = [
        a
        for a in activity_list(ActivityQuery(review=cast.review, limit=20))
        if a.action == "Update round opened"
    ]
    assert (item.kind, item.actor, item.subject, item.detail) == (
        "search",
        "lead",
        "Round 2",
        "June update",
    )


def test_an_update_import_links_what_was_seen_and_queues_only_new_records(cast):
    """Round 1: records 0-5 (0-3 decided). Update: 2-3 decided, 4-5 undecided, 6-8 new."""
    search = SearchFactory(review=cast.review)
    first = imported(cast, range(6), search=search)
    services_items = ScreeningItem.objects.filter(review=cast.review)
    items_sync(cast.review, force=True)
    originals = {r.title: r for r in Record.objects.filter(batch=first)}
    decided = [originals[Ref(n).title] for n in range(4)]
    for record, decision in zip(decided, ["include", "exclude", "exclude", "include"], strict=True):
        pair(cast.review, record, cast.alice, cast.bob, decision, decision)
    services.round_open(review=cast.review, actor=cast.lead)

    update = preview(cast, range(2, 9), search=search, date_run=dt.date(2026, 7, 1))
    assert update.overlap == {"new": 3, "seen": 2, "decided": 2, "possible": 0, "within_file": 0}
    services.import_confirm(batch=update, actor=cast.lead)
    update.refresh_from_db()
    assert update.round == 2 and update.n_duplicates == 4
    assert SearchRun.objects.get(batch=update).round == 2
    items_sync(cast.review, force=True)

    again = {r.title: r for r in Record.objects.filter(batch=update)}
    for n in (2, 3, 4, 5):  # found again: linked to the original, no item of their own
        assert again[Ref(n).title].duplicate_of == originals[Ref(n).title]
        assert not services_items.filter(record=again[Ref(n).title]).exists()
    new_items = services_items.filter(record__batch=update)
    assert sorted(i.record.title for i in new_items) == sorted(Ref(n).title for n in (6, 7, 8))
    assert {i.round for i in new_items} == {2}
    # Decisions of round 1 stand; its undecided records stay in round 1's queue.
    assert Resolution.objects.filter(record__in=decided, stage="ta").count() == 4
    assert services_items.get(record=originals[Ref(4).title], stage="ta").round == 1


# --- pages --------------------------------------------------------------------------------


def test_an_update_upload_records_its_run_and_the_preview_says_what_is_new(client, cast):
    search = SearchFactory(review=cast.review)
    first = imported(cast, range(4), search=search)
    items_sync(cast.review, force=True)
    record = Record.objects.filter(batch=first).get(title=Ref(0).title)
    pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
    client.force_login(cast.lead)
    response = client.post(f"/reviews/{cast.review.slug}/rounds/open/", {"note": "June"})
    assert response.status_code == 302 and response["Location"].endswith("/searches/#rounds")
    upload = SimpleUploadedFile("update.ris", ris_export(range(0, 7)))
    client.post(
        f"/reviews/{cast.review.slug}/imports/upload/",
        {
            "file": upload,
            "search": search.pk,
            "date_run": "2026-06-30",
            "covers_from": "2026-01-01",
            "covers_to": "2026-06-30",
            "hits_reported": "7",
        },
    )
    batch = ImportBatch.objects.get(status=ImportBatch.Status.PREVIEW)
    run = SearchRun.objects.get(batch=batch)
    assert (run.date_run, run.covers_to, run.hits_reported) == (
        dt.date(2026, 6, 30),
        dt.date(2026, 6, 30),
        7,
    )
    page = client.get(f"/reviews/{cast.review.slug}/imports/{batch.pk}/").content.decode()
    assert 'id="overlap-new">3<' in page
    assert 'id="overlap-seen">3<' in page and 'id="overlap-decided">1<' in page
    log = client.get(f"/reviews/{cast.review.slug}/searches/").content.decode()
    assert 'data-round="2"' in log and "June" in log and "2026-01-01 – 2026-06-30" in log


def test_a_run_whose_dates_run_backwards_is_a_form_error(client, cast):
    client.force_login(cast.lead)
    response = client.post(
        f"/reviews/{cast.review.slug}/imports/upload/",
        {
            "file": SimpleUploadedFile("u.ris", ris_export(range(2))),
            "search": SearchFactory(review=cast.review).pk,
            "covers_from": "2026-06-01",
            "covers_to": "2026-01-01",
        },
    )
    assert response.status_code == 400 and b"end before they start" in response.content
    assert not ImportBatch.objects.exists()
