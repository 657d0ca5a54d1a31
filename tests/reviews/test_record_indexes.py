"""The records table's lean indexes (migration 0014): the move keeps every record and the
tally's triggers, and the queries that need an index still have one.

The single-column indexes on review (led by the two (review, ...) ones), doi and pmid
(no lookup by them; two each on PostgreSQL with the LIKE one) and duplicate_of (now
partial: only linked records) went because each cost every imported row an index insert.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reviews import tally
from reviews.models import Record
from reviews.selectors import record_tally
from tests.factories import RecordFactory, ReviewFactory

BEFORE = [("reviews", "0013_record_tally")]
AFTER = [("reviews", "0014_record_lean_indexes")]
DROPPED = {"review_id", "doi", "pmid", "duplicate_of_id"}
VALUES = ("id", "review_id", "batch_id", "title", "doi", "pmid", "source_fields", "duplicate_of_id")


def _single_column_indexes() -> dict[str, str]:
    """Index name -> column, for the records table's indexes on one column (pk aside)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Record._meta.db_table)
    return {
        name: info["columns"][0]
        for name, info in found.items()
        if info["index"] and not info["primary_key"] and len(info["columns"]) == 1
    }


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _records() -> list[tuple]:
    return list(Record.objects.order_by("id").values_list(*VALUES))


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_records_and_triggers_both_ways():
    review = ReviewFactory()
    kept = RecordFactory(review=review, doi="10.1/a", pmid="123", source_fields={"TI": ["x"]})
    RecordFactory(review=review, batch=kept.batch, duplicate_of=kept, doi="10.1/a")
    RecordFactory(review=ReviewFactory(), pmid="456")
    stored = _records()
    assert set(_single_column_indexes().values()) & DROPPED == {"duplicate_of_id"}

    _migrate(BEFORE)
    assert _records() == stored
    # Django's own indexes are back (on PostgreSQL with the LIKE ones of doi and pmid).
    columns = list(_single_column_indexes().values())
    assert set(columns) >= DROPPED
    if connection.vendor == "postgresql":
        assert columns.count("doi") == 2 and columns.count("pmid") == 2

    _migrate(AFTER)
    assert _records() == stored
    assert _single_column_indexes() == {
        "record_duplicate_of": "duplicate_of_id",
        **{n: c for n, c in _single_column_indexes().items() if c == "batch_id"},
    }
    # The tally's triggers survived (an SQLite table rebuild would have dropped them).
    assert not tally.ensure(connection)  # nothing was missing
    RecordFactory(review=review, batch=kept.batch, duplicate_of=kept)
    assert record_tally(review)[:2] == (3, 2)


def _plan(queryset) -> str:
    """The plan of `queryset` with sequential scans made a last resort: whether an index
    can serve it at all, whatever a tiny test table's statistics prefer."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()
    return queryset.explain()  # SQLite's EXPLAIN QUERY PLAN names the index it uses


@pytest.mark.django_db
def test_a_records_duplicates_are_found_through_the_partial_index():
    """The PROTECT check of a delete, the foreign key's check and record.duplicates look
    records up by duplicate_of: the partial index serves them (the equality implies the
    index's NOT NULL)."""
    kept = RecordFactory()
    RecordFactory(review=kept.review, batch=kept.batch, duplicate_of=kept)
    RecordFactory.create_batch(20, review=kept.review, batch=kept.batch)
    assert "record_duplicate_of" in _plan(kept.duplicates.all())
    assert "record_duplicate_of" in _plan(Record.objects.filter(duplicate_of__in=[kept.pk, 0]))


@pytest.mark.django_db
def test_a_reviews_records_are_read_through_a_review_index():
    """Without review's own index the (review, ...) ones serve a review's records."""
    record = RecordFactory()
    RecordFactory.create_batch(20, review=ReviewFactory())
    plan = _plan(Record.objects.filter(review=record.review).order_by("id"))
    assert "record_review_id" in plan or "record_review_dup" in plan
