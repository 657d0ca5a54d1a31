"""Forms of GRADE certainty and SoF tables (parsing only; the services check the rest)."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import CertaintyAssessment, Rating, SofRow, SofTable
from .rules import DOMAINS


class RatingForm(forms.Form):
    """The lead's final rating per domain (a reason where it departs from the suggestion),
    upgrades for non-randomised evidence, thresholds and the statement's words."""

    outcome_label = forms.CharField(
        label="Outcome (as the SoF table names it)", max_length=200, required=False
    )
    intervention = forms.CharField(
        max_length=120, required=False, help_text='For the statement, e.g. "peer support".'
    )
    thresholds = forms.CharField(
        label="Decision thresholds",
        max_length=120,
        required=False,
        help_text="Natural scale, comma separated (e.g. −0.2, 0, 0.2 or 0.75, 1, 1.25); "
        "empty: the null and the default MID.",
    )
    large_effect = forms.TypedChoiceField(
        choices=[(0, "No"), (1, "+1"), (2, "+2")], coerce=int, initial=0, required=False
    )
    dose_response = forms.TypedChoiceField(
        choices=[(0, "No"), (1, "+1")], coerce=int, initial=0, required=False
    )
    confounding = forms.TypedChoiceField(
        label="Plausible confounding",
        choices=[(0, "No"), (1, "+1")],
        coerce=int,
        initial=0,
        required=False,
    )
    upgrade_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, suggestions: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label in DOMAINS.items():
            self.fields[key] = forms.ChoiceField(
                label=label, choices=Rating.choices, initial=suggestions.get(key, Rating.NO)
            )
            self.fields[f"{key}_reason"] = forms.CharField(
                label=f"Reason ({label.lower()})",
                widget=forms.Textarea(attrs={"rows": 2}),
                required=False,
            )
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault(
                "class", "form-select form-select-sm" if select else "form-control form-control-sm"
            )

    @classmethod
    def initial_from(cls, assessment: CertaintyAssessment | None) -> dict[str, Any]:
        if assessment is None:
            return {}
        out: dict[str, Any] = {
            "outcome_label": assessment.outcome_label,
            "intervention": assessment.intervention,
            "thresholds": ", ".join(f"{t:g}" for t in assessment.thresholds),
            "large_effect": assessment.large_effect,
            "dose_response": assessment.dose_response,
            "confounding": assessment.confounding,
            "upgrade_reason": assessment.upgrade_reason,
        }
        for d in assessment.domains.all():
            out[d.domain] = d.final
            out[f"{d.domain}_reason"] = d.reason
        return out

    def clean_thresholds(self) -> list[float]:
        text = self.cleaned_data.get("thresholds", "").replace("\u2212", "-")
        out = []
        for part in (p.strip() for p in text.replace(";", ",").split(",")):
            if not part:
                continue
            try:
                out.append(float(part))
            except ValueError:
                raise forms.ValidationError(f"“{part}” is not a number.") from None
        return out

    def finals(self) -> dict[str, tuple[str, str]]:
        return {k: (self.cleaned_data[k], self.cleaned_data[f"{k}_reason"]) for k in DOMAINS}

    def upgrades(self) -> dict[str, int]:
        return {
            k: self.cleaned_data.get(k) or 0
            for k in ("large_effect", "dose_response", "confounding")
        }


class SofTableForm(forms.ModelForm):
    class Meta:
        model = SofTable
        fields = ["title", "population", "setting", "intervention", "comparison"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control form-control-sm")

    def validate_unique(self) -> None:
        """Uniqueness is the service's to answer (a 409 naming the title)."""


class SofRowForm(forms.Form):
    timepoint = forms.CharField(max_length=120, required=False)
    assumed_risk = forms.FloatField(
        label="Assumed control risk per 1,000",
        required=False,
        help_text="Dichotomous outcomes; empty: the risk in the control arms.",
    )
    scale_name = forms.CharField(label="Named scale", max_length=120, required=False)
    scale_sd = forms.FloatField(label="SD of the scale", required=False)
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control form-control-sm")

    @staticmethod
    def initial_from(row: SofRow) -> dict[str, Any]:
        return {
            "timepoint": row.timepoint,
            "assumed_risk": row.assumed_risk,
            "scale_name": row.scale_name,
            "scale_sd": row.scale_sd,
            "comments": row.comments,
        }
