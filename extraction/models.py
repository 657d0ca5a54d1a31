"""Studies, extraction form templates and answers, arms/outcomes/timepoints and outcome data.

A *study* groups one or more included reports (records). Each study is extracted
independently by two people (or by one, then verified), and a *consensus*
extraction holds the agreed answers and numbers: only the consensus feeds
analysis. Nothing the team entered is deleted by another action: answers carry a
revision history, form templates are versioned, and structure that holds data
cannot be removed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from reviews.models import HistoryRow, Record, Review


class ExtractionMode(models.TextChoices):
    DUAL = "dual", "Dual independent extraction, then consensus"
    SINGLE = "single", "Single extraction, then verification by a second person"


class MultiArmRule(models.TextChoices):
    COMBINE = "combine", "Combine intervention arms into one group (Cochrane Handbook 6.5.2.10)"
    SPLIT = "split", "Compare each intervention arm with the shared control, splitting its N"


class ExtractionSettings(models.Model):
    """A review's extraction rules: how many extractors, how to handle several arms."""

    review = models.OneToOneField(
        Review, on_delete=models.CASCADE, related_name="extraction_settings"
    )
    mode = models.CharField(max_length=10, choices=ExtractionMode.choices, default="dual")
    multi_arm_rule = models.CharField(
        "several intervention arms",
        max_length=10,
        choices=MultiArmRule.choices,
        default=MultiArmRule.COMBINE,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "extraction settings"

    def __str__(self) -> str:
        return f"Extraction settings of {self.review}"

    @property
    def extractors_needed(self) -> int:
        return 2 if self.mode == ExtractionMode.DUAL else 1


class OutcomeDomain(models.Model):
    """A review-level outcome domain, e.g. "Personal recovery"."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="outcome_domains")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "name"], name="outcome_domain_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class OutcomeSubdomain(models.Model):
    """A subdomain ("Hope") with the instruments to prefer, most preferred first."""

    domain = models.ForeignKey(OutcomeDomain, on_delete=models.CASCADE, related_name="subdomains")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    preferred_instruments = models.TextField(
        blank=True,
        help_text="One instrument per line, most preferred first (e.g. BDI-II, then PHQ-9).",
    )

    class Meta:
        ordering = ["domain__position", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "name"], name="outcome_subdomain_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.domain.name}: {self.name}"

    @property
    def preferred_list(self) -> list[str]:
        return [line.strip() for line in self.preferred_instruments.splitlines() if line.strip()]

    def preference_rank(self, instrument: str) -> int | None:
        """0 for the most preferred instrument, None if the instrument is not listed."""
        wanted = instrument.strip().casefold()
        for rank, name in enumerate(self.preferred_list):
            if name.casefold() == wanted:
                return rank
        return None


class Study(models.Model):
    """One trial, reported in one or more included records."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="studies")
    label = models.CharField(max_length=200, help_text='As tables cite it, e.g. "Smit 2023".')
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["label", "id"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.label


class StudyReport(models.Model):
    """A record (report) belonging to a study; a record belongs to at most one study."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="reports")
    record = models.OneToOneField(Record, on_delete=models.PROTECT, related_name="study_report")
    is_primary = models.BooleanField(default=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "record__year", "record_id"]

    def __str__(self) -> str:
        return f"{self.record} in {self.study}"


class StudyEvent(HistoryRow):
    """Audit trail of study-level changes (created, renamed, merged)."""

    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    action = models.CharField(max_length=30)
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.action} ({self.at:%Y-%m-%d %H:%M})"


class FormTemplate(models.Model):
    """One version of a review's extraction form; a new version is saved on every change."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="form_templates")
    version = models.PositiveIntegerField()
    schema = models.JSONField(help_text="{sections: [{title, fields: [{key, label, type, ...}]}]}")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["review", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["review", "version"], name="form_template_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="form_template_version_gte_1"),
        ]

    def __str__(self) -> str:
        return f"Extraction form v{self.version} of {self.review}"

    def fields(self) -> list[dict]:
        return [field for section in self.schema["sections"] for field in section["fields"]]


class ArmRole(models.TextChoices):
    INTERVENTION = "intervention", "Intervention"
    CONTROL = "control", "Control"


class Arm(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="arms")
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=12, choices=ArmRole.choices)
    n_randomised = models.PositiveIntegerField("N randomised", null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="arm_unique_name"),
            models.CheckConstraint(
                condition=Q(n_randomised__isnull=True) | Q(n_randomised__gte=1),
                name="arm_n_randomised_gte_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Direction(models.TextChoices):
    HIGHER = "higher", "Higher is better"
    LOWER = "lower", "Lower is better"


class Outcome(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="outcomes")
    name = models.CharField(max_length=200)
    subdomain = models.ForeignKey(
        OutcomeSubdomain, null=True, blank=True, on_delete=models.PROTECT, related_name="outcomes"
    )
    instrument = models.CharField("measurement instrument", max_length=200, blank=True)
    direction = models.CharField(max_length=6, choices=Direction.choices)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "name", "instrument"], name="outcome_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.instrument})" if self.instrument else self.name


class TimepointKind(models.TextChoices):
    POST = "post", "Post-treatment"
    FOLLOW_UP = "follow_up", "Follow-up"


class Timepoint(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="timepoints")
    label = models.CharField(max_length=80)
    weeks = models.FloatField(help_text="Weeks after baseline (months × 4.345).")
    kind = models.CharField(max_length=10, choices=TimepointKind.choices)

    class Meta:
        ordering = ["weeks", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "label"], name="timepoint_unique_label"),
            models.CheckConstraint(condition=Q(weeks__gte=0), name="timepoint_weeks_gte_0"),
        ]

    def __str__(self) -> str:
        return self.label


