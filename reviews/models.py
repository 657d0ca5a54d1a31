"""Reviews, their teams, protocol, search log, imports and records."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import rawfields
from .job_queue import job_kind_label


class Role(models.TextChoices):
    """What a member may do in a review. A lead may do everything."""

    LEAD = "lead", "Lead"
    REVIEWER = "reviewer", "Reviewer"
    ADJUDICATOR = "adjudicator", "Adjudicator"


class Stage(models.TextChoices):
    TITLE_ABSTRACT = "ta", "Title/abstract"
    FULL_TEXT = "ft", "Full text"


class Review(models.Model):
    class Status(models.TextChoices):
        PROTOCOL = "protocol", "Protocol"
        SCREENING = "screening", "Screening"
        EXTRACTION = "extraction", "Extraction"
        ANALYSIS = "analysis", "Analysis"
        COMPLETE = "complete", "Complete"

    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=80, unique=True)
    question = models.TextField("review question", blank=True)
    population = models.TextField(blank=True)
    intervention = models.TextField(blank=True)
    comparator = models.TextField(blank=True)
    outcomes = models.TextField(blank=True)
    eligibility_criteria = models.TextField(blank=True)
    registration = models.CharField(
        max_length=200, blank=True, help_text="e.g. PROSPERO CRD42021..., OSF registration"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROTOCOL)
    data_sources = models.TextField(
        "data sources",
        blank=True,
        help_text="Where the records and data come from, cited; shown on the dashboard.",
    )
    # Parts of the review not done by people (e.g. a demo's simulated votes), by page area
    # ("screening", "extraction", "rob", "analysis"): each page of that area says so.
    generated_notes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Screening settings (the screening app reads them; they belong to the review).
    votes_required = models.PositiveSmallIntegerField(
        default=2,
        help_text="Independent votes each record needs (2 for dual screening, 1 for a pilot).",
    )
    blinded = models.BooleanField(
        default=True, help_text="Reviewers cannot see each other's votes until resolution."
    )
    prioritise = models.BooleanField(
        default=True, help_text="Order the title/abstract queue by predicted relevance."
    )
    include_keywords = models.TextField(
        blank=True, help_text="Highlighted in green. One per line; end with * for a stem."
    )
    exclude_keywords = models.TextField(
        blank=True, help_text="Highlighted in red. One per line; end with * for a stem."
    )
    # The screening round new imports join: 1 until a lead opens an update round
    # (`reviews.services.round_open`, which keeps a ReviewRound row per update).
    round = models.PositiveSmallIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(votes_required__gte=1) & Q(votes_required__lte=5),
                name="review_votes_required_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reviews:dashboard", kwargs={"slug": self.slug})


class Membership(models.Model):
    """A user's place in one review. Roles are independent flags: one person may hold several."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    is_lead = models.BooleanField(default=False)
    is_reviewer = models.BooleanField(default=True)
    is_adjudicator = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "user"], name="membership_unique_user")
        ]
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.review}"

    def has_role(self, role: Role | str | None) -> bool:
        """True if this member may act as `role`; leads may act as anyone."""
        if role is None or self.is_lead:
            return True
        return {
            Role.LEAD: self.is_lead,
            Role.REVIEWER: self.is_reviewer,
            Role.ADJUDICATOR: self.is_adjudicator,
        }[Role(role)]

    @property
    def can_manage(self) -> bool:
        return self.is_lead

    @property
    def can_screen(self) -> bool:
        return self.has_role(Role.REVIEWER)

    @property
    def can_adjudicate(self) -> bool:
        return self.has_role(Role.ADJUDICATOR)

    @property
    def role_labels(self) -> list[str]:
        flags = [
            (self.is_lead, Role.LEAD),
            (self.is_reviewer, Role.REVIEWER),
            (self.is_adjudicator, Role.ADJUDICATOR),
        ]
        return [role.label for on, role in flags if on]


def _new_token() -> str:
    return secrets.token_urlsafe(24)


