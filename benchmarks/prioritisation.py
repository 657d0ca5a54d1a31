"""Screening prioritisation vs ASReview on the shared labelled sets.

Usage: ``.venv/bin/python benchmarks/prioritisation.py [--seeds 1 2 3 4 5] [--model NAME]
[--label-column label_included] [--refit-every 1]``

Prints, per data set, the simulated screening (one random prior include and exclude,
refit after every decision) for each seed and the mean, next to the ASReview 3.0.8
reference (TF-IDF + SVM, max query, seeds 1-3, measured on this kind of machine), and the
classifier refit time per 1,000 labelled records.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screening.prioritisation import DEFAULT_MODEL, MODEL_NAMES, Ranker  # noqa: E402
from screening.prioritisation.simulation import (  # noqa: E402
    labelled_read,
    labelled_texts,
    simulate,
    simulations_summarise,
)

DATA = ROOT / ".." / "shared" / "data" / "screening"

#: ASReview 3.0.8 reference (issue 7): WSS@95, n95 per seed 1-3, RRF@10, seconds per run.
ASREVIEW = {
    "cohen2006_adhd": {"wss95": 0.704, "n95": (233, 233, 162), "rrf10": 0.72, "seconds": 9.0},
    "cohen2006_proton_pump_inhibitors": {
        "wss95": 0.435,
        "n95": (677, 709, 673),
        "rrf10": 0.65,
        "seconds": 17.0,
    },
}


def refit_seconds_per_1000(df, label_column: str, model: str, repeats: int = 5) -> float:
    """Classifier refit time on every labelled record of the set, scaled to 1,000 records."""
    ranker = Ranker(model, seed=0)
    texts = dict(enumerate(labelled_texts(df)))
    corpus = ranker.vectorise(texts)
    labels = dict(enumerate(df[label_column].astype(int)))
    # Leave 10 % unlabelled so that there is something to rank.
    train = dict(list(labels.items())[: int(0.9 * len(labels))])
    started = time.perf_counter()
    for _ in range(repeats):
        ranker.fit(corpus, train)
    return (time.perf_counter() - started) / repeats * 1000 / len(train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--model", choices=MODEL_NAMES, default=DEFAULT_MODEL)
    parser.add_argument("--label-column", default="label_included")
    parser.add_argument("--refit-every", type=int, default=1)
    args = parser.parse_args()

    print(
        f"model: {Ranker(args.model).method}; label: {args.label_column}; "
        f"refit every {args.refit_every}; 1 prior include + 1 prior exclude"
    )
    rows = []
    for name, ref in ASREVIEW.items():
        path = DATA / f"{name}.csv"
        if not path.is_file():
            print(f"{name}: {path} not found, skipped")
            continue
        df = labelled_read(path, args.label_column)
        runs = [
            simulate(
                df,
                args.label_column,
                seed,
                refit_every=args.refit_every,
                ranker=Ranker(args.model, seed=seed),
            )
            for seed in args.seeds
        ]
        summary = simulations_summarise(runs)
        print(f"\n{name} ({summary.records} records, {summary.relevant} relevant)")
        print(f"{'seed':>6} {'n95':>6} {'n100':>6} {'WSS@95':>7} {'RRF@10':>7} {'s/run':>6}")
        for r in runs:
            print(
                f"{r.seed:>6} {r.n95:>6} {r.n100:>6} {r.wss95:>7.3f} {r.rrf10:>7.2f} "
                f"{r.seconds:>6.1f}"
            )
        print(
            f"{'mean':>6} {summary.n95:>6.0f} {summary.n100:>6.0f} {summary.wss95:>7.3f} "
            f"{summary.rrf10:>7.2f} {summary.seconds:>6.1f}"
        )
        refit = refit_seconds_per_1000(df, args.label_column, args.model)
        rows.append((name, summary, ref, refit))

    if args.label_column != "label_included":
        print("\n(the ASReview reference is for label_included only)")
        return
    print("\nours vs ASReview 3.0.8 (label_included)")
    header = (
        f"{'data set':<34} {'WSS@95':>7} {'ASR':>6} {'RRF@10':>7} {'ASR':>5} "
        f"{'s/run':>6} {'ASR':>5} {'refit s/1k':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, summary, ref, refit in rows:
        print(
            f"{name:<34} {summary.wss95:>7.3f} {ref['wss95']:>6.3f} {summary.rrf10:>7.2f} "
            f"{ref['rrf10']:>5.2f} {summary.seconds:>6.1f} {ref['seconds']:>5.0f} {refit:>10.3f}"
        )
    beaten = all(s.wss95 > ref["wss95"] for _, s, ref, _ in rows)
    faster = all(s.seconds < ref["seconds"] for _, s, ref, _ in rows)
    print(f"\nWSS@95 above ASReview on every set: {beaten}; faster on every set: {faster}")
    print(
        f"seeds: {' '.join(map(str, args.seeds))}; machine load (1 min): {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
