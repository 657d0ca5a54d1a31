"""GRADE assessments and SoF tables through the services, on real consensus data.

Responders per arm from seven trials of Linde et al. (2005, metadat ``dat.linde2005``),
pooled as a Mantel-Haenszel risk ratio; two trials carry a RoB 2 consensus.
"""

from __future__ import annotations

import math

import pytest

from analysis import selectors as analysis_selectors
from analysis.certainty import rules, selectors, services
from analysis.certainty.models import CertaintyAssessment, CertaintyEvent
from reviews.errors import ConflictError, DomainError
from tests.analysis.factories import (
    clinical_analysis,
    consensus_verify,
    review_setup,
    rob_consensus,
    study_extracted,
)
from tests.analysis.test_dichotomous import LINDE, response_spec


@pytest.fixture
def rr_analysis(cast):
    review_setup(cast)
    studies = [study_extracted(cast, response_spec(*row)) for row in LINDE]
    rob_consensus(cast, studies[0], "high")
    rob_consensus(cast, studies[5], "low")
    analysis = clinical_analysis(
        cast,
        title="Response",
        subdomain="Depressive symptoms",
        effect_measure="RR",
        pooling_method="MH",
        subgroup_fields=[],
    )
    return analysis, studies


def accept_all(ctx, **overrides):
    finals = {k: (s.rating, "") for k, s in ctx.suggestions.items()}
    finals.update(overrides)
    return finals


@pytest.mark.django_db
def test_evidence_reads_weights_rob_per_result_and_counts(cast, rr_analysis):
    analysis, _ = rr_analysis
    report, _ = analysis_selectors.analysis_report(analysis)
    ctx = selectors.evidence_for(analysis)
    assert ctx.ok and ctx.k == report.main.k == 7
    assert ctx.participants == sum(n1 + n2 for _, _, n1, _, n2 in LINDE)
    ev = ctx.evidence
    robs = {s.label: s.rob for s in ev.studies}
    assert robs["Hoffman & Kuehl 1979"] == "high" and robs["Reh et al. 1992"] == "low"
    assert sum(s.weight for s in ev.studies) == pytest.approx(100)
    # the control risk of the SoF: control events over control participants
    assert ctx.control_risk == pytest.approx(
        sum(c for *_, c, _ in LINDE) / sum(n2 for *_, n2 in LINDE)
    )
    rob = ctx.suggestions["risk_of_bias"]
    high = next(s.weight for s in ev.studies if s.rob == "high")
    assert rob.numbers["weight at high risk"] == f"{high:.1f}%"
    # five of seven results without a consensus count as some concerns: serious
    assert rob.rating == rules.SERIOUS
    assert ctx.suggestions["publication_bias"].note == "not assessable"
    assert ctx.start == (rules.HIGH, "no study design answer: taken as randomised trials (RoB 2)")


@pytest.mark.django_db
def test_rating_needs_a_reason_for_each_override_and_records_the_actor(cast, rr_analysis):
    analysis, _ = rr_analysis
    ctx = selectors.evidence_for(analysis)
    finals = accept_all(ctx, indirectness=(rules.SERIOUS, ""))
    with pytest.raises(DomainError) as err:
        services.assessment_save(analysis=analysis, actor=cast.lead, finals=finals)
    assert err.value.field == "indirectness_reason"
    assert not CertaintyAssessment.objects.exists()
    finals["indirectness"] = (rules.SERIOUS, "Only inpatients; the question is about outpatients.")
    a = services.assessment_save(
        analysis=analysis, actor=cast.lead, finals=finals, intervention="St John's wort"
    )
    downs = [rules.LEVELS_DOWN[r] for r, _ in finals.values()]
    assert a.certainty == rules.certainty(rules.HIGH, downs)
    assert a.statement.startswith("St John's wort ") or a.statement.startswith("The evidence")
    event = CertaintyEvent.objects.get()
    assert (event.actor, event.action, event.assessment) == (cast.lead, "rated", a)
    assert event.detail["overridden"] == {"indirectness": finals["indirectness"][1]}
    # upgrades are for non-randomised evidence only
    with pytest.raises(DomainError, match="starts at high"):
        services.assessment_save(
            analysis=analysis,
            actor=cast.lead,
            finals=finals,
            upgrades={"large_effect": 1},
            upgrade_reason="RR 3",
        )
    with pytest.raises(DomainError, match="ratio above 0"):
        services.assessment_save(
            analysis=analysis, actor=cast.lead, finals=finals, thresholds=[0, 1]
        )


