"""RoB 2 for individually randomised, parallel-group trials: content and algorithm.

The tool is encoded as data: five domains, each with its signalling questions
(exact wording, allowed answers, the condition under which a question applies)
and a declarative decision table. One small engine (:func:`propose_domain`)
interprets every table; there is no per-domain branching code.

Decision tables
---------------
A domain has one or more *parts*; each part is an ordered tuple of
:class:`Rule`. A rule matches when every ``question id -> allowed answers``
condition in ``Rule.when`` holds for the *effective* answers (answers to
questions that do not apply count as ``"NA"``). The tables are written so that,
for every complete set of valid answers, exactly one rule of each part matches
(a test enumerates all answer combinations to prove it), so rule order carries
no hidden meaning. A domain's proposal is the worst judgement over its parts:
only domain 2 has two parts (2.1-2.5 and 2.6-2.7), combined as the guidance's
"criteria for the domain" box says (low only if both low, high if either high).

Rule ids are ``"D1.R1"`` for single-part domains and ``"D2.P1.R3"`` for parts;
each rule carries the flowchart path it encodes, in words, for explanations.

References
----------
Sterne JAC, Savović J, Page MJ, et al. RoB 2: a revised tool for assessing risk
of bias in randomised trials. BMJ 2019;366:l4898.

Higgins JPT, Savović J, Page MJ, Sterne JAC (eds). Revised Cochrane risk-of-bias
tool for randomized trials (RoB 2), full guidance document, 22 August 2019
(riskofbias.info): Boxes 4, 6, 8, 10, 11 (signalling questions) and the
"Algorithm for suggested judgement" figure of each domain; Table 1 (overall).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal

__all__ = [
    "ANSWERS",
    "ANSWER_LABELS",
    "BIAS_DIRECTIONS",
    "DOMAINS",
    "DOMAIN_BY_ID",
    "FIGURE_JUDGEMENTS",
    "JUDGEMENTS",
    "JUDGEMENT_LABELS",
    "Condition",
    "Domain",
    "Part",
    "Proposal",
    "Question",
    "Rob2Error",
    "Rule",
    "apply_override",
    "effective_answers",
    "propose_domain",
    "propose_overall",
    "questions_for",
]


class Rob2Error(ValueError):
    """Invalid RoB 2 input: unknown domain or question, invalid or missing answer."""


# --- vocabulary -------------------------------------------------------------


ANSWERS: Final[tuple[str, ...]] = ("Y", "PY", "PN", "N", "NI", "NA")
ANSWER_LABELS: Final[dict[str, str]] = {
    "Y": "Yes",
    "PY": "Probably yes",
    "PN": "Probably no",
    "N": "No",
    "NI": "No information",
    "NA": "Not applicable",
}

LOW: Final = "low"
SOME_CONCERNS: Final = "some_concerns"
HIGH: Final = "high"
NO_INFORMATION: Final = "no_information"

#: Judgements an assessment (domain or overall) can take, least to most severe.
JUDGEMENTS: Final[tuple[str, ...]] = (LOW, SOME_CONCERNS, HIGH)
#: Figures may also show "no information" (e.g. a domain judged from nothing).
FIGURE_JUDGEMENTS: Final[tuple[str, ...]] = (LOW, SOME_CONCERNS, HIGH, NO_INFORMATION)
JUDGEMENT_LABELS: Final[dict[str, str]] = {
    LOW: "Low risk",
    SOME_CONCERNS: "Some concerns",
    HIGH: "High risk",
    NO_INFORMATION: "No information",
}
_SEVERITY: Final[dict[str, int]] = {LOW: 0, SOME_CONCERNS: 1, HIGH: 2}

#: Options of the optional "predicted direction of bias" question of every domain.
BIAS_DIRECTIONS: Final[tuple[str, ...]] = (
    "NA",
    "Favours experimental",
    "Favours comparator",
    "Towards null",
    "Away from null",
    "Unpredictable",
)

# Answer groups as the guidance's flowcharts write them (Y/PY, N/PN, NI).
YES: Final = frozenset({"Y", "PY"})
NO: Final = frozenset({"PN", "N"})
NI: Final = frozenset({"NI"})
YES_NI: Final = YES | NI
NO_NI: Final = NO | NI

# Response options printed in the guidance: "Y/PY/PN/N/NI" for every question;
# 3.2 alone has no NI. NA is added automatically for conditional questions.
_FULL: Final = ("Y", "PY", "PN", "N", "NI")
_NO_NI_OPTION: Final = ("Y", "PY", "PN", "N")


# --- data types ---------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """When a conditional question applies: ``mode`` over (question, answers) pairs."""

    mode: Literal["any", "all"]
    terms: tuple[tuple[str, frozenset[str]], ...]
    text: str  # the guidance's own prefix, e.g. "If Y/PY/NI to 2.1 or 2.2"

    def holds(self, effective: Mapping[str, str]) -> bool:
        results = (effective.get(qid) in allowed for qid, allowed in self.terms)
        return any(results) if self.mode == "any" else all(results)


@dataclass(frozen=True)
class Question:
    """A signalling question, worded as in the guidance (condition prefix kept apart)."""

    id: str
    domain_id: str
    text: str
    options: tuple[str, ...]
    condition: Condition | None = None

    @property
    def allowed_answers(self) -> tuple[str, ...]:
        """Answers accepted when the question applies, plus NA for conditional ones."""
        return self.options + (("NA",) if self.condition else ())

    @property
    def label(self) -> str:
        """Id, condition prefix and text, as printed in the RoB 2 template."""
        prefix = f"{self.condition.text}: " if self.condition else ""
        return f"{self.id} {prefix}{self.text}"


@dataclass(frozen=True)
class Rule:
    """One row of a decision table: all conditions hold -> judgement."""

    id: str
    when: tuple[tuple[str, frozenset[str]], ...]
    judgement: str
    path: str  # the flowchart path in words, shown to the assessor

    def matches(self, effective: Mapping[str, str]) -> bool:
        return all(effective.get(qid) in allowed for qid, allowed in self.when)


@dataclass(frozen=True)
class Part:
    """A decision table over some of a domain's questions."""

    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Domain:
    id: str
    name: str
    short_name: str
    questions: tuple[Question, ...]
    parts: tuple[Part, ...]

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise Rob2Error(f"Domain {self.id} has no signalling question {question_id!r}.")


