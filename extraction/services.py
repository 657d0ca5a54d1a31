"""State changes of the extraction app: studies, templates, structure, extractions, consensus.

Every function is keyword-only, runs in one transaction and leaves a history row
(StudyEvent or ExtractionRevision) naming the actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from reviews.errors import ConflictError, DomainError
from reviews.models import Record, Review
from reviews.services import setting_changes_log

from . import selectors
from .models import (
    Arm,
    ArmValue,
    Extraction,
    ExtractionKind,
    ExtractionMode,
    ExtractionRevision,
    ExtractionSettings,
    ExtractionStatus,
    FormTemplate,
    Outcome,
    OutcomeData,
    OutcomeDomain,
    OutcomeSubdomain,
    Study,
    StudyEvent,
    StudyReport,
    Timepoint,
    TimepointKind,
)
from .schema import (
    DEFAULT_DOMAINS,
    DEFAULT_TEMPLATE,
    AnswerError,
    clean_answer,
    missing_required,
    validate_template,
)
from .values import (
    ARM_ATTRS,
    ATTR_LABELS,
    COMPARISON_ATTRS,
    clean_arm,
    clean_comparison,
    is_blank,
)


class DataEntryError(DomainError):
    """Typed values that cannot be saved; `errors` maps input names to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors.items()))
        super().__init__(f"{len(errors)} value(s) need correcting: {first[1]}", field=first[0])
        self.errors = errors


# --- setup -------------------------------------------------------------------------------


@transaction.atomic
def extraction_setup(*, review: Review, actor: Any = None) -> ExtractionSettings:
    """Give a review its settings, default outcome domains and the default form (idempotent)."""
    settings, _ = ExtractionSettings.objects.get_or_create(review=review)
    if not review.outcome_domains.exists():
        for d_pos, (domain_name, subdomains) in enumerate(DEFAULT_DOMAINS):
            domain = OutcomeDomain.objects.create(review=review, name=domain_name, position=d_pos)
            OutcomeSubdomain.objects.bulk_create(
                OutcomeSubdomain(domain=domain, name=name, position=pos)
                for pos, name in enumerate(subdomains)
            )
    if not review.form_templates.exists():
        FormTemplate.objects.create(
            review=review, version=1, schema=validate_template(DEFAULT_TEMPLATE), created_by=actor
        )
    return settings


def extraction_settings_update(
    *, review: Review, actor: Any, mode: str, multi_arm_rule: str
) -> ExtractionSettings:
    """Change the extraction mode and the multi-arm rule; studies already in consensus keep it."""
    with transaction.atomic():
        settings = extraction_setup(review=review, actor=actor)
        before = {"mode": settings.mode, "multi_arm_rule": settings.multi_arm_rule}
        settings.mode, settings.multi_arm_rule = mode, multi_arm_rule
        settings.save()
        setting_changes_log(
            review=review,
            actor=actor,
            section="extraction",
            before=before,
            after={"mode": mode, "multi_arm_rule": multi_arm_rule},
        )
    return settings


@transaction.atomic
def subdomain_save(
    *, review: Review, actor: Any, domain_name: str, name: str, preferred_instruments: str = ""
) -> OutcomeSubdomain:
    """Add a subdomain (and its domain if new), or update its preferred instruments."""
    domain_name, name = domain_name.strip(), name.strip()
    if not domain_name or not name:
        raise DomainError("Give both a domain and a subdomain name.", field="name")
    position = review.outcome_domains.aggregate(m=Max("position"))["m"]
    domain, _ = OutcomeDomain.objects.get_or_create(
        review=review, name=domain_name, defaults={"position": (position or 0) + 1}
    )
    sub, created = OutcomeSubdomain.objects.get_or_create(
        domain=domain,
        name=name,
        defaults={
            "position": domain.subdomains.count(),
            "preferred_instruments": preferred_instruments,
        },
    )
    if not created:
        sub.preferred_instruments = preferred_instruments
        sub.save(update_fields=["preferred_instruments"])
    return sub


