"""Replay a labelled screening data set through the ranker and measure the work saved.

The simulated reviewer starts from ``prior_included`` random includes and
``prior_excluded`` random excludes (the "prior knowledge"), then always screens the
top-ranked record, whose true label becomes known at once; the ranker is refitted on the
schedule of :mod:`~screening.prioritisation.schedule` (after every decision for the first
couple of hundred, then after every ``floor(refit_fraction × labelled)``; with
``refit_fraction=0`` after every ``refit_every``). This is the loop the app runs, with the
same :class:`~screening.prioritisation.ranker.Ranker`.

Metrics follow the definitions of the screening-prioritisation literature [1]_ [2]_. The
prior records count as screened (the reviewer did read them), so ``n95`` and the RRF
are measured over the full screening order, and ``N`` is every record of the set.

References
----------
.. [1] Cohen AM, Hersh WR, Peterson K, Yen PY (2006). Reducing workload in systematic
   review preparation using automated citation classification. JAMIA 13(2):206-219.
   doi:10.1197/jamia.M1929 (work saved over sampling, WSS@95).
.. [2] van de Schoot R, de Bruin J, Schram R, et al. (2021). An open source machine
   learning framework for efficient and transparent systematic reviews. Nature Machine
   Intelligence 3:125-133. doi:10.1038/s42256-020-00287-7 (relevant records found, RRF@10).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import PrioritisationError
from .ranker import DEFAULT_MODEL, TITLE_REPEATS, USE_KEYWORDS, Ranker, record_text
from .recall_test import DEFAULT_CONFIDENCE, DEFAULT_TARGET_RECALL, recall_test
from .schedule import DEFAULT_REFIT_EVERY, DEFAULT_REFIT_FRACTION, refit_interval

# --------------------------------------------------------------------------------------
# Metrics on a screening order
# --------------------------------------------------------------------------------------


def _labels_array(labels_in_order: Sequence[int]) -> np.ndarray:
    labels = np.asarray(labels_in_order)
    if labels.ndim != 1 or labels.size == 0:
        raise PrioritisationError("A screening order needs at least one labelled record.")
    if not np.isin(labels, (0, 1)).all():
        raise PrioritisationError("Labels in a screening order must be 0 or 1.")
    if labels.sum() == 0:
        raise PrioritisationError("The screening order contains no relevant record.")
    return labels.astype(np.int64)


def _ceil(x: float) -> int:
    # Round away float noise first: 0.1 * 850 is 85.00000000000001, whose ceiling is 86.
    return math.ceil(round(x, 9))


def records_to_recall(labels_in_order: Sequence[int], recall: float = 0.95) -> int:
    """Records screened, in this order, until ``ceil(recall × relevant)`` are found."""
    if not 0 < recall <= 1:
        raise PrioritisationError(f"Recall must be in (0, 1], got {recall}.")
    labels = _labels_array(labels_in_order)
    needed = _ceil(recall * labels.sum())
    return int(np.searchsorted(np.cumsum(labels), needed) + 1)


def work_saved_over_sampling(labels_in_order: Sequence[int], recall: float = 0.95) -> float:
    """WSS@recall = (N − n_recall) / N − (1 − recall) (Cohen et al. 2006)."""
    labels = _labels_array(labels_in_order)
    n = len(labels)
    return (n - records_to_recall(labels, recall)) / n - (1 - recall)


def relevant_found_fraction(labels_in_order: Sequence[int], screened: float = 0.10) -> float:
    """RRF@screened: share of the relevant records found after ``ceil(screened × N)`` records."""
    if not 0 < screened <= 1:
        raise PrioritisationError(f"Screened fraction must be in (0, 1], got {screened}.")
    labels = _labels_array(labels_in_order)
    k = _ceil(screened * len(labels))
    return float(labels[:k].sum() / labels.sum())


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def labelled_read(path: str | Path, label_column: str) -> pd.DataFrame:
    """Read a labelled CSV (title, abstract, optional keywords, a 0/1 label column)."""
    path = Path(path)
    if not path.is_file():
        raise PrioritisationError(f"No such file: {path}")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise PrioritisationError(f"{path.name} is not a readable CSV file: {exc}") from exc
    labelled_check(df, label_column)
    return df


def labelled_check(df: pd.DataFrame, label_column: str) -> None:
    """Raise a :class:`PrioritisationError` naming what the data set lacks."""
    missing = [c for c in ("title", label_column) if c not in df.columns]
    if missing:
        raise PrioritisationError(
            f"The data set lacks column(s) {', '.join(missing)}; "
            f"columns present: {', '.join(map(str, df.columns))}."
        )
    labels = df[label_column]
    if labels.isna().any():
        raise PrioritisationError(f"Column {label_column!r} has missing labels.")
    if not labels.isin([0, 1]).all():
        raise PrioritisationError(f"Column {label_column!r} must hold 0/1 labels only.")
    if labels.sum() == 0 or labels.sum() == len(labels):
        raise PrioritisationError(
            f"Column {label_column!r} needs at least one relevant and one irrelevant record."
        )


def labelled_texts(
    df: pd.DataFrame, *, keywords: bool = False, title_repeats: int = TITLE_REPEATS
) -> list[str]:
    """Title + abstract (+ keywords if asked) of each row, joined as the app joins them."""
    blank = pd.Series([""] * len(df), index=df.index)
    titles = df["title"] if "title" in df.columns else blank
    abstracts = df["abstract"] if "abstract" in df.columns else blank
    words = df["keywords"] if keywords and "keywords" in df.columns else blank
    return [
        record_text(t, a, k, title_repeats=title_repeats)
        for t, a, k in zip(titles, abstracts, words, strict=True)
    ]


# --------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------


def prior_rows(
    labels: Sequence[int] | np.ndarray, seed: int, prior_included: int = 1, prior_excluded: int = 1
) -> tuple[int, ...]:
    """Row positions of the prior knowledge of run ``seed``: random includes, then excludes.

    The benchmark hands the same rows to ASReview (``--prior-idx``), so that both tools
    start every seed from the same records.
    """
    labels = np.asarray(labels)
    included = np.flatnonzero(labels == 1)
    excluded = np.flatnonzero(labels == 0)
    if prior_included > len(included) or prior_excluded > len(excluded):
        raise PrioritisationError(
            f"Asked for {prior_included} prior includes and {prior_excluded} prior excludes; "
            f"the set has {len(included)} includes and {len(excluded)} excludes."
        )
    rng = np.random.default_rng(seed)
    return tuple(
        [int(r) for r in rng.choice(included, prior_included, replace=False)]
        + [int(r) for r in rng.choice(excluded, prior_excluded, replace=False)]
    )


@dataclass(frozen=True)
class StoppingRun:
    """The hypergeometric stopping rule replayed on one simulated screening.

    Ranked screening until ``switched_at`` records (the first time ``switch_after``
    consecutive excludes were screened), then a random sample of the rest until the
    test of :func:`~screening.prioritisation.recall_test.recall_test` said stop, after
    ``screened`` records with ``found`` of the ``relevant`` includes.
    """

    target_recall: float
    confidence: float
    correction: bool
    switch_after: int
    switched_at: int
    ranked_found: int
    screened: int
    found: int
    relevant: int
    records: int

    @property
    def recall(self) -> float:
        return self.found / self.relevant

    @property
    def work_saved(self) -> float:
        """Share of the records never screened."""
        return 1 - self.screened / self.records


def default_switch_after(records: int) -> int:
    """Consecutive excludes in ranked order after which the simulation samples at random.

    ``max(20, ceil(5 % of the records))``: a run that long means the ranking has stopped
    finding includes for now, the state in which the lead would switch the queue.
    """
    return max(20, _ceil(0.05 * records))


def stopping_replay(
    labels: np.ndarray,
    order: Sequence[int],
    seed: int,
    *,
    target_recall: float = DEFAULT_TARGET_RECALL,
    confidence: float = DEFAULT_CONFIDENCE,
    switch_after: int | None = None,
    correction: bool = True,
) -> StoppingRun:
    """Replay the stopping rule on a ranked screening ``order`` of rows with ``labels``.

    The ranked phase is the head of ``order`` up to the first run of ``switch_after``
    excludes (or the whole order); the sampling phase screens the other records in a
    random order seeded by ``seed`` and stops at the first record after which the test
    rejects "recall below target" (or when every record is screened).
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    switch_after = switch_after or default_switch_after(n)
    ranked_labels = labels[np.asarray(order, dtype=np.intp)]
    run, switched_at = 0, len(ranked_labels)
    for i, label in enumerate(ranked_labels, start=1):
        run = 0 if label else run + 1
        if run >= switch_after:
            switched_at = i
            break
    ranked = np.asarray(order[:switched_at], dtype=np.intp)
    ranked_found = int(labels[ranked].sum())
    rest = np.setdiff1d(np.arange(n), ranked)
    sample = labels[np.random.default_rng([seed, 2]).permutation(rest)]
    sampled, k = 0, 0

    def test():
        return recall_test(
            records=n,
            ranked_screened=switched_at,
            ranked_found=ranked_found,
            sampled=sampled,
            sample_found=k,
            target_recall=target_recall,
            confidence=confidence,
            correction=correction,
        )

    state = test()
    while not state.stop and sampled < len(sample):
        # All excludes until the test could stop: jump there, unless an include comes first.
        upto = min(sampled + max(state.more_needed, 1), len(sample))
        hits = np.flatnonzero(sample[sampled:upto])
        if hits.size:
            sampled += int(hits[0]) + 1
            k += 1
        else:
            sampled = upto
        state = test()
    return StoppingRun(
        target_recall=target_recall,
        confidence=confidence,
        correction=correction,
        switch_after=switch_after,
        switched_at=switched_at,
        ranked_found=ranked_found,
        screened=switched_at + sampled,
        found=ranked_found + k,
        relevant=int(labels.sum()),
        records=n,
    )


