"""Living reviews through the API: rounds with their counts, a search's runs, published
versions (list, snapshot, comparison); a lead opens rounds and publishes, members read,
outsiders get 404 (the permission matrix covers every route and role as well)."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.versions.models import ReviewVersion
from reviews import services as review_services
from reviews.models import Record
from screening.services import items_sync
from tests.analysis.factories import clinical_analysis, study_extracted
from tests.analysis.test_versions import _main, _setup
from tests.factories import SearchFactory
from tests.reviews.living import Ref, imported, preview
from tests.screening.factories import pair

pytestmark = pytest.mark.django_db


def test_a_lead_opens_a_round_and_members_read_each_rounds_counts(api, cast):
    """Round 1: records 0-5 (0-2 resolved, 3 in conflict). Round 2: 2-8, of which 2 was
    decided, 3-5 seen and undecided (a conflict is not a decision), 6-8 new."""
    slug = cast.review.slug
    search = SearchFactory(review=cast.review, hits_reported=6)
    first = imported(cast, range(6), search=search, date_run=dt.date(2026, 1, 10))
    items_sync(cast.review, force=True)
    by_title = {r.title: r for r in Record.objects.filter(batch=first)}
    for n, (a, b) in enumerate([("include",) * 2, ("exclude",) * 2, ("exclude",) * 2]):
        pair(cast.review, by_title[Ref(n).title], cast.alice, cast.bob, a, b)
    pair(cast.review, by_title[Ref(3).title], cast.alice, cast.bob, "include", "exclude")
    url = f"/api/v1/reviews/{slug}/rounds/"

    assert api("alice").post(url, {"note": "June"}, format="json").status_code == 403
    assert api("outsider").post(url, {"note": "June"}, format="json").status_code == 404
    assert api("outsider").get(url).status_code == 404
    response = api("lead").post(url, {"note": " June update "}, format="json")
    assert response.status_code == 201, response.content
    opened = response.json()
    assert (opened["number"], opened["note"], opened["current"]) == (2, "June update", True)
    assert (opened["opened_by"], opened["records_imported"]) == ("lead", 0)
    # round 2 has nothing imported yet: no round 3 (a 409 saying why, nothing written)
    again = api("lead").post(url, {}, format="json")
    assert again.status_code == 409 and "no imported records" in again.json()["detail"]
    cast.review.refresh_from_db()
    assert cast.review.round == 2

    update = preview(cast, range(2, 9), search=search, date_run=dt.date(2026, 7, 1))
    review_services.import_confirm(batch=update, actor=cast.lead)
    items_sync(cast.review, force=True)

    one, two = api("lead").get(url).json()
    assert (one["number"], one["current"], two["number"], two["current"]) == (1, False, 2, True)
    assert (one["search_runs"], one["imports"], one["records_imported"]) == (1, 1, 6)
    assert one["screening"]["ta"] == {
        "total": 6,
        "resolved": 3,
        "included": 1,
        "excluded": 2,
        "conflicts": 1,
        "not_retrieved": 0,
    }
    assert one["screening"]["ft"]["total"] == 1  # the record included at title/abstract
    assert (two["search_runs"], two["records_imported"], two["duplicates"]) == (1, 7, 4)
    assert (two["new"], two["seen"], two["decided"]) == (3, 3, 1)
    assert two["screening"]["ta"]["total"] == 3 and two["screening"]["ta"]["resolved"] == 0
    # a blinded reviewer is not told how many records are in conflict
    one_for_alice = api("alice").get(url).json()[0]
    assert one_for_alice["screening"]["ta"]["conflicts"] is None
    assert one_for_alice["screening"]["ta"]["resolved"] == 3


def test_members_read_the_search_log_and_a_searchs_runs(api, cast):
    slug = cast.review.slug
    search = SearchFactory(review=cast.review, hits_reported=5)
    imported(cast, range(4), search=search, date_run=dt.date(2026, 1, 10))
    review_services.round_open(review=cast.review, actor=cast.lead)
    cast.review.refresh_from_db()
    imported(
        cast,
        range(2, 7),
        search=search,
        date_run=dt.date(2026, 7, 1),
        covers_from=dt.date(2026, 1, 1),
        covers_to=dt.date(2026, 6, 30),
        hits_reported=5,
    )
    listing = api("carol").get(f"/api/v1/reviews/{slug}/searches/").json()["results"]
    (row,) = listing
    assert (row["id"], row["runs"], row["n_imported"], row["difference"]) == (search.pk, 2, 4, 1)
    runs_url = f"/api/v1/reviews/{slug}/searches/{search.pk}/runs/"
    first, second = api("alice").get(runs_url).json()
    assert (first["round"], first["date_run"], first["n_imported"]) == (1, "2026-01-10", 4)
    assert (second["round"], second["covers_from"], second["covers_to"]) == (
        2,
        "2026-01-01",
        "2026-06-30",
    )
    assert second["batch_status"] == "imported" and second["hits_reported"] == 5
    assert second["overlap"]["new"] == 3 and second["overlap"]["seen"] == 2
    assert api("outsider").get(runs_url).status_code == 404
    # the outsider's own review does not reach this review's search either
    other = f"/api/v1/reviews/other-review/searches/{search.pk}/runs/"
    assert api("outsider").get(other).status_code == 404


def test_a_lead_publishes_versions_members_read_and_compare_them(api, cast):
    slug = cast.review.slug
    specs = _setup(cast, 6)
    analysis = clinical_analysis(cast)
    before = _main(analysis)
    url = f"/api/v1/reviews/{slug}/versions/"

    assert api("alice").post(url, {"note": "First"}, format="json").status_code == 403
    assert api("outsider").post(url, {"note": "First"}, format="json").status_code == 404
    response = api("lead").post(url, {"note": "Published in the journal"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["number"] == 1 and response.json()["published_by"] == "lead"
    assert "snapshot" not in response.json()
    for spec in specs[6:9]:  # the update finds three more trials
        study_extracted(cast, spec)
    after = _main(analysis)
    assert api("lead").post(url, {"note": "Update 1"}, format="json").status_code == 201

    listing = api("carol").get(url).json()["results"]
    assert [v["number"] for v in listing] == [2, 1]
    assert [v["note"] for v in listing] == ["Update 1", "Published in the journal"]
    assert all("snapshot" not in v for v in listing)
    one = api("alice").get(f"{url}1/").json()
    stored = ReviewVersion.objects.get(review=cast.review, number=1)
    assert one["snapshot"] == stored.snapshot and one["digest"] == stored.digest
    assert len(one["snapshot"]["studies"]) == 6
    assert api("outsider").get(f"{url}1/").status_code == 404
    assert api("alice").get(f"{url}9/").status_code == 404

    comparison = api("alice").get(f"{url}compare/", {"a": 2, "b": 1}).json()
    assert (comparison["older"], comparison["newer"], comparison["kept"]) == (1, 2, 6)
    assert sorted(s["label"] for s in comparison["added"]) == sorted(s.label for s in specs[6:9])
    assert comparison["removed"] == []
    (change,) = comparison["estimates"]
    assert change["title"] == analysis.title
    assert (change["k_before"], change["k_after"]) == (before.k, after.k)
    assert change["change_value"] == pytest.approx(
        after.numbers.estimate - before.numbers.estimate, abs=1e-12
    )
    studies = next(p for p in comparison["prisma"] if p["label"] == "Studies included in review")
    assert (studies["before"], studies["after"]) == (6, 9)
    bad = api("alice").get(f"{url}compare/", {"a": 1})
    assert bad.status_code == 400 and "two versions" in bad.json()["detail"]
    assert api("alice").get(f"{url}compare/", {"a": 1, "b": 7}).status_code == 404
    assert api("outsider").get(f"{url}compare/", {"a": 1, "b": 2}).status_code == 404


def test_nothing_to_publish_is_a_409_and_writes_nothing(api, cast):
    response = api("lead").post(f"/api/v1/reviews/{cast.review.slug}/versions/", {}, format="json")
    assert response.status_code == 409 and "Nothing is included" in response.json()["detail"]
    assert not ReviewVersion.objects.exists()
