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
