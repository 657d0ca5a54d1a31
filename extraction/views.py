"""Views of the extraction app: thin, one access check, one service or selector call."""

from __future__ import annotations

import csv
import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from reviews.access import review_view
from reviews.errors import DomainError
from reviews.models import Role

from . import selectors, services
from .effects import compute_block
from .forms import (
    FIELD_TYPE_CHOICES,
    AnswersForm,
    ArmForm,
    ExtractionSettingsForm,
    OutcomeForm,
    StudyMergeForm,
    StudyRenameForm,
    SubdomainForm,
    TemplateForm,
    TimepointForm,
)
from .models import (
    Arm,
    Extraction,
    ExtractionKind,
    ExtractionMode,
    Outcome,
    Population,
    Study,
    StudyReport,
    Timepoint,
)
from .schema import display_value, is_empty
from .services import DataEntryError
from .values import ARM_ATTRS, ATTR_LABELS, COMPARISON_ATTRS

POPULATION_LABELS = dict(Population.choices)
# Names the screening app may give its access-checked PDF view, tried in order.
PDF_URL_NAMES = ("screening:fulltext_pdf", "screening:fulltext_file", "screening:fulltext")


def _study(review, study_id: int) -> Study:
    return get_object_or_404(Study.objects.select_related("review"), pk=study_id, review=review)


def _pdf_reports(study: Study) -> list[dict[str, Any]]:
    """The study's reports with the URL of their full-text PDF when screening stores one."""
    out = []
    for report in study.reports.select_related("record"):
        record = report.record
        url = None
        fulltext = getattr(record, "fulltext", None) if hasattr(record, "fulltext") else None
        if fulltext is not None and getattr(fulltext, "file", None):
            for name in PDF_URL_NAMES:
                try:
                    url = reverse(name, kwargs={"slug": study.review.slug, "record_id": record.pk})
                    break
                except NoReverseMatch:
                    continue
        out.append({"record": record, "pdf_url": url, "is_primary": report.is_primary})
    return out


def _own_extraction(study: Study, user) -> Extraction | None:
    return study.extractions.filter(kind=ExtractionKind.INDEPENDENT, extractor=user).first()


# --- studies -------------------------------------------------------------------------------------


@review_view()
def study_list(request: HttpRequest, review) -> HttpResponse:
    # Studies follow screening: included full texts become studies as soon as anyone looks.
    services.studies_sync(review=review, actor=None)
    settings = selectors.settings_of(review)
    studies = list(selectors.studies_for(review))
    for study in studies:
        extractions = list(study.extractions.all())
        study.independents = [e for e in extractions if e.kind == ExtractionKind.INDEPENDENT]
        study.consensus = next((e for e in extractions if e.kind == ExtractionKind.CONSENSUS), None)
        study.mine = next(
            (e for e in study.independents if e.extractor_id == request.user.pk), None
        )
        study.places_left = settings.extractors_needed - len(study.independents)
    return render(
        request,
        "extraction/study_list.html",
        {
            "review": review,
            "studies": studies,
            "settings": settings,
            "counts": selectors.study_counts(review),
        },
    )


@require_POST
@review_view(Role.LEAD)
def study_sync(request: HttpRequest, review) -> HttpResponse:
    created = services.studies_sync(review=review, actor=request.user)
    messages.success(
        request,
        f"{len(created)} new stud{'y' if len(created) == 1 else 'ies'} from included full texts.",
    )
    return redirect("extraction:studies", slug=review.slug)


@review_view()
def study_detail(request: HttpRequest, review, study_id: int) -> HttpResponse:
    study = _study(review, study_id)
    return _render_study(request, review, study)


