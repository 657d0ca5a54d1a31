"""Forms of the analysis app; choices come from the review's extraction vocabulary."""

from __future__ import annotations

from typing import Any

from django import forms

from . import data
from .models import (
    TAU2_CHOICES,
    Analysis,
    EffectMeasure,
    EffectsModel,
    MultipleOutcomes,
    PoolingMethod,
    TimepointKind,
    TimepointWindow,
)

FILTER_PREFIX = "filter_"


class AnalysisForm(forms.Form):
    title = forms.CharField(
        max_length=200,
        help_text='As the table caption names it, e.g. "Primary outcome, post-treatment".',
    )
    outcome = forms.ChoiceField(
        label="Outcomes",
        help_text="A domain pools every subdomain in it (specific outcomes are then listed too).",
    )
    window = forms.ModelChoiceField(
        queryset=TimepointWindow.objects.none(), label="Timepoint", empty_label=None
    )
    long_term_windows = forms.ModelMultipleChoiceField(
        queryset=TimepointWindow.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Long-term windows (extra rows)",
    )
    effect_measure = forms.ChoiceField(
        choices=EffectMeasure.choices,
        initial=EffectMeasure.SMD,
        label="Effect measure",
        required=False,
        help_text="Only measures the extracted data can give are offered.",
    )
    pooling_method = forms.ChoiceField(
        choices=PoolingMethod.choices,
        initial=PoolingMethod.INVERSE_VARIANCE,
        label="Pooling method",
        required=False,
        help_text="Mantel–Haenszel for OR/RR/RD, Peto for OR; inverse variance for any measure.",
    )
    tau2_method = forms.ChoiceField(choices=TAU2_CHOICES, initial="REML", label="τ² estimator")
    hartung_knapp = forms.BooleanField(
        required=False, initial=True, label="Hartung–Knapp adjustment"
    )
    multiple_outcomes = forms.ChoiceField(
        choices=MultipleOutcomes.choices,
        initial="preferred",
        label="Several outcomes from one study",
    )
    min_studies = forms.IntegerField(
        min_value=2, max_value=50, initial=5, label="Minimum studies to pool"
    )
    min_per_subgroup = forms.IntegerField(
        min_value=2, max_value=50, initial=3, label="Minimum studies per subgroup level"
    )
    subgroup_fields = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Subgroup variables"
    )
    effects_model = forms.ChoiceField(
        choices=EffectsModel.choices,
        initial=EffectsModel.ONE_PER_STUDY,
        required=False,
        widget=forms.RadioSelect,
        label="How a study's several effect sizes enter the model",
        help_text="The three-level model keeps every effect at the study's timepoint "
        "(metafor rma.mv, random = ~ 1 | study/es); the table rows keep one per study. "
        "Any measure pooled by inverse variance; a mean difference keeps the comparisons "
        "of each study's preferred instrument (raw means of different instruments share "
        "no scale).",
    )
    robust_variance = forms.BooleanField(
        required=False,
        label="Cluster-robust inference by study (CR2, Satterthwaite df)",
    )
    moderators = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Moderators (meta-regression)",
        help_text="Numeric and categorical extraction fields, or the risk of bias.",
    )
    show_specific_outcomes = forms.BooleanField(
        required=False, initial=True, label="Specific outcomes"
    )
    show_small_study = forms.BooleanField(
        required=False, initial=True, label="Small-study bias (Egger, trim-and-fill)"
    )
    show_outliers = forms.BooleanField(required=False, initial=True, label="Outliers excluded")
    show_rob = forms.BooleanField(required=False, initial=True, label="Risk-of-bias sensitivity")

    def __init__(self, *args: Any, review, analysis: Analysis | None = None, **kwargs: Any) -> None:
        if analysis is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_for(analysis)
        super().__init__(*args, **kwargs)
        self.review = review
        windows = TimepointWindow.objects.filter(review=review)
        self.fields["window"].queryset = windows
        self.fields["long_term_windows"].queryset = windows.filter(kind=TimepointKind.FOLLOW_UP)
        choices: list[Any] = [("", "All outcome domains")]
        for domain, subs in data.outcome_domains(review):
            group = [(f"d:{domain}", f"{domain} (whole domain)")]
            group += [(f"s:{domain}:{sub}", sub) for sub in subs]
            choices.append((domain, group))
        self.fields["outcome"].choices = choices
        self.fields["outcome"].required = False
        offered = set(data.measures_available(review))
        if analysis is not None:
            offered.add(analysis.effect_measure)
        self.fields["effect_measure"].choices = [
            (value, label) for value, label in EffectMeasure.choices if value in offered
        ]
        categorical = data.categorical_fields(review)
        self.fields["subgroup_fields"].choices = [(k, label) for k, label, _ in categorical]
        self.fields["moderators"].choices = [
            (k, f"{label} ({kind})") for k, label, kind in data.moderator_fields(review)
        ]
        self.filter_names = []
        for key, label, options in categorical:
            name = FILTER_PREFIX + key
            self.fields[name] = forms.ChoiceField(
                label=label, required=False, choices=[("", "Any")] + [(o, o) for o in options]
            )
            self.filter_names.append(name)

    def clean(self):
        c = super().clean()
        # absent from a post: the defaults, so nothing that exists changes
        c["effect_measure"] = measure = c.get("effect_measure") or EffectMeasure.SMD
        c["pooling_method"] = method = c.get("pooling_method") or PoolingMethod.INVERSE_VARIANCE
        if method == PoolingMethod.MANTEL_HAENSZEL and measure not in ("OR", "RR", "RD"):
            self.add_error(
                "pooling_method",
                "Mantel–Haenszel pools odds ratios, risk ratios or risk differences.",
            )
        if method == PoolingMethod.PETO and measure != EffectMeasure.OR:
            self.add_error("pooling_method", "Peto's method pools odds ratios only.")
        return c

    def filter_fields(self):
        return [self[name] for name in self.filter_names]

    def main_fields(self):
        names = ("title", "outcome", "window", "long_term_windows")
        return [self[n] for n in names]

    def model_fields(self):
        names = (
            "effect_measure",
            "pooling_method",
            "tau2_method",
            "multiple_outcomes",
            "min_studies",
            "min_per_subgroup",
        )
        return [self[n] for n in names]

    def dependence_fields(self):
        return [self[n] for n in ("effects_model", "robust_variance", "moderators")]

    def block_fields(self):
        names = (
            "hartung_knapp",
            "show_specific_outcomes",
            "show_small_study",
            "show_outliers",
            "show_rob",
        )
        return [self[n] for n in names]

    def values(self) -> dict[str, Any]:
        """The cleaned data as ``services.analysis_save(values=...)`` takes it."""
        c = self.cleaned_data
        outcome = c.get("outcome") or ""
        domain = subdomain = ""
        if outcome.startswith("d:"):
            domain = outcome[2:]
        elif outcome.startswith("s:"):
            domain, subdomain = outcome[2:].split(":", 1)
        return {
            "title": c["title"],
            "domain": domain,
            "subdomain": subdomain,
            "window": c["window"],
            "study_filters": {
                name[len(FILTER_PREFIX) :]: c[name] for name in self.filter_names if c.get(name)
            },
            "effect_measure": c["effect_measure"],
            "pooling_method": c["pooling_method"],
            "tau2_method": c["tau2_method"],
            "hartung_knapp": c["hartung_knapp"],
            "min_studies": c["min_studies"],
            "min_per_subgroup": c["min_per_subgroup"],
            "multiple_outcomes": c["multiple_outcomes"],
            "subgroup_fields": list(c.get("subgroup_fields") or []),
            "effects_model": c.get("effects_model") or EffectsModel.ONE_PER_STUDY,
            "robust_variance": bool(c.get("robust_variance")),
            "moderators": list(c.get("moderators") or []),
            "show_specific_outcomes": c["show_specific_outcomes"],
            "show_small_study": c["show_small_study"],
            "show_outliers": c["show_outliers"],
            "show_rob": c["show_rob"],
        }


