"""Views of the reviews app: thin, one access check, one service call."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services, tasks
from .access import review_view
from .activity import activity_kinds, activity_list
from .archive import ArchiveError
from .archive.export import review_export as archive_export
from .archive.restore import archive_peek
from .dashboard import panels_for
from .errors import ConflictError, DomainError
from .forms import (
    ActivityFilterForm,
    ArchiveImportForm,
    CsvMappingForm,
    ExclusionReasonEditForm,
    ExclusionReasonForm,
    ImportUploadForm,
    InvitationForm,
    MembershipRolesForm,
    ReviewForm,
    SearchForm,
    SearchScheduleForm,
    SignupForm,
)
from .importing import ImportFormatError, csv_headers, guess_csv_mapping
from .models import (
    DuplicateLink,
    ExclusionReason,
    ImportBatch,
    Invitation,
    Job,
    Membership,
    Role,
    SearchSchedule,
)


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# --- Reviews ------------------------------------------------------------------------------


@login_required
def review_list(request: HttpRequest) -> HttpResponse:
    reviews = selectors.reviews_for_user(request.user)
    return render(request, "reviews/review_list.html", {"reviews": reviews})


@login_required
def review_create(request: HttpRequest) -> HttpResponse:
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        review = services.review_create(creator=request.user, **form.cleaned_data)
        messages.success(request, "Review created. Invite your team and record your searches.")
        return redirect(review)
    return render(request, "reviews/review_form.html", {"form": form})


@review_view()
def dashboard(request: HttpRequest, review) -> HttpResponse:
    counts = selectors.record_counts(review)
    searches = list(selectors.searches_with_counts(review))
    steps = (
        selectors.setup_steps(
            review, has_searches=bool(searches), has_records=bool(counts["total"])
        )
        if request.membership.can_manage
        else []
    )
    context = {
        "review": review,
        "counts": counts,
        "panels": panels_for(review, request.membership),
        "searches": searches,
        "next_steps": [step for step in steps if not step.done],
    }
    return render(request, "reviews/dashboard.html", context)


@review_view(Role.LEAD)
def review_edit(request: HttpRequest, review) -> HttpResponse:
    form = ReviewForm(request.POST or None, instance=review)
    if request.method == "POST" and form.is_valid():
        services.review_update(review=review, actor=request.user, **form.cleaned_data)
        messages.success(request, "Protocol saved.")
        return redirect(review)
    return render(
        request,
        "reviews/review_edit.html",
        {"review": review, "form": form, "import_form": ArchiveImportForm()},
        status=400 if form.errors else 200,
    )


# --- Activity ------------------------------------------------------------------------------

ACTIVITY_PAGE = 500  # newest items shown; the CSV holds all


def _activity_form(request: HttpRequest, review) -> ActivityFilterForm:
    return ActivityFilterForm(
        request.GET or None, people=selectors.activity_people(review), kinds=activity_kinds()
    )


@require_GET
@review_view(Role.LEAD)
def activity(request: HttpRequest, review) -> HttpResponse:
    """Who decided what, from every app's history (leads only: it shows blinded votes)."""
    form = _activity_form(request, review)
    valid = form.is_bound is False or form.is_valid()
    items = []
    if valid:
        data = form.cleaned_data if form.is_bound else {}
        query = selectors.activity_query(review, data, limit=ACTIVITY_PAGE + 1)
        items = list(activity_list(query))
    kinds = activity_kinds()
    context = {
        "review": review,
        "form": form,
        "items": [(a, kinds.get(a.kind, a.kind)) for a in items[:ACTIVITY_PAGE]],
        "more": len(items) > ACTIVITY_PAGE,
        "limit": ACTIVITY_PAGE,
    }
    return render(request, "reviews/activity.html", context, status=200 if valid else 400)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_cell(value: str) -> str:
    # Spreadsheet formula injection: notes, labels and file names are user input.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@require_GET
