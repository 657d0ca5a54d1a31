"""``config/gunicorn.conf.py`` plus hooks that log where each request's time went (benchmarks).

Used by ``screening_load.py`` and ``scale.py --serve`` when ``BENCH_TIMING_DIR`` is set: each
worker process appends, per request, ``method path[?query] wall cpu sql n_sql`` (seconds, measured in
the thread that served it, from gunicorn's ``pre_request`` to its ``post_request`` hook) to
``BENCH_TIMING_DIR/<pid>.log``. The client's latency minus ``wall`` is the time before a
thread took the request (accept, the worker's poll loop, the GIL) and the network; ``wall``
minus ``cpu`` minus ``sql`` is waiting for the GIL or a core; ``sql`` is the statements'
round trips (PostgreSQL's own CPU and its wait for a core included).
"""

import os
import time
from pathlib import Path

_CONFIG = Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"
exec(compile(_CONFIG.read_text(), str(_CONFIG), "exec"))  # noqa: S102 - the repository's own config

_TIMING_DIR = os.environ["BENCH_TIMING_DIR"]


def pre_request(worker, req):
    from django.db import connection

    spent = [0.0, 0]

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[0] += time.perf_counter() - started
            spent[1] += 1

    connection.execute_wrappers.append(timed)
    req.bench_timing = (time.perf_counter(), time.thread_time(), spent, timed)


def post_request(worker, req, environ, resp):
    from django.db import connection

    wall0, cpu0, spent, timed = req.bench_timing
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    if timed in connection.execute_wrappers:
        connection.execute_wrappers.remove(timed)
    with open(os.path.join(_TIMING_DIR, f"{os.getpid()}.log"), "a") as sink:
        path = f"{req.path}?{req.query}" if req.query else req.path
        sink.write(f"{req.method} {path} {wall:.6f} {cpu:.6f} {spent[0]:.6f} {spent[1]}\n")