class Invitation(models.Model):
    """A lead's invitation of a person (by e-mail or username) into a review."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)
    username = models.CharField(max_length=150, blank=True)
    is_lead = models.BooleanField(default=False)
    is_reviewer = models.BooleanField(default=True)
    is_adjudicator = models.BooleanField(default=False)
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accepted_invitations",
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(username=""), name="invitation_has_addressee"
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email or self.username} to {self.review}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None


class ExclusionReason(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="exclusion_reasons")
    stage = models.CharField(max_length=2, choices=Stage.choices)
    label = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["stage", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "stage", "label"], name="exclusion_reason_unique_label"
            )
        ]

    def __str__(self) -> str:
        return self.label


class Search(models.Model):
    """One database search as run and reported in the review's search log."""

    class Source(models.TextChoices):
        PUBMED = "pubmed", "PubMed/MEDLINE"
        EMBASE = "embase", "Embase"
        PSYCINFO = "psycinfo", "PsycINFO"
        CENTRAL = "central", "Cochrane CENTRAL"
        WEB_OF_SCIENCE = "wos", "Web of Science"
        CINAHL = "cinahl", "CINAHL"
        REGISTER = "register", "Trial register"
        CITATION = "citation", "Citation searching"
        OTHER = "other", "Other"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="searches")
    source = models.CharField(max_length=20, choices=Source.choices)
    source_detail = models.CharField(
        max_length=200, blank=True, help_text="Interface or name, e.g. Ovid, or the register."
    )
    date_run = models.DateField()
    search_string = models.TextField()
    hits_reported = models.PositiveIntegerField(help_text="Number of hits the source reported.")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date_run", "id"]
        verbose_name_plural = "searches"

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.date_run:%Y-%m-%d}"

    @property
    def is_other_method(self) -> bool:
        """PRISMA separates databases/registers from other methods (citation searching...)."""
        return self.source in {self.Source.CITATION, self.Source.OTHER}


