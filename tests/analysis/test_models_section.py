"""All effect sizes in a three-level model, meta-regression on extraction fields and RoB:
the report section, its bubble plot, exports, refusals, and R reproducing the numbers."""

from __future__ import annotations

import csv
import math
import subprocess

import pytest
from django.urls import reverse

from analysis import exports, selectors
from analysis import services as analysis_services
from analysis.stats import multilevel
from reviews.errors import DomainError

from . import rcheck
from .factories import DEPENDENT_STUDIES as STUDIES
from .factories import build_dependent_effects, clinical_analysis


@pytest.fixture
def eight(cast):
    build_dependent_effects(cast)
    return cast


def _analysis(cast, **values):
    return clinical_analysis(cast, subgroup_fields=[], **values)


@pytest.mark.django_db
def test_three_level_model_uses_every_effect_and_equals_the_engine(eight):
    analysis = _analysis(
        eight, effects_model="three_level", moderators=["mean_age"], robust_variance=True
    )
    report, _ = selectors.analysis_report(analysis)
    section = report.model
    assert section is not None and section.error == ""
    effects = section.effects
    assert len(effects) == sum(len(s[4]) for s in STUDIES) == 16
    assert len(report.input.main.effects) == 8  # the table keeps one effect per study
    res = section.result
    ref = multilevel(
        [e.yi for e in effects],
        [e.vi for e in effects],
        [e.study_id for e in effects],
        mods={"mean_age": [e.values["mean_age"] for e in effects]},
        test="t",
        robust="CR2",
    )
    assert res.names == ("intrcpt", "mean_age")
    assert res.b == ref.b and res.se == ref.se and res.df == ref.df
    assert res.sigma2 == ref.sigma2 and res.robust == "CR2"
    assert {e.values["mean_age"] for e in effects} >= {31.5, 42.0, 50.3}


@pytest.mark.django_db
def test_report_page_shows_model_variance_split_coefficients_and_bubble_plot(client, eight):
    analysis = _analysis(eight, effects_model="three_level", moderators=["mean_age", "rob"])
    client.force_login(eight.alice)
    kw = {"slug": eight.review.slug, "analysis_id": analysis.pk}
    html = client.get(reverse("analysis:detail", kwargs=kw)).content.decode()
    assert "All effect sizes: three-level model with moderators" in html
    assert "Between studies (level 3)" in html and "Within studies (level 2)" in html
    assert "Mean age (years)" in html and "Risk of bias (RoB 2 overall): Low risk" in html
    assert 'id="bubble-img"' in html
    assert "three-level model (effect sizes within studies" in html  # methods paragraph
    for fmt, start in (("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")):
        response = client.get(reverse("analysis:bubble", kwargs=kw | {"fmt": fmt}))
        assert response.status_code == 200 and response.content.startswith(start)
    svg = client.get(reverse("analysis:bubble", kwargs=kw | {"fmt": "svg"})).content.decode()
    assert "Mean age (years)" in svg and "16 effect sizes" in svg
    # XLSX gets a Model sheet, the R script the model
    report, _ = selectors.analysis_report(analysis)
    records = exports.model_records(report)
    assert [r["term"] for r in records][:2] == ["intrcpt", "mean_age"]
    script = client.get(reverse("analysis:r_script", kwargs=kw)).content.decode()
    assert "rma.mv(yi, vi, mods = ~ mean_age + rob, random = ~ 1 | study/es" in script


@pytest.mark.django_db
def test_meta_regression_of_one_effect_per_study(client, eight):
    analysis = _analysis(eight, moderators=["mean_age"], tau2_method="DL")
    report, _ = selectors.analysis_report(analysis)
    section = report.model
    assert section.kind == "metareg" and section.result.k == 8
    assert section.result.R2 is not None and section.result.tau2 is not None
    script = exports.r_script(report)
    assert 'rma(yi, vi, mods = ~ mean_age, data = model_dat, method = "DL", test = "knha"' in script


@pytest.mark.django_db
def test_models_that_cannot_be_fitted_are_refused_in_words(client, eight):
    client.force_login(eight.lead)
    # every study answers "Group": a moderator with one level
    analysis = _analysis(eight, effects_model="three_level", moderators=["format"])
    report, _ = selectors.analysis_report(analysis)
    assert report.model.result is None
    assert "only one level" in report.model.error
    kw = {"slug": eight.review.slug, "analysis_id": analysis.pk}
    html = client.get(reverse("analysis:detail", kwargs=kw)).content.decode()
    assert "This model cannot be fitted: moderator &#x27;format&#x27; has only one level" in html
    assert 'id="bubble-img"' not in html
    assert client.get(reverse("analysis:bubble", kwargs=kw | {"fmt": "svg"})).status_code == 400
    assert exports.model_records(report) == []
    assert "# Not fitted: moderator 'format' has only one level" in exports.r_script(report)


@pytest.mark.django_db
def test_services_refuse_unknown_moderators_and_other_weights(eight):
    with pytest.raises(DomainError, match="not a numeric or categorical field"):
        _analysis(eight, moderators=["nonsense"])
    with pytest.raises(DomainError, match="choose inverse-variance pooling"):
        _analysis(eight, effects_model="three_level", effect_measure="RR", pooling_method="MH")
    with pytest.raises(DomainError, match="Unknown way"):
        _analysis(eight, effects_model="four_level")
    assert analysis_services  # the services module is what the form calls


@pytest.mark.r
@pytest.mark.django_db
def test_exported_r_script_reproduces_the_model_with_metafor_and_clubsandwich(
    client, eight, tmp_path
):
    if not rcheck.rscript_available():
        pytest.skip("Rscript with metafor is not installed")
    probe = subprocess.run(["Rscript", "-e", "library(clubSandwich)"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("clubSandwich is not installed")
    analysis = _analysis(
        eight, effects_model="three_level", moderators=["mean_age", "rob"], robust_variance=True
    )
    client.force_login(eight.lead)
    kw = {"slug": eight.review.slug, "analysis_id": analysis.pk}
    script = client.get(reverse("analysis:r_script", kwargs=kw)).content.decode()
    path = tmp_path / "analysis.R"
    path.write_text(script, encoding="utf-8")
    out, model_out = tmp_path / "results.csv", tmp_path / "model.csv"
    proc = subprocess.run(
        ["Rscript", str(path), str(out), str(model_out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    with model_out.open(encoding="utf-8") as handle:
        r_rows = {r["term"]: r for r in csv.DictReader(handle)}
    report, _ = selectors.analysis_report(analysis)
    app_rows = exports.model_records(report)
    assert [r["term"] for r in app_rows] == list(r_rows)
    for rec in app_rows:
        for col in exports.MODEL_COLUMNS[1:]:
            got, want = rec[col], r_rows[rec["term"]][col]
            if got is None:
                assert want in ("", "NA"), (rec["term"], col, want)
                continue
            # metafor's optimiser stops within ~1e-6 of the REML maximum (see
            # tests/stats/test_models_reference.py); the engine maximises exactly
            assert math.isclose(got, float(want), rel_tol=1e-5, abs_tol=1e-8), (
                rec["term"],
                col,
                got,
                want,
            )
