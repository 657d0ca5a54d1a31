"""The running totals of a review's records (reviews.tally) follow every way records change.

The pages read them instead of counting a big review's records, so a total that drifts
would show wrong numbers on the dashboard, the records list and PRISMA. Each test
compares the tally with a real COUNT after one kind of write: the import (COPY on
PostgreSQL, executemany on SQLite), bulk_create, a queryset update of ``duplicate_of``,
merge, undo, deletes (a review's cascade too), and a re-installation of the triggers.
"""

from __future__ import annotations

import io

import pytest
from django.db import connection, transaction

from reviews import services, tally
from reviews.models import DuplicateLink, Record, RecordTally, Review
from reviews.selectors import record_counts, record_tally
from tests.factories import RecordFactory
from tests.reviews.test_services_dedup import RIS_A, RIS_B

pytestmark = pytest.mark.django_db


def counted(review: Review) -> tuple[int, int]:
    records = Record.objects.filter(review=review)
    return records.count(), records.filter(duplicate_of__isnull=False).count()


def assert_tally(review: Review) -> None:
    total, duplicates, _ = record_tally(review)
    assert (total, duplicates) == counted(review)


def _import(cast, text: str, name: str):
    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(text.encode()), filename=name
    )
    return services.import_confirm(batch=batch, actor=cast.lead)


def test_imports_merges_and_undo_keep_the_totals(cast, other_review):
    assert record_tally(cast.review) == (0, 0, 0)
    _import(cast, RIS_A, "a.ris")
    assert_tally(cast.review)
    changes = record_tally(cast.review)[2]
    _import(cast, RIS_B, "b.ris")
    assert record_tally(cast.review)[:2] == (7, 3)
    assert record_tally(cast.review)[2] > changes
    link = DuplicateLink.objects.filter(status=DuplicateLink.Status.MERGED).first()
    services.duplicate_undo(link=link, actor=cast.lead)
    assert record_tally(cast.review)[:2] == (7, 2)
    counts = record_counts(cast.review)
    assert (counts["total"], counts["duplicates"], counts["unique"]) == (7, 2, 5)
    # Another review's totals are its own.
    assert record_tally(other_review) == (0, 0, 0)


def test_bulk_writes_updates_and_deletes_keep_the_totals(cast):
    first = RecordFactory(review=cast.review)
    Record.objects.bulk_create(
        RecordFactory.build(review=cast.review, batch=first.batch) for _ in range(30)
    )
    assert_tally(cast.review)
    ids = list(cast.review.records.order_by("id").values_list("id", flat=True))
    before = record_tally(cast.review)[2]
    Record.objects.filter(pk__in=ids[1:11]).update(duplicate_of=first)
    assert record_tally(cast.review)[:2] == (31, 10)
    assert record_tally(cast.review)[2] > before
    # An update that changes no link (a corrected title) leaves the totals alone.
    unchanged = record_tally(cast.review)
    Record.objects.filter(pk__in=ids).update(title="Corrected")
    Record.objects.filter(pk__in=ids[1:3]).update(duplicate_of=first)  # linked already
    assert record_tally(cast.review) == unchanged
    Record.objects.filter(pk__in=ids[1:4]).update(duplicate_of=None)
    assert_tally(cast.review)
    Record.objects.filter(pk__in=ids[20:25]).delete()
    Record.objects.filter(pk__in=ids[5:7]).delete()  # two linked duplicates
    assert_tally(cast.review)
    assert record_tally(cast.review)[:2] == (24, 5)


def test_deleting_a_review_deletes_its_totals(cast, other_review):
    RecordFactory(review=other_review)
    assert RecordTally.objects.filter(review=other_review).exists()
    # Its records go first (PROTECT on batches aside, as the cleanup deletes them).
    Record.objects.filter(review=other_review).delete()
    other_review.delete()
    assert not RecordTally.objects.filter(review_id=other_review.pk).exists()


def test_missing_triggers_are_installed_again_and_the_totals_recounted(cast):
    RecordFactory.create_batch(3, review=cast.review)
    tally.remove(connection)
    RecordFactory.create_batch(2, review=cast.review)  # not seen: no triggers
    assert record_tally(cast.review)[0] == 3
    assert tally.ensure(connection) is True
    assert record_tally(cast.review)[:2] == (5, 0)
    assert tally.ensure(connection) is False  # all there: nothing done
    RecordFactory(review=cast.review)
    assert record_tally(cast.review)[0] == 6


def test_an_import_counts_itself_once_and_the_triggers_still_count_other_writes(cast, monkeypatch):
    """On SQLite the import's INSERT ... SELECT runs without the row trigger (dropped and
    created again in its transaction) and adds its numbers once; later writes are counted
    by the trigger again, and a failed import leaves the trigger and the totals as they
    were."""
    _import(cast, RIS_A, "a.ris")
    _import(cast, RIS_B, "b.ris")  # with duplicates linked as the rows go in
    assert_tally(cast.review)
    assert record_tally(cast.review)[:2] == (7, 3)
    RecordFactory(review=cast.review)  # any other write: the trigger counts it
    assert record_tally(cast.review)[:2] == (8, 3)

    def fails(*args, **kwargs):
        raise RuntimeError("the database went away")

    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(RIS_B.encode()), filename="c.ris"
    )
    monkeypatch.setattr(services, "links_insert", fails)  # after the rows went in
    with pytest.raises(RuntimeError):
        services.import_confirm(batch=batch, actor=cast.lead)
    assert record_tally(cast.review)[:2] == (8, 3)
    RecordFactory(review=cast.review)
    assert_tally(cast.review)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's row trigger")
def test_an_error_inside_a_counted_insert_leaves_the_trigger_in_place(cast):
    """A caller that catches the error and commits still commits the trigger."""
    record = RecordFactory(review=cast.review)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        pytest.raises(RuntimeError),
        tally.counted_once(cursor, cast.review.pk),
    ):
        raise RuntimeError("half-way")
    RecordFactory(review=cast.review, batch=record.batch)
    assert record_tally(cast.review)[:2] == (2, 0)
