"""State changes of RoB 2 assessments: start, answer, judge, submit, consensus, adjudication.

Every function is keyword-only, runs in one transaction, locks the row it
changes and writes a :class:`RobChange` per changed value naming the actor.
Judgements are never typed into the database directly: after every answer the
algorithm of :mod:`extraction.rob.algorithm` re-proposes the domain and overall
judgements, and an assessor's override (always with a justification) is kept
only while the proposal it was made against stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews.errors import ConflictError, DomainError
from reviews.models import Membership, Review, Role
from reviews.services import review_generated_note_set, setting_changes_log

from .algorithm import (
    BIAS_DIRECTIONS,
    DOMAIN_BY_ID,
    DOMAINS,
    JUDGEMENT_LABELS,
    JUDGEMENTS,
    Rob2Error,
    apply_override,
    effective_answers,
    propose_domain,
    propose_overall,
    questions_for,
)
from .models import (
    RobAssessment,
    RobChange,
    RobDomain,
    RobKind,
    RobSettings,
    RobStatus,
    RobTarget,
    RobUnit,
)

__all__ = [
    "RobInputError",
    "rob_answer_save",
    "rob_domain_answers_save",
    "rob_assessment_start",
    "rob_assessment_submit",
    "rob_consensus_finalise",
    "rob_consensus_open",
    "rob_consensus_refer",
    "rob_consensus_reopen",
    "rob_demo_step",
    "rob_domain_judge",
    "rob_overall_judge",
    "rob_settings_update",
    "rob_support_save",
    "rob_target_get_or_create",
]

ASSESSORS_NEEDED = 2
SUPPORT_MAX = 5000
NEEDS_CONFIRMATION_RULE = "overall.some_concerns_multiple"


class RobInputError(DomainError):
    """An answer, judgement or justification the RoB 2 rules refuse (a 400 with a message)."""


# --- helpers -----------------------------------------------------------------------------


def _log(
    assessment: RobAssessment, actor: Any, field: str, old: Any, new: Any, note: str = ""
) -> None:
    if (old or "") == (new or ""):
        return
    RobChange.objects.create(
        assessment=assessment,
        actor=actor,
        field=field,
        old=str(old or ""),
        new=str(new or ""),
        note=note[:200],
    )


def _label(judgement: str) -> str:
    return JUDGEMENT_LABELS.get(judgement, judgement)


def _membership(review: Review, user: Any) -> Membership | None:
    return Membership.objects.filter(review=review, user=user).first()


def _lock(assessment: RobAssessment) -> RobAssessment:
    return (
        RobAssessment.objects.select_for_update(of=("self",))
        .select_related("target__review", "target__study", "target__outcome")
        .get(pk=assessment.pk)
    )


def _submitted(target: RobTarget) -> list[RobAssessment]:
    return list(
        target.assessments.filter(kind=RobKind.INDEPENDENT, status=RobStatus.SUBMITTED)
        .select_related("assessor")
        .order_by("submitted_at", "id")
    )


def _check_can_write(assessment: RobAssessment, actor: Any) -> None:
    """Independent: only its assessor, until submitted. Consensus: reviewers/adjudicators."""
    if assessment.kind == RobKind.INDEPENDENT:
        if assessment.assessor_id != getattr(actor, "pk", None):
            raise ConflictError("Only the assessor can change their own assessment.")
        if assessment.status == RobStatus.SUBMITTED:
            raise ConflictError(
                "This assessment has been submitted; corrections are made in the consensus."
            )
        return
    if assessment.status == RobStatus.FINAL:
        raise ConflictError("The consensus is final; reopen it to make changes.")
    membership = _membership(assessment.target.review, actor)
    if membership is None:
        raise ConflictError("Only members of the review can work on its consensus.")
    if assessment.status == RobStatus.REFERRED:
        if not membership.has_role(Role.ADJUDICATOR):
            raise ConflictError(
                "This consensus has been referred to adjudication; an adjudicator decides now."
            )
    elif not (membership.has_role(Role.REVIEWER) or membership.has_role(Role.ADJUDICATOR)):
        raise ConflictError("Only reviewers and adjudicators can work on the consensus.")


def _domain_row(assessment: RobAssessment, domain_id: str) -> RobDomain:
    if domain_id not in DOMAIN_BY_ID:
        raise RobInputError(f"Unknown RoB 2 domain “{domain_id}”.", field="domain")
    row, _ = RobDomain.objects.select_for_update().get_or_create(
        assessment=assessment, domain=domain_id
    )
    return row


def _recompute_domain(row: RobDomain, actor: Any) -> None:
    """Re-propose the domain from its answers; withdraw an override made against another rule."""
    try:
        proposal = propose_domain(row.domain, row.answers)
        proposed, rule_id = proposal.judgement, proposal.rule_id
    except Rob2Error:
        proposed, rule_id = "", ""
    if row.override and row.override_of != rule_id:
        _log(
            row.assessment,
            actor,
            f"{row.domain} override",
            _label(row.override),
            "",
            "Withdrawn: the algorithm's proposal changed after the override.",
        )
        row.override, row.override_of, row.justification = "", "", ""
    old = row.judgement
    row.proposed, row.rule_id = proposed, rule_id
    row.judgement = row.override or proposed
    if old != row.judgement:
        _log(row.assessment, actor, row.domain, _label(old), _label(row.judgement))
    row.save()


def _recompute_overall(assessment: RobAssessment, actor: Any) -> None:
    judgements = {d.domain: d.judgement for d in assessment.domains.all()}
    if all(judgements.get(d.id) for d in DOMAINS):
        proposal = propose_overall(judgements)
        proposed, rule = proposal.judgement, proposal.rule_id
    else:
        proposed, rule = "", ""
    if assessment.overall_override and assessment.overall_override_of != rule:
        _log(
            assessment,
            actor,
            "overall override",
            _label(assessment.overall_override),
            "",
            "Withdrawn: the domain judgements changed after the overall judgement was set.",
        )
        assessment.overall_override = ""
        assessment.overall_override_of = ""
        assessment.overall_justification = ""
    old = assessment.overall_judgement
    assessment.overall_proposed, assessment.overall_rule = proposed, rule
    if assessment.overall_override:
        assessment.overall_judgement = assessment.overall_override
    elif rule == NEEDS_CONFIRMATION_RULE:
        assessment.overall_judgement = ""  # the assessor must confirm or raise it
    else:
        assessment.overall_judgement = proposed
    if old != assessment.overall_judgement:
        _log(assessment, actor, "overall", _label(old), _label(assessment.overall_judgement))
    assessment.save()


def _missing_parts(assessment: RobAssessment) -> list[str]:
    """What still blocks submission / finalisation, in words."""
    rows = {d.domain: d for d in assessment.domains.all()}
    problems = []
    for domain in DOMAINS:
        row = rows.get(domain.id)
        try:
            effective_answers(domain.id, row.answers if row else {})
        except Rob2Error as exc:
            problems.append(f"{domain.id}: {exc}")
    if not problems and not assessment.overall_judgement:
        problems.append(
            "Overall: some concerns in several domains — confirm some concerns or raise to "
            "high risk, with a justification."
        )
    return problems


# --- settings and targets ------------------------------------------------------------------


@transaction.atomic
def rob_settings_update(
    *, review: Review, actor: Any, unit: str, missing_threshold: float | None
) -> RobSettings:
    """Change the unit of assessment (only before any assessment) and the D3 data rule."""
    if unit not in RobUnit.values:
        raise RobInputError(f"“{unit}” is not a unit of assessment.", field="unit")
    if missing_threshold is not None and not 0 <= missing_threshold <= 50:
        raise RobInputError(
            "The missing-data threshold must be between 0 and 50 %.", field="missing_threshold"
        )
    settings, _ = RobSettings.objects.select_for_update().get_or_create(review=review)
    if unit != settings.unit and RobTarget.objects.filter(review=review).exists():
        raise ConflictError(
            "Assessments have started under the current unit; the unit can no longer change "
            "(it would orphan them).",
            field="unit",
        )
    before = {"unit": settings.unit, "missing_threshold": settings.missing_threshold}
    settings.unit, settings.missing_threshold = unit, missing_threshold
    settings.save()
    setting_changes_log(
        review=review,
        actor=actor,
        section="rob",
        before=before,
        after={"unit": unit, "missing_threshold": missing_threshold},
    )
    return settings


def _unit_of(review: Review) -> str:
    settings = RobSettings.objects.filter(review=review).first()
    return settings.unit if settings else RobUnit.OUTCOME


@transaction.atomic
def rob_target_get_or_create(
    *, review: Review, study: Any, outcome: Any = None, actor: Any = None
) -> RobTarget:
    """The target for this study (× outcome), created if new; the unit must match the review's."""
    if study.review_id != review.pk:
        raise DomainError("That study belongs to another review.")
    unit = _unit_of(review)
    if unit == RobUnit.OUTCOME and outcome is None:
        raise RobInputError("This review assesses risk of bias per outcome: choose an outcome.")
    if unit == RobUnit.STUDY and outcome is not None:
        raise RobInputError("This review assesses risk of bias per study, not per outcome.")
    if outcome is not None and outcome.study_id != study.pk:
        raise DomainError("That outcome belongs to another study.")
    try:
        with transaction.atomic():
            target, _ = RobTarget.objects.get_or_create(review=review, study=study, outcome=outcome)
    except IntegrityError:  # a concurrent request created it first
        target = RobTarget.objects.get(study=study, outcome=outcome)
    return target