@dataclass(frozen=True)
class SimulationResult:
    """One simulated screening run. ``order`` holds row positions of the data set."""

    label_column: str
    seed: int
    model: str
    refit_every: int
    refit_fraction: float
    records: int
    relevant: int
    prior_rows: tuple[int, ...]
    order: tuple[int, ...]
    labels_in_order: tuple[int, ...]
    n95: int
    n100: int
    wss95: float
    rrf10: float
    seconds: float
    cpu_seconds: float
    refits: int
    stopping: StoppingRun | None = None

    @property
    def found_curve(self) -> tuple[int, ...]:
        """Relevant records found after each screened record (the progress curve)."""
        return tuple(int(x) for x in np.cumsum(self.labels_in_order))


def simulate(
    df: pd.DataFrame,
    label_column: str,
    seed: int,
    prior_included: int = 1,
    prior_excluded: int = 1,
    refit_every: int = DEFAULT_REFIT_EVERY,
    model: str = DEFAULT_MODEL,
    ranker: Ranker | None = None,
    keywords: bool = False,
    title_repeats: int = TITLE_REPEATS,
    refit_fraction: float = DEFAULT_REFIT_FRACTION,
    stopping: bool = True,
    target_recall: float = DEFAULT_TARGET_RECALL,
    confidence: float = DEFAULT_CONFIDENCE,
    switch_after: int | None = None,
    until_all_found: bool = False,
) -> SimulationResult:
    """Replay the labelled set ``df`` through the ranker and measure WSS@95 and RRF@10.

    Parameters
    ----------
    df
        One row per record with ``title``, optional ``abstract``/``keywords`` and
        ``label_column`` (0/1).
    seed
        Chooses the prior records and seeds the ranker: equal seeds give equal results.
    refit_every
        Refit after at least this many new decisions (1 = after every one, as ASReview).
    refit_fraction
        Let the batch of decisions between refits grow to ``floor(refit_fraction ×
        labelled)`` (see :func:`~screening.prioritisation.schedule.refit_interval`);
        0 refits after every ``refit_every`` decisions throughout.
    ranker
        A configured ranker to use instead of ``Ranker(model, seed=seed)``.
    keywords
        Add the ``keywords`` column to title + abstract. The app does when
        :data:`~screening.prioritisation.ranker.USE_KEYWORDS` says so, and
        ``simulate_screening`` and the benchmarks pass that setting.
    title_repeats
        Times the title is written into the text (see
        :func:`~screening.prioritisation.ranker.record_text`); the app's setting by default.
    stopping, target_recall, confidence, switch_after
        Also replay the hypergeometric stopping rule (see :func:`stopping_replay`) on
        the ranked order; ``switch_after`` defaults to :func:`default_switch_after`.
    until_all_found
        Stop ranking once every include is found (and, with ``stopping``, the
        ``switch_after`` excludes in a row that the rule's replay reads after it), as
        ``asreview simulate`` stops at the last include; the other records, all
        excludes, then follow in row order. Every metric of the result is the same as
        with a ranking to the end, for the CPU of the screening a review really does.

    ``seconds`` and ``cpu_seconds`` of the result include building the features unless
    the corpus was cached by an earlier run (see
    :func:`~screening.prioritisation.ranker.corpus_cache_clear`).
    """
    labelled_check(df, label_column)
    if prior_included < 1 or prior_excluded < 1:
        raise PrioritisationError("The simulation needs at least one prior include and exclude.")
    refit_interval(0, every=refit_every, fraction=refit_fraction)  # validates both
    labels = df[label_column].to_numpy(dtype=np.int64)
    prior_rows(labels, seed, prior_included, prior_excluded)  # validates the counts
    started = time.perf_counter()
    # The machine may be shared: CPU time shows the cost of a run independently of load.
    cpu_started = time.process_time()
    ranker = ranker or Ranker(model, seed=seed)
    # Ids are row positions: a CSV's own id column may be missing or not unique.
    texts = labelled_texts(df, keywords=keywords, title_repeats=title_repeats)
    # Many refits in one process: the float features once (Corpus.expanded).
    corpus = ranker.vectorise(dict(enumerate(texts))).expanded()
    priors = list(prior_rows(labels, seed, prior_included, prior_excluded))
    tail = None
    if until_all_found:
        tail = (switch_after or default_switch_after(len(labels))) if stopping else 0
    order, refits = _screen_ranked(
        ranker,
        corpus,
        labels,
        priors,
        refit_every=refit_every,
        refit_fraction=refit_fraction,
        stop_after_all_found=tail,
    )
    if len(order) < len(labels):
        screened = set(order)
        order += [row for row in range(len(labels)) if row not in screened]
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    in_order = labels[np.array(order)]
    return SimulationResult(
        label_column=label_column,
        seed=seed,
        model=ranker.model,
        refit_every=refit_every,
        refit_fraction=refit_fraction,
        records=len(labels),
        relevant=int(labels.sum()),
        prior_rows=tuple(priors),
        order=tuple(order),
        labels_in_order=tuple(int(x) for x in in_order),
        n95=records_to_recall(in_order, 0.95),
        n100=records_to_recall(in_order, 1.0),
        wss95=work_saved_over_sampling(in_order, 0.95),
        rrf10=relevant_found_fraction(in_order, 0.10),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        refits=refits,
        stopping=(
            stopping_replay(
                labels,
                order,
                seed,
                target_recall=target_recall,
                confidence=confidence,
                switch_after=switch_after,
            )
            if stopping
            else None
        ),
    )


