"""Throttling per token (and per user for browser sessions)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Each token has its own budget; a browser session shares its user's.

    The cache key carries the creation time as well as the id, so that ids reused by a
    rebuilt database (or a test run) never inherit another token's history.
    """

    scope = "token"

    def get_cache_key(self, request, view):
        token = request.auth
        if isinstance(token, ApiToken):
            ident = f"t{token.pk}:{token.created_at.timestamp()}"
        elif request.user and request.user.is_authenticated:
            joined = request.user.date_joined.timestamp() if request.user.date_joined else 0
            ident = f"u{request.user.pk}:{joined}"
        else:
            ident = f"a{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
