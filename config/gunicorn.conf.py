"""Gunicorn settings of a Reviewflow web server: `gunicorn -c config/gunicorn.conf.py`.

Every value can be changed from the environment (docs/deploy.md); the defaults suit a
server behind nginx on the same machine.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# The default process count's ceiling (more CPUs than 4 would make more processes than one
# PostgreSQL's connections comfortably serve; set WEB_CONCURRENCY to go past it).
MAX_WORKERS = 9

# Processes: gunicorn's own advice, 2 x CPUs + 1 (5 on 2 CPUs), at most 9. A thread holds
# its process's interpreter lock while it builds a page, so the other threads of that
# process wait: more processes with fewer threads each keep a heavy lead page from
# delaying reviewers' votes (docs/deploy.md has the figures). Threads, not only
# processes, because a request mostly waits on PostgreSQL and a thread costs far less
# memory than a process (~285 MB each). Each thread keeps its own database connection:
# PostgreSQL's max_connections (100 by default) must exceed app servers x workers x
# threads (+ Celery workers): 5 x 4 = 20 per 2-CPU app server, 9 x 4 = 36 at most.
worker_class = "gthread"
workers = int(
    os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, MAX_WORKERS))
)
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# No parallel query workers for the web server's connections (config/settings/env.py says
# why); set before the workers load the settings. An empty value keeps the server's own.
os.environ.setdefault("REVIEWFLOW_PG_PARALLEL_WORKERS", "0")

# Long work (imports, reports, refits) runs on Celery workers, so a request taking a
# minute is a fault: end it rather than let it hold a thread. nginx buffers uploads, so a
# slow client does not hold a thread while it sends a file either.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Start fresh worker processes now and then: memory a library leaks never piles up.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10

# The client's address and scheme come from the proxy's X-Forwarded-* headers, trusted
# from these addresses only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Logs to stdout/stderr: systemd's journal or the container runtime keeps them.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Heartbeat files in memory, not on a disk that may stall (the Gunicorn docs' advice).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