@transaction.atomic
def outcome_domains_replace(
    *, review: Review, actor: Any, domains: Sequence[tuple[str, Sequence[str]]]
) -> list[OutcomeSubdomain]:
    """Replace a review's outcome domains (e.g. the defaults) before any outcome uses them."""
    if Outcome.objects.filter(study__review=review, subdomain__isnull=False).exists():
        raise ConflictError("Outcomes already use this review's domains; edit them one by one.")
    review.outcome_domains.all().delete()
    made = []
    for d_pos, (domain_name, subdomains) in enumerate(domains):
        domain = OutcomeDomain.objects.create(review=review, name=domain_name, position=d_pos)
        made += OutcomeSubdomain.objects.bulk_create(
            OutcomeSubdomain(domain=domain, name=name, position=pos)
            for pos, name in enumerate(subdomains)
        )
    _event(review, None, "domains replaced", actor, domains=[d for d, _ in domains])
    return made


# --- studies ----------------------------------------------------------------------------------


def _event(review: Review, study: Study | None, action: str, actor: Any, **detail: Any) -> None:
    StudyEvent.objects.create(review=review, study=study, action=action, actor=actor, detail=detail)


@transaction.atomic
def studies_sync(*, review: Review, actor: Any = None) -> list[Study]:
    """One study per included full-text record that is in no study yet (idempotent)."""
    Review.objects.select_for_update().filter(pk=review.pk).first()
    records = selectors.included_full_text_records(review).filter(study_report__isnull=True)
    created = []
    for record in records.order_by("id"):
        study = Study.objects.create(review=review, label=record.citation, created_by=actor)
        StudyReport.objects.create(study=study, record=record, is_primary=True)
        _event(review, study, "created", actor, record=record.pk)
        created.append(study)
    return created


@transaction.atomic
def study_create(
    *, review: Review, records: Iterable[Record], actor: Any, label: str = ""
) -> Study:
    """A study from records of this review that are in no study yet."""
    records = list(records)
    if not records:
        raise DomainError("A study needs at least one report.")
    for record in records:
        if record.review_id != review.pk:
            raise DomainError("That record belongs to another review.")
        if StudyReport.objects.filter(record=record).exists():
            raise ConflictError(f"“{record}” already belongs to a study.")
    study = Study.objects.create(
        review=review, label=(label.strip() or records[0].citation)[:200], created_by=actor
    )
    for i, record in enumerate(records):
        StudyReport.objects.create(study=study, record=record, is_primary=i == 0)
    _event(review, study, "created", actor, records=[r.pk for r in records])
    return study


def study_rename(*, study: Study, label: str, actor: Any) -> Study:
    label = label.strip()
    if not label:
        raise DomainError("A study needs a name, e.g. “Smit 2023”.", field="label")
    if len(label) > 200:
        raise DomainError("A study name has at most 200 characters.", field="label")
    with transaction.atomic():
        old = study.label
        study.label = label
        study.save(update_fields=["label"])
        _event(study.review, study, "renamed", actor, old=old, new=label)
    return study


def _has_work(study: Study) -> bool:
    return (
        study.extractions.exists()
        or study.arms.exists()
        or study.outcomes.exists()
        or study.timepoints.exists()
        or study.rob_targets.exists()
    )


@transaction.atomic
def study_merge(*, target: Study, sources: Iterable[Study], actor: Any, label: str = "") -> Study:
    """Move the reports of `sources` into `target` and remove the emptied source studies.

    A source with extraction work is refused: merging must not discard what was entered.
    """
    sources = [s for s in sources if s.pk != target.pk]
    if not sources:
        raise DomainError(
            "Choose at least one other study to merge into this one.", field="sources"
        )
    for source in sources:
        if source.review_id != target.review_id:
            raise DomainError("Studies of different reviews cannot be merged.")
        if _has_work(source):
            raise ConflictError(
                f"“{source.label}” already has extraction data; merge the other way round "
                "(into that study) so nothing is lost."
            )
    moved = []
    for source in sources:
        for report in source.reports.all():
            report.study, report.is_primary = target, False
            report.save(update_fields=["study", "is_primary"])
            moved.append(report.record_id)
        _event(target.review, target, "merged", actor, from_label=source.label, records=moved)
        source.delete()
    if label.strip():
        study_rename(study=target, label=label, actor=actor)
    return target


