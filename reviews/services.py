"""State changes for reviews, teams, the search log, imports and de-duplication."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from . import dedup, overlap, selectors, sources
from .bulk import (
    gc_paused,
    import_page_cache,
    links_insert,
    records_allocate_ids,
    records_insert_spill,
    records_link_duplicates,
)
from .errors import ConflictError, DomainError
from .importing import (
    ImportFormatError,
    Notes,
    ParsedRecord,
    SkippedRecord,
    decode_stream,
    detect_format,
    iter_records,
)
from .job_queue import dispatch_job
from .models import (
    DuplicateDecision,
    DuplicateLink,
    ExclusionReason,
    ExclusionReasonChange,
    ImportBatch,
    Invitation,
    Job,
    Membership,
    MembershipChange,
    Record,
    Review,
    ReviewRound,
    Search,
    SearchChange,
    SearchRun,
    SearchSchedule,
    SettingChange,
    Stage,
)
from .rows import (
    SpillError,
    open_spill,
    record_row,
    spill_count,
    spill_keys,
    without_nul,
    write_spill,
)

log = logging.getLogger(__name__)
User = get_user_model()
# How a job's work reports how far it is: fraction done (0..1) and a short message.
ProgressFn = Callable[[float, str], None]


def _no_progress(fraction: float, message: str = "") -> None:
    return None


DEFAULT_EXCLUSION_REASONS = [
    "Wrong population",
    "Wrong intervention",
    "Wrong comparator",
    "Wrong outcome",
    "Wrong study design",
    "Not peer-reviewed / conference abstract",
    "Duplicate",
    "Not in English",
]
FULL_TEXT_ONLY_REASONS = ["Full text not retrievable"]
PREVIEW_SIZE = 5
SKIPPED_LIST_CAP = 1000


# --- Reviews and teams -----------------------------------------------------------------


def _unique_slug(title: str) -> str:
    base = slugify(title)[:60] or "review"
    slug, n = base, 2
    while Review.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def review_create(*, creator: Any, title: str, **fields: Any) -> Review:
    """Create a review with its creator as lead (and reviewer) and the default exclusion reasons."""
    review = Review.objects.create(
        title=title,
        slug=fields.pop("slug", None) or _unique_slug(title),
        created_by=creator,
        **fields,
    )
    membership = Membership.objects.create(
        review=review, user=creator, is_lead=True, is_reviewer=True
    )
    membership_log(
        review=review,
        actor=creator,
        action=MembershipChange.Action.ADDED,
        user=creator,
        new_roles=roles_label(membership),
    )
    exclusion_reasons_seed(review=review)
    return review


def exclusion_reasons_seed(*, review: Review) -> None:
    reasons = [
        ExclusionReason(review=review, stage=Stage.TITLE_ABSTRACT, label=label, position=i)
        for i, label in enumerate(DEFAULT_EXCLUSION_REASONS)
    ] + [
        ExclusionReason(review=review, stage=Stage.FULL_TEXT, label=label, position=i)
        for i, label in enumerate(DEFAULT_EXCLUSION_REASONS + FULL_TEXT_ONLY_REASONS)
    ]
    ExclusionReason.objects.bulk_create(reasons, ignore_conflicts=True)


def roles_label(holder: Any) -> str:
    """The roles a membership or invitation holds ("lead, reviewer"), for the history."""
    flags = (("lead", holder.is_lead), ("reviewer", holder.is_reviewer))
    flags += (("adjudicator", holder.is_adjudicator),)
    return ", ".join(name for name, on in flags if on)


def membership_log(
    *,
    review: Review,
    actor: Any,
    action: str,
    user: Any = None,
    subject: str = "",
    old_roles: str = "",
    new_roles: str = "",
) -> MembershipChange:
    """Write the history row of a change to the team."""
    return MembershipChange.objects.create(
        review=review,
        user=user,
        subject=subject or (user.username if user else ""),
        action=action,
        old_roles=old_roles,
        new_roles=new_roles,
        actor=actor,
    )


def membership_set_roles(
    *, membership: Membership, actor: Any, is_lead: bool, is_reviewer: bool, is_adjudicator: bool
) -> Membership:
    """Change a member's roles; a review always keeps at least one lead."""
    if not (is_lead or is_reviewer or is_adjudicator):
        raise DomainError("A member needs at least one role; remove the member instead.")
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=membership.review_id)
        if membership.is_lead and not is_lead:
            _ensure_other_lead(review, membership)
        old = roles_label(membership)
        membership.is_lead, membership.is_reviewer, membership.is_adjudicator = (
            is_lead,
            is_reviewer,
            is_adjudicator,
        )
        membership.save(update_fields=["is_lead", "is_reviewer", "is_adjudicator"])
        if roles_label(membership) != old:
            membership_log(
                review=review,
                actor=actor,
                action=MembershipChange.Action.ROLES,
                user=membership.user,
                old_roles=old,
                new_roles=roles_label(membership),
            )
    return membership


def membership_remove(*, membership: Membership, actor: Any) -> None:
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=membership.review_id)
        if membership.is_lead:
            _ensure_other_lead(review, membership)
        membership_log(
            review=review,
            actor=actor,
            action=MembershipChange.Action.REMOVED,
            user=membership.user,
            old_roles=roles_label(membership),
        )
        membership.delete()


def setting_changes_log(
    *, review: Review, actor: Any, section: str, before: dict[str, Any], after: dict[str, Any]
) -> int:
    """One history row per setting whose value changed; returns how many changed."""
    rows = [
        SettingChange(
            review=review,
            section=section,
            field=name,
            old=_setting_text(before.get(name)),
            new=_setting_text(value),
            actor=actor,
        )
        for name, value in after.items()
        if before.get(name) != value
    ]
    SettingChange.objects.bulk_create(rows)
    return len(rows)


