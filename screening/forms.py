"""Forms of the screening app."""

from __future__ import annotations

from django import forms

from reviews.models import ExclusionReason, Review

from .keymap import ACTIONS, DEFAULT_KEYMAP
from .models import Decision, FinalDecision, PrismaExtra


class VoteForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices)
    reason = forms.IntegerField(required=False)
    note = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class AdjudicationForm(forms.Form):
    decision = forms.ChoiceField(choices=FinalDecision.choices, widget=forms.RadioSelect)
    reason = forms.ModelChoiceField(queryset=ExclusionReason.objects.none(), required=False)
    note = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, review: Review, stage: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].queryset = ExclusionReason.objects.filter(
            review=review, stage=stage, active=True
        )
        self.fields["reason"].label = "Exclusion reason" + (" (required)" if stage == "ft" else "")


class FullTextUploadForm(forms.Form):
    file = forms.FileField(
        label="Full-text PDF",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )


class CorrectionForm(forms.Form):
    title = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    authors = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="One author per line."
    )
    journal = forms.CharField(required=False, max_length=500)
    year = forms.IntegerField(required=False, min_value=1500, max_value=2100)
    doi = forms.CharField(required=False, max_length=255)
    abstract = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False)
    keywords = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Separated by semicolons.",
    )

    @classmethod
    def initial_for(cls, record) -> dict:
        return {
            "title": record.title,
            "authors": "\n".join(record.authors or []),
            "journal": record.journal,
            "year": record.year,
            "doi": record.doi,
            "abstract": record.abstract,
            "keywords": "; ".join(map(str, record.keywords or [])),
        }

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"].strip(),
            "authors": [a.strip() for a in data["authors"].splitlines() if a.strip()],
            "journal": data["journal"].strip(),
            "year": data["year"],
            "doi": data["doi"].strip(),
            "abstract": data["abstract"].strip(),
            "keywords": [k.strip() for k in data["keywords"].split(";") if k.strip()],
        }


class KeymapForm(forms.Form):
    """One text field per action: keys separated by spaces (e.g. "ArrowRight j")."""

    def __init__(self, *args, keymap: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for action, label in ACTIONS.items():
            self.fields[action] = forms.CharField(
                label=label,
                initial=" ".join(keymap.get(action, DEFAULT_KEYMAP[action])),
                max_length=60,
                help_text="Keys separated by spaces; e.g. i, ArrowRight.",
            )

    def keymap(self) -> dict:
        return {action: self.cleaned_data[action].split() for action in ACTIONS}


class ScreeningSettingsForm(forms.ModelForm):
    # The stopping rule's settings live on screening.StoppingRule; the view saves them
    # through services.stopping_rule_set.
    target_recall = forms.DecimalField(
        label="Stopping test: target recall (%)",
        min_value=50,
        max_value=99.9,
        decimal_places=1,
        required=False,
        help_text="Share of the relevant records the stopping test must find (default 95).",
    )
    confidence = forms.DecimalField(
        label="Stopping test: confidence (%)",
        min_value=50,
        max_value=99.9,
        decimal_places=1,
        required=False,
        help_text="How sure the test must be that the target recall is reached (default 95).",
    )

    class Meta:
        model = Review
        fields = ["votes_required", "blinded", "prioritise", "include_keywords", "exclude_keywords"]
        widgets = {
            "include_keywords": forms.Textarea(attrs={"rows": 5}),
            "exclude_keywords": forms.Textarea(attrs={"rows": 5}),
        }


class PrismaExtraForm(forms.ModelForm):
    other_sources_text = forms.CharField(
        label="Records identified from other methods",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line as “Source: n”, e.g. “Citation searching: 12”.",
    )
    other_reports_excluded_text = forms.CharField(
        label="Other methods: reports excluded",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line as “Reason: n”.",
    )

    class Meta:
        model = PrismaExtra
        fields = [
            "automation_excluded",
            "other_removed",
            "other_reports_sought",
            "other_reports_not_retrieved",
            "other_reports_assessed",
        ]
        labels = {
            "automation_excluded": "Records marked as ineligible by automation tools",
            "other_removed": "Records removed for other reasons",
            "other_reports_sought": "Other methods: reports sought for retrieval",
            "other_reports_not_retrieved": "Other methods: reports not retrieved",
            "other_reports_assessed": "Other methods: reports assessed for eligibility",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.fields["other_sources_text"].initial = _as_lines(self.instance.other_sources)
            self.fields["other_reports_excluded_text"].initial = _as_lines(
                self.instance.other_reports_excluded
            )

    def _parse(self, name: str) -> list[dict]:
        entries = []
        for i, line in enumerate(self.cleaned_data.get(name, "").splitlines(), start=1):
            if not line.strip():
                continue
            label, sep, n = line.rpartition(":")
            if not sep or not label.strip() or not n.strip().isdigit():
                raise forms.ValidationError(
                    f"Line {i}: write “Label: number”, got “{line.strip()}”."
                )
            entries.append({"label": label.strip(), "n": int(n.strip())})
        return entries

    def clean_other_sources_text(self) -> list[dict]:
        return self._parse("other_sources_text")

    def clean_other_reports_excluded_text(self) -> list[dict]:
        return self._parse("other_reports_excluded_text")

    def values(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        data["other_sources"] = self.cleaned_data["other_sources_text"]
        data["other_reports_excluded"] = self.cleaned_data["other_reports_excluded_text"]
        return data


def _as_lines(entries: list[dict]) -> str:
    return "\n".join(f"{e['label']}: {e['n']}" for e in entries or [])
