"""Load test of title/abstract screening: 20 reviewers voting at once against a live server.

What it does (bounded in count and time):

1. (Re)creates a PostgreSQL database ``reviewflow_screening_bench`` (or uses ``BENCH_DATABASE_URL``),
   migrates it and loads one review with 20,000 records and 20 reviewers.
2. Starts the app on 127.0.0.1 in a subprocess: gunicorn (``--workers`` processes with
   8 threads each, persistent database connections, as in production) when installed,
   otherwise ``manage.py runserver --noreload`` (one process; a new connection and
   thread per request, so expect higher figures).
3. 20 client threads log in and repeat "record my vote and give me the next record"
   (one htmx POST that answers with the next record) up to ``--votes`` times each or
   until ``--seconds`` have passed. Between two decisions a reviewer "reads" for an
   exponentially distributed time with mean ``--think`` seconds (default 2 s: 20 reviewers
   then post 10 decisions a second, 36,000 an hour, far above any real team; people take
   10-30 s per abstract). ``--think 0`` measures the saturated server instead.
4. Prints p50/p95/p99 latency of that request, throughput, and checks in the database
   that no decision was lost or doubled and no record got more than two votes.

Run: ``.venv/bin/python benchmarks/screening_load.py`` (PostgreSQL on 127.0.0.1:5432).
Target: p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_screening_bench"
PASSWORD = "bench-password-1"
RECORD_ID = re.compile(rb'data-record-id="(\d+)"')
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
WORDS = [
    "peer",
    "support",
    "recovery",
    "randomised",
    "trial",
    "depression",
    "schizophrenia",
    "hope",
    "empowerment",
    "quality",
    "life",
    "loneliness",
    "community",
    "mental",
    "health",
    "service",
    "users",
    "lived",
    "experience",
    "intervention",
    "control",
    "usual",
    "care",
    "outcomes",
    "follow-up",
    "months",
    "adults",
    "psychosis",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urllib.parse.urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_data(n_records: int, n_reviewers: int, prioritise: bool) -> str:
    """Create the review, records and reviewers in-process; return the review slug."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from reviews.models import ImportBatch, Membership, Record, Review, Search
    from reviews.services import exclusion_reasons_seed
    from screening.services import items_sync

    rng = random.Random(1)
    User = get_user_model()
    lead = User.objects.create_user("bench-lead", password=PASSWORD)
    review = Review.objects.create(
        title="Screening load test", slug="load-test", created_by=lead, prioritise=prioritise
    )
    exclusion_reasons_seed(review=review)
    Membership.objects.create(review=review, user=lead, is_lead=True)
    for i in range(n_reviewers):
        user = User.objects.create_user(f"rev{i:02d}", password=PASSWORD)
        Membership.objects.create(review=review, user=user, is_reviewer=True)
    search = Search.objects.create(
        review=review,
        source="pubmed",
        date_run="2024-01-01",
        search_string="x",
        hits_reported=n_records,
    )
    batch = ImportBatch.objects.create(
        review=review,
        search=search,
        filename="bench.ris",
        format="ris",
        status=ImportBatch.Status.IMPORTED,
        n_imported=n_records,
    )
    records = [
        Record(
            review=review,
            batch=batch,
            source_line=i,
            title=" ".join(rng.choices(WORDS, k=12)).capitalize(),
            abstract=" ".join(rng.choices(WORDS, k=220)),
            authors=[f"Author{i}, A", "Second, B"],
            year=2000 + i % 24,
            journal="Journal of Load Testing",
        )
        for i in range(n_records)
    ]
    Record.objects.bulk_create(records, batch_size=2000)
    items_sync(review, force=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics after the bulk load, as autovacuum would
    return review.slug


def start_server(env: dict, port: int, workers: int) -> tuple[subprocess.Popen, str, Path]:
    try:
        import gunicorn  # noqa: F401

        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--threads=8",
            "--worker-class=gthread",
            "--keep-alive=120",
            "--log-level=warning",
        ]
        kind = f"gunicorn ({workers} worker processes x 8 threads)"
    except ImportError:
        cmd = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        kind = "manage.py runserver (one process, a thread and a connection per request)"
    # The server's log goes to a file: an unread pipe would fill up and stall the server.
    log = Path(tempfile.mkstemp(prefix="reviewflow-bench-server-", suffix=".log")[1])
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/accounts/login/")
            if conn.getresponse().status == 200:
                return proc, kind, log
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the server did not start: " + log.read_text()[-2000:])


