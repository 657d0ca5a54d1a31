"""Personal API tokens: created and revoked on the user's own page, shown once, stored hashed."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from api.models import ApiToken, token_hash
from api.services import token_create, token_revoke
from reviews.errors import DomainError

pytestmark = pytest.mark.django_db


def _records_url(cast) -> str:
    return f"/api/v1/reviews/{cast.review.slug}/records/"


def test_key_is_stored_only_as_its_hash(cast):
    token, key = token_create(user=cast.alice, name="R script")
    token.refresh_from_db()
    assert token.key_hash == token_hash(key) and key not in token.key_hash
    assert token.prefix == key[:8]
    assert not ApiToken.objects.filter(key_hash=key).exists()


def test_token_authenticates_and_revoking_ends_it(cast):
    token, key = token_create(user=cast.alice, name="R script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(_records_url(cast)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    token_revoke(token=token, actor=cast.alice)
    response = client.get(_records_url(cast))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("header", ["Token nonsense", "Bearer rf_wrong", "Token a b"])
def test_bad_tokens_are_401(cast, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(_records_url(cast)).status_code == 401


def test_no_credentials_is_401(cast):
    assert APIClient().get(_records_url(cast)).status_code == 401


def test_only_the_owner_revokes(cast):
    token, _ = token_create(user=cast.alice, name="x")
    with pytest.raises(DomainError):
        token_revoke(token=token, actor=cast.bob)


def test_page_shows_a_new_key_once_and_revokes(client, cast):
    client.force_login(cast.alice)
    response = client.post("/accounts/tokens/", {"name": "My notebook"})
    assert response.status_code == 200
    key = re.search(r'id="new-token-key">([^<]+)<', response.content.decode()).group(1)
    token = ApiToken.objects.get(user=cast.alice)
    assert token.key_hash == token_hash(key)
    again = client.get("/accounts/tokens/").content.decode()
    assert key not in again and token.prefix in again and "My notebook" in again
    # Another user can neither see nor revoke it.
    client.force_login(cast.bob)
    assert "My notebook" not in client.get("/accounts/tokens/").content.decode()
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    client.force_login(cast.alice)
    assert client.get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert not token.is_active


def test_page_refuses_a_token_without_name(client, cast):
    client.force_login(cast.alice)
    response = client.post("/accounts/tokens/", {"name": "  "})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_page_needs_login(client):
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_throttle_per_token(cast, monkeypatch):
    from api.throttling import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    _, key_a = token_create(user=cast.alice, name="a")
    _, key_b = token_create(user=cast.alice, name="b")
    a, b = APIClient(), APIClient()
    a.credentials(HTTP_AUTHORIZATION=f"Token {key_a}")
    b.credentials(HTTP_AUTHORIZATION=f"Token {key_b}")
    assert [a.get(_records_url(cast)).status_code for _ in range(4)] == [200, 200, 200, 429]
    # The second token has its own budget.
    assert b.get(_records_url(cast)).status_code == 200


def test_create_api_token_command_prints_a_working_key(cast):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("create_api_token", "alice", "--name", "script", stdout=out)
    key = out.getvalue().strip()
    assert ApiToken.objects.get(user=cast.alice, name="script").key_hash == token_hash(key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(_records_url(cast)).status_code == 200
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody")