@pytest.mark.django_db
def test_editing_an_extracted_value_after_rating_marks_the_assessment_changed(cast, rr_analysis):
    analysis, studies = rr_analysis
    ctx = selectors.evidence_for(analysis)
    a = services.assessment_save(analysis=analysis, actor=cast.lead, finals=accept_all(ctx))
    assert selectors.assessment_view(analysis).stale is False
    # the lead corrects the control arm's responders of one trial
    study = studies[2]
    arm = study.arms.get(role="control")
    data = study.extractions.get(kind="consensus").data.get()
    consensus_verify(cast, study, {f"a:{data.outcome_id}:{data.timepoint_id}:{arm.pk}:events": 9})
    view = selectors.assessment_view(analysis)
    assert view.stale is True
    table = services.sof_table_save(
        review=cast.review, actor=cast.lead, values={"title": "St John's wort vs placebo"}
    )
    services.sof_row_add(table=table, assessment=a, actor=cast.lead)
    sof = selectors.sof_view(table)
    assert sof.any_stale and "Data changed since rated" in sof.footnotes[-1].text
    # re-confirming takes the new numbers (refused if a suggestion moved from an unexplained
    # final rating, accepted otherwise)
    try:
        services.assessment_confirm(assessment=a, actor=cast.lead)
    except ConflictError:
        fresh = selectors.evidence_for(analysis)
        services.assessment_save(analysis=analysis, actor=cast.lead, finals=accept_all(fresh))
    assert selectors.assessment_view(analysis).stale is False
    assert not selectors.sof_view(table).any_stale
    assert CertaintyEvent.objects.filter(
        action__in=("confirmed", "re-rated"), actor=cast.lead
    ).exists()


@pytest.mark.django_db
def test_sof_absolute_effects_equal_the_hand_formula(cast, rr_analysis):
    analysis, _ = rr_analysis
    ctx = selectors.evidence_for(analysis)
    a = services.assessment_save(analysis=analysis, actor=cast.lead, finals=accept_all(ctx))
    table = services.sof_table_save(
        review=cast.review, actor=cast.lead, values={"title": "St John's wort vs placebo"}
    )
    row = services.sof_row_add(table=table, assessment=a, actor=cast.lead)
    report, _ = analysis_selectors.analysis_report(analysis)
    rr, lo, hi = (
        math.exp(x) for x in (report.main.estimate, report.main.ci_low, report.main.ci_high)
    )
    acr = 1000 * sum(c for *_, c, _ in LINDE) / sum(n2 for *_, n2 in LINDE)
    line = selectors.sof_view(table).lines[0]
    # RR: corresponding risk = ACR × RR (per 1,000), CI from the RR's CI
    assert line.absolute.assumed == pytest.approx(acr)
    assert line.absolute.corresponding == pytest.approx(min(1000, acr * rr))
    assert line.absolute.corresponding_low == pytest.approx(min(1000, acr * lo))
    assert line.absolute.corresponding_high == pytest.approx(min(1000, acr * hi))
    assert line.participants == f"{sum(n1 + n2 for _, _, n1, _, n2 in LINDE):,} (7 RCTs)"
    assert line.relative.startswith("RR ")
    # a typed control risk replaces the control arms'
    services.sof_row_save(row=row, actor=cast.lead, values={"assumed_risk": 100.0})
    line = selectors.sof_view(table).lines[0]
    assert line.assumed == "100 per 1,000"
    assert line.absolute.corresponding == pytest.approx(100 * rr)
    assert line.difference.endswith(")") and "per 1,000" in line.difference
    # the footnotes name each downgrade with its reason
    downs = [d for d in a.domains.all() if d.final != rules.NO_CONCERN]
    assert len(selectors.sof_view(table).footnotes) == len(downs)
    with pytest.raises(DomainError):
        services.sof_row_save(row=row, actor=cast.lead, values={"assumed_risk": 1001.0})


def test_odds_ratio_and_risk_difference_formulas():
    from analysis.certainty.absolute import absolute_effect

    a = absolute_effect("OR", 200, 2.0, 1.0, 4.0)
    # CR = ACR × OR / (1 − ACR + ACR × OR) = 0.2 × 2 / (0.8 + 0.4) = 1/3
    assert a.corresponding == pytest.approx(1000 / 3)
    assert a.corresponding_low == pytest.approx(200)
    assert a.corresponding_high == pytest.approx(1000 * 0.8 / (0.8 + 0.8))
    d = absolute_effect("RD", 300, -0.05, -0.1, 0.0)
    assert (d.corresponding, d.corresponding_low, d.corresponding_high) == pytest.approx(
        (250, 200, 300)
    )
    assert d.difference == pytest.approx(-50)


