"""Screening's part of the activity log: votes and their undo, adjudications, blinding,
record corrections (registered in ScreeningConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q
from django.urls import reverse

from reviews.activity import (
    Activity,
    ActivityQuery,
    ActivitySource,
    history_rows,
    merged,
    register_activity_source,
    username,
)
from reviews.models import Stage

from .models import (
    BlindingChange,
    FullTextChange,
    RecordCorrection,
    Resolution,
    StoppingRuleChange,
    VoteChange,
)

STAGES = dict(Stage.choices)
# Records are shown by citation: their long texts are not read.
RECORD_TEXTS = ("record__abstract", "record__source_fields", "record__title_norm")


def _record(query: ActivityQuery, record, stage: str = "") -> tuple[str, str]:
    label = f"#{record.pk} {record.citation}" + (f" ({STAGES.get(stage, stage)})" if stage else "")
    url = reverse("reviews:record", kwargs={"slug": query.review.slug, "record_id": record.pk})
    return label, url


def _decision(decision: str, reason) -> str:
    return f"{decision} ({reason.label})" if decision and reason else decision or "—"


def _votes(query: ActivityQuery) -> Iterator[Activity]:
    rows = VoteChange.objects.filter(review=query.review)
    if not query.wants("vote"):
        rows = rows.filter(new_decision="")
    elif not query.wants("undo"):
        rows = rows.exclude(new_decision="")
    rows = rows.select_related("reviewer", "record", "old_reason", "new_reason").defer(
        *RECORD_TEXTS
    )
    for row in history_rows(rows, query, at="changed_at", actor="reviewer"):
        subject, url = _record(query, row.record, row.stage)
        old = _decision(row.old_decision, row.old_reason)
        new = _decision(row.new_decision, row.new_reason)
        if not row.new_decision:
            kind, action = "undo", "Vote withdrawn"
        else:
            kind, action = "vote", "Vote" if not row.old_decision else "Vote changed"
        detail = f"{old} → {new}" if row.old_decision else new
        if row.new_note:
            detail += f" · “{row.new_note[:80]}”"
        if row.imported_from:
            detail += f" · imported from {row.imported_from}"
        yield Activity(row.changed_at, kind, username(row.reviewer), action, subject, detail, url)


def _resolutions(query: ActivityQuery) -> Iterator[Activity]:
    """Adjudications, and final decisions brought in from another tool (ASReview, Rayyan...)."""
    wanted = Q()
    if query.wants("adjudication"):
        wanted |= Q(adjudicated=True)
    if query.wants("imported_decision"):
        wanted |= ~Q(imported_from="")
    rows = (
        Resolution.objects.filter(wanted, review=query.review)
        .select_related("actor", "record", "reason")
        .defer(*RECORD_TEXTS)
    )
    for row in history_rows(rows, query, at="created_at"):
        subject, url = _record(query, row.record, row.stage)
        detail = _decision(row.decision, row.reason) + (f" · “{row.note[:80]}”" if row.note else "")
        if row.adjudicated:
            kind, action = "adjudication", "Adjudicated"
        else:
            kind, action = "imported_decision", f"Decision imported from {row.imported_from}"
        yield Activity(row.created_at, kind, username(row.actor), action, subject, detail, url)


def _blinding(query: ActivityQuery) -> Iterator[Activity]:
    rows = BlindingChange.objects.filter(review=query.review).select_related("actor")
    for row in history_rows(rows, query, at="changed_at"):
        state = "on" if row.blinded else "off"
        yield Activity(
            row.changed_at, "blinding", username(row.actor), f"Blinding {state}", "Screening"
        )


def _stopping(query: ActivityQuery) -> Iterator[Activity]:
    rows = StoppingRuleChange.objects.filter(review=query.review).select_related("actor")
    for row in history_rows(rows, query, at="changed_at"):
        detail = f"recall {row.target_recall:.0%}, confidence {row.confidence:.0%}"
        detail += " · random sampling" if row.sampling else ""
        yield Activity(
            row.changed_at,
            "stopping",
            username(row.actor),
            "Stopping rule set",
            "Screening",
            detail,
        )


def _corrections(query: ActivityQuery) -> Iterator[Activity]:
    rows = (
        RecordCorrection.objects.filter(review=query.review)
        .select_related("actor", "record")
        .defer(*RECORD_TEXTS)
    )
    for row in history_rows(rows, query, at="corrected_at"):
        subject, url = _record(query, row.record)
        detail = f"{row.field}: {str(row.old_value)[:60]} → {str(row.new_value)[:60]}"
        yield Activity(
            row.corrected_at,
            "correction",
            username(row.actor),
            "Record corrected",
            subject,
            detail,
            url,
        )


def _fulltexts(query: ActivityQuery) -> Iterator[Activity]:
    rows = (
        FullTextChange.objects.filter(review=query.review)
        .select_related("actor", "record")
        .defer(*RECORD_TEXTS)
    )
    for row in history_rows(rows, query):
        subject, url = _record(query, row.record)
        detail = ""
        if row.sha256:
            detail = f"{row.original_name} · {row.size / 1e6:.1f} MB · SHA-256 {row.sha256[:12]}…"
        yield Activity(
            row.at, "fulltext", username(row.actor), row.get_action_display(), subject, detail, url
        )


def _items(query: ActivityQuery) -> Iterator[Activity]:
    streams = []
    if query.wants("vote") or query.wants("undo"):
        streams.append(_votes(query))
    if query.wants("adjudication") or query.wants("imported_decision"):
        streams.append(_resolutions(query))
    for kind, fn in (
        ("blinding", _blinding),
        ("stopping", _stopping),
        ("correction", _corrections),
        ("fulltext", _fulltexts),
    ):
        if query.wants(kind):
            streams.append(fn(query))
    return merged(*streams)


def register() -> None:
    register_activity_source(
        ActivitySource(
            "screening",
            {
                "vote": "Votes",
                "undo": "Votes withdrawn",
                "adjudication": "Adjudications",
                "imported_decision": "Decisions imported",
                "blinding": "Blinding",
                "stopping": "Stopping rule",
                "correction": "Record corrections",
                "fulltext": "Full texts",
            },
            _items,
            order=20,
        )
    )
