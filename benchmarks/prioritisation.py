"""Screening prioritisation vs ASReview 3.0.8, on every labelled set, in one run.

Usage: ``.venv/bin/python benchmarks/prioritisation.py [--seeds 1 2 3 4 5] [--sets NAME ...]
[--refresh-asreview] [--data-dir DIR]``

For each of the labelled sets in ``../shared/data/screening/`` (``label_included``) and each
seed, both tools screen the whole set from the same prior knowledge: one include and one
exclude drawn by :func:`~screening.prioritisation.simulation.prior_rows` (ours) and handed to
``asreview simulate --prior-idx ROWS --seed SEED`` (ASReview's default model, ``elas_u4``:
TF-IDF uni+bigrams, SVM, max query, refit after every decision). Printed per set and as
the mean over the sets: WSS@95, WSS@100, RRF@5, RRF@10, records to the last include and
CPU seconds per run, ours, ASReview's and ours minus theirs.

ASReview runs in a virtualenv of its own (``benchmarks/.asreview-venv``, gitignored),
which this script creates and fills from PyPI when it is missing: it is never a dependency
of the app. Its results are cached in ``benchmarks/.asreview-cache.json`` (gitignored),
keyed by data file, seed and prior rows, so that tuning runs do not repeat it;
``--refresh-asreview`` measures it again. ASReview's CPU seconds are those of its
``asreview simulate`` process, which includes starting Python and importing its libraries
(printed separately, as ``startup``); ours are the simulation's own, from building the
features until every include is found and the stopping rule's replay has the run of
excludes it reads after that (``simulate(until_all_found=True)``): ASReview stops at the
last include too, and no metric depends on the order of the excludes after it. (Before
issue 24 ours ranked every record to the end, which made the last, largest refits count.)

The last lines give the cost of one app refit per 1,000 records (features cached, as in
the app's refit worker; and building the features, paid once per review).

Measured with the hashed float32 character 3- and 4-grams and the word block from token ids
(issue 24), seeds 1-5, 9 sets, one invocation (ASReview's 45 runs first, at load ~5-6 on 2
shared cores, 6 of them from a run started minutes before on the same code; ours after, at
load ~2-5):

    mean over sets       ours    ASReview
    WSS@95               0.439   0.396    (ours >= on 7 of 9; ADHD 0.736 vs 0.740, PPI 0.425 vs 0.433)
    RRF@10               0.455   0.465    (short: ADHD 0.650 vs 0.730, antihistamines 0.362 vs 0.412)
    CPU s per run        5.9     9.7      (ours <= on 9 of 9; ADHD 7.3 vs 9.1, atypical 11.5 vs 22.0)
    recall at the stopping rule's stop >= 95 % in 45 of 45 runs

End of session 8 (main 542b248 plus the simulation's float features, ``Corpus.expanded``),
seeds 1-3, 9 sets, ASReview's 27 runs then ours in one invocation, idle (load 1.0):

    mean over sets       ours    ASReview
    WSS@95               0.440   0.392    (ours >= on 7 of 9; ADHD 0.751 vs 0.756, PPI 0.423 vs 0.426)
    RRF@10               0.477   0.468
    CPU s per run        6.4     8.8      (ours <= on 9 of 9; ADHD 6.6 vs 6.6, the first set,
                                           which pays the lazy import of scikit-learn)
    recall at the stopping rule's stop >= 95 % in 27 of 27 runs

With the compact features scored in chunks at every refit (as the app's worker does, before
``Corpus.expanded``), the same run gave ours 8.3 s against 8.8, higher on 4 of 9 sets (ADHD
10.5 vs 6.6): a simulation refits hundreds of times in one process, so it now forms the
float features once; the metrics were identical.

On seven labelled sets the ranker was never tuned on (session 8, ``--data-dir``; the sets of
the same MIT-licensed collection that are not in ``../shared``, from
github.com/asreview/systematic-review-datasets ``datasets/*/output/*.csv``: Bannach-Brown
2019, Kitchenham 2010, Nagtegaal 2019 and Cohen 2006's beta blockers, opioids, skeletal
muscle relaxants, triptans), seeds 1-3, ASReview then ours in one invocation, load 4-10:

    mean over sets       ours    ASReview
    WSS@95               0.542   0.526    (ours >= on 3 of 7: beta blockers 0.655 vs 0.730,
                                           Nagtegaal 0.685 vs 0.730, Kitchenham 0.655 vs 0.670,
                                           skeletal muscle relaxants 0.303 vs 0.311 trail)
    WSS@100              0.370   0.287    (ours >= on 5 of 7)
    RRF@10               0.616   0.619
    CPU s per run        15.6    28.4     (ours <= on 7 of 7; Nagtegaal, 2,019 records:
                                           12.4 vs 28.3)
    recall at the stopping rule's stop >= 95 % in 21 of 21 runs

Before (3- to 5-grams, the previous word code): WSS@95 0.434, RRF@10 0.450, CPU 8.8 against
11.3 (ADHD 11.1 against 9.5, the one set where ours cost more).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screening.prioritisation import TITLE_REPEATS, USE_KEYWORDS, Ranker  # noqa: E402
from screening.prioritisation.ranker import corpus_cache_clear  # noqa: E402
from screening.prioritisation.simulation import (  # noqa: E402
    StoppingRun,
    labelled_read,
    labelled_texts,
    prior_rows,
    records_to_recall,
    relevant_found_fraction,
    simulate,
    work_saved_over_sampling,
)

DATA = ROOT.parent / "shared" / "data" / "screening"
LABEL = "label_included"
ASREVIEW_VERSION = "3.0.8"
VENV = ROOT / "benchmarks" / ".asreview-venv"
CACHE = ROOT / "benchmarks" / ".asreview-cache.json"
METRICS = ("wss95", "wss100", "rrf5", "rrf10", "last", "cpu")
HEADS = {
    "wss95": "WSS@95",
    "wss100": "WSS@100",
    "rrf5": "RRF@5",
    "rrf10": "RRF@10",
    "last": "to last",
    "cpu": "CPU s",
}


@dataclass(frozen=True)
class Run:
    """One screening order's metrics (``labels`` in screening order, priors first)."""

    wss95: float
    wss100: float
    rrf5: float
    rrf10: float
    last: int
    cpu: float

    @classmethod
    def of(cls, labels: np.ndarray, cpu: float) -> Run:
        return cls(
            wss95=work_saved_over_sampling(labels, 0.95),
            wss100=work_saved_over_sampling(labels, 1.0),
            rrf5=relevant_found_fraction(labels, 0.05),
            rrf10=relevant_found_fraction(labels, 0.10),
            last=records_to_recall(labels, 1.0),
            cpu=cpu,
        )


