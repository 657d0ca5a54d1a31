"""Simulation metrics on hand-made orders, and replays of the 200-record ADHD excerpt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from screening.prioritisation import TITLE_REPEATS, PrioritisationError, Ranker
from screening.prioritisation.simulation import (
    default_switch_after,
    labelled_read,
    labelled_texts,
    records_to_recall,
    relevant_found_fraction,
    simulate,
    simulations_summarise,
    simulations_table,
    stopping_replay,
    stopping_summary,
    work_saved_over_sampling,
)

EXCERPT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "screening" / "cohen2006_adhd_excerpt.csv"
)


# ---- metrics on hand-made orders ----------------------------------------------------


def test_perfect_order_of_100_with_20_relevant() -> None:
    order = [1] * 20 + [0] * 80
    assert records_to_recall(order, 0.95) == 19
    assert records_to_recall(order, 1.0) == 20
    # (100 - 19) / 100 - 0.05
    assert work_saved_over_sampling(order) == pytest.approx(0.76)
    assert relevant_found_fraction(order, 0.10) == pytest.approx(0.5)  # 10 of 20 in 10 records


def test_worst_order_saves_negative_work() -> None:
    order = [0] * 80 + [1] * 20
    assert records_to_recall(order, 0.95) == 99
    assert work_saved_over_sampling(order) == pytest.approx(-0.04)
    assert relevant_found_fraction(order) == 0.0


def test_ceiling_of_the_recall_target_and_screened_share() -> None:
    # 3 relevant: 95 % of 3 = 2.85 -> all 3 must be found.
    order = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert records_to_recall(order, 0.95) == 10
    assert records_to_recall(order, 0.5) == 3  # ceil(1.5) = 2 relevant
    # 10 % of 850 records is 85 (not 86 from float noise in 0.1 * 850).
    labels = [0] * 85 + [1] + [0] * 764
    assert relevant_found_fraction(labels, 0.10) == 0.0
    assert relevant_found_fraction(labels[1:] + [0], 0.10) == 1.0


def test_metrics_reject_bad_orders() -> None:
    with pytest.raises(PrioritisationError, match="no relevant"):
        work_saved_over_sampling([0, 0, 0])
    with pytest.raises(PrioritisationError, match="0 or 1"):
        records_to_recall([0, 2, 1])
    with pytest.raises(PrioritisationError, match="Recall"):
        records_to_recall([1, 0], 1.5)


# ---- simulation on the excerpt ------------------------------------------------------


@pytest.fixture(scope="module")
def excerpt() -> pd.DataFrame:
    return labelled_read(EXCERPT, "label_included")


def test_simulation_on_excerpt_saves_work_and_is_deterministic(excerpt: pd.DataFrame) -> None:
    first = simulate(excerpt, "label_included", seed=1)
    again = simulate(excerpt, "label_included", seed=1)
    assert (first.records, first.relevant) == (200, 20)
    assert first.wss95 > 0
    assert first.order == again.order
    assert (first.n95, first.n100, first.wss95, first.rrf10) == (
        again.n95,
        again.n100,
        again.wss95,
        again.rrf10,
    )
    # The run screens every record once, priors (one include, one exclude) first.
    assert sorted(first.order) == list(range(200))
    assert first.labels_in_order[:2] == (1, 0)
    assert first.found_curve[-1] == 20
    assert first.wss95 == pytest.approx((200 - first.n95) / 200 - 0.05)


def test_other_seed_other_priors(excerpt: pd.DataFrame) -> None:
    a = simulate(excerpt, "label_included", seed=1, refit_every=5)
    b = simulate(excerpt, "label_included", seed=2, refit_every=5)
    assert a.prior_rows != b.prior_rows
    # Refitting after every 5 decisions: ceil(198 / 5) fits.
    assert a.refits == 40


def test_every_model_beats_random_on_the_abstract_label(excerpt: pd.DataFrame) -> None:
    for model in ("svm", "nb"):
        run = simulate(
            excerpt,
            "label_abstract_screening",
            seed=3,
            prior_included=2,
            prior_excluded=2,
            refit_every=10,
            ranker=Ranker(model, seed=3),
        )
        assert run.model == model
        assert run.relevant == 31
        assert run.wss95 > 0


def test_summary_and_table(excerpt: pd.DataFrame) -> None:
    runs = [simulate(excerpt, "label_included", seed=s, refit_every=10) for s in (1, 2)]
    summary = simulations_summarise(runs)
    assert summary.wss95 == pytest.approx((runs[0].wss95 + runs[1].wss95) / 2)
    table = simulations_table(runs)
    assert "WSS@95" in table and table.splitlines()[-1].split()[0] == "mean"
    assert table.splitlines()[0].split()[-2:] == ["CPU", "s"]
    assert summary.cpu_seconds == pytest.approx((runs[0].cpu_seconds + runs[1].cpu_seconds) / 2)
    assert summary.refits == 20  # ceil(198 / 10) for both seeds
    assert len(table.splitlines()) == 6


def test_bad_data_sets_are_rejected(excerpt: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(PrioritisationError, match="lacks column"):
        simulate(excerpt, "label_final", seed=1)
    with pytest.raises(PrioritisationError, match="prior includes"):
        simulate(excerpt, "label_included", seed=1, prior_included=21)
    with pytest.raises(PrioritisationError, match="refit_every"):
        simulate(excerpt, "label_included", seed=1, refit_every=0)
    bad = excerpt.assign(label_included=excerpt["label_included"] * 2)
    with pytest.raises(PrioritisationError, match="0/1"):
        simulate(bad, "label_included", seed=1)
    with pytest.raises(PrioritisationError, match="No such file"):
        labelled_read(tmp_path / "missing.csv", "label_included")


def test_keywords_join_the_text_only_when_asked() -> None:
    df = pd.DataFrame(
        {"title": ["T"], "abstract": [float("nan")], "keywords": ["ADHD; Child"], "y": [1]}
    )
    assert labelled_texts(df, title_repeats=1) == ["T"]
    assert labelled_texts(df, keywords=True, title_repeats=1) == ["T \nADHD; Child"]
    # The app's text by default: the title as often as the ranker was tuned with.
    assert labelled_texts(df) == [" \n".join(["T"] * TITLE_REPEATS)]


def test_stopping_replay_on_a_perfect_order_by_hand() -> None:
    # 10 includes first, then 90 excludes. A run of 20 excludes ends the ranked phase at 30
    # records; H0 then needs K = floor(10 / 0.95) + 1 - 10 = 1 include among the 70 left,
    # and P(none in n draws) = (70 - n) / 70 falls below alpha_0 = 0.05 * 6 / pi^2 = 0.0304
    # first at n = 68: stop after 98 (uncorrected, below 0.05 at n = 67: after 97).
    labels = np.array([1] * 10 + [0] * 90)
    run = stopping_replay(labels, list(range(100)), seed=1, switch_after=20)
    assert (run.switched_at, run.screened, run.found, run.recall) == (30, 98, 10, 1.0)
    assert run.work_saved == pytest.approx(0.02)
    plain = stopping_replay(labels, list(range(100)), seed=1, switch_after=20, correction=False)
    assert (plain.screened, plain.correction) == (97, False)
    assert default_switch_after(100) == 20 and default_switch_after(1000) == 50


def test_stopping_replay_finds_includes_the_ranking_missed() -> None:
    # The ranking found 5 of 8 includes; 3 sit among the records it never reached.
    labels = np.zeros(200, dtype=int)
    labels[[0, 1, 2, 3, 4, 150, 170, 190]] = 1
    run = stopping_replay(labels, list(range(200)), seed=3, switch_after=30)
    assert run.switched_at == 35
    assert run.found >= 5 and run.screened <= 200


def test_simulation_table_adds_the_stopping_columns(excerpt: pd.DataFrame) -> None:
    runs = [simulate(excerpt, "label_included", seed=s, refit_every=10) for s in (1, 2)]
    head = simulations_table(runs).splitlines()[0].split()
    assert head[head.index("refits") + 1 : head.index("refits") + 5] == [
        "switch",
        "stop@",
        "recall",
        "saved",
    ]
    assert all(r.stopping.screened >= r.stopping.switched_at for r in runs)
    assert stopping_summary(runs).startswith("stopping rule: recall at stop >= 95% in ")


@pytest.mark.parametrize("stopping", [True, False])
def test_stopping_at_the_last_include_changes_no_metric(excerpt, stopping) -> None:
    full = simulate(excerpt, "label_included", seed=3, stopping=stopping)
    short = simulate(excerpt, "label_included", seed=3, stopping=stopping, until_all_found=True)
    assert short.refits < full.refits
    assert (short.n95, short.n100, short.wss95, short.rrf10) == (
        full.n95,
        full.n100,
        full.wss95,
        full.rrf10,
    )
    # Ranked as far as the last include (and the stopping rule's run of excludes after it).
    tail = 20 if stopping else 0
    assert short.order[: full.n100 + tail] == full.order[: full.n100 + tail]
    assert sorted(short.order) == list(range(200))
    assert short.stopping == full.stopping
