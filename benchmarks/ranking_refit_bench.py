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
1,000 records (target: under 1 s), the process's peak RSS so far, and the size of the
review's features in memory and in their file under ``REVIEWFLOW_CACHE_DIR``. Then, per
size, a fresh child process that only refits, as a Celery worker would: it sets Django up,
imports every app's ``tasks.py``, reads the texts and runs one cold refit with an empty
feature cache, and prints its resident memory after the imports and with the texts read,
its peak (``VmHWM``), CPU and wall seconds.

Then, from the same run, the peer: ASReview 3.0.8's feature extractor of its default model
(``elas_u4``: word uni+bigram TF-IDF, ``sublinear_tf``, ``max_df`` 0.95), run in its own
virtualenv (``benchmarks/.asreview-venv``, installed on first use) on the same texts
(title + abstract), with its wall, CPU seconds, peak RSS and matrix size. ASReview keeps
no features between runs: every refit of its own rebuilds them.

Session 8 (the features kept as term counts, :class:`CompactFeatures`; matplotlib and
openpyxl imported lazily), measured at load 7-9 on 2 shared cores (wall inflated 3-5x,
CPU less so): 20,000 records, cold 9.60 s CPU (goal <= 10 s met; 42 s wall at that load),
this process's peak 643 MB (it also loaded the review), features **140 MB in memory, 137 MB
on disk (goal 150 MB met)**; warm 0.83-1.01 s CPU. The fresh worker process: 234 MB after
the imports (270 MB before the lazy imports), 286 MB with the texts, **peak 573-584 MB**
(three runs), 8.0-8.5 s CPU. The same fresh-worker measurement of the code before this
session, at the same load, on the same database: 270 / 322 MB, peak 707-708 MB, 8.9-10.3 s
CPU, 216 MB file. ASReview's feature build in the same run: 7.6 s CPU, 462 MB peak, 69 MB.
Then scipy.stats, pandas and scikit-learn out of start-up (``analysis.stats`` and
``screening.prioritisation`` load their names on first use; the apps' modules call the
engine through them), at load 6.6-7.1, same database, alternating with the code before:
the fresh worker holds **113 MB after the imports** (234 MB before), 286 MB with the texts
(reading them loads the ranker, hence scikit-learn, which imports scipy.stats and pandas
itself in ``sklearn.utils.fixes``), peak 571-577 MB (before: 574-582 MB), 9.1-9.8 s CPU
(before 8.7-9.4): the refit's peak is unchanged, since the build needs scikit-learn's
hashing, stop words and accent stripping before its peak. A web process (``django.setup()``
and ``config.urls``) starts at 114 MB instead of 237 MB.

End of session 8, main 542b248 (load 2.0, the PostgreSQL suite finishing beside it): cold
9.13 s CPU / 11.48 s wall, this process's peak 626 MB, features 140 MB in memory, 137 MB on
disk; warm 0.75-0.79 s CPU. The fresh worker process: 114 MB after the imports, 286 MB
with the texts, peak 571 MB, 8.26 s CPU / 8.89 s wall. ASReview's feature build in the same
run: 8.52 s CPU, 462 MB peak, 69 MB. Goals: <= 10 s met, cache <= 150 MB met, peak <= 400 MB
short (the libraries the build needs, the texts and the kept features are ~420 MB before
any working memory).

End of session 7, idle machine (load 0.7): cold 8.14 s wall / 7.86 s CPU, process peak
745 MB, features 219 MB in memory, 216 MB on disk; warm 0.56-0.70 s CPU. ASReview's feature
build in the same run: 5.90 s CPU, 463 MB peak, 69 MB matrix.

The compact form (session 8). The features are TF-IDF with sublinear tf and L2-normalised
rows, so every value is a function of a term count: (1 + ln count) x idf of the column,
divided by the norm of the row's block (word or character), the character block times
``char_weight`` and the row divided by its joint norm. The features are kept as the counts
(uint8; uint16 only when a count exceeds 255, which no record of the nine sets reaches: the
largest of the 28.3 M entries at 20,000 records is 81), the int32 column indices, the row
pointer, each column's idf (float32) and each row's two block norms: 5 bytes an entry
instead of float32's 8 (137 MB instead of 216 at 20,000 records). A fit computes the float rows of its labelled records
only; scoring every row sums (1 + ln count) x (idf x weight) over each row's word and
character entries, a chunk of 1,000 rows at a time (one sparse product whose rows are the
rows' two blocks; float64 sums), and the float32 matrix of all rows never exists, in the
build either (the counts are filled in place). The values agree with the float form to
3e-8 and the scores to 1e-6 (tests); the simulations of estrogens and ADHD, seeds 1-2, give
the same screening order record for record as before, so the leave-one-dataset-out table
below stands. The cost: scoring every row is ~3x the float form's one product (at ADHD's
850 records 4-8 ms against 1.5 ms a refit, decision values 14 against 7 ms with 50 labels,
56 against 54 ms with 400), so a simulation on the small sets takes up to ~15 % more CPU;
warm app refits at 20,000 0.8-1.0 s CPU against 0.6-0.7 s.