@transaction.atomic
def study_split_report(*, report: StudyReport, actor: Any) -> Study:
    """Give a report of a multi-report study its own study again (undo of a merge)."""
    study = report.study
    if study.reports.count() < 2:
        raise ConflictError("This is the study's only report.")
    if report.is_primary:
        raise ConflictError("The primary report stays with its study; split off the others.")
    new = Study.objects.create(review=study.review, label=report.record.citation, created_by=actor)
    report.study, report.is_primary = new, True
    report.save(update_fields=["study", "is_primary"])
    _event(study.review, study, "split", actor, record=report.record_id, new_study=new.pk)
    return new


@transaction.atomic
def study_report_withdraw(*, record_id: int, actor: Any = None) -> None:
    """A report is no longer included at full text: drop it unless its study holds work."""
    report = StudyReport.objects.select_related("study").filter(record_id=record_id).first()
    if report is None or _has_work(report.study):
        return
    study = report.study
    if study.reports.count() == 1:
        _event(study.review, None, "removed", actor, label=study.label, record=record_id)
        study.delete()
    else:
        report.delete()
        _event(study.review, study, "report withdrawn", actor, record=record_id)


# --- form templates ---------------------------------------------------------------------------


@transaction.atomic
def form_template_save(*, review: Review, schema: Any, actor: Any) -> FormTemplate:
    """Validate and save the template as a new version (unchanged schema: no new version)."""
    clean = validate_template(schema)
    current = (
        FormTemplate.objects.select_for_update().filter(review=review).order_by("-version").first()
    )
    if current is not None and current.schema == clean:
        return current
    version = (current.version + 1) if current else 1
    return FormTemplate.objects.create(
        review=review, version=version, schema=clean, created_by=actor
    )


# --- structure: arms, outcomes, timepoints ------------------------------------------------------


def _unique(create, message: str):
    try:
        with transaction.atomic():
            return create()
    except IntegrityError:
        raise ConflictError(message) from None


def arm_create(
    *, study: Study, actor: Any, name: str, role: str, n_randomised: int | None = None
) -> Arm:
    name = name.strip()
    if not name:
        raise DomainError("Give the arm a name.", field="name")
    if n_randomised is not None and n_randomised < 1:
        raise DomainError("N randomised must be at least 1.", field="n_randomised")
    position = study.arms.count()
    return _unique(
        lambda: Arm.objects.create(
            study=study, name=name, role=role, n_randomised=n_randomised, position=position
        ),
        f"The study already has an arm called “{name}”.",
    )


def outcome_create(
    *,
    study: Study,
    actor: Any,
    name: str,
    direction: str,
    subdomain: OutcomeSubdomain | None = None,
    instrument: str = "",
) -> Outcome:
    name = name.strip()
    if not name:
        raise DomainError("Give the outcome a name.", field="name")
    if subdomain is not None and subdomain.domain.review_id != study.review_id:
        raise DomainError("That subdomain belongs to another review.", field="subdomain")
    position = study.outcomes.count()
    return _unique(
        lambda: Outcome.objects.create(
            study=study,
            name=name,
            direction=direction,
            subdomain=subdomain,
            instrument=instrument.strip(),
            position=position,
        ),
        f"The study already has the outcome “{name}” with that instrument.",
    )


def timepoint_create(*, study: Study, actor: Any, label: str, weeks: float, kind: str) -> Timepoint:
    label = label.strip()
    if not label:
        raise DomainError("Give the timepoint a label, e.g. “Post-treatment”.", field="label")
    if weeks is None or weeks < 0:
        raise DomainError("Weeks after baseline cannot be negative.", field="weeks")
    return _unique(
        lambda: Timepoint.objects.create(study=study, label=label, weeks=weeks, kind=kind),
        f"The study already has a timepoint “{label}”.",
    )


