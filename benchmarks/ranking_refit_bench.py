"""Cost of one app refit of the screening ranking, per 1,000 records.

Usage: ``.venv/bin/python benchmarks/ranking_refit_bench.py [--records 10000 20000]``

(Re)creates the PostgreSQL database ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/h13_refit_bench``), migrates it and loads one review
per size with real title/abstract texts (the nine labelled sets of
``../shared/data/screening/``, repeated to the size asked), 10 % of its records resolved
from their labels. Then it times :func:`screening.ranking.ranking_refit`, the whole app
refit (reading the decisions and texts, the features, the fit, the stored snapshot and
the queue writes): once cold (features built) and three times warm (features cached in
the worker, as between the refits of a review). Prints wall-clock and CPU seconds per
1,000 records; the target is under 1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench_db import imported_batch, recreate_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "screening"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/h13_refit_bench"


def load_review(n_records: int):
    """A review with ``n_records`` real records, 10 % of them resolved from their labels."""
    import pandas as pd
    from django.contrib.auth import get_user_model

    from reviews.models import Record, Review, Stage
    from screening.models import FinalDecision, Resolution
    from screening.services import items_sync

    frames = [pd.read_csv(p) for p in sorted(DATA.glob("*.csv"))]
    rows = pd.concat(frames, ignore_index=True).fillna("")
    lead, _ = get_user_model().objects.get_or_create(username="bench-lead")
    review = Review.objects.create(
        title=f"Refit benchmark {n_records}", slug=f"refit-{n_records}", created_by=lead
    )
    batch = imported_batch(review=review, n_records=n_records, filename="bench.csv", fmt="csv")
    picked = [rows.iloc[i % len(rows)] for i in range(n_records)]
    Record.objects.bulk_create(
        [
            Record(
                review=review,
                batch=batch,
                source_line=i,
                title=str(row["title"]),
                abstract=str(row["abstract"]),
            )
            for i, row in enumerate(picked)
        ],
        batch_size=2000,
    )
    items_sync(review, force=True)
    ids = list(Record.objects.filter(review=review).order_by("id").values_list("id", flat=True))
    labelled = range(0, n_records, 10)
    Resolution.objects.bulk_create(
        [
            Resolution(
                review=review,
                record_id=ids[i],
                stage=Stage.TITLE_ABSTRACT,
                decision=FinalDecision.INCLUDE
                if int(picked[i]["label_included"])
                else FinalDecision.EXCLUDE,
            )
            for i in labelled
        ],
        batch_size=2000,
    )
    return review


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[5000, 20000])
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import tempfile

    os.environ["REVIEWFLOW_CACHE_DIR"] = tempfile.mkdtemp(prefix="refit-bench-")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from screening import ranking
    from screening.prioritisation import Ranker
    from screening.prioritisation.ranker import corpus_cache_clear

    print(f"ranker: {Ranker().method}; 10 % of the records resolved; database: PostgreSQL")
    print(f"{'records':>8} {'run':>6} {'wall s':>8} {'CPU s':>7} {'wall s/1k':>10} {'CPU s/1k':>9}")
    for n in args.records:
        review = load_review(n)
        corpus_cache_clear()
        for run in ("cold", "warm", "warm", "warm"):
            wall, cpu = time.perf_counter(), time.process_time()
            ranking.ranking_refit(review)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"{n:>8} {run:>6} {wall:>8.2f} {cpu:>7.2f} {wall * 1000 / n:>10.3f} "
                f"{cpu * 1000 / n:>9.3f}",
                flush=True,
            )
    print(f"machine load (1 min): {os.getloadavg()[0]:.1f}; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
