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
# The team's progress numbers are read cold (not from the cache), and the queue's "records
# checked a moment ago" holds for the whole test, so the counts do not depend on how fast
# the test runs (on a loaded machine two visits could fall either side of that moment).
PAGES = {
    "dashboard": ("/reviews/{slug}/", 23),
    "screening overview": ("/reviews/{slug}/screening/", 16),
    "records list": ("/reviews/{slug}/records/", 6),
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
    monkeypatch.setattr(selectors, "PROGRESS_CACHE_SECONDS", 0)
    monkeypatch.setattr(services, "SYNC_CHECK_SECONDS", 3600)
    build_review(cast, n)
    lead = Client()
    lead.force_login(cast.lead)
    counts = {}
    for name, (url, _) in PAGES.items():
        counts[name] = page_queries(lead, url.format(slug=cast.review.slug))
    assert counts == {name: expected for name, (_, expected) in PAGES.items()}