@transaction.atomic
def structure_delete(*, item: Arm | Outcome | Timepoint, actor: Any) -> None:
    """Remove an arm, outcome or timepoint that holds no data yet."""
    has_data = item.values.exists() if isinstance(item, Arm) else item.data.exists()
    if isinstance(item, Outcome) and item.rob_targets.exists():
        raise ConflictError(
            f"“{item}” has a risk-of-bias assessment; it cannot be removed without losing it."
        )
    if has_data:
        raise ConflictError(
            f"“{item}” already holds extracted data; it cannot be removed without losing it."
        )
    item.delete()


# --- extractions --------------------------------------------------------------------------------


def _snapshot(extraction: Extraction, action: str, actor: Any) -> None:
    ExtractionRevision.objects.create(
        extraction=extraction,
        actor=actor,
        action=action,
        template_version=extraction.template.version,
        cells=selectors.extraction_cells(extraction),
    )


@transaction.atomic
def extraction_start(*, study: Study, user: Any) -> Extraction:
    """The user's own extraction of the study, created if there are free extractor places."""
    Study.objects.select_for_update().filter(pk=study.pk).first()
    mine = study.extractions.filter(kind=ExtractionKind.INDEPENDENT, extractor=user).first()
    if mine:
        return mine
    settings = selectors.settings_of(study.review)
    taken = study.extractions.filter(kind=ExtractionKind.INDEPENDENT).count()
    if taken >= settings.extractors_needed:
        raise ConflictError(
            f"This study already has {taken} extractor(s); "
            + (
                "its consensus is next."
                if settings.mode == ExtractionMode.DUAL
                else "it awaits verification."
            )
        )
    template = selectors.current_template(study.review)
    if template is None:
        extraction_setup(review=study.review, actor=user)
        template = selectors.current_template(study.review)
    extraction = Extraction.objects.create(
        study=study, kind=ExtractionKind.INDEPENDENT, extractor=user, template=template
    )
    _snapshot(extraction, "started", user)
    return extraction


def _ensure_editable(extraction: Extraction) -> None:
    if extraction.kind == ExtractionKind.INDEPENDENT and extraction.is_submitted:
        raise ConflictError("This extraction has been submitted; it can no longer be edited.")


def _clean_answers(template: FormTemplate, raw: Mapping[str, Any]) -> tuple[dict, dict[str, str]]:
    answers, errors = {}, {}
    for f in template.fields():
        try:
            answers[f["key"]] = clean_answer(f, raw.get(f["key"]))
        except AnswerError as exc:
            errors[f["key"]] = exc.message
    return answers, errors


@transaction.atomic
def extraction_save_answers(
    *, extraction: Extraction, raw_answers: Mapping[str, Any], actor: Any, submit: bool = False
) -> Extraction:
    """Save form answers under the current template version; submit if asked and complete.

    Answers to fields that are no longer in the template are kept (never lost).
    """
    extraction = Extraction.objects.select_for_update().get(pk=extraction.pk)
    _ensure_editable(extraction)
    template = selectors.current_template(extraction.study.review)
    answers, errors = _clean_answers(template, raw_answers)
    if errors:
        raise DataEntryError(errors)
    merged = {**extraction.answers, **answers}
    if submit:
        missing = missing_required(template.schema, merged)
        if missing:
            raise DataEntryError({f["key"]: "This field is required to submit." for f in missing})
    extraction.answers, extraction.template = merged, template
    action = "saved"
    if submit:
        extraction.status, extraction.submitted_at, action = (
            ExtractionStatus.SUBMITTED,
            timezone.now(),
            "submitted",
        )
    extraction.save()
    _snapshot(extraction, action, actor)
    return extraction


