"""Views of the screening app: thin, one access check, one service or selector call."""

from __future__ import annotations

import csv
import io
from functools import lru_cache

import rispy
from csp.constants import SELF
from csp.decorators import csp_replace
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from reviews import services as review_services
from reviews.access import review_view
from reviews.errors import DomainError
from reviews.models import Role, Stage

from . import prisma, prisma_render, ranking, selectors, services, tasks
from .agreement import kappa_label
from .forms import (
    AdjudicationForm,
    CorrectionForm,
    FullTextUploadForm,
    KeymapForm,
    PrismaExtraForm,
    ScreeningSettingsForm,
    VoteForm,
)
from .highlight import highlighter
from .keymap import ACTIONS, key_label, keymap_for
from .models import (
    BlindingChange,
    FullText,
    PrismaExtra,
    RecordCorrection,
    ScreeningItem,
    StoppingRule,
)
from .stopping import stopping_aid, stopping_test_state

STAGE_URL = {Stage.TITLE_ABSTRACT: "screening:screen_ta", Stage.FULL_TEXT: "screening:screen_ft"}


def _safe_next(request: HttpRequest, fallback: str, param: str = "next") -> str:
    target = request.POST.get(param) or request.GET.get(param) or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# --- Overview ------------------------------------------------------------------------------


def _rounds(request: HttpRequest, review) -> tuple[int, dict]:
    """The first round a page shows (`?round=all`: every round) and the switch's context."""
    scope = request.GET.get("round") or request.POST.get("round")
    first = selectors.since_round(review, scope)
    return first, {"round_all": first == 1 and review.round > 1, "round_current": review.round}


@review_view()
def overview(request: HttpRequest, review) -> HttpResponse:
    services.items_sync(review)
    membership = request.membership
    full = selectors.agreement_visible_fully(review, membership)
    first, round_context = _rounds(request, review)
    # What follows from the votes and resolutions is kept per screening state: a reload
    # with no decision in between reads one fingerprint instead of scanning them again.
    version = selectors.screening_version(review)
    stages = []
    for stage in selectors.STAGES:
        stages.append(
            {
                "stage": stage,
                "label": Stage(stage).label,
                "progress": selectors.progress(
                    review, stage, request.user, membership, first_round=first
                ),
                "agreement": selectors.agreement(
                    review, stage, resolved_only=not full, first_round=first, version=version
                ),
                "url": reverse(STAGE_URL[stage], kwargs={"slug": review.slug}),
            }
        )
    # The title/abstract stage's size, as its progress counted it (no stage has items
    # that are not retrievable at title/abstract), for the curve and the stopping test.
    ta_total = stages[0]["progress"].total
    curve = selectors.screening_curve(review, first_round=first, total=ta_total, version=version)
    context = {
        **round_context,
        "review": review,
        "stages": stages,
        "curve": curve,
        "curve_svg": mark_safe(_curve_svg(curve)),  # built from numbers only
        "stopping": stopping_aid(curve),
        "stopping_test": stopping_test_state(
            review, first_round=first, records=ta_total, version=version
        ),
        "ranking": ranking.ranking_latest(review),
        "refit_every": ranking.refit_every(),
        "agreement_full": full,
    }
    return render(request, "screening/overview.html", context)


