"""Build reviews with consensus outcome data and RoB 2 judgements through the real services
of the extraction app (single extraction + verification, per-study RoB 2), and analyses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analysis import services as analysis_services
from analysis.models import Analysis
from analysis.models import TimepointKind as WindowKind
from extraction import selectors, services
from extraction.models import (
    ArmRole,
    Direction,
    ExtractionKind,
    ExtractionMode,
    MultiArmRule,
    OutcomeSubdomain,
    Study,
    TimepointKind,
)
from extraction.rob import services as rob_services
from extraction.rob.models import RobUnit
from reviews.models import Review
from tests.factories import RecordFactory

ANSWERS = {
    "intervention_name": "Peer support",
    "delivery": "Face-to-face",
    "comparator_type": "Care as usual",
}

# Signalling-question answers walking RoB 2 to a known domain judgement (see
# tests/extraction/test_rob2_paths.py): every domain low, and domain 1 low / some / high.
LOW_DOMAINS = {
    "D2": {"2.1": "Y", "2.2": "Y", "2.3": "PN", "2.6": "Y"},
    "D3": {"3.1": "Y"},
    "D4": {"4.1": "N", "4.2": "N", "4.3": "N"},
    "D5": {"5.1": "Y", "5.2": "N", "5.3": "N"},
}
D1 = {
    "low": {"1.1": "Y", "1.2": "Y", "1.3": "N"},
    "some_concerns": {"1.1": "Y", "1.2": "NI", "1.3": "N"},
    "high": {"1.1": "Y", "1.2": "N", "1.3": "N"},
}


@dataclass
class OutcomeSpec:
    subdomain: str  # a default subdomain, e.g. "Depressive symptoms"
    instrument: str
    peer: tuple[float, float, int]  # mean, SD, N
    cau: tuple[float, float, int]
    direction: str = Direction.HIGHER
    weeks: float = 12.0
    kind: str = TimepointKind.POST
    events: tuple[int, int] | None = None  # (intervention, control): entered instead of means


@dataclass
class StudySpec:
    label: str
    outcomes: list[OutcomeSpec]
    answers: dict[str, Any] = field(default_factory=dict)
    rob: str = ""  # overall RoB 2 judgement, "" = not assessed


def review_setup(cast) -> None:
    """Single extraction + verification, per-study RoB 2 (fewer steps per study)."""
    services.extraction_setup(review=cast.review, actor=cast.lead)
    services.extraction_settings_update(
        review=cast.review,
        actor=cast.lead,
        mode=ExtractionMode.SINGLE,
        multi_arm_rule=MultiArmRule.COMBINE,
    )
    rob_services.rob_settings_update(
        review=cast.review, actor=cast.lead, unit=RobUnit.STUDY, missing_threshold=10
    )
    # a fresh instance: the old one caches the settings as they were before the update
    cast.review = Review.objects.get(pk=cast.review.pk)


def study_extracted(cast, spec: StudySpec) -> Study:
    """alice extracts the study, the lead verifies it: its consensus feeds analysis."""
    review = cast.review
    record = RecordFactory(review=review, title=f"Peer support trial {spec.label}")
    study = services.study_create(
        review=review, records=[record], actor=cast.lead, label=spec.label
    )
    peer = services.arm_create(
        study=study, actor=cast.lead, name="Peer support", role=ArmRole.INTERVENTION
    )
    cau = services.arm_create(
        study=study, actor=cast.lead, name="Care as usual", role=ArmRole.CONTROL
    )
    timepoints: dict[tuple[float, str], Any] = {}
    blocks = []
    for o in spec.outcomes:
        sub = OutcomeSubdomain.objects.get(domain__review=review, name=o.subdomain)
        outcome = (
            services.outcome_create(
                study=study,
                actor=cast.lead,
                name=o.subdomain,
                direction=o.direction,
                subdomain=sub,
                instrument=o.instrument,
            )
            if not study.outcomes.filter(name=o.subdomain, instrument=o.instrument).exists()
            else (study.outcomes.get(name=o.subdomain, instrument=o.instrument))
        )
        key = (o.weeks, o.kind)
        if key not in timepoints:
            label = "Post-treatment" if o.kind == TimepointKind.POST else f"Week {o.weeks:g}"
            timepoints[key] = services.timepoint_create(
                study=study, actor=cast.lead, label=label, weeks=o.weeks, kind=o.kind
            )
        blocks.append((outcome, timepoints[key], o))
    extraction = services.extraction_start(study=study, user=cast.alice)
    for outcome, timepoint, o in blocks:
        raw = {"population": "itt"}
        for i, (arm, (mean, sd, n)) in enumerate(((peer, o.peer), (cau, o.cau))):
            if o.events is not None:
                raw |= {f"arm-{arm.pk}-events": str(o.events[i]), f"arm-{arm.pk}-n": str(n)}
                continue
            raw |= {
                f"arm-{arm.pk}-mean": str(mean),
                f"arm-{arm.pk}-sd": str(sd),
                f"arm-{arm.pk}-n": str(n),
            }
        services.outcome_data_save(
            extraction=extraction, outcome=outcome, timepoint=timepoint, raw=raw, actor=cast.alice
        )
    services.extraction_save_answers(
        extraction=extraction,
        raw_answers={**ANSWERS, **spec.answers},
        actor=cast.alice,
        submit=True,
    )
    consensus_verify(cast, study)
    if spec.rob:
        rob_consensus(cast, study, spec.rob)
    return study


def consensus_verify(cast, study: Study, changes: dict[str, Any] | None = None) -> None:
    """The lead verifies alice's extraction (optionally changing cells) and finalises it."""
    source = study.extractions.get(kind=ExtractionKind.INDEPENDENT, extractor=cast.alice)
    cells = {**selectors.extraction_cells(source), **(changes or {})}
    services.consensus_save(study=study, cells=cells, actor=cast.lead, finalise=True)


