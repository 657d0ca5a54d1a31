"""Forms of the reviews app (rendered with crispy-forms, Bootstrap 5)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from .models import ExclusionReason, Review, Search, SearchSchedule, Stage

User = get_user_model()

FORMAT_CHOICES = [
    ("ris", "RIS (EndNote, Embase, Ovid, Zotero, Mendeley)"),
    ("nbib", "PubMed MEDLINE / nbib"),
    ("bibtex", "BibTeX"),
    ("csv", "CSV"),
    ("endnote_xml", "EndNote XML"),
    ("wos", "Web of Science plain text (other reference software)"),
    ("wos_tab", "Web of Science tab-delimited"),
    ("ovid", "Ovid direct export (<1. > records, no TY)"),
]


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = [
            "title",
            "question",
            "population",
            "intervention",
            "comparator",
            "outcomes",
            "eligibility_criteria",
            "registration",
            "status",
            "data_sources",
        ]
        widgets = {
            name: forms.Textarea(attrs={"rows": 3})
            for name in ["question", "population", "intervention", "comparator", "outcomes"]
        } | {
            name: forms.Textarea(attrs={"rows": 6})
            for name in ["eligibility_criteria", "data_sources"]
        }


class ActivityFilterForm(forms.Form):
    """The Activity page's filters: a person, a kind, a date range (both ends included)."""

    person = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Person")
    kind = forms.ChoiceField(required=False, label="Kind")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, people: list[tuple[int, str]], kinds: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Everyone"), *people]
        self.fields["kind"].choices = [("", "Every kind"), *kinds.items()]
        for name, field in self.fields.items():
            css = "form-select" if name in ("person", "kind") else "form-control"
            field.widget.attrs["class"] = f"{css} form-control-sm"

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError("The end date comes before the start date.")
        return data


class ArchiveImportForm(forms.Form):
    archive = forms.FileField(
        label="Review archive (.zip)", help_text="A file exported from a review's settings page."
    )
    slug = forms.SlugField(
        required=False,
        max_length=80,
        label="Address of the new review",
        help_text="/reviews/<address>/ — empty: the archived review's, if it is free.",
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(required=False)
    username = forms.CharField(required=False, max_length=150, help_text="For an existing user.")
    is_lead = forms.BooleanField(required=False, label="Lead")
    is_reviewer = forms.BooleanField(required=False, initial=True, label="Reviewer")
    is_adjudicator = forms.BooleanField(required=False, label="Adjudicator")

    def clean(self):
        data = super().clean()
        if not (data.get("email") or data.get("username")):
            raise forms.ValidationError("Give an e-mail address or a username.")
        if not (data.get("is_lead") or data.get("is_reviewer") or data.get("is_adjudicator")):
            raise forms.ValidationError("Choose at least one role.")
        return data


class MembershipRolesForm(forms.Form):
    is_lead = forms.BooleanField(required=False, label="Lead")
    is_reviewer = forms.BooleanField(required=False, label="Reviewer")
    is_adjudicator = forms.BooleanField(required=False, label="Adjudicator")


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "email"]


class ExclusionReasonForm(forms.ModelForm):
    class Meta:
        model = ExclusionReason
        fields = ["stage", "label", "position", "active"]

    def __init__(self, *args, review: Review, **kwargs):
        super().__init__(*args, **kwargs)
        self.review = review
        self.fields["stage"].choices = Stage.choices

    def clean(self):
        data = super().clean()
        label, stage = data.get("label"), data.get("stage")
        duplicate = ExclusionReason.objects.filter(
            review=self.review, stage=stage, label__iexact=label or ""
        ).exclude(pk=self.instance.pk)
        if label and duplicate.exists():
            raise forms.ValidationError("This reason already exists for that stage.")
        return data


class ExclusionReasonEditForm(forms.ModelForm):
    """A reason's label, position and whether it is offered (its stage stays)."""

    class Meta:
        model = ExclusionReason
        fields = ["label", "position", "active"]


class SearchForm(forms.ModelForm):
    class Meta:
        model = Search
        fields = ["source", "source_detail", "date_run", "search_string", "hits_reported", "notes"]
        widgets = {
            "date_run": forms.DateInput(attrs={"type": "date"}),
            "search_string": forms.Textarea(attrs={"rows": 6, "class": "font-monospace"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }


class SearchScheduleForm(forms.ModelForm):
    class Meta:
        model = SearchSchedule
        fields = ["provider", "query", "every_days", "active"]
        widgets = {"query": forms.Textarea(attrs={"rows": 3, "class": "font-monospace"})}
        labels = {"every_days": "Run every (days)", "active": "Run on schedule"}


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        help_text="RIS (EndNote, Embase, Ovid...), PubMed nbib, BibTeX, CSV, EndNote XML, "
        "Web of Science plain text or tab-delimited, or an Ovid direct export."
    )
    format = forms.ChoiceField(
        choices=[("", "Detect from content")] + FORMAT_CHOICES, required=False
    )
    search = forms.ModelChoiceField(
        queryset=Search.objects.none(),
        required=False,
        help_text="The search this file came from: the export is a run of it (an update "
        "run when the search was imported before).",
    )
    date_run = forms.DateField(
        required=False,
        label="Run on",
        help_text="When this run of the search was done (empty: today).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    covers_from = forms.DateField(
        required=False,
        label="Covers from",
        help_text="First date the run covers (e.g. the day after the previous run).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    covers_to = forms.DateField(
        required=False, label="Covers to", widget=forms.DateInput(attrs={"type": "date"})
    )
    hits_reported = forms.IntegerField(
        required=False, min_value=0, label="Hits the source reported for this run"
    )

    def __init__(self, *args, review: Review, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.fields["search"].queryset = review.searches.all()

    def clean(self):
        data = super().clean()
        start, end = data.get("covers_from"), data.get("covers_to")
        if start and end and end < start:
            self.add_error("covers_to", "The run's dates end before they start.")
        return data

    def run_params(self) -> dict[str, str | int | None]:
        """The search run's fields as a job can keep them (dates as ISO text)."""
        data = self.cleaned_data
        return {
            "date_run": data["date_run"].isoformat() if data.get("date_run") else None,
            "covers_from": data["covers_from"].isoformat() if data.get("covers_from") else None,
            "covers_to": data["covers_to"].isoformat() if data.get("covers_to") else None,
            "hits_reported": data.get("hits_reported"),
        }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"The file is larger than {self.max_bytes // (1024 * 1024)} MB."
            )
        return upload


class CsvMappingForm(forms.Form):
    """Map the columns of a CSV with non-standard headers to record fields."""

    TARGETS = ["title", "abstract", "authors", "year", "journal", "doi", "pmid", "keywords"]

    def __init__(self, *args, headers: list[str], initial_mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— not in this file —")] + [(h, h) for h in headers]
        for target in self.TARGETS:
            self.fields[target] = forms.ChoiceField(
                choices=choices,
                required=target == "title",
                initial=initial_mapping.get(target, ""),
            )

    def mapping(self) -> dict[str, str]:
        return {t: h for t, h in self.cleaned_data.items() if h}