def _curve_svg(curve: selectors.Curve, width: int = 520, height: int = 240) -> str:
    """Includes found vs records screened, with the diagonal of screening in random order."""
    pad_l, pad_b, pad_t, pad_r = 44, 30, 12, 12
    total = max(curve.total, curve.screened, 1)
    found_max = max(curve.found, 1)
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def xy(x: float, y: float) -> str:
        return f"{pad_l + w * x / total:.1f},{pad_t + h - h * y / found_max:.1f}"

    pts = " ".join(xy(x, y) for x, y in curve.points)
    random_end = xy(total, found_max)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" class="w-100" role="img" '
        f'aria-label="Includes found against records screened">',
        f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#f8f9fa" stroke="#dee2e6"/>',
        f'<polyline points="{xy(0, 0)} {random_end}" fill="none" stroke="#adb5bd" '
        f'stroke-dasharray="4 4"/>',
        f'<polyline points="{pts}" fill="none" stroke="#198754" stroke-width="2.2"/>',
        f'<text x="{pad_l + w / 2}" y="{height - 6}" text-anchor="middle" font-size="11" '
        f'fill="#6c757d">records screened (of {curve.total:,})</text>',
        f'<text x="12" y="{pad_t + h / 2}" text-anchor="middle" font-size="11" fill="#6c757d" '
        f'transform="rotate(-90 12 {pad_t + h / 2})">includes found</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + 10}" text-anchor="end" font-size="10" '
        f'fill="#6c757d">{curve.found}</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + h}" text-anchor="end" font-size="10" '
        f'fill="#6c757d">0</text>',
        "</svg>",
    ]
    return "".join(parts)


# --- Screening -----------------------------------------------------------------------------


def _panel_context(
    request,
    review,
    stage,
    record,
    *,
    mode: str,
    error: str = "",
    claimed=None,
    previous: int | None = None,
    read: selectors.Claimed | None = None,
) -> dict:
    """The screening panel of `record`; ``claimed`` is its item when just taken from the
    queue (the user has no decision on it yet, which saves queries on the hot path),
    ``previous`` the record the user decided just before (where "Previous" leads) and
    ``read`` what `selectors.claimed_record` read with the record (keymap, own count)."""
    view = selectors.record_view(review, stage, record, request.user, item=claimed)
    hl = highlighter(review.include_keywords, review.exclude_keywords)
    if claimed is not None and previous is not None:
        prev_id, next_id = previous, None
    else:
        prev_id, next_id, _ = selectors.history_neighbours(
            review, stage, request.user, record.pk, decided=claimed is None
        )
    keymap = keymap_for(request.user, **({"stored": read.keymap} if read else {}))
    first, round_context = _rounds(request, review)
    volume = record.volume + (f"({record.issue})" if record.issue else "")
    volume += f":{record.pages}" if record.pages else ""
    source_bits = [b for b in (record.journal, str(record.year or ""), volume) if b]
    return {
        **round_context,
        "source_bits": source_bits,
        "review": review,
        "stage": stage,
        "stage_label": Stage(stage).label,
        "view": view,
        "record": record,
        "mode": mode,
        "error": error,
        "title_html": hl(record.title or "(no title)"),
        "abstract_html": hl(record.abstract or ""),
        "keywords_html": [hl(str(k)) for k in (record.keywords or [])],
        "reason_options": _reason_options(
            read.reasons
            if read is not None and read.reasons is not None
            else selectors.exclusion_reasons(review, stage),
            view.my_vote.reason_id if view.my_vote else None,
        ),
        "progress": selectors.progress(
            review,
            stage,
            request.user,
            request.membership,
            first_round=first,
            mine_done=read.mine_done if read else None,
        ),
        "prev_id": prev_id,
        "next_id": next_id,
        "keymap": keymap,
        "keys_html": _keys_html(
            tuple((ACTIONS[a], tuple(key_label(k) for k in keymap[a])) for a in ACTIONS)
        ),
        "urls": _panel_urls(review, stage, record.pk, prev_id, next_id),
        "upload_form": FullTextUploadForm() if stage == Stage.FULL_TEXT else None,
        "corrections": selectors.record_corrections(record),
    }


RECORD_SENTINEL = 2_147_483_647  # a record id no review reaches, cut out of a reversed URL


@lru_cache(maxsize=512)
def _url_around_record(name: str, slug: str, stage: str | None, script_prefix: str) -> tuple:
    """(before, after) the record id in the URL `name` of (slug[, stage], record): reversing a
    URL costs ~0.1 ms, and the screening panel needs five of them on every vote."""
    args = [slug, stage, RECORD_SENTINEL] if stage else [slug, RECORD_SENTINEL]
    before, after = reverse(name, args=args).rsplit(str(RECORD_SENTINEL), 1)
    return before, after


