"""Entry points of the background refit worker (a spawned process that stays up).

Kept free of Django imports at module level: the spawned interpreter imports this module
before Django is set up.
"""

from __future__ import annotations

import os

ADVISORY_LOCK_BASE = 0x5C4EE000000  # namespace of this app's PostgreSQL advisory locks
REFIT_NICENESS = 15


def worker_init(settings_module: str) -> None:
    """Start the refit worker process: low CPU priority, Django set up once."""
    if settings_module:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    # A refit is background work: on a small server it must not take CPU from reviewers'
    # requests, which are served from the last ranking meanwhile.
    os.nice(REFIT_NICENESS)
    import django

    django.setup()


def refit(review_id: int, slug: str = "", created_at: str = "") -> None:
    """Take the review's refit lock and refit its ranking (in the refit worker process).

    ``slug`` and ``created_at`` identify the review beyond its id: should the worker reach
    another database than its parent (a test database is not inherited), it refits
    nothing rather than a stranger's review.
    """
    from django.db import connection

    from reviews.models import Review

    from .ranking import ranking_refit

    try:
        review = Review.objects.filter(pk=review_id).first()
        if review is None or (slug and review.slug != slug):
            return
        if created_at and review.created_at and review.created_at.isoformat() != created_at:
            return
        if connection.vendor != "postgresql":
            ranking_refit(review)
            return
        # Several server processes may each start a refit; one at a time per review.
        key = ADVISORY_LOCK_BASE + review_id
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                return
        try:
            ranking_refit(review)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    finally:
        # The worker lives on between refits: no connection is kept open meanwhile.
        connection.close()
