"""Models of the screening app: votes, their history, resolutions, full texts and PRISMA extras.

Concurrency model
-----------------
Every (record, stage) that needs screening has one :class:`ScreeningItem` row. All writes
that change who screens a record (a claim, a vote, an undo, a resolution) lock that row
first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers with
``BEGIN IMMEDIATE``), re-read the counts under the lock and only then write. The unique
constraints below are the second line of defence: a reviewer can never hold two votes on
one record and stage, and a record and stage can never have two resolutions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.models import ExclusionReason, HistoryRow, Record, Review, Stage

NOT_RANKED = -1.0e300  # relevance of an item no ranking has scored yet


class Decision(models.TextChoices):
    INCLUDE = "include", "Include"
    EXCLUDE = "exclude", "Exclude"
    MAYBE = "maybe", "Maybe"


class FinalDecision(models.TextChoices):
    INCLUDE = "include", "Include"
    EXCLUDE = "exclude", "Exclude"


class ScreeningItem(models.Model):
    """The screening state of one record at one stage; the row every writer locks."""

    class Status(models.TextChoices):
        OPEN = "open", "Needs votes"
        CONFLICT = "conflict", "In conflict"
        RESOLVED = "resolved", "Resolved"
        NOT_RETRIEVED = "not_retrieved", "Full text not retrievable"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="screening_items")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="screening_items")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    # False while the record is linked as a duplicate: it leaves the queues and the counts,
    # but its votes are kept and come back if the merge is undone.
    active = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    n_votes = models.PositiveSmallIntegerField(default=0)
    # A seeded random number: the queue order without (or before) a relevance ranking.
    priority = models.FloatField(default=0.0)
    # Predicted relevance from the latest ranking; orders the queue when the review's
    # `prioritise` setting is on. Higher first; records not ranked yet come after ranked
    # ones. (Not NULL: SQLite cannot index "NULLS LAST".)
    relevance = models.FloatField(default=NOT_RANKED)
    # The review round the record was imported in (its batch's `round`): queues, progress,
    # agreement and the stopping test show the current round unless asked for all.
    round = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["record", "stage"], name="screening_item_unique"),
            models.CheckConstraint(
                condition=Q(stage__in=[Stage.TITLE_ABSTRACT, Stage.FULL_TEXT]),
                name="screening_item_stage_valid",
            ),
        ]
        # The two queue orders (random, relevance), so that "the next record for me" is
        # an index walk that stops at the first eligible row, not a sort of the stage.
        indexes = [
            models.Index(
                "review",
                "stage",
                "active",
                "status",
                "n_votes",
                models.F("priority").desc(),
                "id",
                name="screening_item_queue",
            ),
            models.Index(
                "review",
                "stage",
                "active",
                "status",
                "n_votes",
                models.F("relevance").desc(),
                models.F("priority").desc(),
                "id",
                name="screening_item_queue_rel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_id}/{self.stage} ({self.status})"


class Claim(models.Model):
    """A reviewer was offered this item; it keeps a vote slot for them until it expires."""

    item = models.ForeignKey(ScreeningItem, on_delete=models.CASCADE, related_name="claims")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="claim_unique_reviewer")
        ]
        indexes = [
            models.Index(fields=["item", "expires_at"], name="claim_item_expiry"),
            models.Index(fields=["reviewer", "expires_at"], name="claim_reviewer_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} holds {self.item_id} until {self.expires_at:%H:%M}"


class Vote(models.Model):
    """One reviewer's current decision on one record at one stage."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="screening_votes")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="screening_votes")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="screening_votes"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.ForeignKey(
        ExclusionReason, null=True, blank=True, on_delete=models.PROTECT, related_name="votes"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "stage", "reviewer"], name="vote_one_per_reviewer"
            ),
            # A full-text exclusion must say why (PRISMA counts reports excluded per reason).
            models.CheckConstraint(
                condition=~Q(stage=Stage.FULL_TEXT, decision=Decision.EXCLUDE)
                | Q(reason__isnull=False),
                name="vote_ft_exclude_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "reviewer"], name="vote_review_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} {self.decision} {self.record_id}/{self.stage}"


