"""URL parameters of the RoB 2 URLs for the permission matrix test, and RoB test helpers.

The matrix target's two independent assessments (by the lead and alice) are
submitted, so every RoB 2 page answers each member with a role alike: the
consensus is open and nobody's own assessment is missing. The helpers build
assessments through the real services; the RoB 2 test modules import them.
"""

from __future__ import annotations

from typing import Any

from extraction import services
from extraction.models import ArmRole, Direction, TimepointKind
from extraction.rob import services as svc
from tests.factories import RecordFactory

# Answer sets that walk each domain's flowchart to a known judgement.
ANSWERS: dict[str, dict[str, dict[str, str]]] = {
    "low": {
        "D1": {"1.1": "Y", "1.2": "Y", "1.3": "N"},
        "D2": {"2.1": "N", "2.2": "N", "2.6": "Y"},
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
        "D2": {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "Y"},
        "D3": {"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "PY"},
        "D4": {"4.1": "Y", "4.2": "N"},
        "D5": {"5.1": "N", "5.2": "PY", "5.3": "N"},
    },
}
ALL_LOW = dict.fromkeys(("D1", "D2", "D3", "D4", "D5"), "low")


def rob_study(cast, label: str = "Smit 2023", *, n_randomised=(50, 50)) -> dict[str, Any]:
    """A study of cast.review with two arms, the outcome Hope and a post-treatment timepoint."""
    services.extraction_setup(review=cast.review, actor=cast.lead)
    record = RecordFactory(review=cast.review)
    study = services.study_create(
        review=cast.review, records=[record], actor=cast.lead, label=label
    )
    return {
        "study": study,
        "peer": services.arm_create(
            study=study,
            actor=cast.lead,
            name="Peer support",
            role=ArmRole.INTERVENTION,
            n_randomised=n_randomised[0],
        ),
        "cau": services.arm_create(
            study=study,
            actor=cast.lead,
            name="Care as usual",
            role=ArmRole.CONTROL,
            n_randomised=n_randomised[1],
        ),
        "outcome": services.outcome_create(
            study=study, actor=cast.lead, name="Hope", direction=Direction.HIGHER, instrument="HHI"
        ),
        "post": services.timepoint_create(
            study=study, actor=cast.lead, label="Post-treatment", weeks=12, kind=TimepointKind.POST
        ),
    }


def fill(assessment, actor, profile: dict[str, str], *, support: str = "") -> None:
    """Answer every domain so that it walks to ``profile[domain]``."""
    for domain_id, judgement in profile.items():
        for qid, answer in ANSWERS[judgement][domain_id].items():
            svc.rob_answer_save(
                assessment=assessment,
                question_id=qid,
                answer=answer,
                actor=actor,
                support=support or None,
            )


def submitted_pair(
    cast,
    *,
    a=None,
    b=None,
    profile_a: dict[str, str] | None = None,
    profile_b: dict[str, str] | None = None,
    s: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Two submitted independent assessments of one study × outcome."""
    a, b = a or cast.alice, b or cast.bob
    s = s or rob_study(cast)
    target = svc.rob_target_get_or_create(
        review=cast.review, study=s["study"], outcome=s["outcome"], actor=a
    )
    out = {"target": target, **s}
    for key, user, profile in (("a", a, profile_a), ("b", b, profile_b)):
        assessment = svc.rob_assessment_start(target=target, user=user)
        fill(assessment, user, profile or ALL_LOW, support=f"{user.username}'s support")
        out[key] = svc.rob_assessment_submit(assessment=assessment, actor=user)
    return out


def _target(cast) -> int:
    if not hasattr(cast, "_rob_target"):
        cast._rob_target = submitted_pair(cast, a=cast.lead, b=cast.alice)["target"]
    return cast._rob_target.pk


PARAMS = {"rob_target_id": _target}