# --- independent assessments ---------------------------------------------------------------


@transaction.atomic
def rob_assessment_start(*, target: RobTarget, user: Any) -> RobAssessment:
    """The user's own assessment of the target, created while an assessor place is free."""
    RobTarget.objects.select_for_update().filter(pk=target.pk).order_by("pk").first()
    mine = target.assessments.filter(kind=RobKind.INDEPENDENT, assessor=user).first()
    if mine is not None:
        return mine
    membership = _membership(target.review, user)
    if membership is None or not membership.has_role(Role.REVIEWER):
        raise ConflictError("Only reviewers can assess risk of bias.")
    taken = target.assessments.filter(kind=RobKind.INDEPENDENT).count()
    if taken >= ASSESSORS_NEEDED:
        raise ConflictError(f"{target} already has {taken} assessors; its consensus comes next.")
    assessment = RobAssessment.objects.create(
        target=target, kind=RobKind.INDEPENDENT, assessor=user
    )
    RobDomain.objects.bulk_create(RobDomain(assessment=assessment, domain=d.id) for d in DOMAINS)
    _log(assessment, user, "status", "", "started")
    return assessment


@transaction.atomic
def rob_answer_save(
    *,
    assessment: RobAssessment,
    question_id: str,
    answer: str,
    actor: Any,
    support: str | None = None,
) -> RobDomain:
    """Answer (or clear, with "") one signalling question; re-propose the judgements.

    The question must apply given the other answers (2.3 only after 2.1/2.2 make
    it relevant, ...) and the answer must be one of its options. Answers to
    questions that stop applying are kept but ignored by the algorithm.
    """
    domain_id = "D" + question_id.split(".")[0] if "." in question_id else ""
    if domain_id not in DOMAIN_BY_ID:
        raise RobInputError(f"Unknown signalling question “{question_id}”.", field="question")
    return rob_domain_answers_save(
        assessment=assessment,
        domain_id=domain_id,
        answers={question_id: answer},
        actor=actor,
        support=support,
    )


