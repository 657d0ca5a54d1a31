"""Writes of the api app: personal tokens, and screening decisions moved in from other tools."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews.errors import ConflictError, DomainError
from reviews.models import ExclusionReason, ImportBatch, Membership, Review

from .exchange import tools
from .models import TOKEN_PREFIX_LEN, ApiToken, token_hash

MAX_ACTIVE_TOKENS = 20


@transaction.atomic
def token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it and the key, which is never readable again."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the token a name, e.g. what it is for.", field="name")
    if len(name) > 100:
        raise DomainError("The name is longer than 100 characters.", field="name")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ConflictError(f"You have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.")
    key = "rf_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:TOKEN_PREFIX_LEN], key_hash=token_hash(key)
    )
    return token, key


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: Any) -> ApiToken:
    """Revoke a token of the actor's own; it stops working at once and for good."""
    if token.user_id != actor.pk:
        raise DomainError("That is not your token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- Moving in: screening decisions from another tool ------------------------------------------


def _members_by_name(review: Review, reviewers: Mapping[str, Any]) -> dict[str, Any]:
    """The tool's reviewer names -> users of this review with the reviewer role.

    A name mapped to "" or None is left out on purpose (e.g. a pilot screener)."""
    wanted = {name: str(username).strip() for name, username in reviewers.items() if username}
    memberships = {
        m.user.username: m
        for m in Membership.objects.filter(
            review=review, user__username__in=set(wanted.values())
        ).select_related("user")
    }
    out = {}
    for name, username in wanted.items():
        membership = memberships.get(username)
        if membership is None:
            raise DomainError(f"“{username}” is not a member of this review.", field="reviewers")
        if not membership.can_screen:
            raise DomainError(f"“{username}” does not have the reviewer role.", field="reviewers")
        out[name] = membership.user
    return out


def decisions_preview(*, batch: ImportBatch, tool: str) -> dict[str, Any]:
    """What an import of `batch`'s decisions as `tool`'s export would bring: counts and the
    reviewer names the lead maps to members."""
    rows = list(
        batch.records.filter(duplicate_of__isnull=True).values_list("source_fields", flat=True)
    )
    counts: dict[str, int] = {}
    try:
        names = tools.reviewer_names(tool, rows)
        for fields in rows:
            for d in tools.decisions_for(tool, fields, covidence_list="included"):
                if tool != tools.COVIDENCE:
                    key = f"{d.stage}:{d.decision}"
                    counts[key] = counts.get(key, 0) + 1
    except tools.ToolFormatError as exc:
        raise DomainError(str(exc)) from None
    return {"tool": tool, "records": len(rows), "reviewers": names, "decisions": counts}


def decisions_import(
    *,
    batch: ImportBatch,
    actor: Any,
    tool: str,
    reviewers: Mapping[str, Any] | None = None,
    covidence_list: str = "",
    ft_reason_id: Any = None,
) -> dict[str, Any]:
    """Import the screening decisions of an imported batch exported from another tool.

    A record's final decision (ASReview, Covidence) becomes a resolution marked as
    imported from the tool, by `actor`; per-reviewer decisions (Rayyan) become each mapped
    member's votes, cast through `screening.services.vote_cast` (so agreement resolves and
    disagreement is a conflict, as if they had screened here), marked as imported in the
    vote history. All or nothing: a bad file or mapping stores no decision. Records
    already decided here are skipped and reported.
    """
    from screening import services as screening_services

    if batch.status != ImportBatch.Status.IMPORTED:
        raise ConflictError("Import the records first; then their decisions.")
    if tool not in tools.TOOLS:
        raise DomainError("Choose the tool: asreview, rayyan or covidence.", field="tool")
    label = tools.TOOLS[tool]
    review = batch.review
    records = list(
        batch.records.filter(duplicate_of__isnull=True).values_list("id", "source_fields")
    )
    try:
        parsed = [
            (rid, tools.decisions_for(tool, fields, covidence_list=covidence_list))
            for rid, fields in records
        ]
    except tools.ToolFormatError as exc:
        raise DomainError(str(exc)) from None
    names = {d.reviewer for _, ds in parsed for d in ds if d.reviewer}
    users: dict[str, Any] = {}
    if names:
        reviewers = reviewers or {}
        unmapped = sorted(names - set(reviewers), key=str.casefold)
        if unmapped:
            raise DomainError(
                f"Map every {label} reviewer to a member (or to nobody): {', '.join(unmapped)}.",
                field="reviewers",
            )
        users = _members_by_name(review, reviewers)
    reasons = {
        (r.stage, r.label.casefold()): r.pk
        for r in ExclusionReason.objects.filter(review=review, active=True)
    }
    if tool == tools.COVIDENCE and covidence_list == "excluded" and not ft_reason_id:
        raise DomainError(
            "References excluded at full text need the exclusion reason PRISMA counts.",
            field="ft_reason",
        )
    screening_services.items_sync(review, force=True)
    summary: dict[str, Any] = {"records": len(records), "resolved": 0, "votes": 0, "skipped": []}
    with transaction.atomic(), screening_services.ranking_notes_batched():
        for record_id, decisions in parsed:
            try:
                for d in decisions:
                    if d.reviewer:
                        user = users.get(d.reviewer)
                        if user is None:
                            continue  # mapped to nobody
                        screening_services.vote_cast(
                            review=review,
                            record_id=record_id,
                            stage=d.stage,
                            actor=user,
                            decision=d.decision,
                            reason_id=reasons.get((d.stage, d.reason.casefold())),
                            imported_from=label,
                        )
                        summary["votes"] += 1
                    else:
                        screening_services.resolution_import(
                            review=review,
                            record_id=record_id,
                            stage=d.stage,
                            actor=actor,
                            decision=d.decision,
                            imported_from=label,
                            reason_id=ft_reason_id if d.stage == "ft" else None,
                        )
                        summary["resolved"] += 1
            except ConflictError as exc:
                summary["skipped"].append({"record": record_id, "reason": exc.message})
    return summary
