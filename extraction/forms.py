"""Forms of the extraction app (crispy-forms, Bootstrap 5)."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout
from django import forms

from .models import (
    Arm,
    ExtractionSettings,
    FormTemplate,
    Outcome,
    OutcomeSubdomain,
    Study,
    Timepoint,
)
from .schema import FIELD_TYPES

YES_NO = [("", "Not reported"), ("yes", "Yes"), ("no", "No")]


def _initial(field: dict, value: Any) -> Any:
    if field["type"] == "yes_no":
        return {True: "yes", False: "no"}.get(value, "")
    if field["type"] in ("number", "integer") and value is not None:
        return f"{value:g}" if isinstance(value, float) else value
    return value


class AnswersForm(forms.Form):
    """The extraction form built from a template version; answers are checked by the service.

    Every field is optional while a draft is saved; `enforce_required` marks the
    template's required fields for submission.
    """

    use_required_attribute = False

    def __init__(
        self,
        template: FormTemplate,
        *args: Any,
        answers: dict | None = None,
        enforce_required: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        answers = answers or {}
        fieldsets = []
        for section in template.schema["sections"]:
            names = []
            for f in section["fields"]:
                self.fields[f["key"]] = self._field(f, enforce_required)
                self.fields[f["key"]].initial = _initial(f, answers.get(f["key"]))
                names.append(f["key"])
            fieldsets.append(Fieldset(section["title"], *names, css_class="form-section"))
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(*fieldsets)

    @staticmethod
    def _field(f: dict, enforce_required: bool) -> forms.Field:
        common = {
            "label": f["label"],
            "help_text": f.get("help", ""),
            "required": f["required"] and enforce_required,
        }
        ftype = f["type"]
        if ftype == "long_text":
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
        if ftype in ("number", "integer"):
            # Text, not type=number: the browser would silently drop "12,5"; the service
            # answers with a message on the field instead.
            attrs = {
                "inputmode": "decimal" if ftype == "number" else "numeric",
                "class": "num-input",
            }
            return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)
        if ftype == "yes_no":
            return forms.ChoiceField(
                choices=YES_NO,
                widget=forms.RadioSelect(attrs={"class": "form-check-inline"}),
                **common,
            )
        if ftype == "single_choice":
            return forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in f["choices"]], **common)
        if ftype == "multiple_choice":
            return forms.MultipleChoiceField(
                choices=[(c, c) for c in f["choices"]],
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
        if ftype == "date":
            return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        return forms.CharField(max_length=2000, **common)

    def raw_answers(self) -> dict[str, Any]:
        """The submitted values as the service expects them (lists for multiple choice)."""
        out: dict[str, Any] = {}
        for key, field in self.fields.items():
            if isinstance(field, forms.MultipleChoiceField):
                out[key] = (
                    self.data.getlist(key)
                    if hasattr(self.data, "getlist")
                    else self.data.get(key, [])
                )
            else:
                out[key] = self.data.get(key, "")
        return out


class StudyRenameForm(forms.ModelForm):
    class Meta:
        model = Study
        fields = ["label"]


class StudyMergeForm(forms.Form):
    sources = forms.ModelMultipleChoiceField(
        queryset=Study.objects.none(),
        label="Merge these studies into this one",
        widget=forms.CheckboxSelectMultiple,
    )
    label = forms.CharField(required=False, max_length=200, label="Name of the merged study")

    def __init__(self, *args: Any, study: Study, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sources"].queryset = study.review.studies.exclude(pk=study.pk)


class ArmForm(forms.ModelForm):
    class Meta:
        model = Arm
        fields = ["name", "role", "n_randomised"]


class OutcomeForm(forms.ModelForm):
    class Meta:
        model = Outcome
        fields = ["name", "subdomain", "instrument", "direction"]

    def __init__(self, *args: Any, review, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subdomain"].queryset = OutcomeSubdomain.objects.filter(
            domain__review=review
        ).select_related("domain")
        self.fields["subdomain"].label = "Domain / subdomain"


class TimepointForm(forms.ModelForm):
    class Meta:
        model = Timepoint
        fields = ["label", "weeks", "kind"]
        widgets = {"weeks": forms.NumberInput(attrs={"step": "any", "min": 0})}


class ExtractionSettingsForm(forms.ModelForm):
    class Meta:
        model = ExtractionSettings
        fields = ["mode", "multi_arm_rule"]
        widgets = {"mode": forms.RadioSelect, "multi_arm_rule": forms.RadioSelect}


class SubdomainForm(forms.Form):
    domain_name = forms.CharField(max_length=120, label="Domain")
    name = forms.CharField(max_length=120, label="Subdomain")
    preferred_instruments = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, most preferred first.",
    )


class TemplateForm(forms.Form):
    """The builder posts the whole template as JSON; the service validates it."""

    schema = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "font-monospace small"})
    )


FIELD_TYPE_CHOICES = list(FIELD_TYPES.items())