@transaction.atomic
def rob_domain_answers_save(
    *,
    assessment: RobAssessment,
    domain_id: str,
    answers: Mapping[str, str],
    actor: Any,
    support: str | None = None,
) -> RobDomain:
    """Answer several signalling questions of one domain, in order, as one by one.

    Each answer is checked as ``rob_answer_save`` checks it, against the answers before
    it; the judgements are re-proposed once at the end (a whole domain in one write).
    """
    assessment = _lock(assessment)
    _check_can_write(assessment, actor)
    row = _domain_row(assessment, domain_id)
    domain = DOMAIN_BY_ID[domain_id]
    for question_id, raw in answers.items():
        try:
            question = domain.question(question_id)
        except Rob2Error as exc:
            raise RobInputError(str(exc), field="question") from None
        answer = (raw or "").strip()
        if answer:
            applicable = {q.id for q in questions_for(domain_id, row.answers)}
            if question_id not in applicable:
                raise RobInputError(
                    f"Question {question_id} does not apply given the answers so far "
                    f"({question.condition.text if question.condition else ''}).",
                    field="answer",
                )
            if answer not in question.options:
                raise RobInputError(
                    f"Question {question_id}: “{answer}” is not one of its answers "
                    f"({', '.join(question.options)}).",
                    field="answer",
                )
        old = row.answers.get(question_id, "")
        updated = dict(row.answers)
        if answer:
            updated[question_id] = answer
        else:
            updated.pop(question_id, None)
        row.answers = updated
        _log(assessment, actor, question_id, old, answer)
        if support is not None:
            _set_support(assessment, row, question_id, support, actor)
    _recompute_domain(row, actor)
    _recompute_overall(assessment, actor)
    return row