def _setting_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def review_update(
    *, review: Review, actor: Any, section: str = "protocol", **values: Any
) -> Review:
    """Change a review's protocol or settings fields; each change is kept with its actor.

    Blinding has its own service (``screening.services.blinding_set``) and history, the
    round its own too (``round_open``).
    """
    editable = {f.name for f in Review._meta.concrete_fields} - {"id", "slug", "blinded", "round"}
    unknown = set(values) - editable
    if unknown:
        raise DomainError(f"Not a setting of a review: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review.pk)
        before = {name: getattr(review, name) for name in values}
        for name, value in values.items():
            setattr(review, name, value)
        review.save(update_fields=list(values) or None)
        setting_changes_log(
            review=review, actor=actor, section=section, before=before, after=values
        )
    return review


GENERATED_AREAS = ("screening", "extraction", "rob", "analysis")


def review_source_add(*, review: Review, actor: Any, citation: str) -> Review:
    """Cite a data source in the review's "Data sources" (once: a repeated citation is kept)."""
    citation = citation.strip()
    if not citation:
        raise DomainError("Give the citation of the data source.", field="data_sources")
    current = Review.objects.only("data_sources").get(pk=review.pk).data_sources
    if citation in current:
        return review
    text = f"{current.rstrip()}\n\n{citation}" if current.strip() else citation
    return review_update(review=review, actor=actor, data_sources=text)


def review_generated_note_set(*, review: Review, actor: Any, area: str, note: str) -> Review:
    """Say on every page of ``area`` which of its contents were generated, not done by people."""
    if area not in GENERATED_AREAS:
        raise DomainError(f"Unknown page area “{area}”.", field="area")
    notes = dict(Review.objects.only("generated_notes").get(pk=review.pk).generated_notes or {})
    if notes.get(area) == note.strip():
        return review
    notes[area] = note.strip()
    return review_update(review=review, actor=actor, section="provenance", generated_notes=notes)


def _ensure_other_lead(review: Review, membership: Membership) -> None:
    if not review.memberships.filter(is_lead=True).exclude(pk=membership.pk).exists():
        raise DomainError("A review needs at least one lead.")


def invitation_create(
    *,
    review: Review,
    actor: Any,
    email: str = "",
    username: str = "",
    is_lead: bool = False,
    is_reviewer: bool = True,
    is_adjudicator: bool = False,
) -> Invitation:
    email, username = email.strip(), username.strip()
    if not (email or username):
        raise DomainError("Give an e-mail address or a username to invite.")
    if not (is_lead or is_reviewer or is_adjudicator):
        raise DomainError("Choose at least one role for the invited person.")
    existing = User.objects.filter(
        Q(username__iexact=username) if username else Q(email__iexact=email)
    ).first()
    if existing and review.memberships.filter(user=existing).exists():
        raise ConflictError(f"{existing.username} is already a member of this review.")
    with transaction.atomic():
        invitation = Invitation.objects.create(
            review=review,
            email=email,
            username=username,
            is_lead=is_lead,
            is_reviewer=is_reviewer,
            is_adjudicator=is_adjudicator,
            invited_by=actor,
        )
        membership_log(
            review=review,
            actor=actor,
            action=MembershipChange.Action.INVITED,
            user=existing,
            subject=username or email,
            new_roles=roles_label(invitation),
        )
    return invitation


def invitation_accept(*, invitation: Invitation, user: Any) -> Membership:
    """Join the review the invitation is for; an invitation works once."""
    if invitation.username and invitation.username.lower() != user.username.lower():
        raise DomainError("This invitation is for another user.", field=None)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_open:
            raise ConflictError("This invitation has already been used.")
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    review=invitation.review,
                    user=user,
                    is_lead=invitation.is_lead,
                    is_reviewer=invitation.is_reviewer,
                    is_adjudicator=invitation.is_adjudicator,
                )
        except IntegrityError as exc:
            raise ConflictError("You are already a member of this review.") from exc
        invitation.accepted_by, invitation.accepted_at = user, timezone.now()
        invitation.save(update_fields=["accepted_by", "accepted_at"])
        membership_log(
            review=invitation.review,
            actor=user,
            action=MembershipChange.Action.JOINED,
            user=user,
            new_roles=roles_label(membership),
        )
    return membership


@transaction.atomic
def user_signup_with_invitation(
    *, invitation: Invitation, username: str, email: str, password: str
) -> Any:
    user = User.objects.create_user(username=username, email=email, password=password)
    invitation_accept(invitation=invitation, user=user)
    return user


# --- Exclusion reasons and the search log -------------------------------------------------

# Not the stage: votes at one stage would point at a reason of the other.
REASON_FIELDS = ("label", "position", "active")
SEARCH_FIELDS = (
    "source",
    "source_detail",
    "date_run",
    "search_string",
    "hits_reported",
    "notes",
)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[str]]:
    """``{field: [old, new]}`` as text for the fields whose value differs."""
    return {
        name: [_setting_text(before.get(name)), _setting_text(value)]
        for name, value in after.items()
        if before.get(name) != value
    }


def _unknown_fields(values: dict[str, Any], allowed: Sequence[str], what: str) -> None:
    unknown = set(values) - set(allowed)
    if unknown:
        raise DomainError(f"Not a field of {what}: {', '.join(sorted(unknown))}.")


