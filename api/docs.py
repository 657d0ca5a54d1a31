"""The API's docs pages (Swagger UI, Redoc), served from drf-spectacular-sidecar with
nothing fetched from another host."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularRedocView

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# Redoc's sidebar always ends in "API docs by Redocly" with a logo from Redocly's CDN (no
# option turns it off; it is not the spec's x-logo). The CSP blocks that request, so the
# bundle is served with the logo as an empty data: URL: the image fails to load and Redoc
# leaves it out (its onError hides it).
REDOCLY_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
NO_LOGO = b'"data:,"'


@lru_cache(maxsize=1)
def redoc_bundle() -> tuple[bytes, str]:
    """The Redoc bundle without its CDN logo, and a short digest for its URL."""
    path = finders.find(REDOC_BUNDLE)
    if path is None:
        raise FileNotFoundError(f"{REDOC_BUNDLE} is missing: is drf-spectacular-sidecar installed?")
    content = Path(path).read_bytes().replace(REDOCLY_LOGO, NO_LOGO)
    return content, hashlib.sha256(content).hexdigest()[:12]


@require_GET
def redoc_script(request: HttpRequest) -> HttpResponse:
    content, _ = redoc_bundle()
    response = HttpResponse(content, content_type="text/javascript; charset=utf-8")
    # the URL carries the digest: a new bundle gets a new URL
    patch_cache_control(response, public=True, max_age=30 * 86400, immutable=True)
    return response


class RedocView(SpectacularRedocView):
    """drf-spectacular's Redoc page with the bundle from :func:`redoc_script`."""

    @staticmethod
    def _redoc_standalone() -> str:
        return f"{reverse('api:redoc_js')}?v={redoc_bundle()[1]}"