Where the cold build's memory went (fresh worker at 20,000, session 8, sampled per step):
the word block's bigram numbering (an argsort of 6 M int64 pair keys and its permuted copy)
was the largest transient; the pairs are now sorted in place and numbered by a chunked
search (-75 MB). The final arrays are uint8 from the start, the few counts above 255 kept
aside and widened at the end (a uint16 array and its uint8 copy held 84 MB at once). The
peak is now the character fill: base and texts (286 MB), the word counts (~55 MB, read a
chunk of rows at a time), the piece x text counts and the hashed n-grams of the distinct
pieces (~40 MB) and the final arrays (137 MB), plus chunk buffers and memory the allocator
keeps from the word block. The fit then adds ~115 MB (the 2,000 training rows as float32,
scikit-learn's float64 copy and liblinear's nodes) on top of the kept features.

What was tried for the character block (issue 24). Quality: leave-one-dataset-out harness
(``prioritisation_lodo.py``) on the nine labelled sets, mean over the sets of WSS@95 and
RRF@10 (seeds 1-5 where marked, else seeds 1-2); sim CPU: mean CPU s of one simulation run,
ranked until the last include as ``asreview simulate`` does (measured at machine loads of
5-10 on 2 shared cores, so +-20 %). Cost at 20,000 abstracts: one cold build of the features
alone (CPU s, peak RSS of the process, whose texts and pandas took 188 MB before it started,
and the bytes of the feature matrices).

===================================  ======  ======  =======  ==========  =========  =========
character block                      WSS@95  RRF@10  sim CPU  build CPU   peak RSS   features
===================================  ======  ======  =======  ==========  =========  =========
vocabulary 3-5, float64 (release 23) 0.437   0.467   10.5     79 s        2,233 MB   609 MB
hashed 2^20 3-5, float32             0.437   0.468   8.8      24 s        1,235 MB   351 MB
hashed, float32, max_df 0.2          0.419   0.443   5.9      23 s        927 MB (a) 218 MB
hashed, float32, max_df 0.1          0.413   0.432   --       --          --         ~165 MB
-- seeds 1-5, word block from token ids (b) --
hashed 3-5 (the default until now)   0.434   0.450   9.7      11.5 s      912 MB     293 MB
hashed 4-grams only                  0.429   0.442   4.4      6.8 s       540 MB     134 MB
**hashed 3-4 (chosen)**              0.439   0.455   7.4      9.7 s       678 MB     216 MB
same, 500-row chunks (c)             same    same    --       7.4 s       579 MB     216 MB
hashed 4-5                           (not finished in time; 3 of 9 sets)  11.1 s   663 MB     212 MB
3-4 as term counts (d)               same    same    +~15 %   --          --         137 MB
===================================  ======  ======  =======  ==========  =========  =========

(a) before the distinct words were counted in a C array (about 100 MB less since).
(b) The word uni+bigram block is now built from integer token ids with numpy, the same
matrix as scikit-learn's ``TfidfVectorizer`` but for the order of its columns (a test
compares them), and one tokenising pass serves both blocks (the word tokens are cut from
the distinct whitespace-separated pieces that the character block already needs); the
joint matrix is filled in place. With 3-5-grams that alone took the build from 22.5 s CPU
and 1,105 MB peak to 11.5 s and 912 MB (same 38.4 M entries, 293 MB). The 3-5 row of
seeds 1-5 ran the former word code.
(c) The word block's entries laid out in CSR order as they are built (no COO copy), and
texts tokenised and character rows built 500 at a time instead of 2,000 (machine load
~2 for this row, 5-10 for the rows above it, which inflates their CPU by up to ~30 %).
(d) Session 8: the same features kept as counts (see "The compact form" above); the same
screening orders, so the same WSS@95 and RRF@10. The table's peak and build columns were
measured with a driver holding the texts and pandas; the app's figures are above.

