"""A review of 200,000 records: the pages a lead opens, vote + next, and dedup of a new batch.

Issue 24's goals on a 200,000-record review with 20 reviewers: the dashboard, screening
overview, records list and PRISMA page < 300 ms p95; vote + next record p95 < 50 ms; the
de-duplication of an added 20,000-record batch < 10 s.

1. Builds the review in its own PostgreSQL database (``BENCH_DATABASE_URL``, default
   ``postgres://postgres@127.0.0.1:5432/reviewflow_scale``; dropped and created again):
   ``--records`` records (default 200,000), the real sets of ``../shared/data/screening``
   plus records generated like ``ris_generate.py`` (3 % planted duplicates), stored with
   the import's own row encoding and COPY; 20 reviewers, of whom pairs decide
   ``--screened`` records through the real vote service.
2. Times, with Django's test client in this process (wall-clock and CPU time, p50/p95
   over ``--repeat`` requests), the pages a lead opens: dashboard, screening overview,
   records list (first page, a deep page and the duplicates), PRISMA; then vote + next
   record, round robin over the reviewers. Prints the SQL queries per page and, with
   ``--slow``, the slowest statements of each page (for ``EXPLAIN ANALYZE``).
3. Inserts another 20,000 generated records (``--added``, some duplicating records of
   the review) as a new batch and times the de-duplication of that batch against the
   whole review (``reviews.services.duplicates_find(new_ids=...)``, what an import's
   confirmation runs after storing the rows).

No peer tool does this (rispy and ASReview have no server), so only our figures print.
Wall-clock figures depend on how busy the machine is; CPU time and query counts less so.

Run: ``.venv/bin/python benchmarks/scale.py --records 20000`` (a smaller review, quicker).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_db import imported_batch, recreate_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_scale"
SCREENING_DATA = ROOT / ".." / "shared" / "data" / "screening"
RECORD_ID = re.compile(r'data-record-id="(\d+)"')
N_REVIEWERS = 20
PASSWORD = "bench-pass-123"


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    if len(values) == 1:
        return 1000 * values[0], 1000 * values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return 1000 * statistics.median(values), 1000 * q[94]


def generated(n: int, seed: int, duplicates: float) -> Iterator:
    """``n`` records generated like ris_generate.py, parsed as an import parses them."""
    from ris_generate import generate_ris

    from reviews.importing import ParsedRecord, iter_records

    text = io.StringIO()
    generate_ris(text, n, seed=seed, duplicates=duplicates)
    data = io.BytesIO(text.getvalue().encode())
    return (r for r in iter_records(data) if isinstance(r, ParsedRecord))


def real_records() -> Iterator:
    from reviews.importing import ParsedRecord, iter_records

    for path in sorted(SCREENING_DATA.glob("*.csv")):
        with path.open("rb") as fh:
            yield from (r for r in iter_records(fh) if isinstance(r, ParsedRecord))


def store(review, parsed, filename: str) -> list[int]:
    """Store parsed records as one imported batch (the import's row encoding, COPY)."""
    from reviews.bulk import records_insert
    from reviews.models import ImportBatch, Record
    from reviews.rows import record_row

    rows = [record_row(p) for p in parsed]
    batch = imported_batch(review=review, n_records=len(rows), filename=filename, fmt="ris")
    records_insert((review.pk, batch.pk, *row) for row in rows)
    ImportBatch.objects.filter(pk=batch.pk).update(n_imported=len(rows))
    return list(Record.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))