def _reason_label_free(review: Review, stage: str, label: str, pk: int | None) -> None:
    taken = ExclusionReason.objects.filter(review=review, stage=stage, label__iexact=label)
    if taken.exclude(pk=pk).exists():
        raise ConflictError("This reason already exists for that stage.", field="label")


@transaction.atomic
def exclusion_reason_create(
    *, review: Review, actor: Any, stage: str, label: str, position: int = 0, active: bool = True
) -> ExclusionReason:
    """Add an exclusion reason; the history keeps who added it."""
    label = label.strip()
    if not label:
        raise DomainError("A reason needs a label.", field="label")
    _reason_label_free(review, stage, label, None)
    reason = ExclusionReason.objects.create(
        review=review, stage=stage, label=label, position=position, active=active
    )
    values = {"stage": stage, "label": label, "position": position, "active": active}
    ExclusionReasonChange.objects.create(
        review=review,
        reason=reason,
        action=ExclusionReasonChange.Action.ADDED,
        changes=_changes({}, values),
        actor=actor,
    )
    return reason


def exclusion_reason_update(
    *, reason: ExclusionReason, actor: Any, **values: Any
) -> ExclusionReason:
    """Change a reason's label, position or whether it is offered; every change is
    kept with its actor (votes keep pointing at the reason, so a new label reads back)."""
    _unknown_fields(values, REASON_FIELDS, "an exclusion reason")
    if "label" in values:
        values["label"] = values["label"].strip()
        if not values["label"]:
            raise DomainError("A reason needs a label.", field="label")
    with transaction.atomic():
        reason = ExclusionReason.objects.select_for_update().get(pk=reason.pk)
        before = {name: getattr(reason, name) for name in values}
        changes = _changes(before, values)
        if not changes:
            return reason
        if "label" in changes:
            _reason_label_free(reason.review, reason.stage, values["label"], reason.pk)
        for name, value in values.items():
            setattr(reason, name, value)
        reason.save(update_fields=list(values))
        action = ExclusionReasonChange.Action.EDITED
        if set(changes) == {"active"}:
            action = ExclusionReasonChange.Action.RESTORED
            if not reason.active:
                action = ExclusionReasonChange.Action.RETIRED
        ExclusionReasonChange.objects.create(
            review_id=reason.review_id, reason=reason, action=action, changes=changes, actor=actor
        )
    return reason


@transaction.atomic
def search_create(*, review: Review, actor: Any, **values: Any) -> Search:
    """Log a database search; the history keeps who logged it."""
    _unknown_fields(values, SEARCH_FIELDS, "a search")
    search = Search.objects.create(review=review, created_by=actor, **values)
    SearchChange.objects.create(
        review=review,
        search=search,
        action=SearchChange.Action.ADDED,
        changes=_changes({}, values),
        actor=actor,
    )
    return search


def search_update(*, search: Search, actor: Any, **values: Any) -> Search:
    """Edit a logged search; each changed field is kept, old and new, with its actor."""
    _unknown_fields(values, SEARCH_FIELDS, "a search")
    with transaction.atomic():
        search = Search.objects.select_for_update().get(pk=search.pk)
        changes = _changes({name: getattr(search, name) for name in values}, values)
        if not changes:
            return search
        for name, value in values.items():
            setattr(search, name, value)
        search.save(update_fields=list(values))
        SearchChange.objects.create(
            review_id=search.review_id,
            search=search,
            action=SearchChange.Action.EDITED,
            changes=changes,
            actor=actor,
        )
    return search


# --- Scheduled searches --------------------------------------------------------------------

SCHEDULE_FIELDS = ("provider", "query", "every_days", "active")


@transaction.atomic
def search_schedule_set(*, search: Search, actor: Any, **values: Any) -> SearchSchedule:
    """Create or change the schedule of a search; the search log's history keeps it."""
    _unknown_fields(values, SCHEDULE_FIELDS, "a search schedule")
    if "query" in values:
        values["query"] = values["query"].strip()
        if not values["query"]:
            raise DomainError("A scheduled search needs a query.", field="query")
    if "every_days" in values and not 1 <= int(values["every_days"]) <= 365:
        raise DomainError("Run it every 1 to 365 days.", field="every_days")
    if "provider" in values and values["provider"] not in SearchSchedule.Provider.values:
        raise DomainError("Schedule a PubMed or an OpenAlex search.", field="provider")
    schedule = SearchSchedule.objects.select_for_update().filter(search=search).first()
    before = {name: getattr(schedule, name) for name in values} if schedule else {}
    if schedule is None:
        schedule = SearchSchedule(review_id=search.review_id, search=search, created_by=actor)
    for name, value in values.items():
        setattr(schedule, name, value)
    schedule.save()
    changes = {f"schedule {name}": pair for name, pair in _changes(before, values).items()}
    if changes:
        SearchChange.objects.create(
            review_id=search.review_id,
            search=search,
            action=SearchChange.Action.EDITED,
            changes=changes,
            actor=actor,
        )
    return schedule


def _source_fetch(schedule: SearchSchedule, since: Any, until: Any) -> sources.Fetched:
    if schedule.provider == SearchSchedule.Provider.PUBMED:
        return sources.pubmed_fetch(
            schedule.query,
            since,
            until,
            base_url=settings.REVIEWFLOW_NCBI_EUTILS_URL,
            api_key=settings.REVIEWFLOW_NCBI_API_KEY,
            email=settings.REVIEWFLOW_NCBI_EMAIL,
        )
    return sources.openalex_fetch(
        schedule.query,
        since,
        until,
        base_url=settings.REVIEWFLOW_OPENALEX_URL,
        mailto=settings.REVIEWFLOW_OPENALEX_MAILTO,
    )