def _screen_ranked(
    ranker: Ranker,
    corpus: Any,
    labels: np.ndarray,
    priors: list[int],
    *,
    refit_every: int,
    refit_fraction: float,
    stop_after_excludes: int | None = None,
    stop_after_all_found: int | None = None,
) -> tuple[list[int], int]:
    """Screen in ranked order from ``priors`` (refitting on the app's schedule) until every
    record is screened, or until ``stop_after_excludes`` excludes in a row, or until every
    include is found and ``stop_after_all_found`` excludes followed; the order and the
    number of refits."""
    known: dict[int, int] = {row: int(labels[row]) for row in priors}
    order = list(priors)
    queue: list[int] = []
    refits = 0
    run = 0
    relevant, found = int(labels.sum()), sum(known.values())
    while len(order) < len(labels):
        if not queue:
            ranking = ranker.fit(corpus, known)
            refits += 1
            batch = refit_interval(len(known), every=refit_every, fraction=refit_fraction)
            # Reversed so that pop() takes the top-ranked record first in O(1).
            queue = list(ranking.order[:batch])[::-1]
        row = queue.pop()
        known[row] = int(labels[row])
        order.append(row)
        run = 0 if known[row] else run + 1
        found += known[row]
        if stop_after_excludes is not None and run >= stop_after_excludes:
            break
        if stop_after_all_found is not None and found == relevant and run >= stop_after_all_found:
            break
    return order, refits


