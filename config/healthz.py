"""`GET /healthz` for load balancers: is this app server able to serve and run jobs?

It checks the three things every request or job needs: the database, Redis (the job
queue and shared cache) and at least one live Celery worker. The embedded mode (`make
run`: no REDIS_URL, tasks run in-process) has no Redis or worker to lose, and says so.

The endpoint needs no login, so it names the part that failed and the kind of error,
never the error's text (which can hold host names and user names); that goes to the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)

# A probe must answer well within a load balancer's own timeout (typically 2-5 s).
REDIS_TIMEOUT_SECONDS = 1.0
WORKER_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def _failed(part: str, exc: Exception) -> Check:
    log.warning("Health check: %s failed: %s", part, exc)
    return Check(False, f"unreachable ({type(exc).__name__})")


def database_check() -> Check:
    """One round trip to the default database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", said as such
        return _failed("database", exc)
    return Check(True, connection.vendor)


def redis_check() -> Check:
    """PING the Redis server of the queue, or say that the embedded mode has none."""
    if not settings.REDIS_URL:
        return Check(True, "not used (embedded mode: no REDIS_URL)")
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return _failed("redis", exc)
    finally:
        client.close()
    return Check(True, "PONG")


def worker_check(*, redis_ok: bool) -> Check:
    """Ask the workers to answer a ping; the first answer within the timeout is enough."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check(True, "in-process (embedded mode: tasks run in the web process)")
    if not redis_ok:
        return Check(False, "not reachable: the queue's Redis is down")
    # A throwaway app bound to the broker of the settings in force. Pings sent through the
    # main app, whose connection pools outlive a change of settings, reached no worker after
    # some earlier tests in the same process (tests/api, then tests/deploy).
    probe = Celery("reviewflow-healthz", broker=settings.CELERY_BROKER_URL, set_as_current=False)
    try:
        replies = probe.control.ping(timeout=WORKER_TIMEOUT_SECONDS, limit=1)
    except Exception as exc:  # noqa: BLE001
        return _failed("worker", exc)
    finally:
        probe.close()
    if not replies:
        log.warning("Health check: no Celery worker answered within %s s", WORKER_TIMEOUT_SECONDS)
        return Check(False, f"no worker answered within {WORKER_TIMEOUT_SECONDS:g} s")
    return Check(True, f"{next(iter(replies[0]))} answered")


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with each part's state when all are up; 503 naming the parts that are not."""
    redis_state = redis_check()
    checks = {
        "database": database_check(),
        "redis": redis_state,
        "worker": worker_check(redis_ok=redis_state.ok),
    }
    failed = [name for name, check in checks.items() if not check.ok]
    body = {
        "status": "fail" if failed else "ok",
        "failed": failed,
        "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
    }
    return JsonResponse(body, status=503 if failed else 200)