def search_schedule_run(*, schedule: SearchSchedule, today: Any = None) -> ImportBatch | None:
    """Run a scheduled search for what its source added since the last run.

    What it finds becomes an update run of the search awaiting the lead's confirmation
    (an import preview, de-duplicated against the review like any upload); nothing found,
    no batch. A source that fails leaves the schedule where it was, with the error kept,
    so the next run asks for the same dates again.
    """
    today = today or timezone.localdate()
    search = schedule.search
    since = schedule.covered_to + dt.timedelta(days=1) if schedule.covered_to else search.date_run
    try:
        fetched = _source_fetch(schedule, since, today)
    except sources.SourceError as exc:
        SearchSchedule.objects.filter(pk=schedule.pk).update(
            last_run_at=timezone.now(), last_error=str(exc)[:500]
        )
        raise DomainError(str(exc)) from exc
    batch = None
    if fetched.hits:
        batch = import_preview(
            review=search.review,
            actor=None,
            file=io.BytesIO(fetched.content),
            filename=f"{schedule.provider}-{since:%Y%m%d}-{today:%Y%m%d}.{fetched.fmt}",
            fmt=fetched.fmt,
            search=search,
            run={
                "date_run": today,
                "covers_from": since,
                "covers_to": today,
                "hits_reported": fetched.hits,
            },
        )
    SearchSchedule.objects.filter(pk=schedule.pk).update(
        covered_to=today, last_run_at=timezone.now(), last_error=""
    )
    return batch


def search_schedules_due(*, today: Any = None) -> list[SearchSchedule]:
    """Active schedules whose next run is due by `today`."""
    today = today or timezone.localdate()
    schedules = SearchSchedule.objects.filter(active=True).select_related("search__review")
    return [s for s in schedules if s.next_run_on <= today]


# --- Update rounds -----------------------------------------------------------------------


@transaction.atomic
def round_open(*, review: Review, actor: Any, note: str = "") -> ReviewRound:
    """Open the next update round: imports confirmed from now on are screened in it.

    Decisions of earlier rounds stay (a record found again is linked to its decided
    original, never screened again) and keep training the ranking. A round with nothing
    imported yet cannot be followed by another: that would only leave it empty.
    """
    review = Review.objects.select_for_update().get(pk=review.pk)
    imported = ImportBatch.objects.filter(
        review=review, status=ImportBatch.Status.IMPORTED, round=review.round
    )
    if not imported.exists():
        raise ConflictError(
            f"Round {review.round} has no imported records yet; import its search first."
        )
    review.round += 1
    review.save(update_fields=["round"])
    return ReviewRound.objects.create(
        review=review, number=review.round, note=note.strip(), actor=actor
    )


# --- Imports -----------------------------------------------------------------------------


def _preview_row(record: ParsedRecord) -> dict[str, Any]:
    return {
        "line": record.line,
        "title": record.title,
        "authors": record.authors[:3],
        "n_authors": len(record.authors),
        "year": record.year,
        "journal": record.journal,
        "doi": record.doi,
        "pmid": record.pmid,
        "abstract": record.abstract[:300],
    }


def _scan(
    stream: BinaryIO,
    fmt: str | None,
    csv_mapping: dict | None,
    spill_path: str,
    progress: ProgressFn = _no_progress,
) -> dict[str, Any]:
    """Parse the export once: count and sample it, and write its rows to the spill file."""
    notes = Notes()
    scan: dict[str, Any] = {"n_skipped": 0, "skipped": [], "preview": [], "notes": notes}
    skipped, preview = scan["skipped"], scan["preview"]
    size = stream.seek(0, io.SEEK_END) or 1
    stream.seek(0)

    def readable() -> Iterator[tuple]:
        n = 0
        for item in iter_records(stream, fmt=fmt, csv_mapping=csv_mapping or None, notes=notes):
            n += 1
            if n % 2000 == 0:
                # The stream's position runs ahead of the parser by one read buffer only.
                progress(min(stream.tell() / size, 1.0), f"Read {n:,} records")
            if isinstance(item, SkippedRecord):
                scan["n_skipped"] += 1
                if len(skipped) < SKIPPED_LIST_CAP:
                    skipped.append({"line": item.line, "reason": without_nul(item.reason)})
                continue
            if len(preview) < PREVIEW_SIZE:
                preview.append(without_nul(_preview_row(item)))
            yield record_row(item)

    scan["n_read"] = write_spill(spill_path, readable())
    return scan


RUN_FIELDS = ("date_run", "covers_from", "covers_to", "hits_reported")


def _run_values(run: dict[str, Any]) -> dict[str, Any]:
    """A search run's fields, checked before anything is read or stored."""
    _unknown_fields(run, RUN_FIELDS, "a search run")
    values = {name: run.get(name) for name in RUN_FIELDS}
    values["date_run"] = values["date_run"] or timezone.localdate()
    start, end = values["covers_from"], values["covers_to"]
    if start and end and end < start:
        raise DomainError("The run covers dates ending before they start.", field="covers_to")
    hits = values["hits_reported"]
    if hits is not None and (not isinstance(hits, int) or hits < 0):
        raise DomainError("Hits reported must be a whole number.", field="hits_reported")
    return values


def _import_overlap(review: Review, spill_path: str) -> dict[str, int]:
    """New / seen / decided counts of an export against the review ({} when it has none)."""
    old_keys, _ = _review_keys(Record.objects.filter(review=review))
    if not old_keys:
        return {}  # a first import: its keys need not be read
    with contextlib.closing(open_spill(spill_path)) as spill:
        key_values = spill_keys(spill)
    found = overlap.overlap_classify(
        old_keys, key_values, decided=lambda ids: overlap.decided_ids(review, ids)
    )
    return found.as_dict()