class SearchRun(models.Model):
    """One run of a logged search: when, the dates it covers, its hits and the export imported.

    A search's first import is its first run; re-running it for an update adds a run
    whose export is de-duplicated against every record the review ever held.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="search_runs")
    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="runs")
    batch = models.OneToOneField(
        "ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="search_run"
    )
    date_run = models.DateField()
    covers_from = models.DateField(null=True, blank=True, help_text="Publication dates from.")
    covers_to = models.DateField(null=True, blank=True, help_text="Publication dates to.")
    hits_reported = models.PositiveIntegerField(null=True, blank=True)
    round = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date_run", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(covers_from__isnull=True)
                | Q(covers_to__isnull=True)
                | Q(covers_from__lte=models.F("covers_to")),
                name="search_run_range_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.search} run {self.date_run:%Y-%m-%d}"


class SearchSchedule(models.Model):
    """A saved query run again on a schedule (Celery beat): PubMed or OpenAlex.

    Each run fetches what the source added since the last one and leaves it as an update
    run of the search awaiting the lead's confirmation (an import preview); members see
    it on their dashboard. No credentials are stored here: the NCBI API key is a setting.
    """

    class Provider(models.TextChoices):
        PUBMED = "pubmed", "PubMed (NCBI E-utilities)"
        OPENALEX = "openalex", "OpenAlex"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="search_schedules")
    search = models.OneToOneField(Search, on_delete=models.CASCADE, related_name="schedule")
    provider = models.CharField(max_length=10, choices=Provider.choices)
    query = models.TextField(help_text="PubMed query syntax, or OpenAlex search words.")
    every_days = models.PositiveSmallIntegerField(default=30)
    active = models.BooleanField(default=True)
    # The last day a run covered: the next run asks for records from the day after.
    covered_to = models.DateField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(every_days__gte=1) & Q(every_days__lte=365),
                name="search_schedule_every_1_to_365_days",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} every {self.every_days} days"

    @property
    def next_run_on(self) -> dt.date:
        """The day the schedule is due: a new one at once, then every ``every_days``."""
        if self.covered_to is None:
            return timezone.localdate()
        return self.covered_to + dt.timedelta(days=self.every_days)


def import_upload_path(batch: ImportBatch, filename: str) -> str:
    return f"imports/{batch.review_id}/{filename}"


def import_rows_path(batch: ImportBatch, filename: str) -> str:
    return f"imports/{batch.review_id}/rows/{filename}"


class ImportBatch(models.Model):
    """One uploaded file: previewed, then imported atomically (or discarded)."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Awaiting confirmation"
        IMPORTED = "imported", "Imported"
        DISCARDED = "discarded", "Discarded"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="import_batches")
    search = models.ForeignKey(
        Search, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_batches"
    )
    file = models.FileField(upload_to=import_upload_path, blank=True)
    # The readable records as insert-ready rows (reviews.rows), written by the preview's
    # parse so that confirming does not parse the file again; removed once imported.
    rows = models.FileField(upload_to=import_rows_path, blank=True, editable=False)
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=20)
    csv_mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREVIEW)
    n_read = models.PositiveIntegerField(default=0)
    n_skipped = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(
        default=list, blank=True, help_text="Skipped records: [{line, reason}], capped."
    )
    preview = models.JSONField(default=list, blank=True)
    notes = models.JSONField(
        default=list,
        blank=True,
        help_text="What the reader passed over that is not a record (a preamble, text "
        "outside records, unknown tags): sentences shown with the preview.",
    )
    n_imported = models.PositiveIntegerField(default=0)
    n_duplicates = models.PositiveIntegerField(default=0)
    # The review's round when the batch was confirmed: its new records are screened in it.
    round = models.PositiveSmallIntegerField(default=1)
    # What the preview found against the review's records ({new, seen, decided, possible,
    # within_file}; see services.import_overlap); empty for a review without records.
    overlap = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class Record(models.Model):
    """A bibliographic record (a report) as imported. Never deleted by dedup: linked instead."""

    # No index of its own: the two (review, ...) indexes below lead with it.
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="records")
    source_line = models.PositiveIntegerField(default=0)
    title = models.TextField(blank=True)
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    journal = models.CharField(max_length=500, blank=True)
    volume = models.CharField(max_length=50, blank=True)
    issue = models.CharField(max_length=50, blank=True)
    pages = models.CharField(max_length=50, blank=True)
    # Not indexed: no query looks records up by them (de-duplication reads a review's keys
    # in id order, searches compare them case-blind beside a title search), and each index
    # (two on PostgreSQL, with the LIKE one) cost every import's rows a random insert.
    doi = models.CharField(max_length=255, blank=True)
    pmid = models.CharField(max_length=20, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=100, blank=True)
    url = models.TextField(blank=True)
    record_type = models.CharField(max_length=50, blank=True)
    source_fields = models.JSONField(default=dict, blank=True)
    # Keys for de-duplication, computed once at import.
    title_norm = models.TextField(blank=True)
    first_author = models.CharField(max_length=200, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
        db_index=False,  # record_duplicate_of below: only the ~5% that are linked
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["review", "duplicate_of"], name="record_review_dup"),
            # A review's records in id order with their duplicate link, from the index
            # alone (PostgreSQL): the records list's keyset pages and screening's
            # signature of a review's records (count, max id, duplicates), whatever
            # the number of reviews sharing the table.
            models.Index(
                fields=["review", "id"], include=["duplicate_of"], name="record_review_id"
            ),
            # A record's duplicates (the PROTECT check of a delete, the foreign key's own
            # check, record.duplicates): the unlinked majority left out of the index.
            models.Index(
                fields=["duplicate_of"],
                condition=Q(duplicate_of__isnull=False),
                name="record_duplicate_of",
            ),
        ]

    def __str__(self) -> str:
        return self.title[:80] or f"Record {self.pk}"

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of_id is not None

    @property
    def raw_fields(self) -> dict:
        """Every tag or column as imported (``source_fields`` stores the title/abstract
        copies as references: see reviews.rawfields)."""
        return rawfields.unpack(self.source_fields, self.title, self.abstract)

    @property
    def first_author_display(self) -> str:
        return self.authors[0] if self.authors else ""

    @property
    def citation(self) -> str:
        """Short label as used in tables: 'Smith 2020'."""
        author = (self.first_author_display.split(",")[0] or "Anon").strip()
        return f"{author} {self.year or 'n.d.'}"