def _set_support(
    assessment: RobAssessment, row: RobDomain, question_id: str, text: str, actor: Any
) -> None:
    text = (text or "").strip()
    if len(text) > SUPPORT_MAX:
        raise RobInputError(
            f"Support text is limited to {SUPPORT_MAX} characters.", field="support"
        )
    old = row.support.get(question_id, "")
    support = dict(row.support)
    if text:
        support[question_id] = text
    else:
        support.pop(question_id, None)
    row.support = support
    _log(assessment, actor, f"{question_id} support", old, text)


@transaction.atomic
def rob_support_save(
    *, assessment: RobAssessment, question_id: str, text: str, actor: Any
) -> RobDomain:
    """Save the support text (quote or reasoning) for one signalling question."""
    assessment = _lock(assessment)
    _check_can_write(assessment, actor)
    domain_id = "D" + question_id.split(".")[0] if "." in question_id else ""
    if domain_id not in DOMAIN_BY_ID or question_id not in {
        q.id for q in DOMAIN_BY_ID[domain_id].questions
    }:
        raise RobInputError(f"Unknown signalling question “{question_id}”.", field="question")
    row = _domain_row(assessment, domain_id)
    _set_support(assessment, row, question_id, text, actor)
    row.save(update_fields=["support"])
    assessment.save(update_fields=["updated_at"])
    return row


@transaction.atomic
def rob_domain_judge(
    *,
    assessment: RobAssessment,
    domain_id: str,
    actor: Any,
    judgement: str | None = "",
    justification: str = "",
    direction: str | None = None,
) -> RobDomain:
    """Override the algorithm's domain judgement (justification required), or accept it ("").

    Choosing the proposed judgement again simply accepts the proposal; ``None``
    leaves the judgement alone. The predicted direction of bias (optional in
    RoB 2) is saved when given.
    """
    assessment = _lock(assessment)
    _check_can_write(assessment, actor)
    row = _domain_row(assessment, domain_id)
    if direction is not None:
        if direction and direction not in BIAS_DIRECTIONS:
            raise RobInputError(f"“{direction}” is not a direction of bias.", field="direction")
        _log(assessment, actor, f"{domain_id} direction", row.direction, direction)
        row.direction = direction
    if judgement is None:
        row.save(update_fields=["direction"])
        return row
    judgement = judgement.strip()
    if judgement and judgement not in JUDGEMENTS:
        raise RobInputError(f"“{judgement}” is not a judgement.", field="judgement")
    if judgement and judgement != row.proposed:
        if not row.proposed:
            raise RobInputError(
                f"Answer every signalling question of {domain_id} before overriding its judgement.",
                field="judgement",
            )
        reason = (justification or "").strip()
        if not reason:
            raise RobInputError(
                f"Overriding the proposed judgement ({_label(row.proposed)}) needs a "
                "justification.",
                field="justification",
            )
        _log(
            assessment,
            actor,
            f"{domain_id} override",
            _label(row.override),
            _label(judgement),
            reason,
        )
        row.override, row.override_of, row.justification = judgement, row.rule_id, reason
    elif row.override:
        _log(
            assessment,
            actor,
            f"{domain_id} override",
            _label(row.override),
            "",
            "Proposal accepted.",
        )
        row.override, row.override_of, row.justification = "", "", ""
    _recompute_domain(row, actor)
    _recompute_overall(assessment, actor)
    return row


