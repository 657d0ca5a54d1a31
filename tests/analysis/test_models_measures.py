"""The model section on measures other than Hedges' g: log odds and risk ratios equal
metafor (rma.mv + clubSandwich CR2, rma with moderators) on the same arm-level data, and
a mean difference keeps one instrument per study.

Fixture: tests/stats/reference/measures/binary_dependent.{csv,json}, written by
make_measures.R beside them (the CSV is the data the studies below are built from).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from django.urls import reverse

from analysis import selectors
from analysis.modelling import ModelEffect, all_effects
from reviews.errors import DomainError

from .factories import (
    OutcomeSpec,
    StudySpec,
    build_dependent_effects,
    clinical_analysis,
    review_setup,
    study_extracted,
)

REF = Path(__file__).resolve().parents[1] / "stats" / "reference" / "measures"
FIELDS = ("b", "se", "ci_low", "ci_high", "stat", "p")


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _assert_fit(res, ref: dict) -> None:
    assert list(res.names) == _listed(ref["names"])
    for name in FIELDS:
        assert list(getattr(res, name)) == pytest.approx(_listed(ref[name]), rel=1e-5, abs=1e-7), (
            name
        )
    if ref["df"] is not None:
        assert list(res.df) == pytest.approx(_listed(ref["df"]), rel=1e-5), "df"
    if ref["sigma2"] is not None:
        assert list(res.sigma2) == pytest.approx(ref["sigma2"], rel=1e-4, abs=1e-7)
    if ref["tau2"] is not None:
        assert res.tau2 == pytest.approx(ref["tau2"], rel=1e-5)
    assert pytest.approx(ref["QE"], rel=1e-6) == res.QE
    assert res.k == ref["k"]


@pytest.fixture
def binary(cast):
    """The fixture's 10 studies (1-3 dichotomous outcomes each) through extraction."""
    review_setup(cast)
    with (REF / "binary_dependent.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_study: dict[str, list[dict]] = {}
    for r in rows:
        by_study.setdefault(r["study"], []).append(r)
    for label, items in by_study.items():
        outcomes = [
            OutcomeSpec(
                "Depressive symptoms",
                r["outcome"],
                (0.0, 1.0, int(r["n1i"])),
                (0.0, 1.0, int(r["n2i"])),
                events=(int(r["ai"]), int(r["ci"])),
            )
            for r in items
        ]
        study_extracted(
            cast,
            StudySpec(
                label,
                outcomes,
                {"mean_age": items[0]["mean_age"], "diagnosis": "Depression", "format": "Group"},
            ),
        )
    return cast


@pytest.mark.django_db
@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_ratio_measures_in_three_level_model_and_meta_regression_equal_metafor(
    client, binary, measure
):
    ref = json.loads((REF / "binary_dependent.json").read_text())[measure]
    base = {"subgroup_fields": [], "effect_measure": measure, "title": f"Events ({measure})"}
    three = clinical_analysis(binary, effects_model="three_level", robust_variance=True, **base)
    report, _ = selectors.analysis_report(three)
    section = report.model
    assert section.error == "" and section.ratio and section.scale.startswith("log ")
    assert [e.yi for e in section.effects] == pytest.approx(ref["yi"], rel=1e-9)
    assert [e.vi for e in section.effects] == pytest.approx(ref["vi"], rel=1e-9)
    _assert_fit(section.result, ref["three_level"])

    mods = clinical_analysis(
        binary, effects_model="three_level", moderators=["mean_age"], **base | {"title": "M"}
    )
    _assert_fit(selectors.analysis_report(mods)[0].model.result, ref["three_level_mods"])

    reg = clinical_analysis(binary, moderators=["mean_age"], **base | {"title": "R"})
    section = selectors.analysis_report(reg)[0].model
    assert section.kind == "metareg"
    _assert_fit(section.result, ref["metareg"])

    # the page shows the log scale and exp(b)
    client.force_login(binary.alice)
    kw = {"slug": binary.review.slug, "analysis_id": three.pk}
    html = client.get(reverse("analysis:detail", kwargs=kw)).content.decode()
    label = {"OR": "log odds ratio", "RR": "log risk ratio"}[measure]
    assert f"On the {label} scale" in html and "exp(b) (95% CI)" in html
    assert f"effect sizes ({label})" in html  # methods paragraph


@pytest.mark.django_db
def test_mean_difference_keeps_the_preferred_instrument_of_each_study(cast):
    build_dependent_effects(cast)
    md = clinical_analysis(
        cast, subgroup_fields=[], effect_measure="MD", effects_model="three_level"
    )
    section = selectors.analysis_report(md)[0].model
    # raw means of BDI-II, GAD-7 and PHQ-9 share no scale: one instrument per study
    assert len(section.effects) == 8 and section.scale == "mean difference"
    g = clinical_analysis(
        cast, subgroup_fields=[], effects_model="three_level", title="All effects (g)"
    )
    assert len(selectors.analysis_report(g)[0].model.effects) == 16
    # Mantel-Haenszel or Peto weights are not the models' inverse-variance weights
    with pytest.raises(DomainError, match="choose inverse-variance pooling"):
        clinical_analysis(
            cast,
            title="MH",
            effect_measure="OR",
            pooling_method="MH",
            effects_model="three_level",
        )


def test_all_effects_of_a_mean_difference_keep_every_comparison_of_one_instrument():
    class Row:
        def __init__(self, comparison, instrument, outcome_id, rank, yi):
            self.study_id, self.study_label, self.weeks = 1, "Willms 1999", 0.0
            self.outcome, self.outcome_id, self.instrument = "HbA1c", outcome_id, instrument
            self.preferred_rank, self.comparison, self.fields = rank, comparison, {}
            self.yi, self.vi = yi, 0.1

    rows = [
        Row("Metformin vs Placebo", "HbA1c (%)", 1, None, -1.2),
        Row("Acarbose vs Placebo", "HbA1c (%)", 1, None, -1.0),
        Row("Metformin vs Placebo", "Fasting glucose", 2, None, -2.0),
    ]
    effects = all_effects(rows, (), {}, measure="MD")
    assert [e.yi for e in effects] == [-1.2, -1.0]
    assert effects[0].outcome == "HbA1c (HbA1c (%)), Metformin vs Placebo"
    assert all(isinstance(e, ModelEffect) for e in effects)
    assert len(all_effects(rows, (), {}, measure="SMD")) == 3
