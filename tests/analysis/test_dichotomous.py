"""Analyses of dichotomous outcomes: OR/RR/RD by Mantel-Haenszel, Peto or inverse variance.

Responders per arm from the first seven trials of Linde et al. (2005, metadat
``dat.linde2005``: a single-zero and a double-zero trial among them), entered as events
and N per arm, plus one trial reporting only means (it cannot give a risk ratio).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from django.urls import reverse

from analysis import selectors, services
from analysis.exports import formatted_cells
from analysis.formatting import fmt_estimate_ci
from analysis.models import Analysis
from analysis.plots import ForestRow, PlotInputError, PooledSummary, forest_plot
from analysis.stats import escalc_binary, escalc_rr, pool_binary, rma
from reviews.errors import DomainError
from tests.analysis import rcheck
from tests.analysis.factories import (
    OutcomeSpec,
    StudySpec,
    clinical_analysis,
    review_setup,
    study_extracted,
)

LINDE = [  # study, responders / N with St John's wort, responders / N with placebo
    ("Hoffman & Kuehl 1979", 19, 30, 3, 30),
    ("Schlich et al. 1987", 15, 25, 3, 24),
    ("Schmidt et al. 1989", 10, 20, 4, 20),
    ("Halama 1991", 10, 25, 0, 25),
    ("Osterheider et al. 1992", 0, 22, 0, 23),
    ("Reh et al. 1992", 20, 25, 11, 25),
    ("Huebner et al. 1993", 14, 20, 9, 20),
]


def response_spec(study, ai, n1, ci, n2) -> StudySpec:
    return StudySpec(
        study,
        [
            OutcomeSpec(
                "Depressive symptoms", "HRSD response", (0, 1, n1), (0, 1, n2), events=(ai, ci)
            )
        ],
        {"diagnosis": "Depression", "format": "Group"},
    )


@pytest.fixture
def linde(cast):
    review_setup(cast)
    for row in LINDE:
        study_extracted(cast, response_spec(*row))
    study_extracted(
        cast,
        StudySpec(
            "Means only 2001",
            [OutcomeSpec("Depressive symptoms", "HRSD", (12.0, 5.0, 40), (14.0, 5.5, 41))],
            {"diagnosis": "Depression", "format": "Group"},
        ),
    )
    return cast


def by_study(labels, values) -> dict:
    return {str(k): float(v) for k, v in zip(labels, values, strict=True)}


def cells():
    return [(ai, n1 - ai, ci, n2 - ci) for _, ai, n1, ci, n2 in LINDE]


def columns():
    return [list(col) for col in zip(*cells(), strict=True)]


@pytest.mark.django_db
def test_risk_ratio_by_mantel_haenszel_equals_the_engine(client, linde):
    cast = linde
    analysis = clinical_analysis(
        cast,
        title="Response",
        subdomain="Depressive symptoms",
        effect_measure="RR",
        pooling_method="MH",
        subgroup_fields=[],
    )
    report, ad = selectors.analysis_report(analysis)
    mh = pool_binary("RR", *columns(), method="MH", study=[s for s, *_ in LINDE])
    main = report.main
    assert (main.k, main.method) == (7, "MH")
    for name in ("estimate", "se", "ci_low", "ci_high", "Q", "I2", "p"):
        assert math.isclose(getattr(main, name), getattr(mh, name), rel_tol=1e-12), name
    assert main.Q_df == 5  # the double-zero trial is left out of Q, as metafor's drop00
    # the weights are metafor's MH weights, the rows escalc's RR (1/2 added to zero cells)
    assert by_study(main.study, main.weights) == pytest.approx(by_study(mh.study, mh.weights))
    rr = escalc_rr(*columns())
    got = by_study(
        [e.label for e in report.input.main.effects], [e.yi for e in report.input.main.effects]
    )
    assert got == pytest.approx(by_study([s for s, *_ in LINDE], rr.yi))
    # the trial with only means is left out, saying why
    reasons = {s.label: s.reasons for s in ad.left_out}
    assert "no events and totals per arm" in reasons["Means only 2001"][0]
    # the table prints the ratio, not its log
    expected = fmt_estimate_ci(math.exp(mh.estimate), math.exp(mh.ci_low), math.exp(mh.ci_high))
    assert formatted_cells(report.row("all"), "RR")["g"] == expected
    client.force_login(cast.alice)
    kw = {"slug": cast.review.slug, "analysis_id": analysis.pk}
    page = client.get(reverse("analysis:detail", kwargs=kw)).content.decode()
    assert expected in page and "Mantel–Haenszel" in page
    assert "10/25 vs 0/25" in page  # events/N per arm in the data set
    svg = client.get(reverse("analysis:forest", kwargs={**kw, "fmt": "svg"})).content.decode()
    assert "Risk ratio (log scale)" in svg and "Intervention" in svg and "19/30" in svg
    assert client.get(reverse("analysis:funnel", kwargs={**kw, "fmt": "png"})).status_code == 200
    index = client.get(reverse("analysis:index", kwargs={"slug": cast.review.slug}))
    assert f"RR {expected}" in index.content.decode()
    dashboard = client.get(reverse("reviews:dashboard", kwargs={"slug": cast.review.slug}))
    assert f"RR = {expected}" in dashboard.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("measure", "pooling", "tau2"),
    [("OR", "PETO", "REML"), ("OR", "IV", "DL"), ("RD", "MH", "REML"), ("RR", "IV", "REML")],
)
def test_every_measure_and_method_equals_the_engine(linde, measure, pooling, tau2):
    analysis = clinical_analysis(
        linde,
        title=f"Response {measure} {pooling}",
        subdomain="Depressive symptoms",
        effect_measure=measure,
        pooling_method=pooling,
        tau2_method=tau2,
        subgroup_fields=[],
    )
    report, _ = selectors.analysis_report(analysis)
    if pooling == "IV":
        es = escalc_binary(measure, *columns())
        expected = rma(es.yi, es.vi, method=tau2, test="knha")
    else:
        expected = pool_binary(measure, *columns(), method=pooling)
    assert report.main.estimate == pytest.approx(expected.estimate, rel=1e-12)
    assert report.main.ci_high == pytest.approx(expected.ci_high, rel=1e-12)
    assert by_study(report.main.study, report.main.weights) == pytest.approx(
        by_study([s for s, *_ in LINDE], expected.weights)
    )


@pytest.mark.django_db
def test_the_form_offers_only_what_the_data_supports(client, cast, linde):
    client.force_login(cast.lead)
    url = reverse("analysis:create", kwargs={"slug": cast.review.slug})
    page = client.get(url).content.decode()
    for value in ("SMD", "MD", "OR", "RR", "RD"):
        assert f'value="{value}"' in page
    window = services.windows_ensure_default(review=cast.review, actor=cast.lead)[0]
    post = {
        "title": "Response",
        "outcome": "s:Clinical recovery:Depressive symptoms",
        "window": window.pk,
        "effect_measure": "SMD",
        "pooling_method": "MH",
        "tau2_method": "REML",
        "multiple_outcomes": "preferred",
        "min_studies": "3",
        "min_per_subgroup": "2",
    }
    response = client.post(url, post)
    # A form error answers 400 with the form and its message, as every bad input does.
    assert response.status_code == 400 and "Mantel–Haenszel pools" in response.content.decode()
    assert not Analysis.objects.filter(title="Response").exists()
    response = client.post(url, {**post, "effect_measure": "RR"})
    assert response.status_code == 302
    assert Analysis.objects.get(title="Response").pooling_method == "MH"
    with pytest.raises(DomainError, match="odds ratios only"):
        services.analysis_save(
            review=cast.review,
            actor=cast.lead,
            values={
                "title": "Response 2",
                "window": window,
                "effect_measure": "RR",
                "pooling_method": "PETO",
            },
        )


@pytest.mark.django_db
def test_a_review_without_events_is_not_offered_ratios(client, cast):
    review_setup(cast)
    study_extracted(
        cast,
        StudySpec(
            "Means only 2001",
            [OutcomeSpec("Depressive symptoms", "HRSD", (12.0, 5.0, 40), (14.0, 5.5, 41))],
            {"diagnosis": "Depression", "format": "Group"},
        ),
    )
    client.force_login(cast.lead)
    page = client.get(reverse("analysis:create", kwargs={"slug": cast.review.slug}))
    text = page.content.decode()
    assert 'value="MD"' in text and 'value="RR"' not in text


@pytest.mark.r
@pytest.mark.django_db
@pytest.mark.parametrize(("measure", "pooling"), [("RR", "MH"), ("OR", "PETO"), ("OR", "IV")])
def test_exported_r_script_reproduces_the_dichotomous_analysis_in_r(
    client, linde, tmp_path, measure, pooling
):
    if not rcheck.rscript_available():
        pytest.skip("Rscript with metafor is not installed")
    analysis = clinical_analysis(
        linde,
        title="Response",
        subdomain="Depressive symptoms",
        effect_measure=measure,
        pooling_method=pooling,
        min_studies=3,
        subgroup_fields=[],
    )
    client.force_login(linde.lead)
    kw = {"slug": linde.review.slug, "analysis_id": analysis.pk}
    script = client.get(reverse("analysis:r_script", kwargs=kw)).content.decode()
    assert ("rma.mh(" in script) and ("rma.peto(" in script)
    report, _ = selectors.analysis_report(analysis)
    expected = rcheck.app_numbers(report)
    assert expected["all"]["estimate"] is not None
    rcheck.assert_matches(expected, rcheck.run_r(script, tmp_path), rel=1e-6)


def test_ratio_forest_axis_is_labelled_with_ratios():
    rows = [
        ForestRow("A", math.log(0.6), math.log(0.3), math.log(1.2), 40.0, ("3/30", "5/30")),
        ForestRow("B", math.log(1.5), math.log(0.9), math.log(3.1), 60.0, ("9/40", "6/41")),
    ]
    pooled = PooledSummary("Common-effect model", math.log(1.1), math.log(0.8), math.log(1.6))
    fig = forest_plot(
        rows, pooled, log_scale=True, study_columns=("Intervention", "Control"), effect_label="RR"
    )
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["0.25", "0.5", "1", "2", "4"]
    assert ax.get_xticks() == pytest.approx([math.log(x) for x in (0.25, 0.5, 1, 2, 4)])
    texts = {t.get_text() for t in ax.texts}
    assert {"0.60", "[0.30,", "1.20]", "3/30", "6/41", "Intervention"} <= texts
    with pytest.raises(PlotInputError):
        forest_plot([replace(rows[0], cells=("3/30",))], None, study_columns=("I", "C"))
