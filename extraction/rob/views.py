"""Views of RoB 2: overview, an assessor's own assessment, consensus, figures, settings.

Thin views: parse, call one service or selector, render. Answers are posted one
at a time with htmx; the response is the re-rendered domain card (new
conditional questions appear, the proposal updates) plus out-of-band updates of
the overall card and the progress list. Without htmx every write redirects.

Blinding: the assessment views only ever load the *requesting user's* own
assessment (no assessment id in any URL), and the consensus page shows nothing
but statuses until both independent assessments are submitted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from reviews.access import review_view
from reviews.errors import ConflictError, DomainError
from reviews.models import Role

from ..models import Outcome, Study
from . import selectors as sel
from . import services as svc
from .algorithm import BIAS_DIRECTIONS, DOMAIN_BY_ID, JUDGEMENT_LABELS, JUDGEMENTS
from .figures import (
    PALETTES,
    RobFigureError,
    figure_to_bytes,
    robvis_csv,
    summary_plot,
    traffic_light,
)
from .forms import (
    AnswerForm,
    DomainJudgementForm,
    NoteForm,
    OverallJudgementForm,
    RobSettingsForm,
    SupportForm,
)
from .models import RobAssessment, RobKind, RobStatus, RobTarget, RobUnit

_PDF_URL_NAMES = ("screening:fulltext_pdf", "screening:fulltext_file", "screening:fulltext")


# --- helpers -----------------------------------------------------------------------------------


def _target(review, target_id: int) -> RobTarget:
    return get_object_or_404(
        RobTarget.objects.select_related("review", "study", "outcome__subdomain"),
        pk=target_id,
        review=review,
    )


def _mine(target: RobTarget, user) -> RobAssessment | None:
    return (
        target.assessments.filter(kind=RobKind.INDEPENDENT, assessor=user)
        .prefetch_related("domains")
        .first()
    )


def _consensus(target: RobTarget) -> RobAssessment | None:
    return target.assessments.filter(kind=RobKind.CONSENSUS).prefetch_related("domains").first()


def _reports(study: Study) -> list[dict[str, Any]]:
    """The study's reports, with the full-text PDF link when screening stores one."""
    out = []
    for report in study.reports.select_related("record"):
        record, url = report.record, None
        fulltext = getattr(record, "fulltext", None) if hasattr(record, "fulltext") else None
        if fulltext is not None and getattr(fulltext, "file", None):
            for name in _PDF_URL_NAMES:
                try:
                    url = reverse(name, kwargs={"slug": study.review.slug, "record_id": record.pk})
                    break
                except NoReverseMatch:
                    continue
        out.append({"record": record, "pdf_url": url, "is_primary": report.is_primary})
    return out


def _can_edit_consensus(request, consensus: RobAssessment | None) -> bool:
    membership = request.membership
    if consensus is None or consensus.status == RobStatus.FINAL:
        return False
    if consensus.status == RobStatus.REFERRED:
        return membership.has_role(Role.ADJUDICATOR)
    return membership.has_role(Role.REVIEWER) or membership.has_role(Role.ADJUDICATOR)


def _page_context(request, review, target: RobTarget, **extra) -> dict[str, Any]:
    return {
        "review": review,
        "target": target,
        "study": target.study,
        "reports": _reports(target.study),
        "judgements": [(j, JUDGEMENT_LABELS[j]) for j in JUDGEMENTS],
        "directions": BIAS_DIRECTIONS,
        "settings": sel.rob_settings_of(review),
        **extra,
    }


def _domain_url_names(which: str) -> dict[str, str]:
    prefix = "extraction:rob_consensus_" if which == "consensus" else "extraction:rob_"
    return {
        "answer": prefix + "answer",
        "support": prefix + "support",
        "judge": prefix + "judge",
        "overall": prefix + "overall",
    }


def _assessment_context(request, review, target, assessment, which: str) -> dict[str, Any]:
    """What the domain cards, overall card and progress list need."""
    editable = (
        _can_edit_consensus(request, assessment)
        if which == "consensus"
        else (assessment is not None and not assessment.is_locked)
    )
    ctx: dict[str, Any] = {
        "which": which,
        "assessment": assessment,
        "editable": editable,
        "urls": _domain_url_names(which),
        "evidence": sel.missing_data_evidence(target, request.user) if editable else None,
    }
    if which == "consensus":
        comparison = sel.consensus_comparison(assessment)
        ctx.update(comparison=comparison, view=None)
        ctx["domains"] = comparison.domains
        ctx["overall"] = comparison.overall
    else:
        view = sel.assessment_view(assessment)
        ctx.update(view=view, domains=view.domains, overall=view.overall)
    return ctx