Seed-to-seed noise (seeds 1-5): the SD over seeds of the nine sets' mean WSS@95 is 0.005
(RRF@10 0.046). Paired by seed against 3-5: 4-grams only -0.0048 WSS@95 (SD 0.0031),
-0.008 RRF@10, and estrogens -0.045 (its seed SD 0.007-0.032): a drop on one set, so not
taken although it alone reaches the 150 MB cache; 3-4 +0.0046 WSS@95 (SD 0.0027), +0.005
RRF@10, no set lower by more than its seed SD (ADHD -0.009, seed SD 0.027).

The app refit at 20,000 records (this script, PostgreSQL, 3-4, 500-row chunks): cold
11.8 s CPU (15.4 s wall at load ~3), features 219 MB in memory and 216 MB on disk, the
process's peak RSS 980 MB (it also created the review's 20,000 records); warm refits
0.8-1.2 s CPU. ASReview's feature extraction of the same texts in the same run: 5.6 s
CPU, peak RSS 461 MB, 69 MB matrix (word features only). Before this session: 23.1 s,
1,298 MB peak, 296 MB (and 38 s, 2 GB, ~600 MB before issue 24). In a fresh process
that only refits (as a worker): 244 MB after Django and the libraries, 295 MB with the
texts read, peak 679 MB in the cold refit (8.7 s CPU; 779 MB with 2,000-row chunks):
the features are 219 MB of the 435 MB it adds, the rest the tokens, the word block, one
chunk's products and copies while the joint matrix is filled, and the fit. Each fit
copies the training rows: scikit-learn's ``LinearSVC`` converts them to float64 (2,000
labelled rows at 20,000: 3.9 M entries, 29 MB, 20 ms) and liblinear copies them again
into its own nodes (~59 MB); scoring every row is one float32 product (~90 ms).

Still short of issue 24's goals after session 8: the peak (573-584 MB in a fresh worker
against 400 MB). Its floor with this design is the process with scikit-learn loaded
(~235 MB: 113 MB at start-up, then scikit-learn with scipy.stats, scipy.sparse and pandas;
the refit needs scikit-learn's liblinear and hashing), the texts (52 MB) and the features
kept (137 MB): ~420 MB before any transient. Our feature
build still costs more CPU than ASReview's word-only one (the character block is most of
the difference). (Until session 8: cache 219 MB, fresh-worker peak 679 MB.)

ASReview 3.0.8 on the six sets it was run on for seeds 1-2 in the session before: WSS@95
0.421 (ours, 3-5: 0.478 on the same six sets), CPU 12.2 s a run. ``char_min_df`` 5 removes
2 % of the entries (rare n-grams are few entries; it shrinks the columns, which the hashing
already bounds); a ``char_max_features`` cap of the vocabulary keeps the vocabulary's
build cost. Pruning the common n-grams (max_df 0.2) halved the simulation's CPU but lost
on seven of the nine sets (urinary incontinence 0.341 against 0.464), beyond the
seed-to-seed noise.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from bench_db import imported_batch, recreate_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
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


ASREVIEW_FEATURES = r"""
import json, resource, sys, time
import pandas as pd
from asreview.models.feature_extractors import Tfidf
df = pd.read_csv(sys.argv[1]).fillna("")
start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fe = Tfidf(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_df=0.95)
wall, cpu = time.perf_counter(), time.process_time()
X = fe.fit_transform(df)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({
    "wall": wall, "cpu": cpu, "shape": list(X.shape),
    "bytes": int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes),
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's at the fork.
    "peak_rss_mb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024,
    "start_rss_mb": start_rss / 1024,
}))
"""


