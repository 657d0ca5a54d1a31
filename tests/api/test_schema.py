"""The OpenAPI schema and its docs: generated without errors, served without a CDN."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

from api.docs import NO_LOGO, REDOC_BUNDLE, REDOCLY_LOGO

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


# Any absolute URL; the docs pages use paths on our own host only.
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_pages_name_no_other_host(client, url):
    """The pages, and the settings script Swagger UI's page loads, reference only paths on
    our host: no CDN, no validator badge, no web fonts (the CSP would block them)."""
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert ABSOLUTE_URL.findall(body) == []
    scripts = re.findall(r'<script src="([^"]+)"', body)
    assert scripts and all(src.startswith("/") for src in scripts)
    assert any(src.startswith(("/static/drf_spectacular_sidecar/", "/api/v1/")) for src in scripts)
    if url == "/api/v1/docs/":
        settings_js = client.get("/api/v1/docs/?script=").content.decode()
        assert '"validatorUrl": null' in settings_js
        assert ABSOLUTE_URL.findall(settings_js) == []


def test_redoc_bundle_asks_no_cdn_for_its_logo(client):
    """Redoc's sidebar always shows Redocly's logo from cdn.redoc.ly: the bundle we serve
    has it as an empty data: URL, and nothing else in it loads from another host."""
    raw = Path(finders.find(REDOC_BUNDLE)).read_bytes()
    assert raw.count(REDOCLY_LOGO) == 1, "the sidecar's Redoc changed: look again at api/docs.py"
    page = client.get("/api/v1/redoc/").content.decode()
    (src,) = re.findall(r'<script src="([^"]+)"', page)
    response = client.get(src)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "immutable" in response["Cache-Control"]
    bundle = response.content
    assert b"cdn.redoc.ly" not in bundle and NO_LOGO in bundle
    # an image, stylesheet or script the bundle itself would load from elsewhere
    assert re.findall(rb"""(?:src|srcset|@import)\s*[:=(]\s*["']?https?://""", bundle) == []


def test_browsable_api_for_a_logged_in_member(client, cast):
    client.force_login(cast.alice)
    response = client.get(f"/api/v1/reviews/{cast.review.slug}/records/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Record" in response.content