def import_check(*, file: BinaryIO, fmt: str | None, csv_mapping: dict | None = None) -> None:
    """Refuse at once a file whose head already shows it cannot be read (empty, binary, of
    no known format, a CSV without a title column), before a job reads all of it."""
    try:
        iter_records(file, fmt=fmt, csv_mapping=csv_mapping or None)
    except ImportFormatError as exc:
        raise DomainError(str(exc), field="file") from exc
    finally:
        file.seek(0)


def import_preview(
    *,
    review: Review,
    actor: Any,
    file: BinaryIO,
    filename: str,
    fmt: str | None = None,
    search: Search | None = None,
    run: dict[str, Any] | None = None,
    csv_mapping: dict[str, str] | None = None,
    stored_name: str = "",
    progress: ProgressFn = _no_progress,
) -> ImportBatch:
    """Read an uploaded export once, store it and report what would be imported.

    The parsed records are kept as insert-ready rows in a spill file beside the upload
    (`ImportBatch.rows`), so `import_confirm` does not parse the file again. `stored_name`
    names the upload when it is already in the default storage (an upload handed to a
    job): it is kept where it is rather than copied. With a `search`, the export is a
    run of it (`run`: date_run, covers_from, covers_to, hits_reported; a missing date is
    today). A review that holds records already learns how many of the export's are new,
    seen or decided before (`ImportBatch.overlap`).

    Raises DomainError when the file yields no record at all.
    """
    if search is not None and search.review_id != review.pk:
        raise DomainError("That search belongs to another review.")
    run_values = _run_values(run or {})
    filename = without_nul(filename)
    # The rows go to disk, not memory (100,000 records are ~400 MB of them); the storage
    # links the temporary file into place rather than copying it.
    with TemporaryUploadedFile("rows.sqlite3", "application/vnd.sqlite3", 0, None) as spill:
        try:
            file.seek(0)
            head = file.read(64 * 1024)
            file.seek(0)
            detected = fmt or detect_format(decode_stream(io.BytesIO(head)).read())
            if detected is None:
                raise ImportFormatError(
                    "The file's format could not be recognised: expected RIS, PubMed (nbib), "
                    "BibTeX, CSV, EndNote XML, Web of Science (plain text or tab-delimited) "
                    "or an Ovid direct export."
                )
            scan = _scan(file, detected, csv_mapping, spill.temporary_file_path(), progress)
        except ImportFormatError as exc:
            raise DomainError(str(exc), field="file") from exc
        except OSError as exc:  # the spill could not be written: no space left
            raise _storage_error(filename, exc) from exc
        if scan["n_read"] == 0:
            reasons = "; ".join(f"line {s['line']}: {s['reason']}" for s in scan["skipped"][:3])
            raise DomainError(
                f"No record could be read from {filename} as {detected.upper()}."
                + (f" {reasons}" if reasons else " The file is empty or in another format."),
                field="file",
            )
        file.seek(0)
        progress(1.0, "Comparing with the review's records")
        batch_overlap = _import_overlap(review, spill.temporary_file_path())
        batch = ImportBatch(
            review=review,
            search=search,
            overlap=batch_overlap,
            filename=filename[:255],
            format=detected,
            csv_mapping=csv_mapping or {},
            n_read=scan["n_read"],
            n_skipped=scan["n_skipped"],
            skipped=scan["skipped"],
            preview=scan["preview"],
            notes=[without_nul(note) for note in scan["notes"]],
            uploaded_by=actor,
        )
        try:
            if stored_name:
                batch.file.name = stored_name
            else:
                batch.file.save(filename, File(file), save=False)
            batch.rows.save(f"{Path(filename).stem[:80]}.rows.sqlite3", spill, save=False)
            with transaction.atomic():
                batch.save()
                if search is not None:
                    SearchRun.objects.create(
                        review=review, search=search, batch=batch, created_by=actor, **run_values
                    )
        except OSError as exc:
            # Disk full or the upload directory unwritable: no batch row, no stray file
            # (an upload already stored for a job stays with the job).
            saved = [batch.rows] if stored_name else [batch.file, batch.rows]
            for stored in saved:
                if stored.name:
                    with contextlib.suppress(OSError):
                        stored.storage.delete(stored.name)
            raise _storage_error(filename, exc) from exc
    return batch


def upload_store(*, name: str, upload: Any) -> str:
    """Store an upload under `name` (or a free variant of it); return the stored name.

    Raises DomainError when the disk is full or the upload directory unwritable; the
    storage (reviews.storage.AtomicFileSystemStorage) then leaves no partial file.
    """
    try:
        return default_storage.save(name, upload)
    except OSError as exc:
        raise _storage_error(name, exc) from exc


def _storage_error(filename: str, exc: OSError) -> DomainError:
    log.error("Import upload %r could not be stored: %s", filename, exc)
    return DomainError(
        "The server could not store the upload (its disk is full or not writable). "
        "Nothing was imported; try again later or tell the administrator.",
        field="file",
    )


