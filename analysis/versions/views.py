"""Pages of published versions: list and publish, one version, two side by side."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from reviews.access import review_view
from reviews.errors import DomainError
from reviews.models import Role

from . import selectors, services


@review_view()
def version_list(request: HttpRequest, review) -> HttpResponse:
    versions = list(selectors.versions_for(review))
    return render(
        request,
        "analysis/versions/version_list.html",
        {"review": review, "versions": versions},
    )


@require_POST
@review_view(Role.LEAD)
def version_publish(request: HttpRequest, review) -> HttpResponse:
    version = services.version_publish(
        review=review, actor=request.user, note=request.POST.get("note", "")
    )
    messages.success(request, f"Version {version.number} published.")
    return redirect("analysis:version_detail", slug=review.slug, number=version.number)


@review_view()
def version_detail(request: HttpRequest, review, number: int) -> HttpResponse:
    version = get_object_or_404(review.versions.select_related("published_by"), number=number)
    return render(
        request,
        "analysis/versions/version_detail.html",
        {"review": review, "version": version, "snapshot": version.snapshot},
    )


def _number(request: HttpRequest, name: str) -> int:
    try:
        return int(request.GET.get(name, ""))
    except ValueError:
        raise DomainError("Choose two versions to compare.") from None


@review_view()
def version_compare(request: HttpRequest, review) -> HttpResponse:
    older = get_object_or_404(review.versions, number=_number(request, "a"))
    newer = get_object_or_404(review.versions, number=_number(request, "b"))
    return render(
        request,
        "analysis/versions/version_compare.html",
        {"review": review, "comparison": selectors.version_compare(older, newer)},
    )
