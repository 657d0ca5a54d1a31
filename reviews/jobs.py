"""Running jobs on the task side: `run_job` records a job's start, progress and end.

Each app's `tasks.py` wraps its work in `run_job`; queueing lives in `job_queue.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from . import services
from .errors import DomainError
from .models import Job

log = logging.getLogger(__name__)


class Progress:
    """Reports a running job's progress, at most every `interval` seconds.

    A job's work usually runs in one transaction (all or nothing), and progress written
    inside it would stay invisible until the end: on PostgreSQL progress is written through
    a second connection in autocommit mode. SQLite (one writer at a time) writes it in the
    same transaction; there the job runs in the web process and the page shows it when done.
    """

    def __init__(self, job: Job, *, interval: float = 0.5) -> None:
        self.job_id = job.pk
        self.interval = interval
        self._last = 0.0
        self._side: Any = None

    def __call__(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        percent = max(0, min(100, int(fraction * 100)))
        self._write(percent, message[:300])

    def _write(self, percent: int, message: str) -> None:
        sql = f"UPDATE {Job._meta.db_table} SET progress = %s, message = %s, heartbeat_at = %s WHERE id = %s"  # noqa: S608
        params = [percent, message, timezone.now(), self.job_id]
        if connection.in_atomic_block and connection.vendor == "postgresql":
            if self._side is None:
                self._side = connections.create_connection(DEFAULT_DB_ALIAS)
            with self._side.cursor() as cursor:
                cursor.execute(sql, params)
            return
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
            self._side = None


def run_job(job_id: int, task_id: str | None, body: Callable[[Job, Progress], dict]) -> None:
    """Run `body(job, progress)` as job `job_id`: start it, then record its result or error.

    Idempotent: a job that already succeeded is not run again (a redelivered message after
    a worker died, a double click on retry). `body` must itself be safe to run again after
    a crash half-way (its writes in one transaction, or checks of what is already done).
    A DomainError is the user's problem and is shown as it is; anything else is logged and
    shown as a failure of the job, and never escapes into the web request that ran it.
    """
    job = services.job_start(job_id=job_id, task_id=task_id or "")
    if job is None:
        return
    progress = Progress(job)
    try:
        result = body(job, progress) or {}
    except DomainError as exc:
        services.job_fail(job=job, error=exc.message)
    except Exception as exc:
        log.exception("Job %s (%s) failed", job.pk, job.kind)
        services.job_fail(job=job, error=f"The job failed unexpectedly ({type(exc).__name__}).")
    else:
        services.job_succeed(
            job=job, result=result, message=result.pop("message", "") if result else ""
        )
    finally:
        progress.close()
