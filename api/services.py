"""Writes of the api app: personal tokens."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviews.errors import ConflictError, DomainError

from .models import TOKEN_PREFIX_LEN, ApiToken, token_hash

MAX_ACTIVE_TOKENS = 20


@transaction.atomic
def token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it and the key, which is never readable again."""
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the token a name, e.g. what it is for.", field="name")
    if len(name) > 100:
        raise DomainError("The name is longer than 100 characters.", field="name")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ConflictError(f"You have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.")
    key = "rf_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:TOKEN_PREFIX_LEN], key_hash=token_hash(key)
    )
    return token, key


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: Any) -> ApiToken:
    """Revoke a token of the actor's own; it stops working at once and for good."""
    if token.user_id != actor.pk:
        raise DomainError("That is not your token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
