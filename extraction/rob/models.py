"""RoB 2 assessments: targets, independent assessments, consensus, history.

A *target* is what is assessed: one study's result for one outcome (the RoB 2
unit), or the study as a whole when the review chooses per-study assessment.
Each target has up to two *independent* assessments, blind to each other until
both are submitted, and one *consensus* assessment; only a finalised consensus
feeds the figures and analysis. Every change is a :class:`RobChange` row (who,
when, old -> new); nothing the team entered is deleted by another action, which
is why targets PROTECT the study and outcome they assess.

The RoB 2 content and algorithm live in :mod:`extraction.rob.algorithm`; the models only
store answers and the judgements the algorithm or the assessor gave.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.models import Review

from .algorithm import DOMAINS

__all__ = [
    "RobAssessment",
    "RobChange",
    "RobDomain",
    "RobJudgement",
    "RobKind",
    "RobSettings",
    "RobStatus",
    "RobTarget",
    "RobUnit",
]

_DOMAIN_IDS = [d.id for d in DOMAINS]


class RobUnit(models.TextChoices):
    OUTCOME = "outcome", "Per study × outcome (each result assessed separately)"
    STUDY = "study", "Per study (one assessment for all its outcomes)"


class RobJudgement(models.TextChoices):
    LOW = "low", "Low risk"
    SOME_CONCERNS = "some_concerns", "Some concerns"
    HIGH = "high", "High risk"


class RobKind(models.TextChoices):
    INDEPENDENT = "independent", "Independent"
    CONSENSUS = "consensus", "Consensus"


class RobStatus(models.TextChoices):
    DRAFT = "draft", "In progress"
    SUBMITTED = "submitted", "Submitted"  # independent assessments only
    REFERRED = "referred", "Referred to adjudication"  # consensus only
    FINAL = "final", "Final"  # consensus only


_JUDGEMENT_OR_BLANK = ["", *RobJudgement.values]


class RobSettings(models.Model):
    """A review's RoB 2 choices: the unit of assessment and its data-driven rules."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="rob_settings")
    unit = models.CharField(
        "assess", max_length=10, choices=RobUnit.choices, default=RobUnit.OUTCOME
    )
    missing_threshold = models.FloatField(
        "missing outcome data threshold (%)",
        null=True,
        blank=True,
        default=10.0,
        help_text=(
            "Propose a low risk of bias for domain 3 when at most this percentage of "
            "randomised participants is missing from the analysis (computed from the "
            "extracted N randomised and N analysed). Leave empty to switch the rule off."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "RoB settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(missing_threshold__isnull=True)
                | (Q(missing_threshold__gte=0) & Q(missing_threshold__lte=50)),
                name="rob_settings_threshold_0_50",
            ),
            models.CheckConstraint(
                condition=Q(unit__in=RobUnit.values), name="rob_settings_unit_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"RoB settings of {self.review}"


class RobTarget(models.Model):
    """A study (× outcome) that is assessed; holds its assessments."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="rob_targets")
    study = models.ForeignKey(
        "extraction.Study", on_delete=models.PROTECT, related_name="rob_targets"
    )
    outcome = models.ForeignKey(
        "extraction.Outcome",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rob_targets",
        help_text="Empty when the review assesses per study.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study__label", "study_id", "outcome__position", "outcome_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "outcome"],
                condition=Q(outcome__isnull=False),
                name="rob_target_unique_outcome",
            ),
            models.UniqueConstraint(
                fields=["study"], condition=Q(outcome__isnull=True), name="rob_target_unique_study"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study} · {self.outcome}" if self.outcome_id else str(self.study)

    @property
    def unit(self) -> str:
        return RobUnit.STUDY if self.outcome_id is None else RobUnit.OUTCOME


class RobAssessment(models.Model):
    """One assessor's RoB 2 assessment of a target, or the target's consensus."""

    target = models.ForeignKey(RobTarget, on_delete=models.CASCADE, related_name="assessments")
    kind = models.CharField(max_length=12, choices=RobKind.choices)
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rob_assessments",
        help_text="The assessor; empty for a consensus.",
    )
    status = models.CharField(max_length=10, choices=RobStatus.choices, default=RobStatus.DRAFT)
    # Overall judgement: the algorithm's proposal (rule id), the assessor's override
    # or confirmation (with the rule it was made against), and the resulting judgement.
    overall_proposed = models.CharField(max_length=15, blank=True)
    overall_rule = models.CharField(max_length=40, blank=True)
    overall_override = models.CharField(max_length=15, blank=True)
    overall_override_of = models.CharField(max_length=40, blank=True)
    overall_justification = models.TextField(blank=True)
    overall_judgement = models.CharField(max_length=15, blank=True)
    referral_note = models.TextField(blank=True)
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adjudicated = models.BooleanField(
        default=False, help_text="Finalised by an adjudicator after a referral."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["target", "kind", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["target", "assessor"],
                condition=Q(kind="independent"),
                name="rob_assessment_one_per_assessor",
            ),
            models.UniqueConstraint(
                fields=["target"],
                condition=Q(kind="consensus"),
                name="rob_assessment_one_consensus",
            ),
            models.CheckConstraint(
                condition=(Q(kind="independent") & Q(assessor__isnull=False))
                | (Q(kind="consensus") & Q(assessor__isnull=True)),
                name="rob_assessment_assessor_iff_independent",
            ),
            models.CheckConstraint(
                condition=(Q(kind="independent") & Q(status__in=["draft", "submitted"]))
                | (Q(kind="consensus") & Q(status__in=["draft", "referred", "final"])),
                name="rob_assessment_status_by_kind",
            ),
            models.CheckConstraint(
                condition=Q(overall_judgement__in=_JUDGEMENT_OR_BLANK)
                & Q(overall_proposed__in=_JUDGEMENT_OR_BLANK)
                & Q(overall_override__in=_JUDGEMENT_OR_BLANK),
                name="rob_assessment_overall_valid",
            ),
            models.CheckConstraint(
                condition=Q(overall_override="") | ~Q(overall_justification=""),
                name="rob_assessment_override_justified",
            ),
        ]

    def __str__(self) -> str:
        who = "consensus" if self.kind == RobKind.CONSENSUS else str(self.assessor)
        return f"RoB 2 of {self.target} ({who})"

    @property
    def is_consensus(self) -> bool:
        return self.kind == RobKind.CONSENSUS

    @property
    def is_locked(self) -> bool:
        """Submitted assessments and final consensus are read-only."""
        return self.status in (RobStatus.SUBMITTED, RobStatus.FINAL)


class RobDomain(models.Model):
    """One domain of an assessment: answers, support, proposal and judgement."""

    assessment = models.ForeignKey(RobAssessment, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=2)
    answers = models.JSONField(default=dict, blank=True, help_text="{question id: Y/PY/PN/N/NI}")
    support = models.JSONField(default=dict, blank=True, help_text="{question id: support text}")
    proposed = models.CharField(max_length=15, blank=True)
    rule_id = models.CharField(max_length=40, blank=True)
    override = models.CharField(max_length=15, blank=True)
    override_of = models.CharField(
        max_length=40, blank=True, help_text="The rule the override was made against."
    )
    justification = models.TextField(blank=True)
    judgement = models.CharField(max_length=15, blank=True)
    direction = models.CharField("predicted direction of bias", max_length=30, blank=True)

    class Meta:
        ordering = ["assessment", "domain"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "domain"], name="rob_domain_unique"),
            models.CheckConstraint(condition=Q(domain__in=_DOMAIN_IDS), name="rob_domain_id_valid"),
            models.CheckConstraint(
                condition=Q(judgement__in=_JUDGEMENT_OR_BLANK)
                & Q(proposed__in=_JUDGEMENT_OR_BLANK)
                & Q(override__in=_JUDGEMENT_OR_BLANK),
                name="rob_domain_judgement_valid",
            ),
            models.CheckConstraint(
                condition=Q(override="") | ~Q(justification=""),
                name="rob_domain_override_justified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.domain} of {self.assessment}"


class RobChange(models.Model):
    """History: one changed value of an assessment (who, when, old -> new)."""

    assessment = models.ForeignKey(RobAssessment, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    field = models.CharField(max_length=40, help_text='e.g. "1.1", "1.1 support", "D1", "overall".')
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["assessment", "-at"], name="rob_change_assessment_at")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old!r} → {self.new!r}"