def _write_response(
    request,
    review,
    target,
    assessment,
    which: str,
    *,
    domain_id: str = "",
    error: DomainError | None = None,
) -> HttpResponse:
    """htmx: the changed domain card (or the overall card) with out-of-band updates."""
    if not request.htmx:
        if error:
            messages.error(request, error.message)
        name = "extraction:rob_consensus" if which == "consensus" else "extraction:rob_assess"
        anchor = f"#{domain_id}" if domain_id else "#overall"
        return redirect(reverse(name, args=[review.slug, target.pk]) + anchor)
    assessment.refresh_from_db()
    ctx = _page_context(request, review, target)
    ctx.update(_assessment_context(request, review, target, assessment, which))
    ctx.update(error=error.message if error else "", error_domain=domain_id or "overall")
    if domain_id:
        ctx["focus"] = next(d for d in ctx["domains"] if _did(d) == domain_id)
    status = error.status if error else 200
    return render(request, "extraction/rob/_write_response.html", ctx, status=status)


def _did(domain) -> str:
    return domain.id if hasattr(domain, "id") else domain.view.id


# --- overview and settings -------------------------------------------------------------------


@review_view()
def rob_overview(request: HttpRequest, review) -> HttpResponse:
    rows = sel.rob_overview(review, request.user)
    stage = request.GET.get("stage", "")
    counts = {
        "all": len(rows),
        "mine": sum(1 for r in rows if r.mine and r.mine.status == RobStatus.DRAFT),
        "consensus": sum(1 for r in rows if r.stage == "consensus"),
        "referred": sum(1 for r in rows if r.stage == "referred"),
        "final": sum(1 for r in rows if r.stage == "final"),
    }
    if stage == "mine":
        rows = [r for r in rows if r.mine and r.mine.status == RobStatus.DRAFT]
    elif stage in ("consensus", "referred", "final", "not_started", "assessing"):
        rows = [r for r in rows if r.stage == stage]
    return render(
        request,
        "extraction/rob/overview.html",
        {
            "review": review,
            "rows": rows,
            "counts": counts,
            "stage": stage,
            "settings": sel.rob_settings_of(review),
            "domains": [DOMAIN_BY_ID[d] for d in DOMAIN_BY_ID],
            "can_assess": request.membership.has_role(Role.REVIEWER),
        },
    )


