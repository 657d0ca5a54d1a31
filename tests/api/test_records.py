"""records/: list, filters and detail, with the screening blinding rule (HTML's rule, in JSON)."""

from __future__ import annotations

import pytest

from screening import services
from tests.factories import RecordFactory
from tests.screening.factories import pair, records, vote

pytestmark = pytest.mark.django_db

SECRET_NOTE = "alice-private-note-7731"


def _url(cast, suffix: str = "") -> str:
    return f"/api/v1/reviews/{cast.review.slug}/records/{suffix}"


def _conflict(cast):
    """alice includes (with a note), bob excludes: a conflict at title/abstract."""
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "include", note=SECRET_NOTE)
    vote(cast.review, record, cast.bob, "exclude")
    return record


def test_blinded_reviewer_never_sees_another_vote_before_resolution(api, cast):
    record = _conflict(cast)
    bob = api("bob")
    for url in (_url(cast), _url(cast, f"{record.pk}/"), _url(cast, "?ta_status=conflict")):
        body = bob.get(url).content.decode()
        assert SECRET_NOTE not in body, url
        assert "alice" not in body, url
    detail = bob.get(_url(cast, f"{record.pk}/")).json()
    assert detail["screening"]["ta"] == {"status": "open", "decision": "", "my_decision": "exclude"}
    assert [v["reviewer"] for v in detail["votes"]["ta"]["votes"]] == ["bob"]
    # A conflict is not even hinted at: filtering by it finds nothing for bob.
    assert bob.get(_url(cast, "?ta_status=conflict")).json()["results"] == []
    assert len(bob.get(_url(cast, "?ta_status=open")).json()["results"]) == 1


def test_reviewer_who_has_not_voted_sees_nothing_of_others(api, cast):
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "include", note=SECRET_NOTE)
    body = api("bob").get(_url(cast, f"{record.pk}/")).json()
    assert body["votes"]["ta"]["votes"] == []
    assert body["screening"]["ta"]["my_decision"] == ""
    assert SECRET_NOTE not in str(body)


def test_adjudicator_sees_the_conflict(api, cast):
    record = _conflict(cast)
    carol = api("carol")
    rows = carol.get(_url(cast, "?ta_status=conflict")).json()["results"]
    assert [r["id"] for r in rows] == [record.pk]


def test_votes_show_once_resolved(api, cast):
    record = _conflict(cast)
    services.conflict_resolve(
        review=cast.review, record_id=record.pk, stage="ta", actor=cast.carol, decision="include"
    )
    detail = api("bob").get(_url(cast, f"{record.pk}/")).json()
    assert detail["screening"]["ta"]["decision"] == "include"
    assert {v["reviewer"] for v in detail["votes"]["ta"]["votes"]} == {"alice", "bob"}
    assert SECRET_NOTE in str(detail)
    assert detail["votes"]["ta"]["resolution"]["adjudicated"] is True


def test_unblinded_review_shows_votes(api, cast):
    cast.review.blinded = False
    cast.review.save()
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "include", note=SECRET_NOTE)
    detail = api("bob").get(_url(cast, f"{record.pk}/")).json()
    assert [v["reviewer"] for v in detail["votes"]["ta"]["votes"]] == ["alice"]


def test_filters(api, cast):
    included, excluded, open_ = records(cast.review, 3)
    dup = RecordFactory(review=cast.review, title="Needle in a haystack", duplicate_of=open_)
    pair(cast.review, included, cast.alice, cast.bob, "include", "include")
    pair(cast.review, excluded, cast.alice, cast.bob, "exclude", "exclude")
    lead = api("lead")

    def ids(query: str) -> list[int]:
        return [r["id"] for r in lead.get(_url(cast, query)).json()["results"]]

    assert ids("?ta_decision=include") == [included.pk]
    assert ids("?ta_decision=exclude") == [excluded.pk]
    assert ids("?ta_status=resolved") == [included.pk, excluded.pk]
    assert ids("?ft_status=open") == [included.pk]
    assert ids("?duplicate=true") == [dup.pk]
    assert dup.pk not in ids("?duplicate=false")
    assert ids("?q=haystack") == [dup.pk]
    assert lead.get(_url(cast, "?ta_status=bogus")).status_code == 400


def test_cursor_pages_walk_every_record_once(api, cast):
    made = records(cast.review, 7)
    client = api("alice")
    seen, url = [], _url(cast, "?page_size=3")
    while url:
        page = client.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert seen == [r.pk for r in made]


def test_record_of_another_review_is_404(api, cast, other_review):
    other = RecordFactory(review=other_review)
    assert api("alice").get(_url(cast, f"{other.pk}/")).status_code == 404


def test_list_query_count_does_not_grow_with_records(api, cast, django_assert_max_num_queries):
    records(cast.review, 30)
    with django_assert_max_num_queries(12):
        assert len(api("alice").get(_url(cast)).json()["results"]) == 30