def _fill(assessment, overall: str, actor) -> None:
    for domain in (D1[overall], *LOW_DOMAINS.values()):
        for qid, answer in domain.items():
            rob_services.rob_answer_save(
                assessment=assessment,
                question_id=qid,
                answer=answer,
                actor=actor,
                support="As reported in the methods section.",
            )
    assessment.refresh_from_db()
    if not assessment.overall_judgement:
        rob_services.rob_overall_judge(
            assessment=assessment,
            actor=actor,
            judgement=overall,
            justification="Test data.",
        )


def rob_consensus(cast, study: Study, overall: str) -> None:
    """alice and bob assess RoB 2 per study; alice finalises the consensus."""
    target = rob_services.rob_target_get_or_create(
        review=cast.review, study=study, actor=cast.alice
    )
    for user in (cast.alice, cast.bob):
        own = rob_services.rob_assessment_start(target=target, user=user)
        _fill(own, overall, user)
        rob_services.rob_assessment_submit(assessment=own, actor=user)
    consensus = rob_services.rob_consensus_open(target=target, actor=cast.alice)
    _fill(consensus, overall, cast.alice)
    rob_services.rob_consensus_finalise(consensus=consensus, actor=cast.alice)


# Twelve made-up trials for tests (labels echo the seed review's trial names; the numbers are
# invented, not those trials' results): two diagnoses (SMI, depression), two formats, mixed
# RoB, one study with two depression instruments (the preferred-instrument rule picks one),
# two with follow-up.
def twelve_trials() -> list[StudySpec]:
    base = [
        (
            "Boevink 2016",
            "Serious mental illness (SMI)",
            "Group",
            "high",
            (14.0, 5.0, 80),
            (13.0, 5.2, 78),
        ),
        (
            "Cook 2012",
            "Serious mental illness (SMI)",
            "Group",
            "high",
            (20.1, 6.0, 210),
            (18.9, 6.1, 218),
        ),
        (
            "Corrigan 2017",
            "Serious mental illness (SMI)",
            "One-to-one",
            "some_concerns",
            (3.4, 1.0, 33),
            (3.1, 1.1, 34),
        ),
        (
            "Davidson 2004",
            "Serious mental illness (SMI)",
            "One-to-one",
            "high",
            (50.0, 12.0, 60),
            (47.0, 12.5, 57),
        ),
        (
            "Johnson 2018",
            "Serious mental illness (SMI)",
            "One-to-one",
            "low",
            (25.0, 8.0, 213),
            (22.6, 8.1, 212),
        ),
        (
            "Mahlke 2017",
            "Serious mental illness (SMI)",
            "Group",
            "some_concerns",
            (2.9, 0.7, 114),
            (2.8, 0.8, 102),
        ),
        (
            "Rogers 2016",
            "Serious mental illness (SMI)",
            "Group",
            "low",
            (44.0, 9.0, 41),
            (40.0, 9.5, 41),
        ),
        ("Dennis 2003", "Depression", "One-to-one", "high", (8.1, 4.0, 20), (11.0, 4.5, 22)),
        ("Dennis 2009", "Depression", "One-to-one", "low", (7.5, 3.9, 349), (8.5, 4.2, 352)),
        (
            "Griffiths 2012",
            "Depression",
            "Group",
            "some_concerns",
            (17.0, 9.0, 98),
            (18.5, 9.3, 99),
        ),
        ("Letourneau 2011", "Depression", "Group", "high", (9.0, 5.0, 30), (14.0, 5.0, 30)),
        ("Shorey 2019", "Depression", "One-to-one", "high", (10.2, 4.1, 69), (10.9, 4.3, 69)),
    ]
    specs = []
    for label, diagnosis, fmt, rob, peer, cau in base:
        # depression scales: lower is better; the intervention arm has the lower mean above
        direction = Direction.LOWER if diagnosis == "Depression" else Direction.HIGHER
        outcomes = [
            OutcomeSpec(
                "Depressive symptoms",
                "BDI-II" if direction == Direction.LOWER else "MHI-5",
                peer,
                cau,
                direction,
            )
        ]
        specs.append(StudySpec(label, outcomes, {"diagnosis": diagnosis, "format": fmt}, rob))
    # A second instrument in one study (the subdomain prefers BDI-II) and follow-up data.
    specs[8].outcomes.append(
        OutcomeSpec(
            "Depressive symptoms", "EPDS", (9.0, 4.0, 349), (9.9, 4.1, 352), Direction.LOWER
        )
    )
    specs[0].outcomes.append(
        OutcomeSpec(
            "Depressive symptoms",
            "MHI-5",
            (15.0, 5.0, 70),
            (13.5, 5.0, 70),
            weeks=30,
            kind=TimepointKind.FOLLOW_UP,
        )
    )
    specs[4].outcomes.append(
        OutcomeSpec(
            "Depressive symptoms",
            "MHI-5",
            (26.0, 8.0, 190),
            (23.0, 8.0, 190),
            weeks=35,
            kind=TimepointKind.FOLLOW_UP,
        )
    )
    # Anxiety in three studies: a second specific outcome, too few to pool
    for i in (1, 2, 6):
        specs[i].outcomes.append(
            OutcomeSpec(
                "Anxiety symptoms", "GAD-7", (6.0, 3.0, 40), (7.0, 3.2, 40), Direction.LOWER
            )
        )
    return specs


