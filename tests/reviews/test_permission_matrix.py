"""Every URL under /reviews/<slug>/ × every role: the access rule holds everywhere.

New URLs are covered automatically: the test walks the URL configuration. A
view that does not go through `reviews.access.review_view` fails the test.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

import tests
from reviews.models import Role

PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, object]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.callback


def review_urls() -> list[tuple[str, object]]:
    return [(r, cb) for r, cb in _walk(get_resolver().url_patterns) if "<slug:slug>" in r]


def _all_params() -> tuple[dict, set[str]]:
    """URL keyword factories from every app, and the keywords not scoped to a review."""
    params: dict = {}
    unscoped: set[str] = set()
    for module in pkgutil.iter_modules(tests.__path__):
        try:
            mod = importlib.import_module(f"tests.{module.name}.matrix_params")
        except ModuleNotFoundError:
            continue
        params.update(mod.PARAMS)
        unscoped |= set(getattr(mod, "UNSCOPED", ()))
    return params, unscoped


def _build_url(route: str, cast, slug: str, values: dict) -> str:
    def sub(match: re.Match) -> str:
        name = match.group("name")
        if name == "slug":
            return slug
        return str(values[name])

    return "/" + PARAM.sub(sub, route).replace("^", "").replace("$", "")


def _values_for(route: str, cast, params: dict) -> dict:
    values = {}
    for match in PARAM.finditer(route):
        name = match.group("name")
        if name == "slug":
            continue
        assert name in params, (
            f"URL {route} takes <{name}>: add a factory for it to tests/<app>/matrix_params.py"
        )
        values[name] = params[name](cast)
    return values


ROUTES = review_urls()


def test_every_review_url_uses_the_access_check():
    missing = [route for route, cb in ROUTES if not hasattr(cb, "review_role")]
    assert not missing, f"views without reviews.access.review_view: {missing}"
    assert len(ROUTES) >= 15


@pytest.mark.parametrize("route,callback", ROUTES, ids=[r for r, _ in ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_access_matrix(client, cast, route, callback, method):
    params, unscoped = _all_params()
    values = _values_for(route, cast, params)
    url = _build_url(route, cast, cast.review.slug, values)
    required = callback.review_role

    # Anonymous: sent to log in (or refused the method before anything is read).
    response = getattr(client, method)(url)
    assert response.status_code in (302, 405), (url, response.status_code)
    if response.status_code == 302:
        assert "/accounts/login/" in response["Location"]

    # A user of another review: the review does not exist for them.
    client.force_login(cast.outsider)
    response = getattr(client, method)(url)
    assert response.status_code in (404, 405), (url, method, response.status_code)

    # The outsider's own review with this review's object ids: still 404.
    if set(values) - unscoped:
        other_url = _build_url(route, cast, "other-review", values)
        response = getattr(client, method)(other_url)
        assert response.status_code in (404, 405), (other_url, method, response.status_code)

    # Members: 403 without the role; with it, never 403/404/500.
    for user in (cast.lead, cast.alice, cast.carol):
        client.force_login(user)
        membership = cast.membership(user)
        response = getattr(client, method)(url)
        if response.status_code == 405:
            continue
        if membership.has_role(required):
            assert response.status_code not in (403, 404), (url, method, user, response.status_code)
            assert response.status_code < 500
        else:
            assert response.status_code == 403, (
                url,
                method,
                user.username,
                required,
                response.status_code,
            )


def test_roles_map_as_documented(cast):
    lead, alice, carol = (cast.membership(u) for u in (cast.lead, cast.alice, cast.carol))
    assert lead.has_role(Role.ADJUDICATOR) and lead.has_role(Role.REVIEWER)
    assert alice.has_role(Role.REVIEWER) and not alice.has_role(Role.ADJUDICATOR)
    assert not alice.has_role(Role.LEAD)
    assert carol.has_role(Role.ADJUDICATOR) and not carol.has_role(Role.REVIEWER)


# --- Ids of another review's objects in POSTed form fields -----------------------------------
# The URL is this review's, the form field names an object of `other-review`: the request is
# refused (a 404, or a 400 form error naming the field) and nothing is written with it.


def _foreign(cast, other_review) -> dict:
    """Objects of the other review, and this review's record/study to post about."""
    from analysis import services as analysis_services
    from extraction import services as extraction_services
    from extraction.models import Study
    from reviews.models import ExclusionReason, Stage
    from reviews.services import exclusion_reasons_seed
    from screening import services as screening_services
    from tests.extraction.factories import with_structure
    from tests.factories import RecordFactory, SearchFactory

    exclusion_reasons_seed(review=other_review)
    other_study = extraction_services.study_create(
        review=other_review, records=[RecordFactory(review=other_review)], actor=cast.outsider
    )
    other_structure = with_structure(other_study, cast.outsider)
    study = extraction_services.study_create(
        review=cast.review, records=[RecordFactory(review=cast.review)], actor=cast.lead
    )
    structure = with_structure(study, cast.lead)
    record = RecordFactory(review=cast.review)
    screening_services.items_sync(cast.review)
    return {
        "record": record,
        "study": study,
        "structure": structure,
        "other_study": other_study,
        "other_structure": other_structure,
        "other_study_2": Study.objects.get(pk=other_study.pk),
        "reason": ExclusionReason.objects.filter(
            review=other_review, stage=Stage.TITLE_ABSTRACT
        ).first(),
        "search": SearchFactory(review=other_review),
        "window": analysis_services.windows_ensure_default(
            review=other_review, actor=cast.outsider
        )[0],
    }


