"""A published version of a review: a frozen snapshot of what the review said then."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.models import Review


class ReviewVersion(models.Model):
    """What a review published at one time, frozen: included studies, extraction consensus,
    RoB 2, the analyses with their numbers and the PRISMA counts (``snapshot``).

    Nothing edits a version once published (``services.version_publish`` only creates);
    ``digest`` is the SHA-256 of the snapshot's canonical JSON, so a changed row shows.
    The snapshot names records, studies and analyses by content (citation, DOI, PMID,
    title), never by database id: it means the same after an archive round trip.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField()
    note = models.TextField(blank=True)
    round = models.PositiveSmallIntegerField(help_text="The review's round when published.")
    snapshot = models.JSONField()
    digest = models.CharField(max_length=64)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "analysis"
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["review", "number"], name="review_version_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="review_version_from_one"),
        ]

    def __str__(self) -> str:
        return f"version {self.number} of review {self.review_id}"