@dataclass(frozen=True)
class Proposal:
    """A judgement with the rule that produced it and a readable explanation.

    ``algorithm_judgement`` keeps what the algorithm proposed when an assessor
    overrides it; ``justification`` is required for any override.
    """

    judgement: str
    rule_id: str
    explanation: str
    needs_confirmation: bool = False
    overridden: bool = False
    algorithm_judgement: str | None = None
    justification: str = ""


# --- builders (keep the tables below readable) -----------------------------


def _q(
    qid: str,
    text: str,
    options: tuple[str, ...] = _FULL,
    *,
    when: Condition | None = None,
) -> Question:
    return Question(
        id=qid, domain_id="D" + qid.split(".")[0], text=text, options=options, condition=when
    )


def _cond(text: str, mode: Literal["any", "all"], terms: dict[str, frozenset[str]]) -> Condition:
    return Condition(mode=mode, terms=tuple(terms.items()), text=text)


def _rule(rid: str, judgement: str, path: str, when: dict[str, frozenset[str]]) -> Rule:
    return Rule(id=rid, when=tuple(when.items()), judgement=judgement, path=path)


# --- the tool -------------------------------------------------------------------

_D1 = Domain(
    id="D1",
    name="Risk of bias arising from the randomization process",
    short_name="Randomization process",
    questions=(
        _q("1.1", "Was the allocation sequence random?"),
        _q(
            "1.2",
            "Was the allocation sequence concealed until participants were enrolled "
            "and assigned to interventions?",
        ),
        _q(
            "1.3",
            "Did baseline differences between intervention groups suggest a problem "
            "with the randomization process?",
        ),
    ),
    parts=(
        Part(
            name="Questions 1.1 to 1.3",
            rules=(
                _rule(
                    "D1.R1",
                    LOW,
                    "allocation concealed (1.2 Y/PY), sequence random or no information "
                    "(1.1 Y/PY/NI), baseline imbalances do not suggest a problem (1.3 N/PN/NI)",
                    {"1.2": YES, "1.1": YES_NI, "1.3": NO_NI},
                ),
                _rule(
                    "D1.R2",
                    SOME_CONCERNS,
                    "allocation concealed (1.2 Y/PY) but sequence not random (1.1 N/PN)",
                    {"1.2": YES, "1.1": NO},
                ),
                _rule(
                    "D1.R3",
                    SOME_CONCERNS,
                    "allocation concealed (1.2 Y/PY), sequence random or no information "
                    "(1.1 Y/PY/NI), but baseline imbalances suggest a problem (1.3 Y/PY)",
                    {"1.2": YES, "1.1": YES_NI, "1.3": YES},
                ),
                _rule(
                    "D1.R4",
                    SOME_CONCERNS,
                    "no information on concealment (1.2 NI), baseline imbalances do not "
                    "suggest a problem (1.3 N/PN/NI)",
                    {"1.2": NI, "1.3": NO_NI},
                ),
                _rule(
                    "D1.R5",
                    HIGH,
                    "no information on concealment (1.2 NI) and baseline imbalances "
                    "suggest a problem (1.3 Y/PY)",
                    {"1.2": NI, "1.3": YES},
                ),
                _rule(
                    "D1.R6",
                    HIGH,
                    "allocation sequence not concealed (1.2 N/PN)",
                    {"1.2": NO},
                ),
            ),
        ),
    ),
)