def _write_block(
    extraction: Extraction,
    outcome: Outcome,
    timepoint: Timepoint,
    comparison: dict[str, Any],
    arm_values: dict[int, dict[str, Any]],
) -> None:
    """Upsert one outcome × timepoint (values already validated); blank rows are removed."""
    data = OutcomeData.objects.filter(
        extraction=extraction, outcome=outcome, timepoint=timepoint
    ).first()
    if is_blank(comparison, COMPARISON_ATTRS) and all(
        is_blank(v, ARM_ATTRS) for v in arm_values.values()
    ):
        if data is not None:
            data.delete()
        return
    if data is None:
        data = OutcomeData(extraction=extraction, outcome=outcome, timepoint=timepoint)
    for attr in (*COMPARISON_ATTRS, "population"):
        setattr(data, attr, comparison.get(attr))
    data.save()
    for arm_id, values in arm_values.items():
        if is_blank(values, ARM_ATTRS):
            ArmValue.objects.filter(data=data, arm_id=arm_id).delete()
            continue
        ArmValue.objects.update_or_create(data=data, arm_id=arm_id, defaults=values)


@transaction.atomic
def outcome_data_save(
    *,
    extraction: Extraction,
    outcome: Outcome,
    timepoint: Timepoint,
    raw: Mapping[str, Any],
    actor: Any,
) -> OutcomeData | None:
    """Save one outcome × timepoint: `raw` has comparison attrs and ``arm-<id>-<attr>`` keys.

    All values are validated first; any error raises DataEntryError and nothing is saved.
    """
    extraction = Extraction.objects.select_for_update().get(pk=extraction.pk)
    _ensure_editable(extraction)
    study = extraction.study
    if outcome.study_id != study.pk or timepoint.study_id != study.pk:
        raise DomainError("That outcome or timepoint belongs to another study.")
    comparison, errors = clean_comparison(raw)
    arm_values: dict[int, dict[str, Any]] = {}
    for arm in study.arms.all():
        values, arm_errors = clean_arm({a: raw.get(f"arm-{arm.pk}-{a}") for a in ARM_ATTRS})
        errors.update({f"arm-{arm.pk}-{a}": msg for a, msg in arm_errors.items()})
        arm_values[arm.pk] = values
    if errors:
        raise DataEntryError(errors)
    _write_block(extraction, outcome, timepoint, comparison, arm_values)
    _snapshot(extraction, "data saved", actor)
    return OutcomeData.objects.filter(
        extraction=extraction, outcome=outcome, timepoint=timepoint
    ).first()


@transaction.atomic
def extraction_submit(*, extraction: Extraction, actor: Any) -> Extraction:
    return extraction_save_answers(
        extraction=extraction, raw_answers=extraction.answers, actor=actor, submit=True
    )


# --- consensus ------------------------------------------------------------------------------------


def consensus_sources(study: Study) -> list[Extraction]:
    """The submitted independent extractions the consensus is built from."""
    return list(
        study.extractions.filter(kind=ExtractionKind.INDEPENDENT, status=ExtractionStatus.SUBMITTED)
        .select_related("extractor", "template")
        .order_by("submitted_at", "id")
    )


def _consensus_imported(study: Study) -> bool:
    return ExtractionRevision.objects.filter(
        extraction__study=study,
        extraction__kind=ExtractionKind.CONSENSUS,
        action="consensus imported",
    ).exists()


def consensus_check_ready(*, study: Study, user: Any) -> list[Extraction]:
    """Raise unless the consensus may be seen by `user`: blinding holds until all have submitted."""
    settings = selectors.settings_of(study.review)
    sources = consensus_sources(study)
    needed = settings.extractors_needed
    if not sources and _consensus_imported(study):
        return sources  # agreed in another tool: no one's independent work to keep blind
    if len(sources) < needed:
        raise ConflictError(
            f"The consensus opens when {needed} extraction(s) are submitted "
            f"({len(sources)} so far); until then extractors stay blind to each other."
        )
    if settings.mode == ExtractionMode.SINGLE and sources[0].extractor_id == user.pk:
        raise ConflictError("Verification must be done by someone other than the extractor.")
    return sources


