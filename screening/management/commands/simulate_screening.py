"""``manage.py simulate_screening FILE.csv --label-column label_included``.

Replays a labelled data set through the app's ranking code (no database is touched) and
prints, per seed and on average, the records screened to find 95 % and 100 % of the
relevant ones, WSS@95, RRF@10, the number of refits and the wall-clock and CPU seconds
per run, and replays the hypergeometric stopping rule (ranked screening until a run of
``--switch-after`` excludes, then a random sample until the test says the target recall is
reached with the confidence asked): records screened then, the recall then and the work
saved. By default the model is refitted after every decision for the first 200 and then
after every ``floor(0.01 × labelled)`` (``--refit-fraction 0`` refits after every
``--refit-every`` decisions throughout).
"""

from __future__ import annotations

import argparse

from django.core.management.base import CommandError, CommandParser

from reviews.management.base import ReviewflowCommand
from screening.prioritisation import (
    DEFAULT_MODEL,
    MODEL_NAMES,
    USE_KEYWORDS,
    PrioritisationError,
    Ranker,
)
from screening.prioritisation.ranker import corpus_cache_clear
from screening.prioritisation.recall_test import DEFAULT_CONFIDENCE, DEFAULT_TARGET_RECALL
from screening.prioritisation.schedule import DEFAULT_REFIT_EVERY, DEFAULT_REFIT_FRACTION
from screening.prioritisation.simulation import (
    labelled_read,
    simulate,
    simulations_table,
    stopping_summary,
)


class Command(ReviewflowCommand):
    help = (
        "Simulate relevance-ordered title/abstract screening on a labelled CSV "
        "(columns title, abstract, optional keywords, a 0/1 label) and report the work saved."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file with title, abstract and a 0/1 label column")
        parser.add_argument(
            "--label-column",
            default="label_included",
            help="0/1 column holding the truth (default: label_included)",
        )
        parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
        parser.add_argument("--prior-included", type=int, default=1)
        parser.add_argument("--prior-excluded", type=int, default=1)
        parser.add_argument("--model", choices=MODEL_NAMES, default=DEFAULT_MODEL)
        parser.add_argument(
            "--refit-every",
            type=int,
            default=DEFAULT_REFIT_EVERY,
            help="refit the model after at least this many decisions (default: %(default)s)",
        )
        parser.add_argument(
            "--refit-fraction",
            type=float,
            default=DEFAULT_REFIT_FRACTION,
            help=(
                "let the batch between refits grow to floor(FRACTION x labelled records) "
                "(default: %(default)s; 0 = fixed batches of --refit-every)"
            ),
        )
        parser.add_argument(
            "--target-recall",
            type=float,
            default=DEFAULT_TARGET_RECALL,
            help="recall the stopping rule must reach (default: %(default)s)",
        )
        parser.add_argument(
            "--confidence",
            type=float,
            default=DEFAULT_CONFIDENCE,
            help="confidence of the stopping rule (default: %(default)s)",
        )
        parser.add_argument(
            "--switch-after",
            type=int,
            default=None,
            help=(
                "switch from ranked to random screening after this many consecutive "
                "excludes (default: max(20, 5 %% of the records))"
            ),
        )
        parser.add_argument(
            "--keywords",
            action=argparse.BooleanOptionalAction,
            default=USE_KEYWORDS,
            help="add the keywords column to title + abstract, as the app does "
            "(default: %(default)s)",
        )

    def handle(self, *args, **options) -> None:
        try:
            df = labelled_read(options["file"], options["label_column"])
            runs = []
            for seed in options["seeds"]:
                # Each run builds its own features, so that its seconds are a whole run's.
                corpus_cache_clear()
                runs.append(
                    simulate(
                        df,
                        options["label_column"],
                        seed,
                        prior_included=options["prior_included"],
                        prior_excluded=options["prior_excluded"],
                        refit_every=options["refit_every"],
                        refit_fraction=options["refit_fraction"],
                        ranker=Ranker(options["model"], seed=seed),
                        keywords=options["keywords"],
                        target_recall=options["target_recall"],
                        confidence=options["confidence"],
                        switch_after=options["switch_after"],
                    )
                )
        except PrioritisationError as exc:
            raise CommandError(str(exc)) from exc
        first = runs[0]
        self.stdout.write(
            f"{options['file']}: {first.records} records, {first.relevant} relevant "
            f"({options['label_column']})\n"
            f"model: {Ranker(options['model']).method}; priors: "
            f"{options['prior_included']} include + {options['prior_excluded']} exclude; "
            f"refit after max({options['refit_every']}, "
            f"floor({options['refit_fraction']} x labelled)) decisions; text: title + abstract"
            f"{' + keywords' if options['keywords'] else ''}\n"
            "n95/n100: records screened (priors included) to find 95 %/100 % of the relevant; "
            "WSS@95 = (N - n95)/N - 0.05; RRF@10 = share of relevant found after 10 % screened; "
            "CPU s = processor time of the run (wall-clock seconds depend on the machine load)\n"
            f"stopping rule: {options['target_recall']:.0%} recall with "
            f"{options['confidence']:.0%} confidence (hypergeometric test, Callaghan & "
            "Muller-Hansen 2020); switch = records screened in ranked order before random "
            "sampling; stop@ = records screened when the test said stop; recall = recall "
            "then; saved = share of the records never screened\n"
        )
        self.stdout.write(simulations_table(runs) + "\n")
        self.stdout.write(stopping_summary(runs) + "\n")
