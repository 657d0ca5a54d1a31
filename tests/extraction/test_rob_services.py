"""RoB 2 services: independence, progressive answering, proposals, overrides, consensus, history."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from extraction import services
from extraction.demo import demo_extraction
from extraction.rob import selectors as sel
from extraction.rob import services as svc
from extraction.rob.models import (
    RobAssessment,
    RobChange,
    RobDomain,
    RobKind,
    RobSettings,
    RobStatus,
    RobTarget,
    RobUnit,
)
from extraction.selectors import extraction_cells
from reviews.errors import ConflictError
from tests.extraction.factories import arm_data, extract
from tests.extraction.rob_matrix_params import ALL_LOW, fill, rob_study, submitted_pair

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(cast):
    return rob_study(cast)


@pytest.fixture
def target(cast, s):
    return svc.rob_target_get_or_create(
        review=cast.review, study=s["study"], outcome=s["outcome"], actor=cast.alice
    )


def domain(assessment, did) -> RobDomain:
    return RobDomain.objects.get(assessment=assessment, domain=did)


# --- starting: who, how many -----------------------------------------------------------------


def test_start_creates_five_empty_domains_and_is_idempotent(cast, target):
    first = svc.rob_assessment_start(target=target, user=cast.alice)
    again = svc.rob_assessment_start(target=target, user=cast.alice)
    assert first.pk == again.pk
    assert sorted(first.domains.values_list("domain", flat=True)) == ["D1", "D2", "D3", "D4", "D5"]
    assert first.changes.filter(field="status", new="started", actor=cast.alice).exists()


def test_third_assessor_and_non_reviewer_are_refused(cast, target):
    svc.rob_assessment_start(target=target, user=cast.alice)
    svc.rob_assessment_start(target=target, user=cast.bob)
    with pytest.raises(ConflictError, match="already has 2 assessors"):
        svc.rob_assessment_start(target=target, user=cast.lead)
    with pytest.raises(ConflictError, match="Only reviewers"):
        svc.rob_assessment_start(target=target, user=cast.carol)
    assert target.assessments.count() == 2


def test_target_must_match_the_review_unit(cast, s):
    with pytest.raises(svc.RobInputError, match="per outcome"):
        svc.rob_target_get_or_create(review=cast.review, study=s["study"], actor=cast.alice)
    svc.rob_settings_update(review=cast.review, actor=cast.lead, unit="study", missing_threshold=10)
    with pytest.raises(svc.RobInputError, match="per study"):
        svc.rob_target_get_or_create(
            review=cast.review, study=s["study"], outcome=s["outcome"], actor=cast.alice
        )
    target = svc.rob_target_get_or_create(review=cast.review, study=s["study"], actor=cast.alice)
    assert target.outcome is None and target.unit == RobUnit.STUDY


def test_unit_cannot_change_once_assessments_exist(cast, target):
    with pytest.raises(ConflictError, match="can no longer change"):
        svc.rob_settings_update(
            review=cast.review, actor=cast.lead, unit="study", missing_threshold=10
        )
    settings = svc.rob_settings_update(
        review=cast.review, actor=cast.lead, unit="outcome", missing_threshold=5
    )
    assert settings.missing_threshold == 5
    with pytest.raises(svc.RobInputError, match="between 0 and 50"):
        svc.rob_settings_update(
            review=cast.review, actor=cast.lead, unit="outcome", missing_threshold=80
        )


# --- answering: progressive questions, validation ----------------------------------------------


def test_conditional_question_only_once_it_applies(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    with pytest.raises(svc.RobInputError, match="2.3 does not apply"):
        svc.rob_answer_save(assessment=mine, question_id="2.3", answer="Y", actor=cast.alice)
    svc.rob_answer_save(assessment=mine, question_id="2.1", answer="Y", actor=cast.alice)
    svc.rob_answer_save(assessment=mine, question_id="2.3", answer="N", actor=cast.alice)
    assert domain(mine, "D2").answers == {"2.1": "Y", "2.3": "N"}


@pytest.mark.parametrize(
    ("qid", "answer", "message"),
    [
        ("1.1", "MAYBE", "not one of its answers"),
        ("9.1", "Y", "Unknown"),
        ("1.9", "Y", "no signalling question"),
        ("nonsense", "Y", "Unknown signalling question"),
    ],
)
def test_bad_answers_are_refused_and_nothing_saved(cast, target, qid, answer, message):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    with pytest.raises(svc.RobInputError, match=message):
        svc.rob_answer_save(assessment=mine, question_id=qid, answer=answer, actor=cast.alice)
    assert all(not d.answers for d in mine.domains.all())
    assert not mine.changes.exclude(field="status").exists()


def test_3_2_has_no_no_information_option(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    svc.rob_answer_save(assessment=mine, question_id="3.1", answer="N", actor=cast.alice)
    with pytest.raises(svc.RobInputError, match="3.2"):
        svc.rob_answer_save(assessment=mine, question_id="3.2", answer="NI", actor=cast.alice)


def test_domain_proposal_follows_the_answers(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    for qid, answer in {"1.1": "Y", "1.2": "Y"}.items():
        svc.rob_answer_save(assessment=mine, question_id=qid, answer=answer, actor=cast.alice)
    assert domain(mine, "D1").judgement == ""  # 1.3 still open
    svc.rob_answer_save(assessment=mine, question_id="1.3", answer="N", actor=cast.alice)
    row = domain(mine, "D1")
    assert (row.proposed, row.rule_id, row.judgement) == ("low", "D1.R1", "low")
    svc.rob_answer_save(assessment=mine, question_id="1.2", answer="N", actor=cast.alice)
    row = domain(mine, "D1")
    assert (row.proposed, row.rule_id, row.judgement) == ("high", "D1.R6", "high")


def test_answers_that_stop_applying_no_longer_steer_the_proposal(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    for qid, answer in {
        "2.1": "Y",
        "2.2": "Y",
        "2.3": "Y",
        "2.4": "Y",
        "2.5": "N",
        "2.6": "Y",
    }.items():
        svc.rob_answer_save(assessment=mine, question_id=qid, answer=answer, actor=cast.alice)
    assert domain(mine, "D2").judgement == "high"
    for qid in ("2.1", "2.2"):
        svc.rob_answer_save(assessment=mine, question_id=qid, answer="N", actor=cast.alice)
    row = domain(mine, "D2")
    assert row.judgement == "low"
    assert row.answers["2.3"] == "Y"  # kept, never deleted, but ignored


# --- overrides and the overall judgement -----------------------------------------------------------


def test_override_needs_a_justification(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    fill(mine, cast.alice, ALL_LOW)
    with pytest.raises(svc.RobInputError, match="needs a justification"):
        svc.rob_domain_judge(assessment=mine, domain_id="D1", judgement="high", actor=cast.alice)
    assert domain(mine, "D1").judgement == "low"
    svc.rob_domain_judge(
        assessment=mine,
        domain_id="D1",
        judgement="high",
        justification="Sequence generated by date of birth per protocol.",
        actor=cast.alice,
    )
    row = domain(mine, "D1")
    assert (row.proposed, row.override, row.judgement) == ("low", "high", "high")
    change = mine.changes.get(field="D1 override")
    assert (change.old, change.new, change.actor) == ("", "High risk", cast.alice)
    assert "date of birth" in change.note
    # The overall follows the overridden domain.
    mine.refresh_from_db()
    assert mine.overall_judgement == "high"


def test_database_refuses_an_unjustified_override(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        RobDomain.objects.filter(assessment=mine, domain="D1").update(override="high")


def test_override_is_withdrawn_when_the_proposal_changes(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    fill(mine, cast.alice, ALL_LOW)
    svc.rob_domain_judge(
        assessment=mine,
        domain_id="D1",
        judgement="some_concerns",
        justification="x",
        actor=cast.alice,
    )
    svc.rob_answer_save(assessment=mine, question_id="1.2", answer="N", actor=cast.alice)
    row = domain(mine, "D1")
    assert (row.override, row.judgement) == ("", "high")
    assert mine.changes.filter(field="D1 override", new="", note__startswith="Withdrawn").exists()


def test_overriding_before_answering_is_refused(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    with pytest.raises(svc.RobInputError, match="Answer every signalling question of D1"):
        svc.rob_domain_judge(
            assessment=mine, domain_id="D1", judgement="low", justification="x", actor=cast.alice
        )


def test_direction_alone_leaves_the_judgement(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    fill(mine, cast.alice, ALL_LOW)
    svc.rob_domain_judge(
        assessment=mine, domain_id="D1", judgement="high", justification="why", actor=cast.alice
    )
    svc.rob_domain_judge(
        assessment=mine,
        domain_id="D1",
        judgement=None,
        direction="Favours experimental",
        actor=cast.alice,
    )
    row = domain(mine, "D1")
    assert (row.override, row.direction) == ("high", "Favours experimental")
    with pytest.raises(svc.RobInputError, match="direction"):
        svc.rob_domain_judge(
            assessment=mine, domain_id="D1", judgement=None, direction="Sideways", actor=cast.alice
        )


def test_several_some_concerns_need_confirmation_before_submitting(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    fill(mine, cast.alice, {**ALL_LOW, "D1": "some_concerns", "D5": "some_concerns"})
    mine.refresh_from_db()
    assert mine.overall_proposed == "some_concerns"
    assert mine.overall_rule == "overall.some_concerns_multiple"
    assert mine.overall_judgement == ""
    with pytest.raises(svc.RobInputError, match="confirm some concerns or raise"):
        svc.rob_assessment_submit(assessment=mine, actor=cast.alice)
    with pytest.raises(svc.RobInputError, match="justification"):
        svc.rob_overall_judge(
            assessment=mine, judgement="high", justification=" ", actor=cast.alice
        )
    svc.rob_overall_judge(
        assessment=mine,
        judgement="high",
        justification="Two domains of concern that both favour the intervention.",
        actor=cast.alice,
    )
    mine.refresh_from_db()
    assert (mine.overall_judgement, mine.overall_override) == ("high", "high")
    submitted = svc.rob_assessment_submit(assessment=mine, actor=cast.alice)
    assert submitted.status == RobStatus.SUBMITTED and submitted.submitted_at


def test_submit_refuses_an_incomplete_assessment(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    svc.rob_answer_save(assessment=mine, question_id="1.1", answer="Y", actor=cast.alice)
    with pytest.raises(svc.RobInputError, match="1.2"):
        svc.rob_assessment_submit(assessment=mine, actor=cast.alice)
    mine.refresh_from_db()
    assert mine.status == RobStatus.DRAFT


# --- independence and blinding ------------------------------------------------------------------


def test_assessors_cannot_touch_each_others_assessment(cast, target):
    alices = svc.rob_assessment_start(target=target, user=cast.alice)
    with pytest.raises(ConflictError, match="Only the assessor"):
        svc.rob_answer_save(assessment=alices, question_id="1.1", answer="N", actor=cast.bob)
    with pytest.raises(ConflictError, match="Only the assessor"):
        svc.rob_support_save(assessment=alices, question_id="1.1", text="x", actor=cast.lead)
    assert not domain(alices, "D1").answers


def test_submitted_assessment_is_locked(cast):
    pair = submitted_pair(cast)
    with pytest.raises(ConflictError, match="submitted"):
        svc.rob_answer_save(assessment=pair["a"], question_id="1.1", answer="N", actor=cast.alice)


def test_consensus_opens_only_after_both_submitted(cast, target):
    alices = svc.rob_assessment_start(target=target, user=cast.alice)
    fill(alices, cast.alice, ALL_LOW)
    svc.rob_assessment_submit(assessment=alices, actor=cast.alice)
    with pytest.raises(ConflictError, match="blind"):
        svc.rob_consensus_open(target=target, actor=cast.alice)
    svc.rob_assessment_start(target=target, user=cast.bob)
    with pytest.raises(ConflictError, match="1 so far"):
        svc.rob_consensus_open(target=target, actor=cast.bob)
    assert not target.assessments.filter(kind=RobKind.CONSENSUS).exists()


def test_history_is_hidden_from_the_other_assessor_until_both_submitted(cast, target):
    alices = svc.rob_assessment_start(target=target, user=cast.alice)
    svc.rob_answer_save(assessment=alices, question_id="1.1", answer="Y", actor=cast.alice)
    assert sel.visible_history(alices, cast.bob) == []
    assert [c.field for c in sel.visible_history(alices, cast.alice)][:1] == ["1.1"]


# --- consensus --------------------------------------------------------------------------------------


def test_consensus_starts_with_agreed_answers_and_highlights_differences(cast):
    pair = submitted_pair(cast, profile_b={**ALL_LOW, "D1": "some_concerns"})
    consensus = svc.rob_consensus_open(target=pair["target"], actor=cast.alice)
    assert svc.rob_consensus_open(target=pair["target"], actor=cast.bob).pk == consensus.pk
    d1 = domain(consensus, "D1")
    assert d1.answers == {"1.1": "Y", "1.3": "N"}  # 1.2: Y (alice) vs NI (bob) stays open
    assert d1.judgement == ""
    assert domain(consensus, "D2").judgement == "low"
    comparison = sel.consensus_comparison(consensus)
    assert comparison.n_differences == 1
    row = next(r for r in comparison.domains[0].rows if r.question.id == "1.2")
    assert (row.a, row.b, row.differs, row.resolved) == ("Y", "NI", True, False)
    assert comparison.domains[0].judgements_differ
    with pytest.raises(svc.RobInputError, match="1.2"):
        svc.rob_consensus_finalise(consensus=consensus, actor=cast.alice)

    svc.rob_answer_save(assessment=consensus, question_id="1.2", answer="Y", actor=cast.bob)
    final = svc.rob_consensus_finalise(consensus=consensus, actor=cast.bob)
    assert (final.status, final.overall_judgement, final.finalised_by) == ("final", "low", cast.bob)
    assert not final.adjudicated
    rob = sel.consensus_rob(cast.review)
    assert rob[pair["study"].pk]["overall"] == "low"
    assert rob[pair["study"].pk]["outcomes"][pair["outcome"].pk]["domains"]["D1"] == "low"
    with pytest.raises(ConflictError, match="final"):
        svc.rob_answer_save(assessment=consensus, question_id="1.2", answer="N", actor=cast.bob)


def test_consensus_seeds_agreed_support_texts(cast):
    pair = submitted_pair(cast)
    consensus = svc.rob_consensus_open(target=pair["target"], actor=cast.alice)
    assert domain(consensus, "D1").support["1.1"] == "alice's support\nbob's support"


def test_consensus_editors_are_reviewers_or_adjudicators(cast, other_review):
    pair = submitted_pair(cast)
    consensus = svc.rob_consensus_open(target=pair["target"], actor=cast.alice)
    with pytest.raises(ConflictError, match="members"):
        svc.rob_answer_save(
            assessment=consensus, question_id="1.1", answer="N", actor=cast.outsider
        )
    svc.rob_answer_save(assessment=consensus, question_id="1.1", answer="PY", actor=cast.carol)
    assert domain(consensus, "D1").answers["1.1"] == "PY"


def test_referral_hands_the_decision_to_the_adjudicator(cast):
    pair = submitted_pair(cast, profile_b={**ALL_LOW, "D3": "high"})
    consensus = svc.rob_consensus_open(target=pair["target"], actor=cast.alice)
    with pytest.raises(svc.RobInputError, match="adjudicator should decide"):
        svc.rob_consensus_refer(consensus=consensus, actor=cast.alice, note="  ")
    svc.rob_consensus_refer(consensus=consensus, actor=cast.alice, note="3.1: 12 % missing?")
    with pytest.raises(ConflictError, match="adjudicator decides"):
        svc.rob_answer_save(assessment=consensus, question_id="3.1", answer="Y", actor=cast.bob)
    svc.rob_answer_save(assessment=consensus, question_id="3.1", answer="Y", actor=cast.carol)
    final = svc.rob_consensus_finalise(consensus=consensus, actor=cast.carol)
    assert final.adjudicated and final.finalised_by == cast.carol
    assert final.changes.filter(
        field="status", new="final (adjudicated)", actor=cast.carol
    ).exists()


def test_reopen_needs_a_reason_and_takes_the_study_out_of_analysis(cast):
    pair = submitted_pair(cast)
    consensus = svc.rob_consensus_open(target=pair["target"], actor=cast.alice)
    svc.rob_consensus_finalise(consensus=consensus, actor=cast.alice)
    assert pair["study"].pk in sel.consensus_rob(cast.review)
    version = sel.consensus_rob_version(cast.review)
    with pytest.raises(svc.RobInputError, match="reason"):
        svc.rob_consensus_reopen(consensus=consensus, actor=cast.bob, reason="")
    svc.rob_consensus_reopen(consensus=consensus, actor=cast.bob, reason="Protocol found")
    assert sel.consensus_rob(cast.review) == {}
    assert sel.consensus_rob_version(cast.review) != version


def test_every_change_is_in_the_history_with_old_and_new(cast, target):
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    svc.rob_answer_save(assessment=mine, question_id="1.1", answer="Y", actor=cast.alice)
    svc.rob_answer_save(assessment=mine, question_id="1.1", answer="PN", actor=cast.alice)
    svc.rob_support_save(
        assessment=mine, question_id="1.1", text="Quote: 'coin toss'", actor=cast.alice
    )
    changes = list(RobChange.objects.filter(assessment=mine).order_by("id"))
    fields = [(c.field, c.old, c.new) for c in changes]
    assert ("1.1", "", "Y") in fields
    assert ("1.1", "Y", "PN") in fields
    assert ("1.1 support", "", "Quote: 'coin toss'") in fields
    assert all(c.actor == cast.alice and c.at for c in changes)


# --- consensus_rob for analysis -------------------------------------------------------------------


def _final(cast, profile, label, *, per_study=False, s=None):
    s = s or rob_study(cast, label)
    if per_study:
        target = svc.rob_target_get_or_create(
            review=cast.review, study=s["study"], actor=cast.alice
        )
    else:
        target = svc.rob_target_get_or_create(
            review=cast.review, study=s["study"], outcome=s["outcome"], actor=cast.alice
        )
    for user in (cast.alice, cast.bob):
        own = svc.rob_assessment_start(target=target, user=user)
        fill(own, user, profile)
        own.refresh_from_db()
        if not own.overall_judgement:
            svc.rob_overall_judge(
                assessment=own, judgement="some_concerns", justification="ok", actor=user
            )
        svc.rob_assessment_submit(assessment=own, actor=user)
    consensus = svc.rob_consensus_open(target=target, actor=cast.alice)
    consensus.refresh_from_db()
    if not consensus.overall_judgement:
        svc.rob_overall_judge(
            assessment=consensus, judgement="some_concerns", justification="ok", actor=cast.alice
        )
    svc.rob_consensus_finalise(consensus=consensus, actor=cast.alice)
    return s


def test_consensus_rob_per_outcome_takes_the_worst_per_study(cast):
    s = _final(cast, ALL_LOW, "Smit 2023")
    second = services.outcome_create(
        study=s["study"], actor=cast.lead, name="Empowerment", direction="higher"
    )
    _final(cast, {**ALL_LOW, "D3": "high"}, "", s={**s, "outcome": second})
    _final(cast, {**ALL_LOW, "D2": "some_concerns"}, "Jones 2019")
    rob = sel.consensus_rob(cast.review)
    smit = rob[s["study"].pk]
    assert smit["overall"] == "high"
    assert smit["domains"] == {"D1": "low", "D2": "low", "D3": "high", "D4": "low", "D5": "low"}
    assert smit["outcomes"][s["outcome"].pk]["overall"] == "low"
    assert smit["outcomes"][second.pk]["overall"] == "high"
    assert sorted(e["overall"] for e in rob.values()) == ["high", "some_concerns"]
    figure = sel.figure_data(cast.review)
    assert {row[0] for row in figure.rows} == {
        "Smit 2023 · Hope (HHI)",
        "Smit 2023 · Empowerment",
        "Jones 2019 · Hope (HHI)",
    }
    assert figure.result == "" and figure.outcomes == ("Empowerment", "Hope")
    hope = sel.figure_data(cast.review, outcome="Hope")
    assert [row[0] for row in hope.rows] == ["Jones 2019", "Smit 2023"]
    assert hope.result == "Hope (HHI)"


def test_consensus_rob_per_study_and_unfinished_studies_absent(cast):
    RobSettings.objects.update_or_create(review=cast.review, defaults={"unit": RobUnit.STUDY})
    s = _final(
        cast, {**ALL_LOW, "D1": "some_concerns", "D4": "some_concerns"}, "A 2020", per_study=True
    )
    other = rob_study(cast, "B 2021")
    target = svc.rob_target_get_or_create(
        review=cast.review, study=other["study"], actor=cast.alice
    )
    svc.rob_assessment_start(target=target, user=cast.alice)
    rob = sel.consensus_rob(cast.review)
    assert list(rob) == [s["study"].pk]
    assert rob[s["study"].pk]["overall"] == "some_concerns"
    assert rob[s["study"].pk]["outcomes"] == {}


# --- review-specific rule: missing outcome data ------------------------------------------------------


def _extract(cast, s, user, n=("45", "44"), *, consensus=False):
    extraction = services.extraction_start(study=s["study"], user=user)
    raw = {"population": "itt"}
    for arm, value in ((s["peer"], n[0]), (s["cau"], n[1])):
        raw |= {f"arm-{arm.pk}-mean": "3", f"arm-{arm.pk}-sd": "1", f"arm-{arm.pk}-n": value}
    services.outcome_data_save(
        extraction=extraction, outcome=s["outcome"], timepoint=s["post"], raw=raw, actor=user
    )
    return extraction


def test_missing_data_rule_uses_only_the_viewers_own_or_the_consensus_extraction(cast, s, target):
    _extract(cast, s, cast.bob, n=("40", "30"))
    assert sel.missing_data_evidence(target, cast.alice) is None  # bob's numbers stay bob's
    evidence = sel.missing_data_evidence(target, cast.bob)
    assert evidence.percent == pytest.approx(30.0)
    assert not evidence.within and evidence.suggested_answer == "N"
    assert evidence.source == "your extraction"

    _extract(cast, s, cast.alice, n=("48", "47"))
    evidence = sel.missing_data_evidence(target, cast.alice)
    assert evidence.percent == pytest.approx(5.0)
    assert evidence.within and evidence.proposed_judgement == "low"
    assert evidence.suggested_answer == "Y"
    assert "95 of 100 randomised" in evidence.support_text
    assert "Peer support: 48/50" in evidence.support_text


def test_missing_data_rule_prefers_the_consensus_and_can_be_switched_off(cast, s, target):
    for user, n in ((cast.alice, ("48", "47")), (cast.bob, ("40", "45"))):
        extract(s["study"], user, s, data=arm_data(s, peer=("3", "1", n[0]), cau=("3", "1", n[1])))
    bobs = s["study"].extractions.get(extractor=cast.bob)
    services.consensus_save(
        study=s["study"], cells=extraction_cells(bobs), actor=cast.lead, finalise=True
    )
    evidence = sel.missing_data_evidence(target, cast.alice)
    assert evidence.source == "consensus extraction"
    assert evidence.percent == pytest.approx(15.0)
    svc.rob_settings_update(
        review=cast.review, actor=cast.lead, unit="outcome", missing_threshold=None
    )
    assert sel.missing_data_evidence(target, cast.alice) is None


def test_applying_the_rule_answers_3_1_and_proposes_low(cast, s, target):
    _extract(cast, s, cast.alice, n=("48", "47"))
    mine = svc.rob_assessment_start(target=target, user=cast.alice)
    evidence = sel.missing_data_evidence(target, cast.alice)
    svc.rob_answer_save(
        assessment=mine,
        question_id="3.1",
        answer=evidence.suggested_answer,
        support=evidence.support_text,
        actor=cast.alice,
    )
    row = domain(mine, "D3")
    assert (row.judgement, row.rule_id) == ("low", "D3.R1")
    assert "5.0 % missing" in row.support["3.1"]


# --- demo ------------------------------------------------------------------------------------------------


def test_demo_step_follows_the_extraction_demo_and_is_idempotent(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": cast.carol}
    demo_extraction(cast.review, users)
    assert "26 consensus" in svc.rob_demo_step(cast.review, users)
    counts = (RobTarget.objects.count(), RobAssessment.objects.count(), RobChange.objects.count())
    assert svc.rob_demo_step(cast.review, users) is None
    assert (
        RobTarget.objects.count(),
        RobAssessment.objects.count(),
        RobChange.objects.count(),
    ) == counts
    rob = sel.consensus_rob(cast.review)
    assert len(rob) == 26
    overall = [e["overall"] for e in rob.values()]
    assert {"low", "some_concerns", "high"} <= set(overall)
    # bob's disagreements on 1.2 were resolved in the consensus, which follows alice.
    disputed = [
        d.assessment.target
        for d in RobDomain.objects.filter(
            assessment__kind=RobKind.INDEPENDENT, assessment__assessor=cast.bob, domain="D1"
        ).select_related("assessment__target")
        if d.answers.get("1.2") == "PY"
    ]
    assert disputed
    for target in disputed:
        consensus = target.assessments.get(kind=RobKind.CONSENSUS)
        assert consensus.domains.get(domain="D1").answers["1.2"] == "NI"


def test_demo_step_per_study(cast):
    for label in ("A 2019", "B 2020", "C 2021"):
        rob_study(cast, label)
    svc.rob_settings_update(review=cast.review, actor=cast.lead, unit="study", missing_threshold=10)
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob}
    assert "3 consensus" in svc.rob_demo_step(cast.review, users)
    assert all(not e["outcomes"] for e in sel.consensus_rob(cast.review).values())