_AWARE = _cond("If Y/PY/NI to 2.1 or 2.2", "any", {"2.1": YES_NI, "2.2": YES_NI})

_D2 = Domain(
    id="D2",
    name="Risk of bias due to deviations from the intended interventions "
    "(effect of assignment to intervention)",
    short_name="Deviations from intended interventions",
    questions=(
        _q("2.1", "Were participants aware of their assigned intervention during the trial?"),
        _q(
            "2.2",
            "Were carers and people delivering the interventions aware of participants' "
            "assigned intervention during the trial?",
        ),
        _q(
            "2.3",
            "Were there deviations from the intended intervention that arose because of "
            "the trial context?",
            when=_AWARE,
        ),
        _q(
            "2.4",
            "Were these deviations likely to have affected the outcome?",
            when=_cond("If Y/PY to 2.3", "any", {"2.3": YES}),
        ),
        _q(
            "2.5",
            "Were these deviations from intended intervention balanced between groups?",
            when=_cond("If Y/PY/NI to 2.4", "any", {"2.4": YES_NI}),
        ),
        _q(
            "2.6",
            "Was an appropriate analysis used to estimate the effect of assignment to "
            "intervention?",
        ),
        _q(
            "2.7",
            "Was there potential for a substantial impact (on the result) of the failure "
            "to analyse participants in the group to which they were randomized?",
            when=_cond("If N/PN/NI to 2.6", "any", {"2.6": NO_NI}),
        ),
    ),
    parts=(
        Part(
            name="Part 1: questions 2.1 to 2.5",
            rules=(
                _rule(
                    "D2.P1.R1",
                    LOW,
                    "participants and carers/people delivering the interventions both "
                    "unaware (2.1 and 2.2 N/PN)",
                    {"2.1": NO, "2.2": NO},
                ),
                _rule(
                    "D2.P1.R2",
                    LOW,
                    "aware (2.1 or 2.2 Y/PY/NI) but no deviations arose because of the "
                    "trial context (2.3 N/PN)",
                    {"2.3": NO},
                ),
                _rule(
                    "D2.P1.R3",
                    SOME_CONCERNS,
                    "aware (2.1 or 2.2 Y/PY/NI), no information on deviations because of "
                    "the trial context (2.3 NI)",
                    {"2.3": NI},
                ),
                _rule(
                    "D2.P1.R4",
                    SOME_CONCERNS,
                    "deviations because of the trial context (2.3 Y/PY) unlikely to have "
                    "affected the outcome (2.4 N/PN)",
                    {"2.3": YES, "2.4": NO},
                ),
                _rule(
                    "D2.P1.R5",
                    SOME_CONCERNS,
                    "deviations because of the trial context (2.3 Y/PY) that may have "
                    "affected the outcome (2.4 Y/PY/NI) but were balanced between groups "
                    "(2.5 Y/PY)",
                    {"2.3": YES, "2.4": YES_NI, "2.5": YES},
                ),
                _rule(
                    "D2.P1.R6",
                    HIGH,
                    "deviations because of the trial context (2.3 Y/PY) that may have "
                    "affected the outcome (2.4 Y/PY/NI) and were not balanced, or no "
                    "information on balance (2.5 N/PN/NI)",
                    {"2.3": YES, "2.4": YES_NI, "2.5": NO_NI},
                ),
            ),
        ),
        Part(
            name="Part 2: questions 2.6 and 2.7",
            rules=(
                _rule(
                    "D2.P2.R1",
                    LOW,
                    "appropriate analysis to estimate the effect of assignment (2.6 Y/PY)",
                    {"2.6": YES},
                ),
                _rule(
                    "D2.P2.R2",
                    SOME_CONCERNS,
                    "analysis not appropriate or no information (2.6 N/PN/NI), no potential "
                    "for substantial impact (2.7 N/PN)",
                    {"2.6": NO_NI, "2.7": NO},
                ),
                _rule(
                    "D2.P2.R3",
                    HIGH,
                    "analysis not appropriate or no information (2.6 N/PN/NI), potential for "
                    "substantial impact or no information (2.7 Y/PY/NI)",
                    {"2.6": NO_NI, "2.7": YES_NI},
                ),
            ),
        ),
    ),
)