def _render_study(request, review, study, *, rename_form=None, merge_form=None, status=200):
    settings = selectors.settings_of(review)
    extractions = list(study.extractions.select_related("extractor"))
    return render(
        request,
        "extraction/study_detail.html",
        {
            "review": review,
            "study": study,
            "reports": _pdf_reports(study),
            "report_objects": study.reports.select_related("record"),
            "extractions": extractions,
            "settings": settings,
            "mine": _own_extraction(study, request.user),
            "can_start": _can_start(study),
            "consensus_ready": len(services.consensus_sources(study)) >= settings.extractors_needed,
            "rename_form": rename_form or StudyRenameForm(instance=study),
            "merge_form": merge_form or StudyMergeForm(study=study),
            "events": study.events.select_related("actor")[:20],
        },
        status=status,
    )


@require_POST
@review_view(Role.LEAD)
def study_rename(request: HttpRequest, review, study_id: int) -> HttpResponse:
    study = _study(review, study_id)
    form = StudyRenameForm(request.POST)
    if form.is_valid():
        try:
            services.study_rename(study=study, label=form.cleaned_data["label"], actor=request.user)
            messages.success(request, f"Study renamed to “{study.label}”.")
            return redirect("extraction:study", slug=review.slug, study_id=study.pk)
        except DomainError as exc:
            form.add_error("label", exc.message)
    study.refresh_from_db()
    return _render_study(request, review, study, rename_form=form, status=400)


@require_POST
@review_view(Role.LEAD)
def study_merge(request: HttpRequest, review, study_id: int) -> HttpResponse:
    study = _study(review, study_id)
    form = StudyMergeForm(request.POST, study=study)
    if form.is_valid():
        try:
            services.study_merge(
                target=study,
                sources=form.cleaned_data["sources"],
                label=form.cleaned_data["label"],
                actor=request.user,
            )
            messages.success(request, f"Reports merged into “{study.label}”.")
            return redirect("extraction:study", slug=review.slug, study_id=study.pk)
        except DomainError as exc:
            form.add_error(None, exc.message)
    return _render_study(request, review, study, merge_form=form, status=400)


