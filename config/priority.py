"""Background work (refits, imports) at a lower CPU priority than the web server's requests.

``REVIEWFLOW_WORKER_NICE`` (default 10) is the niceness of

* a Celery worker's pool processes, set when each starts (``config.celery``), whatever
  started the worker (``make serve``, systemd, a terminal);
* in the embedded mode (no broker: tasks run in a thread of the web process), the thread
  that runs a task, on Linux (``reviews.job_queue``).

A niceness only weighs against processes of the same scheduling group. With Linux's
autogroups (``/proc/sys/kernel/sched_autogroup_enabled``, on by default on desktops and
many servers) every session is a group and the groups share the CPU equally, so a worker
started in its own session (systemd, ``setsid``) at nice 10 still got as much CPU as the
whole web server. A pool process therefore starts a session of its own and sets that
group's niceness too (``/proc/self/autogroup``). Under systemd with cgroup v2, each
service's ``CPUWeight=`` weighs the same way (docs/deploy.md).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)
AUTOGROUP = Path("/proc/self/autogroup")


def worker_nice() -> int:
    from django.conf import settings

    return int(getattr(settings, "REVIEWFLOW_WORKER_NICE", 10))


def process_lower(nice: int, *, own_group: bool) -> int:
    """Raise this process's niceness to at least `nice`; return the niceness it has now.

    ``own_group``: also leave the caller's session for one of its own and give that
    autogroup the same niceness (only for a process whose terminal signals reach it
    through its parent, such as a Celery pool process).
    """
    if not hasattr(os, "setpriority"):
        return 0
    if nice <= 0:
        return os.getpriority(os.PRIO_PROCESS, 0)
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current < nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    if own_group and AUTOGROUP.exists():
        try:
            if os.getsid(0) != os.getpid():
                os.setsid()
            AUTOGROUP.write_text(f"{nice}\n")
        except OSError as exc:  # no permission, or already a group leader: keep the nice
            log.info("Could not lower the autogroup's priority: %s", exc)
    return os.getpriority(os.PRIO_PROCESS, 0)


def thread_lower(nice: int) -> None:
    """Raise the calling thread's niceness to at least `nice` (Linux: per thread)."""
    if nice <= 0 or not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.info("Could not lower the background thread's priority: %s", exc)