_D3 = Domain(
    id="D3",
    name="Risk of bias due to missing outcome data",
    short_name="Missing outcome data",
    questions=(
        _q(
            "3.1",
            "Were data for this outcome available for all, or nearly all, participants randomized?",
        ),
        _q(
            "3.2",
            "Is there evidence that the result was not biased by missing outcome data?",
            _NO_NI_OPTION,
            when=_cond("If N/PN/NI to 3.1", "any", {"3.1": NO_NI}),
        ),
        _q(
            "3.3",
            "Could missingness in the outcome depend on its true value?",
            when=_cond("If N/PN to 3.2", "any", {"3.2": NO}),
        ),
        _q(
            "3.4",
            "Is it likely that missingness in the outcome depended on its true value?",
            when=_cond("If Y/PY/NI to 3.3", "any", {"3.3": YES_NI}),
        ),
    ),
    parts=(
        Part(
            name="Questions 3.1 to 3.4",
            rules=(
                _rule(
                    "D3.R1",
                    LOW,
                    "outcome data for all or nearly all participants (3.1 Y/PY)",
                    {"3.1": YES},
                ),
                _rule(
                    "D3.R2",
                    LOW,
                    "data missing (3.1 N/PN/NI) but evidence that the result is not biased "
                    "(3.2 Y/PY)",
                    {"3.2": YES},
                ),
                _rule(
                    "D3.R3",
                    LOW,
                    "no evidence against bias (3.2 N/PN) but missingness could not depend "
                    "on its true value (3.3 N/PN)",
                    {"3.3": NO},
                ),
                _rule(
                    "D3.R4",
                    SOME_CONCERNS,
                    "missingness could depend on its true value (3.3 Y/PY/NI) but that is "
                    "not likely (3.4 N/PN)",
                    {"3.4": NO},
                ),
                _rule(
                    "D3.R5",
                    HIGH,
                    "missingness likely depended on its true value, or no information "
                    "(3.4 Y/PY/NI)",
                    {"3.4": YES_NI},
                ),
            ),
        ),
    ),
)

