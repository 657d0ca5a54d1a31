"""The records list pages by record id (keyset), not by OFFSET (issue 24: 200,000 records)."""

import re

import pytest
from django.test import Client

from reviews.models import Record
from tests.factories import RecordFactory

pytestmark = pytest.mark.django_db

ROW_ID = re.compile(r'<tr class="[^"]*"><td class="small">(\d+)</td>')
NEXT = re.compile(r'href="\?([^"]*after=\d+)">Next')
PREVIOUS = re.compile(r'href="\?([^"]*before=\d+)">Previous')


@pytest.fixture
def lead(cast) -> Client:
    client = Client()
    client.force_login(cast.lead)
    return client


def shown(client: Client, cast, query: str = "") -> tuple[list[int], str | None, str | None]:
    response = client.get(f"/reviews/{cast.review.slug}/records/?{query}")
    assert response.status_code == 200
    page = response.content.decode().replace("&amp;", "&")
    following, previous = NEXT.search(page), PREVIOUS.search(page)
    return (
        [int(i) for i in ROW_ID.findall(page)],
        following and following.group(1),
        previous and previous.group(1),
    )


def test_next_and_previous_walk_every_record_once(cast, lead):
    batch = RecordFactory(review=cast.review).batch
    Record.objects.bulk_create(
        RecordFactory.build(review=cast.review, batch=batch) for _ in range(119)
    )
    ids = list(cast.review.records.order_by("id").values_list("id", flat=True))
    first, following, previous = shown(lead, cast)
    assert first == ids[:50] and previous is None
    second, following, previous = shown(lead, cast, following)
    assert second == ids[50:100]
    third, last_next, _ = shown(lead, cast, following)
    assert third == ids[100:] and last_next is None
    back, _, previous = shown(lead, cast, previous)
    assert back == ids[:50] and previous is None  # back from the second page: the first


def test_the_duplicates_filter_and_search_are_kept_across_pages(cast, lead):
    batch = RecordFactory(review=cast.review).batch
    kept = RecordFactory(review=cast.review, batch=batch)
    Record.objects.bulk_create(
        RecordFactory.build(review=cast.review, batch=batch, duplicate_of=kept) for _ in range(60)
    )
    RecordFactory(review=cast.review, batch=batch)  # not a duplicate: never listed
    duplicates = list(
        cast.review.records.filter(duplicate_of=kept).order_by("id").values_list("id", flat=True)
    )
    first, following, _ = shown(lead, cast, "duplicates=1")
    assert first == duplicates[:50] and following.startswith("duplicates=1&after=")
    second, following, previous = shown(lead, cast, following)
    assert second == duplicates[50:] and following is None
    assert previous.startswith("duplicates=1&before=")


@pytest.mark.parametrize("junk", ["after=abc", "before=-3", "after=99999999999999999999999"])
def test_a_malformed_position_shows_the_first_page(cast, lead, junk):
    record = RecordFactory(review=cast.review)
    assert shown(lead, cast, junk)[0] == [record.pk]
