"""Queueing jobs: the registry of job kinds and dispatch to Celery (the task side: `jobs.py`).

A kind is registered by the app that owns its task (`register_job_kind` in its
`tasks.py`, imported from `AppConfig.ready()`), so `reviews` can start and show jobs of
apps to its right without importing them. Nothing here imports the models at run time:
the models and services use this module, never the other way round.

Tasks run on a Celery worker when `REDIS_URL` is set. Without it (`make run`, tests)
Celery runs them eagerly; `REVIEWFLOW_JOBS_IN_THREAD` then runs them in a background
thread of the web process so that the page can show their progress (`make run`), or,
when off (tests), in the calling thread before the request answers. Such a thread runs at
`REVIEWFLOW_WORKER_NICE` (`config.priority`), as a worker's processes do.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction

log = logging.getLogger(__name__)


class QueuedJob(Protocol):
    """What dispatch needs of a `reviews.models.Job` (named, not imported: models use us)."""

    pk: Any
    kind: str
    celery_task_id: str


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


def dispatch_job(job: QueuedJob) -> None:
    """Send a recorded job's task, once the job row is committed (a worker must find it)."""
    task = job_kind(job.kind).task
    if celery_is_eager() and not getattr(settings, "REVIEWFLOW_JOBS_IN_THREAD", False):
        # In-process and now: the same connection sees the job row, committed or not.
        dispatch(task, job.pk, task_id=job.celery_task_id)
        return
    transaction.on_commit(lambda: dispatch(task, job.pk, task_id=job.celery_task_id))


def _run_in_thread(task: Any, args: tuple, task_id: str | None) -> None:
    from config.priority import thread_lower, worker_nice

    # Below the request threads in CPU priority, as a Celery worker would be.
    thread_lower(worker_nice())
    try:
        task.apply(args=args, task_id=task_id)
    except Exception:  # the task has recorded its failure on its job; nothing to answer
        log.exception("Background task %s failed", task.name)
    finally:
        connection.close()  # this thread's own connection
