"""GET /healthz: 200 when the database, Redis and a worker answer; 503 naming what does not."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError
from django.test import override_settings

import config.healthz

URL = "/healthz"


def queue_settings(redis_url: str):
    """The settings of a deployment with a real queue (the tests otherwise run eagerly)."""
    return override_settings(
        REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url, CELERY_TASK_ALWAYS_EAGER=False
    )


@pytest.mark.django_db
def test_embedded_mode_is_healthy_without_redis_or_worker(client):
    response = client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert body["checks"]["database"]["ok"]
    assert "embedded" in body["checks"]["redis"]["detail"]
    assert "in-process" in body["checks"]["worker"]["detail"]


@pytest.mark.django_db
def test_needs_no_login_and_answers_head(client):
    assert client.head(URL).status_code == 200
    assert client.post(URL).status_code == 405


class _DownDatabase:
    vendor = "postgresql"

    def cursor(self):
        raise OperationalError("connection to server at 10.0.0.5 failed: Connection refused")


@pytest.mark.django_db
def test_database_down_is_503_naming_the_database(client, monkeypatch):
    monkeypatch.setattr(config.healthz, "connection", _DownDatabase())
    response = client.get(URL)
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    # No login is needed, so the error's text (host names, user names) stays in the log.
    assert "10.0.0.5" not in response.content.decode()


@pytest.mark.django_db
def test_redis_down_is_503_naming_redis_and_the_workers_behind_it(client, closed_port):
    with queue_settings(f"redis://127.0.0.1:{closed_port}/0"):
        response = client.get(URL)
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis", "worker"]
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["redis"] == {"ok": False, "detail": "unreachable (ConnectionError)"}


@pytest.mark.django_db
def test_no_live_worker_is_503_naming_the_worker(client, redis_url):
    with queue_settings(redis_url):
        started = time.monotonic()
        response = client.get(URL)
        waited = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["worker"]
    assert body["checks"]["redis"] == {"ok": True, "detail": "PONG"}
    assert "no worker answered" in body["checks"]["worker"]["detail"]
    # Quick enough for a load balancer's probe.
    assert waited < config.healthz.WORKER_TIMEOUT_SECONDS + 2


@pytest.mark.django_db
def test_healthy_with_redis_and_a_live_worker_process(client, redis_url, celery_worker_process):
    proc, log = celery_worker_process
    # The worker imports Django and the apps first: seconds on a quiet machine, much longer
    # on a loaded 2-core CI machine. The wait ends as soon as it answers.
    deadline = time.monotonic() + 240
    with queue_settings(redis_url):
        response = client.get(URL)
        while response.status_code != 200 and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.5)
            response = client.get(URL)
    assert response.status_code == 200, log.read_text()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["worker"]["ok"]
    assert "healthz-test-" in body["checks"]["worker"]["detail"]