@lru_cache(maxsize=512)
def _url(name: str, slug: str, stage: str | None, script_prefix: str) -> str:
    return reverse(name, args=[slug, stage] if stage else [slug])


def _panel_urls(review, stage: str, record_id: int, prev_id, next_id) -> dict[str, str]:
    """The links and form targets of the screening panel (the template used to reverse
    them one by one on every vote)."""
    prefix = get_script_prefix()

    def around(name: str, pk: int, with_stage: bool = True) -> str:
        before, after = _url_around_record(name, review.slug, stage if with_stage else None, prefix)
        return f"{before}{pk}{after}"

    record = around("screening:screen_record", record_id)
    return {
        "record": record,
        "vote": around("screening:vote", record_id),
        "correct": around("screening:record_correct", record_id, with_stage=False),
        "prev": around("screening:screen_record", prev_id) if prev_id else "",
        "next": around("screening:screen_record", next_id) if next_id else "",
        "undo": _url("screening:undo", review.slug, stage, prefix),
        "preferences": _url("screening:preferences", review.slug, None, prefix),
        "queue": _url(str(STAGE_URL[stage]), review.slug, None, prefix),
    }


@lru_cache(maxsize=256)
def _keys_html(keys: tuple) -> str:
    """The keyboard card's list for a keymap (the same few keymaps on every vote)."""
    return format_html_join(
        "",
        '<li class="d-flex"><span>{}</span><span class="ms-auto">{}</span></li>',
        (
            (label, format_html_join("", '<kbd class="ms-1">{}</kbd>', ((k,) for k in ks)))
            for label, ks in keys
        ),
    )


def _reason_options(reasons, chosen_id) -> str:
    return format_html_join(
        "",
        '<option value="{}" {}>{}</option>',
        ((r.pk, "selected" if chosen_id == r.pk else "", r.label) for r in reasons),
    )


def _render_screen(request, context: dict, status: int = 200) -> HttpResponse:
    template = "screening/_panel.html" if request.htmx else "screening/screen.html"
    return render(request, template, context, status=status)


def _render_done(request, review, stage, previous: int | None = None) -> HttpResponse:
    if previous is None:
        previous = selectors.history_neighbours(review, stage, request.user, 0)[0]
    first, round_context = _rounds(request, review)
    context = {
        **round_context,
        "review": review,
        "stage": stage,
        "stage_label": Stage(stage).label,
        "done": True,
        "progress": selectors.progress(
            review, stage, request.user, request.membership, first_round=first
        ),
        "prev_id": previous,
        "keymap": keymap_for(request.user),
    }
    return _render_screen(request, context)


def _screen_next(request, review, stage, previous: int | None = None) -> HttpResponse:
    """The user's next record; ``previous``: the record they have just decided, which
    "Previous" leads back to (otherwise their latest decision, looked up)."""
    first = _rounds(request, review)[0]
    item = services.next_item_claim(
        review=review, stage=stage, actor=request.user, first_round=first
    )
    if item is None:
        return _render_done(request, review, stage, previous)
    read = selectors.claimed_record(item, request.user, first_round=first)
    context = _panel_context(
        request,
        review,
        stage,
        read.record,
        mode="queue",
        claimed=item,
        previous=previous,
        read=read,
    )
    return _render_screen(request, context)


@review_view(Role.REVIEWER)
def screen_ta(request: HttpRequest, review) -> HttpResponse:
    return _screen_next(request, review, Stage.TITLE_ABSTRACT)


@review_view(Role.REVIEWER)
def screen_ft(request: HttpRequest, review) -> HttpResponse:
    return _screen_next(request, review, Stage.FULL_TEXT)


def _screenable_or_404(review, stage: str, record_id: int):
    record = selectors.screenable_record(review, stage, record_id)
    if record is None:
        raise Http404("This record is not at this screening stage.")
    return record


@review_view(Role.REVIEWER)
def screen_record(request: HttpRequest, review, stage: str, record_id: int) -> HttpResponse:
    record = _screenable_or_404(review, stage, record_id)
    return _render_screen(request, _panel_context(request, review, stage, record, mode="history"))