def data_sets(names: list[str] | None, data_dir: Path = DATA) -> dict[str, Path]:
    found = {p.stem: p for p in sorted(data_dir.glob("*.csv"))}
    if not found:
        sys.exit(f"no labelled set (*.csv with {LABEL}) in {data_dir}")
    if not names:
        return found
    unknown = [n for n in names if n not in found]
    if unknown:
        sys.exit(f"unknown data set(s) {', '.join(unknown)}; have {', '.join(found)}")
    return {n: found[n] for n in names}


# ---- ASReview ------------------------------------------------------------------------


def asreview_bin() -> Path:
    """``asreview`` of the benchmark's own virtualenv, installed on first use."""
    exe = VENV / "bin" / "asreview"
    if exe.exists():
        out = subprocess.run(
            [exe, "--version"],
            capture_output=True,
            text=True,
            check=False,
            cwd=tempfile.gettempdir(),
        )
        if ASREVIEW_VERSION in out.stdout:
            return exe
        shutil.rmtree(VENV)
    print(f"installing asreview=={ASREVIEW_VERSION} into {VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [VENV / "bin" / "pip", "install", "-q", f"asreview=={ASREVIEW_VERSION}"], check=True
    )
    return exe


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def asreview_startup_cpu(exe: Path) -> float:
    """CPU seconds of starting ``asreview`` and importing it (``asreview simulate --help``)."""
    before = _children_cpu()
    subprocess.run(
        [exe, "simulate", "--help"], capture_output=True, check=True, cwd=tempfile.gettempdir()
    )
    return _children_cpu() - before