@require_POST
@review_view(Role.LEAD)
def report_split(request: HttpRequest, review, report_id: int) -> HttpResponse:
    report = get_object_or_404(
        StudyReport.objects.select_related("study", "record"), pk=report_id, study__review=review
    )
    try:
        new = services.study_split_report(report=report, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("extraction:study", slug=review.slug, study_id=report.study_id)
    messages.success(request, f"“{new.label}” is a study of its own again.")
    return redirect("extraction:study", slug=review.slug, study_id=new.pk)


# --- structure: arms, outcomes, timepoints -------------------------------------------------------


def _structure_add(request, review, study_id: int, form_class, create, what: str) -> HttpResponse:
    study = _study(review, study_id)
    kwargs = {"review": review} if form_class is OutcomeForm else {}
    form = form_class(request.POST, **kwargs)
    if form.is_valid():
        try:
            create(study=study, actor=request.user, **form.cleaned_data)
            messages.success(request, f"{what} added.")
            return redirect(_back(request, review, study))
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(_back(request, review, study))
    errors = "; ".join(
        f"{form.fields[k].label if k in form.fields else ''}: {' '.join(v)}".strip(": ")
        for k, v in form.errors.items()
    )
    messages.error(request, f"{what} not added — {errors}")
    return redirect(_back(request, review, study))


def _back(request, review, study) -> str:
    nxt = request.POST.get("next", "")
    if nxt.startswith(f"/reviews/{review.slug}/extraction/"):
        return nxt
    return reverse("extraction:data", kwargs={"slug": review.slug, "study_id": study.pk})


@require_POST
@review_view(Role.REVIEWER)
def arm_add(request: HttpRequest, review, study_id: int) -> HttpResponse:
    return _structure_add(request, review, study_id, ArmForm, services.arm_create, "Arm")


@require_POST
@review_view(Role.REVIEWER)
def outcome_add(request: HttpRequest, review, study_id: int) -> HttpResponse:
    return _structure_add(
        request, review, study_id, OutcomeForm, services.outcome_create, "Outcome"
    )


@require_POST
@review_view(Role.REVIEWER)
def timepoint_add(request: HttpRequest, review, study_id: int) -> HttpResponse:
    return _structure_add(
        request, review, study_id, TimepointForm, services.timepoint_create, "Timepoint"
    )


def _structure_delete(request, review, model, item_id: int) -> HttpResponse:
    item = get_object_or_404(
        model.objects.select_related("study"), pk=item_id, study__review=review
    )
    try:
        services.structure_delete(item=item, actor=request.user)
        messages.success(request, f"“{item}” removed.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(_back(request, review, item.study))


@require_POST
@review_view(Role.REVIEWER)
def arm_delete(request: HttpRequest, review, arm_id: int) -> HttpResponse:
    return _structure_delete(request, review, Arm, arm_id)


@require_POST
@review_view(Role.REVIEWER)
def outcome_delete(request: HttpRequest, review, outcome_id: int) -> HttpResponse:
    return _structure_delete(request, review, Outcome, outcome_id)


@require_POST
@review_view(Role.REVIEWER)
def timepoint_delete(request: HttpRequest, review, timepoint_id: int) -> HttpResponse:
    return _structure_delete(request, review, Timepoint, timepoint_id)


# --- one person's extraction --------------------------------------------------------------------


@require_POST
@review_view(Role.REVIEWER)
def extraction_start(request: HttpRequest, review, study_id: int) -> HttpResponse:
    study = _study(review, study_id)
    services.extraction_start(study=study, user=request.user)
    return redirect("extraction:extract", slug=review.slug, study_id=study.pk)


def _extraction_context(request, review, study, extraction, **extra) -> dict[str, Any]:
    return {
        "review": review,
        "study": study,
        "extraction": extraction,
        "reports": _pdf_reports(study),
        "settings": selectors.settings_of(review),
        **extra,
    }


@review_view(Role.REVIEWER)
def extraction_form(request: HttpRequest, review, study_id: int) -> HttpResponse:
    """The extraction form (answers) of the current user, PDF beside it."""
    study = _study(review, study_id)
    extraction = _own_extraction(study, request.user)
    if extraction is None:
        return render(
            request,
            "extraction/extraction_start.html",
            _extraction_context(request, review, study, None, can_start=_can_start(study)),
        )
    template = selectors.current_template(review)
    submit = request.method == "POST" and "submit" in request.POST
    status = 200
    if request.method == "POST":
        form = AnswersForm(template, request.POST, enforce_required=submit)
        form.is_valid()
        try:
            services.extraction_save_answers(
                extraction=extraction,
                raw_answers=form.raw_answers(),
                actor=request.user,
                submit=submit,
            )
        except DataEntryError as exc:
            for key, message in exc.errors.items():
                if key in form.fields:
                    form.add_error(key, message)
            messages.error(request, "Nothing was saved: correct the marked fields.")
            status = 400
        else:
            if submit:
                messages.success(request, "Extraction submitted. Thank you!")
                return redirect("extraction:study", slug=review.slug, study_id=study.pk)
            messages.success(request, "Draft saved.")
            return redirect("extraction:extract", slug=review.slug, study_id=study.pk)
    else:
        form = AnswersForm(template, answers=extraction.answers)
    read_only = extraction.is_submitted
    return render(
        request,
        "extraction/extraction_form.html",
        _extraction_context(
            request,
            review,
            study,
            extraction,
            form=form,
            read_only=read_only,
            display=selectors.answers_display(extraction.template, extraction.answers)
            if read_only
            else None,
            retired=_retired(template, extraction.answers),
            tab="form",
        ),
        status=status,
    )


def _retired(template, answers) -> list[dict[str, str]]:
    keys = {f["key"] for f in template.fields()}
    return [
        {"key": k, "value": display_value(None, v)}
        for k, v in answers.items()
        if k not in keys and not is_empty(v)
    ]


def _can_start(study: Study) -> bool:
    settings = selectors.settings_of(study.review)
    return (
        study.extractions.filter(kind=ExtractionKind.INDEPENDENT).count()
        < settings.extractors_needed
    )


def _blocks(
    study: Study,
    extraction: Extraction | None,
    rule: str,
    errors=None,
    posted=None,
    posted_key=None,
):
    """Outcome × timepoint blocks of an extraction with values and the computed g."""
    arms = list(study.arms.all())
    data = {}
    if extraction is not None:
        data = {
            (d.outcome_id, d.timepoint_id): d
            for d in extraction.data.prefetch_related("arm_values")
        }
    blocks = []
    for outcome in study.outcomes.select_related("subdomain__domain"):
        for tp in study.timepoints.all():
            d = data.get((outcome.pk, tp.pk))
            values = {v.arm_id: v for v in d.arm_values.all()} if d else {}
            is_posted = posted is not None and posted_key == (outcome.pk, tp.pk)
            rows = []
            for arm in arms:
                cells = []
                for attr in ARM_ATTRS:
                    name = f"arm-{arm.pk}-{attr}"
                    if is_posted:
                        value = posted.get(name, "")
                    else:
                        raw = getattr(values.get(arm.pk), attr, None) if arm.pk in values else None
                        value = "" if raw is None else f"{raw:g}"
                    cells.append(
                        {
                            "name": name,
                            "attr": attr,
                            "value": value,
                            "error": (errors or {}).get(name) if is_posted else None,
                        }
                    )
                rows.append({"arm": arm, "cells": cells})
            comparison = []
            for attr in COMPARISON_ATTRS:
                if is_posted:
                    value = posted.get(attr, "")
                else:
                    raw = getattr(d, attr, None) if d else None
                    value = (
                        "" if raw is None else (f"{raw:g}" if isinstance(raw, float) else str(raw))
                    )
                comparison.append(
                    {
                        "name": attr,
                        "label": ATTR_LABELS[attr],
                        "value": value,
                        "error": (errors or {}).get(attr) if is_posted else None,
                    }
                )
            result = compute_block(selectors.block_input(d, arms, outcome, rule)) if d else None
            blocks.append(
                {
                    "outcome": outcome,
                    "timepoint": tp,
                    "rows": rows,
                    "comparison": comparison,
                    "population": posted.get("population")
                    if is_posted
                    else (d.population if d else "unclear"),
                    "result": result,
                    "has_data": d is not None,
                    "open": is_posted or bool(comparison and any(c["value"] for c in comparison)),
                    "id": f"b-{outcome.pk}-{tp.pk}",
                }
            )
    return blocks


@review_view(Role.REVIEWER)
def extraction_data(request: HttpRequest, review, study_id: int) -> HttpResponse:
    """Arms, outcomes, timepoints and the current user's numbers, with g beside each block."""
    study = _study(review, study_id)
    extraction = _own_extraction(study, request.user)
    return _render_data(request, review, study, extraction)


def _render_data(request, review, study, extraction, status=200, **block_kwargs):
    settings = selectors.settings_of(review)
    return render(
        request,
        "extraction/extraction_data.html",
        _extraction_context(
            request,
            review,
            study,
            extraction,
            blocks=_blocks(study, extraction, settings.multi_arm_rule, **block_kwargs),
            arms=study.arms.all(),
            outcomes=study.outcomes.select_related("subdomain__domain"),
            timepoints=study.timepoints.all(),
            arm_form=ArmForm(),
            outcome_form=OutcomeForm(review=review),
            timepoint_form=TimepointForm(),
            arm_attrs=[(a, ATTR_LABELS[a]) for a in ARM_ATTRS],
            read_only=extraction is None or extraction.is_submitted,
            can_start=_can_start(study),
            tab="data",
        ),
        status=status,
    )


@require_POST
@review_view(Role.REVIEWER)
def outcome_data_save(
    request: HttpRequest, review, study_id: int, outcome_id: int, timepoint_id: int
) -> HttpResponse:
    study = _study(review, study_id)
    outcome = get_object_or_404(Outcome, pk=outcome_id, study=study)
    timepoint = get_object_or_404(Timepoint, pk=timepoint_id, study=study)
    extraction = _own_extraction(study, request.user)
    if extraction is None:
        messages.error(request, "Start your extraction of this study first.")
        return redirect("extraction:data", slug=review.slug, study_id=study.pk)
    try:
        services.outcome_data_save(
            extraction=extraction,
            outcome=outcome,
            timepoint=timepoint,
            raw=request.POST,
            actor=request.user,
        )
    except DataEntryError as exc:
        messages.error(
            request, f"Nothing was saved for {outcome} at {timepoint}: correct the marked values."
        )
        return _render_data(
            request,
            review,
            study,
            extraction,
            status=400,
            errors=exc.errors,
            posted=request.POST,
            posted_key=(outcome.pk, timepoint.pk),
        )
    messages.success(request, f"{outcome} at {timepoint} saved.")
    url = reverse("extraction:data", kwargs={"slug": review.slug, "study_id": study.pk})
    return redirect(f"{url}#b-{outcome.pk}-{timepoint.pk}")


@require_POST
@review_view(Role.REVIEWER)
def extraction_submit(request: HttpRequest, review, study_id: int) -> HttpResponse:
    study = _study(review, study_id)
    extraction = _own_extraction(study, request.user)
    if extraction is None:
        messages.error(request, "You have no extraction of this study.")
        return redirect("extraction:study", slug=review.slug, study_id=study.pk)
    try:
        services.extraction_submit(extraction=extraction, actor=request.user)
    except DataEntryError as exc:
        messages.error(request, f"Not submitted: {len(exc.errors)} required field(s) still empty.")
        return redirect("extraction:extract", slug=review.slug, study_id=study.pk)
    messages.success(request, "Extraction submitted.")
    return redirect("extraction:study", slug=review.slug, study_id=study.pk)


# --- consensus -------------------------------------------------------------------------------------


def _consensus_rows(study, sources, consensus, template, posted=None, errors=None):
    """Side-by-side rows: every form field and every number any extractor entered."""
    cells = [selectors.extraction_cells(e) for e in sources]
    agreed = selectors.extraction_cells(consensus) if consensus else None
    errors = errors or {}

    def row(key: str, label: str, group: str, field: dict | None = None):
        values = [c.get(key) for c in cells]
        differ = len({json.dumps(v, sort_keys=True) for v in values}) > 1
        if posted is not None:
            current = (
                posted.getlist(key)
                if field and field["type"] == "multiple_choice"
                else posted.get(key, "")
            )
        elif agreed is not None:
            current = agreed.get(key)
        else:
            current = None if differ else values[0]
        return {
            "key": key,
            "label": label,
            "group": group,
            "field": field,
            "values": [
                POPULATION_LABELS.get(v, v)
                if key.endswith(":population")
                else display_value(field, v)
                for v in values
            ],
            "raw_values": [json.dumps(_as_input(field, v)).replace("<", "\\u003c") for v in values],
            "differ": differ,
            "current": _as_input(field, current) if posted is None else current,
            "error": errors.get(key),
        }

    rows = []
    for section in template.schema["sections"]:
        for f in section["fields"]:
            rows.append(row(f"f:{f['key']}", f["label"], section["title"], f))
    arms = {a.pk: a for a in study.arms.all()}
    outcomes = {o.pk: o for o in study.outcomes.all()}
    timepoints = {t.pk: t for t in study.timepoints.all()}
    keys = set().union(*(c.keys() for c in cells)) | set(agreed or {})
    order = {a: i for i, a in enumerate(("population", *COMPARISON_ATTRS))}
    arm_order = {a: i for i, a in enumerate(ARM_ATTRS)}
    data_keys = sorted(
        (k for k in keys if k[0] in "ad"),
        key=lambda k: (
            int(k.split(":")[1]),
            timepoints[int(k.split(":")[2])].weeks if int(k.split(":")[2]) in timepoints else 0,
            k[0] == "d",
            int(k.split(":")[3]) if k[0] == "a" else 0,
            arm_order.get(k.split(":")[-1], 0) if k[0] == "a" else order.get(k.split(":")[-1], 0),
        ),
    )
    for key in data_keys:
        parts = key.split(":")
        o, t = int(parts[1]), int(parts[2])
        if o not in outcomes or t not in timepoints:
            continue
        group = f"{outcomes[o]} · {timepoints[t]}"
        if parts[0] == "a":
            arm = arms.get(int(parts[3]))
            label = f"{arm.name if arm else 'removed arm'} — {ATTR_LABELS[parts[4]]}"
        else:
            label = ATTR_LABELS[parts[3]]
        rows.append(row(key, label, group))
    return rows


def _as_input(field, value):
    if value is None:
        return ""
    if field and field["type"] == "yes_no":
        return {True: "yes", False: "no"}.get(value, "")
    if isinstance(value, float):
        return f"{value:g}"
    return value


@review_view(Role.REVIEWER)
def consensus(request: HttpRequest, review, study_id: int) -> HttpResponse:
    """Both extractions side by side; every differing value highlighted; agree and save."""
    study = _study(review, study_id)
    sources = services.consensus_check_ready(study=study, user=request.user)
    template = selectors.current_template(review)
    current = study.extractions.filter(kind=ExtractionKind.CONSENSUS).first()
    status, posted, errors = 200, None, None
    if request.method == "POST":
        finalise = "finalise" in request.POST
        cells: dict[str, Any] = {}
        for key in request.POST:
            if key[:2] in ("f:", "d:", "a:"):
                values = request.POST.getlist(key)
                cells[key] = values if len(values) > 1 or _is_multi(template, key) else values[0]
        try:
            services.consensus_save(study=study, cells=cells, actor=request.user, finalise=finalise)
        except DataEntryError as exc:
            status, posted, errors = 400, request.POST, exc.errors
            messages.error(request, "Nothing was saved: correct the marked values.")
        else:
            if finalise:
                messages.success(request, "Consensus saved: these values now feed the analysis.")
                return redirect("extraction:study", slug=review.slug, study_id=study.pk)
            messages.success(request, "Consensus draft saved.")
            return redirect("extraction:consensus", slug=review.slug, study_id=study.pk)
    rows = _consensus_rows(study, sources, current, template, posted=posted, errors=errors)
    return render(
        request,
        "extraction/consensus.html",
        {
            "review": review,
            "study": study,
            "sources": sources,
            "rows": rows,
            "n_differ": sum(r["differ"] for r in rows),
            "current": current,
            "single": selectors.settings_of(review).mode == ExtractionMode.SINGLE,
            "reports": _pdf_reports(study),
        },
        status=status,
    )


def _is_multi(template, key: str) -> bool:
    return any(f["key"] == key[2:] and f["type"] == "multiple_choice" for f in template.fields())


# --- outcome table ------------------------------------------------------------------------------------


@review_view()
def outcome_table(request: HttpRequest, review) -> HttpResponse:
    """Consensus outcome data of every study with Hedges' g (only consensus values appear)."""
    table = selectors.outcome_table(review)
    if request.GET.get("format") == "csv":
        return _outcome_csv(review, table)
    return render(
        request,
        "extraction/outcome_table.html",
        {"review": review, "table": table, "n_rows": sum(1 for r in table if r["kind"] == "row")},
    )


def _outcome_csv(review, table) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{review.slug}-outcomes.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "study",
            "outcome",
            "domain",
            "subdomain",
            "instrument",
            "timepoint",
            "weeks",
            "kind",
            "comparison",
            "g",
            "vi",
            "n_intervention",
            "n_control",
            "population",
            "method",
            "left_out_because",
        ]
    )
    for item in table:
        r = item["row"]
        if item["kind"] == "row":
            writer.writerow(
                [
                    r.study_label,
                    r.outcome,
                    r.domain,
                    r.subdomain,
                    r.instrument,
                    r.timepoint,
                    r.weeks,
                    r.timepoint_kind,
                    r.comparison,
                    f"{r.yi:.6f}",
                    f"{r.vi:.6f}",
                    r.n_intervention,
                    r.n_control,
                    r.population,
                    r.method,
                    "",
                ]
            )
        else:
            writer.writerow(
                [
                    r.study_label,
                    r.outcome,
                    "",
                    "",
                    "",
                    r.timepoint,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    f"{r.reason_label}{': ' + r.detail if r.detail else ''}",
                ]
            )
    return response


