"""HTML pages of the api app: the user's own API tokens (a key is shown once), and a review's
exchange page (files for other tools; another tool's screening decisions brought in)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from reviews.access import review_view
from reviews.errors import DomainError
from reviews.models import ExclusionReason, ImportBatch, Role, Stage

from . import services
from .exchange import exports, revman_import, tools
from .models import ApiToken
from .views import export_response


def _page(request: HttpRequest, *, new_key: str = "", error: str = "", status: int = 200):
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "api/token_list.html",
        {"tokens": tokens, "new_key": new_key, "error": error},
        status=status,
    )


@never_cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    try:
        _token, key = services.token_create(user=request.user, name=request.POST.get("name", ""))
    except DomainError as exc:
        return _page(request, error=exc.message, status=exc.status)
    # Rendered, not redirected: the key is in this one response and stored nowhere.
    return _page(request, new_key=key)


@require_POST
@login_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens")


# --- A review's exchange page: files for other tools; decisions from other tools (leads) ------

EXPORT_LABELS = {
    "asreview.csv": (
        "ASReview labelled data set (CSV)",
        "record_id, title, abstract, authors, doi, label_included (1/0; empty while undecided "
        "at title/abstract) — for a simulation or a switch of tools.",
    ),
    "revman-characteristics.csv": (
        "RevMan Web: study characteristics (CSV)",
        "One row per study with a finalised consensus, one “Char:” column per form field.",
    ),
    "revman-continuous.csv": (
        "RevMan Web: continuous outcome data (CSV)",
        "Mean, SD and total per experimental and control arm, per study, outcome and timepoint.",
    ),
    "revman-dichotomous.csv": (
        "RevMan Web: dichotomous outcome data (CSV)",
        "Events and total per experimental and control arm, per study, outcome and timepoint.",
    ),
    "extraction.csv": (
        "The whole extraction, wide (CSV)",
        "One row per study, one column per form field with the form's labels (consensus values).",
    ),
    "extraction.xlsx": ("The whole extraction, wide (XLSX)", "The same as a spreadsheet."),
}


def _exchange_context(review, request, **extra) -> dict:
    batches = review.import_batches.filter(status=ImportBatch.Status.IMPORTED).order_by("-id")
    return {
        "review": review,
        "exports": [(name, *EXPORT_LABELS[name]) for name in exports.EXPORTS],
        "batches": batches,
        "tools": tools.TOOLS,
        "covidence_lists": list(tools.COVIDENCE_LISTS),
        "ft_reasons": ExclusionReason.objects.filter(
            review=review, stage=Stage.FULL_TEXT, active=True
        ),
        "reviewers": review.memberships.filter(
            Q(is_reviewer=True) | Q(is_lead=True)
        ).select_related("user"),
        **extra,
    }


@review_view()
def exchange(request: HttpRequest, review) -> HttpResponse:
    return render(request, "api/exchange.html", _exchange_context(review, request))


@review_view()
def exchange_download(request: HttpRequest, review, name: str) -> HttpResponse:
    return export_response(review, name)


@require_POST
@review_view(Role.LEAD)
def exchange_decisions(request: HttpRequest, review) -> HttpResponse:
    """Import another tool's screening decisions for an imported batch. A Rayyan export names
    its reviewers: the first post shows them to be mapped to members, the second imports."""
    post = request.POST
    batch = review.import_batches.filter(pk=post.get("batch") or 0).first()
    tool = post.get("tool", "")
    try:
        if batch is None:
            raise DomainError("Choose an imported file.")
        preview = services.decisions_preview(batch=batch, tool=tool)
        names = preview["reviewers"]
        if names and "mapped" not in post:
            context = _exchange_context(
                review, request, mapping={"batch": batch, "tool": tool, "names": names}
            )
            return render(request, "api/exchange.html", context)
        reviewers = {name: post.get(f"reviewer-{i}") or None for i, name in enumerate(names)}
        summary = services.decisions_import(
            batch=batch,
            actor=request.user,
            tool=tool,
            reviewers=reviewers,
            covidence_list=post.get("covidence_list", ""),
            ft_reason_id=post.get("ft_reason") or None,
        )
    except DomainError as exc:
        context = _exchange_context(review, request, error=exc.message)
        return render(request, "api/exchange.html", context, status=exc.status)
    messages.success(
        request,
        f"{tools.TOOLS[tool]} decisions imported: {summary['resolved']} final decisions, "
        f"{summary['votes']} reviewer votes; {len(summary['skipped'])} records skipped "
        "(decided here already).",
    )
    return redirect("api_pages:exchange", slug=review.slug)


@require_POST
@review_view(Role.LEAD)
def exchange_revman(request: HttpRequest, review) -> HttpResponse:
    """Upload a RevMan 5 file: the preview says what would be created and what not."""
    try:
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("Choose a RevMan 5 review file (.rm5).", field="file")
        plan, token = revman_import.revman_upload(review=review, upload=upload)
    except DomainError as exc:
        context = _exchange_context(review, request, revman_error=exc.message)
        return render(request, "api/exchange.html", context, status=exc.status)
    return render(
        request,
        "api/revman_preview.html",
        {"review": review, "plan": plan, "token": token, "filename": upload.name},
    )


@require_POST
@review_view(Role.LEAD)
def exchange_revman_confirm(request: HttpRequest, review) -> HttpResponse:
    try:
        summary = revman_import.revman_confirm(
            review=review, actor=request.user, token=request.POST.get("token", "")
        )
    except DomainError as exc:
        context = _exchange_context(review, request, revman_error=exc.message)
        return render(request, "api/exchange.html", context, status=exc.status)
    messages.success(
        request,
        f"RevMan file {summary['file']} imported: {summary['studies']} studies, "
        f"{summary['outcomes']} outcomes with {summary['values']} arm values, in "
        f"{summary['subdomains']} analyses; each study's consensus is final.",
    )
    return redirect("extraction:studies", slug=review.slug)