_D4 = Domain(
    id="D4",
    name="Risk of bias in measurement of the outcome",
    short_name="Measurement of the outcome",
    questions=(
        _q("4.1", "Was the method of measuring the outcome inappropriate?"),
        _q(
            "4.2",
            "Could measurement or ascertainment of the outcome have differed between "
            "intervention groups?",
        ),
        _q(
            "4.3",
            "Were outcome assessors aware of the intervention received by study participants?",
            when=_cond("If N/PN/NI to 4.1 and 4.2", "all", {"4.1": NO_NI, "4.2": NO_NI}),
        ),
        _q(
            "4.4",
            "Could assessment of the outcome have been influenced by knowledge of "
            "intervention received?",
            when=_cond("If Y/PY/NI to 4.3", "any", {"4.3": YES_NI}),
        ),
        _q(
            "4.5",
            "Is it likely that assessment of the outcome was influenced by knowledge of "
            "intervention received?",
            when=_cond("If Y/PY/NI to 4.4", "any", {"4.4": YES_NI}),
        ),
    ),
    parts=(
        Part(
            name="Questions 4.1 to 4.5",
            rules=(
                _rule(
                    "D4.R1",
                    HIGH,
                    "method of measuring the outcome inappropriate (4.1 Y/PY)",
                    {"4.1": YES},
                ),
                _rule(
                    "D4.R2",
                    HIGH,
                    "measurement or ascertainment could have differed between groups (4.2 Y/PY)",
                    {"4.1": NO_NI, "4.2": YES},
                ),
                _rule(
                    "D4.R3",
                    LOW,
                    "measurement could not differ (4.2 N/PN) and assessors unaware (4.3 N/PN)",
                    {"4.2": NO, "4.3": NO},
                ),
                _rule(
                    "D4.R4",
                    LOW,
                    "measurement could not differ (4.2 N/PN), assessors aware or no "
                    "information (4.3 Y/PY/NI) but assessment could not have been "
                    "influenced (4.4 N/PN)",
                    {"4.2": NO, "4.4": NO},
                ),
                _rule(
                    "D4.R5",
                    SOME_CONCERNS,
                    "measurement could not differ (4.2 N/PN), assessment could have been "
                    "influenced (4.4 Y/PY/NI) but not likely (4.5 N/PN)",
                    {"4.2": NO, "4.5": NO},
                ),
                _rule(
                    "D4.R6",
                    HIGH,
                    "measurement could not differ (4.2 N/PN) but assessment likely "
                    "influenced, or no information (4.5 Y/PY/NI)",
                    {"4.2": NO, "4.5": YES_NI},
                ),
                _rule(
                    "D4.R7",
                    SOME_CONCERNS,
                    "no information on whether measurement differed (4.2 NI), assessors "
                    "unaware (4.3 N/PN)",
                    {"4.2": NI, "4.3": NO},
                ),
                _rule(
                    "D4.R8",
                    SOME_CONCERNS,
                    "no information on whether measurement differed (4.2 NI), assessment "
                    "could not have been influenced (4.4 N/PN)",
                    {"4.2": NI, "4.4": NO},
                ),
                _rule(
                    "D4.R9",
                    SOME_CONCERNS,
                    "no information on whether measurement differed (4.2 NI), assessment "
                    "could have been influenced (4.4 Y/PY/NI) but not likely (4.5 N/PN)",
                    {"4.2": NI, "4.5": NO},
                ),
                _rule(
                    "D4.R10",
                    HIGH,
                    "no information on whether measurement differed (4.2 NI) and assessment "
                    "likely influenced, or no information (4.5 Y/PY/NI)",
                    {"4.2": NI, "4.5": YES_NI},
                ),
            ),
        ),
    ),
)

_D5 = Domain(
    id="D5",
    name="Risk of bias in selection of the reported result",
    short_name="Selection of the reported result",
    questions=(
        _q(
            "5.1",
            "Were the data that produced this result analysed in accordance with a "
            "pre-specified analysis plan that was finalized before unblinded outcome data "
            "were available for analysis?",
        ),
        _q(
            "5.2",
            "Is the numerical result being assessed likely to have been selected, on the "
            "basis of the results, from multiple eligible outcome measurements (e.g. "
            "scales, definitions, time points) within the outcome domain?",
        ),
        _q(
            "5.3",
            "Is the numerical result being assessed likely to have been selected, on the "
            "basis of the results, from multiple eligible analyses of the data?",
        ),
    ),
    parts=(
        Part(
            name="Questions 5.1 to 5.3",
            rules=(
                _rule(
                    "D5.R1",
                    HIGH,
                    "result likely selected from multiple outcome measurements (5.2 Y/PY)",
                    {"5.2": YES},
                ),
                _rule(
                    "D5.R2",
                    HIGH,
                    "result likely selected from multiple analyses (5.3 Y/PY)",
                    {"5.2": NO_NI, "5.3": YES},
                ),
                _rule(
                    "D5.R3",
                    SOME_CONCERNS,
                    "no information on selection from multiple measurements (5.2 NI), "
                    "neither 5.2 nor 5.3 Y/PY",
                    {"5.2": NI, "5.3": NO_NI},
                ),
                _rule(
                    "D5.R4",
                    SOME_CONCERNS,
                    "no information on selection from multiple analyses (5.3 NI), "
                    "neither 5.2 nor 5.3 Y/PY",
                    {"5.2": NO, "5.3": NI},
                ),
                _rule(
                    "D5.R5",
                    LOW,
                    "no selection (5.2 and 5.3 N/PN) and analysed according to a "
                    "pre-specified plan (5.1 Y/PY)",
                    {"5.2": NO, "5.3": NO, "5.1": YES},
                ),
                _rule(
                    "D5.R6",
                    SOME_CONCERNS,
                    "no selection (5.2 and 5.3 N/PN) but not analysed according to a "
                    "pre-specified plan, or no information (5.1 N/PN/NI)",
                    {"5.2": NO, "5.3": NO, "5.1": NO_NI},
                ),
            ),
        ),
    ),
)

