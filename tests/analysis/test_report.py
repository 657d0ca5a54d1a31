"""The report table from plain data: rules, blocks and numbers equal to analysis.stats."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from analysis import stats
from analysis.methods import methods_paragraph
from analysis.report import (
    Dataset,
    ReportInput,
    ReportInputError,
    Settings,
    StudyEffect,
    SubgroupVar,
    one_per_study,
    report_compute,
)


@dataclass
class Raw:
    """What analysis.data hands over for one consensus effect size."""

    study_id: int
    study_label: str
    yi: float
    vi: float
    outcome: str = "Depressive symptoms"
    instrument: str = "BDI-II"
    preferred_rank: int | None = 0
    comparison: str = "Peer vs CAU"
    timepoint: str = "Post"
    weeks: float = 12.0
    n_intervention: float | None = 50
    n_control: float | None = 50
    fields: dict = field(default_factory=dict)


def effects(k: int, seed: int = 0, **extra) -> tuple[StudyEffect, ...]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(k):
        n = rng.integers(20, 150)
        g = float(rng.normal(0.3, 0.35))
        out.append(
            StudyEffect(
                i + 1,
                f"Trial {i + 1:02d}",
                g,
                float(2 / n + g * g / (4 * n)),
                subgroups={"diagnosis": ["SMI", "Depression", "Mixed"][i % 3], "format": "Group"},
                rob=["low", "some_concerns", "high"][i % 3],
                **extra,
            )
        )
    return tuple(out)


def arrays(es):
    return [e.yi for e in es], [e.vi for e in es]


# --------------------------------------------------------------------------- one per study


def test_preferred_instrument_wins_and_is_reported():
    rows = [
        Raw(1, "A 2020", 0.5, 0.04, instrument="PHQ-9", preferred_rank=1),
        Raw(1, "A 2020", 0.2, 0.05, instrument="BDI-II", preferred_rank=0),
        Raw(1, "A 2020", 0.9, 0.05, instrument="Other", preferred_rank=None),
    ]
    (e,) = one_per_study(rows, "preferred")
    assert (e.yi, e.vi) == (0.2, 0.05)
    assert e.note == "preferred instrument BDI-II (not PHQ-9, Other)"


def test_unlisted_instruments_fall_back_to_extraction_order():
    rows = [
        Raw(1, "A", 0.5, 0.04, preferred_rank=None),
        Raw(1, "A", 0.1, 0.04, preferred_rank=None),
    ]
    assert one_per_study(rows, "preferred")[0].yi == 0.5


def test_average_rule_averages_g_and_assumes_correlation_one():
    rows = [Raw(1, "A", 0.2, 0.04), Raw(1, "A", 0.6, 0.09)]
    (e,) = one_per_study(rows, "average")
    assert e.yi == pytest.approx(0.4)
    assert e.vi == pytest.approx(((0.2 + 0.3) / 2) ** 2)  # (mean SE)^2
    assert e.note == "average of 2 outcomes"


def test_earliest_timepoint_in_window_is_used():
    rows = [
        Raw(1, "A", 0.9, 0.04, timepoint="Week 26", weeks=26),
        Raw(1, "A", 0.1, 0.04, timepoint="Week 24", weeks=24),
    ]
    (e,) = one_per_study(rows, "preferred")
    assert e.yi == 0.1 and "Week 24" in e.note


def test_split_comparisons_stay_separate_studies_with_their_names():
    rows = [
        Raw(1, "A", 0.3, 0.04, comparison="Group vs CAU"),
        Raw(1, "A", 0.5, 0.04, comparison="Online vs CAU"),
        Raw(2, "B", 0.1, 0.02),
    ]
    labels = [e.label for e in one_per_study(rows, "preferred")]
    assert labels == ["A (Group vs CAU)", "A (Online vs CAU)", "B"]


def test_subgroup_levels_and_rob_are_attached():
    rows = [
        Raw(
            1,
            "A",
            0.3,
            0.04,
            fields={"diagnosis": "SMI", "delivery": ["Internet", "Telephone"], "paid": True},
        )
    ]
    (e,) = one_per_study(
        rows, "preferred", ["diagnosis", "delivery", "paid", "missing"], {1: "high"}
    )
    assert e.subgroups == {
        "diagnosis": "SMI",
        "delivery": "Internet; Telephone",
        "paid": "Yes",
        "missing": "",
    }
    assert e.rob == "high"


def test_unknown_rule_is_refused():
    with pytest.raises(ReportInputError, match="multiple-outcomes rule"):
        one_per_study([], "median")
    with pytest.raises(ReportInputError, match="at least 2"):
        Settings(min_studies=1)


# --------------------------------------------------------------------------- blocks and numbers


@pytest.fixture
def report_input():
    return ReportInput(
        "Clinical recovery",
        Dataset("main", "Post-treatment", effects(24, seed=3)),
        specific=(
            Dataset("outcome1", "Depressive symptoms", effects(9, 4)),
            Dataset("outcome2", "Anxiety", effects(3, 5)),
        ),
        windows=(Dataset("window1", "6 to 9 months", effects(7, 6)),),
        subgroup_vars=(SubgroupVar("diagnosis", "Diagnosis", ("SMI", "Depression")),),
        settings=Settings(),
    )


def test_every_row_equals_the_engine_on_the_same_subset(report_input):
    report = report_compute(report_input)
    main = report_input.main.effects
    check = {
        "all": main,
        "sub:diagnosis:0": [e for e in main if e.subgroups["diagnosis"] == "SMI"],
        "sub:diagnosis:1": [e for e in main if e.subgroups["diagnosis"] == "Depression"],
        "sub:diagnosis:2": [e for e in main if e.subgroups["diagnosis"] == "Mixed"],
        "outcome:1": report_input.specific[0].effects,
        "rob:low": [e for e in main if e.rob == "low"],
        "rob:excl_high": [e for e in main if e.rob != "high"],
        "window:1": report_input.windows[0].effects,
    }
    for key, subset in check.items():
        row = report.row(key)
        ref = stats.rma(*arrays(subset), method="REML", test="knha")
        assert row.k == ref.k
        assert row.numbers.estimate == pytest.approx(ref.estimate, rel=1e-12)
        assert (row.numbers.ci_low, row.numbers.ci_high) == pytest.approx((ref.ci_low, ref.ci_high))
        assert row.numbers.p == pytest.approx(ref.p)
        assert pytest.approx(ref.I2) == row.numbers.I2
        assert row.numbers.I2_high == pytest.approx(ref.I2_qprofile_ci_high)
        assert row.numbers.pi_low == pytest.approx(ref.pi_low)


def test_subgroup_difference_is_the_mixed_effects_q_between(report_input):
    report = report_compute(report_input)
    main = report_input.main.effects
    ref = stats.subgroup_analysis(
        *arrays(main), [e.subgroups["diagnosis"] for e in main], method="REML", test="knha"
    )
    head = report.row("subhead:diagnosis")
    assert head.p_between == pytest.approx(ref.Q_between_p)
    assert head.Q_between_df == 2
    # the preferred level order comes from the form's choices
    assert [r.label for r in report.blocks[1].rows[1:]] == ["SMI", "Depression", "Mixed"]


def test_too_few_studies_are_listed_without_pooling(report_input):
    report = report_compute(report_input)
    row = report.row("outcome:2")
    assert row.k == 3 and row.numbers is None
    assert row.note == "not pooled: fewer than 5 studies"
    assert [s.label for s in row.studies] == ["Trial 01", "Trial 02", "Trial 03"]


def test_small_levels_are_left_out_of_the_subgroup_test():
    es = effects(12, 1)
    es = tuple(
        replace(e, subgroups={"diagnosis": "Rare" if i < 2 else ("A" if i % 2 else "B")})
        for i, e in enumerate(es)
    )
    report = report_compute(
        ReportInput(
            "X", Dataset("main", "Post", es), subgroup_vars=(SubgroupVar("diagnosis", "D"),)
        )
    )
    rare = next(r for r in report.rows() if r.label == "Rare")
    assert rare.k == 2 and rare.numbers is None
    kept = [e for e in es if e.subgroups["diagnosis"] != "Rare"]
    ref = stats.subgroup_analysis(
        *arrays(kept), [e.subgroups["diagnosis"] for e in kept], test="knha"
    )
    assert report.row("subhead:diagnosis").p_between == pytest.approx(ref.Q_between_p)


def test_trimfill_row_counts_studies_after_filling():
    # a funnel missing its lower-left corner: small studies only with large effects
    rng = np.random.default_rng(11)
    n = rng.integers(20, 400, 20)
    v = 4 / n
    y = 0.2 + rng.normal(0, np.sqrt(v)) + 2.2 * np.sqrt(v)
    es = tuple(
        StudyEffect(i, f"S{i}", float(a), float(b))
        for i, (a, b) in enumerate(zip(y, v, strict=True))
    )
    report = report_compute(ReportInput("X", Dataset("main", "Post", es)))
    tf = stats.trimfill(y, v, method="REML", test="knha")
    assert tf.k0 > 0
    row = report.row("trimfill")
    assert row.k == 20 + tf.k0 == tf.k
    assert row.numbers.estimate == pytest.approx(tf.estimate)
    assert report.trimfill_k0 == tf.k0 and len(report.filled_yi) == tf.k0
    assert report.egger.p == pytest.approx(stats.egger_test(y, v).p)


def test_outlier_row_refits_without_the_outliers():
    es = effects(15, 2)
    es = (*es, StudyEffect(99, "Outlier 1999", 3.0, 0.01))
    report = report_compute(ReportInput("X", Dataset("main", "Post", es)))
    row = report.row("outliers")
    assert "Outlier 1999" in row.note
    assert report.outliers and "Outlier 1999" in report.outliers
    kept = [e for e in es if e.label not in report.outliers]
    assert row.numbers.estimate == pytest.approx(stats.rma(*arrays(kept), test="knha").estimate)


def test_settings_change_the_numbers_tau2_and_common_effect(report_input):
    dl = report_compute(replace(report_input, settings=Settings(method="DL", hartung_knapp=False)))
    ref = stats.rma(*arrays(report_input.main.effects), method="DL", test="z")
    assert dl.row("all").numbers.ci_low == pytest.approx(ref.ci_low)
    fe = report_compute(replace(report_input, settings=Settings(method="FE", hartung_knapp=False)))
    assert fe.row("all").numbers.pi_low is None
    assert fe.row("all").numbers.tau2 == 0


def test_rob_block_without_judgements_says_so():
    es = tuple(replace(e, rob="") for e in effects(8))
    report = report_compute(ReportInput("X", Dataset("main", "Post", es)))
    assert report.row("rob:none").note == "no RoB 2 consensus judgements yet"


def test_no_data_gives_an_empty_report_and_a_plain_sentence():
    report = report_compute(ReportInput("Hope", Dataset("main", "Post-treatment", ())))
    assert report.main is None and report.row("all").note == "no studies"
    assert methods_paragraph(report).endswith("No study has consensus data for this analysis yet.")


def test_methods_paragraph_quotes_the_table(report_input):
    report = report_compute(report_input)
    text = methods_paragraph(report)
    n = report.row("all").numbers
    assert text.startswith(
        "A random-effects model (REML estimator of τ², Hartung–Knapp–Sidik–Jonkman adjustment) pooled Hedges' g for clinical recovery (post-treatment)"
    )
    assert f"The pooled effect across 24 studies was g = {n.estimate:.2f}".replace("-", "−") in text
    assert "test for subgroup differences p = " in text
    assert "Egger's test p" in text