def _import_spill(
    batch: ImportBatch, path: str, expected: int | None, progress: ProgressFn
) -> tuple[int, int]:
    """De-duplicate the spill's rows against the review, then insert them already linked;
    return (records inserted, automatic merges).

    The new records' ids are drawn first, so that de-duplication (which needs them: a
    group keeps its lowest id) runs on the keys the preview wrote to the spill, before the
    rows go in: each row is written once, its duplicate link included.
    """
    with contextlib.closing(open_spill(path)) as spill:
        n = spill_count(spill)
        if expected is not None and n != expected:
            raise SpillError(f"The spill holds {n} rows, the preview read {expected}.")
        key_rows = spill_keys(spill)
    progress(0.05, f"Looking for duplicates among {n:,} records")
    ids = records_allocate_ids(n)
    new_keys = list(map(dedup.DedupKey, ids, *zip(*key_rows, strict=True))) if n else []
    old_keys, already_duplicate = _review_keys(
        Record.objects.filter(review=batch.review_id).exclude(batch=batch)
    )
    # Old ids are all below the new ones: the sorted order of reading the whole review.
    pairs = dedup.find_duplicates(old_keys + new_keys, new_ids=set(ids))
    links, merged = _duplicate_links(batch.review, pairs, already_duplicate)
    # Rows of the spill are numbered from 1 in the order of `ids`.
    row_of = {record_id: row for row, record_id in enumerate(ids, start=1)}
    duplicate_of = {row_of[dup]: kept for dup, kept in merged.items() if dup in row_of}
    progress(0.15, f"Storing {n:,} records")
    total = max(n, 1)
    n_inserted = records_insert_spill(
        path,
        review_id=batch.review_id,
        batch_id=batch.pk,
        ids=ids,
        duplicate_of=duplicate_of,
        progress=lambda done: progress(0.15 + 0.8 * done / total, f"Stored {done:,} records"),
    )
    if n_inserted != n:
        raise SpillError(f"The spill holds {n} rows but {n_inserted} went in.")
    progress(0.95, f"Stored {n_inserted:,} records")
    links_insert(links)
    # A merge of a record that was there before (none from an import's own pairs, whose
    # duplicates are its new records): linked as de-duplication's re-run links it.
    _link_duplicates({dup: kept for dup, kept in merged.items() if dup not in row_of})
    return n_inserted, len(merged)


def _import_rows(batch: ImportBatch, progress: ProgressFn) -> tuple[int, int]:
    """Import the rows the preview spilled, or (no usable spill) parse the upload again;
    return (records inserted, automatic merges)."""
    if batch.rows:
        try:
            # A savepoint: a spill found damaged half-way is undone and the upload read.
            with transaction.atomic(), _local_path(batch.rows) as path:
                return _import_spill(batch, path, batch.n_read, progress)
        except (SpillError, OSError) as exc:
            log.warning("Import batch %s: spill file unusable (%s); parsing again", batch.pk, exc)
    with (
        batch.file.open("rb") as stream,
        tempfile.TemporaryDirectory(prefix="reviewflow-import-") as tmp,
    ):
        parsed = iter_records(stream, fmt=batch.format, csv_mapping=batch.csv_mapping or None)
        path = str(Path(tmp) / "rows.sqlite3")
        write_spill(path, (record_row(item) for item in parsed if isinstance(item, ParsedRecord)))
        # An SQLite connection keeps the attached spill open (and readable) after this
        # directory is gone, until the transaction ends.
        return _import_spill(batch, path, None, progress)


@contextlib.contextmanager
def _local_path(stored: Any) -> Iterator[str]:
    """A local file path for a stored file: its own on a file system storage, else a copy."""
    try:
        path = stored.path
    except NotImplementedError:  # a remote storage: the spill is copied here first
        with tempfile.NamedTemporaryFile(suffix=".sqlite3") as copy, stored.open("rb") as src:
            shutil.copyfileobj(src, copy, 1 << 20)
            copy.flush()
            yield copy.name
        return
    if not Path(path).is_file():
        raise SpillError("The spill file is missing.")
    yield path


def import_confirm(
    *, batch: ImportBatch, actor: Any, progress: ProgressFn = _no_progress
) -> ImportBatch:
    """Store every readable record of a previewed batch in one transaction, then de-duplicate.

    All or nothing: if anything fails half-way, no record of the batch remains.
    """
    with import_page_cache(), transaction.atomic(), gc_paused():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != ImportBatch.Status.PREVIEW:
            raise ConflictError("This import has already been confirmed or discarded.")
        if not batch.file:
            raise ConflictError("The uploaded file of this import is gone; upload it again.")
        review = batch.review
        n_imported, n_duplicates = _import_rows(batch, progress)
        if n_duplicates:
            _records_changed(review.pk)
        spill_name, batch.rows = batch.rows.name, ""
        batch.status = ImportBatch.Status.IMPORTED
        batch.n_imported = n_imported
        batch.n_duplicates = n_duplicates
        batch.imported_at = timezone.now()
        # Its new records join the round open now (not the one open at preview).
        batch.round = Review.objects.values_list("round", flat=True).get(pk=review.pk)
        batch.save(
            update_fields=["status", "n_imported", "n_duplicates", "imported_at", "rows", "round"]
        )
        SearchRun.objects.filter(batch=batch).update(round=batch.round)
        _records_changed(review.pk)
        if spill_name:
            storage = batch.rows.storage
            transaction.on_commit(lambda: storage.delete(spill_name))
    return batch


def import_discard(*, batch: ImportBatch, actor: Any) -> None:
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != ImportBatch.Status.PREVIEW:
            raise ConflictError("Only an import awaiting confirmation can be discarded.")
        batch.status = ImportBatch.Status.DISCARDED
        batch.save(update_fields=["status"])
        # A run is the export it imported: a discarded export was not a run of the search.
        # A scheduled run's dates are asked for again at the schedule's next run, so that
        # a preview discarded (by a lead, or by cleanup_files when nobody confirmed it)
        # loses no record.
        run = SearchRun.objects.filter(batch=batch).first()
        if run is not None and batch.uploaded_by_id is None and run.covers_from is not None:
            SearchSchedule.objects.filter(
                search_id=run.search_id, covered_to__gte=run.covers_from
            ).update(covered_to=run.covers_from - dt.timedelta(days=1))
        SearchRun.objects.filter(batch=batch).delete()
        batch.rows.delete(save=False)
        batch.file.delete(save=True)


