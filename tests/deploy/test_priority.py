"""Background work runs below the web server in CPU priority (config/priority.py)."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from config import priority

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="Linux")


def test_a_thread_lowers_its_own_priority_only():
    seen = {}

    def background():
        priority.thread_lower(7)
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=background)
    thread.start()
    thread.join(10)
    assert seen["thread"] == max(7, before)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the request threads keep theirs


@linux_only
def test_a_pool_process_gets_a_scheduling_group_of_its_own_at_the_setting():
    """What a Celery pool process does when it starts (worker_process_init), in a child
    started in its parent's session, as the pool's processes are."""
    code = (
        "import os, django; django.setup();"
        "from config import celery;"
        "sid = os.getsid(0); celery._pool_process_lower_priority();"
        "print(os.getpriority(os.PRIO_PROCESS, 0), os.getsid(0) == os.getpid(), sid != os.getpid(),"
        " open('/proc/self/autogroup').read().split()[-1])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REVIEWFLOW_WORKER_NICE": "12",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["12", "True", "True", "12"], out


def test_zero_leaves_the_process_as_it_was():
    before = os.getpriority(os.PRIO_PROCESS, 0)
    assert priority.process_lower(0, own_group=True) == before
