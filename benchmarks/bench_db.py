"""Shared set-up of the benchmarks that load a review into their own PostgreSQL database."""

from __future__ import annotations

import urllib.parse
from typing import Any


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` (the benchmark's own, never the app's)."""
    import psycopg

    parsed = urllib.parse.urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def imported_batch(*, review: Any, n_records: int, filename: str, fmt: str) -> Any:
    """A logged search and an imported batch of ``n_records`` for ``review`` (Django set up)."""
    from reviews.models import ImportBatch, Search

    search = Search.objects.create(
        review=review,
        source="pubmed",
        date_run="2024-01-01",
        search_string="x",
        hits_reported=n_records,
    )
    return ImportBatch.objects.create(
        review=review,
        search=search,
        filename=filename,
        format=fmt,
        status=ImportBatch.Status.IMPORTED,
        n_imported=n_records,
    )
