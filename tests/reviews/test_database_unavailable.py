"""A lost database connection answers 503 "try again", in views and in middleware alike."""

from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from screening import views as screening_views

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_view_that_loses_the_database_answers_503(cast, monkeypatch, error):
    def boom(**kwargs):
        raise error("server closed the connection unexpectedly")

    monkeypatch.setattr(screening_views.services, "vote_cast", boom)
    from screening import services
    from tests.factories import RecordFactory

    record = RecordFactory(review=cast.review)
    services.items_sync(cast.review, force=True)
    client = Client(raise_request_exception=False)
    client.force_login(cast.alice)
    url = f"/reviews/{cast.review.slug}/screening/ta/records/{record.pk}/vote/"
    response = client.post(url, {"decision": "include"})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b"try again" in response.content
    response = client.post(url, {"decision": "include"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 503 and "try again" in response.json()["error"]


def test_a_database_error_in_middleware_answers_503(cast, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    def boom(self, *args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    client = Client(raise_request_exception=False)
    client.force_login(cast.alice)
    monkeypatch.setattr(SessionStore, "load", boom)
    response = client.get(f"/reviews/{cast.review.slug}/")
    assert response.status_code == 503 and b"try again" in response.content


def test_other_errors_stay_500(cast, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(screening_views.services, "vote_cast", boom)
    from screening import services
    from tests.factories import RecordFactory

    record = RecordFactory(review=cast.review)
    services.items_sync(cast.review, force=True)
    client = Client(raise_request_exception=False)
    client.force_login(cast.alice)
    url = f"/reviews/{cast.review.slug}/screening/ta/records/{record.pk}/vote/"
    assert client.post(url, {"decision": "include"}).status_code == 500
