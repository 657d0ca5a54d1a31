"""API test helpers: a token per member of the cast, and a client that sends it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.services import token_create


@pytest.fixture
def tokens(cast) -> dict:
    """username -> key of a fresh personal token."""
    return {
        user.username: token_create(user=user, name="tests")[1]
        for user in (cast.lead, cast.alice, cast.bob, cast.carol, cast.outsider)
    }


@pytest.fixture
def api(tokens):
    """`api("alice")` -> an APIClient authenticated with alice's token; `api()` anonymous."""

    def make(username: str | None = None) -> APIClient:
        client = APIClient()
        if username:
            client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[username]}")
        return client

    return make