class Reviewer:
    """One simulated reviewer with its own session.

    Every request opens a new connection (``Connection: close``), as browsers behind a
    proxy often do: with keep-alive, the first gunicorn worker to accept would keep all
    20 reviewers and the other workers would idle.
    """

    def __init__(self, port: int, username: str) -> None:
        self.port = port
        self.username = username
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers=None):
        headers = {"Connection": "close", **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed an idle keep-alive connection; the request did not
                # reach it (a vote is idempotent anyway), so open a new one and retry.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        content = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, content

    def login(self) -> None:
        _, page = self.request("GET", "/accounts/login/")
        token = CSRF_INPUT.search(page).group(1).decode()
        status, _ = self.request(
            "POST",
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        if status != 302:
            raise RuntimeError(f"login of {self.username} failed ({status})")


def reviewer_loop(port, username, slug, max_votes, stop_at, results, lock, barrier, think):
    rng = random.Random(username)
    rev = Reviewer(port, username)
    rev.login()
    htmx = {"HX-Request": "true"}
    status, page = rev.request("GET", f"/reviews/{slug}/screening/title-abstract/", headers=htmx)
    match = RECORD_ID.search(page)
    barrier.wait()
    latencies, cast, errors = [], [], Counter()
    while match and len(cast) < max_votes and time.time() < stop_at:
        if think:
            time.sleep(rng.expovariate(1 / think))
        record_id = int(match.group(1))
        decision = "include" if record_id % 7 == 0 else "exclude"
        headers = {**htmx, "X-CSRFToken": rev.cookies["csrftoken"]}
        started = time.perf_counter()
        status, page = rev.request(
            "POST",
            f"/reviews/{slug}/screening/ta/records/{record_id}/vote/",
            {"decision": decision, "mode": "queue"},
            headers,
        )
        latencies.append(time.perf_counter() - started)
        if status == 200:
            cast.append(record_id)
        else:
            errors[status] += 1
        match = RECORD_ID.search(page) if status == 200 else None
        if status != 200:
            # A refused vote (409) is not lost: ask for the next record and carry on.
            status, page = rev.request(
                "GET", f"/reviews/{slug}/screening/title-abstract/", headers=htmx
            )
            match = RECORD_ID.search(page)
    with lock:
        results.append((username, latencies, cast, errors))


def check_database(slug: str, results) -> list[str]:
    from django.db.models import Count

    from reviews.models import Review
    from screening.models import Resolution, ScreeningItem, Vote

    review = Review.objects.get(slug=slug)
    problems = []
    expected = Counter()
    for username, _, cast, _ in results:
        for record_id in cast:
            expected[(record_id, username)] += 1
    stored = Counter(
        Vote.objects.filter(review=review).values_list("record_id", "reviewer__username")
    )
    if stored != expected:
        lost = expected - stored
        extra = stored - expected
        problems.append(f"{sum(lost.values())} decisions lost, {sum(extra.values())} unexpected")
    doubled = [k for k, n in expected.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} decisions acknowledged twice for the same record")
    over = (
        Vote.objects.filter(review=review)
        .values("record_id")
        .annotate(n=Count("id"))
        .filter(n__gt=review.votes_required)
        .count()
    )
    if over:
        problems.append(f"{over} records have more than {review.votes_required} votes")
    per_item = Counter(Vote.objects.filter(review=review).values_list("record_id", "stage"))
    mismatched = sum(
        1
        for record_id, stage, n_votes in ScreeningItem.objects.filter(review=review).values_list(
            "record_id", "stage", "n_votes"
        )
        if n_votes != per_item.get((record_id, stage), 0)
    )
    if mismatched:
        problems.append(f"{mismatched} items whose vote counter differs from their votes")
    pairs = Vote.objects.filter(review=review).values("record_id").annotate(n=Count("id"))
    complete = sum(1 for p in pairs if p["n"] == review.votes_required)
    resolved = Resolution.objects.filter(review=review).count()
    conflicts = ScreeningItem.objects.filter(review=review, status="conflict").count()
    if resolved + conflicts != complete:
        problems.append(
            f"{complete} complete pairs but {resolved} resolved + {conflicts} conflicts"
        )
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--votes", type=int, default=60, help="votes per reviewer at most")
    parser.add_argument("--seconds", type=float, default=120.0, help="time limit of the run")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between votes")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument(
        "--no-prioritise", action="store_true", help="switch off relevance ranking and refits"
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    media = tempfile.mkdtemp(prefix="reviewflow-bench-media-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "REVIEWFLOW_MEDIA_ROOT": media,
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(
        {
            k: env[k]
            for k in (
                "DATABASE_URL",
                "DJANGO_SETTINGS_MODULE",
                "DJANGO_DEBUG",
                "REVIEWFLOW_MEDIA_ROOT",
            )
        }
    )
    sys.path.insert(0, str(ROOT))
    try:
        recreate_database(url)
    except Exception as exc:  # noqa: BLE001 - a clear message instead of a traceback
        sys.exit(f"PostgreSQL is needed at {url}: {exc}")
    print(f"database: {url}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    t0 = time.perf_counter()
    slug = setup_data(args.records, args.reviewers, not args.no_prioritise)
    print(
        f"loaded {args.records:,} records and {args.reviewers} reviewers in {time.perf_counter() - t0:.1f} s"
    )

    port = free_port()
    proc, kind, log = start_server(env, port, args.workers)
    print(f"server: {kind} on 127.0.0.1:{port}")
    try:
        results: list = []
        lock = threading.Lock()
        barrier = threading.Barrier(args.reviewers)
        stop_at = time.time() + args.seconds + 30  # logins happen before the clock starts
        threads = [
            threading.Thread(
                target=reviewer_loop,
                args=(
                    port,
                    f"rev{i:02d}",
                    slug,
                    args.votes,
                    stop_at,
                    results,
                    lock,
                    barrier,
                    args.think,
                ),
            )
            for i in range(args.reviewers)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.seconds + 120)
        wall = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.unlink(missing_ok=True)

    latencies = sorted(x for _, lat, _, _ in results for x in lat)
    errors = sum((e for *_, e in results), Counter())
    n_ok = sum(len(c) for _, _, c, _ in results)
    if not latencies:
        sys.exit("no request was made")
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"'record my vote and give me the next record': {len(latencies):,} requests by "
        f"{args.reviewers} concurrent reviewers in {wall:.1f} s ({len(latencies) / wall:.1f}/s; "
        f"mean think time {args.think:g} s)"
    )
    print(
        f"latency ms: p50 {1000 * statistics.median(latencies):.1f}  p95 {1000 * q[94]:.1f}  "
        f"p99 {1000 * q[98]:.1f}  max {1000 * latencies[-1]:.1f}  (target p95 < 50)"
    )
    print(f"votes acknowledged: {n_ok:,}; refused: {dict(errors) or 0}")
    problems = check_database(slug, results)
    if problems:
        print("CHECK FAILED: " + "; ".join(problems))
        sys.exit(1)
    print("check: no decision lost or doubled; no record has more than 2 votes; counters match")
    from screening.models import RankingSnapshot

    snapshots = RankingSnapshot.objects.filter(review__slug=slug).order_by("created_at")
    if snapshots:
        print(
            f"relevance ranking refitted {len(snapshots)} times in the background "
            f"(last on {snapshots.last().n_resolved} resolved decisions, "
            f"{snapshots.last().seconds:.1f} s per fit)"
        )


if __name__ == "__main__":
    main()
