"""Publishing a version of a review (versions are never edited afterwards)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reviews.errors import ConflictError
from reviews.models import Review

from .models import ReviewVersion
from .selectors import snapshot_digest, version_snapshot

NOTE_MAX = 5000


def version_publish(*, review: Review, actor: Any, note: str = "") -> ReviewVersion:
    """Freeze what the review says now as its next published version.

    The review row is locked so that two leads publishing at once get versions n and
    n + 1, never the same number. A review with nothing included yet has nothing to
    publish.
    """
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review.pk)
        snapshot = version_snapshot(review)
        if not snapshot["studies"]:
            raise ConflictError("Nothing is included yet: there is no version to publish.")
        last = review.versions.order_by("-number").values_list("number", flat=True).first()
        return ReviewVersion.objects.create(
            review=review,
            number=(last or 0) + 1,
            note=note.strip()[:NOTE_MAX],
            round=review.round,
            snapshot=snapshot,
            digest=snapshot_digest(snapshot),
            published_by=actor,
        )
