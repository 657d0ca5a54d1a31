"""Running totals of a review's records, kept by the database itself (triggers).

A COUNT over a 200,000-record review costs PostgreSQL 40-150 ms (more on a busy machine),
and the dashboard, the records list, the screening overview (its in-step check) and PRISMA
each asked for one or two. :class:`~reviews.models.RecordTally` holds, per review, the
records, the ones linked as duplicates and a change counter, and triggers on the records'
table keep it right whatever writes the records: the import's COPY, ``bulk_create``, a
queryset ``update`` of ``duplicate_of``, a cascade delete, an archive's restore.

* PostgreSQL: statement-level triggers with transition tables, so a 100,000-row COPY
  updates the review's tally once, not 100,000 times; an UPDATE that changes no
  ``duplicate_of`` (a record corrected) touches the tally not at all (no row lock).
* SQLite: row-level triggers (SQLite has no others), two statements per inserted row:
  ~1.3 s of CPU for 100,000 rows (a ``WHEN`` that skips them costs as much: the trigger's
  program still runs per row). An import's ``INSERT ... SELECT`` (:func:`counted_once`)
  drops the insert trigger, adds its own numbers once and creates the trigger again, all
  inside its transaction: SQLite's DDL is transactional and the transaction holds the one
  write lock, so no other writer ever finds the trigger missing, and a rollback restores
  it with the rest.

SQLite drops a table's triggers when a migration rebuilds the table, so they are
installed again (``CREATE ... IF NOT EXISTS``) after every ``migrate`` (``post_migrate``,
:func:`ensure`), and the totals recounted when a trigger was missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured

TABLE = "reviews_recordtally"
RECORDS = "reviews_record"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION reviews_record_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO {TABLE} AS t (review_id, total, duplicates, changes)
    SELECT review_id, COUNT(*), COUNT(duplicate_of_id), 1 FROM new_rows GROUP BY review_id
    ON CONFLICT (review_id) DO UPDATE SET total = t.total + EXCLUDED.total,
      duplicates = t.duplicates + EXCLUDED.duplicates, changes = t.changes + 1;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE {TABLE} t SET total = t.total - d.n, duplicates = t.duplicates - d.dup,
      changes = t.changes + 1
    FROM (SELECT review_id, COUNT(*) AS n, COUNT(duplicate_of_id) AS dup
          FROM old_rows GROUP BY review_id) d
    WHERE t.review_id = d.review_id;
  ELSE
    UPDATE {TABLE} t SET duplicates = t.duplicates + d.dup, changes = t.changes + 1
    FROM (SELECT n.review_id,
                 SUM((n.duplicate_of_id IS NOT NULL)::int - (o.duplicate_of_id IS NOT NULL)::int)
                   AS dup
          FROM new_rows n JOIN old_rows o ON o.id = n.id
          WHERE n.duplicate_of_id IS DISTINCT FROM o.duplicate_of_id
          GROUP BY n.review_id) d
    WHERE t.review_id = d.review_id;
  END IF;
  RETURN NULL;
END $$;
"""

