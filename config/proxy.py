"""The client's address behind the TLS proxy, for login throttling (django-axes)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the outermost trusted proxy saw the request come from.

    Behind nginx every request comes from the proxy's address, so throttling by
    REMOTE_ADDR would lock a user name out for everyone. nginx appends the address it saw
    to X-Forwarded-For (``$proxy_add_x_forwarded_for``); entries to the left of the
    ``REVIEWFLOW_PROXY_COUNT`` proxies' own are the client's to choose, so they are never
    trusted.
    """
    count = getattr(settings, "REVIEWFLOW_PROXY_COUNT", 0)
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")
