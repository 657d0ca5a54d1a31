"""A Celery pool process past the memory limit is replaced after its task (settings)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

from celery import Celery

from tests.deploy.conftest import ROOT

# "[... INFO/ForkPoolWorker-2] Task celery.accumulate[...] succeeded": which pool process ran it.
RAN_BY = re.compile(r"/(ForkPoolWorker-\d+)\] Task celery\.accumulate\[[^\]]+\] succeeded")


def _ran_by(redis_url: str, tmp_path, limit_mb: str, n_tasks: int) -> list[str]:
    """Run ``n_tasks`` trivial tasks one after the other on a real prefork worker (one pool
    process) at ``REVIEWFLOW_WORKER_MAX_MEMORY_MB=limit_mb``; return the names of the pool
    processes that ran them."""
    queue = f"maxmem-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": redis_url,
        "REVIEWFLOW_WORKER_MAX_MEMORY_MB": limit_mb,
        "REVIEWFLOW_WORKER_NICE": "0",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency=1",
             f"--queues={queue}", f"--hostname={queue}@%h", "--without-gossip",
             "--without-mingle", "--loglevel=info"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    client = Celery(broker=redis_url, backend=redis_url)
    try:
        for i in range(n_tasks):
            # A built-in task: returns its argument, touches no database.
            result = client.send_task("celery.accumulate", args=(i,), queue=queue)
            assert result.get(timeout=60) == [i]
        time.sleep(0.5)  # the log line is written after the result is sent
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        client.close()
    return RAN_BY.findall(log.read_text(errors="replace"))


def test_a_pool_process_past_the_limit_is_replaced_after_each_task(redis_url, tmp_path):
    # Every process peaks above 1 MB: each task's process is replaced once the task is done.
    assert _ran_by(redis_url, tmp_path, "1", 3) == [
        "ForkPoolWorker-1",
        "ForkPoolWorker-2",
        "ForkPoolWorker-3",
    ]


def test_zero_never_replaces_the_pool_process(redis_url, tmp_path):
    assert _ran_by(redis_url, tmp_path, "0", 3) == ["ForkPoolWorker-1"] * 3