def asreview_simulate(exe: Path, path: Path, seed: int, priors: tuple[int, ...]) -> dict:
    """Run ``asreview simulate``; its screening order (row numbers) and CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="asreview-bench-") as tmp:
        project = Path(tmp) / "run.asreview"
        before = _children_cpu()
        subprocess.run(
            [
                exe,
                "simulate",
                str(path),
                "--prior-idx",
                *map(str, priors),
                "--seed",
                str(seed),
                "--output",
                str(project),
            ],
            capture_output=True,
            check=True,
            cwd=tmp,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        cpu = _children_cpu() - before
        with zipfile.ZipFile(project) as archive:
            archive.extract("results.db", tmp)
        with sqlite3.connect(Path(tmp) / "results.db") as db:
            # Labelled records in the order they were labelled (priors first); a record's id
            # is its row in the data set, but map it through the record table to be sure.
            rows = db.execute(
                "SELECT record.dataset_row FROM results JOIN record USING (record_id) "
                "ORDER BY results.rowid"
            ).fetchall()
    return {"order": [int(r[0]) for r in rows], "cpu": cpu}


def asreview_runs(
    sets: dict[str, Path], seeds: list[int], refresh: bool
) -> dict[tuple[str, int], dict]:
    cache = json.loads(CACHE.read_text()) if CACHE.exists() and not refresh else {}
    exe = None
    out = {}
    for name, path in sets.items():
        labels = labelled_read(path, LABEL)[LABEL].to_numpy()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for seed in seeds:
            priors = prior_rows(labels, seed)
            key = f"{ASREVIEW_VERSION}:{name}:{digest}:{seed}:{','.join(map(str, priors))}"
            if key not in cache:
                exe = exe or asreview_bin()
                print(f"asreview simulate {name} seed {seed} ...", flush=True)
                cache[key] = asreview_simulate(exe, path, seed, priors)
                CACHE.write_text(json.dumps(cache))
            if cache[key]["order"][: len(priors)] != list(priors):
                sys.exit(f"ASReview did not start {name} seed {seed} from the priors {priors}")
            out[(name, seed)] = cache[key]
    return out


def asreview_metrics(labels: np.ndarray, run: dict) -> Run:
    """Metrics of an ASReview order; it stops at the last include, the rest are excludes."""
    in_order = labels[np.array(run["order"])]
    if in_order.sum() != labels.sum():
        raise RuntimeError("ASReview stopped before the last include")
    padded = np.concatenate([in_order, np.zeros(len(labels) - len(in_order), dtype=int)])
    return Run.of(padded, run["cpu"])


# ---- ours ----------------------------------------------------------------------------


def ours_metrics(df, seed: int) -> tuple[Run, StoppingRun]:
    # Every run builds its own features, as an ASReview run does.
    corpus_cache_clear()
    # Ranked until every include is found (and the stopping rule's replay has the run of
    # excludes it reads after that), as asreview simulate stops at the last include.
    result = simulate(df, LABEL, seed, keywords=USE_KEYWORDS, until_all_found=True)
    return Run.of(np.array(result.labels_in_order), result.cpu_seconds), result.stopping


def refit_cost(df) -> tuple[float, float]:
    """(classifier refit, feature build) CPU seconds per 1,000 records of the set.

    The refit ranks the whole set after training on 90 % of it (the most labels a
    refit ever sees), from cached features as the app's refit worker does.
    """
    corpus_cache_clear()
    ranker = Ranker(seed=0)
    texts = dict(enumerate(labelled_texts(df, keywords=USE_KEYWORDS)))
    started = time.process_time()
    corpus = ranker.vectorise(texts)
    build = time.process_time() - started
    labels = dict(enumerate(df[LABEL].astype(int)))
    train = dict(list(labels.items())[: int(0.9 * len(labels))])
    repeats = 5
    started = time.process_time()
    for _ in range(repeats):
        ranker.fit(corpus, train)
    fit = (time.process_time() - started) / repeats
    return fit * 1000 / len(df), build * 1000 / len(df)


# ---- report --------------------------------------------------------------------------


def _fmt(metric: str, value: float) -> str:
    if metric == "last":
        return f"{value:>7.0f}"
    if metric == "cpu":
        return f"{value:>7.1f}"
    return f"{value:>7.3f}"


def table(rows: dict[str, tuple[list[Run], list[Run]]]) -> str:
    """Per set: mean of each metric for ours, ASReview's and the difference."""
    head1 = f"{'':<34}" + "".join(f" {HEADS[m]:^23}" for m in METRICS)
    head2 = f"{'data set':<34}" + "".join(f" {'ours':>7} {'ASR':>7} {'Δ':>7}" for _ in METRICS)
    lines = [head1, head2, "-" * len(head2)]
    means = {m: ([], []) for m in METRICS}
    for name, (ours, theirs) in rows.items():
        cells = []
        for m in METRICS:
            a = float(np.mean([getattr(r, m) for r in ours]))
            b = float(np.mean([getattr(r, m) for r in theirs]))
            means[m][0].append(a)
            means[m][1].append(b)
            cells.append(f" {_fmt(m, a)} {_fmt(m, b)} {_fmt(m, a - b)}")
        lines.append(f"{name.removeprefix('cohen2006_'):<34}" + "".join(cells))
    lines.append("-" * len(head2))
    cells = []
    for m in METRICS:
        a, b = float(np.mean(means[m][0])), float(np.mean(means[m][1]))
        cells.append(f" {_fmt(m, a)} {_fmt(m, b)} {_fmt(m, a - b)}")
    lines.append(f"{'mean':<34}" + "".join(cells))
    wins = sum(a >= b for a, b in zip(*means["wss95"], strict=True))
    lines.append(
        f"WSS@95 ours >= ASReview on {wins} of {len(rows)} sets; mean difference "
        f"{np.mean(means['wss95'][0]) - np.mean(means['wss95'][1]):+.3f} "
        f"(target: >= +0.030 and >= on {len(rows) - 1} of {len(rows)}); RRF@10 mean difference "
        f"{np.mean(means['rrf10'][0]) - np.mean(means['rrf10'][1]):+.3f} (target: >= 0)"
    )
    return "\n".join(lines)


