"""Forms of the RoB 2 pages (crispy-forms, Bootstrap 5).

Answers and judgements are posted one at a time by htmx and checked by the
services (which know the RoB 2 rules); these forms only parse the few plain
inputs and the review's RoB settings.
"""

from __future__ import annotations

from django import forms

from .models import RobSettings


class RobSettingsForm(forms.ModelForm):
    class Meta:
        model = RobSettings
        fields = ["unit", "missing_threshold"]
        widgets = {"unit": forms.RadioSelect}

    def __init__(self, *args, locked_unit: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["missing_threshold"].widget.attrs.update({"min": 0, "max": 50, "step": 0.5})
        if locked_unit:
            self.fields["unit"].disabled = True
            self.fields[
                "unit"
            ].help_text = "Assessments have started, so the unit is fixed for this review."


class AnswerForm(forms.Form):
    question = forms.CharField(max_length=5)
    answer = forms.CharField(max_length=3, required=False)
    support = forms.CharField(required=False, max_length=5000, strip=True)


class SupportForm(forms.Form):
    question = forms.CharField(max_length=5)
    support = forms.CharField(required=False, max_length=5000)


class DomainJudgementForm(forms.Form):
    domain = forms.CharField(max_length=2)
    judgement = forms.CharField(max_length=15, required=False)
    justification = forms.CharField(required=False, max_length=5000)
    direction = forms.CharField(required=False, max_length=30)


class OverallJudgementForm(forms.Form):
    judgement = forms.CharField(max_length=15, required=False)
    justification = forms.CharField(required=False, max_length=5000)


class NoteForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say what needs deciding."},
    )
