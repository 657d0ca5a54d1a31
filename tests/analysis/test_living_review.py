"""A living review end to end (issue 23): search, screen to the end, publish version 1,
import an overlapping update, screen only what is new, and draw PRISMA 2020 for updated
reviews with the right number in every box, version 1 unchanged throughout."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io

import pytest

from analysis.versions import selectors as versions
from analysis.versions import services as version_services
from reviews import services as review_services
from reviews.models import Record, Search
from screening import prisma, services
from screening.models import Resolution, ScreeningItem
from screening.prisma_render import counts_csv
from tests.factories import SearchFactory
from tests.reviews.living import Ref, imported, preview
from tests.screening.factories import ft_reason, pair

pytestmark = pytest.mark.django_db


def _records(cast, numbers) -> dict[int, Record]:
    """The review's kept record of each reference (the original of a found-again one)."""
    titles = {Ref(n).title: n for n in numbers}
    found = Record.objects.filter(review=cast.review, duplicate_of=None, title__in=titles)
    return {titles[r.title]: r for r in found}


def _screen(cast, includes_ta, excludes_ta, includes_ft, excludes_ft=(), missing_ft=()):
    records = _records(cast, [*includes_ta, *excludes_ta])
    for n in includes_ta:
        pair(cast.review, records[n], cast.alice, cast.bob, "include", "include")
    for n in excludes_ta:
        pair(cast.review, records[n], cast.alice, cast.bob, "exclude", "exclude")
    reason = ft_reason(cast.review).pk
    for n in includes_ft:
        pair(cast.review, records[n], cast.alice, cast.bob, "include", "include", stage="ft")
    for n in excludes_ft:
        pair(
            cast.review,
            records[n],
            cast.alice,
            cast.bob,
            "exclude",
            "exclude",
            "ft",
            reason_id=reason,
        )
    for n in missing_ft:
        services.fulltext_set_not_retrievable(
            review=cast.review, record_id=records[n].pk, actor=cast.lead, not_retrievable=True
        )


def test_an_update_round_from_import_to_the_updated_prisma_diagram(client, cast):
    pubmed = SearchFactory(review=cast.review, source=Search.Source.PUBMED, hits_reported=12)
    # Round 1: twelve records, four through title/abstract, three included.
    imported(cast, range(12), search=pubmed, date_run=dt.date(2026, 1, 10), hits_reported=12)
    services.items_sync(cast.review, force=True)
    _screen(cast, range(4), range(4, 12), range(3), excludes_ft=[3])
    assert not ScreeningItem.objects.filter(review=cast.review).exclude(status="resolved").exists()
    v1 = version_services.version_publish(review=cast.review, actor=cast.lead, note="Version 1")
    v1_snapshot, v1_digest = copy.deepcopy(v1.snapshot), v1.digest
    assert len(v1.snapshot["studies"]) == 3
    decided_before = dict(Resolution.objects.values_list("id", "decision"))

    # Round 2: PubMed re-run finds 10-11 again (decided) and 12-17 (new); an Embase search
    # then finds 2 (decided), 14-15 (just imported, undecided) and 18-19 (new).
    review_services.round_open(review=cast.review, actor=cast.lead, note="July update")
    cast.review.refresh_from_db()
    run = preview(cast, range(10, 18), search=pubmed, date_run=dt.date(2026, 7, 1), hits_reported=8)
    assert run.overlap == {"new": 6, "seen": 0, "decided": 2, "possible": 0, "within_file": 0}
    review_services.import_confirm(batch=run, actor=cast.lead)
    embase = SearchFactory(review=cast.review, source=Search.Source.EMBASE, hits_reported=5)
    run = preview(cast, [2, 14, 15, 18, 19], search=embase, date_run=dt.date(2026, 7, 2))
    assert run.overlap == {"new": 2, "seen": 2, "decided": 1, "possible": 0, "within_file": 0}
    review_services.import_confirm(batch=run, actor=cast.lead)
    services.items_sync(cast.review, force=True)

    # Only the eight new records are queued, in round 2; decisions of round 1 stand.
    queued = ScreeningItem.objects.filter(review=cast.review, status="open", active=True)
    assert {i.record.title for i in queued} == {Ref(n).title for n in range(12, 20)}
    assert {i.round for i in queued} == {2}
    assert dict(Resolution.objects.values_list("id", "decision")) == decided_before
    again = Record.objects.filter(review=cast.review, batch__round=2, duplicate_of__isnull=False)
    assert again.count() == 5 and not ScreeningItem.objects.filter(record__in=again).exists()

    # Screen the update: three through title/abstract, two included, one not retrievable.
    _screen(cast, [12, 13, 18], [14, 15, 16, 17, 19], [12, 18], missing_ft=[13])
    counts = prisma.prisma_counts(cast.review)
    assert counts.is_update
    assert dict(counts.sources) == {"Embase": 5, "PubMed/MEDLINE": 8}
    assert (counts.duplicates_removed, counts.records_screened, counts.records_excluded) == (
        5,
        8,
        5,
    )
    assert (counts.reports_sought, counts.reports_not_retrieved, counts.reports_assessed) == (
        3,
        1,
        2,
    )
    assert counts.reports_excluded == ()
    assert (counts.previous_studies, counts.previous_reports) == (3, 3)
    assert (counts.studies_included, counts.reports_included) == (2, 2)
    assert (counts.total_studies, counts.total_reports) == (5, 5)
    assert counts.inconsistencies() == []
    whole = prisma.prisma_counts(cast.review, update=False)
    assert (whole.records_screened, whole.studies_included, whole.duplicates_removed) == (20, 5, 5)

    client.force_login(cast.alice)
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    f"/reviews/{cast.review.slug}/screening/prisma/diagram.csv"
                ).content.decode()
            )
        )
    )
    assert (
        counts_csv(counts)
        == client.get(f"/reviews/{cast.review.slug}/screening/prisma/diagram.csv").content.decode()
    )
    by_box = {(r["box"], r["label"]): int(r["n"]) for r in rows}
    assert by_box[("previous", "Studies included in previous version of review")] == 3
    assert by_box[("included", "New studies included in review")] == 2
    assert by_box[("total", "Total studies included in review")] == 5

    api = client.get(f"/api/v1/reviews/{cast.review.slug}/prisma/").json()
    assert (api["is_update"], api["previous_studies"], api["studies_included"]) == (True, 3, 2)
    assert api["total_studies"] == 5 and api["records_screened"] == 8
    whole_api = client.get(f"/api/v1/reviews/{cast.review.slug}/prisma/?template=new").json()
    assert (whole_api["is_update"], whole_api["records_screened"]) == (False, 20)

    # Version 1 is as it was published; version 2 adds the update's two studies.
    v1.refresh_from_db()
    assert v1.snapshot == v1_snapshot and v1.digest == v1_digest
    assert versions.snapshot_digest(v1.snapshot) == v1_digest
    v2 = version_services.version_publish(review=cast.review, actor=cast.lead, note="Update")
    comparison = versions.version_compare(v1, v2)
    assert sorted(s["label"] for s in comparison.added) == sorted(
        _records(cast, [12, 18])[n].citation for n in (12, 18)
    )
    assert {label: (a, b) for label, a, b in comparison.prisma}["Studies included in review"] == (
        3,
        5,
    )