def build_twelve(cast) -> list[Study]:
    """The twelve trials above, plus one included study without a consensus (left out)."""
    from extraction.models import OutcomeSubdomain as Sub

    review_setup(cast)
    Sub.objects.filter(domain__review=cast.review, name="Depressive symptoms").update(
        preferred_instruments="BDI-II\nMHI-5"
    )
    studies = [study_extracted(cast, spec) for spec in twelve_trials()]
    record = RecordFactory(review=cast.review, title="Unextracted peer support trial")
    services.study_create(
        review=cast.review, records=[record], actor=cast.lead, label="Pfeiffer 2019"
    )
    return studies


def clinical_analysis(cast, **values) -> Analysis:
    windows = analysis_services.windows_ensure_default(review=cast.review, actor=cast.lead)
    post = next(w for w in windows if w.kind == WindowKind.POST)
    follow = [w for w in windows if w.kind == WindowKind.FOLLOW_UP]
    defaults = {
        "title": "Clinical recovery",
        "domain": "Clinical recovery",
        "window": post,
        "subgroup_fields": ["diagnosis", "format"],
    }
    return analysis_services.analysis_save(
        review=cast.review, actor=cast.lead, values={**defaults, **values}, long_term_windows=follow
    )


# Several effect sizes per study, for the three-level model and meta-regression:
# (label, mean age, diagnosis, RoB, outcomes as (instrument, peer mean, control mean))
DEPENDENT_STUDIES = [
    ("Alpha 2015", "31.5", "Depression", "low", [("BDI-II", 9.0, 11.5), ("GAD-7", 6.0, 7.1)]),
    ("Beta 2016", "42", "Depression", "high", [("BDI-II", 8.0, 9.0)]),
    (
        "Gamma 2017",
        "38.2",
        "Serious mental illness (SMI)",
        "some_concerns",
        [("BDI-II", 10.0, 13.0), ("GAD-7", 5.5, 7.5), ("PHQ-9", 8.5, 10.0)],
    ),
    ("Delta 2018", "45.9", "Depression", "low", [("BDI-II", 12.0, 12.4), ("PHQ-9", 9.0, 9.1)]),
    (
        "Epsilon 2019",
        "27",
        "Serious mental illness (SMI)",
        "high",
        [("BDI-II", 7.0, 10.5), ("GAD-7", 4.0, 6.5)],
    ),
    ("Zeta 2020", "50.3", "Depression", "low", [("BDI-II", 11.0, 11.2)]),
    (
        "Eta 2021",
        "35",
        "Serious mental illness (SMI)",
        "some_concerns",
        [("BDI-II", 9.5, 11.0), ("GAD-7", 6.2, 6.9), ("PHQ-9", 8.0, 9.5)],
    ),
    ("Theta 2022", "40.1", "Depression", "high", [("BDI-II", 10.0, 12.8), ("GAD-7", 5.0, 6.0)]),
]
DEPENDENT_SUBDOMAIN = {
    "BDI-II": "Depressive symptoms",
    "PHQ-9": "Depressive symptoms",
    "GAD-7": "Anxiety symptoms",
}


def build_dependent_effects(cast) -> list[Study]:
    """Eight studies with 1-3 effect sizes each (16 in all), mean age and RoB answered."""
    review_setup(cast)
    studies = []
    for i, (label, age, diagnosis, rob, outcomes) in enumerate(DEPENDENT_STUDIES):
        specs = [
            OutcomeSpec(
                DEPENDENT_SUBDOMAIN[instrument],
                instrument,
                (peer, 4.0, 40 + 7 * i),
                (cau, 4.2, 41 + 5 * i),
                Direction.LOWER,
            )
            for instrument, peer, cau in outcomes
        ]
        answers = {"diagnosis": diagnosis, "format": "Group", "mean_age": age}
        studies.append(study_extracted(cast, StudySpec(label, specs, answers, rob)))
    return studies
