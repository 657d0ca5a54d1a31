"""What analysis reads: consensus effect sizes per study × outcome × timepoint, and who is left out."""

from __future__ import annotations

import pytest

from analysis.stats import hedges_g
from extraction import selectors, services
from extraction.models import Extraction, TimepointKind
from tests.extraction.factories import (
    COMPLETE_ANSWERS,
    arm_data,
    extract,
    included_study,
    with_structure,
)


def agree(study, cast):
    cells = selectors.extraction_cells(Extraction.objects.get(study=study, extractor=cast.alice))
    return services.consensus_save(study=study, cells=cells, actor=cast.lead, finalise=True)


def dual(cast, answers=COMPLETE_ANSWERS, data=None, direction="higher", **kwargs):
    study = included_study(cast, **kwargs)
    s = with_structure(study, cast.lead, direction=direction)
    for user in (cast.alice, cast.bob):
        extract(study, user, s, answers=answers, data=data(s) if data else None)
    agree(study, cast)
    return study, s


def test_rows_carry_everything_analysis_needs(cast):
    study, s = dual(cast)
    services.subdomain_save(
        review=cast.review,
        actor=cast.lead,
        domain_name="Personal recovery",
        name="Hope",
        preferred_instruments="Herth Hope Index\nAdult Hope Scale",
    )
    result = selectors.consensus_effect_sizes(cast.review)
    (row,) = result.rows
    g, v = hedges_g(30, 5, 45, 28, 6, 44)
    assert (row.yi, row.vi) == (pytest.approx(g), pytest.approx(v))
    assert row.study_id == study.pk and row.study_label == study.label
    assert (row.domain, row.subdomain, row.instrument) == (
        "Personal recovery",
        "Hope",
        "Herth Hope Index",
    )
    assert row.preferred_rank == 0
    assert (row.timepoint, row.weeks, row.timepoint_kind) == ("Post-treatment", 12, "post")
    assert (row.n_intervention, row.n_control, row.population) == (45, 44, "itt")
    assert row.fields["diagnosis"] == "Depression" and row.fields["format"] == "Group"
    assert result.field_labels["comparator_type"] == "Comparator type"
    assert "Waiting list" in result.field_choices["comparator_type"]
    assert result.missing == ()


def test_independent_values_never_reach_analysis(cast):
    study = included_study(cast)
    s = with_structure(study, cast.lead)
    extract(study, cast.alice, s)
    extract(study, cast.bob, s)
    result = selectors.consensus_effect_sizes(cast.review)
    assert result.rows == ()
    assert [m.reason for m in result.missing] == ["no_consensus"]


def test_missing_sd_and_one_arm_are_reported_per_study(cast):
    dual(
        cast,
        data=lambda s: {
            f"arm-{s['peer'].pk}-mean": "3",
            f"arm-{s['peer'].pk}-n": "20",
            f"arm-{s['cau'].pk}-mean": "2",
            f"arm-{s['cau'].pk}-sd": "1",
            f"arm-{s['cau'].pk}-n": "20",
        },
    )
    dual(
        cast,
        data=lambda s: {
            f"arm-{s['peer'].pk}-mean": "3",
            f"arm-{s['peer'].pk}-sd": "1",
            f"arm-{s['peer'].pk}-n": "20",
        },
    )
    reasons = sorted(m.reason for m in selectors.consensus_effect_sizes(cast.review).missing)
    assert reasons == ["missing_sd", "one_arm"]


def test_filters_by_domain_window_and_study_field(cast):
    study, s = dual(cast)
    dual(cast, answers=COMPLETE_ANSWERS | {"diagnosis": "Mixed"})
    services.timepoint_create(
        study=study, actor=cast.lead, label="6 months", weeks=26, kind=TimepointKind.FOLLOW_UP
    )
    assert len(selectors.consensus_effect_sizes(cast.review, domain="personal recovery").rows) == 2
    assert selectors.consensus_effect_sizes(cast.review, subdomain="Loneliness").rows == ()
    follow_up = selectors.consensus_effect_sizes(cast.review, timepoint_kind="follow_up")
    assert follow_up.rows == ()
    assert {m.reason for m in follow_up.missing} == {"no_data"}
    assert len(selectors.consensus_effect_sizes(cast.review, weeks_min=10, weeks_max=14).rows) == 2
    only = selectors.consensus_effect_sizes(cast.review, study_filters={"diagnosis": "Mixed"})
    assert len(only.rows) == 1 and only.rows[0].fields["diagnosis"] == "Mixed"


def test_direction_is_aligned_in_what_analysis_reads(cast):
    dual(cast, direction="lower")
    (row,) = selectors.consensus_effect_sizes(cast.review).rows
    assert row.yi == pytest.approx(-hedges_g(30, 5, 45, 28, 6, 44)[0])


def test_data_version_changes_when_consensus_changes(cast):
    study, s = dual(cast)
    before = selectors.consensus_data_version(cast.review)
    assert selectors.consensus_data_version(cast.review) == before
    cells = selectors.extraction_cells(study.extractions.get(kind="consensus"))
    cells[f"a:{s['outcome'].pk}:{s['post'].pk}:{s['peer'].pk}:mean"] = 31
    services.consensus_save(study=study, cells=cells, actor=cast.lead, finalise=True)
    assert selectors.consensus_data_version(cast.review) != before


def test_multi_arm_rule_comes_from_the_review(cast):
    from extraction.models import ArmRole, ExtractionSettings

    study = included_study(cast)
    s = with_structure(study, cast.lead)
    extra = services.arm_create(
        study=study, actor=cast.lead, name="Online peers", role=ArmRole.INTERVENTION
    )
    data = arm_data(s) | {
        f"arm-{extra.pk}-mean": "33",
        f"arm-{extra.pk}-sd": "5",
        f"arm-{extra.pk}-n": "40",
    }
    for user in (cast.alice, cast.bob):
        extract(study, user, s, data=data)
    agree(study, cast)
    assert len(selectors.consensus_effect_sizes(cast.review).rows) == 1
    ExtractionSettings.objects.filter(review=cast.review).update(multi_arm_rule="split")
    rows = selectors.consensus_effect_sizes(cast.review).rows
    assert [r.comparison for r in rows] == [
        "Peer support vs Care as usual",
        "Online peers vs Care as usual",
    ]
    assert rows[0].n_control == 22


def test_outcome_table_csv(client, cast):
    dual(cast, authors=["Smit, Anna"], year=2023)
    client.force_login(cast.carol)
    response = client.get(f"/reviews/{cast.review.slug}/extraction/outcomes/?format=csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("study,outcome,domain")
    assert lines[1].startswith("Smit 2023,Hope,Personal recovery,Hope,Herth Hope Index")
