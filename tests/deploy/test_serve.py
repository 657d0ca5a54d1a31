"""`make serve` (deploy/serve.sh) runs everything production runs: gunicorn, a Celery worker
and a Celery beat, whose schedule holds the scheduled-search task (issue 23, part 5).

The first test reads the beat schedule production settings give Celery; the second runs
serve.sh itself against a private PostgreSQL server and the test Redis, waits for
/healthz, stops it, and reads the schedule file its beat wrote.
"""

from __future__ import annotations

import json
import os
import shelve
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection

from tests.faults.pg import free_port, private_postgres_running

from .conftest import ROOT, production_env, run_python

TASK = "reviews.search_schedules_due"


def test_production_beat_schedule_queues_the_scheduled_searches_every_hour():
    script = (
        "import json; from config.celery import app; "
        "app.loader.import_default_modules(); "
        "print(json.dumps({'schedule': {k: [v['task'], float(v['schedule'])] "
        "for k, v in app.conf.beat_schedule.items()}, 'registered': sorted(app.tasks)}))"
    )
    result = run_python(["-c", script], production_env())
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["schedule"]["search-schedules-due"] == [TASK, 3600.0]
    assert TASK in found["registered"]  # a worker knows the task beat sends


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.mark.slow  # a private PostgreSQL server, migrations, three server processes
def test_make_serve_runs_a_beat_beside_gunicorn_and_the_worker(redis_url, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("make serve needs PostgreSQL: the PostgreSQL suite runs this test")
    with private_postgres_running() as pg:
        port = free_port()
        schedule = tmp_path / "beat" / "celerybeat-schedule"
        env = production_env(
            DATABASE_URL=pg.url,
            REDIS_URL=redis_url,
            DJANGO_ALLOWED_HOSTS=None,
            HOST="127.0.0.1",
            PORT=str(port),
            BIN=str(ROOT / ".venv" / "bin"),
            SERVE_DEMO="0",
            BEAT_SCHEDULE=str(schedule),
            DJANGO_STATIC_ROOT=str(tmp_path / "static"),
            REVIEWFLOW_MEDIA_ROOT=str(tmp_path / "media"),
            REVIEWFLOW_CACHE_DIR=str(tmp_path / "cache"),
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="2",
            CELERY_CONCURRENCY="1",
        )
        log = tmp_path / "serve.log"
        with log.open("wb") as sink:
            # its own process group: stopping it stops gunicorn, the worker and beat too
            proc = subprocess.Popen(
                ["bash", str(ROOT / "deploy" / "serve.sh")],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 240
            status = 0
            while time.monotonic() < deadline and proc.poll() is None:
                status = _get(f"http://127.0.0.1:{port}/healthz")
                if status == 200:
                    break
                time.sleep(1)
            output = log.read_text(errors="replace")
            assert status == 200, output[-4000:]
            while "beat: Starting..." not in output and time.monotonic() < deadline:
                time.sleep(0.5)
                output = log.read_text(errors="replace")
            assert "beat: Starting..." in output, output[-4000:]
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    # Beat wrote the schedule it runs from production settings into its file.
    with shelve.open(str(schedule), flag="r") as stored:
        entry = stored["entries"]["search-schedules-due"]
    assert entry.task == TASK and entry.schedule.run_every.total_seconds() == 3600
