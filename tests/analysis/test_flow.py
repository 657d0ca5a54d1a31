"""End to end through the ORM: extracted consensus data -> report page, plots, exports.

The data are entered through the extraction services (single extraction + verification,
RoB 2 consensus per study); the expected numbers are computed independently from the
trials' means/SDs/Ns with analysis.stats.
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from django.urls import reverse

from analysis import selectors, services, stats
from analysis.exports import formatted_cells
from analysis.formatting import fmt_estimate_ci, fmt_i2, fmt_p, fmt_range
from analysis.models import Analysis, AnalysisEvent
from extraction.models import Direction
from reviews.errors import DomainError
from tests.analysis import rcheck
from tests.analysis.factories import (
    OutcomeSpec,
    StudySpec,
    build_twelve,
    clinical_analysis,
    consensus_verify,
    review_setup,
    study_extracted,
    twelve_trials,
)

SVG = "{http://www.w3.org/2000/svg}"


def expected_main():
    """(label, yi, vi, diagnosis, format, rob) of the twelve trials at post-treatment, from
    the published-style means/SDs with the preferred instrument (BDI-II, then MHI-5)."""
    out = []
    for spec in twelve_trials():
        post = [
            o for o in spec.outcomes if o.kind == "post" and o.subdomain == "Depressive symptoms"
        ]
        o = next(x for x in post if x.instrument in ("BDI-II", "MHI-5"))
        g, v = stats.hedges_g(o.peer[0], o.peer[1], o.peer[2], o.cau[0], o.cau[1], o.cau[2])
        if o.direction == Direction.LOWER:
            g = -g
        out.append((spec.label, g, v, spec.answers["diagnosis"], spec.answers["format"], spec.rob))
    return sorted(out)


def page_cells(html: str) -> dict[str, dict[str, str]]:
    """data-row -> data-col -> text of the results table."""
    cells: dict[str, dict[str, str]] = {}
    for row_key, body in re.findall(r'<tr class="[^"]*" data-row="([^"]+)">(.*?)</tr>', html, re.S):
        cells[row_key] = {
            col: html_lib.unescape(re.sub(r"\s+", " ", text).strip())
            for col, text in re.findall(r'data-col="(\w+)">(.*?)</td>', body, re.S)
        }
    return cells


def cells_of(res) -> dict[str, str]:
    return {
        "k": str(res.k),
        "g": fmt_estimate_ci(res.estimate, res.ci_low, res.ci_high),
        "i2": fmt_i2(res.I2, res.I2_qprofile_ci_low, res.I2_qprofile_ci_high),
        "p": fmt_p(res.p),
        "pi": fmt_range(res.pi_low, res.pi_high),
    }


@pytest.fixture
def twelve(cast):
    build_twelve(cast)
    return clinical_analysis(cast)


@pytest.mark.django_db
def test_report_page_forest_and_r_script_equal_the_engine(client, cast, twelve):
    exp = expected_main()
    y = np.array([e[1] for e in exp])
    v = np.array([e[2] for e in exp])
    client.force_login(cast.alice)  # any member may read
    url = reverse("analysis:detail", kwargs={"slug": cast.review.slug, "analysis_id": twelve.pk})
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    cells = page_cells(html)

    def check(key, mask):
        ref = stats.rma(y[mask], v[mask], method="REML", test="knha")
        for col, text in cells_of(ref).items():
            assert cells[key][col] == text, (key, col)

    check("all", np.ones(len(exp), bool))
    check("sub:diagnosis:0", np.array([e[3].startswith("Serious") for e in exp]))
    check("sub:diagnosis:1", np.array([e[3] == "Depression" for e in exp]))
    check("sub:format:0", np.array([e[4] == "Group" for e in exp]))
    check("rob:high", np.array([e[5] == "high" for e in exp]))
    check("rob:excl_high", np.array([e[5] != "high" for e in exp]))
    diag = stats.subgroup_analysis(y, v, [e[3] for e in exp], method="REML", test="knha")
    assert cells["subhead:diagnosis"]["p_between"] == fmt_p(diag.Q_between_p)
    # the specific outcome with three studies is listed, not pooled; long-term has two
    assert "not pooled: fewer than 5 studies" in html
    assert cells["window:1"]["k"] == "2"
    # "left out and why": the study nobody extracted
    assert "Pfeiffer 2019" in html and "no consensus extraction yet" in html
    # the preferred-instrument rule is applied and said
    assert "preferred instrument BDI-II (not EPDS)" in html

    # forest plot: every study label is a text element of the SVG
    svg = client.get(
        reverse(
            "analysis:forest",
            kwargs={"slug": cast.review.slug, "analysis_id": twelve.pk, "fmt": "svg"},
        )
    )
    assert svg["Content-Type"] == "image/svg+xml"
    texts = {"".join(t.itertext()) for t in ET.fromstring(svg.content).iter(f"{SVG}text")}
    assert {e[0] for e in exp} <= texts
    assert "Random-effects model" in texts

    # R script: its embedded data, run through analysis.stats, give the page's numbers
    script = client.get(
        reverse("analysis:r_script", kwargs={"slug": cast.review.slug, "analysis_id": twelve.pk})
    ).content.decode()
    results = client.get(
        reverse("analysis:results_csv", kwargs={"slug": cast.review.slug, "analysis_id": twelve.pk})
    ).content.decode()
    records = list(csv.DictReader(io.StringIO(results)))
    rcheck.assert_matches(rcheck.recompute(script), records, rel=1e-12)
    # and the results CSV is what the page shows
    report, _ = selectors.analysis_report(twelve)
    assert cells["all"]["g"] == formatted_cells(report.row("all"))["g"]


@pytest.mark.r
@pytest.mark.django_db
def test_exported_r_script_reproduces_the_page_in_r(client, cast, twelve, tmp_path):
    if not rcheck.rscript_available():
        pytest.skip("Rscript with metafor is not installed")
    client.force_login(cast.lead)
    kw = {"slug": cast.review.slug, "analysis_id": twelve.pk}
    script = client.get(reverse("analysis:r_script", kwargs=kw)).content.decode()
    r_rows = rcheck.run_r(script, tmp_path)
    report, _ = selectors.analysis_report(twelve)
    expected = rcheck.app_numbers(report)
    rcheck.assert_matches(expected, r_rows, rel=1e-6)


@pytest.mark.django_db
def test_estimator_override_partial_and_saving_it(client, cast, twelve):
    exp = expected_main()
    y, v = [e[1] for e in exp], [e[2] for e in exp]
    client.force_login(cast.bob)
    url = reverse("analysis:table", kwargs={"slug": cast.review.slug, "analysis_id": twelve.pk})
    response = client.get(url, {"method": "DL", "hk": "0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="report-body" data-method="DL" data-hk="0">')
    ref = stats.rma(y, v, method="DL", test="z")
    assert page_cells(html)["all"]["g"] == cells_of(ref)["g"]
    assert client.get(url, {"method": "XX"}).status_code == 400
    # a reviewer may try but not save; the lead saves
    save = reverse(
        "analysis:save_settings", kwargs={"slug": cast.review.slug, "analysis_id": twelve.pk}
    )
    assert client.post(save, {"method": "DL", "hk": "0"}).status_code == 403
    client.force_login(cast.lead)
    assert client.post(save, {"method": "DL", "hk": "0"}).status_code == 302
    twelve.refresh_from_db()
    assert (twelve.tau2_method, twelve.hartung_knapp) == ("DL", False)
    assert AnalysisEvent.objects.filter(analysis=twelve, action="changed", actor=cast.lead).exists()


@pytest.fixture
def six(cast):
    review_setup(cast)
    studies = []
    for i in range(6):
        spec = StudySpec(
            f"Trial {i + 1}",
            [OutcomeSpec("Hope", "Herth Hope Index", (30.0 + i, 5.0, 40 + i), (29.0, 5.5, 41))],
            {"diagnosis": "Depression", "format": "Group"},
            rob="low" if i % 2 else "high",
        )
        studies.append(study_extracted(cast, spec))
    analysis = clinical_analysis(cast, title="Hope", domain="Personal recovery", subdomain="Hope")
    return analysis, studies


@pytest.mark.django_db
def test_results_follow_consensus_changes_and_are_cached_otherwise(cast, six, monkeypatch):
    analysis, studies = six
    calls = []
    real = selectors.report_compute
    monkeypatch.setattr(selectors, "report_compute", lambda inp: calls.append(1) or real(inp))
    first, _ = selectors.analysis_report(analysis)
    again, _ = selectors.analysis_report(analysis)
    assert len(calls) == 1 and again.row("all").numbers == first.row("all").numbers
    # the lead corrects one SD in the consensus: a new data version, recomputed
    study = studies[0]
    arm = study.arms.get(role="intervention")
    data = study.extractions.get(kind="consensus").data.get()
    consensus_verify(cast, study, {f"a:{data.outcome_id}:{data.timepoint_id}:{arm.pk}:sd": 2.0})
    changed, _ = selectors.analysis_report(analysis)
    assert len(calls) == 2
    assert changed.row("all").numbers.estimate != first.row("all").numbers.estimate
    # a changed RoB consensus also counts: one fewer "high"
    assert changed.row("rob:high").k == 3


@pytest.mark.django_db
def test_exports_and_plot_formats(client, cast, six):
    analysis, _ = six
    client.force_login(cast.carol)  # adjudicator only: still a member, may read
    kw = {"slug": cast.review.slug, "analysis_id": analysis.pk}
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")):
        for name in ("forest", "funnel"):
            response = client.get(
                reverse(f"analysis:{name}", kwargs={**kw, "fmt": fmt}), {"download": "1"}
            )
            assert response.status_code == 200 and response.content.startswith(magic), (name, fmt)
            assert response["Content-Disposition"].startswith(
                'attachment; filename="hope-post-treatment'
            )
    assert client.get(reverse("analysis:forest", kwargs={**kw, "fmt": "gif"})).status_code == 404
    xlsx = client.get(reverse("analysis:results_xlsx", kwargs=kw))
    assert xlsx.content.startswith(b"PK")
    data = client.get(reverse("analysis:data_csv", kwargs=kw)).content.decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert [r["study"] for r in rows] == [f"Trial {i}" for i in range(1, 7)]
    assert {r["rob"] for r in rows} == {"low", "high"}
    # subgroup forest by diagnosis
    by = client.get(
        reverse("analysis:forest", kwargs={**kw, "fmt": "svg"}), {"subgroup": "diagnosis"}
    )
    assert b"Depression" in by.content
    assert (
        client.get(
            reverse("analysis:forest", kwargs={**kw, "fmt": "svg"}), {"subgroup": "nope"}
        ).status_code
        == 400
    )
    # the outsider sees none of it
    client.force_login(cast.outsider)
    assert client.get(reverse("analysis:data_csv", kwargs=kw)).status_code == 404
    assert client.get(reverse("analysis:r_script", kwargs=kw)).status_code == 404


@pytest.mark.django_db
def test_lead_defines_an_analysis_through_the_form(client, cast, six):
    client.force_login(cast.lead)
    url = reverse("analysis:create", kwargs={"slug": cast.review.slug})
    page = client.get(url)
    assert page.status_code == 200 and "Diagnosis / population" in page.content.decode()
    window = cast.review.analysis_windows.get(label="Post-treatment")
    post = {
        "title": "Personal recovery",
        "outcome": "d:Personal recovery",
        "window": window.pk,
        "tau2_method": "PM",
        "hartung_knapp": "on",
        "multiple_outcomes": "average",
        "min_studies": "3",
        "min_per_subgroup": "2",
        "subgroup_fields": ["format"],
        "filter_diagnosis": "Depression",
        "show_rob": "on",
    }
    response = client.post(url, post)
    assert response.status_code == 302
    analysis = Analysis.objects.get(review=cast.review, title="Personal recovery")
    assert (analysis.domain, analysis.subdomain, analysis.tau2_method) == (
        "Personal recovery",
        "",
        "PM",
    )
    assert analysis.study_filters == {"diagnosis": "Depression"}
    report, ad = selectors.analysis_report(analysis)
    assert report.row("all").k == 6 and report.settings.multiple_outcomes == "average"
    # the same title twice is refused with a message, nothing saved
    again = client.post(url, post)
    assert again.status_code == 400 and "already an analysis called" in again.content.decode()
    # a filter no study matches leaves every study out, each with the reason
    edit = reverse("analysis:edit", kwargs={"slug": cast.review.slug, "analysis_id": analysis.pk})
    assert client.post(edit, {**post, "filter_diagnosis": "Anxiety"}).status_code == 302
    report, ad = selectors.analysis_report(Analysis.objects.get(pk=analysis.pk))
    assert report.row("all").k == 0
    assert {s.reasons for s in ad.left_out} == {
        ("excluded by the analysis' study filter (diagnosis = Anxiety)",)
    }


@pytest.mark.django_db
def test_services_refuse_bad_definitions(cast, six):
    analysis, _ = six
    window = analysis.window
    base = {"title": "X", "window": window}
    with pytest.raises(DomainError, match="not an outcome domain"):
        services.analysis_save(
            review=cast.review, actor=cast.lead, values={**base, "domain": "Nope"}
        )
    with pytest.raises(DomainError, match="not part of"):
        services.analysis_save(
            review=cast.review,
            actor=cast.lead,
            values={**base, "domain": "Clinical recovery", "subdomain": "Hope"},
        )
    with pytest.raises(DomainError, match="categorical field"):
        services.analysis_save(
            review=cast.review, actor=cast.lead, values={**base, "subgroup_fields": ["country"]}
        )
    with pytest.raises(DomainError, match="not an answer"):
        services.analysis_save(
            review=cast.review,
            actor=cast.lead,
            values={**base, "study_filters": {"diagnosis": "Flu"}},
        )
    with pytest.raises(DomainError, match="window ends before"):
        services.window_save(
            review=cast.review,
            actor=cast.lead,
            label="W",
            kind="follow_up",
            weeks_min=10,
            weeks_max=5,
        )
    with pytest.raises(DomainError, match="is the timepoint of Hope"):
        services.window_delete(window=window, actor=cast.lead)
    assert not Analysis.objects.filter(title="X").exists()


@pytest.mark.django_db
def test_index_and_dashboard_show_each_main_effect(client, cast, six):
    analysis, _ = six
    client.force_login(cast.alice)
    html = client.get(reverse("analysis:index", kwargs={"slug": cast.review.slug})).content.decode()
    report, _ = selectors.analysis_report(analysis)
    g = formatted_cells(report.row("all"))["g"]
    assert "Hope" in html and g in html
    dash = client.get(
        reverse("reviews:dashboard", kwargs={"slug": cast.review.slug})
    ).content.decode()
    assert 'data-panel="Analysis"' in dash and f"g = {g}" in dash
    # reviewers cannot define analyses
    assert (
        client.get(reverse("analysis:create", kwargs={"slug": cast.review.slug})).status_code == 403
    )
