"""Dual extraction: blind until both submit, consensus of differing values, bad input refused."""

from __future__ import annotations

import copy
import json

import pytest

from analysis.stats import hedges_g
from extraction import selectors, services
from extraction.models import (
    ArmValue,
    Extraction,
    ExtractionKind,
    ExtractionRevision,
    ExtractionSettings,
    OutcomeData,
)
from extraction.schema import DEFAULT_TEMPLATE
from extraction.services import DataEntryError
from reviews.errors import ConflictError
from tests.extraction.factories import (
    COMPLETE_ANSWERS,
    arm_data,
    extract,
    included_study,
    with_structure,
)


@pytest.fixture
def study(cast):
    return included_study(cast, authors=["Smit, Anna"], year=2023)


@pytest.fixture
def s(study, cast):
    return with_structure(study, cast.lead)


def url(cast, study, tail=""):
    return f"/reviews/{cast.review.slug}/extraction/studies/{study.pk}/{tail}"


# --- the form -----------------------------------------------------------------------------


def test_new_review_gets_the_default_template_and_domains(cast):
    template = selectors.current_template(cast.review)
    assert template.version == 1
    assert template.schema["sections"][0]["title"] == "Study and participants"
    assert cast.review.outcome_domains.count() == 3


def test_a_draft_may_be_incomplete_but_submission_needs_required_fields(study, cast):
    extraction = services.extraction_start(study=study, user=cast.alice)
    services.extraction_save_answers(
        extraction=extraction, raw_answers={"country": "Netherlands"}, actor=cast.alice
    )
    with pytest.raises(DataEntryError) as exc:
        services.extraction_submit(extraction=extraction, actor=cast.alice)
    assert "intervention_name" in exc.value.errors
    extraction.refresh_from_db()
    assert extraction.status == "draft"
    services.extraction_save_answers(
        extraction=extraction, raw_answers=COMPLETE_ANSWERS, actor=cast.alice, submit=True
    )
    extraction.refresh_from_db()
    assert extraction.is_submitted and extraction.answers["mean_age"] == 41.5
    assert extraction.revisions.filter(action="submitted", actor=cast.alice).exists()


def test_a_submitted_extraction_is_read_only(study, s, cast):
    extraction = extract(study, cast.alice, s)
    with pytest.raises(ConflictError):
        services.extraction_save_answers(extraction=extraction, raw_answers={}, actor=cast.alice)


def test_only_two_extractors_in_dual_mode_and_one_in_single_mode(study, cast):
    services.extraction_start(study=study, user=cast.alice)
    services.extraction_start(study=study, user=cast.bob)
    with pytest.raises(ConflictError):
        services.extraction_start(study=study, user=cast.lead)
    ExtractionSettings.objects.filter(review=cast.review).update(mode="single")
    other = included_study(cast)
    services.extraction_start(study=other, user=cast.alice)
    with pytest.raises(ConflictError):
        services.extraction_start(study=other, user=cast.bob)


def test_template_edits_create_versions_and_old_answers_stay_readable(study, cast):
    extraction = services.extraction_start(study=study, user=cast.alice)
    services.extraction_save_answers(
        extraction=extraction, raw_answers={"funding": "Dutch research council"}, actor=cast.alice
    )
    schema = copy.deepcopy(DEFAULT_TEMPLATE)
    schema["sections"][3]["fields"] = [
        f for f in schema["sections"][3]["fields"] if f["key"] != "funding"
    ]
    schema["sections"][3]["fields"].append(
        {"key": "registered", "label": "Trial registered", "type": "yes_no", "required": False}
    )
    v2 = services.form_template_save(review=cast.review, schema=schema, actor=cast.lead)
    assert v2.version == 2
    assert services.form_template_save(review=cast.review, schema=schema, actor=cast.lead) == v2
    services.extraction_save_answers(
        extraction=extraction, raw_answers={"registered": "yes"}, actor=cast.alice
    )
    extraction.refresh_from_db()
    assert extraction.template == v2
    assert extraction.answers["funding"] == "Dutch research council"  # kept
    assert extraction.answers["registered"] is True
    display = selectors.answers_display(v2, extraction.answers)
    assert display[-1]["title"] == "Answers to fields no longer in the form"
    assert display[-1]["items"][0]["value"] == "Dutch research council"


