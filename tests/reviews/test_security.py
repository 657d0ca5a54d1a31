"""Security hardening: headers and CSP, no inline scripts, login throttling, password reset,
session expiry."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.utils import timezone

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-1"


def _templates() -> list[Path]:
    return sorted(
        p
        for p in ROOT.glob("**/templates/**/*.html")
        if ".venv" not in p.parts and "node_modules" not in p.parts
    )


def test_there_are_templates_to_check():
    assert len(_templates()) > 50


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_an_inline_script_or_handler(path):
    """The CSP refuses inline scripts: behaviour lives in static files (data-* attributes)."""
    text = path.read_text()
    for match in re.finditer(r"<script\b([^>]*)>", text):
        attrs = match.group(1)
        assert "src=" in attrs or 'type="application/json"' in attrs, (
            f"inline <script> in {path.name}"
        )
    assert not re.search(r"\son[a-z]+\s*=\s*[\"']", text), f"on* handler in {path.name}"
    assert "javascript:" not in text, f"javascript: URL in {path.name}"


# --- Headers -------------------------------------------------------------------------------


def test_pages_carry_csp_and_security_headers(client, cast):
    client.force_login(cast.lead)
    response = client.get(f"/reviews/{cast.review.slug}/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    # htmx 2's inline indicator <style> is switched off (its rules are in app.css)
    assert b'"includeIndicatorStyles": false' in response.content


def test_login_page_has_the_headers_too(client, db):
    response = client.get("/accounts/login/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_api_docs_pages_need_no_inline_script(client, cast):
    client.force_login(cast.lead)
    for url in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = client.get(url)
        assert response.status_code == 200, url
        for attrs in re.findall(rb"<script\b([^>]*)>", response.content):
            assert b"src=" in attrs, url
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


# --- Login throttling -----------------------------------------------------------------------


def _login(client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_five_wrong_passwords_lock_the_account_for_that_address(client, db, settings):
    UserFactory(username="dana")
    UserFactory(username="eve")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "dana", "wrong").status_code == 200  # the form again
    locked = _login(client, "dana", "wrong")
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    # Even the right password is refused now; another account from the same address is not.
    assert _login(client, "dana", PASSWORD).status_code == 429
    assert _login(client, "eve", PASSWORD).status_code == 302


def test_a_successful_login_resets_the_failures(client, db, settings):
    UserFactory(username="dana")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "dana", "wrong")
    assert _login(client, "dana", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "dana", "wrong").status_code == 200


def test_lockout_ends_after_the_cooloff(client, db, settings):
    from axes.models import AccessAttempt

    UserFactory(username="dana")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "dana", "wrong")
    assert _login(client, "dana", PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert _login(client, "dana", PASSWORD).status_code == 302


# --- Password reset --------------------------------------------------------------------------


def test_password_reset_by_email(client, db):
    UserFactory(username="dana", email="dana@example.org")
    assert client.get("/accounts/login/").content.count(b"/accounts/password/reset/") == 1
    response = client.post("/accounts/password/reset/", {"email": "dana@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/sent/"
    (message,) = mail.outbox
    assert message.subject == "Reviewflow: reset your password"
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/password/reset/done/"
    assert _login(client, "dana", "a-new-long-passphrase").status_code == 302
    # The link works once.
    again = client.get(link, follow=True)
    assert b"This link does not work" in again.content


def test_password_reset_for_an_unknown_address_reveals_nothing(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


# --- Sessions --------------------------------------------------------------------------------


def test_sessions_expire(client, db, settings):
    UserFactory(username="dana")
    response = _login(client, "dana", PASSWORD)
    assert response.status_code == 302
    assert response.cookies["sessionid"]["httponly"] is True
    assert response.cookies["sessionid"]["samesite"] == "Lax"
    session = Session.objects.get()
    age = session.expire_date - timezone.now()
    assert timedelta(seconds=settings.SESSION_COOKIE_AGE - 60) < age
    assert age <= timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert settings.SESSION_COOKIE_AGE <= 24 * 3600
    assert client.get("/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
