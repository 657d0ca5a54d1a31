"""What the pages a lead opens cost in SQL queries, pinned, and that it does not grow.

Issue 24: on a review of 200,000 records the dashboard, the screening overview, the
records list and the PRISMA page must answer in < 300 ms. A query per record (an N+1)
would make that impossible, so each page's query count is pinned here and checked to be
the same on a small and a five-times larger review. ``benchmarks/scale.py`` times the same
pages on a generated 200,000-record review.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from reviews.models import Record
from screening import selectors, services
from tests.factories import RecordFactory
from tests.screening.factories import pair

pytestmark = pytest.mark.django_db

# Queries per page (with a logged-in lead's session, membership and review lookups).
# The team's progress numbers and the in-step check are read cold (not from the cache) so
# the counts do not depend on how fast the test runs. The record counts come from the
# running totals (reviews.tally), the stages' item counts from one snapshot per stage.
PAGES = {
    "dashboard": ("/reviews/{slug}/", 23),
    "screening overview": ("/reviews/{slug}/screening/", 15),
    "records list": ("/reviews/{slug}/records/", 6),
    "records list, a later page": ("/reviews/{slug}/records/?after={after}", 6),
    "records list, duplicates": ("/reviews/{slug}/records/?duplicates=1", 6),
    "PRISMA": ("/reviews/{slug}/screening/prisma/", 16),
}


def build_review(cast, n: int) -> None:
    """``n`` records (bulk-inserted), a fifth of them decided by two reviewers (agreeing,
    disagreeing), and a tenth linked as duplicates: everything the pages list or count."""
    batch = RecordFactory(review=cast.review).batch
    Record.objects.bulk_create(
        RecordFactory.build(review=cast.review, batch=batch) for _ in range(n - 1)
    )
    services.items_sync(cast.review, force=True)
    made = list(cast.review.records.order_by("id"))
    for i, record in enumerate(made[: n // 5]):
        second = "exclude" if i % 3 == 0 else "include"
        pair(cast.review, record, cast.alice, cast.bob, "include", second)
    kept = made[-1]
    Record.objects.filter(pk__in=[r.pk for r in made[-1 - n // 10 : -1]]).update(duplicate_of=kept)


def page_queries(client: Client, url: str) -> int:
    """Queries of a second visit (a first one may create the review's settings rows)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("n", [40, 200])
def test_the_pages_a_lead_opens_cost_a_fixed_number_of_queries(cast, n, monkeypatch):
    # Cold reads every time: with the caches on, whether a count is read again depends on
    # how many seconds passed between the two visits, which made the counts flaky on a
    # loaded machine (the overview's in-step check, cached for SYNC_CHECK_SECONDS).
    monkeypatch.setattr(selectors, "PROGRESS_CACHE_SECONDS", 0)
    monkeypatch.setattr(services, "SYNC_CHECK_SECONDS", 0)
    # The overview's results kept per screening state too (test_overview_cache.py counts
    # a reload that reuses them).
    monkeypatch.setattr(selectors, "DERIVED_CACHE_SECONDS", 0)
    build_review(cast, n)
    lead = Client()
    lead.force_login(cast.lead)
    after = cast.review.records.order_by("id").values_list("id", flat=True)[n // 2]
    counts = {}
    for name, (url, _) in PAGES.items():
        counts[name] = page_queries(lead, url.format(slug=cast.review.slug, after=after))
    assert counts == {name: expected for name, (_, expected) in PAGES.items()}