class RecordTally(models.Model):
    """Running totals of a review's records, kept by triggers (see :mod:`reviews.tally`):
    pages read them instead of counting a big review's records on every request.

    No foreign key constraint in the database: a cascade delete of a review removes its
    records (the delete trigger updates this row) and this row in an order the database
    must not refuse. Django still deletes it with its review.
    """

    review = models.OneToOneField(
        Review,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="record_tally",
        db_constraint=False,
    )
    total = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)  # records linked as a duplicate
    changes = models.BigIntegerField(default=0)  # grows with every change of the two

    def __str__(self) -> str:
        return f"{self.review_id}: {self.total} records, {self.duplicates} duplicates"


class DuplicateLink(models.Model):
    """A candidate or confirmed duplicate pair; merges are reversible."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        MERGED = "merged", "Merged"
        REJECTED = "rejected", "Not duplicates"
        UNDONE = "undone", "Merge undone"

    class Tier(models.TextChoices):
        AUTO = "auto", "Automatic"
        REVIEW = "review", "Needs review"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="duplicate_links")
    kept = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    duplicate = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    tier = models.CharField(max_length=10, choices=Tier.choices)
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kept", "duplicate"], name="duplicate_link_unique"),
            models.CheckConstraint(
                condition=~Q(kept=models.F("duplicate")), name="duplicate_link_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.duplicate_id} duplicates {self.kept_id} ({self.status})"


class Job(models.Model):
    """A piece of background work a user started and can watch: an import, a refit, a report.

    The row is the job's history too: who started it, when it ran, how it ended. Tasks
    (`<app>/tasks.py`) advance it through `reviews.services.job_*`; kinds are registered
    by the app that owns them (`reviews.job_queue.register_job_kind`).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=40)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    # What the task needs (ids, stored file names): a retry runs from these alone.
    params = models.JSONField(default=dict, blank=True)
    # What came out, e.g. {"url": ..., "label": ...} for the link shown when it is done.
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life of a running job (started, progress): a job silent for longer than
    # REVIEWFLOW_JOB_STALLED_AFTER seconds may be run again by a lead.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Times a worker took the job up again after the worker running it went silent
    # (`reviews.services.jobs_restart_lost`), and when it last did.
    restarts = models.PositiveSmallIntegerField(default=0)
    restarted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["review", "kind", "status"], name="job_review_kind_status")]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="job_progress_0_to_100")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def is_stalled(self) -> bool:
        """Queued or running, and silent for too long: its worker may have died."""
        if self.is_finished:
            return False
        last = self.heartbeat_at or self.created_at
        limit = dt.timedelta(seconds=getattr(settings, "REVIEWFLOW_JOB_STALLED_AFTER", 900))
        return last is not None and timezone.now() - last > limit

    @property
    def is_lost(self) -> bool:
        """Running, but its worker has sent no heartbeat for REVIEWFLOW_JOB_LOST_AFTER seconds.

        Workers beat every REVIEWFLOW_JOB_HEARTBEAT seconds while a job runs (a thread of
        their own, so a long statement does not silence them): silence means the process
        died or froze, and a live worker takes the job up again.
        """
        if self.status != self.Status.RUNNING or self.heartbeat_at is None:
            return False
        limit = dt.timedelta(seconds=settings.REVIEWFLOW_JOB_LOST_AFTER)
        return timezone.now() - self.heartbeat_at > limit

    @property
    def label(self) -> str:
        return job_kind_label(self.kind)


# --- History rows for the activity log (who decided what; the other apps keep their own) ---


