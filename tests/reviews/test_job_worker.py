"""A real Celery worker on Redis, killed in the middle of an import: nothing half-written.

The worker is a separate process and must see the test database, so this runs on
PostgreSQL only (an SQLite test database lives in this process's memory). It uses Redis
database 9, which it empties first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from reviews import services, tasks
from reviews.models import ImportBatch, Job, Record
from tests.factories import MembershipFactory, ReviewFactory, UserFactory
from tests.reviews.synthetic import write_ris

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/9"
N_RECORDS = 20_000

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis does not answer at {REDIS_URL}: {exc}")
    return client


@pytest.fixture
def on_redis() -> Iterator[None]:
    """This process sends tasks to Redis db 9 (instead of running them eagerly)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a worker process cannot see an SQLite test database")
    _redis().flushdb()
    from config.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    app.conf.update(task_always_eager=False, broker_url=REDIS_URL, result_backend=REDIS_URL)
    _reset_pools(app)
    try:
        yield
    finally:
        _reset_pools(app)
        app.conf.update(saved)
        _redis().flushdb()


def _reset_pools(app) -> None:
    """Connections made for the old broker URL must not be reused for the new one."""
    from kombu import pools

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu keeps pools per broker URL too: the closed one must not be reused


@pytest.fixture
def start_worker(on_redis, tmp_path) -> Iterator[Callable[[], subprocess.Popen]]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": REDIS_URL,
        "REVIEWFLOW_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "REVIEWFLOW_CACHE_DIR": str(settings.REVIEWFLOW_CACHE_DIR),
        # A message whose worker died is delivered again after 5 s (an hour in production).
        "CELERY_VISIBILITY_TIMEOUT": "5",
    }
    workers: list[subprocess.Popen] = []

    def start(**settings_env: str) -> subprocess.Popen:
        log = (tmp_path / f"worker-{len(workers)}.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
            cwd=REPO,
            env={**env, **settings_env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, step=0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_worker_killed_mid_import_leaves_no_record_and_the_retry_imports_all(
    start_worker, tmp_path
):
    review = ReviewFactory(slug="worker-kill")
    lead = UserFactory(username="lead")
    MembershipFactory(review=review, user=lead, is_lead=True)
    path = tmp_path / "big.ris"
    write_ris(path, N_RECORDS)
    from django.core.files.storage import default_storage

    with path.open("rb") as handle:
        stored = default_storage.save(f"imports/{review.pk}/uploads/kill/big.ris", handle)

    worker = start_worker()
    preview = services.job_create(
        review=review,
        kind=tasks.IMPORT_PREVIEW,
        actor=lead,
        params={"path": stored, "filename": "big.ris", "fmt": "ris"},
    )
    wait_for(lambda: Job.objects.get(pk=preview.pk).is_finished, 120, "the preview job", step=0.2)
    preview.refresh_from_db()
    assert preview.status == Job.Status.SUCCEEDED, preview.error
    batch = ImportBatch.objects.get(pk=preview.result["batch_id"])
    assert batch.n_read == N_RECORDS and batch.status == ImportBatch.Status.PREVIEW

    confirm = services.job_create(
        review=review, kind=tasks.IMPORT_CONFIRM, actor=lead, params={"batch_id": batch.pk}
    )
    # Kill the worker once the confirm reports its work (inside the import's transaction).
    wait_for(lambda: _confirm_under_way(confirm), 60, "the import to be under way")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    confirm.refresh_from_db()
    batch.refresh_from_db()
    assert confirm.status == Job.Status.RUNNING and 0 < confirm.progress < 90
    assert not Record.objects.filter(batch=batch).exists()
    assert batch.status == ImportBatch.Status.PREVIEW and batch.n_imported == 0

    # A new worker is delivered the unacknowledged message again and finishes the import.
    start_worker()
    wait_for(
        lambda: Job.objects.get(pk=confirm.pk).is_finished, 120, "the retried import", step=0.2
    )
    confirm.refresh_from_db()
    batch.refresh_from_db()
    assert confirm.status == Job.Status.SUCCEEDED, confirm.error
    assert confirm.attempts == 2
    assert batch.status == ImportBatch.Status.IMPORTED and batch.n_imported == N_RECORDS
    assert Record.objects.filter(batch=batch).count() == N_RECORDS
    assert Record.objects.filter(review=review).count() == N_RECORDS


def _confirm_under_way(confirm: Job) -> bool:
    """The confirm job is inside its import's transaction: it reports de-duplicating the
    spill's keys or storing the rows (it de-duplicates first, then writes each row once,
    so "Stored ..." alone can last a moment too short to catch)."""
    return Job.objects.filter(
        pk=confirm.pk, message__regex=r"^(Looking for duplicates|Storing|Stored) ", progress__lt=90
    ).exists()


def test_a_killed_workers_job_is_taken_up_by_a_live_worker_within_a_minute(start_worker, tmp_path):
    """The broker would deliver the dead worker's message again only after an hour (its
    visibility timeout in production): the live worker's reaper takes the job up instead,
    once the dead one's heartbeat is REVIEWFLOW_JOB_LOST_AFTER (30 s) old, exactly once."""
    review = ReviewFactory(slug="worker-lost")
    lead = UserFactory(username="lead")
    MembershipFactory(review=review, user=lead, is_lead=True)
    path = tmp_path / "big.ris"
    write_ris(path, N_RECORDS)
    from django.core.files.storage import default_storage

    with path.open("rb") as handle:
        stored = default_storage.save(f"imports/{review.pk}/uploads/lost/big.ris", handle)
    production = {"CELERY_VISIBILITY_TIMEOUT": "3600"}
    worker = start_worker(**production)
    preview = services.job_create(
        review=review,
        kind=tasks.IMPORT_PREVIEW,
        actor=lead,
        params={"path": stored, "filename": "big.ris", "fmt": "ris"},
    )
    wait_for(lambda: Job.objects.get(pk=preview.pk).is_finished, 120, "the preview job", step=0.2)
    batch = ImportBatch.objects.get(pk=Job.objects.get(pk=preview.pk).result["batch_id"])
    confirm = services.job_create(
        review=review, kind=tasks.IMPORT_CONFIRM, actor=lead, params={"batch_id": batch.pk}
    )
    wait_for(lambda: _confirm_under_way(confirm), 60, "the import to be under way")
    worker.send_signal(signal.SIGKILL)  # as the kernel's OOM killer would
    worker.wait(10)
    killed_at = time.monotonic()
    start_worker(**production)

    wait_for(
        lambda: Job.objects.filter(pk=confirm.pk, restarts=1).exists(),
        60,
        "a live worker to take the job up",
        step=0.2,
    )
    taken_up = time.monotonic() - killed_at
    wait_for(
        lambda: Job.objects.get(pk=confirm.pk).is_finished, 120, "the restarted import", step=0.2
    )
    done = time.monotonic() - killed_at
    print(f"\nkilled worker's job: taken up after {taken_up:.1f} s, done after {done:.1f} s")
    confirm.refresh_from_db()
    batch.refresh_from_db()
    assert confirm.status == Job.Status.SUCCEEDED, confirm.error
    assert confirm.attempts == 2 and confirm.restarts == 1  # exactly once
    assert batch.status == ImportBatch.Status.IMPORTED
    assert Record.objects.filter(review=review).count() == N_RECORDS