#: The five RoB 2 domains in assessment order.
DOMAINS: Final[tuple[Domain, ...]] = (_D1, _D2, _D3, _D4, _D5)
DOMAIN_BY_ID: Final[dict[str, Domain]] = {d.id: d for d in DOMAINS}


# --- engine --------------------------------------------------------------------


def _domain(domain_id: str) -> Domain:
    try:
        return DOMAIN_BY_ID[domain_id]
    except KeyError:
        known = ", ".join(DOMAIN_BY_ID)
        raise Rob2Error(f"Unknown RoB 2 domain {domain_id!r}; expected one of {known}.") from None


def _check_keys(domain: Domain, answers: Mapping[str, str]) -> None:
    known = {q.id for q in domain.questions}
    for qid, value in answers.items():
        if qid not in known:
            raise Rob2Error(f"Domain {domain.id} has no signalling question {qid!r}.")
        if value not in ANSWERS and value not in ("", None):
            raise Rob2Error(
                f"Question {qid}: {value!r} is not a RoB 2 answer "
                f"(expected one of {', '.join(ANSWERS)})."
            )


def _walk(domain: Domain, answers: Mapping[str, str]) -> tuple[list[Question], dict[str, str]]:
    """Applicable questions and effective answers, in question order.

    A question that does not apply is effectively "NA", whatever was stored for
    it: an assessor who changes 2.1 after answering 2.3 must not have a stale 2.3
    steer the algorithm.
    """
    applicable: list[Question] = []
    effective: dict[str, str] = {}
    for q in domain.questions:
        if q.condition is None or q.condition.holds(effective):
            applicable.append(q)
            value = answers.get(q.id)
            if value:
                effective[q.id] = value
        else:
            effective[q.id] = "NA"
    return applicable, effective


def questions_for(domain_id: str, answers: Mapping[str, str]) -> list[Question]:
    """Signalling questions of a domain that apply given the answers so far.

    Conditional questions appear once the questions they depend on have an
    answer that triggers them (e.g. 2.3 when 2.1 or 2.2 is Y/PY/NI), so the list
    grows as the assessor answers.
    """
    domain = _domain(domain_id)
    _check_keys(domain, answers)
    return _walk(domain, answers)[0]


def effective_answers(domain_id: str, answers: Mapping[str, str]) -> dict[str, str]:
    """Answers as the algorithm reads them: non-applicable questions set to "NA".

    Validates like :func:`propose_domain`; use it to store a clean answer set.
    """
    domain = _domain(domain_id)
    _check_keys(domain, answers)
    applicable, effective = _walk(domain, answers)
    for q in applicable:
        value = effective.get(q.id)
        if not value:
            raise Rob2Error(f"Question {q.label} needs an answer.")
        if value not in q.options:
            raise Rob2Error(
                f"Question {q.id}: {value!r} is not allowed here "
                f"(expected one of {', '.join(q.options)})."
            )
    return effective


