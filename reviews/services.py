"""State changes for reviews, teams, the search log, imports and de-duplication."""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from . import dedup
from .bulk import gc_paused, records_insert, records_link_duplicates
from .errors import ConflictError, DomainError
from .importing import (
    ImportFormatError,
    ParsedRecord,
    SkippedRecord,
    decode_stream,
    detect_format,
    iter_records,
)
from .models import (
    DuplicateLink,
    ExclusionReason,
    ImportBatch,
    Invitation,
    Membership,
    Record,
    Review,
    Search,
    Stage,
)

User = get_user_model()

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
BULK_BATCH = 2000


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
    Membership.objects.create(review=review, user=creator, is_lead=True, is_reviewer=True)
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
        membership.is_lead, membership.is_reviewer, membership.is_adjudicator = (
            is_lead,
            is_reviewer,
            is_adjudicator,
        )
        membership.save(update_fields=["is_lead", "is_reviewer", "is_adjudicator"])
    return membership


def membership_remove(*, membership: Membership, actor: Any) -> None:
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=membership.review_id)
        if membership.is_lead:
            _ensure_other_lead(review, membership)
        membership.delete()


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
    return Invitation.objects.create(
        review=review,
        email=email,
        username=username,
        is_lead=is_lead,
        is_reviewer=is_reviewer,
        is_adjudicator=is_adjudicator,
        invited_by=actor,
    )


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
    return membership


@transaction.atomic
def user_signup_with_invitation(
    *, invitation: Invitation, username: str, email: str, password: str
) -> Any:
    user = User.objects.create_user(username=username, email=email, password=password)
    invitation_accept(invitation=invitation, user=user)
    return user


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


def _scan(stream: BinaryIO, fmt: str | None, csv_mapping: dict | None) -> dict[str, Any]:
    n_read, n_skipped, skipped, preview = 0, 0, [], []
    for item in iter_records(stream, fmt=fmt, csv_mapping=csv_mapping or None):
        if isinstance(item, SkippedRecord):
            n_skipped += 1
            if len(skipped) < SKIPPED_LIST_CAP:
                skipped.append({"line": item.line, "reason": item.reason})
            continue
        n_read += 1
        if len(preview) < PREVIEW_SIZE:
            preview.append(_preview_row(item))
    return {"n_read": n_read, "n_skipped": n_skipped, "skipped": skipped, "preview": preview}


def import_preview(
    *,
    review: Review,
    actor: Any,
    file: BinaryIO,
    filename: str,
    fmt: str | None = None,
    search: Search | None = None,
    csv_mapping: dict[str, str] | None = None,
) -> ImportBatch:
    """Read an uploaded export once, store it and report what would be imported.

    Raises DomainError when the file yields no record at all.
    """
    if search is not None and search.review_id != review.pk:
        raise DomainError("That search belongs to another review.")
    try:
        file.seek(0)
        head = file.read(64 * 1024)
        file.seek(0)
        detected = fmt or detect_format(decode_stream(io.BytesIO(head)).read())
        if detected is None:
            raise ImportFormatError(
                "The file's format could not be recognised: expected RIS, PubMed (nbib), BibTeX or CSV."
            )
        scan = _scan(file, detected, csv_mapping)
    except ImportFormatError as exc:
        raise DomainError(str(exc), field="file") from exc
    if scan["n_read"] == 0:
        reasons = "; ".join(f"line {s['line']}: {s['reason']}" for s in scan["skipped"][:3])
        raise DomainError(
            f"No record could be read from {filename} as {detected.upper()}."
            + (f" {reasons}" if reasons else " The file is empty or in another format."),
            field="file",
        )
    file.seek(0)
    batch = ImportBatch(
        review=review,
        search=search,
        filename=filename[:255],
        format=detected,
        csv_mapping=csv_mapping or {},
        n_read=scan["n_read"],
        n_skipped=scan["n_skipped"],
        skipped=scan["skipped"],
        preview=scan["preview"],
        uploaded_by=actor,
    )
    batch.file.save(filename, File(file), save=False)
    batch.save()
    return batch


