"""Running jobs on the task side: `run_job` records a job's start, progress and end.

Each app's `tasks.py` wraps its work in `run_job`; queueing lives in `job_queue.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
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


class Heartbeat:
    """Writes a running job's `heartbeat_at` every REVIEWFLOW_JOB_HEARTBEAT seconds.

    A thread with its own autocommit connection, so the beat goes on through a long
    statement or transaction of the job's own: only a dead or frozen worker falls silent
    (`Job.is_lost`), and a live worker then takes the job up (`services.jobs_restart_lost`).
    The beat names this run's task id: a run that was replaced stops beating. PostgreSQL
    only: on SQLite (`make run`, tests) jobs run inside the web process, and a second
    writer would wait on the job's own write lock.
    """

    def __init__(self, job: Job, task_id: str) -> None:
        self.job_id, self.task_id = job.pk, task_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if connection.vendor == "postgresql" and self.task_id:
            self._thread = threading.Thread(
                target=self._beat, name=f"job-{self.job_id}-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _beat(self) -> None:
        sql = (
            f"UPDATE {Job._meta.db_table} SET heartbeat_at = %s "  # noqa: S608
            "WHERE id = %s AND status = %s AND celery_task_id = %s"
        )
        side = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            while not self._stop.wait(settings.REVIEWFLOW_JOB_HEARTBEAT):
                try:
                    with side.cursor() as cursor:
                        cursor.execute(
                            sql, [timezone.now(), self.job_id, Job.Status.RUNNING, self.task_id]
                        )
                        if cursor.rowcount == 0:
                            return  # finished, or taken up by another run
                except Exception:  # a lost connection: try again at the next beat
                    log.warning("Heartbeat of job %s not written", self.job_id, exc_info=True)
                    side.close()
        finally:
            side.close()


def reap_lost_jobs_forever(stop: threading.Event) -> None:
    """Every REVIEWFLOW_JOB_REAP_EVERY seconds, queue again the jobs whose worker died.

    Runs in a thread of each Celery worker (started when the worker is ready): the first
    look is at once, so a worker started after a crash takes up the dead one's job as soon
    as it is silent for REVIEWFLOW_JOB_LOST_AFTER seconds. Several workers may look at the
    same time; each lost job is taken up once (see `services.jobs_restart_lost`).
    """
    while True:
        try:
            services.jobs_restart_lost()
        except Exception:  # the database may be away for a moment; look again later
            log.warning("Looking for jobs whose worker died failed", exc_info=True)
        finally:
            connection.close()  # this thread's own connection, opened afresh each look
        if stop.wait(settings.REVIEWFLOW_JOB_REAP_EVERY):
            return


def start_reaper() -> threading.Event:
    """Start `reap_lost_jobs_forever` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=reap_lost_jobs_forever, args=(stop,), name="reviewflow-job-reaper", daemon=True
    ).start()
    return stop


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
        with Heartbeat(job, job.celery_task_id):
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