def build(n_records: int, n_added: int, screened: int) -> tuple[object, list[int]]:
    """The review (records, reviewers, some screening); returns it and the added batch's
    parsed records, stored later."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from reviews.models import Membership, Review
    from reviews.services import duplicates_find, exclusion_reasons_seed
    from screening import services as screening

    User = get_user_model()
    lead = User.objects.create_user("bench-lead", password=PASSWORD)
    review = Review.objects.create(title="A review at scale", slug="scale", created_by=lead)
    exclusion_reasons_seed(review=review)
    Membership.objects.create(review=review, user=lead, is_lead=True)
    reviewers = []
    for i in range(N_REVIEWERS):
        user = User.objects.create_user(f"rev{i:02d}", password=PASSWORD)
        Membership.objects.create(review=review, user=user, is_reviewer=True)
        reviewers.append(user)

    t = time.perf_counter()
    real = list(real_records())
    store(review, real, "real-sets.csv")
    # One generated stream: its last `n_added` records are the batch added later, and
    # their planted duplicates copy records already in the review.
    stream = generated(max(n_records - len(real), 0) + n_added, seed=1, duplicates=0.03)
    first = [next(stream) for _ in range(max(n_records - len(real), 0))]
    store(review, first, "generated.ris")
    added = list(stream)
    n = review.records.count()
    print(f"stored {n:,} records ({len(real):,} real) in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    merged = duplicates_find(review=review)
    screening.items_sync(review, force=True)
    print(f"de-duplicated ({merged:,} merged) and queued in {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    rng = random.Random(1)
    items = list(
        review.records.filter(duplicate_of__isnull=True)
        .order_by("?")
        .values_list("id", flat=True)[:screened]
    )
    for i, record_id in enumerate(items):
        a, b = rng.sample(reviewers, 2)
        include = rng.random() < 0.1
        for user, agree in ((a, True), (b, rng.random() < 0.9)):
            decision = "include" if include == agree else "exclude"
            screening.vote_cast(
                review=review, record_id=record_id, stage="ta", actor=user, decision=decision
            )
        if i and i % 500 == 0:
            print(f"  screened {i:,} records ...")
    print(f"{len(items):,} records decided by pairs in {time.perf_counter() - t:.1f} s")
    with connection.cursor() as cursor:
        # Planner statistics and the visibility map (index-only scans) after the bulk
        # load, as autovacuum would set them a moment later.
        cursor.execute("VACUUM ANALYZE")
    return review, added


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpus.append(time.thread_time() - c)
        walls.append(time.perf_counter() - w)
    return walls, cpus


def pages(review, repeat: int, slow: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    lead = Client()
    lead.force_login(get_user_model().objects.get(username="bench-lead"))
    n_pages = (review.records.count() + 49) // 50
    slug = review.slug
    urls = {
        "dashboard": f"/reviews/{slug}/",
        "screening overview": f"/reviews/{slug}/screening/",
        "records list": f"/reviews/{slug}/records/",
        "records list, deep page": f"/reviews/{slug}/records/?page={n_pages - 1}",
        "records list, duplicates": f"/reviews/{slug}/records/?duplicates=1",
        "PRISMA": f"/reviews/{slug}/screening/prisma/",
    }
    print(
        f"\n{'page (lead)':28} {'queries':>7} {'wall p50':>9} {'p95':>8} {'CPU p50':>9} {'p95':>8}"
    )
    for name, url in urls.items():

        def get(url=url) -> None:
            response = lead.get(url)
            assert response.status_code == 200, (url, response.status_code)

        get()  # a first visit creates the review's settings rows
        with CaptureQueriesContext(connection) as ctx:
            get()
        captured = list(ctx.captured_queries)  # the next request clears the log
        walls, cpus = timed(get, repeat)
        w50, w95 = quantiles(walls)
        c50, c95 = quantiles(cpus)
        print(f"{name:28} {len(captured):7d} {w50:7.1f}ms {w95:6.1f}ms {c50:7.1f}ms {c95:6.1f}ms")
        for q in sorted(captured, key=lambda q: -float(q["time"]))[:slow]:
            print(f"    {1000 * float(q['time']):7.1f} ms  {q['sql'][:300]}")


def votes(review, n_votes: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    htmx = {"HTTP_HX_REQUEST": "true"}
    screen = f"/reviews/{review.slug}/screening/title-abstract/"
    reviewers = []
    for user in get_user_model().objects.filter(username__startswith="rev").order_by("username"):
        client = Client()
        client.force_login(user)
        page = client.get(screen, **htmx).content.decode()
        reviewers.append([client, int(RECORD_ID.search(page).group(1))])
    rng = random.Random(2)
    state = {"i": 0}

    def vote() -> None:
        reviewer = reviewers[state["i"] % len(reviewers)]
        state["i"] += 1
        client, record_id = reviewer
        response = client.post(
            f"/reviews/{review.slug}/screening/ta/records/{record_id}/vote/",
            {"decision": "include" if rng.random() < 0.1 else "exclude", "mode": "queue"},
            **htmx,
        )
        assert response.status_code == 200, response.status_code
        reviewer[1] = int(RECORD_ID.search(response.content.decode()).group(1))

    timed(vote, 2 * len(reviewers))  # warm-up
    walls, cpus = timed(vote, n_votes)
    w50, w95 = quantiles(walls)
    c50, c95 = quantiles(cpus)
    print(
        f"{'vote + next record':28} {'':7} {w50:7.1f}ms {w95:6.1f}ms {c50:7.1f}ms {c95:6.1f}ms"
        f"  ({n_votes} votes, {len(reviewers)} reviewers, no ranking)"
    )


def dedup_added(review, added: list) -> None:
    from reviews.models import Record
    from reviews.services import duplicates_find

    t = time.perf_counter()
    ids = store(review, added, "added.ris")
    stored = time.perf_counter() - t
    before = Record.objects.filter(review=review, duplicate_of__isnull=False).count()
    w, c = time.perf_counter(), time.process_time()
    merged = duplicates_find(review=review, new_ids=set(ids))
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    after = Record.objects.filter(review=review, duplicate_of__isnull=False).count()
    print(
        f"\nadded batch of {len(ids):,} records (stored in {stored:.1f} s): de-duplication "
        f"against {review.records.count() - len(ids):,} records took {wall:.2f} s wall, "
        f"{cpu:.2f} s CPU; {merged:,} merged automatically ({after - before:,} linked)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records in the review")
    parser.add_argument("--added", type=int, default=20_000, help="records in the added batch")
    parser.add_argument("--screened", type=int, default=400, help="records decided by pairs")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page")
    parser.add_argument("--votes", type=int, default=100, help="measured vote requests")
    parser.add_argument("--slow", type=int, default=0, help="list the N slowest SQL per page")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": url,
            "REDIS_URL": "",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
    )
    try:
        recreate_database(url)
    except Exception as exc:  # noqa: BLE001 - a clear message instead of a traceback
        sys.exit(f"PostgreSQL is needed at {url}: {exc}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    review, added = build(args.records, args.added, args.screened)
    pages(review, args.repeat, args.slow)
    votes(review, args.votes)
    dedup_added(review, added)


if __name__ == "__main__":
    main()
