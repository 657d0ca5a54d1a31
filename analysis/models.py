"""Analysis definitions: which consensus data to pool, and how.

An :class:`Analysis` selects outcome data by domain/subdomain, by a timepoint window the
lead defines (:class:`TimepointWindow`) and by study filters on extraction answers, and
stores the statistical settings. Results are never stored as truth: they are recomputed
from the consensus data and cached under a key derived from that data (see
``analysis.selectors``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.models import HistoryRow, Review

from .stats import METHODS


class TimepointKind(models.TextChoices):
    POST = "post", "Post-treatment"
    FOLLOW_UP = "follow_up", "Follow-up"
    ANY = "any", "Any timepoint"


class TimepointWindow(models.Model):
    """A named window of assessment times, e.g. "6 to 9 months" = follow-up, 24-43 weeks."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="analysis_windows")
    label = models.CharField(max_length=80)
    kind = models.CharField(max_length=10, choices=TimepointKind.choices)
    weeks_min = models.FloatField("from week", null=True, blank=True)
    weeks_max = models.FloatField("to week", null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "label"], name="analysis_window_unique_label"
            ),
            models.CheckConstraint(
                condition=Q(weeks_min__isnull=True) | Q(weeks_min__gte=0),
                name="analysis_window_weeks_min_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(weeks_min__isnull=True)
                | Q(weeks_max__isnull=True)
                | Q(weeks_max__gte=models.F("weeks_min")),
                name="analysis_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def description(self) -> str:
        """E.g. "follow-up, weeks 24-43" (what the window selects, for tables and methods)."""
        kind = {"post": "post-treatment", "follow_up": "follow-up", "any": "any timepoint"}[
            self.kind
        ]
        if self.weeks_min is None and self.weeks_max is None:
            return kind
        lo = "0" if self.weeks_min is None else f"{self.weeks_min:g}"
        hi = "…" if self.weeks_max is None else f"{self.weeks_max:g}"
        return f"{kind}, weeks {lo}\u2013{hi}"


class MultipleOutcomes(models.TextChoices):
    PREFERRED = "preferred", "Use the preferred instrument (subdomain's list), else the first"
    AVERAGE = "average", "Average the study's effect sizes"


class EffectsModel(models.TextChoices):
    """How a study's several effect sizes enter the model."""

    ONE_PER_STUDY = "one_per_study", "One effect per study (the rule above)"
    THREE_LEVEL = "three_level", "All effect sizes: three-level model (effects within studies)"


class EffectMeasure(models.TextChoices):
    SMD = "SMD", "Standardised mean difference (Hedges' g)"
    MD = "MD", "Mean difference"
    OR = "OR", "Odds ratio"
    RR = "RR", "Risk ratio"
    RD = "RD", "Risk difference"


DICHOTOMOUS_MEASURES = ("OR", "RR", "RD")


class PoolingMethod(models.TextChoices):
    """How studies are weighted; MH and Peto need events per arm (Peto: odds ratios only)."""

    INVERSE_VARIANCE = "IV", "Inverse variance (τ² estimator below)"
    MANTEL_HAENSZEL = "MH", "Mantel–Haenszel (common effect)"
    PETO = "PETO", "Peto (common effect, odds ratio)"


TAU2_CHOICES = [
    ("REML", "REML (restricted maximum likelihood)"),
    ("DL", "DerSimonian–Laird"),
    ("PM", "Paule–Mandel"),
    ("ML", "Maximum likelihood"),
    ("SJ", "Sidik–Jonkman"),
    ("HE", "Hedges"),
    ("FE", "None: common-effect model"),
]
assert {c for c, _ in TAU2_CHOICES} == set(METHODS)


class Analysis(models.Model):
    """One pooled analysis of a review (one table, one forest plot)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="analyses")
    title = models.CharField(max_length=200, help_text='E.g. "Primary outcome, post-treatment".')
    position = models.PositiveIntegerField(default=0)
    # What to pool
    domain = models.CharField(
        "outcome domain", max_length=120, blank=True, help_text="Empty: every domain."
    )
    subdomain = models.CharField(
        "outcome subdomain", max_length=120, blank=True, help_text="Empty: the whole domain."
    )
    window = models.ForeignKey(
        TimepointWindow,
        on_delete=models.PROTECT,
        related_name="main_analyses",
        help_text="When the outcome was assessed.",
    )
    long_term_windows = models.ManyToManyField(
        TimepointWindow, blank=True, related_name="long_term_analyses"
    )
    study_filters = models.JSONField(
        default=dict, blank=True, help_text="Consensus answers a study must have: {field: value}."
    )
    # How to pool
    effect_measure = models.CharField(max_length=10, choices=EffectMeasure.choices, default="SMD")
    pooling_method = models.CharField(
        "pooling method",
        max_length=4,
        choices=PoolingMethod.choices,
        default=PoolingMethod.INVERSE_VARIANCE,
        help_text="Mantel–Haenszel for OR/RR/RD, Peto for OR; otherwise inverse variance.",
    )
    tau2_method = models.CharField(
        "τ² estimator", max_length=4, choices=TAU2_CHOICES, default="REML"
    )
    hartung_knapp = models.BooleanField("Hartung–Knapp adjustment", default=True)
    min_studies = models.PositiveSmallIntegerField(
        "minimum studies to pool",
        default=5,
        help_text="Fewer studies: they are listed without a pooled estimate.",
    )
    min_per_subgroup = models.PositiveSmallIntegerField(
        "minimum studies per subgroup level", default=3
    )
    multiple_outcomes = models.CharField(
        "several outcomes from one study",
        max_length=10,
        choices=MultipleOutcomes.choices,
        default=MultipleOutcomes.PREFERRED,
    )
    subgroup_fields = models.JSONField(
        default=list, blank=True, help_text="Categorical extraction fields to compare."
    )
    effects_model = models.CharField(
        "effect sizes in the model",
        max_length=16,
        choices=EffectsModel.choices,
        default=EffectsModel.ONE_PER_STUDY,
    )
    robust_variance = models.BooleanField(
        "cluster-robust inference (CR2)",
        default=False,
        help_text="Standard errors valid whatever the dependence within studies "
        "(CR2, Satterthwaite df).",
    )
    moderators = models.JSONField(
        default=list,
        blank=True,
        help_text="Extraction fields (numeric or categorical) or 'rob': a meta-regression.",
    )
    show_specific_outcomes = models.BooleanField("specific outcomes", default=True)
    show_small_study = models.BooleanField("small-study bias (Egger, trim-and-fill)", default=True)
    show_outliers = models.BooleanField("outliers excluded", default=True)
    show_rob = models.BooleanField("risk-of-bias sensitivity", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "analyses"
        constraints = [
            models.UniqueConstraint(fields=["review", "title"], name="analysis_unique_title"),
            models.CheckConstraint(condition=Q(min_studies__gte=2), name="analysis_min_studies"),
            models.CheckConstraint(
                condition=Q(min_per_subgroup__gte=2), name="analysis_min_per_subgroup"
            ),
            models.CheckConstraint(
                condition=Q(tau2_method__in=list(METHODS)), name="analysis_tau2_method"
            ),
            # MH pools OR/RR/RD only, Peto odds ratios only
            models.CheckConstraint(
                condition=Q(pooling_method="IV")
                | Q(pooling_method="MH", effect_measure__in=DICHOTOMOUS_MEASURES)
                | Q(pooling_method="PETO", effect_measure="OR"),
                name="analysis_pooling_method_fits_measure",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AnalysisEvent(HistoryRow):
    """Audit trail of analysis definitions (created, changed, deleted) and windows."""

    analysis = models.ForeignKey(
        Analysis, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    action = models.CharField(max_length=30)
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.action} ({self.at:%Y-%m-%d %H:%M})"


from .certainty.models import *  # noqa: E402, F401, F403  (GRADE certainty, Summary of Findings)
from .versions.models import *  # noqa: E402, F401, F403
