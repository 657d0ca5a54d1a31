"""The activity log: who decided what in a review, from the history rows every app keeps.

Each app registers an :class:`ActivitySource` in ``AppConfig.ready()`` (reviews cannot
import the apps to its right). A source turns its history rows (``VoteChange``,
``ExtractionRevision``, ``RobChange``...) into :class:`Activity` items, newest first, with
the query's person and dates applied in the database; :func:`activity_list` merges the
sources. Only leads read it: it shows every reviewer's decisions, blinded or not.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from .models import (
    DuplicateDecision,
    ExclusionReasonChange,
    ImportBatch,
    MembershipChange,
    Review,
    ReviewRound,
    SearchChange,
    SettingChange,
)


@dataclass(frozen=True)
class Activity:
    """One change, as the Activity page and its CSV show it."""

    at: dt.datetime
    kind: str
    actor: str  # username; "" when the system did it (an automatic merge, an import)
    action: str  # e.g. "Vote changed"
    subject: str  # what it was about, e.g. "Smith 2020 (title/abstract)"
    detail: str = ""  # e.g. "include → exclude"
    url: str = ""


@dataclass(frozen=True)
class ActivityQuery:
    review: Review
    actor_id: int | None = None
    kinds: frozenset[str] = frozenset()  # empty: every kind
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive
    limit: int | None = None

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True)
class ActivitySource:
    """``kinds``: kind -> label. ``items(query)`` yields the source's items newest first."""

    name: str
    kinds: dict[str, str]
    items: Callable[[ActivityQuery], Iterable[Activity]]
    order: int = 100


_sources: dict[str, ActivitySource] = {}


def register_activity_source(source: ActivitySource) -> None:
    _sources[source.name] = source


def activity_sources() -> list[ActivitySource]:
    return sorted(_sources.values(), key=lambda s: s.order)


def activity_kinds() -> dict[str, str]:
    """Every kind of activity, in the order of the sources (for the filter)."""
    return {kind: label for s in activity_sources() for kind, label in s.kinds.items()}


def activity_list(query: ActivityQuery) -> Iterator[Activity]:
    """The review's activity matching ``query``, newest first (at most ``query.limit``)."""
    streams = [
        iter(source.items(query))
        for source in activity_sources()
        if any(query.wants(kind) for kind in source.kinds)
    ]
    merged = heapq.merge(*streams, key=lambda a: a.at, reverse=True)
    return itertools.islice(merged, query.limit) if query.limit else merged


def history_rows(
    qs: QuerySet, query: ActivityQuery, *, at: str = "at", actor: str = "actor"
) -> QuerySet:
    """A source's history rows with the query's person, dates and limit applied, newest
    first (every source uses it, so that each stream is sorted as the merge needs)."""
    if query.actor_id is not None:
        qs = qs.filter(**{f"{actor}_id": query.actor_id})
    if query.since is not None:
        qs = qs.filter(**{f"{at}__gte": query.since})
    if query.until is not None:
        qs = qs.filter(**{f"{at}__lt": query.until})
    qs = qs.order_by(f"-{at}", "-pk")
    return qs[: query.limit] if query.limit else qs.iterator(chunk_size=2000)


def username(user: Any) -> str:
    return user.username if user is not None else ""


def merged(*streams: Iterable[Activity]) -> Iterator[Activity]:
    """Several newest-first streams of one source as one."""
    return heapq.merge(*streams, key=lambda a: a.at, reverse=True)


# --- this app's history: the team, settings, reasons, searches, imports, duplicates ------


def _team(query: ActivityQuery) -> Iterator[Activity]:
    rows = MembershipChange.objects.filter(review=query.review).select_related("actor")
    for row in history_rows(rows, query):
        if row.old_roles and row.new_roles:
            roles = f"{row.old_roles} → {row.new_roles}"
        else:
            roles = row.new_roles or (f"was {row.old_roles}" if row.old_roles else "")
        yield Activity(
            row.at, "membership", username(row.actor), row.get_action_display(), row.subject, roles
        )


def _settings(query: ActivityQuery) -> Iterator[Activity]:
    rows = SettingChange.objects.filter(review=query.review).select_related("actor")
    for row in history_rows(rows, query):
        yield Activity(
            row.at,
            "settings",
            username(row.actor),
            f"{row.section.capitalize()} setting",
            row.field.replace("_", " "),
            f"{_short(row.old) or '—'} → {_short(row.new) or '—'}",
        )


