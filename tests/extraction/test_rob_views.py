"""RoB 2 pages: blinding in HTML and htmx fragments, progressive questions, errors, figures."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from extraction import services
from extraction.rob import services as svc
from extraction.rob.models import RobAssessment, RobDomain, RobKind, RobSettings
from tests.extraction.factories import arm_data
from tests.extraction.rob_matrix_params import ALL_LOW, fill, rob_study, submitted_pair

pytestmark = pytest.mark.django_db

SECRET = "ALICE-SECRET-QUOTE"
HX = {"HTTP_HX_REQUEST": "true"}


def url(name, cast, target=None, **kwargs):
    args = [cast.review.slug] + ([target.pk] if target is not None else [])
    return reverse(f"extraction:{name}", args=args, kwargs=kwargs or None)


@pytest.fixture
def target(cast):
    s = rob_study(cast)
    return svc.rob_target_get_or_create(
        review=cast.review, study=s["study"], outcome=s["outcome"], actor=cast.alice
    )


@pytest.fixture
def alice_submitted(cast, target):
    """alice has submitted (with a recognisable support text, D1 high); bob has started."""
    alices = svc.rob_assessment_start(target=target, user=cast.alice)
    fill(alices, cast.alice, {**ALL_LOW, "D1": "high"}, support=SECRET)
    svc.rob_assessment_submit(assessment=alices, actor=cast.alice)
    svc.rob_assessment_start(target=target, user=cast.bob)
    return target


# --- blinding --------------------------------------------------------------------------------


def test_second_assessor_sees_none_of_the_first_assessors_work(client, cast, alice_submitted):
    target = alice_submitted
    client.force_login(cast.bob)
    pages = [
        client.get(url("rob_assess", cast, target)),
        client.get(url("rob_consensus", cast, target)),
        client.get(url("rob_overview", cast)),
        client.get(url("rob_figures", cast)),
    ]
    for response in pages:
        assert response.status_code == 200
        html = response.content.decode()
        assert SECRET not in html
        assert "High risk" not in html  # alice's D1 and overall judgement
    assert "The consensus opens when both assessments are submitted" in pages[1].content.decode()


def test_fragments_of_the_second_assessor_do_not_leak(client, cast, alice_submitted):
    target = alice_submitted
    client.force_login(cast.bob)
    for name, data in (
        ("rob_answer", {"question": "1.1", "answer": "Y"}),
        ("rob_answer", {"question": "1.1", "answer": "BAD"}),
        ("rob_support", {"question": "1.1", "support": "my own"}),
        ("rob_judge", {"domain": "D1", "direction": "Towards null"}),
        ("rob_overall", {"judgement": "high", "justification": ""}),
    ):
        response = client.post(url(name, cast, target), data, **HX)
        assert response.status_code in (200, 400)
        assert SECRET not in response.content.decode()
    # Writing to the consensus before it opens is refused without revealing anything.
    response = client.post(
        url("rob_consensus_answer", cast, target), {"question": "1.1", "answer": "Y"}, **HX
    )
    assert response.status_code == 409
    assert SECRET not in response.content.decode()


def test_submitted_assessment_refuses_support_edits_in_place(client, cast, alice_submitted):
    client.force_login(cast.alice)
    response = client.post(
        url("rob_support", cast, alice_submitted), {"question": "1.1", "support": "late"}, **HX
    )
    assert response.status_code == 409
    assert 'data-testid="support-error-1.1"' in response.content.decode()
    mine = RobAssessment.objects.get(target=alice_submitted, assessor=cast.alice)
    assert RobDomain.objects.get(assessment=mine, domain="D1").support["1.1"] == SECRET


def test_lead_who_is_not_an_assessor_is_blind_too(client, cast, alice_submitted):
    client.force_login(cast.lead)
    html = client.get(url("rob_assess", cast, alice_submitted)).content.decode()
    assert SECRET not in html
    assert "Start my assessment" not in html  # two places taken
    html = client.get(url("rob_consensus", cast, alice_submitted)).content.decode()
    assert SECRET not in html


def test_consensus_shows_both_side_by_side_once_both_submitted(client, cast):
    pair = submitted_pair(cast, profile_b={**ALL_LOW, "D1": "some_concerns"})
    client.force_login(cast.carol)  # adjudicator: may read and work on the consensus
    response = client.get(url("rob_consensus", cast, pair["target"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "alice&#x27;s support" in html and "bob&#x27;s support" in html
    assert html.count('data-differs="1"') == 1  # 1.2: Y vs NI
    assert 'data-testid="differences-D1"' in html
    assert "1 question answered differently" in html


# --- progressive questions with htmx ------------------------------------------------------------


def test_answering_shows_follow_up_questions_and_updates_the_proposal(client, cast, target):
    svc.rob_assessment_start(target=target, user=cast.alice)
    client.force_login(cast.alice)
    html = client.get(url("rob_assess", cast, target)).content.decode()
    assert 'data-testid="q-2.1"' in html and 'data-testid="q-2.3"' not in html

    response = client.post(
        url("rob_answer", cast, target), {"question": "2.1", "answer": "Y"}, **HX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="q-2.3"' in html  # now applicable
    assert 'id="overall"' in html and 'hx-swap-oob="true"' in html
    assert 'id="rob-progress"' in html

    for qid, answer in {"1.1": "Y", "1.2": "Y"}.items():
        client.post(url("rob_answer", cast, target), {"question": qid, "answer": answer}, **HX)
    html = client.post(
        url("rob_answer", cast, target), {"question": "1.3", "answer": "N"}, **HX
    ).content.decode()
    assert 'data-testid="proposal-D1"' in html
    assert "D1.R1" in html and "Low risk" in html


def test_bad_answer_gives_a_message_and_saves_nothing(client, cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    client.force_login(cast.alice)
    response = client.post(
        url("rob_answer", cast, target), {"question": "2.3", "answer": "Y"}, **HX
    )
    assert response.status_code == 400
    assert "2.3 does not apply" in response.content.decode()
    response = client.post(url("rob_answer", cast, target), {"question": "2.3", "answer": "Y"})
    assert response.status_code == 302  # without htmx: back to the page with a message
    assert not RobDomain.objects.get(assessment=mine, domain="D2").answers


def test_override_without_justification_is_refused_in_the_page(client, cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    fill(mine, cast.alice, ALL_LOW)
    client.force_login(cast.alice)
    response = client.post(
        url("rob_judge", cast, target),
        {"domain": "D1", "judgement": "high", "justification": ""},
        **HX,
    )
    assert response.status_code == 400
    assert "needs a justification" in response.content.decode()
    assert RobDomain.objects.get(assessment=mine, domain="D1").judgement == "low"
    response = client.post(
        url("rob_judge", cast, target),
        {"domain": "D1", "judgement": "high", "justification": "Alternation by weekday."},
        **HX,
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="override-D1"' in html
    assert "Alternation by weekday." in html


def test_start_and_submit_through_the_pages(client, cast, target):
    client.force_login(cast.bob)
    response = client.post(
        url("rob_start", cast), {"study": target.study_id, "outcome": target.outcome_id}
    )
    assert response.status_code == 302
    mine = RobAssessment.objects.get(target=target, assessor=cast.bob)
    response = client.post(url("rob_submit", cast, target))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "draft"  # incomplete: refused with a message
    fill(mine, cast.bob, ALL_LOW)
    response = client.post(url("rob_submit", cast, target))
    mine.refresh_from_db()
    assert mine.status == "submitted"
    assert response["Location"] == url("rob_overview", cast)


def test_start_refuses_a_study_of_another_review(client, cast, other_review):
    client.force_login(cast.alice)
    response = client.post(url("rob_start", cast), {"study": 999999})
    assert response.status_code == 400


def test_consensus_workflow_in_the_pages(client, cast):
    pair = submitted_pair(cast, profile_b={**ALL_LOW, "D1": "some_concerns"})
    target = pair["target"]
    client.force_login(cast.alice)
    client.get(url("rob_consensus", cast, target))
    response = client.post(
        url("rob_consensus_answer", cast, target), {"question": "1.2", "answer": "PY"}, **HX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="proposal-D1"' in html
    response = client.post(url("rob_consensus_finalise", cast, target))
    assert response.status_code == 302
    consensus = RobAssessment.objects.get(target=target, kind=RobKind.CONSENSUS)
    assert consensus.status == "final"
    html = client.get(url("rob_overview", cast)).content.decode()
    assert "View consensus" in html and "rob-low" in html


def test_refer_and_adjudicate_in_the_pages(client, cast):
    pair = submitted_pair(cast, profile_b={**ALL_LOW, "D1": "high"})
    target = pair["target"]
    client.force_login(cast.bob)
    client.get(url("rob_consensus", cast, target))
    client.post(url("rob_consensus_refer", cast, target), {"note": "1.2 concealment"})
    response = client.post(
        url("rob_consensus_answer", cast, target), {"question": "1.2", "answer": "N"}, **HX
    )
    assert response.status_code == 409
    client.force_login(cast.carol)
    html = client.get(url("rob_consensus", cast, target)).content.decode()
    assert "1.2 concealment" in html and "Decide and finalise" in html
    client.post(url("rob_consensus_answer", cast, target), {"question": "1.2", "answer": "N"}, **HX)
    client.post(url("rob_consensus_finalise", cast, target))
    consensus = RobAssessment.objects.get(target=target, kind=RobKind.CONSENSUS)
    assert (consensus.status, consensus.adjudicated, consensus.overall_judgement) == (
        "final",
        True,
        "high",
    )


def test_missing_data_rule_in_the_page_uses_only_the_viewers_numbers(client, cast, target):
    s = {
        "peer": target.study.arms.get(name="Peer support"),
        "cau": target.study.arms.get(name="Care as usual"),
    }
    s.update(outcome=target.outcome, post=target.study.timepoints.get())
    extraction = services.extraction_start(study=target.study, user=cast.alice)
    services.outcome_data_save(
        extraction=extraction,
        outcome=target.outcome,
        timepoint=s["post"],
        raw=arm_data(s, peer=("3", "1", "48"), cau=("3", "1", "47")),
        actor=cast.alice,
    )
    for user in (cast.alice, cast.bob):
        svc.rob_assessment_start(target=target, user=user)
    client.force_login(cast.bob)
    assert (
        'data-testid="missing-data-rule"'
        not in client.get(url("rob_assess", cast, target)).content.decode()
    )
    client.force_login(cast.alice)
    html = client.get(url("rob_assess", cast, target)).content.decode()
    assert 'data-testid="missing-data-rule"' in html and "5.0 % missing" in html
    response = client.post(
        url("rob_answer", cast, target),
        {"question": "3.1", "answer": "Y", "support": "95 of 100 analysed"},
        **HX,
    )
    assert 'data-testid="proposal-D3"' in response.content.decode()
    mine = RobAssessment.objects.get(target=target, assessor=cast.alice)
    d3 = RobDomain.objects.get(assessment=mine, domain="D3")
    assert (d3.judgement, d3.support["3.1"]) == ("low", "95 of 100 analysed")


# --- figures --------------------------------------------------------------------------------------


@pytest.fixture
def finalised(cast):
    pair = submitted_pair(cast)
    consensus = svc.rob_consensus_open(target=pair["target"], actor=cast.alice)
    svc.rob_consensus_finalise(consensus=consensus, actor=cast.alice)
    return pair


def test_figure_downloads(client, cast, finalised):
    client.force_login(cast.carol)
    html = client.get(url("rob_figures", cast)).content.decode()
    assert 'data-testid="traffic-light"' in html
    svg = client.get(url("rob_traffic_light_svg", cast) + "?download=1")
    assert svg["Content-Type"] == "image/svg+xml"
    assert "attachment" in svg["Content-Disposition"]
    body = svg.content.decode()
    assert "<svg" in body and "Smit 2023" in body and "Risk of bias (RoB 2) · Hope (HHI)" in body
    assert "#02c100" in body.lower()
    png = client.get(url("rob_summary_png", cast))
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    blind = client.get(url("rob_traffic_light_svg", cast) + "?palette=colourblind").content.decode()
    assert "#fed98e" in blind.lower() and "#02c100" not in blind.lower()
    rows = list(csv.reader(io.StringIO(client.get(url("rob_robvis_csv", cast)).content.decode())))
    assert rows[0] == ["Study", "D1", "D2", "D3", "D4", "D5", "Overall", "Weight"]
    assert rows[1] == ["Smit 2023", "Low", "Low", "Low", "Low", "Low", "Low", "100"]


def test_figures_per_outcome_filter_and_unknown_palette(client, cast, finalised):
    client.force_login(cast.alice)
    body = client.get(
        url("rob_traffic_light_svg", cast) + "?outcome=Hope&palette=rainbow"
    ).content.decode()
    assert "Smit 2023" in body and "Smit 2023 · Hope" not in body
    assert "#02c100" in body.lower()  # unknown palette falls back to Cochrane
    response = client.get(url("rob_traffic_light_svg", cast) + "?outcome=Nothing")
    assert response.status_code == 409


def test_figures_without_final_consensus(client, cast, target):
    client.force_login(cast.alice)
    assert "No final consensus yet" in client.get(url("rob_figures", cast)).content.decode()
    assert client.get(url("rob_robvis_csv", cast)).status_code == 409
    assert client.get(url("rob_summary_svg", cast)).status_code == 409


# --- settings ----------------------------------------------------------------------------------------


def test_settings_page(client, cast):
    client.force_login(cast.lead)
    response = client.post(url("rob_settings", cast), {"unit": "study", "missing_threshold": "5"})
    assert response.status_code == 302
    settings = RobSettings.objects.get(review=cast.review)
    assert (settings.unit, settings.missing_threshold) == ("study", 5)
    response = client.post(url("rob_settings", cast), {"unit": "study", "missing_threshold": "75"})
    assert response.status_code == 400
    assert RobSettings.objects.get(review=cast.review).missing_threshold == 5