class ExtractionKind(models.TextChoices):
    INDEPENDENT = "independent", "Independent"
    CONSENSUS = "consensus", "Consensus"


class ExtractionStatus(models.TextChoices):
    DRAFT = "draft", "In progress"
    SUBMITTED = "submitted", "Submitted"


class Extraction(models.Model):
    """One person's extraction of a study, or the study's consensus (kind "consensus")."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="extractions")
    kind = models.CharField(max_length=12, choices=ExtractionKind.choices)
    extractor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="extractions",
        help_text="The extractor; for a consensus, who last saved it.",
    )
    template = models.ForeignKey(FormTemplate, on_delete=models.PROTECT, related_name="+")
    answers = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ExtractionStatus.choices, default=ExtractionStatus.DRAFT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "kind", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "extractor"],
                condition=Q(kind="independent"),
                name="extraction_one_per_extractor",
            ),
            models.UniqueConstraint(
                fields=["study"], condition=Q(kind="consensus"), name="extraction_one_consensus"
            ),
            models.CheckConstraint(
                condition=Q(kind="consensus") | Q(extractor__isnull=False),
                name="extraction_independent_has_extractor",
            ),
        ]

    def __str__(self) -> str:
        who = "consensus" if self.kind == ExtractionKind.CONSENSUS else str(self.extractor)
        return f"{self.study} ({who})"

    @property
    def is_submitted(self) -> bool:
        return self.status == ExtractionStatus.SUBMITTED


class ExtractionRevision(models.Model):
    """A snapshot of an extraction's answers and numbers at each save: the history."""

    extraction = models.ForeignKey(Extraction, on_delete=models.CASCADE, related_name="revisions")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=30)
    template_version = models.PositiveIntegerField()
    cells = models.JSONField(help_text="Every answer and number of the extraction, flattened.")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.extraction} {self.action}"


class Population(models.TextChoices):
    ITT = "itt", "Intention to treat"
    COMPLETERS = "completers", "Completers"
    UNCLEAR = "unclear", "Unclear"