def _imports(query: ActivityQuery) -> Iterator[Activity]:
    rows = ImportBatch.objects.filter(
        review=query.review, imported_at__isnull=False
    ).select_related("uploaded_by")
    for row in history_rows(rows, query, at="imported_at", actor="uploaded_by"):
        yield Activity(
            row.imported_at,
            "import",
            username(row.uploaded_by),
            "Records imported",
            row.filename,
            f"{row.n_imported:,} records, {row.n_duplicates:,} linked as duplicates",
            reverse(
                "reviews:import_detail", kwargs={"slug": query.review.slug, "batch_id": row.pk}
            ),
        )


def _duplicates(query: ActivityQuery) -> Iterator[Activity]:
    rows = DuplicateDecision.objects.filter(review=query.review).select_related(
        "actor", "link__kept", "link__duplicate"
    )
    for row in history_rows(rows, query):
        link = row.link
        yield Activity(
            row.at,
            "duplicates",
            username(row.actor),
            row.get_status_display(),
            f"#{link.duplicate_id} {link.duplicate.citation} and #{link.kept_id} {link.kept.citation}",
            link.reason,
        )


def _changes_text(changes: dict[str, list[str]], added: bool) -> str:
    """``{field: [old, new]}`` as "field: old → new" (only the new value for an addition)."""
    parts = []
    for field, (old, new) in changes.items():
        name = field.replace("_", " ")
        if added:
            if new:  # an addition's empty fields say nothing
                parts.append(f"{name}: {_short(new, 60)}")
        else:
            parts.append(f"{name}: {_short(old, 60) or '—'} → {_short(new, 60) or '—'}")
    return "; ".join(parts)


def _reasons(query: ActivityQuery) -> Iterator[Activity]:
    rows = ExclusionReasonChange.objects.filter(review=query.review).select_related(
        "actor", "reason"
    )
    url = reverse("reviews:exclusion_reasons", kwargs={"slug": query.review.slug})
    for row in history_rows(rows, query):
        added = row.action == ExclusionReasonChange.Action.ADDED
        yield Activity(
            row.at,
            "exclusion_reason",
            username(row.actor),
            row.get_action_display(),
            f"{row.reason.label} ({row.reason.get_stage_display()})",
            _changes_text(row.changes, added),
            url,
        )


def _searches(query: ActivityQuery) -> Iterator[Activity]:
    rows = (
        SearchChange.objects.filter(review=query.review)
        .select_related("actor", "search")
        .defer("search__search_string", "search__notes")
    )
    for row in history_rows(rows, query):
        added = row.action == SearchChange.Action.ADDED
        yield Activity(
            row.at,
            "search",
            username(row.actor),
            row.get_action_display(),
            str(row.search),
            _changes_text(row.changes, added),
            reverse(
                "reviews:search_edit",
                kwargs={"slug": query.review.slug, "search_id": row.search_id},
            ),
        )


def _rounds(query: ActivityQuery) -> Iterator[Activity]:
    """Update rounds opened, listed with the search log (the searches they re-run)."""
    rows = ReviewRound.objects.filter(review=query.review).select_related("actor")
    url = reverse("reviews:searches", kwargs={"slug": query.review.slug}) + "#rounds"
    for row in history_rows(rows, query):
        yield Activity(
            row.at,
            "search",
            username(row.actor),
            "Update round opened",
            f"Round {row.number}",
            _short(row.note),
            url,
        )


def _short(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _reviews_items(query: ActivityQuery) -> Iterator[Activity]:
    wanted = [
        fn
        for kind, fn in (
            ("membership", _team),
            ("settings", _settings),
            ("exclusion_reason", _reasons),
            ("search", _searches),
            ("search", _rounds),
            ("import", _imports),
            ("duplicates", _duplicates),
        )
        if query.wants(kind)
    ]
    return merged(*(fn(query) for fn in wanted))


register_activity_source(
    ActivitySource(
        "reviews",
        {
            "membership": "Team",
            "settings": "Settings",
            "exclusion_reason": "Exclusion reasons",
            "search": "Search log",
            "import": "Imports",
            "duplicates": "Duplicates",
        },
        _reviews_items,
        order=0,
    )
)