@transaction.atomic
def rob_overall_judge(
    *, assessment: RobAssessment, actor: Any, judgement: str = "", justification: str = ""
) -> RobAssessment:
    """Confirm or override the proposed overall judgement (with a justification), or reset ("")."""
    assessment = _lock(assessment)
    _check_can_write(assessment, actor)
    _recompute_overall(assessment, actor)
    if not judgement:
        if assessment.overall_override:
            _log(assessment, actor, "overall override", _label(assessment.overall_override), "")
            assessment.overall_override = assessment.overall_override_of = ""
            assessment.overall_justification = ""
            _recompute_overall(assessment, actor)
        return assessment
    if not assessment.overall_rule:
        raise RobInputError(
            "Judge every domain before the overall judgement.", field="overall_judgement"
        )
    proposal = propose_overall({d.domain: d.judgement for d in assessment.domains.all()})
    try:
        final = apply_override(proposal, judgement, justification)
    except Rob2Error as exc:
        raise RobInputError(str(exc), field="overall_justification") from None
    if not final.overridden and not proposal.needs_confirmation:
        # Choosing the proposal that needs no confirmation: nothing to override.
        if assessment.overall_override:
            _log(assessment, actor, "overall override", _label(assessment.overall_override), "")
        assessment.overall_override = assessment.overall_override_of = ""
        assessment.overall_justification = ""
    else:
        _log(
            assessment,
            actor,
            "overall override",
            _label(assessment.overall_override),
            _label(final.judgement),
            final.justification,
        )
        assessment.overall_override = final.judgement
        assessment.overall_override_of = proposal.rule_id
        assessment.overall_justification = final.justification
    _recompute_overall(assessment, actor)
    return assessment


@transaction.atomic
def rob_assessment_submit(*, assessment: RobAssessment, actor: Any) -> RobAssessment:
    """Submit an independent assessment: every domain complete and an overall judgement."""
    assessment = _lock(assessment)
    if assessment.kind != RobKind.INDEPENDENT:
        raise ConflictError("A consensus is finalised, not submitted.")
    _check_can_write(assessment, actor)
    problems = _missing_parts(assessment)
    if problems:
        raise RobInputError("Not complete yet — " + " ".join(problems[:3]))
    assessment.status, assessment.submitted_at = RobStatus.SUBMITTED, timezone.now()
    assessment.save()
    _log(assessment, actor, "status", "in progress", "submitted")
    return assessment


# --- consensus ---------------------------------------------------------------------------------


def _effective_or_raw(domain_id: str, answers: dict[str, str]) -> dict[str, str]:
    try:
        return effective_answers(domain_id, answers)
    except Rob2Error:
        return dict(answers)


@transaction.atomic
def rob_consensus_open(*, target: RobTarget, actor: Any) -> RobAssessment:
    """The target's consensus, created once both assessments are submitted (idempotent).

    It starts with every answer both assessors gave alike (and their support
    texts); the questions they answered differently stay open for discussion.
    """
    RobTarget.objects.select_for_update().filter(pk=target.pk).order_by("pk").first()
    existing = target.assessments.filter(kind=RobKind.CONSENSUS).first()
    if existing is not None:
        return existing
    sources = _submitted(target)
    if len(sources) < ASSESSORS_NEEDED:
        raise ConflictError(
            f"The consensus opens when {ASSESSORS_NEEDED} assessments are submitted "
            f"({len(sources)} so far); until then assessors stay blind to each other."
        )
    a, b = sources[:2]
    rows_a = {d.domain: d for d in a.domains.all()}
    rows_b = {d.domain: d for d in b.domains.all()}
    consensus = RobAssessment.objects.create(target=target, kind=RobKind.CONSENSUS)
    _log(consensus, actor, "status", "", "consensus opened")
    for domain in DOMAINS:
        da, db = rows_a.get(domain.id), rows_b.get(domain.id)
        ea = _effective_or_raw(domain.id, da.answers if da else {})
        eb = _effective_or_raw(domain.id, db.answers if db else {})
        agreed = {q: v for q, v in ea.items() if v != "NA" and eb.get(q) == v}
        support = {}
        for qid in agreed:
            texts = [
                t
                for t in ((da.support if da else {}).get(qid), (db.support if db else {}).get(qid))
                if t
            ]
            if texts:
                support[qid] = texts[0] if len(set(texts)) == 1 else "\n".join(dict.fromkeys(texts))
        row = RobDomain.objects.create(
            assessment=consensus, domain=domain.id, answers=agreed, support=support
        )
        _recompute_domain(row, actor)
    _recompute_overall(consensus, actor)
    return consensus


def _consensus(assessment: RobAssessment) -> RobAssessment:
    if assessment.kind != RobKind.CONSENSUS:
        raise ConflictError("That is an independent assessment, not a consensus.")
    return assessment