def test_template_builder_view_validates_json_and_saves_versions(client, cast):
    client.force_login(cast.lead)
    endpoint = f"/reviews/{cast.review.slug}/extraction/template/"
    page = client.get(endpoint)
    assert page.status_code == 200 and "Save as new version" in page.content.decode()
    bad = client.post(endpoint, {"schema": "{not json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()
    schema = copy.deepcopy(DEFAULT_TEMPLATE)
    schema["sections"][0]["fields"][0]["type"] = "slider"
    bad = client.post(endpoint, {"schema": json.dumps(schema)})
    assert bad.status_code == 400 and "unknown type" in bad.content.decode()
    assert selectors.current_template(cast.review).version == 1
    schema["sections"][0]["fields"][0]["type"] = "long_text"
    assert client.post(endpoint, {"schema": json.dumps(schema)}).status_code == 302
    assert selectors.current_template(cast.review).version == 2


def test_form_page_renders_crispy_sections_and_saves_a_draft(client, study, cast):
    services.extraction_start(study=study, user=cast.alice)
    client.force_login(cast.alice)
    html = client.get(url(cast, study, "extract/")).content.decode()
    assert "Study and participants" in html and 'name="intervention_name"' in html
    response = client.post(url(cast, study, "extract/"), {"country": "Norway", "mean_age": "12,5"})
    assert response.status_code == 400
    assert "decimal separator" in response.content.decode()
    assert Extraction.objects.get(study=study, extractor=cast.alice).answers == {}
    response = client.post(url(cast, study, "extract/"), {"country": "Norway", "format": "Group"})
    assert response.status_code == 302
    assert Extraction.objects.get(study=study, extractor=cast.alice).answers["country"] == "Norway"


# --- outcome data and bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("sd", "-1", "SD must be greater than 0"),
        ("n", "0", "N must be at least 1"),
        ("mean", "12,5", "decimal separator"),
        ("se", "0", "SE must be greater than 0"),
    ],
)
def test_bad_arm_values_give_a_message_on_the_field_and_save_nothing(
    client, study, s, cast, field, value, words
):
    services.extraction_start(study=study, user=cast.alice)
    client.force_login(cast.alice)
    raw = arm_data(s)
    raw[f"arm-{s['peer'].pk}-{field}"] = value
    response = client.post(url(cast, study, f"extract/data/{s['outcome'].pk}/{s['post'].pk}/"), raw)
    assert response.status_code == 400
    html = response.content.decode()
    assert words in html and "is-invalid" in html
    assert not OutcomeData.objects.exists() and not ArmValue.objects.exists()


def test_a_p_value_of_1_5_is_refused(client, study, s, cast):
    services.extraction_start(study=study, user=cast.alice)
    client.force_login(cast.alice)
    response = client.post(
        url(cast, study, f"extract/data/{s['outcome'].pk}/{s['post'].pk}/"),
        {"p": "1.5", "p_direction": "1", "n_intervention": "20", "n_control": "20"},
    )
    assert response.status_code == 400
    assert "A p value lies between 0 and 1" in response.content.decode()
    assert not OutcomeData.objects.exists()


def test_good_values_are_saved_and_g_is_shown_beside_them(client, study, s, cast):
    services.extraction_start(study=study, user=cast.alice)
    client.force_login(cast.alice)
    endpoint = url(cast, study, f"extract/data/{s['outcome'].pk}/{s['post'].pk}/")
    assert client.post(endpoint, arm_data(s)).status_code == 302
    html = client.get(url(cast, study, "extract/data/")).content.decode()
    assert f"g = {hedges_g(30, 5, 45, 28, 6, 44)[0]:.2f}" in html
    assert "How g was computed" in html


def test_events_cannot_exceed_n(study, s, cast):
    extraction = services.extraction_start(study=study, user=cast.alice)
    raw = {f"arm-{s['peer'].pk}-events": "12", f"arm-{s['peer'].pk}-n": "10"}
    with pytest.raises(DataEntryError) as exc:
        services.outcome_data_save(
            extraction=extraction,
            outcome=s["outcome"],
            timepoint=s["post"],
            raw=raw,
            actor=cast.alice,
        )
    assert exc.value.errors == {f"arm-{s['peer'].pk}-events": "Events cannot exceed N."}


