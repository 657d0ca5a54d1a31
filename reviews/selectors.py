"""Reads for the reviews app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from .activity import ActivityQuery
from .models import (
    DuplicateLink,
    ImportBatch,
    Invitation,
    Job,
    MembershipChange,
    Record,
    RecordTally,
    Review,
    ReviewRound,
    Search,
    SearchRun,
)


def reviews_for_user(user: Any) -> QuerySet[Review]:
    return (
        Review.objects.filter(memberships__user=user)
        # From the running totals, not a COUNT over every record of the user's reviews.
        .annotate(n_records=Coalesce(F("record_tally__total") - F("record_tally__duplicates"), 0))
        .order_by("-created_at")
    )


def records_version_key(review_id: int) -> str:
    return f"reviews:records-version:{review_id}"


def records_version(review: Review) -> int:
    """A counter bumped whenever the review's records come, go or (un)merge: apps that keep
    copies of the records (screening's items) key their "checked a moment ago" on it, so a
    confirmed import shows at once rather than when their short check interval ends."""
    return cache.get(records_version_key(review.pk), 0)


def records_unique(review: Review) -> QuerySet[Record]:
    """Records that are not linked as duplicates: the ones that get screened."""
    return review.records.filter(duplicate_of__isnull=True)


def searches_with_counts(review: Review) -> QuerySet[Search]:
    """Searches with records imported from them in the first round and the gap to the hits
    the source reported then; each with its runs (update runs report their own hits)."""
    imported = Coalesce(
        Sum(
            "import_batches__n_imported",
            filter=Q(import_batches__status=ImportBatch.Status.IMPORTED, import_batches__round=1),
        ),
        0,
    )
    runs = SearchRun.objects.select_related("batch").order_by("date_run", "id")
    return (
        review.searches.annotate(n_imported=imported)
        .annotate(difference=F("hits_reported") - F("n_imported"))
        .prefetch_related(Prefetch("runs", queryset=runs))
        .order_by("date_run", "id")
    )


def rounds(review: Review) -> list[dict[str, Any]]:
    """Every round of the review, first to current: number, opened, by whom, note."""
    opened = {
        r.number: r for r in ReviewRound.objects.filter(review=review).select_related("actor")
    }
    out = []
    for number in range(1, review.round + 1):
        row = opened.get(number)
        out.append(
            {
                "number": number,
                "opened_at": row.at if row else review.created_at,
                "opened_by": row.actor if row else review.created_by,
                "note": row.note if row else "The review's first searches",
                "current": number == review.round,
            }
        )
    return out


def round_import_counts(review: Review) -> dict[int, dict[str, int]]:
    """Per round: the search runs logged, the imports confirmed, the records they added and
    the duplicates among them, and what their previews found against the review (new,
    already seen, already decided). Two queries, whatever the number of rounds."""
    keys = ("search_runs", "imports", "records_imported", "duplicates", "new", "seen", "decided")
    out = {n: dict.fromkeys(keys, 0) for n in range(1, review.round + 1)}
    runs = review.search_runs.values("round").annotate(n=Count("id")).order_by()
    for row in runs:
        out.setdefault(row["round"], dict.fromkeys(keys, 0))["search_runs"] = row["n"]
    batches = review.import_batches.filter(status=ImportBatch.Status.IMPORTED).values_list(
        "round", "n_imported", "n_duplicates", "overlap"
    )
    for number, n_imported, n_duplicates, overlap in batches:
        counts = out.setdefault(number, dict.fromkeys(keys, 0))
        counts["imports"] += 1
        counts["records_imported"] += n_imported
        counts["duplicates"] += n_duplicates
        for key in ("new", "seen", "decided"):
            counts[key] += int((overlap or {}).get(key) or 0)
    return out


def search_runs_for(search: Search) -> QuerySet[SearchRun]:
    """A search's runs, first to last, with the import each brought and who logged it."""
    return search.runs.select_related("batch", "created_by").order_by("date_run", "id")


@dataclass(frozen=True)
class SetupStep:
    key: str
    label: str
    url: str
    done: bool


def setup_steps(review: Review, *, has_searches: bool, has_records: bool) -> list[SetupStep]:
    """A new review's first steps for its lead, each marked done once it has been taken.

    The dashboard knows already whether searches and records exist; the team costs one query.
    """
    slug = {"slug": review.slug}
    members, invited = (
        Review.objects.filter(pk=review.pk)
        .annotate(
            members=Count("memberships", distinct=True),
            invited=Exists(Invitation.objects.filter(review=OuterRef("pk"))),
        )
        .values_list("members", "invited")
        .get()
    )
    return [
        SetupStep(
            "invite",
            "Invite the team's members",
            reverse("reviews:invite", kwargs=slug),
            members > 1 or invited,
        ),
        SetupStep(
            "criteria",
            "Set the eligibility criteria",
            reverse("reviews:edit", kwargs=slug) + "#id_eligibility_criteria",
            bool(review.eligibility_criteria.strip()),
        ),
        SetupStep(
            "search",
            "Log a search",
            reverse("reviews:search_create", kwargs=slug),
            has_searches,
        ),
        SetupStep(
            "import",
            "Import the search's records",
            reverse("reviews:import_upload", kwargs=slug),
            has_records,
        ),
    ]


def record_tally(review: Review) -> tuple[int, int, int]:
    """(records, linked as duplicates, changes) from the running totals the database's
    triggers keep (:mod:`reviews.tally`): a primary-key lookup, not a COUNT of the records."""
    row = RecordTally.objects.filter(review=review).values_list("total", "duplicates", "changes")
    return row.first() or (0, 0, 0)


def record_counts(review: Review) -> dict[str, int]:
    total, duplicates, _ = record_tally(review)
    totals = {"total": total, "duplicates": duplicates, "unique": total - duplicates}
    totals["pending_pairs"] = review.duplicate_links.filter(
        status=DuplicateLink.Status.PENDING
    ).count()
    return totals


RECORDS_PER_PAGE = 50


@dataclass(frozen=True)
class RecordPage:
    """One page of a records list, paged by id (keyset) rather than by OFFSET."""

    records: list[Record]
    next_after: int | None  # the ?after= of the next page, if there is one
    previous_before: int | None  # the ?before= of the previous page, if there is one


def records_page(
    records: QuerySet[Record],
    *,
    after: int | None = None,
    before: int | None = None,
    size: int = RECORDS_PER_PAGE,
) -> RecordPage:
    """The ``size`` records after id ``after`` (or before id ``before``), in id order.

    An OFFSET page costs PostgreSQL every row before it (the last page of a 200,000-record
    review reads them all); a page starting from an id reads only its own rows, through
    the primary key. One row more than shown tells whether there is a further page.
    """
    if before is not None:
        rows = list(records.filter(id__lt=before).order_by("-id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        return RecordPage(
            rows, rows[-1].pk if rows else None, rows[0].pk if more and rows else None
        )
    if after is not None:
        records = records.filter(id__gt=after)
    rows = list(records.order_by("id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return RecordPage(
        rows,
        rows[-1].pk if more else None,
        rows[0].pk if after is not None and rows else None,
    )


def identification_counts(review: Review, *, round_: int | None = None) -> dict[str, Any]:
    """Records identified per source and duplicates removed, for PRISMA (of one round's
    imports when `round_` is given: an update's diagram counts what the update found).

    Records from imports not tied to a search are counted under "Other/unspecified".
    """
    batches = ImportBatch.objects.filter(review=review, status=ImportBatch.Status.IMPORTED)
    if round_ is not None:
        batches = batches.filter(round=round_)
    per_batch = (
        batches.values("search__source", "search__source_detail")
        .annotate(n=Sum("n_imported"))
        .order_by("search__source")
    )
    labels = dict(Search.Source.choices)
    databases: dict[str, int] = {}
    other_methods: dict[str, int] = {}
    for row in per_batch:
        source = row["search__source"]
        label = labels.get(source, "Unspecified import")
        target = (
            other_methods if source in {Search.Source.CITATION, Search.Source.OTHER} else databases
        )
        target[label] = target.get(label, 0) + (row["n"] or 0)
    if round_ is None:
        counts = record_counts(review)
    else:
        counts = review.records.filter(batch__round=round_).aggregate(
            total=Count("id"), duplicates=Count("id", filter=Q(duplicate_of__isnull=False))
        )
        counts["unique"] = counts["total"] - counts["duplicates"]
    return {
        "databases": sorted(databases.items()),
        "other_methods": sorted(other_methods.items()),
        "duplicates_removed": counts["duplicates"],
        "records_after_dedup": counts["unique"],
    }


def jobs_recent(*, review: Review, limit: int = 20) -> QuerySet[Job]:
    """The review's latest jobs, newest first, with who started them."""
    return review.jobs.select_related("started_by").order_by("-created_at", "-id")[:limit]


def job_unfinished(*, review: Review, kind: str, **params: Any) -> Job | None:
    """The newest queued or running job of `kind` whose parameters include `params`."""
    jobs = review.jobs.filter(kind=kind, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    for job in jobs.order_by("-id"):
        if all(job.params.get(key) == value for key, value in params.items()):
            return job
    return None


def activity_people(review: Review) -> list[tuple[int, str]]:
    """Who can be picked on the Activity page: members and anyone the team history names."""
    ids = set(review.memberships.values_list("user_id", flat=True))
    ids |= set(
        MembershipChange.objects.filter(review=review, user__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    users = get_user_model().objects.filter(pk__in=ids).order_by("username")
    return list(users.values_list("pk", "username"))


def activity_query(review: Review, data: dict, *, limit: int | None) -> ActivityQuery:
    """The query for a valid ActivityFilterForm's data (dates in the current time zone)."""
    tz = timezone.get_current_timezone()

    def start_of(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz)

    return ActivityQuery(
        review=review,
        actor_id=data.get("person"),
        kinds=frozenset([data["kind"]] if data.get("kind") else []),
        since=start_of(data["date_from"]) if data.get("date_from") else None,
        until=start_of(data["date_to"] + dt.timedelta(days=1)) if data.get("date_to") else None,
        limit=limit,
    )


def scheduled_runs_waiting(review: Review) -> QuerySet[ImportBatch]:
    """Update runs a scheduled search brought that wait for a lead's confirmation."""
    return review.import_batches.filter(
        status=ImportBatch.Status.PREVIEW,
        uploaded_by__isnull=True,
        search_run__search__schedule__isnull=False,
    ).select_related("search", "search_run")