def _records_changed(review_id: int) -> None:
    """Bump the review's records version once the transaction holding the change commits."""

    def bump() -> None:
        key = selectors.records_version_key(review_id)
        try:
            cache.incr(key)
        except ValueError:  # not set yet (or expired)
            cache.set(key, 1, None)

    transaction.on_commit(bump, robust=True)


# --- De-duplication --------------------------------------------------------------------


@gc_paused()
def duplicates_find(*, review: Review, new_ids: set[int] | None = None) -> int:
    """Find duplicates among the review's records (new ones against all); return auto-merged count.

    Automatic pairs are merged (the duplicate is linked to the kept record);
    borderline pairs wait for a lead's decision. Pairs decided before are left alone.
    """
    keys, already_duplicate = _review_keys(Record.objects.filter(review=review))
    return _duplicates_store(review, keys, already_duplicate, new_ids)


def _review_keys(records: QuerySet[Record]) -> tuple[list[dedup.DedupKey], set[int]]:
    """Dedup keys of `records` in id order, and the ids already linked as duplicates."""
    rows = records.order_by("id").values_list(
        "id", "doi", "pmid", "title_norm", "year", "first_author", "duplicate_of_id"
    )
    keys, already_duplicate = [], set()
    for rid, doi, pmid, title_norm, year, first_author, duplicate_of_id in rows.iterator(
        chunk_size=10000
    ):
        keys.append(dedup.DedupKey(rid, doi, pmid, title_norm, year, first_author))
        if duplicate_of_id:
            already_duplicate.add(rid)
    return keys, already_duplicate


def _duplicates_store(
    review: Review,
    keys: list[dedup.DedupKey],
    already_duplicate: set[int],
    new_ids: set[int] | None,
) -> int:
    """Find duplicates among `keys`, store the links and merges; return the auto-merged count."""
    pairs = dedup.find_duplicates(keys, new_ids=new_ids)
    links, merged = _duplicate_links(review, pairs, already_duplicate)
    with transaction.atomic():
        links_insert(links)
        _link_duplicates(merged)
        if merged:
            _records_changed(review.pk)
    return len(merged)


def _duplicate_links(
    review: Review, pairs: Iterable[dedup.DuplicatePair], already_duplicate: set[int]
) -> tuple[list[tuple], dict[int, int]]:
    """The links to store (bulk.LINK_FIELDS order) and the merges (duplicate -> kept) of
    `pairs`, less the pairs decided before and the records already linked."""
    known = set(DuplicateLink.objects.filter(review=review).values_list("kept_id", "duplicate_id"))
    links: list[tuple] = []
    merged: dict[int, int] = {}
    for pair in pairs:
        if (pair.kept_id, pair.duplicate_id) in known or pair.duplicate_id in already_duplicate:
            continue
        auto = pair.tier == "auto" and pair.duplicate_id not in merged
        status = DuplicateLink.Status.MERGED if auto else DuplicateLink.Status.PENDING
        # Values in bulk.LINK_FIELDS order; a plain str status (psycopg dumps an Enum's name).
        links.append(
            (
                review.pk,
                pair.kept_id,
                pair.duplicate_id,
                pair.score,
                pair.tier,
                pair.reason[:200],
                status.value,
            )
        )
        if auto:
            merged[pair.duplicate_id] = pair.kept_id
    return links, merged


def _link_duplicates(merged: dict[int, int]) -> None:
    # One prepared UPDATE run many times: bulk_update's CASE expression grows with the
    # batch and is far slower for the thousands of links a large import produces.
    records_link_duplicates(merged.items())


def duplicate_decide(*, link: DuplicateLink, actor: Any, is_duplicate: bool) -> DuplicateLink:
    """A lead confirms (merge) or rejects a pending pair."""
    with transaction.atomic():
        link = DuplicateLink.objects.select_for_update().get(pk=link.pk)
        if link.status != DuplicateLink.Status.PENDING:
            raise ConflictError("This pair has already been decided.")
        if is_duplicate:
            duplicate = Record.objects.select_for_update().get(pk=link.duplicate_id)
            if duplicate.duplicate_of_id:
                raise ConflictError("That record is already linked as a duplicate of another.")
            kept = Record.objects.get(pk=link.kept_id)
            if kept.duplicate_of_id:
                raise ConflictError(
                    "The kept record is itself a duplicate; decide that pair first."
                )
            duplicate.duplicate_of_id = link.kept_id
            duplicate.save(update_fields=["duplicate_of"])
            _records_changed(link.review_id)
        link.status = DuplicateLink.Status.MERGED if is_duplicate else DuplicateLink.Status.REJECTED
        link.decided_by, link.decided_at = actor, timezone.now()
        link.save(update_fields=["status", "decided_by", "decided_at"])
        DuplicateDecision.objects.create(
            review_id=link.review_id, link=link, status=link.status, actor=actor
        )
    return link


