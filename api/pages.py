"""HTML pages of the api app: the user's own API tokens (a key is shown once), and a review's
exchange page (files for other tools; another tool's screening decisions brought in)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from reviews import services as review_services
from reviews.access import review_view
from reviews.errors import DomainError
from reviews.models import ExclusionReason, ImportBatch, Job, Role, Stage

from . import services
from . import tasks as api_tasks
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
    "revman-web-study-information.csv": (
        "RevMan Web: Study information (CSV)",
        "One row per study with a finalised consensus: Study ID, Year and a “Char:” column per "
        "form field.",
    ),
    "revman-web-study-arms.csv": (
        "RevMan Web: Study arms (CSV)",
        "One row per arm of each study: Study ID, Arm and the Intervention it maps to.",
    ),
    "revman-web-study-results.csv": (
        "RevMan Web: Study results (CSV)",
        "One row per arm: events and total, or mean, SD (or SE or 95% CI) and total, per "
        "study, outcome and timepoint.",
    ),
    "revman-web-risk-of-bias.csv": (
        "RevMan Web: Risk of bias (CSV)",
        "RoB 2 final consensus, one row per assessed result: each domain's judgement and "
        "support, and the overall judgement.",
    ),
    "extraction.csv": (
        "The whole extraction, wide (CSV)",
        "One row per study, one column per form field with the form's labels (consensus values).",
    ),
    "extraction.xlsx": ("The whole extraction, wide (XLSX)", "The same as a spreadsheet."),
}


def _exchange_context(review, request, **extra) -> dict:
    batches = review.import_batches.filter(status=ImportBatch.Status.IMPORTED).order_by("-id")
    lead = request.membership.can_manage
    return {
        "review": review,
        "exports": [(name, *EXPORT_LABELS[name]) for name in exports.EXPORTS],
        "batches": batches,
        "tools": tools.TOOLS,
        "formats": [(tools.TOOLS[t], versions) for t, versions in tools.FORMATS.items()],
        "revman_formats": revman_import.FORMATS,
        "covidence_lists": [(k, label) for k, (label, _, _) in tools.COVIDENCE_LISTS.items()],
        "rayyan_rounds": tools.RAYYAN_ROUNDS,
        "ft_reasons": ExclusionReason.objects.filter(
            review=review, stage=Stage.FULL_TEXT, active=True
        ),
        "reviewers": review.memberships.filter(
            Q(is_reviewer=True) | Q(is_lead=True)
        ).select_related("user"),
        "imports": (review.decisions_imports.select_related("batch", "actor")[:20] if lead else []),
        **extra,
    }


@review_view()
def exchange(request: HttpRequest, review) -> HttpResponse:
    return render(request, "api/exchange.html", _exchange_context(review, request))


@review_view()
def exchange_download(request: HttpRequest, review, name: str) -> HttpResponse:
    return export_response(review, name)


def _decisions_options(post) -> dict:
    """The lead's choices in the decisions form, as `decisions_import` takes them."""
    names = post.getlist("name")
    return {
        "tool": post.get("tool", ""),
        # The mapping is posted once the preview has shown the names; before, it is guessed.
        "reviewers": (
            {name: post.get(f"reviewer-{i}") or None for i, name in enumerate(names)}
            if "mapped" in post
            else None
        ),
        "covidence_list": post.get("covidence_list", ""),
        "ft_reason_id": post.get("ft_reason") or None,
        "rayyan_rounds": post.get("rayyan_rounds") or tools.ROUNDS_LAST,
        "create_reasons": post.get("create_reasons") == "1",
    }


def _preview(batch, options: dict, report: dict, job_id: int | None = None) -> dict:
    names = [(name, report["mapping"].get(name) or "") for name in report.get("reviewers", [])]
    return {"batch": batch, "options": options, "report": report, "names": names, "job": job_id}


def _preview_job(review, job_id: Any) -> Job | None:
    return (
        review.jobs.filter(
            pk=job_id, kind=api_tasks.DECISIONS_PREVIEW, status=Job.Status.SUCCEEDED
        ).first()
        if str(job_id or "").isdigit()
        else None
    )


@require_POST
@review_view(Role.LEAD)
def exchange_decisions(request: HttpRequest, review) -> HttpResponse:
    """Another tool's screening decisions for an imported batch: a post without `confirm`
    previews them (what would be written, what not and why, the reviewers to map, how
    rounds and reasons map), one with `confirm` imports them; both run as jobs whose page
    follows to the preview or to the import's report. What the import would refuse is
    said at once, beside the preview it came from."""
    batch = review.import_batches.filter(pk=request.POST.get("batch") or 0).first()
    options = _decisions_options(request.POST)
    confirm = "confirm" in request.POST
    try:
        if batch is None:
            raise DomainError("Choose an imported file.")
        services.decisions_import(
            batch=batch, actor=request.user, dry_run=not confirm, check_only=True, **options
        )
    except DomainError as exc:
        context = _exchange_context(review, request, error=exc.message)
        job = _preview_job(review, request.POST.get("preview_job"))
        if confirm and job is not None:  # refused whole: the preview again, beside the reason
            context["preview"] = _preview(batch, options, job.result["report"], job.pk)
        return render(request, "api/exchange.html", context, status=exc.status)
    job = review_services.job_create(
        review=review,
        kind=api_tasks.DECISIONS_IMPORT if confirm else api_tasks.DECISIONS_PREVIEW,
        actor=request.user,
        params={"batch_id": batch.pk, "options": options},
    )
    if confirm:
        messages.success(
            request,
            f"Importing {tools.TOOLS[options['tool']]} decisions: the report says what was "
            "written and what was not, and why.",
        )
    return redirect("reviews:job", slug=review.slug, job_id=job.pk)


@review_view(Role.LEAD)
def decisions_preview(request: HttpRequest, review, preview_id: int) -> HttpResponse:
    """The preview a job made: nothing is written until the lead imports from it."""
    job = _preview_job(review, preview_id)
    if job is None:
        raise Http404("No such preview.")
    params = job.params
    batch = get_object_or_404(review.import_batches, pk=params.get("batch_id"))
    preview = _preview(batch, params.get("options", {}), job.result["report"], job.pk)
    return render(request, "api/exchange.html", _exchange_context(review, request, preview=preview))


@review_view(Role.LEAD)
def decisions_report(request: HttpRequest, review, import_id: int) -> HttpResponse:
    """What one decisions import read, wrote and left out (leads: it names every vote)."""
    entry = get_object_or_404(
        review.decisions_imports.select_related("batch", "actor"), pk=import_id
    )
    return render(
        request,
        "api/decisions_report.html",
        {"review": review, "entry": entry, "report": entry.report},
    )


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