def propose_domain(domain_id: str, answers: Mapping[str, str]) -> Proposal:
    """Propose a domain judgement from signalling-question answers.

    Parameters
    ----------
    domain_id : "D1".."D5"
    answers : mapping of question id ("1.1") to Y/PY/PN/N/NI/NA. Every question
        that applies must be answered with one of its options; answers to
        questions that do not apply are ignored (treated as NA).

    Raises
    ------
    Rob2Error
        Unknown domain or question, an answer outside the question's options, or
        a missing answer to an applicable question (the message names it).
    """
    domain = _domain(domain_id)
    effective = effective_answers(domain_id, answers)
    hits: list[tuple[Part, Rule]] = []
    for part in domain.parts:
        matching = [rule for rule in part.rules if rule.matches(effective)]
        if len(matching) != 1:  # the tables are exhaustive and disjoint; tests enforce it
            raise AssertionError(f"{domain.id} {part.name}: {len(matching)} rules match.")
        hits.append((part, matching[0]))

    judgement = max((rule.judgement for _, rule in hits), key=_SEVERITY.__getitem__)
    rule_id = "+".join(rule.id for _, rule in hits)
    if len(hits) == 1:
        rule = hits[0][1]
        explanation = f"{rule.path} → {JUDGEMENT_LABELS[judgement]}."
    else:
        steps = "; ".join(
            f"{part.name}: {rule.path} → {JUDGEMENT_LABELS[rule.judgement]}" for part, rule in hits
        )
        explanation = (
            f"{steps}. The domain takes the more severe of the parts → "
            f"{JUDGEMENT_LABELS[judgement]}."
        )
    return Proposal(judgement=judgement, rule_id=rule_id, explanation=explanation)


def propose_overall(domain_judgements: Mapping[str, str]) -> Proposal:
    """Propose the overall judgement from the five domain judgements (guidance Table 1).

    Low only if every domain is low; high if any domain is high; otherwise some
    concerns. With some concerns in two or more domains the guidance lets the
    assessor judge the result at high risk, so the proposal stays "some concerns"
    with ``needs_confirmation=True`` until the assessor confirms or raises it
    (see :func:`apply_override`).
    """
    expected = [d.id for d in DOMAINS]
    unknown = sorted(set(domain_judgements) - set(expected))
    if unknown:
        raise Rob2Error(f"Unknown RoB 2 domain(s): {', '.join(unknown)}.")
    for did in expected:
        if did not in domain_judgements:
            raise Rob2Error(f"Domain {did} has no judgement yet.")
        if domain_judgements[did] not in JUDGEMENTS:
            raise Rob2Error(
                f"Domain {did}: {domain_judgements[did]!r} is not a judgement "
                f"(expected one of {', '.join(JUDGEMENTS)})."
            )

    high = [d for d in expected if domain_judgements[d] == HIGH]
    concerns = [d for d in expected if domain_judgements[d] == SOME_CONCERNS]
    if high:
        return Proposal(
            judgement=HIGH,
            rule_id="overall.high",
            explanation=f"High risk of bias in at least one domain ({', '.join(high)}).",
        )
    if not concerns:
        return Proposal(
            judgement=LOW,
            rule_id="overall.low",
            explanation="Low risk of bias in all domains.",
        )
    if len(concerns) == 1:
        return Proposal(
            judgement=SOME_CONCERNS,
            rule_id="overall.some_concerns",
            explanation=f"Some concerns in one domain ({concerns[0]}) and no domain at high risk.",
        )
    return Proposal(
        judgement=SOME_CONCERNS,
        rule_id="overall.some_concerns_multiple",
        explanation=(
            f"Some concerns in {len(concerns)} domains ({', '.join(concerns)}) and no domain "
            "at high risk. The guidance allows an overall judgement of high risk when some "
            "concerns in multiple domains substantially lower confidence in the result: "
            "confirm some concerns or raise to high."
        ),
        needs_confirmation=True,
    )


def apply_override(proposal: Proposal, judgement: str, justification: str) -> Proposal:
    """Record the assessor's final judgement, which needs a written justification.

    Choosing the proposed judgement again confirms it (clearing
    ``needs_confirmation``); choosing another marks the proposal overridden and
    keeps the algorithm's judgement in ``algorithm_judgement``.
    """
    if judgement not in JUDGEMENTS:
        raise Rob2Error(
            f"{judgement!r} is not a judgement (expected one of {', '.join(JUDGEMENTS)})."
        )
    reason = (justification or "").strip()
    if not reason:
        raise Rob2Error("A justification is required to override or confirm a proposal.")
    original = proposal.algorithm_judgement or proposal.judgement
    return replace(
        proposal,
        judgement=judgement,
        needs_confirmation=False,
        overridden=judgement != original,
        algorithm_judgement=original,
        justification=reason,
    )
