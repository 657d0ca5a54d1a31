"""Screening prioritisation vs ASReview on the shared labelled sets.

Usage: ``.venv/bin/python benchmarks/prioritisation.py [--seeds 1 2 3 4 5] [--model NAME]
[--refit-every 1] [--refit-fraction 0.01] [--no-abstract-label]``

Prints, per data set, the simulated screening (one random prior include and exclude,
refits on the default schedule: after every decision for the first 200, then after every
``floor(0.01 × labelled)``) for each seed and the mean:

1. ``label_included`` (the final inclusions) next to the ASReview 3.0.8 reference
   (TF-IDF + SVM, max query, refit after every decision, seeds 1-3, measured on this
   kind of machine): WSS@95, RRF@10, wall-clock and CPU seconds per run;
2. ``label_abstract_screening`` (the title/abstract-stage inclusions, more of them):
   ours only, as there is no ASReview reference; the ranking must beat random
   (WSS@95 > 0) there as well.

Wall-clock seconds depend on what else runs on the (shared) machine; CPU seconds of the
process measure the cost of a run itself. The last lines give the classifier refit time
per 1,000 labelled records (the issue asks for under 1 s).
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
from screening.prioritisation.ranker import corpus_cache_clear  # noqa: E402
from screening.prioritisation.schedule import (  # noqa: E402
    DEFAULT_REFIT_EVERY,
    DEFAULT_REFIT_FRACTION,
)
from screening.prioritisation.simulation import (  # noqa: E402
    SimulationResult,
    SimulationSummary,
    labelled_read,
    labelled_texts,
    simulate,
    simulations_summarise,
)

DATA = ROOT / ".." / "shared" / "data" / "screening"
SETS = ("cohen2006_adhd", "cohen2006_proton_pump_inhibitors")

#: ASReview 3.0.8 reference (issue 7, label_included): WSS@95, n95 for seeds 1-3, RRF@10,
#: seconds per run.
ASREVIEW = {
    "cohen2006_adhd": {"wss95": 0.704, "n95": (233, 233, 162), "rrf10": 0.72, "seconds": 9.0},
    "cohen2006_proton_pump_inhibitors": {
        "wss95": 0.435,
        "n95": (677, 709, 673),
        "rrf10": 0.65,
        "seconds": 17.0,
    },
}
ASREVIEW_SEEDS = (1, 2, 3)


def refit_seconds_per_1000(df, label_column: str, model: str, repeats: int = 5) -> float:
    """Classifier refit time on 90 % of the set labelled, scaled to 1,000 labelled records."""
    ranker = Ranker(model, seed=0)
    corpus = ranker.vectorise(dict(enumerate(labelled_texts(df))))
    labels = dict(enumerate(df[label_column].astype(int)))
    # Leave 10 % unlabelled so that there is something to rank.
    train = dict(list(labels.items())[: int(0.9 * len(labels))])
    started = time.perf_counter()
    for _ in range(repeats):
        ranker.fit(corpus, train)
    return (time.perf_counter() - started) / repeats * 1000 / len(train)


def runs_simulate(df, label_column: str, args: argparse.Namespace) -> list[SimulationResult]:
    runs = []
    for seed in args.seeds:
        # Every run builds its own TF-IDF + LSA features, as an ASReview run does.
        corpus_cache_clear()
        runs.append(
            simulate(
                df,
                label_column,
                seed,
                refit_every=args.refit_every,
                refit_fraction=args.refit_fraction,
                ranker=Ranker(args.model, seed=seed),
            )
        )
    return runs


def per_seed_print(name: str, runs: list[SimulationResult], ref: dict | None) -> None:
    summary = simulations_summarise(runs)
    print(f"\n{name} ({summary.records} records, {summary.relevant} relevant)")
    asr = f" {'ASR n95':>7}" if ref else ""
    print(
        f"{'seed':>6} {'n95':>6}{asr} {'n100':>6} {'WSS@95':>7} {'RRF@10':>7} {'refits':>6} "
        f"{'s/run':>6} {'CPU s':>6}"
    )
    for r in runs:
        if ref:
            known = dict(zip(ASREVIEW_SEEDS, ref["n95"], strict=True))
            asr = f" {known.get(r.seed, ''):>7}"
        print(
            f"{r.seed:>6} {r.n95:>6}{asr} {r.n100:>6} {r.wss95:>7.3f} {r.rrf10:>7.2f} "
            f"{r.refits:>6} {r.seconds:>6.1f} {r.cpu_seconds:>6.1f}"
        )
    asr = f" {sum(ref['n95']) / len(ref['n95']):>7.0f}" if ref else ""
    print(
        f"{'mean':>6} {summary.n95:>6.0f}{asr} {summary.n100:>6.0f} {summary.wss95:>7.3f} "
        f"{summary.rrf10:>7.2f} {summary.refits:>6.0f} {summary.seconds:>6.1f} "
        f"{summary.cpu_seconds:>6.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--model", choices=MODEL_NAMES, default=DEFAULT_MODEL)
    parser.add_argument("--refit-every", type=int, default=DEFAULT_REFIT_EVERY)
    parser.add_argument("--refit-fraction", type=float, default=DEFAULT_REFIT_FRACTION)
    parser.add_argument(
        "--no-abstract-label",
        action="store_true",
        help="skip the second table (label_abstract_screening)",
    )
    args = parser.parse_args()

    print(
        f"model: {Ranker(args.model).method}; 1 prior include + 1 prior exclude; refit after "
        f"max({args.refit_every}, floor({args.refit_fraction} x labelled)) decisions; "
        f"seeds: {' '.join(map(str, args.seeds))}"
    )
    frames = {name: DATA / f"{name}.csv" for name in SETS}
    missing = [name for name, path in frames.items() if not path.is_file()]
    for name in missing:
        print(f"{name}: {frames[name]} not found, skipped")

    # ---- 1. label_included vs ASReview ------------------------------------------------
    print("\n=== label_included (final inclusions) ===")
    rows: list[tuple[str, SimulationSummary, dict, float]] = []
    for name in SETS:
        if name in missing:
            continue
        df = labelled_read(frames[name], "label_included")
        runs = runs_simulate(df, "label_included", args)
        per_seed_print(name, runs, ASREVIEW[name])
        refit = refit_seconds_per_1000(df, "label_included", args.model)
        rows.append((name, simulations_summarise(runs), ASREVIEW[name], refit))

    print("\nours vs ASReview 3.0.8 (label_included; ours: mean of the seeds above)")
    header = (
        f"{'data set':<34} {'WSS@95':>7} {'ASR':>6} {'RRF@10':>7} {'ASR':>5} "
        f"{'s/run':>6} {'CPU s':>6} {'ASR s':>6} {'refit s/1k':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, s, ref, refit in rows:
        print(
            f"{name:<34} {s.wss95:>7.3f} {ref['wss95']:>6.3f} {s.rrf10:>7.2f} "
            f"{ref['rrf10']:>5.2f} {s.seconds:>6.1f} {s.cpu_seconds:>6.1f} "
            f"{ref['seconds']:>6.0f} {refit:>10.3f}"
        )
    beaten = all(s.wss95 > ref["wss95"] for _, s, ref, _ in rows)
    faster = all(s.seconds < ref["seconds"] for _, s, ref, _ in rows)
    print(f"WSS@95 above ASReview on every set: {beaten}; faster on every set: {faster}")

    # ---- 2. label_abstract_screening, ours only ---------------------------------------
    if not args.no_abstract_label:
        print("\n=== label_abstract_screening (title/abstract-stage inclusions; no reference) ===")
        summaries = []
        for name in SETS:
            if name in missing:
                continue
            df = labelled_read(frames[name], "label_abstract_screening")
            runs = runs_simulate(df, "label_abstract_screening", args)
            per_seed_print(name, runs, None)
            summaries.append((name, simulations_summarise(runs)))
        print("\nours (label_abstract_screening; random screening has WSS@95 = 0)")
        header = (
            f"{'data set':<34} {'relevant':>8} {'WSS@95':>7} {'RRF@10':>7} {'s/run':>6} "
            f"{'CPU s':>6}"
        )
        print(header)
        print("-" * len(header))
        for name, s in summaries:
            print(
                f"{name:<34} {s.relevant:>8} {s.wss95:>7.3f} {s.rrf10:>7.2f} "
                f"{s.seconds:>6.1f} {s.cpu_seconds:>6.1f}"
            )
    print(f"\nmachine load (1 min): {os.getloadavg()[0]:.1f}; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