def stopping_simulate(
    df: pd.DataFrame,
    label_column: str,
    seed: int,
    *,
    keywords: bool = USE_KEYWORDS,
    switch_after: int | None = None,
    target_recall: float = DEFAULT_TARGET_RECALL,
    confidence: float = DEFAULT_CONFIDENCE,
    corrections: Sequence[bool] = (True,),
) -> tuple[StoppingRun, ...]:
    """The stopping rule on one simulated screening, ranked only as far as the switch.

    The same ranked phase as :func:`simulate` (same priors, ranker and refit schedule for
    a seed) but it stops ranking at the switch to random sampling, which is all the rule
    needs; the sampling phase is replayed once per entry of ``corrections`` (the α
    spending of :func:`~screening.prioritisation.recall_test.recall_test` on or off) on
    the same random sample, so the two can be compared run for run.
    """
    labelled_check(df, label_column)
    labels = df[label_column].to_numpy(dtype=np.int64)
    switch_after = switch_after or default_switch_after(len(labels))
    ranker = Ranker(DEFAULT_MODEL, seed=seed)
    texts = labelled_texts(df, keywords=keywords)
    # Many refits in one process: the float features once (Corpus.expanded).
    corpus = ranker.vectorise(dict(enumerate(texts))).expanded()
    priors = list(prior_rows(labels, seed, 1, 1))
    order, _ = _screen_ranked(
        ranker,
        corpus,
        labels,
        priors,
        refit_every=DEFAULT_REFIT_EVERY,
        refit_fraction=DEFAULT_REFIT_FRACTION,
        stop_after_excludes=switch_after,
    )
    return tuple(
        stopping_replay(
            labels,
            order,
            seed,
            target_recall=target_recall,
            confidence=confidence,
            switch_after=switch_after,
            correction=correction,
        )
        for correction in corrections
    )