@transaction.atomic
def consensus_save(
    *, study: Study, cells: Mapping[str, Any], actor: Any, finalise: bool = False
) -> Extraction:
    """Save the agreed values (flat cells as in `selectors.extraction_cells`).

    Cell values are validated exactly as in data entry; nothing is saved on any error.
    With `finalise`, the consensus becomes the study's data for analysis.
    """
    Study.objects.select_for_update().filter(pk=study.pk).first()
    consensus_check_ready(study=study, user=actor)
    template = selectors.current_template(study.review)
    errors: dict[str, str] = {}
    answers, answer_errors = _clean_answers(
        template, {k[2:]: v for k, v in cells.items() if k.startswith("f:")}
    )
    errors.update({f"f:{k}": m for k, m in answer_errors.items()})
    outcomes = {o.pk: o for o in study.outcomes.all()}
    timepoints = {t.pk: t for t in study.timepoints.all()}
    arm_ids = set(study.arms.values_list("pk", flat=True))
    blocks: dict[tuple[int, int], dict[str, Any]] = {}
    for key, value in cells.items():
        parts = key.split(":")
        try:
            if parts[0] == "d" and len(parts) == 4:
                o, t, attr = int(parts[1]), int(parts[2]), parts[3]
                blocks.setdefault((o, t), {"d": {}, "a": {}})["d"][attr] = value
            elif parts[0] == "a" and len(parts) == 5:
                o, t, arm, attr = int(parts[1]), int(parts[2]), int(parts[3]), parts[4]
                blocks.setdefault((o, t), {"d": {}, "a": {}})["a"].setdefault(arm, {})[attr] = value
        except ValueError:
            raise DomainError(f"Unknown consensus value “{key}”.") from None
    cleaned = {}
    for (o, t), block in blocks.items():
        if o not in outcomes or t not in timepoints:
            raise DomainError(
                "A consensus value refers to an outcome or timepoint of another study."
            )
        comparison, c_errors = clean_comparison(block["d"])
        errors.update({f"d:{o}:{t}:{a}": m for a, m in c_errors.items()})
        arm_values = {}
        for arm_id in arm_ids:
            values, a_errors = clean_arm(block["a"].get(arm_id, {}))
            errors.update({f"a:{o}:{t}:{arm_id}:{a}": m for a, m in a_errors.items()})
            arm_values[arm_id] = values
        cleaned[(o, t)] = (comparison, arm_values)
    if set().union(*(b["a"].keys() for b in blocks.values())) - arm_ids:
        raise DomainError("A consensus value refers to an arm of another study.")
    if finalise:
        for f in missing_required(template.schema, answers):
            errors.setdefault(f"f:{f['key']}", "This field is required.")
    if errors:
        raise DataEntryError(errors)

    consensus = study.extractions.filter(kind=ExtractionKind.CONSENSUS).first()
    if consensus is None:
        consensus = Extraction(study=study, kind=ExtractionKind.CONSENSUS, template=template)
    consensus.extractor, consensus.template, consensus.answers = actor, template, answers
    if finalise:
        consensus.status, consensus.submitted_at = ExtractionStatus.SUBMITTED, timezone.now()
    consensus.save()
    for (o, t), (comparison, arm_values) in cleaned.items():
        _write_block(consensus, outcomes[o], timepoints[t], comparison, arm_values)
    # Blocks not posted at all are cleared: the consensus is exactly what was agreed.
    consensus.data.exclude(
        pk__in=[d.pk for d in consensus.data.all() if (d.outcome_id, d.timepoint_id) in cleaned]
    ).delete()
    _snapshot(consensus, "consensus finalised" if finalise else "consensus saved", actor)
    return consensus


# --- studies brought in from another tool -------------------------------------------------------


@dataclass(frozen=True)
class ImportedOutcome:
    """An outcome of an imported study, filed under a review-level domain and subdomain."""

    name: str
    direction: str
    domain: str
    subdomain: str