class VoteChange(models.Model):
    """Append-only history of every vote, change and withdrawal (undo)."""

    # Indexed with the id (Meta.indexes): the review's latest change is an index lookup.
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+", db_index=False)
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="vote_changes")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    old_decision = models.CharField(max_length=10, blank=True)  # "" = no vote before
    new_decision = models.CharField(max_length=10, blank=True)  # "" = vote withdrawn
    old_reason = models.ForeignKey(
        ExclusionReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    new_reason = models.ForeignKey(
        ExclusionReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    old_note = models.TextField(blank=True)
    new_note = models.TextField(blank=True)
    # The tool a vote was imported from ("Rayyan"), empty for votes cast here.
    imported_from = models.CharField(max_length=40, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "id"]
        # The review's newest change in one index probe (selectors.screening_version).
        indexes = [models.Index(fields=["review", "id"], name="votechange_review_id")]

    def __str__(self) -> str:
        return f"{self.reviewer_id}: {self.old_decision or '-'} -> {self.new_decision or '-'}"


class Resolution(models.Model):
    """The final decision on a record at a stage: agreed automatically or adjudicated."""

    # Indexed with the id (Meta.indexes): the review's newest resolution is an index lookup.
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="resolutions", db_index=False
    )
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="resolutions")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    decision = models.CharField(max_length=10, choices=FinalDecision.choices)
    reason = models.ForeignKey(
        ExclusionReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    adjudicated = models.BooleanField(default=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    # The tool a final decision was imported from ("ASReview", "Covidence"); `actor` is
    # then the lead who imported it. Empty for decisions made here.
    imported_from = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["record", "stage"], name="resolution_unique"),
            models.CheckConstraint(
                condition=~Q(stage=Stage.FULL_TEXT, decision=FinalDecision.EXCLUDE)
                | Q(reason__isnull=False),
                name="resolution_ft_exclude_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(adjudicated=False) | Q(actor__isnull=False),
                name="resolution_adjudicated_has_actor",
            ),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "decision"], name="resolution_count"),
            models.Index(fields=["review", "id"], name="resolution_review_id"),
        ]

    def __str__(self) -> str:
        return f"{self.record_id}/{self.stage}: {self.decision}"


def fulltext_upload_path(fulltext: FullText, filename: str) -> str:
    # The stored name never uses the uploader's file name (it may contain anything).
    return f"fulltexts/{fulltext.review_id}/{fulltext.record_id}/{fulltext.sha256[:16]}.pdf"


class FullText(models.Model):
    """The full-text PDF of a record, or the statement that it could not be retrieved."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="fulltexts")
    record = models.OneToOneField(Record, on_delete=models.CASCADE, related_name="fulltext")
    file = models.FileField(upload_to=fulltext_upload_path, blank=True, max_length=300)
    original_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    not_retrievable = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(not_retrievable=True, file__gt=""), name="fulltext_file_or_missing"
            )
        ]

    def __str__(self) -> str:
        return f"Full text of {self.record_id}"


class FullTextChange(HistoryRow):
    """Audit row: a full text uploaded, replaced, or marked (not) retrievable, and by whom.

    ``FullText`` keeps only the current file; this keeps every upload's name and digest.
    """

    class Action(models.TextChoices):
        UPLOADED = "uploaded", "Full text uploaded"
        REPLACED = "replaced", "Full text replaced"
        NOT_RETRIEVABLE = "missing", "Full text not retrievable"
        RETRIEVABLE = "found", "Full text no longer marked not retrievable"

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="fulltext_changes")
    action = models.CharField(max_length=10, choices=Action.choices)
    original_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)

    class Meta(HistoryRow.Meta):
        indexes = [models.Index(fields=["review", "-at"], name="fulltext_change_review_at")]

    def __str__(self) -> str:
        return f"full text of {self.record_id} {self.action} ({self.at:%Y-%m-%d})"


class RecordCorrection(models.Model):
    """A reviewer's correction of a record's metadata; the original value is kept here."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="corrections")
    field = models.CharField(max_length=30)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    corrected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["corrected_at", "id"]

    def __str__(self) -> str:
        return f"{self.field} of record {self.record_id}"


