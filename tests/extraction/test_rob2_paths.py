"""Every path of every RoB 2 domain flowchart (guidance of 22 August 2019).

Each case names the flowchart path it walks. Questions that do not apply are
sometimes given as "NA" and sometimes left out: both must work.
"""

from __future__ import annotations

import pytest

from extraction.rob.algorithm import DOMAINS, effective_answers, propose_domain, questions_for

L, S, H = "low", "some_concerns", "high"

# (path name, answers, expected judgement, expected rule id)
D1_PATHS = [
    (
        "1.2 Y/PY -> 1.1 Y/PY/NI -> 1.3 N/PN/NI: low",
        {"1.1": "Y", "1.2": "Y", "1.3": "N"},
        L,
        "D1.R1",
    ),
    ("same path with PY/NI/NI", {"1.1": "NI", "1.2": "PY", "1.3": "NI"}, L, "D1.R1"),
    ("1.2 Y/PY -> 1.1 N/PN: some concerns", {"1.1": "PN", "1.2": "Y", "1.3": "N"}, S, "D1.R2"),
    (
        "1.2 Y/PY -> 1.1 N (1.3 Y too): some concerns",
        {"1.1": "N", "1.2": "PY", "1.3": "Y"},
        S,
        "D1.R2",
    ),
    (
        "1.2 Y/PY -> 1.1 Y/PY/NI -> 1.3 Y/PY: some concerns",
        {"1.1": "Y", "1.2": "Y", "1.3": "PY"},
        S,
        "D1.R3",
    ),
    ("1.2 NI -> 1.3 N/PN/NI: some concerns", {"1.1": "Y", "1.2": "NI", "1.3": "PN"}, S, "D1.R4"),
    (
        "1.2 NI -> 1.3 NI (nothing known): some concerns",
        {"1.1": "NI", "1.2": "NI", "1.3": "NI"},
        S,
        "D1.R4",
    ),
    ("1.2 NI -> 1.3 Y/PY: high", {"1.1": "Y", "1.2": "NI", "1.3": "Y"}, H, "D1.R5"),
    ("1.2 N/PN: high", {"1.1": "Y", "1.2": "N", "1.3": "N"}, H, "D1.R6"),
    ("1.2 PN: high", {"1.1": "NI", "1.2": "PN", "1.3": "NI"}, H, "D1.R6"),
]

