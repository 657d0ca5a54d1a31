"""Import + de-duplication benchmark: 100,000 RIS records into SQLite and PostgreSQL.

Prints seconds (wall and CPU) and peak resident memory for
  1. parse only (reviews.importing, streaming),
  2. preview (the user's "N records read" step: the only parse pass; it also writes the
     records as insert-ready rows to a spill file, but stores nothing in the database),
  3. confirm = import + de-duplication into the database (one transaction, from the spill),
and preview + confirm together (what a user waits for in all), in a fresh child process
per database, so peak memory belongs to the import alone.

Targets (issue 2): import + dedup of 100,000 records < 10 s on 2 cores, at most 2x the bare
parse, memory < 500 MB.

Usage: python benchmarks/import_bench.py [N=100000] [--duplicates 0.05] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
PG_URL = "postgres://postgres@127.0.0.1:5432/reviewflow_bench"


def _child(step: str, path: str) -> dict:
    """Run one measured step in this (child) process and return its figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DJANGO_DEBUG"] = "false"  # DEBUG keeps every SQL query in memory
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from reviews import services
    from reviews.importing import ParsedRecord, iter_records
    from reviews.models import Record

    if step == "parse":
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.perf_counter(), time.process_time()
        with open(path, "rb") as fh:
            n = sum(1 for r in iter_records(fh) if isinstance(r, ParsedRecord))
        return _figures(t0, c0, rss0, records=n)

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    review = services.review_create(creator=user, title=f"Benchmark {time.time()}")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    with open(path, "rb") as fh:
        batch = services.import_preview(
            review=review, actor=user, file=fh, filename="big.ris", fmt="ris"
        )
    preview = _figures(t0, c0, rss0, records=batch.n_read)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    batch = services.import_confirm(batch=batch, actor=user)
    confirm = _figures(t0, c0, rss0, records=batch.n_imported, duplicates=batch.n_duplicates)
    assert Record.objects.filter(review=review).count() == batch.n_imported
    return {"preview": preview, "confirm": confirm}


def _figures(t0: float, c0: float, rss0: int, **extra) -> dict:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "cpu_s": round(time.process_time() - c0, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "rss_before_mb": round(rss0 / 1024, 1),
        **extra,
    }


def _run_child(step: str, path: str, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, path],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _postgres_ready() -> bool:
    import psycopg

    try:
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as conn:
            conn.execute("DROP DATABASE IF EXISTS reviewflow_bench")
            conn.execute("CREATE DATABASE reviewflow_bench")
        return True
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL skipped: {exc}".strip())
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return

    from ris_generate import generate_ris

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.ris"
        planted = generate_ris(path, args.n, seed=1, duplicates=args.duplicates)
        size_mb = path.stat().st_size / 1e6
        print(
            f"Generated {args.n:,} RIS records ({size_mb:.0f} MB), {planted:,} planted duplicates"
        )
        env = dict(os.environ)
        parse = _run_child("parse", str(path), env)
        print(
            f"parse only            : {parse['wall_s']:6.2f} s wall, {parse['cpu_s']:6.2f} s CPU, peak {parse['peak_rss_mb']:.0f} MB"
        )
        targets = [("SQLite", {**env, "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3"})]
        if not args.skip_postgres and _postgres_ready():
            targets.append(("PostgreSQL", {**env, "DATABASE_URL": PG_URL}))
        for label, target_env in targets:
            result = _run_child("import", str(path), target_env)
            pre, conf = result["preview"], result["confirm"]
            ratio = conf["wall_s"] / parse["wall_s"] if parse["wall_s"] else float("nan")
            print(
                f"{label:<10} preview     : {pre['wall_s']:6.2f} s wall, {pre['cpu_s']:6.2f} s CPU, peak {pre['peak_rss_mb']:.0f} MB"
            )
            print(
                f"{label:<10} import+dedup: {conf['wall_s']:6.2f} s wall, {conf['cpu_s']:6.2f} s CPU, "
                f"peak {conf['peak_rss_mb']:.0f} MB, {conf['records']:,} records, "
                f"{conf['duplicates']:,} auto-merged, {ratio:.2f}x parse"
            )
            total = pre["wall_s"] + conf["wall_s"]
            print(
                f"{label:<10} both steps  : {total:6.2f} s wall, "
                f"{pre['cpu_s'] + conf['cpu_s']:6.2f} s CPU, {total / parse['wall_s']:.2f}x parse"
            )


if __name__ == "__main__":
    main()