class ScreeningPreference(models.Model):
    """Per-user keyboard map of the screening page."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="screening_preference"
    )
    keymap = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Keyboard map of {self.user_id}"


class PrismaExtra(models.Model):
    """Counts a lead enters that the data cannot know (PRISMA 2020 boxes)."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="prisma_extra")
    automation_excluded = models.PositiveIntegerField(
        default=0, help_text="Records marked as ineligible by automation tools before import."
    )
    other_removed = models.PositiveIntegerField(
        default=0, help_text="Records removed for other reasons before import."
    )
    # [{"label": "Citation searching", "n": 12}, ...]
    other_sources = models.JSONField(default=list, blank=True)
    other_reports_sought = models.PositiveIntegerField(null=True, blank=True)
    other_reports_not_retrieved = models.PositiveIntegerField(null=True, blank=True)
    other_reports_assessed = models.PositiveIntegerField(null=True, blank=True)
    # [{"label": "Wrong population", "n": 3}, ...]
    other_reports_excluded = models.JSONField(default=list, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"PRISMA counts entered for review {self.review_id}"


class BlindingChange(models.Model):
    """Audit row: who switched a review's blinding on or off, and when."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="blinding_changes")
    blinded = models.BooleanField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"blinding {'on' if self.blinded else 'off'} ({self.changed_at:%Y-%m-%d})"


class RankingSnapshot(models.Model):
    """The latest relevance ranking of a review's title/abstract records (JSON of the core)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="rankings")
    created_at = models.DateTimeField(auto_now_add=True)
    n_resolved = models.PositiveIntegerField(help_text="Resolved decisions it was trained on.")
    n_includes = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict)
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Ranking of review {self.review_id} on {self.n_resolved} decisions"


class RankingRefitState(models.Model):
    """Requests for a refit of a review's ranking, so that none is lost.

    ``requested`` grows with every request; a refit first sets ``taken`` to it, then reads
    the decisions. ``requested > taken``: a request came after the last refit started.
    ``requested_at``: when a refit task was last sent for it, so that requests made while
    one waits are folded into it instead of queueing a task each (and a task lost with
    its worker is sent again after a while).
    """

    review = models.OneToOneField(
        Review, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    requested = models.PositiveIntegerField(default=0)
    taken = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Refits of review {self.review_id}: {self.taken}/{self.requested}"


class StoppingRule(models.Model):
    """The lead's statistical stopping rule for title/abstract screening (one per review).

    While ``sampling_since`` is set the title/abstract queue is in its random order (the
    items' seeded ``priority``), so records screened from then on are a random sample of
    those left, which the hypergeometric test of
    :mod:`screening.prioritisation.recall_test` needs.
    """

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="stopping_rule")
    target_recall = models.FloatField(default=0.95)
    confidence = models.FloatField(default=0.95)
    sampling_since = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(target_recall__gte=0.5, target_recall__lt=1),
                name="stopping_rule_target_recall_range",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0.5, confidence__lt=1),
                name="stopping_rule_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_recall:.0%} recall at {self.confidence:.0%} confidence"


class StoppingRuleChange(models.Model):
    """Audit row: who set the stopping rule or switched random sampling, and when."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="stopping_changes")
    target_recall = models.FloatField()
    confidence = models.FloatField()
    sampling = models.BooleanField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"stopping rule of review {self.review_id} ({self.changed_at:%Y-%m-%d})"