# --- template builder and settings (lead) ----------------------------------------------------------


@review_view(Role.LEAD)
def template_builder(request: HttpRequest, review) -> HttpResponse:
    services.extraction_setup(review=review, actor=request.user)
    current = selectors.current_template(review)
    status = 200
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            try:
                schema = json.loads(form.cleaned_data["schema"])
            except json.JSONDecodeError as exc:
                form.add_error(
                    "schema", f"The template is not valid JSON: {exc.msg} (line {exc.lineno})."
                )
            else:
                try:
                    saved = services.form_template_save(
                        review=review, schema=schema, actor=request.user
                    )
                except DomainError as exc:
                    form.add_error("schema", exc.message)
                else:
                    if saved.pk == current.pk:
                        messages.info(request, "No change to save.")
                    else:
                        messages.success(
                            request,
                            f"Template saved as version {saved.version}. Earlier answers stay readable.",
                        )
                    return redirect("extraction:template", slug=review.slug)
        status = 400
    else:
        form = TemplateForm(initial={"schema": json.dumps(current.schema, indent=2)})
    return render(
        request,
        "extraction/template_builder.html",
        {
            "review": review,
            "form": form,
            "template": current,
            "versions": review.form_templates.select_related("created_by").order_by("-version")[
                :20
            ],
            "field_types": FIELD_TYPE_CHOICES,
            "preview": AnswersForm(current),
        },
        status=status,
    )


