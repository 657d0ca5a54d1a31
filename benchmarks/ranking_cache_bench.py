"""A refit worker's memory when 20 reviews refit at once: the corpus cache's byte budget.

Usage: ``.venv/bin/python benchmarks/ranking_cache_bench.py [--reviews 20] [--records 5000]
[--budgets 256 64 100000]``

For each budget (MB; ``REVIEWFLOW_RANKING_CACHE_MB``) a fresh worker process refits
``--reviews`` reviews of ``--records`` real records each (the nine labelled sets of
``../shared/data/screening/``, each review a different rotation of them, 10 % labelled)
as the app's refit task does (:meth:`Ranker.vectorise` with the review's feature file, then
:meth:`Ranker.fit`), two refit tasks at a time (a worker with two threads), every review
twice: first with its features built, then again, as the next refits of the same reviews
queue up. Prints per budget the worker's peak RSS, what the cache holds at the end, the
refits' wall and CPU seconds. The largest budget shows the memory a worker grows to when
the cache keeps everything (before issue 24 it kept 8 corpora whatever their size).
There is no peer figure: ASReview keeps no features between runs.

Measured (issue 24; 2 shared cores, load 4-20): 20 reviews x 2,000 records, features 33 MB
each. Budget 64 MB: peak RSS 912 MB, 1 corpus (33 MB) kept at the end, 68 s CPU; no
budget (100,000 MB): peak RSS 1,413 MB, all 20 kept (669 MB), 68 s CPU. The budget bounds
what the cache holds; the rest of the peak is the feature builds themselves (and memory
the allocator keeps after them), which the cache does not govern. 3,000 records, budget
64 MB: peak 978 MB, 2 kept (59 MB).
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "screening"


def worker(n_reviews: int, n_records: int, budget_mb: float) -> dict:
    """Run the refits in this process; return its figures."""
    import numpy as np
    import pandas as pd

    from screening.prioritisation import TITLE_REPEATS, USE_KEYWORDS, Ranker, record_text
    from screening.prioritisation.ranker import corpus_cache_budget, corpus_cache_info

    rows = pd.concat([pd.read_csv(p) for p in sorted(DATA.glob("*.csv"))], ignore_index=True)
    rows = rows.fillna("")
    texts = [
        record_text(t, a, k if USE_KEYWORDS else "", title_repeats=TITLE_REPEATS)
        for t, a, k in zip(rows.title, rows.abstract, rows.keywords, strict=True)
    ]
    labels = rows["label_included"].to_numpy()
    corpus_cache_budget(budget_mb)
    folder = Path(tempfile.mkdtemp(prefix="ranking-cache-bench-"))

    def refit(review: int) -> None:
        # Record ids are unique per review; the rotation makes each review's texts differ.
        start = review * 311
        picked = [(start + i) % len(texts) for i in range(n_records)]
        by_id = {review * 10**6 + i: texts[j] for i, j in enumerate(picked)}
        known = {review * 10**6 + i: int(labels[j]) for i, j in enumerate(picked) if i % 10 == 0}
        ranker = Ranker(seed=review)
        corpus = ranker.vectorise(by_id, cache_file=folder / f"review-{review}.npz")
        ranker.fit(corpus, known)

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(refit, list(range(n_reviews)) * 2))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    held, used, limit = corpus_cache_info()
    sizes = sorted(p.stat().st_size for p in folder.glob("*.npz"))
    for path in folder.glob("*.npz"):
        path.unlink()
    folder.rmdir()
    return {
        "budget_mb": limit / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "start_rss_mb": base_rss / 1024,
        "held": held,
        "held_mb": used / 2**20,
        "file_mb": float(np.median(sizes)) / 2**20,
        "wall": wall,
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=20)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--budgets", type=float, nargs="+", default=[256, 64, 100000])
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.reviews, args.records, args.worker)))
        return
    print(
        f"{args.reviews} reviews x {args.records} records, each refitted twice, two at a "
        "time, in one worker process per budget"
    )
    print(
        f"{'budget MB':>10} {'peak RSS MB':>12} {'at start':>9} {'kept':>5} {'kept MB':>8} "
        f"{'file MB':>8} {'wall s':>7} {'CPU s':>6}"
    )
    for budget in args.budgets:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--reviews",
                str(args.reviews),
                "--records",
                str(args.records),
                "--worker",
                str(budget),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['budget_mb']:>10.0f} {r['peak_rss_mb']:>12.0f} {r['start_rss_mb']:>9.0f} "
            f"{r['held']:>5} {r['held_mb']:>8.1f} {r['file_mb']:>8.1f} {r['wall']:>7.1f} "
            f"{r['cpu']:>6.1f}",
            flush=True,
        )
    print(f"machine load (1 min): {os.getloadavg()[0]:.1f}; cores: {os.cpu_count()} (shared)")


if __name__ == "__main__":
    main()