class OutcomeData(models.Model):
    """One extraction's numbers for an outcome at a timepoint (arm rows hang below).

    Comparison-level statistics are an alternative to arm-level data: a t
    statistic or p value with group sizes, or an effect size with its SE or CI.
    """

    extraction = models.ForeignKey(Extraction, on_delete=models.CASCADE, related_name="data")
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="data")
    timepoint = models.ForeignKey(Timepoint, on_delete=models.PROTECT, related_name="data")
    population = models.CharField(
        max_length=12, choices=Population.choices, default=Population.UNCLEAR
    )
    t = models.FloatField("t statistic", null=True, blank=True)
    p = models.FloatField("p value", null=True, blank=True)
    p_direction = models.SmallIntegerField(
        null=True, blank=True, help_text="+1 if the intervention mean is higher, −1 if lower."
    )
    n_intervention = models.PositiveIntegerField(null=True, blank=True)
    n_control = models.PositiveIntegerField(null=True, blank=True)
    effect = models.FloatField("reported SMD", null=True, blank=True)
    effect_se = models.FloatField("SE of the SMD", null=True, blank=True)
    effect_ci_low = models.FloatField(null=True, blank=True)
    effect_ci_high = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["outcome__position", "outcome_id", "timepoint__weeks"]
        constraints = [
            models.UniqueConstraint(
                fields=["extraction", "outcome", "timepoint"], name="outcome_data_unique"
            ),
            models.CheckConstraint(
                condition=Q(p__isnull=True) | (Q(p__gt=0) & Q(p__lt=1)), name="outcome_data_p_0_1"
            ),
            models.CheckConstraint(
                condition=Q(p_direction__isnull=True) | Q(p_direction__in=[-1, 1]),
                name="outcome_data_p_direction",
            ),
            models.CheckConstraint(
                condition=Q(n_intervention__isnull=True) | Q(n_intervention__gte=1),
                name="outcome_data_n_intervention_gte_1",
            ),
            models.CheckConstraint(
                condition=Q(n_control__isnull=True) | Q(n_control__gte=1),
                name="outcome_data_n_control_gte_1",
            ),
            models.CheckConstraint(
                condition=Q(effect_se__isnull=True) | Q(effect_se__gt=0),
                name="outcome_data_effect_se_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} at {self.timepoint}"


class ArmValue(models.Model):
    """One arm's summary statistics for an outcome at a timepoint."""

    data = models.ForeignKey(OutcomeData, on_delete=models.CASCADE, related_name="arm_values")
    arm = models.ForeignKey(Arm, on_delete=models.PROTECT, related_name="values")
    mean = models.FloatField(null=True, blank=True)
    sd = models.FloatField("SD", null=True, blank=True)
    se = models.FloatField("SE", null=True, blank=True)
    ci_low = models.FloatField("95% CI lower", null=True, blank=True)
    ci_high = models.FloatField("95% CI upper", null=True, blank=True)
    n = models.PositiveIntegerField("N analysed", null=True, blank=True)
    events = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["arm__position", "arm_id"]
        constraints = [
            models.UniqueConstraint(fields=["data", "arm"], name="arm_value_unique"),
            models.CheckConstraint(condition=Q(sd__isnull=True) | Q(sd__gt=0), name="arm_sd_gt_0"),
            models.CheckConstraint(condition=Q(se__isnull=True) | Q(se__gt=0), name="arm_se_gt_0"),
            models.CheckConstraint(condition=Q(n__isnull=True) | Q(n__gte=1), name="arm_n_gte_1"),
            models.CheckConstraint(
                condition=Q(events__isnull=True) | Q(n__isnull=True) | Q(events__lte=F("n")),
                name="arm_events_lte_n",
            ),
            models.CheckConstraint(
                condition=Q(ci_low__isnull=True)
                | Q(ci_high__isnull=True)
                | Q(ci_high__gt=F("ci_low")),
                name="arm_ci_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.arm}: {self.data}"


from .rob.models import *  # noqa: E402, F401, F403