@pytest.mark.django_db
def test_review_archive_carries_ratings_and_sof_tables(cast, rr_analysis):
    import io
    import zipfile

    from reviews.archive.export import review_export
    from reviews.archive.format import MANIFEST, data_file
    from reviews.archive.restore import review_import

    analysis, _ = rr_analysis
    ctx = selectors.evidence_for(analysis)
    a = services.assessment_save(
        analysis=analysis,
        actor=cast.lead,
        finals=accept_all(ctx, indirectness=(rules.SERIOUS, "Outpatients only.")),
    )
    table = services.sof_table_save(review=cast.review, actor=cast.lead, values={"title": "T"})
    services.sof_row_add(table=table, assessment=a, actor=cast.lead)

    def export(review) -> dict[str, bytes]:
        out = io.BytesIO()
        review_export(review=review, out=out)
        with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
            return {name: z.read(name) for name in z.namelist()}

    first = export(cast.review)
    for label in ("assessment", "domain", "event"):
        assert data_file(f"analysis.certainty{label}") in first, label
    assert data_file("analysis.sofrow") in first
    out = io.BytesIO()
    review_export(review=cast.review, out=out)
    copy = review_import(source=io.BytesIO(out.getvalue()), slug="copy")
    second = export(copy)
    for name, data in first.items():
        if name != MANIFEST:
            assert second[name] == data, name
    restored = CertaintyAssessment.objects.get(review=copy)
    assert restored.domains.get(domain="indirectness").reason == "Outpatients only."
    assert restored.sof_rows.get().table.review == copy
    # the restored rating is current for the copy's (identical) data
    assert selectors.assessment_view(restored.analysis).stale is False


@pytest.mark.django_db
def test_a_new_rob_consensus_or_changed_analysis_settings_also_mark_it_changed(cast, rr_analysis):
    from analysis import services as analysis_services

    analysis, studies = rr_analysis
    ctx = selectors.evidence_for(analysis)
    a = services.assessment_save(analysis=analysis, actor=cast.lead, finals=accept_all(ctx))
    rob_consensus(cast, studies[3], "some_concerns")
    view = selectors.assessment_view(analysis)
    assert view.stale is True
    robs = {s.label: s.rob for s in view.context.evidence.studies}
    assert robs["Halama 1991"] == "some_concerns"
    # the suggestions shown are those of the current data; the stored ones are kept
    assert a.domains.get(domain="risk_of_bias").numbers == ctx.suggestions["risk_of_bias"].numbers
    services.assessment_confirm(assessment=a, actor=cast.lead)
    assert selectors.assessment_view(analysis).stale is False
    assert CertaintyEvent.objects.filter(action="confirmed", actor=cast.lead).count() == 1
    values = {name: getattr(analysis, name) for name in analysis_services.ANALYSIS_FIELDS}
    analysis_services.analysis_save(
        review=cast.review,
        actor=cast.lead,
        values={**values, "pooling_method": "IV", "tau2_method": "DL"},
        analysis=analysis,
    )
    analysis.refresh_from_db()
    assert selectors.assessment_view(analysis).stale is True


def test_study_design_answers():
    assert selectors.randomised_from("Randomised controlled trial") is True
    assert selectors.randomised_from("Cluster-randomized trial") is True
    assert selectors.randomised_from("Non-randomised controlled study") is False
    assert selectors.randomised_from("Prospective cohort") is False
    assert selectors.randomised_from(["Quasi-randomised"]) is False
    assert selectors.randomised_from("") is None
    assert selectors.randomised_from(None) is None
    assert selectors.randomised_from("Other") is None


def test_rob_of_the_pooled_result_per_outcome():
    from analysis.data import EffectInput, RobJudgement
    from analysis.report import StudyEffect

    def row(outcome_id, name, instrument):
        return EffectInput(
            1, "S", outcome_id, name, "D", "Sub", instrument, None, "Post", 12.0, "post", "",
            0.1, 0.01, 50, 50,
        )  # fmt: skip

    rows = [row(10, "Depression", "BDI-II"), row(11, "Depression", "HRSD")]
    per_outcome = {1: RobJudgement("high", {}, {10: "low", 11: "high"})}
    effect = StudyEffect(1, "S", 0.1, 0.01, outcome="Depression (BDI-II)")
    assert selectors._result_rob(effect, rows, per_outcome) == "low"
    averaged = StudyEffect(1, "S", 0.1, 0.01, outcome="Depression (BDI-II); Depression (HRSD)")
    assert selectors._result_rob(averaged, rows, per_outcome) == "high"
    unassessed = {1: RobJudgement("high", {}, {11: "high"})}
    assert selectors._result_rob(effect, rows, unassessed) == ""
    per_study = {1: RobJudgement("some_concerns", {}, {})}
    assert selectors._result_rob(effect, rows, per_study) == "some_concerns"
    assert selectors._result_rob(effect, rows, {}) == ""


