"""django-filter filter sets of the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from reviews.models import Record
from screening.models import FinalDecision, ScreeningItem

from .selectors import NOT_AT_STAGE

STATUS_CHOICES = [*ScreeningItem.Status.choices, (NOT_AT_STAGE, "Not at this stage")]
DECISION_CHOICES = [*FinalDecision.choices, ("none", "Not resolved")]


class RecordFilter(django_filters.FilterSet):
    """Filters on the annotations of `api.selectors.records_for` (already blinded)."""

    q = django_filters.CharFilter(method="search", label="Search text (title, abstract, DOI, PMID)")
    duplicate = django_filters.BooleanFilter(
        field_name="duplicate_of", lookup_expr="isnull", exclude=True, label="Linked as duplicate"
    )
    ta_status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, label="Title/abstract status")
    ft_status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, label="Full-text status")
    ta_decision = django_filters.ChoiceFilter(
        choices=DECISION_CHOICES, method="decision", label="Title/abstract final decision"
    )
    ft_decision = django_filters.ChoiceFilter(
        choices=DECISION_CHOICES, method="decision", label="Full-text final decision"
    )
    year = django_filters.NumberFilter()
    batch = django_filters.NumberFilter(field_name="batch_id", label="Import batch id")

    class Meta:
        model = Record
        fields = ["q", "duplicate", "ta_status", "ft_status", "ta_decision", "ft_decision"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(abstract__icontains=value)
            | Q(doi__iexact=value)
            | Q(pmid=value)
        )

    def decision(self, queryset, name, value):
        return queryset.filter(**{name: "" if value == "none" else value})