@require_POST
@review_view(Role.REVIEWER)
def vote(request: HttpRequest, review, stage: str, record_id: int) -> HttpResponse:
    """Record my decision, then show the next record of my queue (or this one again).

    The record itself is only loaded when this page shows it again: the service checks
    that it is at this stage of this review (404 otherwise), and the common path, a
    decision followed by the next record, needs nothing more of it.
    """
    form = VoteForm(request.POST)
    mode = "history" if request.POST.get("mode") == "history" else "queue"
    try:
        if not form.is_valid():
            raise DomainError("Choose include, exclude or maybe.")
        services.vote_cast(
            review=review,
            record_id=record_id,
            stage=stage,
            actor=request.user,
            decision=form.cleaned_data["decision"],
            reason_id=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except DomainError as exc:
        record = _screenable_or_404(review, stage, record_id)
        context = _panel_context(request, review, stage, record, mode=mode, error=exc.message)
        return _render_screen(request, context, status=exc.status)
    if mode == "history":
        if not request.htmx:
            return redirect(
                "screening:screen_record", slug=review.slug, stage=stage, record_id=record_id
            )
        record = _screenable_or_404(review, stage, record_id)
        return _render_screen(request, _panel_context(request, review, stage, record, mode=mode))
    if not request.htmx:
        return redirect(STAGE_URL[stage], slug=review.slug)
    return _screen_next(request, review, stage, previous=record_id)


@require_POST
@review_view(Role.REVIEWER)
def undo(request: HttpRequest, review, stage: str) -> HttpResponse:
    record_id = services.vote_undo(review=review, stage=stage, actor=request.user)
    if not request.htmx:
        messages.info(request, "Your last decision was withdrawn; decide again.")
        return redirect(STAGE_URL[stage], slug=review.slug)
    record = selectors.screenable_record(review, stage, record_id)
    return _render_screen(request, _panel_context(request, review, stage, record, mode="queue"))


@review_view(Role.REVIEWER)
def record_correct(request: HttpRequest, review, record_id: int) -> HttpResponse:
    record = selectors.screenable_record(review, Stage.TITLE_ABSTRACT, record_id)
    if record is None or record.duplicate_of_id:
        raise Http404("No such record to screen in this review.")
    back = _safe_next(
        request,
        reverse(
            "screening:screen_record",
            kwargs={"slug": review.slug, "stage": Stage.TITLE_ABSTRACT, "record_id": record.pk},
        ),
    )
    form = CorrectionForm(request.POST or None, initial=CorrectionForm.initial_for(record))
    if request.method == "POST" and form.is_valid():
        changed = services.record_correct(
            review=review, record_id=record.pk, actor=request.user, **form.values()
        )
        messages.success(
            request,
            f"Corrected: {', '.join(changed)}. The original values are kept in the history."
            if changed
            else "Nothing changed.",
        )
        return redirect(back)
    corrections = RecordCorrection.objects.filter(record=record).select_related("actor")
    return render(
        request,
        "screening/record_correct.html",
        {
            "review": review,
            "record": record,
            "form": form,
            "back": back,
            "corrections": corrections,
        },
        status=400 if request.method == "POST" else 200,
    )


@review_view(Role.REVIEWER)
def preferences(request: HttpRequest, review) -> HttpResponse:
    form = KeymapForm(request.POST or None, keymap=keymap_for(request.user))
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.preference_set_keymap(user=request.user, keymap=form.keymap())
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 400
        else:
            messages.success(request, "Your keyboard shortcuts are saved.")
            return redirect(
                _safe_next(request, reverse("screening:screen_ta", args=[review.slug]), "back")
            )
    elif request.method == "POST":
        status = 400
    return render(
        request, "screening/preferences.html", {"review": review, "form": form}, status=status
    )


# --- Full texts ----------------------------------------------------------------------------


@review_view(Role.REVIEWER)
def fulltexts(request: HttpRequest, review) -> HttpResponse:
    items = (
        ScreeningItem.objects.filter(review=review, stage=Stage.FULL_TEXT, active=True)
        .select_related("record", "record__fulltext")
        .order_by("id")
    )
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    mine = set(
        selectors.Vote.objects.filter(
            review=review, stage=Stage.FULL_TEXT, reviewer=request.user
        ).values_list("record_id", flat=True)
    )
    resolutions = {
        r.record_id: r
        for r in selectors.Resolution.objects.filter(
            review=review, stage=Stage.FULL_TEXT, record_id__in=[i.record_id for i in page]
        ).select_related("reason")
    }
    rows = [
        {
            "item": item,
            "record": item.record,
            "fulltext": getattr(item.record, "fulltext", None),
            "voted": item.record_id in mine,
            "resolution": resolutions.get(item.record_id),
        }
        for item in page
    ]
    return render(
        request,
        "screening/fulltext_list.html",
        {
            "review": review,
            "page": page,
            "rows": rows,
            "progress": selectors.progress(
                review, Stage.FULL_TEXT, request.user, request.membership
            ),
            "upload_form": FullTextUploadForm(),
        },
    )


@require_POST
@review_view(Role.REVIEWER)
def fulltext_upload(request: HttpRequest, review, record_id: int) -> HttpResponse:
    if selectors.screenable_record(review, Stage.FULL_TEXT, record_id) is None:
        raise Http404("This record is not at the full-text stage.")
    form = FullTextUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        raise DomainError("Choose a PDF file to upload.", field="file")
    services.fulltext_upload(
        review=review, record_id=record_id, actor=request.user, upload=form.cleaned_data["file"]
    )
    messages.success(request, "Full text uploaded.")
    return redirect(_safe_next(request, reverse("screening:fulltexts", args=[review.slug])))


@require_POST
@review_view(Role.REVIEWER)
def fulltext_not_retrievable(request: HttpRequest, review, record_id: int) -> HttpResponse:
    flag = request.POST.get("not_retrievable", "1") == "1"
    services.fulltext_set_not_retrievable(
        review=review, record_id=record_id, actor=request.user, not_retrievable=flag
    )
    messages.success(
        request, "Marked as not retrievable." if flag else "Marked as retrievable again."
    )
    return redirect(_safe_next(request, reverse("screening:fulltexts", args=[review.slug])))


@csp_replace({"frame-ancestors": [SELF]})  # every other page: 'none'
@xframe_options_sameorigin
@review_view()
def fulltext_pdf(request: HttpRequest, review, record_id: int) -> HttpResponse:
    """The PDF, to members only (never a public /media URL); framed by our own pages."""
    fulltext = FullText.objects.filter(review=review, record_id=record_id).first()
    if fulltext is None or not fulltext.file:
        raise Http404("No full text has been uploaded for this record.")
    response = FileResponse(
        fulltext.file.open("rb"),
        content_type="application/pdf",
        as_attachment=request.GET.get("download") == "1",
        filename=f"record-{record_id}.pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- Conflicts and adjudication ------------------------------------------------------------


def _stage_param(request: HttpRequest) -> str:
    stage = request.GET.get("stage", Stage.TITLE_ABSTRACT)
    return stage if stage in selectors.STAGES else Stage.TITLE_ABSTRACT


@review_view(Role.ADJUDICATOR)
def conflicts(request: HttpRequest, review) -> HttpResponse:
    stage = _stage_param(request)
    first, round_context = _rounds(request, review)
    items = list(selectors.conflicts(review, stage, first_round=first))
    votes = selectors.conflict_votes(items, stage)
    counts = selectors.stage_counts(review, first_round=first)
    return render(
        request,
        "screening/conflict_list.html",
        {
            **round_context,
            "review": review,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "rows": [(item, votes.get(item.record_id, [])) for item in items],
            "counts": counts,
            "adjudicated": selectors.adjudicated(review, stage)[:20],
        },
    )


@review_view(Role.ADJUDICATOR)
def adjudicate(request: HttpRequest, review, stage: str, record_id: int) -> HttpResponse:
    record = _screenable_or_404(review, stage, record_id)
    item = ScreeningItem.objects.get(review=review, record=record, stage=stage)
    form = AdjudicationForm(request.POST or None, review=review, stage=stage)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.conflict_resolve(
                    review=review,
                    record_id=record.pk,
                    stage=stage,
                    actor=request.user,
                    decision=form.cleaned_data["decision"],
                    reason_id=form.cleaned_data["reason"].pk
                    if form.cleaned_data["reason"]
                    else None,
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status
            else:
                messages.success(request, f"Record #{record.pk} resolved.")
                nxt = selectors.conflicts(review, stage).first()
                if nxt is not None:
                    return redirect(
                        "screening:adjudicate",
                        slug=review.slug,
                        stage=stage,
                        record_id=nxt.record_id,
                    )
                return redirect(
                    reverse("screening:conflicts", args=[review.slug]) + f"?stage={stage}"
                )
        else:
            status = 400
    hl = highlighter(review.include_keywords, review.exclude_keywords)
    votes = selectors.conflict_votes([item], stage).get(record.pk, [])
    return render(
        request,
        "screening/adjudicate.html",
        {
            "review": review,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "record": record,
            "item": item,
            "votes": votes,
            "form": form,
            "title_html": hl(record.title or "(no title)"),
            "abstract_html": hl(record.abstract or ""),
            "fulltext": FullText.objects.filter(record=record).first(),
            "resolution": selectors.Resolution.objects.filter(record=record, stage=stage)
            .select_related("actor", "reason")
            .first(),
        },
        status=status,
    )


# --- Agreement -----------------------------------------------------------------------------


@review_view()
def agreement(request: HttpRequest, review) -> HttpResponse:
    full = selectors.agreement_visible_fully(review, request.membership)
    first, round_context = _rounds(request, review)
    stages = []
    for stage in selectors.STAGES:
        result = selectors.agreement(review, stage, resolved_only=not full, first_round=first)
        stages.append(
            {
                "label": Stage(stage).label,
                "agreement": result,
                "kappa_text": kappa_label(result.overall.kappa),
            }
        )
    return render(
        request,
        "screening/agreement.html",
        {**round_context, "review": review, "stages": stages, "agreement_full": full},
    )


# --- PRISMA --------------------------------------------------------------------------------


def _svg_inline(svg: str) -> str:
    return svg.split("?>", 1)[1].strip() if svg.startswith("<?xml") else svg


def _prisma_update(request: HttpRequest) -> bool:
    """The template for updated reviews when there is a previous version, unless
    ``?template=new`` asks for the whole review as one flow."""
    return request.GET.get("template") != "new"


@review_view()
def prisma_view(request: HttpRequest, review) -> HttpResponse:
    services.items_sync(review)
    counts = prisma.prisma_counts(review, update=_prisma_update(request))
    extra = PrismaExtra.objects.filter(review=review).first()
    context = {
        "review": review,
        "counts": counts,
        "template_query": "" if _prisma_update(request) else "?template=new",
        "can_update": review.round > 1,
        # The renderer escapes every label through ElementTree, so the markup is safe.
        "svg": mark_safe(_svg_inline(prisma_render.render_svg(counts))),
        "problems": counts.inconsistencies(),
        "pending": prisma.prisma_pending(review),
        "extra_form": PrismaExtraForm(instance=extra) if request.membership.can_manage else None,
    }
    return render(request, "screening/prisma.html", context)


PRISMA_FORMATS = {
    "svg": ("image/svg+xml", lambda c: prisma_render.render_svg(c).encode("utf-8")),
    "png": ("image/png", prisma_render.render_png),
    "pdf": ("application/pdf", prisma_render.render_pdf),
    "csv": ("text/csv; charset=utf-8", lambda c: prisma_render.counts_csv(c).encode("utf-8")),
}


@review_view()
def prisma_download(request: HttpRequest, review, fmt: str) -> HttpResponse:
    if fmt not in PRISMA_FORMATS:
        raise Http404("Unknown format.")
    services.items_sync(review)
    content_type, render_fn = PRISMA_FORMATS[fmt]
    counts = prisma.prisma_counts(review, update=_prisma_update(request))
    response = HttpResponse(render_fn(counts), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="prisma-{review.slug}.{fmt}"'
    return response


@require_POST
@review_view(Role.LEAD)
def prisma_extra(request: HttpRequest, review) -> HttpResponse:
    extra = PrismaExtra.objects.filter(review=review).first()
    form = PrismaExtraForm(request.POST, instance=extra)
    if form.is_valid():
        try:
            services.prisma_extra_set(review=review, actor=request.user, **form.values())
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "PRISMA counts saved.")
            return redirect("screening:prisma", slug=review.slug)
    counts = prisma.prisma_counts(review)
    return render(
        request,
        "screening/prisma.html",
        {
            "review": review,
            "counts": counts,
            "svg": mark_safe(_svg_inline(prisma_render.render_svg(counts))),
            "problems": counts.inconsistencies(),
            "pending": prisma.prisma_pending(review),
            "extra_form": form,
            "template_query": "",
            "can_update": review.round > 1,
        },
        status=400,
    )


# --- Exports -------------------------------------------------------------------------------


@review_view()
def exports(request: HttpRequest, review) -> HttpResponse:
    return render(
        request,
        "screening/exports.html",
        {
            "review": review,
            "n_included_ta": selectors.included_records(review, Stage.TITLE_ABSTRACT).count(),
            "n_included_ft": selectors.included_records(review, Stage.FULL_TEXT).count(),
        },
    )


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: titles and notes are user input.
    return "'" + text if text.startswith(_FORMULA) else text


def _csv_response(rows: list[list], filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@review_view(Role.LEAD)
def export_decisions(request: HttpRequest, review) -> HttpResponse:
    """Every record and stage with each vote, the final decision and its reason (leads)."""
    rows = selectors.decision_rows(review)
    width = max([len(r.votes) for r in rows] + [review.votes_required])
    header = ["record_id", "title", "first_author", "year", "doi", "stage", "status"]
    for i in range(1, width + 1):
        header += [f"reviewer_{i}", f"decision_{i}", f"reason_{i}", f"note_{i}", f"voted_at_{i}"]
    header += ["final_decision", "final_reason", "adjudicated", "resolved_by", "resolution_note"]
    table = [header]
    for row in rows:
        line = [
            row.record.pk,
            row.record.title,
            row.record.first_author_display,
            row.record.year or "",
            row.record.doi,
            Stage(row.stage).label,
            row.status,
        ]
        for i in range(width):
            if i < len(row.votes):
                v = row.votes[i]
                line += [
                    v.reviewer.username,
                    v.decision,
                    v.reason.label if v.reason else "",
                    v.note,
                    v.updated_at.isoformat(timespec="seconds"),
                ]
            else:
                line += ["", "", "", "", ""]
        res = row.resolution
        line += (
            [
                res.decision,
                res.reason.label if res.reason else "",
                "yes" if res.adjudicated else "no",
                res.actor.username if res.actor else "automatic (agreement)",
                res.note,
            ]
            if res
            else ["", "", "", "", ""]
        )
        table.append(line)
    return _csv_response(table, f"screening-decisions-{review.slug}.csv")


@review_view(Role.LEAD)
def export_agreement(request: HttpRequest, review) -> HttpResponse:
    table = [
        [
            "stage",
            "rater_1",
            "rater_2",
            "n",
            "both_include",
            "rater1_include_rater2_exclude",
            "rater1_exclude_rater2_include",
            "both_exclude",
            "percent_agreement",
            "kappa",
        ]
    ]
    for stage in selectors.STAGES:
        result = selectors.agreement(review, stage, resolved_only=False)
        entries = [("all pairs", "(first vs second vote)", result.overall)] + [
            (p.rater1, p.rater2, p.kappa) for p in result.pairs
        ]
        for r1, r2, k in entries:
            (a, b), (c, d) = k.table
            table.append(
                [
                    Stage(stage).label,
                    r1,
                    r2,
                    k.n,
                    a,
                    b,
                    c,
                    d,
                    "" if k.percent_agreement is None else f"{k.percent_agreement:.1f}",
                    "" if k.kappa is None else f"{k.kappa:.3f}",
                ]
            )
    return _csv_response(table, f"screening-agreement-{review.slug}.csv")


@review_view()
def export_included(request: HttpRequest, review) -> HttpResponse:
    """Included records as RIS (after full text; ``?stage=ta`` for title/abstract includes)."""
    stage = Stage.TITLE_ABSTRACT if request.GET.get("stage") == "ta" else Stage.FULL_TEXT
    entries = []
    for record in selectors.included_records(review, stage):
        entry = {
            "type_of_reference": "JOUR",
            "title": record.title,
            "authors": list(record.authors or []),
            "journal_name": record.journal,
            "year": str(record.year) if record.year else "",
            "volume": record.volume,
            "number": record.issue,
            "doi": record.doi,
            "abstract": record.abstract,
            "keywords": [str(k) for k in record.keywords or []],
            "id": str(record.pk),
        }
        if record.pages:
            start, _, end = record.pages.partition("-")
            entry["start_page"] = start
            if end:
                entry["end_page"] = end
        if record.pmid:
            entry["accession_number"] = record.pmid
        entries.append({k: v for k, v in entry.items() if v not in ("", [], None)})
    response = HttpResponse(
        rispy.dumps(entries), content_type="application/x-research-info-systems"
    )
    response["Content-Disposition"] = f'attachment; filename="included-{stage}-{review.slug}.ris"'
    return response


# --- Settings and ranking ------------------------------------------------------------------


@review_view(Role.LEAD)
def screening_settings(request: HttpRequest, review) -> HttpResponse:
    rule = StoppingRule.objects.filter(review=review).first() or StoppingRule(review=review)
    initial = {
        "target_recall": round(100 * rule.target_recall, 1),
        "confidence": round(100 * rule.confidence, 1),
    }
    form = ScreeningSettingsForm(request.POST or None, instance=review, initial=initial)
    if request.method == "POST" and form.is_valid():
        # each setting is kept in the review's history; blinding has its own service
        values = {name: form.cleaned_data[name] for name in form._meta.fields}
        blinded = values.pop("blinded")
        with transaction.atomic():
            obj = review_services.review_update(
                review=review, actor=request.user, section="screening", **values
            )
            services.blinding_set(review=obj, actor=request.user, blinded=blinded)
            # Left empty: the rule keeps what it had.
            target = form.cleaned_data["target_recall"] or initial["target_recall"]
            confidence = form.cleaned_data["confidence"] or initial["confidence"]
            services.stopping_rule_set(
                review=obj,
                actor=request.user,
                target_recall=float(target) / 100,
                confidence=float(confidence) / 100,
            )
        messages.success(request, "Screening settings saved.")
        return redirect("screening:settings", slug=review.slug)
    return render(
        request,
        "screening/settings.html",
        {
            "review": review,
            "form": form,
            "log": BlindingChange.objects.filter(review=review).select_related("actor")[:20],
            "ranking": ranking.ranking_latest(review),
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@review_view(Role.LEAD)
def stopping_sampling(request: HttpRequest, review) -> HttpResponse:
    """Switch the title/abstract queue to random sampling for the stopping test, or back."""
    sampling = request.POST.get("sampling") == "on"
    services.stopping_sampling_set(review=review, actor=request.user, sampling=sampling)
    messages.success(
        request,
        "The title/abstract queue now samples the unscreened records at random."
        if sampling
        else "The title/abstract queue is back in ranked order.",
    )
    return redirect("screening:overview", slug=review.slug)


@require_POST
@review_view(Role.LEAD)
def ranking_refit(request: HttpRequest, review) -> HttpResponse:
    job = review_services.job_create(review=review, kind=tasks.RANKING_REFIT, actor=request.user)
    return redirect("reviews:job", slug=review.slug, job_id=job.pk)
