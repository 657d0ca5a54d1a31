"""Running jobs: the registry of job kinds, dispatch to Celery, and the task-side runner.

A kind is registered by the app that owns its task (`register_job_kind` in its
`tasks.py`, imported from `AppConfig.ready()`), so `reviews` can start and show jobs of
apps to its right without importing them.

Tasks run on a Celery worker when `REDIS_URL` is set. Without it (`make run`, tests)
Celery runs them eagerly; `REVIEWFLOW_JOBS_IN_THREAD` then runs them in a background
thread of the web process so that the page can show their progress (`make run`), or,
when off (tests), in the calling thread before the request answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from .errors import DomainError
from .models import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    kind: str
    label: str
    task: Any  # a Celery task taking the job id


_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: str, *, label: str, task: Any) -> None:
    _KINDS[kind] = JobKind(kind, label, task)


def job_kind_label(kind: str) -> str:
    entry = _KINDS.get(kind)
    return entry.label if entry else kind.replace("_", " ").capitalize()


def job_kind(kind: str) -> JobKind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise LookupError(f"No job kind {kind!r} is registered") from None


def celery_is_eager() -> bool:
    from config.celery import app

    return bool(app.conf.task_always_eager)


def dispatch(task: Any, *args: Any, task_id: str | None = None) -> None:
    """Send `task(*args)` to the queue (or run it in-process when Celery is eager)."""
    if celery_is_eager() and getattr(settings, "REVIEWFLOW_JOBS_IN_THREAD", False):
        threading.Thread(
            target=_run_in_thread, args=(task, args, task_id), name=f"job-{task.name}", daemon=True
        ).start()
        return
    task.apply_async(args=args, task_id=task_id)


def dispatch_job(job: Job) -> None:
    """Send a recorded job's task, once the job row is committed (a worker must find it)."""
    task = job_kind(job.kind).task
    if celery_is_eager() and not getattr(settings, "REVIEWFLOW_JOBS_IN_THREAD", False):
        # In-process and now: the same connection sees the job row, committed or not.
        dispatch(task, job.pk, task_id=job.celery_task_id)
        return
    transaction.on_commit(lambda: dispatch(task, job.pk, task_id=job.celery_task_id))


def _run_in_thread(task: Any, args: tuple, task_id: str | None) -> None:
    try:
        task.apply(args=args, task_id=task_id)
    except Exception:  # the task has recorded its failure on its job; nothing to answer
        log.exception("Background task %s failed", task.name)
    finally:
        connection.close()  # this thread's own connection


# --- The task side ----------------------------------------------------------------------------


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
        sql = f"UPDATE {Job._meta.db_table} SET progress = %s, message = %s WHERE id = %s"  # noqa: S608
        params = [percent, message, self.job_id]
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
    from . import services

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