@pytest.mark.django_db
def test_continuous_outcome_smd_row_with_a_named_scale(cast):
    from tests.analysis.factories import twelve_trials

    review_setup(cast)
    specs = twelve_trials()[:6]
    for spec in specs:
        spec.outcomes = spec.outcomes[:1]
        study_extracted(cast, spec)
    analysis = clinical_analysis(cast, title="Depressive symptoms", subgroup_fields=[])
    report, _ = analysis_selectors.analysis_report(analysis)
    ctx = selectors.evidence_for(analysis)
    ev = ctx.evidence
    # REML with Hartung-Knapp: the prediction interval and I²'s CI reach the rules
    assert (ev.pi_low, ev.pi_high) == (report.main.pi_low, report.main.pi_high)
    assert ev.I2_low == report.main.I2_qprofile_ci_low
    incon = ctx.suggestions["inconsistency"]
    assert "95% prediction interval" in incon.numbers and "I² 95% CI" in incon.numbers
    assert {s.rob for s in ev.studies} == {"high", "some_concerns", "low"}
    a = services.assessment_save(
        analysis=analysis, actor=cast.lead, finals=accept_all(ctx), intervention="peer support"
    )
    assert "peer support" in a.statement.lower()
    table = services.sof_table_save(review=cast.review, actor=cast.lead, values={"title": "T"})
    row = services.sof_row_add(table=table, assessment=a, actor=cast.lead)
    services.sof_row_save(
        row=row, actor=cast.lead, values={"scale_name": "the BDI-II", "scale_sd": 8.0}
    )
    line = selectors.sof_view(table).lines[0]
    g = report.main.estimate
    assert line.continuous.startswith(f"SMD {rules.fmt(g)} ")
    assert line.back_transformed.startswith(f"{rules.fmt(abs(g * 8.0), 1)} points ")
    assert line.relative == "" and line.absolute is None
    assert line.participants == f"{ctx.participants:,} (6 RCTs)"


@pytest.mark.django_db
def test_non_randomised_evidence_starts_low_and_may_be_rated_up(cast):
    import copy

    from extraction import services as extraction_services
    from extraction.schema import DEFAULT_TEMPLATE

    review_setup(cast)
    schema = copy.deepcopy(DEFAULT_TEMPLATE)
    schema["sections"][0]["fields"].append(
        {
            "key": "study_design",
            "label": "Study design",
            "type": "single_choice",
            "help": "",
            "required": False,
            "choices": ["Randomised controlled trial", "Non-randomised controlled study"],
        }
    )
    extraction_services.form_template_save(review=cast.review, schema=schema, actor=cast.lead)
    for row in LINDE:
        spec = response_spec(*row)
        spec.answers["study_design"] = "Non-randomised controlled study"
        study_extracted(cast, spec)
    analysis = clinical_analysis(
        cast,
        title="Response",
        subdomain="Depressive symptoms",
        effect_measure="RR",
        pooling_method="MH",
        subgroup_fields=[],
    )
    ctx = selectors.evidence_for(analysis)
    assert ctx.start == (rules.LOW, "non-randomised studies start at low")
    assert ctx.large_effect == 1  # RR about 2.9, its CI above 1
    finals = accept_all(ctx)
    with pytest.raises(DomainError, match="Say why"):
        services.assessment_save(
            analysis=analysis, actor=cast.lead, finals=finals, upgrades={"large_effect": 1}
        )
    a = services.assessment_save(
        analysis=analysis,
        actor=cast.lead,
        finals=finals,
        upgrades={"large_effect": 1},
        upgrade_reason="RR above 2 in every trial.",
    )
    downs = [rules.LEVELS_DOWN[r] for r, _ in finals.values()]
    assert a.start_level == rules.LOW
    assert a.certainty == rules.certainty(rules.LOW, downs, [1])
    table = services.sof_table_save(review=cast.review, actor=cast.lead, values={"title": "T"})
    services.sof_row_add(table=table, assessment=a, actor=cast.lead)
    assert selectors.sof_view(table).lines[0].participants.endswith("(7 studies)")
