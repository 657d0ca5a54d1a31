"""Helpers for the deployment tests: a production environment, a real Redis, a real worker."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
# The Redis every machine here runs (CI checks it answers). A database number of its own, so
# that tests do not meet the queues of someone's `make serve` or benchmark.
TEST_REDIS_URL = os.environ.get("REVIEWFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def production_env(**overrides: str | None) -> dict[str, str]:
    """The environment of a production process; an override of None removes the variable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "REVIEWFLOW_", "CELERY_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            # check --deploy does not connect to the database; nothing needs to listen here.
            "DATABASE_URL": "postgres://reviewflow:secret@127.0.0.1:5432/reviewflow",
            "REDIS_URL": TEST_REDIS_URL,
            "DJANGO_ALLOWED_HOSTS": "reviewflow.example.org",
            "PYTHONPATH": str(ROOT),
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(args: list[str], env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url() -> str:
    """The test Redis; it must answer (CI's `.ci/run` checks that it does)."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis does not answer at {TEST_REDIS_URL}: {exc}")
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture
def celery_worker_process(redis_url, tmp_path):
    """A real Celery worker process on the test Redis, stopped after the test."""
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(ROOT),
    }
    name = f"healthz-test-{uuid.uuid4().hex[:8]}@%h"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                f"--hostname={name}",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=info",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