@review_view(Role.LEAD)
def activity_csv(request: HttpRequest, review) -> HttpResponse:
    form = _activity_form(request, review)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            "Invalid filter: " + "; ".join(m for ms in form.errors.values() for m in ms),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    data = form.cleaned_data if form.is_bound else {}
    items = activity_list(selectors.activity_query(review, data, limit=None))
    kinds = activity_kinds()
    writer = csv.writer(_Echo())
    header = ["when (UTC)", "person", "kind", "action", "subject", "detail"]

    def rows():
        yield writer.writerow(header)
        for a in items:
            when = a.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            cells = [a.actor, kinds.get(a.kind, a.kind), a.action, a.subject, a.detail]
            yield writer.writerow([when, *(_csv_cell(str(c)) for c in cells)])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    name = f"{review.slug}-activity-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- Archives ------------------------------------------------------------------------------


@require_GET
@review_view(Role.LEAD)
def review_export(request: HttpRequest, review) -> HttpResponse:
    # A temporary file, not memory: an archive holds every full-text PDF of the review.
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    try:
        archive_export(review=review, out=handle)
    except ArchiveError as exc:
        handle.close()
        messages.error(request, exc.message)
        return redirect("reviews:edit", slug=review.slug)
    handle.seek(0)
    name = f"{review.slug}-{timezone.localdate():%Y-%m-%d}.zip"
    return FileResponse(handle, as_attachment=True, filename=name, content_type="application/zip")


@require_POST
@review_view(Role.LEAD)
def archive_prepare(request: HttpRequest, review) -> HttpResponse:
    """Write the review's archive in a job (minutes for a review with thousands of PDFs)."""
    job = services.job_create(review=review, kind=tasks.ARCHIVE_EXPORT, actor=request.user)
    return redirect("reviews:job", slug=review.slug, job_id=job.pk)


@require_GET
@review_view(Role.LEAD)
def archive_download(request: HttpRequest, review, job_id: int) -> HttpResponse:
    job = get_object_or_404(review.jobs, pk=job_id)
    path = job.result.get("path") if job.kind == tasks.ARCHIVE_EXPORT else None
    if job.status != Job.Status.SUCCEEDED or not path or not default_storage.exists(path):
        raise ConflictError("This job has no archive to download; export the review again.")
    return FileResponse(
        default_storage.open(path, "rb"),
        as_attachment=True,
        filename=job.result.get("filename") or "review.zip",
        content_type="application/zip",
    )


@require_POST
@review_view(Role.LEAD)
def review_import(request: HttpRequest, review) -> HttpResponse:
    """Create a *new* review from an archive; the importing lead leads it."""
    import_form = ArchiveImportForm(request.POST, request.FILES)
    if import_form.is_valid():
        upload = import_form.cleaned_data["archive"]
        try:
            slug = archive_peek(source=upload, slug=import_form.cleaned_data["slug"] or None)
        except ArchiveError as exc:
            import_form.add_error(None, exc.message)
        else:
            upload.seek(0)
            path = default_storage.save(f"archives/incoming/{uuid.uuid4().hex}.zip", upload)
            job = services.job_create(
                review=review,
                kind=tasks.ARCHIVE_IMPORT,
                actor=request.user,
                params={"path": path, "slug": slug},
            )
            return redirect("reviews:job", slug=review.slug, job_id=job.pk)
    return render(
        request,
        "reviews/review_edit.html",
        {"review": review, "form": ReviewForm(instance=review), "import_form": import_form},
        status=400,
    )


# --- Team ----------------------------------------------------------------------------------


@review_view()
def member_list(request: HttpRequest, review) -> HttpResponse:
    memberships = review.memberships.select_related("user")
    invitations = review.invitations.filter(accepted_at__isnull=True).select_related("invited_by")
    form = InvitationForm()
    return render(
        request,
        "reviews/member_list.html",
        {"review": review, "memberships": memberships, "invitations": invitations, "form": form},
    )