def initial_for(analysis: Analysis) -> dict[str, Any]:
    if analysis.subdomain:
        outcome = f"s:{analysis.domain}:{analysis.subdomain}"
    elif analysis.domain:
        outcome = f"d:{analysis.domain}"
    else:
        outcome = ""
    initial = {
        "title": analysis.title,
        "outcome": outcome,
        "window": analysis.window_id,
        "long_term_windows": list(analysis.long_term_windows.values_list("pk", flat=True)),
        "effect_measure": analysis.effect_measure,
        "pooling_method": analysis.pooling_method,
        "tau2_method": analysis.tau2_method,
        "hartung_knapp": analysis.hartung_knapp,
        "multiple_outcomes": analysis.multiple_outcomes,
        "min_studies": analysis.min_studies,
        "min_per_subgroup": analysis.min_per_subgroup,
        "subgroup_fields": analysis.subgroup_fields,
        "effects_model": analysis.effects_model,
        "robust_variance": analysis.robust_variance,
        "moderators": analysis.moderators,
        "show_specific_outcomes": analysis.show_specific_outcomes,
        "show_small_study": analysis.show_small_study,
        "show_outliers": analysis.show_outliers,
        "show_rob": analysis.show_rob,
    }
    for key, value in (analysis.study_filters or {}).items():
        initial[FILTER_PREFIX + key] = value
    return initial


class WindowForm(forms.Form):
    label = forms.CharField(max_length=80)
    kind = forms.ChoiceField(choices=TimepointKind.choices)
    weeks_min = forms.FloatField(required=False, min_value=0, label="From week")
    weeks_max = forms.FloatField(required=False, min_value=0, label="To week")

    def clean(self):
        c = super().clean()
        lo, hi = c.get("weeks_min"), c.get("weeks_max")
        if lo is not None and hi is not None and hi < lo:
            self.add_error("weeks_max", "The window ends before it starts.")
        return c