_PG_TRIGGERS = {
    "reviews_record_tally_ins": "AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows",
    "reviews_record_tally_del": "AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows",
    "reviews_record_tally_upd": (
        "AFTER UPDATE ON {t} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
}

_SQLITE_TRIGGERS = {
    "reviews_record_tally_ins": f"""
        AFTER INSERT ON {RECORDS} BEGIN
          INSERT OR IGNORE INTO {TABLE} (review_id, total, duplicates, changes)
          VALUES (NEW.review_id, 0, 0, 0);
          UPDATE {TABLE} SET total = total + 1,
            duplicates = duplicates + (NEW.duplicate_of_id IS NOT NULL), changes = changes + 1
          WHERE review_id = NEW.review_id;
        END""",
    "reviews_record_tally_del": f"""
        AFTER DELETE ON {RECORDS} BEGIN
          UPDATE {TABLE} SET total = total - 1,
            duplicates = duplicates - (OLD.duplicate_of_id IS NOT NULL), changes = changes + 1
          WHERE review_id = OLD.review_id;
        END""",
    "reviews_record_tally_upd": f"""
        AFTER UPDATE OF duplicate_of_id ON {RECORDS}
        WHEN OLD.duplicate_of_id IS NOT NEW.duplicate_of_id BEGIN
          UPDATE {TABLE} SET duplicates = duplicates + (NEW.duplicate_of_id IS NOT NULL)
            - (OLD.duplicate_of_id IS NOT NULL), changes = changes + 1
          WHERE review_id = NEW.review_id;
        END""",
}


@contextmanager
def counted_once(cursor: Any, review_id: int) -> Iterator[list[int]]:
    """On SQLite, the block's inserts of `review_id`'s records are not counted by the row
    trigger; the caller sets the list it is given to [records inserted, of them linked as
    duplicates], added to the tally once at the end. Elsewhere (PostgreSQL's
    statement-level triggers count a whole COPY at once) the triggers count and the list is
    ignored.

    Use it inside the transaction of the inserts (it drops and creates the insert trigger
    there), and insert only `review_id`'s records in the block.
    """
    counts = [0, 0]
    if cursor.db.vendor != "sqlite" or not cursor.db.in_atomic_block:
        yield counts
        return
    name = "reviews_record_tally_ins"
    if name not in _installed(cursor, "sqlite"):
        yield counts  # no trigger (being installed again by a migration): nothing to count
        return
    cursor.execute(f"DROP TRIGGER {name}")
    try:
        yield counts
    finally:
        # Also after an error: a caller that goes on with the transaction must not commit
        # it without the trigger (a rollback undoes both statements anyway).
        cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {_SQLITE_TRIGGERS[name]}")
    total, duplicates = counts
    cursor.execute(
        f"INSERT INTO {TABLE} (review_id, total, duplicates, changes) "  # noqa: S608
        "VALUES (%s, %s, %s, 1) ON CONFLICT (review_id) DO UPDATE SET "
        "total = total + excluded.total, duplicates = duplicates + excluded.duplicates, "
        "changes = changes + 1",
        [review_id, total, duplicates],
    )


def _installed(cursor: Any, vendor: str) -> set[str]:
    if vendor == "postgresql":
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [RECORDS],
        )
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {name for (name,) in cursor.fetchall()}


def recount(cursor: Any) -> None:
    """Every review's totals counted again from the records (once, when installing)."""
    cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608 - constant table names
    cursor.execute(
        f"INSERT INTO {TABLE} (review_id, total, duplicates, changes) "  # noqa: S608
        f"SELECT review_id, COUNT(*), COUNT(duplicate_of_id), 1 FROM {RECORDS} GROUP BY review_id"
    )


def ensure(connection: Any) -> bool:
    """Install the triggers where missing and then recount; True when something was missing."""
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise ImproperlyConfigured(
            f"Reviewflow runs on PostgreSQL or SQLite; {vendor} has no record tally triggers."
        )
    with connection.cursor() as cursor:
        if TABLE not in connection.introspection.table_names(cursor):
            return False  # migrating backwards past the tally's migration
        missing = set(_PG_TRIGGERS) - _installed(cursor, vendor)
        if not missing:
            return False
        if vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for name in sorted(missing):
                when = _PG_TRIGGERS[name].format(t=RECORDS)
                cursor.execute(
                    f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
                    "EXECUTE FUNCTION reviews_record_tally()"
                )
        else:
            for name in sorted(missing):
                cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {_SQLITE_TRIGGERS[name]}")
        recount(cursor)
    return True


def remove(connection: Any) -> None:
    """Drop the triggers (the migration's reverse)."""
    with connection.cursor() as cursor:
        for name in _PG_TRIGGERS:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {RECORDS}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS reviews_record_tally()")