def duplicate_undo(*, link: DuplicateLink, actor: Any) -> DuplicateLink:
    """Undo a merge: the duplicate becomes an ordinary record again."""
    with transaction.atomic():
        link = DuplicateLink.objects.select_for_update().get(pk=link.pk)
        if link.status != DuplicateLink.Status.MERGED:
            raise ConflictError("Only a merged pair can be undone.")
        Record.objects.filter(pk=link.duplicate_id, duplicate_of_id=link.kept_id).update(
            duplicate_of=None
        )
        _records_changed(link.review_id)
        link.status = DuplicateLink.Status.UNDONE
        link.decided_by, link.decided_at = actor, timezone.now()
        link.save(update_fields=["status", "decided_by", "decided_at"])
        DuplicateDecision.objects.create(
            review_id=link.review_id, link=link, status=link.status, actor=actor
        )
    return link


# --- Jobs --------------------------------------------------------------------------------


def job_create(
    *, review: Review, kind: str, actor: Any, params: dict[str, Any] | None = None
) -> Job:
    """Record a job and send it to the queue once the caller's transaction commits.

    An unfinished job of the same kind with the same parameters is returned instead of a
    second one (a double click on "Import" queues one import).
    """
    params = params or {}
    with transaction.atomic():
        # Lock the review row: two requests racing to start the same job queue it once.
        Review.objects.select_for_update().filter(pk=review.pk).exists()
        running = (
            Job.objects.filter(
                review=review, kind=kind, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
            )
            .order_by("-id")
            .only("params")
        )
        for job in running:
            if job.params == params:
                return job
        job = Job.objects.create(
            review=review,
            kind=kind,
            started_by=actor,
            params=params,
            celery_task_id=uuid.uuid4().hex,
        )
    dispatch_job(job)
    job.refresh_from_db()
    return job


def job_start(*, job_id: int, task_id: str) -> Job | None:
    """Mark a job running (the task side); None when it must not run (done or gone).

    A job found running already was being run by a worker that died: running it again is
    what makes the job retry-safe, so it is started again, one attempt more.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if (
            job.status == Job.Status.RUNNING
            and task_id
            and job.celery_task_id != task_id
            and not job.is_lost
        ):
            # Another delivery owns the job and its worker is alive: the broker redelivered
            # a message whose job was already taken up again (`jobs_restart_lost`).
            return None
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.started_at = job.heartbeat_at = timezone.now()
        job.celery_task_id = task_id or job.celery_task_id
        job.message = "Started" if job.attempts == 1 else f"Started again (attempt {job.attempts})"
        job.save(
            update_fields=[
                "status",
                "attempts",
                "started_at",
                "heartbeat_at",
                "celery_task_id",
                "message",
            ]
        )
    return job


def jobs_restart_lost() -> list[Job]:
    """Queue again every running job whose worker went silent (killed, out of memory).

    Called every few seconds by each live worker (`reviews.jobs.start_reaper`). Exactly one
    caller takes up a given job: rows are locked with SKIP LOCKED and the job gets a new
    task id, so the lost worker's message, if the broker ever delivers it again, finds the
    job taken (`job_start`). A job that lost its worker REVIEWFLOW_JOB_MAX_RESTARTS times is
    failed instead: whatever kills its workers would kill the next one too.
    """
    now = timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.REVIEWFLOW_JOB_LOST_AFTER)
    restarted: list[Job] = []
    with transaction.atomic():
        lost = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff)
            .order_by("id")[:100]
        )
        for job in lost:
            silent_since = timezone.localtime(job.heartbeat_at)
            if job.restarts >= settings.REVIEWFLOW_JOB_MAX_RESTARTS:
                job.status, job.finished_at, job.message = Job.Status.FAILED, now, "Failed"
                job.error = (
                    f"The worker running this job stopped {job.restarts + 1} times "
                    "(killed, or out of memory); it was not started again."
                )
                job.save(update_fields=["status", "finished_at", "message", "error"])
                log.warning("Job %s (%s) failed: its workers kept dying", job.pk, job.kind)
                continue
            job.status = Job.Status.QUEUED
            job.restarts += 1
            job.restarted_at = job.heartbeat_at = now
            job.celery_task_id = uuid.uuid4().hex
            job.message = f"Restarted: its worker stopped responding at {silent_since:%H:%M:%S}"
            job.save(
                update_fields=[
                    "status",
                    "restarts",
                    "restarted_at",
                    "heartbeat_at",
                    "celery_task_id",
                    "message",
                ]
            )
            log.warning("Job %s (%s) lost its worker: queued again", job.pk, job.kind)
            dispatch_job(job)
            restarted.append(job)
    return restarted


def job_succeed(*, job: Job, result: dict[str, Any], message: str = "") -> Job:
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED,
        progress=100,
        result=result,
        message=(message or "Done")[:300],
        error="",
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def job_fail(*, job: Job, error: str) -> Job:
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, error=error, message="Failed", finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def job_retry(*, job: Job, actor: Any) -> Job:
    """Queue a failed or stalled job again, from its stored parameters; the message names who.

    A stalled job (no sign of life for REVIEWFLOW_JOB_STALLED_AFTER) lost its worker, or its
    thread when the web process restarted (`make run`); running it again is safe, as every
    job is (see `reviews.jobs.run_job`).
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status != Job.Status.FAILED and not job.is_stalled:
            raise ConflictError("Only a failed or stalled job can be run again.")
        job.status, job.progress, job.error = Job.Status.QUEUED, 0, ""
        job.finished_at = None
        job.heartbeat_at = timezone.now()
        job.celery_task_id = uuid.uuid4().hex
        job.message = f"Queued again by {actor.get_username()}"[:300]
        job.save(
            update_fields=[
                "status",
                "progress",
                "error",
                "finished_at",
                "heartbeat_at",
                "celery_task_id",
                "message",
            ]
        )
    dispatch_job(job)
    job.refresh_from_db()
    return job