def stopping_table(stops: dict[str, list[StoppingRun]]) -> str:
    """Our stopping rule per set: records at stop and recall then, per seed; work saved."""
    first = next(iter(stops.values()))[0]
    lines = [
        f"\nstopping rule (ours only; ASReview has none): {first.target_recall:.0%} recall, "
        f"{first.confidence:.0%} confidence; ranked until max(20, 5 % of N) consecutive "
        "excludes, then random sampling until the hypergeometric test says stop",
        f"{'data set':<26} {'N':>5} {'stop at (per seed)':<34} {'recall at stop (per seed)':<36} "
        f"{'saved':>6}",
    ]
    all_runs = []
    for name, runs in stops.items():
        all_runs += runs
        lines.append(
            f"{name.removeprefix('cohen2006_'):<26} {runs[0].records:>5} "
            f"{' '.join(f'{r.screened:>5}' for r in runs):<34} "
            f"{' '.join(f'{r.recall:>6.3f}' for r in runs):<36} "
            f"{np.mean([r.work_saved for r in runs]):>6.3f}"
        )
    met = sum(r.recall >= r.target_recall for r in all_runs)
    lines.append(
        f"recall at stop >= {first.target_recall:.0%} in {met} of {len(all_runs)} runs "
        f"({met / len(all_runs):.1%}; target >= 95 %); mean work saved "
        f"{np.mean([r.work_saved for r in all_runs]):.3f}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--sets", nargs="+", help="data set names (file stems); default: all")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA,
        help=f"folder of labelled sets in the same format (default {DATA})",
    )
    parser.add_argument(
        "--refresh-asreview", action="store_true", help="run ASReview again, not from cache"
    )
    args = parser.parse_args()
    sets = data_sets(args.sets, args.data_dir)
    print(
        f"ours: {Ranker().method}, word + character TF-IDF of title ×{TITLE_REPEATS} + abstract"
        f"{' + keywords' if USE_KEYWORDS else ''}; ASReview {ASREVIEW_VERSION}: default model (elas_u4); "
        f"{LABEL}; 1 prior include + 1 prior exclude, the same rows for both per seed; "
        f"seeds: {' '.join(map(str, args.seeds))}",
        flush=True,
    )
    theirs = asreview_runs(sets, args.seeds, args.refresh_asreview)
    rows: dict[str, tuple[list[Run], list[Run]]] = {}
    stops: dict[str, list[StoppingRun]] = {}
    costs = {}
    for name, path in sets.items():
        df = labelled_read(path, LABEL)
        labels = df[LABEL].to_numpy()
        ours_runs = [ours_metrics(df, seed) for seed in args.seeds]
        ours = [run for run, _ in ours_runs]
        stops[name] = [stop for _, stop in ours_runs]
        asr = [asreview_metrics(labels, theirs[(name, seed)]) for seed in args.seeds]
        rows[name] = (ours, asr)
        costs[name] = (len(df), *refit_cost(df))
        print(
            f"{name}: WSS@95 per seed ours "
            f"{' '.join(f'{r.wss95:.3f}' for r in ours)} | ASReview "
            f"{' '.join(f'{r.wss95:.3f}' for r in asr)}",
            flush=True,
        )
    print(
        "\nWSS@p = (N - records to find p of the includes)/N - (1 - p); RRF@q = share of the "
        "includes found after q of the records; to last = records screened to the last "
        "include; priors count as screened; means over the seeds\n"
    )
    print(table(rows))
    print(stopping_table(stops))
    exe = asreview_bin()
    print(
        f"\nASReview's CPU s include starting its process: {asreview_startup_cpu(exe):.1f} s "
        "(asreview simulate --help)"
    )
    print("\napp refit cost (CPU s per 1,000 records; target < 1 s)")
    print(f"{'data set':<34} {'records':>8} {'refit':>8} {'features':>9}")
    for name, (n, fit, build) in costs.items():
        print(f"{name.removeprefix('cohen2006_'):<34} {n:>8} {fit:>8.3f} {build:>9.3f}")
    print(f"\nmachine load (1 min): {os.getloadavg()[0]:.1f}; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