def _refused(response) -> None:
    assert response.status_code in (400, 404), response.status_code


def test_vote_with_another_reviews_exclusion_reason_is_refused(client, cast, other_review):
    from screening.models import Vote

    f = _foreign(cast, other_review)
    client.force_login(cast.alice)
    url = f"/reviews/{cast.review.slug}/screening/ta/records/{f['record'].pk}/vote/"
    _refused(client.post(url, {"decision": "exclude", "reason": f["reason"].pk}))
    assert not Vote.objects.filter(reason=f["reason"]).exists()


def test_adjudication_with_another_reviews_exclusion_reason_is_refused(client, cast, other_review):
    from screening import services as screening_services
    from screening.models import Resolution

    f = _foreign(cast, other_review)
    for user, decision in ((cast.alice, "include"), (cast.bob, "exclude")):
        screening_services.vote_cast(
            review=cast.review, record_id=f["record"].pk, stage="ta", actor=user, decision=decision
        )
    client.force_login(cast.carol)
    url = f"/reviews/{cast.review.slug}/screening/conflicts/ta/{f['record'].pk}/"
    _refused(client.post(url, {"decision": "exclude", "reason": f["reason"].pk}))
    assert not Resolution.objects.filter(record=f["record"]).exists()


def test_import_into_another_reviews_search_is_refused(client, cast, other_review):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from reviews.models import ImportBatch, Job

    f = _foreign(cast, other_review)
    client.force_login(cast.lead)
    upload = SimpleUploadedFile("x.ris", b"TY  - JOUR\nTI  - A title\nER  - \n")
    _refused(
        client.post(
            f"/reviews/{cast.review.slug}/imports/upload/",
            {"file": upload, "search": f["search"].pk},
        )
    )
    assert not ImportBatch.objects.filter(search=f["search"]).exists()
    assert not Job.objects.filter(review=cast.review).exists()


def test_merging_another_reviews_study_is_refused(client, cast, other_review):
    from extraction.models import Study

    f = _foreign(cast, other_review)
    client.force_login(cast.lead)
    url = f"/reviews/{cast.review.slug}/extraction/studies/{f['study'].pk}/merge/"
    _refused(client.post(url, {"sources": [f["other_study"].pk], "label": "Merged"}))
    other = Study.objects.get(pk=f["other_study"].pk)
    assert other.review_id == other_review.pk and other.reports.count() == 1


def test_rob_of_another_reviews_study_or_outcome_is_refused(client, cast, other_review):
    from extraction.rob.models import RobTarget

    f = _foreign(cast, other_review)
    client.force_login(cast.alice)
    url = f"/reviews/{cast.review.slug}/extraction/rob/start/"
    _refused(client.post(url, {"study": f["other_study"].pk}))
    _refused(
        client.post(url, {"study": f["study"].pk, "outcome": f["other_structure"]["outcome"].pk})
    )
    assert not RobTarget.objects.exists()


def test_analysis_with_another_reviews_window_is_refused(client, cast, other_review):
    from analysis.models import Analysis

    f = _foreign(cast, other_review)
    client.force_login(cast.lead)
    url = f"/reviews/{cast.review.slug}/analysis/new/"
    data = {
        "title": "Stolen window",
        "outcome": "",
        "window": f["window"].pk,
        "long_term_windows": [f["window"].pk],
        "tau2_method": "REML",
        "multiple_outcomes": "preferred",
        "min_studies": "5",
        "min_per_subgroup": "3",
    }
    _refused(client.post(url, data))
    assert not Analysis.objects.exists()


def test_outcome_data_for_another_reviews_arm_is_not_written(client, cast, other_review):
    from extraction import services as extraction_services
    from extraction.models import ArmValue
    from tests.extraction.factories import arm_data

    f = _foreign(cast, other_review)
    s, foreign_arm = f["structure"], f["other_structure"]["peer"]
    extraction_services.extraction_start(study=f["study"], user=cast.alice)
    client.force_login(cast.alice)
    raw = arm_data(s)
    raw.update({f"arm-{foreign_arm.pk}-mean": "99", f"arm-{foreign_arm.pk}-n": "10"})
    url = (
        f"/reviews/{cast.review.slug}/extraction/studies/{f['study'].pk}/extract/data/"
        f"{s['outcome'].pk}/{s['post'].pk}/"
    )
    response = client.post(url, raw)
    assert response.status_code in (200, 302, 400, 404)
    assert not ArmValue.objects.filter(arm=foreign_arm).exists()
    # And the other review's outcome/timepoint in this study's URL: 404.
    other = f["other_structure"]
    url = (
        f"/reviews/{cast.review.slug}/extraction/studies/{f['study'].pk}/extract/data/"
        f"{other['outcome'].pk}/{other['post'].pk}/"
    )
    assert client.post(url, raw).status_code == 404
