"""PRISMA 2020 counts derived from the data at request time.

Extraction groups reports into studies; screening cannot import it (dependencies run
reviews <- screening <- extraction), so extraction registers a provider here:

    from screening.prisma import register_included_studies_provider
    register_included_studies_provider(my_function)  # in ExtractionConfig.ready()

``my_function(review)`` returns ``(studies_included, reports_of_included_studies)`` or
``None`` when it has nothing to say for that review. Until a provider answers, every
included report counts as one study.

An updated review (one in an update round, ``Review.round > 1``) is drawn with PRISMA's
template for updated reviews once the analysis app, which keeps published versions, says
what the last version published before this round included
(``register_previous_version_provider``: ``my_function(review)`` returns ``(studies,
reports)`` or ``None``). The flow then counts the current round only: its imports, their
duplicates (records found again are duplicates of the ones the review held), their
screening and the studies they added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count

from reviews.models import Review, Stage
from reviews.selectors import identification_counts, records_unique

from .models import FinalDecision, PrismaExtra, Resolution, ScreeningItem
from .prisma_render import PrismaCounts
from .selectors import team_snapshot

IncludedStudiesProvider = Callable[[Any], "tuple[int, int] | None"]
_providers: list[IncludedStudiesProvider] = []
_previous_providers: list[IncludedStudiesProvider] = []


def register_previous_version_provider(provider: IncludedStudiesProvider) -> None:
    """Register a function giving what the review's previous version included."""
    if all(existing is not provider for existing in _previous_providers):
        _previous_providers.append(provider)


def _previous(review: Review) -> tuple[int, int] | None:
    for provider in _previous_providers:
        answer = provider(review)
        if answer is not None:
            return int(answer[0]), int(answer[1])
    return None


def register_included_studies_provider(provider: IncludedStudiesProvider) -> None:
    """Register a function giving (studies included, reports of included studies)."""
    if all(existing is not provider for existing in _providers):
        _providers.append(provider)


def unregister_included_studies_provider(provider: IncludedStudiesProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def _studies(review: Review, reports_included: int) -> tuple[int, int, str]:
    for provider in _providers:
        answer = provider(review)
        if answer is not None:
            studies, reports = answer
            return int(studies), int(reports), "extraction"
    return reports_included, reports_included, "screening"


def prisma_counts(review: Review, *, update: bool = True) -> PrismaCounts:
    """Every number of the PRISMA 2020 diagram, from the data as it is now.

    In an update round with a previous version (and ``update``), the template for updated
    reviews: the current round's flow, the previous version's studies and the totals.
    Otherwise the whole review as one flow (the template for new reviews).
    """
    previous = _previous(review) if update and review.round > 1 else None
    round_ = review.round if previous is not None else None
    ident = identification_counts(review, round_=round_)
    # Records imported from other-methods searches are screened with the rest, so they
    # are identified in the main column, labelled by their source.
    sources = [*ident["databases"], *ident["other_methods"]]
    resolutions = Resolution.objects.filter(review=review, record__duplicate_of__isnull=True)
    screened = records_unique(review)
    not_retrieved = ScreeningItem.objects.filter(
        review=review,
        stage=Stage.FULL_TEXT,
        active=True,
        status=ScreeningItem.Status.NOT_RETRIEVED,
    )
    if round_ is not None:
        resolutions = resolutions.filter(record__batch__round=round_)
        screened = screened.filter(batch__round=round_)
        not_retrieved = not_retrieved.filter(record__batch__round=round_)
    ta = dict(
        resolutions.filter(stage=Stage.TITLE_ABSTRACT)
        .values_list("decision")
        .annotate(n=Count("id"))
        .values_list("decision", "n")
    )
    ft = resolutions.filter(stage=Stage.FULL_TEXT)
    excluded_by_reason = list(
        ft.filter(decision=FinalDecision.EXCLUDE)
        .values("reason__label", "reason__position", "reason_id")
        .annotate(n=Count("id"))
        .order_by("reason__position", "reason_id")
    )
    reports_included = ft.filter(decision=FinalDecision.INCLUDE).count()
    reports_sought = ta.get(FinalDecision.INCLUDE, 0)
    n_not_retrieved = not_retrieved.count()
    kwargs: dict[str, Any] = {}
    if previous is None:
        studies, reports, _ = _studies(review, reports_included)
        kwargs = _extra(review)
    else:
        total_studies, total_reports, source = _studies(review, reports_included)
        studies, reports = reports_included, reports_included
        if source == "extraction":  # studies group reports: new = now - before
            studies = max(total_studies - previous[0], 0)
            reports = max(total_reports - previous[1], 0)
        kwargs = {"previous_studies": previous[0], "previous_reports": previous[1]}
    return PrismaCounts(
        sources=sources,
        duplicates_removed=ident["duplicates_removed"],
        # The whole review's unique records come from the running totals (ident); an
        # update round's are counted.
        records_screened=screened.count() if round_ is not None else ident["records_after_dedup"],
        records_excluded=ta.get(FinalDecision.EXCLUDE, 0),
        reports_sought=reports_sought,
        reports_not_retrieved=n_not_retrieved,
        reports_assessed=reports_sought - n_not_retrieved,
        reports_excluded=[(row["reason__label"], row["n"]) for row in excluded_by_reason],
        studies_included=studies,
        reports_included=reports,
        **kwargs,
    )


def _extra(review: Review) -> dict[str, Any]:
    """The counts a lead entered (PrismaExtra), for the whole review's diagram.

    An update's diagram leaves them out: they were entered for the review as a whole.
    """
    extra = PrismaExtra.objects.filter(review=review).first()
    if extra is None:
        return {}
    kwargs: dict[str, Any] = {
        "automation_excluded": extra.automation_excluded,
        "other_removed": extra.other_removed,
        "other_sources": [(e["label"], e["n"]) for e in extra.other_sources],
    }
    if extra.other_sources:
        kwargs |= {
            "other_reports_sought": extra.other_reports_sought,
            "other_reports_not_retrieved": extra.other_reports_not_retrieved,
            "other_reports_assessed": extra.other_reports_assessed,
            "other_reports_excluded": (
                [(e["label"], e["n"]) for e in extra.other_reports_excluded]
                if extra.other_reports_excluded or extra.other_reports_assessed is not None
                else None
            ),
        }
    return kwargs


def prisma_pending(review: Review) -> dict[str, int]:
    """Records still in screening, so the page can say why the counts do not add up yet
    (from the stages' cached item counts: a count of them is a scan of a big review's)."""
    return {
        "ta": team_snapshot(review, Stage.TITLE_ABSTRACT)["pending"],
        "ft": team_snapshot(review, Stage.FULL_TEXT)["pending"],
    }
