"""GRADE certainty per outcome analysis, and Summary of Findings tables.

A :class:`CertaintyAssessment` belongs to one :class:`analysis.models.Analysis`. For each
GRADE domain it keeps the rating the rules suggested when the lead last confirmed it and
the lead's final rating (a reason is required when they differ). It also keeps a snapshot
of the numbers it was rated on (``inputs``) and their hash: when extraction, RoB 2 or
the analysis change afterwards the current hash differs, and the assessment reads as
"data changed since rated" until the lead confirms it again.

A :class:`SofTable` lists chosen assessments in the lead's order (:class:`SofRow`), with
what only a Summary of Findings needs: the assumed control risk when typed, the SD of a
named scale for back-transforming an SMD, comments.

The models keep the ``analysis`` app label (tables ``analysis_certainty*``/``analysis_sof*``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.models import HistoryRow, Review

from .rules import CERTAINTY, DOMAINS, RATINGS, UPGRADES

__all__ = [
    "CertaintyAssessment",
    "CertaintyDomain",
    "CertaintyEvent",
    "Rating",
    "SofRow",
    "SofTable",
]


class Rating(models.TextChoices):
    NO = "no", RATINGS["no"]
    SERIOUS = "serious", RATINGS["serious"]
    VERY_SERIOUS = "very_serious", RATINGS["very_serious"]


DOMAIN_CHOICES = list(DOMAINS.items())
_CERTAINTY_CHOICES = [(k, v[0]) for k, v in CERTAINTY.items()]


class CertaintyAssessment(models.Model):
    """The lead's GRADE assessment of one outcome analysis."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="certainty")
    analysis = models.OneToOneField(
        "analysis.Analysis", on_delete=models.CASCADE, related_name="certainty"
    )
    outcome_label = models.CharField(
        "outcome (as the table names it)",
        max_length=200,
        blank=True,
        help_text="Empty: the analysis' title.",
    )
    intervention = models.CharField(
        max_length=120,
        blank=True,
        help_text='For the plain-language statement, e.g. "peer support".',
    )
    thresholds = models.JSONField(
        "decision thresholds",
        default=list,
        blank=True,
        help_text="Natural scale, e.g. [-0.2, 0, 0.2] or [0.75, 1, 1.25]. Empty: the default.",
    )
    start_level = models.PositiveSmallIntegerField(choices=_CERTAINTY_CHOICES)
    start_reason = models.CharField(max_length=200, blank=True)
    large_effect = models.PositiveSmallIntegerField(default=0)
    dose_response = models.PositiveSmallIntegerField(default=0)
    confounding = models.PositiveSmallIntegerField(default=0)
    upgrade_reason = models.TextField(blank=True)
    certainty = models.PositiveSmallIntegerField(choices=_CERTAINTY_CHOICES)
    statement = models.CharField(max_length=400, blank=True)
    inputs = models.JSONField(default=dict, help_text="The numbers it was rated on.")
    inputs_hash = models.CharField(max_length=64)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField()

    class Meta:
        ordering = ["analysis__position", "analysis_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(certainty__gte=1, certainty__lte=4), name="certainty_level_1_4"
            ),
            models.CheckConstraint(
                condition=Q(start_level__in=[2, 4]), name="certainty_start_high_or_low"
            ),
            models.CheckConstraint(
                condition=Q(large_effect__lte=2, dose_response__lte=1, confounding__lte=1),
                name="certainty_upgrades_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"Certainty of {self.analysis}"

    @property
    def outcome(self) -> str:
        return self.outcome_label or self.analysis.title

    @property
    def upgrades(self) -> tuple[int, int, int]:
        return (self.large_effect, self.dose_response, self.confounding)


class CertaintyDomain(models.Model):
    """One GRADE domain of an assessment: what the rules suggested, what the lead decided."""

    assessment = models.ForeignKey(
        CertaintyAssessment, on_delete=models.CASCADE, related_name="domains"
    )
    domain = models.CharField(max_length=20, choices=DOMAIN_CHOICES)
    suggested = models.CharField(max_length=12, choices=Rating.choices)
    rule = models.CharField(max_length=300)
    numbers = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=200, blank=True)
    final = models.CharField(max_length=12, choices=Rating.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["assessment_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "domain"], name="certainty_domain_once"),
            # A final rating that departs from the suggestion says why
            models.CheckConstraint(
                condition=Q(final=models.F("suggested")) | ~Q(reason=""),
                name="certainty_domain_reason_when_overridden",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_domain_display()}: {self.get_final_display()}"

    @property
    def overridden(self) -> bool:
        return self.final != self.suggested


class SofTable(models.Model):
    """A Summary of Findings table: one comparison, its population and setting."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="sof_tables")
    title = models.CharField(
        max_length=200, help_text='E.g. "Peer support compared with care as usual".'
    )
    population = models.CharField(max_length=200, blank=True)
    setting = models.CharField(max_length=200, blank=True)
    intervention = models.CharField(max_length=120, blank=True)
    comparison = models.CharField(max_length=120, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "title"], name="sof_table_unique_title")
        ]

    def __str__(self) -> str:
        return self.title


class SofRow(models.Model):
    """One outcome of a SoF table, in the lead's order."""

    table = models.ForeignKey(SofTable, on_delete=models.CASCADE, related_name="rows")
    assessment = models.ForeignKey(
        CertaintyAssessment, on_delete=models.CASCADE, related_name="sof_rows"
    )
    position = models.PositiveIntegerField(default=0)
    timepoint = models.CharField(
        max_length=120, blank=True, help_text="Empty: the analysis' timepoint window."
    )
    assumed_risk = models.FloatField(
        "assumed control risk per 1,000",
        null=True,
        blank=True,
        help_text="Dichotomous outcomes; empty: the risk in the control arms.",
    )
    scale_name = models.CharField(
        "named scale", max_length=120, blank=True, help_text="SMD: express it on this scale."
    )
    scale_sd = models.FloatField("SD of the named scale", null=True, blank=True)
    comments = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["table", "assessment"], name="sof_row_once"),
            models.CheckConstraint(
                condition=Q(assumed_risk__isnull=True)
                | Q(assumed_risk__gte=0, assumed_risk__lte=1000),
                name="sof_row_assumed_risk_0_1000",
            ),
            models.CheckConstraint(
                condition=Q(scale_sd__isnull=True) | Q(scale_sd__gt=0), name="sof_row_scale_sd_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table}: {self.assessment.outcome}"


class CertaintyEvent(HistoryRow):
    """Audit trail: assessments rated, confirmed, deleted; SoF tables and rows edited."""

    assessment = models.ForeignKey(
        CertaintyAssessment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    table = models.ForeignKey(
        SofTable, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    action = models.CharField(max_length=30)
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.action} ({self.at:%Y-%m-%d %H:%M})"


# Upgrade names as the rules spell them (kept in step with the model fields)
assert set(UPGRADES) == {"large_effect", "dose_response", "confounding"}
