"""The OpenAPI schema and its docs: generated without errors, served without a CDN."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_lists_every_router_route(client):
    from api.urls import router

    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Reviewflow API"
    paths = set(schema["paths"])
    assert "/api/v1/reviews/{slug}/records/" in paths
    assert len(paths) >= len({str(p.pattern) for p in router.urls})
    assert set(schema["components"]["securitySchemes"]) == {"TokenAuth", "cookieAuth"}


def test_schema_generates_without_warnings(capsys):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", "/dev/null")


@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_are_served_from_the_python_package(client, url):
    body = client.get(url).content.decode()
    assert "/static/drf_spectacular_sidecar/" in body
    assert "cdn." not in body and "unpkg" not in body and "jsdelivr" not in body


def test_browsable_api_for_a_logged_in_member(client, cast):
    client.force_login(cast.alice)
    response = client.get(f"/api/v1/reviews/{cast.review.slug}/records/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Record" in response.content