# Domain 2 has two parts; the domain takes the more severe one. Part 2 is held
# at low (2.6 Y) while part 1 is walked, and vice versa.
P2_LOW = {"2.6": "Y", "2.7": "NA"}
P1_LOW = {"2.1": "N", "2.2": "N"}
D2_PATHS = [
    ("P1: 2.1 and 2.2 both N/PN: low", {"2.1": "N", "2.2": "PN", **P2_LOW}, L, "D2.P1.R1+D2.P2.R1"),
    (
        "P1: aware -> 2.3 N/PN: low",
        {"2.1": "Y", "2.2": "N", "2.3": "PN", **P2_LOW},
        L,
        "D2.P1.R2+D2.P2.R1",
    ),
    (
        "P1: carers NI -> 2.3 N: low",
        {"2.1": "N", "2.2": "NI", "2.3": "N", "2.6": "PY"},
        L,
        "D2.P1.R2+D2.P2.R1",
    ),
    (
        "P1: aware -> 2.3 NI: some concerns",
        {"2.1": "PY", "2.2": "PY", "2.3": "NI", **P2_LOW},
        S,
        "D2.P1.R3+D2.P2.R1",
    ),
    (
        "P1: 2.3 Y/PY -> 2.4 N/PN: some concerns",
        {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "N", "2.5": "NA", **P2_LOW},
        S,
        "D2.P1.R4+D2.P2.R1",
    ),
    (
        "P1: 2.3 Y/PY -> 2.4 Y/PY -> 2.5 Y/PY: some concerns",
        {"2.1": "Y", "2.2": "Y", "2.3": "PY", "2.4": "Y", "2.5": "Y", **P2_LOW},
        S,
        "D2.P1.R5+D2.P2.R1",
    ),
    (
        "P1: 2.3 Y/PY -> 2.4 NI -> 2.5 PY: some concerns",
        {"2.1": "Y", "2.2": "N", "2.3": "Y", "2.4": "NI", "2.5": "PY", **P2_LOW},
        S,
        "D2.P1.R5+D2.P2.R1",
    ),
    (
        "P1: 2.3 Y/PY -> 2.4 Y/PY -> 2.5 N/PN: high",
        {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "PY", "2.5": "N", **P2_LOW},
        H,
        "D2.P1.R6+D2.P2.R1",
    ),
    (
        "P1: 2.3 Y/PY -> 2.4 Y/PY -> 2.5 NI: high",
        {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "NI", **P2_LOW},
        H,
        "D2.P1.R6+D2.P2.R1",
    ),
    ("P2: 2.6 Y/PY: low", {**P1_LOW, "2.6": "PY"}, L, "D2.P1.R1+D2.P2.R1"),
    (
        "P2: 2.6 N/PN -> 2.7 N/PN: some concerns",
        {**P1_LOW, "2.6": "N", "2.7": "PN"},
        S,
        "D2.P1.R1+D2.P2.R2",
    ),
    (
        "P2: 2.6 NI -> 2.7 N: some concerns",
        {**P1_LOW, "2.6": "NI", "2.7": "N"},
        S,
        "D2.P1.R1+D2.P2.R2",
    ),
    ("P2: 2.6 N/PN -> 2.7 Y/PY: high", {**P1_LOW, "2.6": "PN", "2.7": "Y"}, H, "D2.P1.R1+D2.P2.R3"),
    ("P2: 2.6 N -> 2.7 NI: high", {**P1_LOW, "2.6": "N", "2.7": "NI"}, H, "D2.P1.R1+D2.P2.R3"),
    (
        "criteria: some concerns + some concerns = some concerns",
        {"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "N", "2.7": "N"},
        S,
        "D2.P1.R3+D2.P2.R2",
    ),
    (
        "criteria: some concerns + high = high",
        {"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "N", "2.7": "Y"},
        H,
        "D2.P1.R3+D2.P2.R3",
    ),
    (
        "criteria: high + some concerns = high",
        {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "N", "2.7": "N"},
        H,
        "D2.P1.R6+D2.P2.R2",
    ),
]

D3_PATHS = [
    ("3.1 Y/PY: low", {"3.1": "Y"}, L, "D3.R1"),
    ("3.1 PY with NA below: low", {"3.1": "PY", "3.2": "NA", "3.3": "NA", "3.4": "NA"}, L, "D3.R1"),
    ("3.1 N/PN/NI -> 3.2 Y/PY: low", {"3.1": "N", "3.2": "Y"}, L, "D3.R2"),
    ("3.1 NI -> 3.2 PY: low", {"3.1": "NI", "3.2": "PY"}, L, "D3.R2"),
    ("3.2 N/PN -> 3.3 N/PN: low", {"3.1": "PN", "3.2": "N", "3.3": "PN"}, L, "D3.R3"),
    (
        "3.3 Y/PY/NI -> 3.4 N/PN: some concerns",
        {"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "N"},
        S,
        "D3.R4",
    ),
    (
        "3.3 NI -> 3.4 PN: some concerns",
        {"3.1": "N", "3.2": "PN", "3.3": "NI", "3.4": "PN"},
        S,
        "D3.R4",
    ),
    ("3.3 Y/PY -> 3.4 Y/PY: high", {"3.1": "N", "3.2": "N", "3.3": "PY", "3.4": "Y"}, H, "D3.R5"),
    (
        "3.1 NI (no information on missing data) ... 3.4 NI: high",
        {"3.1": "NI", "3.2": "N", "3.3": "NI", "3.4": "NI"},
        H,
        "D3.R5",
    ),
]

D4_PATHS = [
    ("4.1 Y/PY: high", {"4.1": "Y", "4.2": "N"}, H, "D4.R1"),
    ("4.1 PY (4.2 any): high", {"4.1": "PY", "4.2": "NI", "4.3": "NA"}, H, "D4.R1"),
    ("4.1 N/PN/NI -> 4.2 Y/PY: high", {"4.1": "N", "4.2": "Y"}, H, "D4.R2"),
    ("4.2 N/PN -> 4.3 N/PN: low", {"4.1": "N", "4.2": "N", "4.3": "N"}, L, "D4.R3"),
    ("4.1 NI -> 4.2 PN -> 4.3 PN: low", {"4.1": "NI", "4.2": "PN", "4.3": "PN"}, L, "D4.R3"),
    (
        "4.2 N/PN -> 4.3 Y/PY/NI -> 4.4 N/PN: low",
        {"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "N"},
        L,
        "D4.R4",
    ),
    (
        "4.2 N/PN -> 4.4 Y/PY/NI -> 4.5 N/PN: some concerns",
        {"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "Y", "4.5": "PN"},
        S,
        "D4.R5",
    ),
    (
        "4.2 N/PN -> 4.4 Y/PY/NI -> 4.5 Y/PY/NI: high",
        {"4.1": "N", "4.2": "N", "4.3": "NI", "4.4": "NI", "4.5": "Y"},
        H,
        "D4.R6",
    ),
    ("4.2 NI -> 4.3 N/PN: some concerns", {"4.1": "N", "4.2": "NI", "4.3": "N"}, S, "D4.R7"),
    (
        "4.2 NI -> 4.3 Y/PY/NI -> 4.4 N/PN: some concerns",
        {"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "PN"},
        S,
        "D4.R8",
    ),
    (
        "4.2 NI -> 4.4 Y/PY/NI -> 4.5 N/PN: some concerns",
        {"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "Y", "4.5": "N"},
        S,
        "D4.R9",
    ),
    (
        "4.2 NI -> 4.4 Y/PY/NI -> 4.5 Y/PY/NI: high",
        {"4.1": "PN", "4.2": "NI", "4.3": "PY", "4.4": "PY", "4.5": "NI"},
        H,
        "D4.R10",
    ),
]

D5_PATHS = [
    ("5.2 Y/PY (either): high", {"5.1": "Y", "5.2": "Y", "5.3": "N"}, H, "D5.R1"),
    ("5.2 and 5.3 Y/PY: high", {"5.1": "N", "5.2": "PY", "5.3": "Y"}, H, "D5.R1"),
    ("5.3 Y/PY (either): high", {"5.1": "Y", "5.2": "N", "5.3": "PY"}, H, "D5.R2"),
    ("5.3 Y with 5.2 NI: high", {"5.1": "NI", "5.2": "NI", "5.3": "Y"}, H, "D5.R2"),
    (
        "at least one NI, neither Y/PY (5.2 NI): some concerns",
        {"5.1": "Y", "5.2": "NI", "5.3": "N"},
        S,
        "D5.R3",
    ),
    ("both NI: some concerns", {"5.1": "Y", "5.2": "NI", "5.3": "NI"}, S, "D5.R3"),
    (
        "at least one NI, neither Y/PY (5.3 NI): some concerns",
        {"5.1": "Y", "5.2": "PN", "5.3": "NI"},
        S,
        "D5.R4",
    ),
    ("5.2 and 5.3 N/PN -> 5.1 Y/PY: low", {"5.1": "PY", "5.2": "N", "5.3": "PN"}, L, "D5.R5"),
    (
        "5.2 and 5.3 N/PN -> 5.1 N/PN/NI: some concerns",
        {"5.1": "NI", "5.2": "N", "5.3": "N"},
        S,
        "D5.R6",
    ),
    (
        "5.2 and 5.3 N/PN -> 5.1 N: some concerns",
        {"5.1": "N", "5.2": "PN", "5.3": "PN"},
        S,
        "D5.R6",
    ),
]

CASES = [
    pytest.param(domain, answers, expected, rule_id, id=f"{domain}: {name}")
    for domain, table in (
        ("D1", D1_PATHS),
        ("D2", D2_PATHS),
        ("D3", D3_PATHS),
        ("D4", D4_PATHS),
        ("D5", D5_PATHS),
    )
    for name, answers, expected, rule_id in table
]


@pytest.mark.parametrize(("domain_id", "answers", "expected", "rule_id"), CASES)
def test_flowchart_path(domain_id, answers, expected, rule_id):
    proposal = propose_domain(domain_id, answers)
    assert proposal.judgement == expected
    assert proposal.rule_id == rule_id
    assert proposal.explanation
    assert proposal.needs_confirmation is False


def test_every_rule_is_exercised_by_a_named_path():
    covered = {part for case in CASES for part in case.values[3].split("+")}
    defined = {rule.id for d in DOMAINS for part in d.parts for rule in part.rules}
    assert defined == covered


def test_domain2_explanation_names_both_parts():
    proposal = propose_domain("D2", {"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "N", "2.7": "Y"})
    assert "Part 1" in proposal.explanation and "Part 2" in proposal.explanation
    assert "2.3 NI" in proposal.explanation and "2.7 Y/PY/NI" in proposal.explanation
    assert proposal.explanation.endswith("High risk.")


# --- exhaustive cross-check ---------------------------------------------------
# An independent transcription of the five flowcharts as nested conditionals,
# compared with the rule tables on every complete valid answer set.

Y_, N_ = {"Y", "PY"}, {"N", "PN"}


def _worst(*js: str) -> str:
    return max(js, key=[L, S, H].index)


def reference(domain_id: str, a: dict[str, str]) -> str:
    if domain_id == "D1":
        if a["1.2"] in N_:
            return H
        if a["1.2"] == "NI":
            return H if a["1.3"] in Y_ else S
        if a["1.1"] in N_:
            return S
        return S if a["1.3"] in Y_ else L
    if domain_id == "D2":
        if a["2.1"] in N_ and a["2.2"] in N_ or a["2.3"] in N_:
            p1 = L
        elif a["2.3"] == "NI" or a["2.4"] in N_:
            p1 = S
        else:
            p1 = S if a["2.5"] in Y_ else H
        p2 = L if a["2.6"] in Y_ else (S if a["2.7"] in N_ else H)
        return _worst(p1, p2)
    if domain_id == "D3":
        if a["3.1"] in Y_ or a["3.2"] in Y_:
            return L
        if a["3.3"] in N_:
            return L
        return S if a["3.4"] in N_ else H
    if domain_id == "D4":
        if a["4.1"] in Y_ or a["4.2"] in Y_:
            return H
        best = L if a["4.2"] in N_ else S
        if a["4.3"] in N_ or a["4.4"] in N_:
            return best
        return S if a["4.5"] in N_ else H
    if domain_id == "D5":
        if a["5.2"] in Y_ or a["5.3"] in Y_:
            return H
        if "NI" in (a["5.2"], a["5.3"]):
            return S
        return L if a["5.1"] in Y_ else S
    raise AssertionError(domain_id)


def all_complete_answer_sets(domain_id: str):
    """Every complete, valid answer set, built by walking the questions as a UI would."""

    def extend(answers: dict[str, str]):
        pending = [q for q in questions_for(domain_id, answers) if q.id not in answers]
        if not pending:
            yield dict(answers)
            return
        q = pending[0]
        for option in q.options:
            yield from extend({**answers, q.id: option})

    yield from extend({})


@pytest.mark.parametrize("domain_id", ["D1", "D2", "D3", "D4", "D5"])
def test_rule_tables_agree_with_flowcharts_on_every_answer_set(domain_id):
    domain = next(d for d in DOMAINS if d.id == domain_id)
    count = 0
    for answers in all_complete_answer_sets(domain_id):
        effective = effective_answers(domain_id, answers)
        for part in domain.parts:
            matching = [r.id for r in part.rules if r.matches(effective)]
            assert len(matching) == 1, (answers, part.name, matching)
        assert propose_domain(domain_id, answers).judgement == reference(domain_id, effective)
        count += 1
    # All five response options for each always-asked question are covered.
    always = [q for q in domain.questions if q.condition is None]
    assert count >= 5 ** len(always)


def test_answer_groups_are_interchangeable():
    """Y and PY (and N and PN) have the same implications (guidance section 1.1)."""
    for domain_id in ("D1", "D2", "D3", "D4", "D5"):
        for answers in all_complete_answer_sets(domain_id):
            swapped = {
                k: {"Y": "PY", "PY": "Y", "N": "PN", "PN": "N"}.get(v, v)
                for k, v in answers.items()
            }
            if swapped == answers or not _valid(domain_id, swapped):
                continue
            assert (
                propose_domain(domain_id, swapped).judgement
                == propose_domain(domain_id, answers).judgement
            )


def _valid(domain_id, answers):
    try:
        effective_answers(domain_id, answers)
    except ValueError:
        return False
    return True


def test_exhaustive_enumeration_reaches_each_judgement_in_every_domain():
    for domain in DOMAINS:
        seen = {propose_domain(domain.id, a).judgement for a in all_complete_answer_sets(domain.id)}
        assert seen == {L, S, H}, domain.id


def test_enumeration_size_matches_conditional_structure():
    # D3: 3.1 Y/PY (2) + 3.1 N/PN/NI (3) x [3.2 Y/PY (2) + 3.2 N/PN (2) x (3.3 N/PN (2) + 3.3 Y/PY/NI (3) x 5)]
    expected_d3 = 2 + 3 * (2 + 2 * (2 + 3 * 5))
    assert sum(1 for _ in all_complete_answer_sets("D3")) == expected_d3
    assert sum(1 for _ in all_complete_answer_sets("D1")) == 5**3
    assert sum(1 for _ in all_complete_answer_sets("D5")) == 5**3
    # D2 part 1: both unaware (2x2) or aware (21 pairs) x 2.3 [N/PN or NI (3), Y/PY (2) x
    # 2.4 (N/PN (2) + Y/PY/NI (3) x 2.5 (5))]; part 2: 2.6 Y/PY (2) + N/PN/NI (3) x 2.7 (5).
    part1 = 4 + 21 * (3 + 2 * (2 + 3 * 5))
    part2 = 2 + 3 * 5
    assert sum(1 for _ in all_complete_answer_sets("D2")) == part1 * part2