@transaction.atomic
def rob_consensus_refer(*, consensus: RobAssessment, actor: Any, note: str) -> RobAssessment:
    """Hand the disagreements to an adjudicator, with a note on what is disputed."""
    consensus = _consensus(_lock(consensus))
    if consensus.status != RobStatus.DRAFT:
        raise ConflictError(f"The consensus is {consensus.get_status_display().lower()}.")
    _check_can_write(consensus, actor)
    note = (note or "").strip()
    if not note:
        raise RobInputError("Say what the adjudicator should decide.", field="note")
    consensus.status, consensus.referral_note, consensus.referred_by = (
        RobStatus.REFERRED,
        note[:2000],
        actor,
    )
    consensus.save()
    _log(consensus, actor, "status", "in progress", "referred to adjudication", note)
    return consensus


@transaction.atomic
def rob_consensus_finalise(*, consensus: RobAssessment, actor: Any) -> RobAssessment:
    """Make the consensus final: it then feeds the figures and analysis."""
    consensus = _consensus(_lock(consensus))
    _check_can_write(consensus, actor)
    problems = _missing_parts(consensus)
    if problems:
        raise RobInputError("The consensus is not complete — " + " ".join(problems[:3]))
    old = consensus.get_status_display().lower()
    consensus.adjudicated = consensus.status == RobStatus.REFERRED
    consensus.status, consensus.finalised_by = RobStatus.FINAL, actor
    consensus.submitted_at = timezone.now()
    consensus.save()
    _log(
        consensus, actor, "status", old, "final (adjudicated)" if consensus.adjudicated else "final"
    )
    return consensus


@transaction.atomic
def rob_consensus_reopen(*, consensus: RobAssessment, actor: Any, reason: str) -> RobAssessment:
    """Reopen a final consensus for correction (it stops feeding analysis until final again)."""
    consensus = _consensus(_lock(consensus))
    if consensus.status != RobStatus.FINAL:
        raise ConflictError("Only a final consensus can be reopened.")
    reason = (reason or "").strip()
    if not reason:
        raise RobInputError("Give a reason for reopening the consensus.", field="reason")
    membership = _membership(consensus.target.review, actor)
    if membership is None or not (
        membership.has_role(Role.REVIEWER) or membership.has_role(Role.ADJUDICATOR)
    ):
        raise ConflictError("Only reviewers and adjudicators can reopen a consensus.")
    consensus.status, consensus.finalised_by, consensus.adjudicated = RobStatus.DRAFT, None, False
    consensus.save()
    _log(consensus, actor, "status", "final", "reopened", reason)
    return consensus


# --- demo ---------------------------------------------------------------------------------------