def asreview_features(review) -> dict:
    """ASReview's default feature extractor on the review's titles and abstracts."""
    import json
    import subprocess
    import tempfile

    import pandas as pd
    from prioritisation import asreview_bin

    from reviews.models import Record

    rows = Record.objects.filter(review=review, duplicate_of__isnull=True).order_by("id")
    frame = pd.DataFrame(list(rows.values("title", "abstract")))
    python = asreview_bin().parent / "python"
    with tempfile.TemporaryDirectory(prefix="refit-bench-asr-") as tmp:
        path = Path(tmp) / "records.csv"
        frame.to_csv(path, index=False)
        out = subprocess.run(
            [python, "-c", ASREVIEW_FEATURES, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident (``VmRSS``) or peak resident (``VmHWM``) memory in MB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def worker_refit(review_id: int) -> None:
    """In this (fresh) process: what a Celery worker imports, then one cold app refit of
    the review. Prints a JSON line of the memory after each step and the refit's cost."""
    import json

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from config.celery import app

    app.loader.import_default_modules()  # every app's tasks.py, as a worker at its start
    base = _rss_mb()
    from reviews.models import Review
    from screening import ranking

    review = Review.objects.get(pk=review_id)
    texts = ranking._texts(review)
    with_texts = _rss_mb()
    del texts
    wall, cpu = time.perf_counter(), time.process_time()
    ranking.ranking_refit(review)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        json.dumps(
            {
                "base_mb": base,
                "texts_mb": with_texts,
                "peak_mb": _rss_mb("VmHWM"),
                "after_mb": _rss_mb(),
                "wall": wall,
                "cpu": cpu,
                "file_mb": ranking._corpus_file(review).stat().st_size / 2**20,
            }
        )
    )


def fresh_worker_refit(review_id: int, cache_dir: str) -> dict:
    """:func:`worker_refit` in a child process with an empty feature cache (a cold build)."""
    import json
    import subprocess

    env = {**os.environ, "REVIEWFLOW_CACHE_DIR": cache_dir}
    out = subprocess.run(
        [sys.executable, __file__, "--worker-refit", str(review_id)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--worker-refit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_refit:
        worker_refit(args.worker_refit)
        return
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import tempfile

    os.environ["REVIEWFLOW_CACHE_DIR"] = tempfile.mkdtemp(prefix="refit-bench-")
    # The cold refit is timed alone: no feature build queued by the import (in this
    # process's task thread) beside it.
    os.environ["SCREENING_FEATURES_PREBUILD_MIN"] = str(10**9)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from screening import ranking
    from screening.prioritisation import Ranker
    from screening.prioritisation.ranker import VectoriserSettings, corpus_cache_clear

    print(f"ranker: {Ranker().method}; 10 % of the records resolved; database: PostgreSQL")
    print(f"features: {VectoriserSettings()}")
    print(
        f"{'records':>8} {'run':>6} {'wall s':>8} {'CPU s':>7} {'wall s/1k':>10} "
        f"{'CPU s/1k':>9} {'peak RSS MB':>12} {'in memory MB':>13} {'file MB':>8}"
    )
    reviews = []
    for n in args.records:
        review = load_review(n)
        reviews.append((n, review))
        corpus_cache_clear()
        for run in ("cold", "warm", "warm", "warm"):
            wall, cpu = time.perf_counter(), time.process_time()
            ranking.ranking_refit(review)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            corpus = _corpus_of(review)
            memory = f"{corpus.nbytes / 2**20:.0f}" if corpus else "-"
            size = ranking._corpus_file(review).stat().st_size / 2**20
            print(
                f"{n:>8} {run:>6} {wall:>8.2f} {cpu:>7.2f} {wall * 1000 / n:>10.3f} "
                f"{cpu * 1000 / n:>9.3f} {peak:>12.0f} {memory:>13} {size:>8.0f}",
                flush=True,
            )
    print(
        "\nA fresh process that only refits, as a worker (the tasks imported, then one cold "
        "refit;\nMB: after the imports, with the texts read, peak)"
    )
    print(
        f"{'records':>8} {'base MB':>8} {'texts MB':>9} {'peak MB':>8} {'wall s':>7} {'CPU s':>6} {'file MB':>8}"
    )
    for n, review in reviews:
        r = fresh_worker_refit(review.pk, tempfile.mkdtemp(prefix="refit-bench-worker-"))
        print(
            f"{n:>8} {r['base_mb']:>8.0f} {r['texts_mb']:>9.0f} {r['peak_mb']:>8.0f} "
            f"{r['wall']:>7.2f} {r['cpu']:>6.2f} {r['file_mb']:>8.0f}",
            flush=True,
        )
    print("\nASReview 3.0.8, feature extraction of elas_u4 (word uni+bigram TF-IDF), same texts")
    print(f"{'records':>8} {'wall s':>8} {'CPU s':>7} {'peak RSS MB':>12} {'matrix MB':>10}")
    for n, review in reviews:
        r = asreview_features(review)
        print(
            f"{n:>8} {r['wall']:>8.2f} {r['cpu']:>7.2f} {r['peak_rss_mb']:>12.0f} "
            f"{r['bytes'] / 2**20:>10.0f}",
            flush=True,
        )
    print(f"machine load (1 min): {os.getloadavg()[0]:.1f}; cores: {os.cpu_count()} (shared)")


def _corpus_of(review):
    """The review's corpus in this process's cache (the latest used), if kept."""
    from screening.prioritisation.ranker import _CORPUS_CACHE, _CORPUS_LOCK

    with _CORPUS_LOCK:
        return next(reversed(_CORPUS_CACHE.values()), None)


if __name__ == "__main__":
    main()