@review_view(Role.LEAD)
def rob_settings(request: HttpRequest, review) -> HttpResponse:
    settings = sel.rob_settings_of(review)
    locked = RobTarget.objects.filter(review=review).exists()
    form = RobSettingsForm(request.POST or None, instance=settings, locked_unit=locked)
    if request.method == "POST" and form.is_valid():
        try:
            svc.rob_settings_update(
                review=review,
                actor=request.user,
                unit=form.cleaned_data["unit"],
                missing_threshold=form.cleaned_data["missing_threshold"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Risk-of-bias settings saved.")
            return redirect("extraction:rob_overview", slug=review.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "extraction/rob/settings.html",
        {"review": review, "form": form, "locked": locked},
        status=status,
    )


# --- an assessor's own assessment -----------------------------------------------------------


@require_POST
@review_view(Role.REVIEWER)
def rob_start(request: HttpRequest, review) -> HttpResponse:
    study = Study.objects.filter(review=review, pk=_int(request.POST.get("study"))).first()
    if study is None:
        raise svc.RobInputError("Choose a study of this review to assess.")
    outcome = None
    if request.POST.get("outcome"):
        outcome = Outcome.objects.filter(study=study, pk=_int(request.POST["outcome"])).first()
        if outcome is None:
            raise svc.RobInputError("Choose an outcome of this study to assess.")
    target = svc.rob_target_get_or_create(
        review=review, study=study, outcome=outcome, actor=request.user
    )
    svc.rob_assessment_start(target=target, user=request.user)
    return redirect("extraction:rob_assess", slug=review.slug, rob_target_id=target.pk)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@review_view(Role.REVIEWER)
def rob_assess(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    mine = _mine(target, request.user)
    others = target.assessments.filter(kind=RobKind.INDEPENDENT).exclude(assessor=request.user)
    ctx = _page_context(
        request,
        review,
        target,
        mine=mine,
        others=[
            (a.assessor.username, a.get_status_display()) for a in others.select_related("assessor")
        ],
        both_submitted=sel.both_submitted(target),
        places_left=max(
            0, svc.ASSESSORS_NEEDED - target.assessments.filter(kind=RobKind.INDEPENDENT).count()
        ),
    )
    if mine is not None:
        ctx.update(_assessment_context(request, review, target, mine, "mine"))
        ctx["history"] = sel.visible_history(mine, request.user)
    return render(request, "extraction/rob/assess.html", ctx)


def _own(target: RobTarget, user) -> RobAssessment:
    mine = _mine(target, user)
    if mine is None:
        raise ConflictError("You have not started an assessment of this result.")
    return mine


def _answer(request, review, target, assessment, which: str) -> HttpResponse:
    form = AnswerForm(request.POST)
    if not form.is_valid():
        raise svc.RobInputError("Choose a question and an answer.")
    qid = form.cleaned_data["question"]
    domain_id = "D" + qid.split(".")[0]
    if domain_id not in DOMAIN_BY_ID:
        raise svc.RobInputError(f"Unknown signalling question “{qid}”.")
    support = form.cleaned_data["support"] if "support" in request.POST else None
    try:
        svc.rob_answer_save(
            assessment=assessment,
            question_id=qid,
            answer=form.cleaned_data["answer"],
            support=support,
            actor=request.user,
        )
    except DomainError as exc:
        return _write_response(
            request, review, target, assessment, which, domain_id=domain_id, error=exc
        )
    return _write_response(request, review, target, assessment, which, domain_id=domain_id)


def _support(request, review, target, assessment, which: str) -> HttpResponse:
    form = SupportForm(request.POST)
    if not form.is_valid():
        raise svc.RobInputError("Support text is limited to 5000 characters.")
    qid = form.cleaned_data["question"]
    try:
        svc.rob_support_save(
            assessment=assessment,
            question_id=qid,
            text=form.cleaned_data["support"],
            actor=request.user,
        )
    except DomainError as exc:
        if not request.htmx:
            raise
        context = {"qid": qid, "error": exc.message}
        return render(request, "extraction/rob/_saved.html", context, status=exc.status)
    if request.htmx:
        return render(request, "extraction/rob/_saved.html", {"qid": qid})
    return _write_response(request, review, target, assessment, which, domain_id="D" + qid[0])


def _judge(request, review, target, assessment, which: str) -> HttpResponse:
    form = DomainJudgementForm(request.POST)
    if not form.is_valid() or form.cleaned_data["domain"] not in DOMAIN_BY_ID:
        raise svc.RobInputError("Choose a domain and a judgement.")
    domain_id = form.cleaned_data["domain"]
    try:
        svc.rob_domain_judge(
            assessment=assessment,
            domain_id=domain_id,
            judgement=form.cleaned_data["judgement"] if "judgement" in request.POST else None,
            justification=form.cleaned_data["justification"],
            direction=form.cleaned_data["direction"] if "direction" in request.POST else None,
            actor=request.user,
        )
    except DomainError as exc:
        return _write_response(
            request, review, target, assessment, which, domain_id=domain_id, error=exc
        )
    return _write_response(request, review, target, assessment, which, domain_id=domain_id)


def _overall(request, review, target, assessment, which: str) -> HttpResponse:
    form = OverallJudgementForm(request.POST)
    if not form.is_valid():
        raise svc.RobInputError("Choose a judgement and justify it.")
    try:
        svc.rob_overall_judge(
            assessment=assessment,
            judgement=form.cleaned_data["judgement"],
            justification=form.cleaned_data["justification"],
            actor=request.user,
        )
    except DomainError as exc:
        return _write_response(request, review, target, assessment, which, error=exc)
    return _write_response(request, review, target, assessment, which)


@require_POST
@review_view(Role.REVIEWER)
def rob_answer(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _answer(request, review, target, _own(target, request.user), "mine")


@require_POST
@review_view(Role.REVIEWER)
def rob_support(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _support(request, review, target, _own(target, request.user), "mine")


@require_POST
@review_view(Role.REVIEWER)
def rob_judge(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _judge(request, review, target, _own(target, request.user), "mine")


@require_POST
@review_view(Role.REVIEWER)
def rob_overall(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _overall(request, review, target, _own(target, request.user), "mine")


@require_POST
@review_view(Role.REVIEWER)
def rob_submit(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    mine = _own(target, request.user)
    try:
        svc.rob_assessment_submit(assessment=mine, actor=request.user)
    except svc.RobInputError as exc:
        messages.error(request, exc.message)
        return redirect("extraction:rob_assess", slug=review.slug, rob_target_id=target.pk)
    if sel.both_submitted(target):
        messages.success(request, "Assessment submitted. Both are in: the consensus is open.")
        return redirect("extraction:rob_consensus", slug=review.slug, rob_target_id=target.pk)
    messages.success(
        request, "Assessment submitted. The consensus opens when the second assessor submits."
    )
    return redirect("extraction:rob_overview", slug=review.slug)


# --- consensus ---------------------------------------------------------------------------------


@review_view()
def rob_consensus(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    if not sel.both_submitted(target):
        # Blinding: statuses only, never answers or judgements.
        independents = target.assessments.filter(kind=RobKind.INDEPENDENT).select_related(
            "assessor"
        )
        return render(
            request,
            "extraction/rob/consensus_waiting.html",
            _page_context(
                request,
                review,
                target,
                assessors=[(a.assessor.username, a.get_status_display()) for a in independents],
            ),
        )
    svc.rob_consensus_open(target=target, actor=request.user)  # idempotent
    consensus = _consensus(target)
    ctx = _page_context(request, review, target, note_form=NoteForm())
    ctx.update(_assessment_context(request, review, target, consensus, "consensus"))
    ctx["history"] = sel.visible_history(consensus, request.user)
    return render(request, "extraction/rob/consensus.html", ctx)


def _open_consensus(review, target: RobTarget) -> RobAssessment:
    consensus = _consensus(target)
    if consensus is None:
        raise ConflictError(
            "The consensus opens when both assessments are submitted; until then assessors "
            "stay blind to each other."
        )
    return consensus


@require_POST
@review_view()
def rob_consensus_answer(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _answer(request, review, target, _open_consensus(review, target), "consensus")


@require_POST
@review_view()
def rob_consensus_support(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _support(request, review, target, _open_consensus(review, target), "consensus")


@require_POST
@review_view()
def rob_consensus_judge(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _judge(request, review, target, _open_consensus(review, target), "consensus")


@require_POST
@review_view()
def rob_consensus_overall(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    return _overall(request, review, target, _open_consensus(review, target), "consensus")


@require_POST
@review_view()
def rob_consensus_finalise(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    consensus = _open_consensus(review, target)
    try:
        svc.rob_consensus_finalise(consensus=consensus, actor=request.user)
    except svc.RobInputError as exc:
        messages.error(request, exc.message)
        return redirect("extraction:rob_consensus", slug=review.slug, rob_target_id=target.pk)
    messages.success(request, f"Consensus for {target} is final; it now feeds the figures.")
    return redirect("extraction:rob_overview", slug=review.slug)


@require_POST
@review_view(Role.REVIEWER)
def rob_consensus_refer(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    consensus = _open_consensus(review, target)
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        svc.rob_consensus_refer(consensus=consensus, actor=request.user, note=note)
    except svc.RobInputError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Referred to an adjudicator.")
    return redirect("extraction:rob_consensus", slug=review.slug, rob_target_id=target.pk)


@require_POST
@review_view()
def rob_consensus_reopen(request: HttpRequest, review, rob_target_id: int) -> HttpResponse:
    target = _target(review, rob_target_id)
    consensus = _open_consensus(review, target)
    form = NoteForm(request.POST)
    reason = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        svc.rob_consensus_reopen(consensus=consensus, actor=request.user, reason=reason)
    except svc.RobInputError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Consensus reopened; it no longer feeds the figures until final.")
    return redirect("extraction:rob_consensus", slug=review.slug, rob_target_id=target.pk)


# --- figures -------------------------------------------------------------------------------------


def _figure_args(request, review) -> tuple[sel.FigureData, str, str, bool]:
    palette = request.GET.get("palette", "cochrane")
    if palette not in PALETTES:
        palette = "cochrane"
    outcome = request.GET.get("outcome", "")
    data = sel.figure_data(review, outcome=outcome)
    weighted = request.GET.get("weighted", "1") != "0" and data.weights_complete
    return data, palette, outcome, weighted


@review_view()
def rob_figures(request: HttpRequest, review) -> HttpResponse:
    data, palette, outcome, weighted = _figure_args(request, review)
    query = f"palette={palette}&weighted={int(weighted)}"
    if outcome:
        query += f"&outcome={quote(outcome)}"
    return render(
        request,
        "extraction/rob/figures.html",
        {
            "review": review,
            "data": data,
            "palette": palette,
            "outcome": outcome,
            "weighted": weighted,
            "query": query,
            "n_rows": len(data.rows),
            "settings": sel.rob_settings_of(review),
            "per_outcome": sel.rob_settings_of(review).unit == RobUnit.OUTCOME,
        },
    )


@review_view()
def rob_figure_download(request: HttpRequest, review, plot: str, fmt: str) -> HttpResponse:
    data, palette, outcome, weighted = _figure_args(request, review)
    if not data.rows:
        raise ConflictError("No final consensus assessment yet: there is nothing to plot.")
    result = data.result or outcome
    title = f"Risk of bias (RoB 2){f' · {result}' if result else ''}"
    try:
        if plot == "traffic-light":
            fig = traffic_light(data.rows, data.domains, palette=palette, title=title)
        else:
            fig = summary_plot(
                data.rows,
                data.domains,
                palette=palette,
                weights=data.weights if weighted else None,
                title=title,
            )
        body = figure_to_bytes(fig, fmt)
    except RobFigureError as exc:  # pragma: no cover - rows come validated from the database
        raise svc.RobInputError(str(exc)) from None
    content_type = {"svg": "image/svg+xml", "png": "image/png"}[fmt]
    response = HttpResponse(body, content_type=content_type)
    filename = f"{review.slug}-rob2-{plot}.{fmt}"
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-cache"
    return response


@review_view()
def rob_robvis_csv(request: HttpRequest, review) -> HttpResponse:
    data, _, _, weighted = _figure_args(request, review)
    if not data.rows:
        raise ConflictError("No final consensus assessment yet: there is nothing to export.")
    body = robvis_csv(data.rows, data.domains, weights=data.weights if weighted else None)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{review.slug}-rob2-robvis.csv"'
    return response


# --- registration ------------------------------------------------------------------------------


def rob_panel(review, membership):
    """Dashboard panel: RoB 2 progress and the member's next assessment."""
    from reviews.dashboard import NextTask, Panel, StageCount

    rows = sel.rob_overview(review, membership.user)
    per_outcome = sel.rob_settings_of(review).unit == RobUnit.OUTCOME
    if not rows:
        return None
    final = sum(1 for r in rows if r.stage == "final")
    waiting = sum(1 for r in rows if r.stage in ("consensus", "referred"))
    url = reverse("extraction:rob_overview", kwargs={"slug": review.slug})
    tasks = []
    mine = sum(1 for r in rows if r.mine and r.mine.status == RobStatus.DRAFT)
    if mine:
        tasks.append(
            NextTask(
                f"Finish your RoB 2 assessment{'s' if mine > 1 else ''} ({mine})",
                url + "?stage=mine",
            )
        )
    if waiting:
        tasks.append(NextTask(f"Reach RoB 2 consensus ({waiting})", url + "?stage=consensus"))
    return Panel(
        title="Risk of bias (RoB 2)",
        counts=[
            StageCount("Results to assess" if per_outcome else "Studies to assess", len(rows)),
            StageCount("Awaiting consensus", waiting),
            StageCount("Consensus final", final),
        ],
        tasks=tasks,
        url=url,
    )


def register_rob_nav() -> None:
    """Register RoB 2's navigation items, dashboard panel and demo step.

    Call from ``ExtractionConfig.ready()``; registering twice is harmless.
    """
    from reviews.dashboard import register_panel
    from reviews.demo import register_demo_step
    from reviews.navigation import NavItem, register_nav

    group = "Risk of bias"
    register_nav(NavItem("RoB 2 assessments", "extraction:rob_overview", order=70, group=group))
    register_nav(NavItem("RoB figures", "extraction:rob_figures", order=71, group=group))
    register_nav(NavItem("RoB settings", "extraction:rob_settings", Role.LEAD, 72, group))
    register_panel(rob_panel, order=35)
    register_demo_step(svc.rob_demo_step, order=60)
