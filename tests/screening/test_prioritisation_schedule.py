"""The refit schedule: after every decision at first, then in batches growing with the screening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from screening.prioritisation import PrioritisationError, Ranker, refit_interval
from screening.prioritisation.schedule import refit_points
from screening.prioritisation.simulation import labelled_read, labelled_texts, simulate

EXCERPT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "screening" / "cohen2006_adhd_excerpt.csv"
)


def test_interval_grows_with_the_labelled_records() -> None:
    assert [refit_interval(n) for n in (0, 2, 199, 200, 299, 300, 500, 1333)] == [
        1,
        1,
        1,
        2,
        2,
        3,
        5,
        13,
    ]
    # The minimum batch holds until the growth overtakes it.
    assert refit_interval(300, every=5) == 5
    assert refit_interval(700, every=5) == 7
    # Fixed batches when the growth is switched off.
    assert refit_interval(10_000, every=10, fraction=0) == 10
    # 0.29 * 100 is 28.999999999999996 in floating point: still a batch of 29.
    assert refit_interval(100, fraction=0.29) == 29


def test_refit_points_of_a_review() -> None:
    assert refit_points(2, 10, every=3, fraction=0) == (2, 5, 8)
    assert refit_points(2, 3) == (2,)
    assert refit_points(5, 5) == ()
    points = refit_points(2, 851)
    # Every decision up to 200 labelled records (2..199), then every 2, 3, ... 8.
    assert points[:198] == tuple(range(2, 200))
    assert points[198:201] == (200, 202, 204)
    assert points[-3:] == (834, 842, 850)
    assert len(points) == 365
    assert points == refit_points(2, 851)
    # Far fewer fits than one per decision.
    assert len(refit_points(2, 1333)) == 412


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": 0}, "refit_every"),
        ({"fraction": -0.1}, "refit_fraction"),
        ({"fraction": 1.0}, "refit_fraction"),
    ],
)
def test_bad_schedules_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(PrioritisationError, match=message):
        refit_interval(10, **kwargs)
    with pytest.raises(PrioritisationError, match=message):
        refit_points(2, 20, **kwargs)


def test_bad_counts_are_rejected() -> None:
    with pytest.raises(PrioritisationError, match="n_labelled"):
        refit_interval(-1)
    with pytest.raises(PrioritisationError, match="n_start <= n_total"):
        refit_points(30, 20)


@pytest.fixture(scope="module")
def excerpt() -> pd.DataFrame:
    return labelled_read(EXCERPT, "label_included")


def test_simulation_refits_where_the_schedule_says(excerpt: pd.DataFrame) -> None:
    run = simulate(excerpt, "label_included", seed=4, refit_fraction=0.1)
    again = simulate(excerpt, "label_included", seed=4, refit_fraction=0.1)
    expected = refit_points(2, 200, fraction=0.1)
    assert expected[:20] == (*range(2, 20), 20, 22)
    assert run.refits == len(expected) == again.refits
    assert run.order == again.order
    assert run.refit_fraction == 0.1
    assert sorted(run.order) == list(range(200))
    assert run.cpu_seconds > 0
    # With the default 1 % growth a 200-record set is refitted after every decision.
    assert simulate(excerpt, "label_included", seed=4).refits == 198


def test_a_batch_is_screened_in_ranked_order(excerpt: pd.DataFrame) -> None:
    run = simulate(excerpt, "label_included", seed=2, refit_every=7, refit_fraction=0)
    ranker = Ranker(seed=2)
    corpus = ranker.vectorise(dict(enumerate(labelled_texts(excerpt))))
    labels = excerpt["label_included"].to_numpy()
    priors = {row: int(labels[row]) for row in run.prior_rows}
    first = ranker.fit(corpus, priors)
    assert run.order[2:9] == first.order[:7]
    second = ranker.fit(corpus, {row: int(labels[row]) for row in run.order[:9]})
    assert run.order[9:16] == second.order[:7]
    assert run.refits == int(np.ceil(198 / 7))