def test_structure_holding_data_cannot_be_deleted(study, s, cast):
    extract(study, cast.alice, s)
    for item in (s["peer"], s["outcome"], s["post"]):
        with pytest.raises(ConflictError):
            services.structure_delete(item=item, actor=cast.lead)


# --- blinding and consensus -------------------------------------------------------------------------


def test_extractors_are_blind_until_both_submitted(client, study, s, cast):
    extract(study, cast.alice, s, answers=COMPLETE_ANSWERS | {"country": "Belgium"})
    extraction = services.extraction_start(study=study, user=cast.bob)
    client.force_login(cast.bob)
    for page in ("extract/", "extract/data/", "", "consensus/"):
        html = client.get(url(cast, study, page)).content.decode()
        assert "Belgium" not in html
    assert client.get(url(cast, study, "consensus/")).status_code == 409
    with pytest.raises(ConflictError):
        services.consensus_check_ready(study=study, user=cast.bob)
    services.extraction_save_answers(
        extraction=extraction, raw_answers=COMPLETE_ANSWERS, actor=cast.bob, submit=True
    )
    assert "Belgium" in client.get(url(cast, study, "consensus/")).content.decode()


def test_consensus_page_highlights_each_difference_and_only_consensus_reaches_the_table(
    client, study, s, cast
):
    extract(study, cast.alice, s)
    extract(
        study,
        cast.bob,
        s,
        answers=COMPLETE_ANSWERS | {"format": "Mixed"},
        data=arm_data(s, peer=("30", "5.5", "45")),
    )
    assert selectors.outcome_table(cast.review)[0]["kind"] == "missing"  # nothing agreed yet
    client.force_login(cast.lead)
    page = client.get(url(cast, study, "consensus/"))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-differ="1"') == 2
    assert 'data-key="f:format"' in html
    sd_key = f"a:{s['outcome'].pk}:{s['post'].pk}:{s['peer'].pk}:sd"
    assert f'data-key="{sd_key}" data-differ="1"' in html

    cells = selectors.extraction_cells(Extraction.objects.get(study=study, extractor=cast.alice))
    post = {
        k: ("" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)))
        for k, v in cells.items()
    }
    post[sd_key] = "5"
    post["finalise"] = "1"
    assert client.post(url(cast, study, "consensus/"), post).status_code == 302
    consensus = Extraction.objects.get(study=study, kind=ExtractionKind.CONSENSUS)
    assert consensus.is_submitted and consensus.answers["format"] == "Group"
    (row,) = [r for r in selectors.outcome_table(cast.review) if r["kind"] == "row"]
    assert row["row"].yi == pytest.approx(hedges_g(30, 5, 45, 28, 6, 44)[0])
    html = client.get(f"/reviews/{cast.review.slug}/extraction/outcomes/").content.decode()
    assert "0.36" in html


def test_consensus_refuses_bad_values_and_saves_nothing(study, s, cast):
    extract(study, cast.alice, s)
    extract(study, cast.bob, s)
    key = f"a:{s['outcome'].pk}:{s['post'].pk}:{s['peer'].pk}:sd"
    with pytest.raises(DataEntryError) as exc:
        services.consensus_save(
            study=study, cells={key: "-1", "f:diagnosis": "Depression"}, actor=cast.lead
        )
    assert exc.value.errors[key] == "An SD must be greater than 0."
    assert not Extraction.objects.filter(study=study, kind=ExtractionKind.CONSENSUS).exists()


def test_single_extraction_is_verified_by_someone_else(study, s, cast):
    ExtractionSettings.objects.filter(review=cast.review).update(mode="single")
    extract(study, cast.alice, s)
    with pytest.raises(ConflictError, match="someone other than the extractor"):
        services.consensus_check_ready(study=study, user=cast.alice)
    cells = selectors.extraction_cells(Extraction.objects.get(study=study, extractor=cast.alice))
    services.consensus_save(study=study, cells=cells, actor=cast.bob, finalise=True)
    assert len(selectors.consensus_effect_sizes(cast.review).rows) == 1


def test_every_save_leaves_a_revision_with_the_actor(study, s, cast):
    extract(study, cast.alice, s)
    actions = list(
        ExtractionRevision.objects.filter(extraction__extractor=cast.alice).values_list(
            "action", flat=True
        )
    )
    assert actions.count("data saved") == 1 and "started" in actions and "submitted" in actions