@dataclass(frozen=True)
class SimulationSummary:
    """Mean metrics over seeds."""

    runs: tuple[SimulationResult, ...]
    records: int
    relevant: int
    n95: float
    n100: float
    wss95: float
    rrf10: float
    seconds: float
    cpu_seconds: float
    refits: float


def simulations_summarise(runs: Sequence[SimulationResult]) -> SimulationSummary:
    if not runs:
        raise PrioritisationError("No simulation runs to summarise.")
    return SimulationSummary(
        runs=tuple(runs),
        records=runs[0].records,
        relevant=runs[0].relevant,
        n95=float(np.mean([r.n95 for r in runs])),
        n100=float(np.mean([r.n100 for r in runs])),
        wss95=float(np.mean([r.wss95 for r in runs])),
        rrf10=float(np.mean([r.rrf10 for r in runs])),
        seconds=float(np.mean([r.seconds for r in runs])),
        cpu_seconds=float(np.mean([r.cpu_seconds for r in runs])),
        refits=float(np.mean([r.refits for r in runs])),
    )


def simulations_table(runs: Sequence[SimulationResult]) -> str:
    """Per-seed rows and their mean, as a fixed-width text table.

    With the stopping rule replayed, four columns come after ``refits``: records screened
    in ranked order before the switch to random sampling (``switch``), records screened
    when the test said stop (``stop@``), the recall then and the share of records never
    screened (``saved``). Wall-clock and CPU seconds stay the last columns.
    """
    summary = simulations_summarise(runs)
    stops = [r.stopping for r in runs if r.stopping is not None]
    with_stop = len(stops) == len(runs)
    stop_head = f" {'switch':>7} {'stop@':>7} {'recall':>7} {'saved':>7}" if with_stop else ""
    header = (
        f"{'seed':>6} {'records':>8} {'relevant':>8} {'n95':>7} {'n100':>7} "
        f"{'WSS@95':>7} {'RRF@10':>7} {'refits':>7}{stop_head} {'seconds':>8} {'CPU s':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in runs:
        st = r.stopping
        stop = (
            f" {st.switched_at:>7} {st.screened:>7} {st.recall:>7.3f} {st.work_saved:>7.3f}"
            if with_stop
            else ""
        )
        lines.append(
            f"{r.seed:>6} {r.records:>8} {r.relevant:>8} {r.n95:>7} {r.n100:>7} "
            f"{r.wss95:>7.3f} {r.rrf10:>7.2f} {r.refits:>7}{stop} {r.seconds:>8.1f} "
            f"{r.cpu_seconds:>7.1f}"
        )
    lines.append("-" * len(header))
    s = summary
    stop = ""
    if with_stop:
        stop = (
            f" {np.mean([st.switched_at for st in stops]):>7.1f}"
            f" {np.mean([st.screened for st in stops]):>7.1f}"
            f" {np.mean([st.recall for st in stops]):>7.3f}"
            f" {np.mean([st.work_saved for st in stops]):>7.3f}"
        )
    lines.append(
        f"{'mean':>6} {s.records:>8} {s.relevant:>8} {s.n95:>7.1f} {s.n100:>7.1f} "
        f"{s.wss95:>7.3f} {s.rrf10:>7.2f} {s.refits:>7.0f}{stop} {s.seconds:>8.1f} "
        f"{s.cpu_seconds:>7.1f}"
    )
    return "\n".join(lines)


def stopping_summary(runs: Sequence[SimulationResult]) -> str:
    """One line: in how many runs the stopping rule stopped at or above its target recall."""
    stops = [r.stopping for r in runs if r.stopping is not None]
    if not stops:
        return "stopping rule not replayed"
    met = sum(st.recall >= st.target_recall for st in stops)
    return (
        f"stopping rule: recall at stop >= {stops[0].target_recall:.0%} in {met} of "
        f"{len(stops)} runs ({stops[0].confidence:.0%} confidence asked); mean work saved "
        f"{np.mean([st.work_saved for st in stops]):.3f}"
    )