@review_view(Role.LEAD)
def extraction_settings(request: HttpRequest, review) -> HttpResponse:
    settings = services.extraction_setup(review=review, actor=request.user)
    form = ExtractionSettingsForm(request.POST or None, instance=settings, prefix="settings")
    sub_form = SubdomainForm(request.POST or None, prefix="sub")
    status = 200
    if request.method == "POST":
        if "save_settings" in request.POST and form.is_valid():
            services.extraction_settings_update(
                review=review, actor=request.user, **form.cleaned_data
            )
            messages.success(request, "Extraction settings saved.")
            return redirect("extraction:settings", slug=review.slug)
        if "save_subdomain" in request.POST and sub_form.is_valid():
            try:
                services.subdomain_save(review=review, actor=request.user, **sub_form.cleaned_data)
            except DomainError as exc:
                sub_form.add_error(exc.field if exc.field in sub_form.fields else None, exc.message)
            else:
                messages.success(request, "Outcome subdomain saved.")
                return redirect("extraction:settings", slug=review.slug)
        status = 400
    if "save_settings" not in request.POST:
        form = ExtractionSettingsForm(instance=settings, prefix="settings")
    if "save_subdomain" not in request.POST:
        sub_form = SubdomainForm(prefix="sub")
    return render(
        request,
        "extraction/settings.html",
        {
            "review": review,
            "form": form,
            "sub_form": sub_form,
            "domains": review.outcome_domains.prefetch_related("subdomains"),
        },
        status=status,
    )
