"""Cost of one "record my vote and give me the next record" request, in one process.

Where ``screening_load.py`` measures latency under 20 concurrent reviewers against live
gunicorn servers (and so depends on how busy the machine is), this measures what one such
request costs the app server: SQL queries, wall-clock and CPU time, with Django's test
client in this process against PostgreSQL (and Redis as the cache when ``BENCH_REDIS_URL``
answers), on the same review as the load test (20,000 records, 20 reviewers, relevance
ranking on).

1. Loads the review once into a template database ``<BENCH_DATABASE_URL>_template``
   (default ``postgres://postgres@127.0.0.1:5432/reviewflow_request_bench``) and copies it
   for every run, so that each run starts from the same state.
2. Each reviewer in turn (round robin) posts a vote on the record their queue gave them,
   as the screening page does with htmx, and gets the next record: ``--votes`` requests
   (default 200) after ``--warmup`` (default 20) unmeasured ones. Pairs complete, so
   records resolve and the ranking hears of it as in real use. No Celery worker runs: when
   a refit is asked for, the benchmark stores a stand-in ranking between two requests, as
   a worker would (the fit's own cost is ``ranking_refit_bench.py``'s business).
3. Prints p50/p95 of wall-clock and CPU time per request, the SQL queries per request
   (``--queries`` lists those of a vote that resolves its record and of one that does not) and, with ``--profile``, the functions that took the CPU time
   (``BENCH_SORT``, ``BENCH_FILTER``, ``BENCH_TOP`` shape the listing).

Run: ``.venv/bin/python benchmarks/screening_request_cost.py [--votes 200] [--queries]``

Measured (issue 24, 7 Dec 2026, this 2-core machine shared with other sessions' test runs
and benchmarks; ``--votes 300``; "before" is main at 22d9d50, run from a copy of it). The
CPU figures are the ones to compare; the wall-clock ones move with the machine's load.

=========================================  =============  =============  =============
                                           before         after          after
                                           (load 6.9)     (load 7.3)     (load 16)
=========================================  =============  =============  =============
SQL queries, a vote that does not resolve  21             18             18
SQL queries, a vote that resolves          25             22             22-23
CPU per request p50 / p95 (ms)             28.4 / 39.3    13.2 / 18.1    14.6 / 20.2
wall per request p50 / p95 (ms)            50.9 / 76.8    31.4 / 53.9    91 / 192
=========================================  =============  =============  =============

(At load 21 the "before" run gave CPU 25.5 / 32.2 ms, wall 144 / 356 ms.)

Session 8 (``--votes 200``, the same template; "before" main at 825f6da at load 4.4,
"after" at load 5.9 with this session's test runs beside it): SQL statements of a vote
that does not resolve 19 -> 13, of one that resolves 22 -> 18 (PostgreSQL: the voter's
claim, the vote, its history row and the item's count in one statement; the queue's
first free item over every vote count in one; the exclusion reasons read with the
claimed record); CPU p50 / p95 11.8 / 15.8 -> 12.1 / 17.9 ms (the same within the load:
a round trip saved is ~0.2 ms of CPU here, its gain is the wait it no longer queues
for); wall 57.4 / 97.7 -> 50.9 / 115.2 ms.

What went: the ORM's query building (~1 ms of CPU per query here, ~0.2 ms for the same
statement hand-written) on the vote transaction, the queue's state and pick, the claimed
record (now read with the user's keymap and own count: three queries in one), the
exclusion reasons, the membership check and the session read; the user's vote is read
with the item's lock; the resolution's note to the ranking is one statement and adds no
task while a refit request is pending; the panel's URLs, keyboard list and reason options
are built in the view (2.4 -> 1.0 ms to render); the Redis cache keeps its client instead
of building one per call. Left: the user row (Django's ModelBackend, ~1 ms), the test
client's own cost (counted here, not in a server), the template (~1 ms), and ~0.2 ms per
remaining statement.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_request_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
RECORD_ID = re.compile(r'data-record-id="(\d+)"')
N_RECORDS = 20_000
N_REVIEWERS = 20
INCLUDE_TERMS = "peer support\nrandomi*\nrecovery\nhope"
EXCLUDE_TERMS = "protocol\nchildren\nanimal*"


def _admin(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(url)
    return parsed.path.lstrip("/"), parsed._replace(path="/postgres").geturl()


def prepare_database(url: str) -> None:
    """Copy the template database (loading it first if there is none) to `url`."""
    import psycopg

    name, admin = _admin(url)
    template = f"{name}_template"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{template}"')
    if not exists:
        print(f"loading {N_RECORDS:,} records and {N_REVIEWERS} reviewers into {template} ...")
        _load_template(url.rsplit("/", 1)[0] + "/" + template)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    # Migrations added since the template was loaded (the copy only: quick when none).
    import subprocess

    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def _load_template(template_url: str) -> None:
    import subprocess

    env = {**os.environ, "DATABASE_URL": template_url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    code = (
        "import sys; sys.path.insert(0, 'benchmarks'); import screening_load as s; "
        f"slug = s.setup_data({N_RECORDS}, {N_REVIEWERS}, True); "
        "from reviews.models import Review; "
        f"Review.objects.filter(slug=slug).update(include_keywords={INCLUDE_TERMS!r}, "
        f"exclude_keywords={EXCLUDE_TERMS!r})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def quantiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {1000 * statistics.median(values):6.2f}  p95 {1000 * q[94]:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=200, help="measured requests")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    parser.add_argument("--queries", action="store_true", help="list the SQL of one request")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the measured requests (CPU time)"
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis

        client = redis.Redis.from_url(redis_url)
        client.flushdb()  # the benchmark's own database
        client.close()
    except Exception:  # noqa: BLE001 - without Redis, a per-process memory cache
        redis_url = ""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    try:
        prepare_database(url)
    except Exception as exc:  # noqa: BLE001 - a clear message instead of a traceback
        sys.exit(f"PostgreSQL is needed at {url}: {exc}")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from reviews.models import Review
    from screening import ranking
    from screening.models import RankingSnapshot, Resolution

    review = Review.objects.get(slug="load-test")
    users = get_user_model().objects.filter(username__startswith="rev").order_by("username")
    htmx = {"HTTP_HX_REQUEST": "true"}
    screen = f"/reviews/{review.slug}/screening/title-abstract/"
    reviewers = []
    for user in users:
        client = Client()
        client.force_login(user)
        page = client.get(screen, **htmx).content.decode()
        reviewers.append([client, int(RECORD_ID.search(page).group(1))])

    rng = random.Random(1)

    def vote(i: int) -> str:
        reviewer = reviewers[i % len(reviewers)]
        client, record_id = reviewer
        decision = "include" if rng.random() < 0.1 else "exclude"
        response = client.post(
            f"/reviews/{review.slug}/screening/ta/records/{record_id}/vote/",
            {"decision": decision, "mode": "queue"},
            **htmx,
        )
        page = response.content.decode()
        assert response.status_code == 200, (response.status_code, page[:500])
        reviewer[1] = int(RECORD_ID.search(page).group(1))
        return page

    def worker_refits() -> None:
        """What a Celery worker would do meanwhile (not timed): take a requested refit
        and store a ranking, so that the next requests see a recent one. No fit is run:
        the refit's own cost is ranking_refit_bench.py's business."""
        if ranking.refit_pending(review.pk) and ranking._refit_take(review.pk):
            n = Resolution.objects.filter(review=review, stage="ta").count()
            RankingSnapshot.objects.create(review=review, n_resolved=n, method="bench stand-in")

    RankingSnapshot.objects.create(review=review, n_resolved=0, method="bench stand-in")
    i = 0
    for _ in range(args.warmup):
        vote(i)
        worker_refits()
        i += 1
    # Query counts of a few requests (a vote that resolves its record takes more).
    counts, resolving, plain = [], None, None
    for _ in range(20):
        n_resolved = Resolution.objects.filter(review=review).count()
        with CaptureQueriesContext(connection) as queries:
            vote(i)
        captured = list(queries.captured_queries)  # the next request clears the log
        counts.append(len(captured))
        if Resolution.objects.filter(review=review).count() > n_resolved:
            resolving = resolving or captured
        else:
            plain = plain or captured
        worker_refits()
        i += 1
    walls, cpus = [], []
    profiler = cProfile.Profile(time.thread_time) if args.profile else None  # CPU, not waits
    for _ in range(args.votes):
        if profiler:
            profiler.enable()
        wall, cpu = time.perf_counter(), time.thread_time()
        vote(i)
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - wall)
        if profiler:
            profiler.disable()
        worker_refits()
        i += 1

    print(
        f"vote + next record: {args.votes} requests by {len(reviewers)} reviewers in turn "
        f"(PostgreSQL{', Redis cache' if redis_url else ', memory cache'}; load average "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(
        f"  SQL queries per request: {min(counts)}-{max(counts)} (median "
        f"{statistics.median(counts):g}); a vote that resolves its record: "
        f"{len(resolving or [])}, one that does not: {len(plain or [])}"
    )
    print(f"  wall {quantiles(walls)}")
    print(f"  CPU  {quantiles(cpus)}  (this process: Django and the driver, not the server)")
    if args.queries:
        for name, captured in (("resolves", resolving), ("does not resolve", plain)):
            print(f"  SQL of a vote that {name}:")
            for n, query in enumerate(captured or [], 1):
                print(f"  {n:2}. {' '.join(query['sql'].split())[:160]}")
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(
            os.environ.get("BENCH_FILTER", ""), int(os.environ.get("BENCH_TOP", "45"))
        )


if __name__ == "__main__":
    main()