@require_POST
@review_view(Role.LEAD)
def invitation_create(request: HttpRequest, review) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                review=review, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("reviews:members", slug=review.slug)
        link = request.build_absolute_uri(f"/invitations/{invitation.token}/")
        messages.success(request, f"Invitation created. Send this link: {link}")
        return redirect("reviews:members", slug=review.slug)
    memberships = review.memberships.select_related("user")
    return render(
        request,
        "reviews/member_list.html",
        {"review": review, "memberships": memberships, "invitations": [], "form": form},
        status=400,
    )


@require_POST
@review_view(Role.LEAD)
def member_update(request: HttpRequest, review, member_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=member_id, review=review)
    form = MembershipRolesForm(request.POST)
    form.is_valid()
    if "remove" in request.POST:
        services.membership_remove(membership=membership, actor=request.user)
        messages.success(request, f"{membership.user.username} removed from the review.")
    else:
        services.membership_set_roles(
            membership=membership, actor=request.user, **form.cleaned_data
        )
        messages.success(request, f"Roles of {membership.user.username} updated.")
    return redirect("reviews:members", slug=review.slug)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Existing users accept while logged in; new users sign up through the invitation."""
    invitation = get_object_or_404(Invitation.objects.select_related("review"), token=token)
    if not invitation.is_open:
        return render(
            request, "error.html", {"message": "This invitation has already been used."}, status=410
        )
    if request.user.is_authenticated:
        if request.method == "POST":
            services.invitation_accept(invitation=invitation, user=request.user)
            messages.success(request, f"You joined “{invitation.review.title}”.")
            return redirect(invitation.review)
        return render(request, "reviews/invitation_accept.html", {"invitation": invitation})
    form = SignupForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        user = services.user_signup_with_invitation(
            invitation=invitation,
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(invitation.review)
    return render(request, "reviews/signup.html", {"form": form, "invitation": invitation})


# --- Exclusion reasons ---------------------------------------------------------------------


@review_view()
def exclusion_reason_list(request: HttpRequest, review) -> HttpResponse:
    return _render_reasons(request, review, ExclusionReasonForm(review=review))


@require_POST
@review_view(Role.LEAD)
def exclusion_reason_create(request: HttpRequest, review) -> HttpResponse:
    form = ExclusionReasonForm(request.POST, review=review)
    if form.is_valid():
        try:
            reason = services.exclusion_reason_create(
                review=review, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Reason “{reason.label}” added.")
            return redirect("reviews:exclusion_reasons", slug=review.slug)
    return _render_reasons(request, review, form, status=400)


def _render_reasons(request, review, form, status: int = 200) -> HttpResponse:
    return render(
        request,
        "reviews/exclusion_reason_list.html",
        {"review": review, "reasons": review.exclusion_reasons.all(), "form": form},
        status=status,
    )


@review_view(Role.LEAD)
def exclusion_reason_edit(request: HttpRequest, review, reason_id: int) -> HttpResponse:
    reason = get_object_or_404(ExclusionReason, pk=reason_id, review=review)
    form = ExclusionReasonEditForm(request.POST or None, instance=reason)
    if request.method == "POST" and form.is_valid():
        try:
            services.exclusion_reason_update(reason=reason, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Reason saved.")
            return redirect("reviews:exclusion_reasons", slug=review.slug)
    return render(
        request,
        "reviews/exclusion_reason_form.html",
        {"review": review, "form": form, "reason": reason},
        status=400 if form.errors else 200,
    )


@require_POST
@review_view(Role.LEAD)
def exclusion_reason_toggle(request: HttpRequest, review, reason_id: int) -> HttpResponse:
    reason = get_object_or_404(ExclusionReason, pk=reason_id, review=review)
    services.exclusion_reason_update(reason=reason, actor=request.user, active=not reason.active)
    return redirect("reviews:exclusion_reasons", slug=review.slug)


# --- Search log ----------------------------------------------------------------------------


@review_view()
def search_list(request: HttpRequest, review) -> HttpResponse:
    return render(
        request,
        "reviews/search_list.html",
        {
            "review": review,
            "searches": selectors.searches_with_counts(review),
            "rounds": selectors.rounds(review),
        },
    )


@require_POST
@review_view(Role.LEAD)
def round_open(request: HttpRequest, review) -> HttpResponse:
    opened = services.round_open(
        review=review, actor=request.user, note=request.POST.get("note", "")[:2000]
    )
    messages.success(
        request, f"Round {opened.number} is open: imports confirmed from now on are screened in it."
    )
    return redirect(reverse("reviews:searches", kwargs={"slug": review.slug}) + "#rounds")


@require_POST
@review_view(Role.LEAD)
def search_schedule(request: HttpRequest, review, search_id: int) -> HttpResponse:
    search = get_object_or_404(review.searches, pk=search_id)
    schedule = SearchSchedule.objects.filter(search=search).first()
    form = SearchScheduleForm(request.POST, instance=schedule)
    if form.is_valid():
        try:
            services.search_schedule_set(search=search, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, "Schedule saved: new records will wait for your confirmation."
            )
            return redirect("reviews:search_edit", slug=review.slug, search_id=search.pk)
    return render(
        request,
        "reviews/search_form.html",
        {
            "review": review,
            "form": SearchForm(instance=search),
            "search": search,
            "schedule_form": form,
        },
        status=400,
    )


@review_view(Role.LEAD)
def search_edit(request: HttpRequest, review, search_id: int | None = None) -> HttpResponse:
    search = get_object_or_404(review.searches, pk=search_id) if search_id else None
    form = SearchForm(request.POST or None, instance=search)
    if request.method == "POST" and form.is_valid():
        if search is None:
            services.search_create(review=review, actor=request.user, **form.cleaned_data)
        else:
            services.search_update(search=search, actor=request.user, **form.cleaned_data)
        messages.success(request, "Search saved.")
        return redirect("reviews:searches", slug=review.slug)
    schedule = SearchSchedule.objects.filter(search=search).first() if search else None
    return render(
        request,
        "reviews/search_form.html",
        {
            "review": review,
            "form": form,
            "search": search,
            "schedule_form": SearchScheduleForm(instance=schedule) if search else None,
        },
        status=400 if form.errors else 200,
    )


# --- Imports -------------------------------------------------------------------------------


@review_view()
def import_list(request: HttpRequest, review) -> HttpResponse:
    batches = review.import_batches.select_related("search", "uploaded_by")
    return render(request, "reviews/import_list.html", {"review": review, "batches": batches})


@review_view(Role.LEAD)
def import_upload(request: HttpRequest, review) -> HttpResponse:
    form = ImportUploadForm(
        request.POST or None,
        request.FILES or None,
        review=review,
        max_bytes=settings.REVIEWFLOW_MAX_IMPORT_BYTES,
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        fmt = form.cleaned_data["format"] or None
        search = form.cleaned_data["search"]
        try:
            if _needs_csv_mapping(upload, fmt):
                token = _stash_upload(request, upload, search, form.run_params())
                return redirect("reviews:import_map", slug=review.slug, token=token)
            services.import_check(file=upload, fmt=fmt)
            # The upload is on disk already (TemporaryFileUploadHandler); a job reads the
            # stored copy: the request does not wait for the parse.
            path = services.upload_store(name=_upload_name(review, upload.name), upload=upload)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            job = services.job_create(
                review=review,
                kind=tasks.IMPORT_PREVIEW,
                actor=request.user,
                params={
                    "path": path,
                    "filename": upload.name,
                    "fmt": fmt,
                    "search_id": search.pk if search else None,
                    "run": form.run_params(),
                },
            )
            return redirect("reviews:job", slug=review.slug, job_id=job.pk)
    return render(
        request,
        "reviews/import_upload.html",
        {"review": review, "form": form},
        status=400 if form.errors else 200,
    )


def _upload_name(review, filename: str) -> str:
    """A storage name of its own for each upload (it names the batch the job makes of it)."""
    return default_storage.generate_filename(
        f"imports/{review.pk}/uploads/{uuid.uuid4().hex}/{filename}"
    )


def _needs_csv_mapping(upload, fmt: str | None) -> bool:
    """A CSV whose headers do not name a title column needs the mapping step."""
    is_csv = fmt == "csv" or (fmt is None and upload.name.lower().endswith((".csv", ".tsv")))
    if not is_csv:
        return False
    try:
        headers = csv_headers(upload)
    except ImportFormatError:
        return False
    finally:
        upload.seek(0)
    return "title" not in guess_csv_mapping(headers)


def _stash_upload(request: HttpRequest, upload, search, run: dict) -> str:
    token = uuid.uuid4().hex
    path = services.upload_store(name=f"imports/pending/{token}.csv", upload=upload)
    request.session[f"csv-upload-{token}"] = {
        "path": path,
        "name": upload.name,
        "search": search.pk if search else None,
        "run": run,
    }
    return token


@review_view(Role.LEAD)
def import_map(request: HttpRequest, review, token: str) -> HttpResponse:
    stash = request.session.get(f"csv-upload-{token}")
    if not stash:
        return render(
            request,
            "error.html",
            {"message": "This upload has expired; upload the file again."},
            status=410,
        )
    with default_storage.open(stash["path"], "rb") as handle:
        headers = csv_headers(handle)
    form = CsvMappingForm(
        request.POST or None, headers=headers, initial_mapping=guess_csv_mapping(headers)
    )
    if request.method == "POST" and form.is_valid():
        search = review.searches.filter(pk=stash["search"]).first() if stash["search"] else None
        try:
            with default_storage.open(stash["path"], "rb") as handle:
                services.import_check(file=handle, fmt="csv", csv_mapping=form.mapping())
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            job = services.job_create(
                review=review,
                kind=tasks.IMPORT_PREVIEW,
                actor=request.user,
                params={
                    "path": stash["path"],
                    "filename": stash["name"],
                    "fmt": "csv",
                    "search_id": search.pk if search else None,
                    "run": stash.get("run") or {},
                    "csv_mapping": form.mapping(),
                },
            )
            del request.session[f"csv-upload-{token}"]
            return redirect("reviews:job", slug=review.slug, job_id=job.pk)
    return render(
        request,
        "reviews/import_map.html",
        {"review": review, "form": form, "headers": headers, "filename": stash["name"]},
        status=400 if form.errors else 200,
    )


@review_view()
def import_detail(request: HttpRequest, review, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(review.import_batches.select_related("search"), pk=batch_id)
    job = selectors.job_unfinished(review=review, kind=tasks.IMPORT_CONFIRM, batch_id=batch.pk)
    return render(
        request, "reviews/import_detail.html", {"review": review, "batch": batch, "job": job}
    )


@require_POST
@review_view(Role.LEAD)
def import_confirm(request: HttpRequest, review, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch, pk=batch_id, review=review)
    if "discard" in request.POST:
        services.import_discard(batch=batch, actor=request.user)
        messages.info(request, "Import discarded; nothing was stored.")
        return redirect("reviews:imports", slug=review.slug)
    if batch.status != ImportBatch.Status.PREVIEW:
        raise ConflictError("This import has already been confirmed or discarded.")
    job = services.job_create(
        review=review, kind=tasks.IMPORT_CONFIRM, actor=request.user, params={"batch_id": batch.pk}
    )
    return redirect("reviews:job", slug=review.slug, job_id=job.pk)


# --- Records and duplicates ----------------------------------------------------------------


@review_view()
def record_list(request: HttpRequest, review) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    duplicates = request.GET.get("duplicates") == "1"
    # The list shows neither abstracts nor the original fields: not read for 50 rows.
    records = review.records.select_related("batch").defer("abstract", "source_fields")
    if query:
        records = records.filter(Q(title__icontains=query) | Q(doi__iexact=query) | Q(pmid=query))
    if duplicates:
        records = records.filter(duplicate_of__isnull=False)
    page = selectors.records_page(
        records, after=_id_param(request, "after"), before=_id_param(request, "before")
    )
    return render(
        request,
        "reviews/record_list.html",
        {
            "review": review,
            "page": page,
            "query": query,
            "duplicates": duplicates,
            "counts": selectors.record_counts(review),
        },
    )


def _id_param(request: HttpRequest, name: str) -> int | None:
    """A record id from the query string; anything else is ignored (the first page)."""
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@review_view()
def record_detail(request: HttpRequest, review, record_id: int) -> HttpResponse:
    record = get_object_or_404(review.records.select_related("batch", "duplicate_of"), pk=record_id)
    return render(request, "reviews/record_detail.html", {"review": review, "record": record})


@review_view(Role.LEAD)
def duplicate_list(request: HttpRequest, review) -> HttpResponse:
    status = request.GET.get("status", DuplicateLink.Status.PENDING)
    links = review.duplicate_links.filter(status=status).select_related("kept", "duplicate")
    page = Paginator(links, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "reviews/duplicate_list.html",
        {
            "review": review,
            "page": page,
            "status": status,
            "statuses": DuplicateLink.Status.choices,
            "fields": ["title", "authors", "year", "journal", "doi", "pmid", "volume", "pages"],
        },
    )


@require_POST
@review_view(Role.LEAD)
def duplicate_decide(request: HttpRequest, review, link_id: int) -> HttpResponse:
    link = get_object_or_404(DuplicateLink, pk=link_id, review=review)
    action = request.POST.get("action")
    if action == "undo":
        services.duplicate_undo(link=link, actor=request.user)
        messages.info(request, "Merge undone: both records are screened separately.")
    elif action in {"merge", "reject"}:
        services.duplicate_decide(link=link, actor=request.user, is_duplicate=action == "merge")
    else:
        raise DomainError("Choose merge, reject or undo.")
    back = request.POST.get("back", DuplicateLink.Status.PENDING)
    return redirect(f"{reverse('reviews:duplicates', kwargs={'slug': review.slug})}?status={back}")


@require_POST
@review_view(Role.LEAD)
def duplicate_rerun(request: HttpRequest, review) -> HttpResponse:
    job = services.job_create(review=review, kind=tasks.DUPLICATES_FIND, actor=request.user)
    return redirect("reviews:job", slug=review.slug, job_id=job.pk)


# --- Jobs ----------------------------------------------------------------------------------


@review_view()
def job_detail(request: HttpRequest, review, job_id: int) -> HttpResponse:
    """The job's page, or (htmx polling) its progress partial; follows its result when done."""
    job = get_object_or_404(review.jobs.select_related("started_by"), pk=job_id)
    follow = job.result.get("url") if job.result.get("follow") else None
    if job.status != Job.Status.SUCCEEDED:
        follow = None
    context = {"review": review, "job": job}
    if not request.htmx:
        # A job that ran in the request (no broker) is done before its page is shown.
        if follow:
            return redirect(follow)
        return render(request, "reviews/job_detail.html", context)
    response = render(request, "reviews/_job.html", context)
    if follow:
        response["HX-Redirect"] = follow
    return response


@require_POST
@review_view(Role.LEAD)
def job_retry(request: HttpRequest, review, job_id: int) -> HttpResponse:
    job = get_object_or_404(review.jobs, pk=job_id)
    services.job_retry(job=job, actor=request.user)
    return redirect("reviews:job", slug=review.slug, job_id=job.pk)
