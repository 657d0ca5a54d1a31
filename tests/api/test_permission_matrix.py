"""Every review-scoped API route × every method × every role, generated from the router.

The rule is the pages' (tests/reviews/test_permission_matrix.py): anonymous 401, a user of
another review 404 (also with this review's object ids under their own review's slug),
a member without the role the action needs 403, a member with it never 403/404/5xx.
A new route is covered automatically; one whose viewset bypasses `api.access.ReviewAccess`
fails `test_every_route_uses_the_review_access_check`.
"""

from __future__ import annotations

import re

import pytest

from api.access import ReviewAccess, required_role
from api.urls import router
from tests.api.api_params import PARAMS, UNSCOPED, UNSCOPED_BY_BASENAME

GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


def _routes() -> list[tuple[str, str, str, str, type]]:
    """(route regex, basename, HTTP method, action, viewset) for every router URL."""
    out = []
    for pattern in router.urls:
        callback = pattern.callback
        for method, action in callback.actions.items():
            out.append(
                (
                    str(pattern.pattern),
                    callback.initkwargs["basename"],
                    method,
                    action,
                    callback.cls,
                )
            )
    return out


ROUTES = _routes()


def _url(route: str, values: dict) -> str:
    path = GROUP.sub(lambda m: str(values[m.group("name")]), route)
    return "/api/v1/" + path.lstrip("^").rstrip("$")


def test_every_route_uses_the_review_access_check():
    assert len(ROUTES) >= 1
    for route, basename, _method, _action, cls in ROUTES:
        assert "(?P<slug>" in route, route
        assert any(issubclass(p, ReviewAccess) for p in cls.permission_classes), basename


@pytest.mark.parametrize(
    "route,basename,method,action,cls",
    ROUTES,
    ids=[f"{m.upper()} {r} ({a})" for r, _b, m, a, _c in ROUTES],
)
def test_api_access_matrix(api, cast, route, basename, method, action, cls):
    names = [m.group("name") for m in GROUP.finditer(route) if m.group("name") != "slug"]
    factories = PARAMS.get(basename, {})
    missing = [n for n in names if n not in factories and n != "stage"]
    assert not missing, f"{route}: add {missing} for {basename!r} to tests/api/api_params.py"
    values = {n: (factories.get(n) or (lambda c: "ta"))(cast) for n in names}
    url = _url(route, {**values, "slug": cast.review.slug})
    required = required_role(cls(), action)

    def call(user: str | None, target: str = url):
        return getattr(api(user), method)(target, format="json")

    assert call(None).status_code == 401, url
    assert call("outsider").status_code == 404, url
    if set(names) - UNSCOPED - UNSCOPED_BY_BASENAME.get(basename, set()):
        other = _url(route, {**values, "slug": "other-review"})
        assert call("outsider", other).status_code == 404, other
    for user in ("lead", "alice", "carol"):
        membership = cast.membership(getattr(cast, user))
        status = call(user).status_code
        if membership.has_role(required):
            assert status not in (401, 403, 404) and status < 500, (url, method, user, status)
        else:
            assert status == 403, (url, method, user, required, status)
