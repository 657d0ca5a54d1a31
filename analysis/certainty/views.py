"""Views of GRADE certainty and SoF tables: members read, the lead writes."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from reviews.access import review_view
from reviews.errors import ConflictError, DomainError
from reviews.models import Role

from ..models import Analysis
from . import exports, rules, selectors, services
from .forms import RatingForm, SofRowForm, SofTableForm
from .models import CertaintyAssessment, SofRow, SofTable

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _analysis(review, analysis_id: int) -> Analysis:
    return get_object_or_404(
        Analysis.objects.select_related("window", "review"), review=review, pk=analysis_id
    )


def _table(review, table_id: int) -> SofTable:
    return get_object_or_404(SofTable, review=review, pk=table_id)


def _row(table: SofTable, sof_row_id: int) -> SofRow:
    return get_object_or_404(
        SofRow.objects.select_related("assessment"), table=table, pk=sof_row_id
    )


def _assessment(analysis: Analysis) -> CertaintyAssessment:
    assessment = CertaintyAssessment.objects.filter(analysis=analysis).first()
    if assessment is None:
        raise ConflictError(f"“{analysis.title}” has not been rated yet.")
    return assessment


def _download(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _is_lead(request: HttpRequest) -> bool:
    return request.membership.has_role(Role.LEAD)


# --- assessments ------------------------------------------------------------------------


@review_view()
def certainty_index(request: HttpRequest, review) -> HttpResponse:
    context = {
        "review": review,
        "lines": selectors.certainty_index(review),
        "certainty": rules.CERTAINTY,
        "can_edit": _is_lead(request),
    }
    return render(request, "analysis/certainty/certainty_index.html", context)


def _detail(request, review, analysis: Analysis, form: RatingForm | None = None, status=200):
    view = selectors.assessment_view(analysis)
    if form is None and _is_lead(request) and view.context.ok:
        suggestions = {k: s.rating for k, s in view.context.suggestions.items()}
        form = RatingForm(initial=RatingForm.initial_from(view.assessment), suggestions=suggestions)
    rows = []
    for line in view.lines:
        rows.append(
            {
                "line": line,
                "field": form[line.key] if form else None,
                "reason": form[f"{line.key}_reason"] if form else None,
            }
        )
    context = {
        "review": review,
        "analysis": analysis,
        "view": view,
        "rows": rows,
        "form": form,
        "ratings": rules.RATINGS,
        "start_label": rules.CERTAINTY[view.context.start[0]][0],
        "events": view.assessment.events.select_related("actor")[:20] if view.assessment else (),
        "can_edit": _is_lead(request),
    }
    return render(request, "analysis/certainty/certainty_detail.html", context, status=status)


@review_view()
def certainty_detail(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    """The rules' suggestions with their numbers beside the lead's ratings."""
    return _detail(request, review, _analysis(review, analysis_id))


@require_POST
@review_view(Role.LEAD)
def certainty_rate(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    ctx = selectors.evidence_for(analysis)
    suggestions = {k: s.rating for k, s in ctx.suggestions.items()}
    form = RatingForm(request.POST, suggestions=suggestions)
    if form.is_valid():
        try:
            assessment = services.assessment_save(
                analysis=analysis,
                actor=request.user,
                finals=form.finals(),
                upgrades=form.upgrades(),
                upgrade_reason=form.cleaned_data["upgrade_reason"],
                thresholds=form.cleaned_data["thresholds"],
                outcome_label=form.cleaned_data["outcome_label"],
                intervention=form.cleaned_data["intervention"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            label = rules.certainty_label(assessment.certainty)
            messages.success(request, f"Certainty of “{analysis.title}” saved: {label}.")
            return redirect("certainty:detail", slug=review.slug, analysis_id=analysis.pk)
    return _detail(request, review, analysis, form, status=400)


@require_POST
@review_view(Role.LEAD)
def certainty_confirm(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    assessment = _assessment(analysis)
    services.assessment_confirm(assessment=assessment, actor=request.user)
    messages.success(request, "Ratings confirmed against the current data.")
    return redirect("certainty:detail", slug=review.slug, analysis_id=analysis.pk)


@require_POST
@review_view(Role.LEAD)
def certainty_delete(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    assessment = _assessment(analysis)
    services.assessment_delete(assessment=assessment, actor=request.user)
    messages.success(request, f"Certainty of “{analysis.title}” withdrawn.")
    return redirect("certainty:index", slug=review.slug)


@require_GET
@review_view()
def profile_export(request: HttpRequest, review, fmt: str) -> HttpResponse:
    """The evidence profile: every rated analysis with all domains and reasons."""
    if fmt not in ("csv", "xlsx"):
        raise DomainError("The evidence profile is offered as CSV or XLSX.")
    views = [line.view for line in selectors.certainty_index(review) if line.view.assessment]
    name = f"{review.slug}-evidence-profile"
    if fmt == "csv":
        return _download(exports.profile_csv(views), "text/csv; charset=utf-8", f"{name}.csv")
    return _download(exports.profile_xlsx(views), XLSX, f"{name}.xlsx")


# --- Summary of Findings tables ---------------------------------------------------------------


@review_view()
def sof_list(request: HttpRequest, review) -> HttpResponse:
    context = {
        "review": review,
        "tables": selectors.sof_tables_for(review),
        "form": SofTableForm() if _is_lead(request) else None,
        "can_edit": _is_lead(request),
    }
    return render(request, "analysis/certainty/sof_list.html", context)


@require_POST
@review_view(Role.LEAD)
def sof_create(request: HttpRequest, review) -> HttpResponse:
    form = SofTableForm(request.POST)
    if form.is_valid():
        try:
            table = services.sof_table_save(
                review=review, actor=request.user, values=form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("certainty:sof_detail", slug=review.slug, table_id=table.pk)
    context = {
        "review": review,
        "tables": selectors.sof_tables_for(review),
        "form": form,
        "can_edit": True,
    }
    return render(request, "analysis/certainty/sof_list.html", context, status=400)


def _sof_context(
    request,
    review,
    table: SofTable,
    forms: dict[int, SofRowForm] | None = None,
    *,
    view: selectors.SofView | None = None,
    printable: bool = False,
) -> dict:
    view = view or selectors.sof_view(table)
    lead = _is_lead(request) and not printable
    row_forms = forms or {}
    if lead:
        for line in view.lines:
            if line.row.pk not in row_forms:
                row_forms[line.row.pk] = SofRowForm(
                    initial=SofRowForm.initial_from(line.row), prefix=f"row{line.row.pk}"
                )
    return {
        "review": review,
        "table": table,
        "view": view,
        "certainty_meaning": [
            (rules.CERTAINTY[k][0], rules.CERTAINTY[k][1], rules.CERTAINTY_MEANING[k])
            for k in sorted(rules.CERTAINTY, reverse=True)
        ],
        "can_edit": lead,
        "table_form": SofTableForm(instance=table) if lead else None,
        "row_pairs": [(line, row_forms[line.row.pk]) for line in view.lines] if lead else [],
        "addable": selectors.analyses_not_in(table) if lead else (),
    }


@review_view()
def sof_detail(request: HttpRequest, review, table_id: int) -> HttpResponse:
    table = _table(review, table_id)
    return render(
        request, "analysis/certainty/sof_detail.html", _sof_context(request, review, table)
    )


@require_POST
@review_view(Role.LEAD)
def sof_edit(request: HttpRequest, review, table_id: int) -> HttpResponse:
    table = _table(review, table_id)
    form = SofTableForm(request.POST, instance=SofTable.objects.get(pk=table.pk))
    if form.is_valid():
        try:
            services.sof_table_save(
                review=review, actor=request.user, values=form.cleaned_data, table=table
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Table saved.")
            return redirect("certainty:sof_detail", slug=review.slug, table_id=table.pk)
    context = {**_sof_context(request, review, table), "table_form": form}
    return render(request, "analysis/certainty/sof_detail.html", context, status=400)


@require_POST
@review_view(Role.LEAD)
def sof_delete(request: HttpRequest, review, table_id: int) -> HttpResponse:
    table = _table(review, table_id)
    services.sof_table_delete(table=table, actor=request.user)
    messages.success(request, f"Table “{table.title}” deleted; the ratings are kept.")
    return redirect("certainty:sof_list", slug=review.slug)


@require_POST
@review_view(Role.LEAD)
def sof_row_add(request: HttpRequest, review, table_id: int) -> HttpResponse:
    table = _table(review, table_id)
    raw = request.POST.get("assessment", "")
    assessment = (
        CertaintyAssessment.objects.filter(review=review, pk=raw).first() if raw.isdigit() else None
    )
    if assessment is None:
        raise DomainError("Choose a rated outcome of this review.", field="assessment")
    services.sof_row_add(table=table, assessment=assessment, actor=request.user)
    return redirect("certainty:sof_detail", slug=review.slug, table_id=table.pk)


@require_POST
@review_view(Role.LEAD)
def sof_row_save(request: HttpRequest, review, table_id: int, sof_row_id: int) -> HttpResponse:
    table = _table(review, table_id)
    row = _row(table, sof_row_id)
    form = SofRowForm(request.POST, prefix=f"row{row.pk}")
    if form.is_valid():
        try:
            services.sof_row_save(row=row, actor=request.user, values=form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"“{row.assessment.outcome}” saved.")
            return redirect("certainty:sof_detail", slug=review.slug, table_id=table.pk)
    context = _sof_context(request, review, table, {row.pk: form})
    return render(request, "analysis/certainty/sof_detail.html", context, status=400)


@require_POST
@review_view(Role.LEAD)
def sof_row_move(request: HttpRequest, review, table_id: int, sof_row_id: int) -> HttpResponse:
    table = _table(review, table_id)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        raise DomainError("Move a row up or down.")
    services.sof_row_move(row=_row(table, sof_row_id), actor=request.user, offset=offset)
    return redirect("certainty:sof_detail", slug=review.slug, table_id=table.pk)


@require_POST
@review_view(Role.LEAD)
def sof_row_remove(request: HttpRequest, review, table_id: int, sof_row_id: int) -> HttpResponse:
    table = _table(review, table_id)
    services.sof_row_remove(row=_row(table, sof_row_id), actor=request.user)
    return redirect("certainty:sof_detail", slug=review.slug, table_id=table.pk)


@require_GET
@review_view()
def sof_export(request: HttpRequest, review, table_id: int, fmt: str) -> HttpResponse:
    """The table as printable HTML, Word or CSV."""
    table = _table(review, table_id)
    if fmt not in ("html", "docx", "csv"):
        raise DomainError("A SoF table is offered as HTML, DOCX or CSV.")
    view = selectors.sof_view(table)
    name = slugify(f"sof-{table.title}") or f"sof-{table.pk}"
    if fmt == "docx":
        return _download(exports.sof_docx(view), DOCX, f"{name}.docx")
    if fmt == "csv":
        return _download(exports.sof_csv(view), "text/csv; charset=utf-8", f"{name}.csv")
    context = {**_sof_context(request, review, table, view=view, printable=True), "printable": True}
    return HttpResponse(render_to_string("analysis/certainty/sof_print.html", context, request))