@dataclass(frozen=True)
class ImportedStudy:
    """A study with its agreed numbers, as another tool (RevMan) holds them.

    ``arms`` are (name, role); ``data`` maps an outcome's index to ``{arm index: values}``
    with the keys of ``values.ARM_ATTRS``.
    """

    label: str
    arms: tuple[tuple[str, str], ...]
    outcomes: tuple[ImportedOutcome, ...]
    data: dict[int, dict[int, dict[str, Any]]]


@transaction.atomic
def studies_import(
    *,
    review: Review,
    actor: Any,
    studies: Sequence[ImportedStudy],
    timepoint_label: str,
    source: dict[str, Any],
) -> list[Study]:
    """Create studies whose consensus is already agreed elsewhere: arms, outcomes, one
    timepoint and a finalised consensus holding the numbers, ready for analysis.

    There is nobody's independent extraction to reconcile, so the consensus is written
    as final at once; each study gets a StudyEvent ("imported", with ``source``) and its
    consensus an ExtractionRevision ("consensus imported"), both naming the actor. Every
    number is validated as in data entry and a study label the review already has is
    refused: on any error nothing is written.
    """
    Review.objects.select_for_update().filter(pk=review.pk).first()
    labels = [s.label for s in studies]
    taken = set(review.studies.filter(label__in=labels).values_list("label", flat=True))
    if taken:
        raise ConflictError(
            f"The review already has {len(taken)} of these studies (e.g. “{sorted(taken)[0]}”); "
            "was this file imported before? Nothing was imported."
        )
    extraction_setup(review=review, actor=actor)
    template = selectors.current_template(review)
    subdomains: dict[tuple[str, str], OutcomeSubdomain] = {}
    for spec in studies:
        for outcome in spec.outcomes:
            key = (outcome.domain, outcome.subdomain)
            if key not in subdomains:
                subdomains[key] = subdomain_save(
                    review=review, actor=actor, domain_name=key[0], name=key[1]
                )
    created = []
    for spec in studies:
        errors: dict[str, str] = {}
        cleaned: dict[int, dict[int, dict[str, Any]]] = {}
        for o_index, arms in spec.data.items():
            for a_index, raw in arms.items():
                values, arm_errors = clean_arm(raw)
                for attr, message in arm_errors.items():
                    name = f"{spec.label}, {spec.outcomes[o_index].name}, {spec.arms[a_index][0]}"
                    errors[f"{name}: {ATTR_LABELS.get(attr, attr)}"] = message
                cleaned.setdefault(o_index, {})[a_index] = values
        if errors:
            raise DataEntryError(errors)
        study = Study.objects.create(review=review, label=spec.label[:200], created_by=actor)
        arms = Arm.objects.bulk_create(
            Arm(study=study, name=name[:120], role=role, position=i)
            for i, (name, role) in enumerate(spec.arms)
        )
        outcomes = Outcome.objects.bulk_create(
            Outcome(
                study=study,
                name=o.name[:200],
                direction=o.direction,
                subdomain=subdomains[(o.domain, o.subdomain)],
                position=i,
            )
            for i, o in enumerate(spec.outcomes)
        )
        timepoint = Timepoint.objects.create(
            study=study, label=timepoint_label[:80], weeks=0, kind=TimepointKind.POST
        )
        consensus = Extraction.objects.create(
            study=study,
            kind=ExtractionKind.CONSENSUS,
            extractor=actor,
            template=template,
            status=ExtractionStatus.SUBMITTED,
            submitted_at=timezone.now(),
        )
        blocks = OutcomeData.objects.bulk_create(
            OutcomeData(extraction=consensus, outcome=outcomes[o], timepoint=timepoint)
            for o in sorted(cleaned)
        )
        ArmValue.objects.bulk_create(
            ArmValue(data=block, arm=arms[a], **values)
            for block, o in zip(blocks, sorted(cleaned), strict=True)
            for a, values in cleaned[o].items()
        )
        _event(review, study, "imported", actor, **source)
        _snapshot(consensus, "consensus imported", actor)
        created.append(study)
    return created