DEMO_SUPPORT = "Generated for the demo: not a judgement of this trial's report."
DEMO_NOTE = (
    "in this demo review, every RoB 2 assessment (alice's, bob's and each consensus) was "
    "generated by the demo script: the judgements are illustrative, cycled over the studies, "
    "and say nothing about the real trials. No public RoB 2 judgements exist for them."
)
# Answer sets walking to a known judgement per domain (see tests/extraction/test_rob2_paths.py).
_DEMO_ANSWERS: dict[str, dict[str, dict[str, str]]] = {
    "low": {
        "D1": {"1.1": "Y", "1.2": "Y", "1.3": "N"},
        "D2": {"2.1": "Y", "2.2": "Y", "2.3": "PN", "2.6": "Y"},
        "D3": {"3.1": "Y"},
        "D4": {"4.1": "N", "4.2": "N", "4.3": "N"},
        "D5": {"5.1": "Y", "5.2": "N", "5.3": "N"},
    },
    "some_concerns": {
        "D1": {"1.1": "Y", "1.2": "NI", "1.3": "N"},
        "D2": {"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "Y"},
        "D3": {"3.1": "N", "3.2": "N", "3.3": "PY", "3.4": "PN"},
        "D4": {"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "PY", "4.5": "PN"},
        "D5": {"5.1": "NI", "5.2": "N", "5.3": "N"},
    },
    "high": {
        "D1": {"1.1": "Y", "1.2": "N", "1.3": "N"},
        "D2": {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "N", "2.7": "Y"},
        "D3": {"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "PY"},
        "D4": {"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "Y", "4.5": "PY"},
        "D5": {"5.1": "N", "5.2": "PY", "5.3": "N"},
    },
}
# Domain judgements per demo profile, cycled over the studies: a realistic mix.
_DEMO_PROFILES: tuple[dict[str, str], ...] = (
    {"D1": "low", "D2": "low", "D3": "low", "D4": "low", "D5": "low"},
    {"D1": "some_concerns", "D2": "low", "D3": "low", "D4": "low", "D5": "some_concerns"},
    {"D1": "low", "D2": "some_concerns", "D3": "high", "D4": "low", "D5": "low"},
    {"D1": "low", "D2": "low", "D3": "some_concerns", "D4": "low", "D5": "low"},
    {"D1": "high", "D2": "some_concerns", "D3": "low", "D4": "some_concerns", "D5": "low"},
    {"D1": "low", "D2": "low", "D3": "low", "D4": "some_concerns", "D5": "low"},
    {"D1": "some_concerns", "D2": "some_concerns", "D3": "low", "D4": "low", "D5": "low"},
)


def _demo_fill(assessment: RobAssessment, profile: dict[str, str], actor: Any) -> None:
    """Give each domain the profile's answers (those not already given), one write a domain."""
    rows = {d.domain: d for d in assessment.domains.all()}
    for domain_id, judgement in profile.items():
        given = rows[domain_id].answers if domain_id in rows else {}
        todo = {
            qid: answer
            for qid, answer in _DEMO_ANSWERS[judgement][domain_id].items()
            if given.get(qid) != answer
        }
        if todo:
            rob_domain_answers_save(
                assessment=assessment,
                domain_id=domain_id,
                answers=todo,
                actor=actor,
                support=DEMO_SUPPORT,
            )
    assessment.refresh_from_db()
    if not assessment.overall_judgement:
        rob_overall_judge(
            assessment=assessment,
            actor=actor,
            judgement="some_concerns",
            justification=DEMO_SUPPORT,
        )


def rob_demo_step(review: Review, users: dict[str, Any]) -> str | None:
    """Final consensus RoB 2 assessments for the demo review's studies (idempotent).

    Every study (or study × outcome, following the review's unit) is assessed by
    alice and bob independently through the services, with a mix of low, some
    concerns and high; where bob disagrees with alice on 1.2 the consensus
    resolves it, and every consensus is finalised. The judgements are generated, not
    assessments of the trials: the RoB pages say so (``DEMO_NOTE``).
    """
    alice, bob = users.get("alice"), users.get("bob")
    if alice is None or bob is None:
        return "RoB 2: no demo assessors; skipped."
    review_generated_note_set(review=review, actor=alice, area="rob", note=DEMO_NOTE)
    per_outcome = RobSettings.objects.get_or_create(review=review)[0].unit == RobUnit.OUTCOME
    studies = review.studies.prefetch_related("outcomes").order_by("label", "id")
    targets = [
        (study, outcome)
        for study in studies
        for outcome in (list(study.outcomes.all()) if per_outcome else [None])
    ]
    done = 0
    for i, (study, outcome) in enumerate(targets):
        profile = _DEMO_PROFILES[i % len(_DEMO_PROFILES)]
        with transaction.atomic():
            target = rob_target_get_or_create(
                review=review, study=study, outcome=outcome, actor=alice
            )
            consensus = target.assessments.filter(kind=RobKind.CONSENSUS).first()
            if consensus is not None and consensus.status == RobStatus.FINAL:
                continue
            for user in (alice, bob):
                own = rob_assessment_start(target=target, user=user)
                if own.status == RobStatus.DRAFT:
                    _demo_fill(own, profile, user)
                    if user is bob and profile["D1"] == "some_concerns":
                        # A disagreement for the consensus to resolve.
                        rob_answer_save(
                            assessment=own,
                            question_id="1.2",
                            answer="PY",
                            actor=bob,
                            support=DEMO_SUPPORT + " (a disagreement for the consensus to resolve)",
                        )
                    rob_assessment_submit(assessment=own, actor=user)
            consensus = rob_consensus_open(target=target, actor=alice)
            if consensus.status == RobStatus.DRAFT:
                _demo_fill(consensus, profile, alice)
                rob_consensus_finalise(consensus=consensus, actor=alice)
            done += 1
    return f"RoB 2: {done} consensus assessment(s) finalised." if done else None