def _record_row(review_id: int, batch_id: int, parsed: ParsedRecord) -> tuple:
    """One record's column values in `bulk.RECORD_FIELDS` order, clipped to the column sizes."""
    year = parsed.year if parsed.year and 0 < parsed.year < 32767 else None
    first_author = dedup.first_author_key(parsed.authors[0]) if parsed.authors else ""
    return (
        review_id,
        batch_id,
        parsed.line,
        parsed.title,
        parsed.abstract,
        parsed.authors,
        year,
        parsed.journal[:500],
        parsed.volume[:50],
        parsed.issue[:50],
        parsed.pages[:50],
        parsed.doi[:255],
        parsed.pmid[:20],
        parsed.keywords,
        parsed.language[:100],
        parsed.url,
        parsed.record_type[:50],
        parsed.source_fields,
        dedup.normalise_title(parsed.title),
        first_author[:200],
    )


def import_confirm(*, batch: ImportBatch, actor: Any) -> ImportBatch:
    """Store every readable record of a previewed batch in one transaction, then de-duplicate.

    All or nothing: if anything fails half-way, no record of the batch remains.
    """
    with transaction.atomic(), gc_paused():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != ImportBatch.Status.PREVIEW:
            raise ConflictError("This import has already been confirmed or discarded.")
        if not batch.file:
            raise ConflictError("The uploaded file of this import is gone; upload it again.")
        review = batch.review
        with batch.file.open("rb") as stream:
            rows = (
                _record_row(review.pk, batch.pk, item)
                for item in iter_records(
                    stream, fmt=batch.format, csv_mapping=batch.csv_mapping or None
                )
                if isinstance(item, ParsedRecord)
            )
            n_imported = records_insert(rows)
        new_ids = set(batch.records.values_list("id", flat=True))
        n_duplicates = duplicates_find(review=review, new_ids=new_ids)
        batch.status = ImportBatch.Status.IMPORTED
        batch.n_imported = n_imported
        batch.n_duplicates = n_duplicates
        batch.imported_at = timezone.now()
        batch.save(update_fields=["status", "n_imported", "n_duplicates", "imported_at"])
    return batch


def import_discard(*, batch: ImportBatch, actor: Any) -> None:
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != ImportBatch.Status.PREVIEW:
            raise ConflictError("Only an import awaiting confirmation can be discarded.")
        batch.status = ImportBatch.Status.DISCARDED
        batch.save(update_fields=["status"])
        batch.file.delete(save=True)


# --- De-duplication --------------------------------------------------------------------


@gc_paused()
def duplicates_find(*, review: Review, new_ids: set[int] | None = None) -> int:
    """Find duplicates among the review's records (new ones against all); return auto-merged count.

    Automatic pairs are merged (the duplicate is linked to the kept record);
    borderline pairs wait for a lead's decision. Pairs decided before are left alone.
    """
    rows = Record.objects.filter(review=review).values_list(
        "id", "doi", "pmid", "title_norm", "year", "first_author", "duplicate_of_id"
    )
    keys, already_duplicate = [], set()
    for rid, doi, pmid, title_norm, year, first_author, duplicate_of_id in rows.iterator(
        chunk_size=10000
    ):
        keys.append(dedup.DedupKey(rid, doi, pmid, title_norm, year, first_author))
        if duplicate_of_id:
            already_duplicate.add(rid)
    pairs = dedup.find_duplicates(keys, new_ids=new_ids)
    known = set(DuplicateLink.objects.filter(review=review).values_list("kept_id", "duplicate_id"))
    links, merged = [], {}
    for pair in pairs:
        if (pair.kept_id, pair.duplicate_id) in known or pair.duplicate_id in already_duplicate:
            continue
        auto = pair.tier == "auto" and pair.duplicate_id not in merged
        links.append(
            DuplicateLink(
                review=review,
                kept_id=pair.kept_id,
                duplicate_id=pair.duplicate_id,
                score=pair.score,
                tier=pair.tier,
                reason=pair.reason[:200],
                status=DuplicateLink.Status.MERGED if auto else DuplicateLink.Status.PENDING,
            )
        )
        if auto:
            merged[pair.duplicate_id] = pair.kept_id
    with transaction.atomic():
        DuplicateLink.objects.bulk_create(links, batch_size=BULK_BATCH, ignore_conflicts=True)
        _link_duplicates(merged)
    return len(merged)


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
        link.status = DuplicateLink.Status.MERGED if is_duplicate else DuplicateLink.Status.REJECTED
        link.decided_by, link.decided_at = actor, timezone.now()
        link.save(update_fields=["status", "decided_by", "decided_at"])
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
        link.status = DuplicateLink.Status.UNDONE
        link.decided_by, link.decided_at = actor, timezone.now()
        link.save(update_fields=["status", "decided_by", "decided_at"])
    return link
