"""Views of the analysis app: thin, one access check, one selector or service call."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from reviews import services as review_services
from reviews.access import review_view
from reviews.errors import DomainError
from reviews.models import Role

from . import exports, selectors, services, tasks
from .figures import method_text
from .formatting import fmt_num, fmt_p, fmt_p_text, fmt_range
from .forms import AnalysisForm, WindowForm
from .measures import SHORT
from .methods import methods_paragraph
from .modelling import coefficient_label, model_summary
from .models import TAU2_CHOICES, Analysis, TimepointWindow
from .report import ReportInputError

PLOT_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
}


def _analysis(review, analysis_id: int) -> Analysis:
    return get_object_or_404(
        Analysis.objects.select_related("window", "review"), review=review, pk=analysis_id
    )


def _overrides(request: HttpRequest) -> dict:
    """τ² estimator / Hartung-Knapp chosen on the page (not saved)."""
    method = request.GET.get("method") or None
    hk = {"1": True, "0": False}.get(request.GET.get("hk", ""))
    return {"method": method, "hartung_knapp": hk}


def _report(analysis: Analysis, request: HttpRequest):
    try:
        return selectors.analysis_report(analysis, **_overrides(request))
    except ReportInputError as exc:
        raise DomainError(str(exc)) from None


def _query(request: HttpRequest) -> str:
    params = {k: request.GET[k] for k in ("method", "hk") if request.GET.get(k)}
    return ("?" + urlencode(params)) if params else ""


def _download(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _basename(analysis: Analysis) -> str:
    return slugify(f"{analysis.title}-{analysis.window.label}") or f"analysis-{analysis.pk}"


# --- pages ----------------------------------------------------------------------------------


@review_view()
def analysis_index(request: HttpRequest, review) -> HttpResponse:
    """The review's report: every analysis' main row, then links to each full table."""
    summaries = []
    for analysis in selectors.analyses_for(review):
        report, ad = selectors.analysis_report(analysis)
        summaries.append(
            {
                "analysis": analysis,
                "row": report.row("all"),
                "cells": exports.formatted_cells(report.row("all"), report.settings.measure),
                "measure": report.settings.measure,
                "left_out": len(ad.left_out),
                "method": method_text(report),
                "model": model_summary(report.model),
            }
        )
    context = {
        "review": review,
        "summaries": summaries,
        "windows": selectors.windows_for(review),
        "can_edit": request.membership.has_role(Role.LEAD),
    }
    return render(request, "analysis/analysis_index.html", context)


def _model_context(report) -> dict | None:
    """The model section (three-level model / meta-regression), formatted for the page."""
    section = report.model
    if section is None:
        return None
    out: dict = {"section": section, "title": section.title, "error": section.error}
    res = section.result
    if res is None:
        return out
    stat_name = "z" if res.df is None else "t"
    out["stat_name"] = stat_name
    out["coefficients"] = [
        {
            "label": coefficient_label(name, section.moderators),
            "b": fmt_num(res.b[i], 3),
            "se": fmt_num(res.se[i], 3),
            "ci": fmt_range(res.ci_low[i], res.ci_high[i], 3),
            "stat": fmt_num(res.stat[i], 2),
            "df": "" if res.df is None else fmt_num(res.df[i], 1),
            "p": fmt_p(res.p[i]),
            # a ratio measure: exp(b) is the ratio (intercept) or the ratio of ratios
            "exp_b": fmt_num(math.exp(res.b[i]), 3) if section.ratio else "",
            "exp_ci": (
                fmt_range(math.exp(res.ci_low[i]), math.exp(res.ci_high[i]), 3)
                if section.ratio
                else ""
            ),
        }
        for i, name in enumerate(res.names)
    ]
    out["scale"] = section.scale
    out["ratio"] = section.ratio
    out["ratio_short"] = SHORT.get(section.measure, "")
    if res.sigma2 is not None:
        cis = res.sigma2_ci or ((None, None), (None, None))
        out["variance"] = [
            {
                "label": label,
                "value": fmt_num(res.sigma2[j], 4),
                "ci": fmt_range(cis[j][0], cis[j][1], 4),
                "i2": fmt_num(res.I2_levels[j], 1) + "%" if res.I2_levels else "",
            }
            for j, label in enumerate(("Between studies (level 3)", "Within studies (level 2)"))
        ]
    else:
        out["variance"] = [
            {
                "label": "Residual between-study (τ²)",
                "value": fmt_num(res.tau2, 4),
                "ci": "",
                "i2": fmt_num(res.I2, 1) + "%",
            }
        ]
    if res.QM is not None and res.QM_df is not None and len(res.names) > 1:
        df1, df2 = res.QM_df
        test = (
            f"F({df1:g}, {fmt_num(df2, 1)}) = {fmt_num(res.QM, 2)}"
            if df2 is not None
            else f"QM({df1:g}) = {fmt_num(res.QM, 2)}"
        )
        out["qm"] = f"Test of moderators: {test}, {fmt_p_text(res.QM_p)}"
    out["qe"] = (
        f"Residual heterogeneity: QE({res.QE_df}) = {fmt_num(res.QE, 2)}, {fmt_p_text(res.QE_p)}"
    )
    if res.R2 is not None:
        out["r2"] = f"R² = {fmt_num(res.R2, 1)}%"
    out["has_bubble"] = section.bubble is not None
    return out


def _report_context(request: HttpRequest, review, analysis: Analysis) -> dict:
    report, ad = _report(analysis, request)
    blocks = [
        {
            "block": b,
            "rows": [
                {"row": r, "cells": exports.formatted_cells(r, report.settings.measure)}
                for r in b.rows
            ],
        }
        for b in report.blocks
    ]
    query = _query(request)
    return {
        "review": review,
        "analysis": analysis,
        "report": report,
        "data": ad,
        "blocks": blocks,
        "methods": methods_paragraph(report),
        "model": _model_context(report),
        "method_text": method_text(report),
        "measure_short": SHORT[report.settings.measure],
        "query": query,
        "query_amp": query.replace("?", "&"),
        "tau2_choices": TAU2_CHOICES,
        "current_method": report.settings.method,
        "current_hk": report.settings.hartung_knapp,
        "has_forest": bool(report.input.main.effects),
        "has_funnel": report.main is not None,
        "saved": report.settings.method == analysis.tau2_method
        and report.settings.hartung_knapp == analysis.hartung_knapp,
        "can_edit": request.membership.has_role(Role.LEAD),
    }


@review_view()
def analysis_detail(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    context = _report_context(request, review, analysis)
    return render(request, "analysis/analysis_detail.html", context)


@review_view()
def analysis_table(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    """The report body (table, paragraph, plots) for htmx after a settings change."""
    analysis = _analysis(review, analysis_id)
    context = _report_context(request, review, analysis)
    return render(request, "analysis/_report_body.html", context)


@review_view(Role.LEAD)
def analysis_create(request: HttpRequest, review) -> HttpResponse:
    services.windows_ensure_default(review=review, actor=request.user)
    form = AnalysisForm(request.POST or None, review=review)
    if request.method == "POST" and form.is_valid():
        try:
            analysis = services.analysis_save(
                review=review,
                actor=request.user,
                values=form.values(),
                long_term_windows=form.cleaned_data["long_term_windows"],
            )
        except DomainError as exc:
            form.add_error(_field_of(form, exc), exc.message)
        else:
            messages.success(request, f"Analysis “{analysis.title}” created.")
            return redirect("analysis:detail", slug=review.slug, analysis_id=analysis.pk)
    status = 400 if form.errors else 200  # a refused value (another review's window too)
    return render(
        request, "analysis/analysis_form.html", {"review": review, "form": form}, status=status
    )


def _field_of(form, exc: DomainError) -> str | None:
    mapping = {"domain": "outcome", "subdomain": "outcome", "study_filters": None}
    name = mapping.get(exc.field, exc.field)
    return name if name in form.fields else None


@review_view(Role.LEAD)
def analysis_edit(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    form = AnalysisForm(request.POST or None, review=review, analysis=analysis)
    if request.method == "POST" and form.is_valid():
        try:
            services.analysis_save(
                review=review,
                actor=request.user,
                values=form.values(),
                long_term_windows=form.cleaned_data["long_term_windows"],
                analysis=analysis,
            )
        except DomainError as exc:
            form.add_error(_field_of(form, exc), exc.message)
        else:
            messages.success(request, "Analysis saved.")
            return redirect("analysis:detail", slug=review.slug, analysis_id=analysis.pk)
    context = {"review": review, "form": form, "analysis": analysis}
    return render(
        request, "analysis/analysis_form.html", context, status=400 if form.errors else 200
    )


@require_POST
@review_view(Role.LEAD)
def analysis_delete(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    title = analysis.title
    services.analysis_delete(analysis=analysis, actor=request.user)
    messages.success(request, f"Analysis “{title}” deleted; no extracted data was touched.")
    return redirect("analysis:index", slug=review.slug)


@require_POST
@review_view(Role.LEAD)
def analysis_save_settings(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    """Keep the τ² estimator / Hartung-Knapp choice tried on the report page."""
    analysis = _analysis(review, analysis_id)
    method = request.POST.get("method", analysis.tau2_method)
    hk = request.POST.get("hk", "1" if analysis.hartung_knapp else "0") == "1"
    values = {
        name: getattr(analysis, name)
        for name in services.ANALYSIS_FIELDS
        if name not in ("tau2_method", "hartung_knapp")
    }
    services.analysis_save(
        review=review,
        actor=request.user,
        values={**values, "tau2_method": method, "hartung_knapp": hk},
        long_term_windows=analysis.long_term_windows.all(),
        analysis=analysis,
    )
    messages.success(request, "Model settings saved for this analysis.")
    return redirect("analysis:detail", slug=review.slug, analysis_id=analysis.pk)


@review_view(Role.LEAD)
def window_list(request: HttpRequest, review) -> HttpResponse:
    services.windows_ensure_default(review=review, actor=request.user)
    form = WindowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.window_save(review=review, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Window added.")
            return redirect("analysis:windows", slug=review.slug)
    context = {"review": review, "form": form, "windows": selectors.windows_for(review)}
    return render(request, "analysis/window_list.html", context)


@require_POST
@review_view(Role.LEAD)
def window_delete(request: HttpRequest, review, window_id: int) -> HttpResponse:
    window = get_object_or_404(TimepointWindow, review=review, pk=window_id)
    try:
        services.window_delete(window=window, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Window removed.")
    return redirect("analysis:windows", slug=review.slug)


# --- plots and exports ---------------------------------------------------------------------------


def _plot(request: HttpRequest, review, analysis_id: int, fmt: str, kind: str) -> HttpResponse:
    if fmt not in PLOT_TYPES:
        raise Http404("Plots come as svg, png or pdf.")
    analysis = _analysis(review, analysis_id)
    report, ad = _report(analysis, request)
    subgroup = request.GET.get("subgroup") or None if kind == "forest" else None
    content = selectors.figure_bytes(report, ad, kind=kind, fmt=fmt, subgroup=subgroup)
    response = HttpResponse(content, content_type=PLOT_TYPES[fmt])
    if request.GET.get("download"):
        name = f"{_basename(analysis)}-{kind}{'-' + subgroup if subgroup else ''}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@review_view()
def forest(request: HttpRequest, review, analysis_id: int, fmt: str) -> HttpResponse:
    return _plot(request, review, analysis_id, fmt, "forest")


@review_view()
def funnel(request: HttpRequest, review, analysis_id: int, fmt: str) -> HttpResponse:
    return _plot(request, review, analysis_id, fmt, "funnel")


@review_view()
def bubble(request: HttpRequest, review, analysis_id: int, fmt: str) -> HttpResponse:
    return _plot(request, review, analysis_id, fmt, "bubble")


@require_POST
@review_view()
def figure_prepare(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    """Prepare a PNG/PDF download of a plot in a job (a second or more for a large analysis)."""
    analysis = _analysis(review, analysis_id)
    kind, fmt = request.POST.get("kind", ""), request.POST.get("fmt", "")
    if kind not in selectors.PLOT_KINDS or fmt not in {"png", "pdf"}:
        raise DomainError("Choose a forest, funnel or bubble plot as PNG or PDF.")
    params = {
        "analysis_id": analysis.pk,
        "kind": kind,
        "fmt": fmt,
        "subgroup": (request.POST.get("subgroup") or "") if kind == "forest" else "",
        "method": request.POST.get("method", ""),
        "hk": request.POST.get("hk", ""),
    }
    job = review_services.job_create(
        review=review, kind=tasks.FIGURE_EXPORT, actor=request.user, params=params
    )
    return redirect("reviews:job", slug=review.slug, job_id=job.pk)


@review_view()
def data_csv(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    report, _ = _report(analysis, request)
    return _download(exports.data_csv(report), "text/csv", f"{_basename(analysis)}-data.csv")


@review_view()
def results(request: HttpRequest, review, analysis_id: int, fmt: str) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    report, _ = _report(analysis, request)
    name = f"{_basename(analysis)}-results.{fmt}"
    if fmt == "csv":
        return _download(exports.results_csv(report), "text/csv", name)
    if fmt == "xlsx":
        return _download(
            exports.results_xlsx(report),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            name,
        )
    raise Http404("Results come as csv or xlsx.")  # only reachable through a misrouted URL


@review_view()
def r_script(request: HttpRequest, review, analysis_id: int) -> HttpResponse:
    analysis = _analysis(review, analysis_id)
    report, _ = _report(analysis, request)
    return _download(
        exports.r_script(report), "text/x-r; charset=utf-8", f"{_basename(analysis)}.R"
    )
