"""Entry point of the background refit process (spawned: a fresh interpreter).

Kept free of Django imports at module level: the spawned interpreter imports this module
before Django is set up.
"""

from __future__ import annotations

import os

ADVISORY_LOCK_BASE = 0x5C4EE000000  # namespace of this app's PostgreSQL advisory locks
REFIT_NICENESS = 15


def main(review_id: int, settings_module: str, slug: str = "", created_at: str = "") -> None:
    """Set Django up, take the review's refit lock and refit its ranking.

    ``slug`` and ``created_at`` identify the review beyond its id: should the child reach
    another database than its parent (a test database is not inherited), it refits
    nothing rather than a stranger's review.
    """
    if settings_module:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    # A refit is background work: on a small server it must not take CPU from reviewers'
    # requests, which are served from the last ranking meanwhile.
    os.nice(REFIT_NICENESS)
    import django

    django.setup()
    from django.db import connection

    from reviews.models import Review

    from .ranking import ranking_refit

    review = Review.objects.filter(pk=review_id).first()
    if review is None or (slug and review.slug != slug):
        return
    if created_at and review.created_at and review.created_at.isoformat() != created_at:
        return
    if connection.vendor == "postgresql":
        # Several server processes may each start a refit; one at a time per review.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_BASE + review_id])
            if not cursor.fetchone()[0]:
                return
    ranking_refit(review)
    connection.close()
