"""Helpers that build extraction states through the real services (and screening's)."""

from __future__ import annotations

from typing import Any

from extraction import services
from extraction.models import ArmRole, Direction, OutcomeSubdomain, Study, TimepointKind
from reviews.models import Stage
from tests.factories import RecordFactory
from tests.screening.factories import records as screening_records
from tests.screening.factories import vote

COMPLETE_ANSWERS = {
    "country": "Netherlands",
    "diagnosis": "Depression",
    "intervention_name": "Peer support groups",
    "format": "Group",
    "delivery": "Face-to-face",
    "comparator_type": "Care as usual",
    "mean_age": "41.5",
}


def included_record(cast, **kwargs):
    """A record that alice and bob include at title/abstract and at full text."""
    (record,) = screening_records(cast.review, 1, **kwargs)
    for stage in (Stage.TITLE_ABSTRACT, Stage.FULL_TEXT):
        vote(cast.review, record, cast.alice, "include", stage)
        vote(cast.review, record, cast.bob, "include", stage)
    return record


def included_study(cast, **kwargs) -> Study:
    return included_record(cast, **kwargs).study_report.study


def with_structure(study: Study, actor, *, direction: str = Direction.HIGHER) -> dict[str, Any]:
    """Two arms, one outcome (Hope) and one post-treatment timepoint."""
    hope = OutcomeSubdomain.objects.get(domain__review=study.review, name="Hope")
    return {
        "peer": services.arm_create(
            study=study,
            actor=actor,
            name="Peer support",
            role=ArmRole.INTERVENTION,
            n_randomised=50,
        ),
        "cau": services.arm_create(
            study=study, actor=actor, name="Care as usual", role=ArmRole.CONTROL, n_randomised=50
        ),
        "outcome": services.outcome_create(
            study=study,
            actor=actor,
            name="Hope",
            direction=direction,
            subdomain=hope,
            instrument="Herth Hope Index",
        ),
        "post": services.timepoint_create(
            study=study, actor=actor, label="Post-treatment", weeks=12, kind=TimepointKind.POST
        ),
    }


def arm_data(s: dict[str, Any], peer=("30", "5", "45"), cau=("28", "6", "44"), **extra) -> dict:
    """Raw POST-style values for both arms: (mean, SD, N)."""
    raw = {"population": "itt", **extra}
    for arm, (mean, sd, n) in ((s["peer"], peer), (s["cau"], cau)):
        raw |= {f"arm-{arm.pk}-mean": mean, f"arm-{arm.pk}-sd": sd, f"arm-{arm.pk}-n": n}
    return raw


def extract(study: Study, user, s: dict[str, Any], *, answers=None, data=None, submit=True):
    """`user` extracts the study: answers, one outcome block, then submits."""
    extraction = services.extraction_start(study=study, user=user)
    services.outcome_data_save(
        extraction=extraction,
        outcome=s["outcome"],
        timepoint=s["post"],
        raw=data if data is not None else arm_data(s),
        actor=user,
    )
    return services.extraction_save_answers(
        extraction=extraction,
        raw_answers=answers if answers is not None else COMPLETE_ANSWERS,
        actor=user,
        submit=submit,
    )


def plain_record(cast, **kwargs):
    return RecordFactory(review=cast.review, **kwargs)