class HistoryRow(models.Model):
    """The fields an audit row shares: its review, who acted (kept if the account goes), when.

    Abstract: each subclass keeps its own table. A subclass with indexes or constraints
    declares ``class Meta(HistoryRow.Meta)`` to keep the newest-first ordering.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-at", "-id"]


class MembershipChange(models.Model):
    """Audit row: a member added, invited, given other roles or removed, and by whom."""

    class Action(models.TextChoices):
        INVITED = "invited", "Invited"
        JOINED = "joined", "Joined"
        ADDED = "added", "Added"
        ROLES = "roles", "Roles changed"
        REMOVED = "removed", "Removed"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="membership_changes")
    # The subject by name too: the account may be removed from the review (or renamed).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=254, help_text="Username, or the invited e-mail.")
    action = models.CharField(max_length=10, choices=Action.choices)
    old_roles = models.CharField(max_length=60, blank=True)
    new_roles = models.CharField(max_length=60, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["review", "-at"], name="membership_change_review_at")]

    def __str__(self) -> str:
        return f"{self.subject} {self.action} ({self.at:%Y-%m-%d})"


class SettingChange(models.Model):
    """Audit row: one setting of a review changed (protocol, screening, extraction, RoB 2)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="setting_changes")
    section = models.CharField(max_length=30)
    field = models.CharField(max_length=60)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["review", "-at"], name="setting_change_review_at")]

    def __str__(self) -> str:
        return f"{self.section}.{self.field} changed ({self.at:%Y-%m-%d})"


class DuplicateDecision(HistoryRow):
    """Audit row: a pair merged, rejected or un-merged (the link keeps only the last)."""

    link = models.ForeignKey(DuplicateLink, on_delete=models.CASCADE, related_name="decisions")
    status = models.CharField(max_length=10, choices=DuplicateLink.Status.choices)

    def __str__(self) -> str:
        return f"link {self.link_id} {self.status}"


class ExclusionReasonChange(HistoryRow):
    """Audit row: an exclusion reason added, edited, retired or restored, and by whom."""

    class Action(models.TextChoices):
        ADDED = "added", "Exclusion reason added"
        EDITED = "edited", "Exclusion reason edited"
        RETIRED = "retired", "Exclusion reason retired"
        RESTORED = "restored", "Exclusion reason restored"

    reason = models.ForeignKey(ExclusionReason, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=10, choices=Action.choices)
    # {field: [old, new]} as text, for the fields this change touched
    changes = models.JSONField(default=dict, blank=True)

    class Meta(HistoryRow.Meta):
        indexes = [models.Index(fields=["review", "-at"], name="reason_change_review_at")]

    def __str__(self) -> str:
        return f"reason {self.reason_id} {self.action} ({self.at:%Y-%m-%d})"


class SearchChange(HistoryRow):
    """Audit row: a search logged or edited in the search log, and by whom."""

    class Action(models.TextChoices):
        ADDED = "added", "Search logged"
        EDITED = "edited", "Search edited"

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=10, choices=Action.choices)
    # {field: [old, new]} as text, for the fields this change touched
    changes = models.JSONField(default=dict, blank=True)

    class Meta(HistoryRow.Meta):
        indexes = [models.Index(fields=["review", "-at"], name="search_change_review_at")]

    def __str__(self) -> str:
        return f"search {self.search_id} {self.action} ({self.at:%Y-%m-%d})"


class ReviewRound(HistoryRow):
    """An update round a lead opened (round 1, the first search, has no row).

    Records imported while it is the review's current round (``Review.round``) are
    screened in it; earlier decisions stay and keep training the ranking.
    """

    number = models.PositiveSmallIntegerField()
    note = models.TextField(blank=True)

    class Meta(HistoryRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["review", "number"], name="review_round_unique"),
            models.CheckConstraint(condition=Q(number__gte=2), name="review_round_is_update"),
        ]

    def __str__(self) -> str:
        return f"round {self.number} of review {self.review_id}"
