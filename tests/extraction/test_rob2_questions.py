"""RoB 2 content: domains, signalling questions, conditional questions, NA, bad input."""

from __future__ import annotations

import pytest

from extraction.rob.algorithm import (
    ANSWER_LABELS,
    ANSWERS,
    DOMAIN_BY_ID,
    DOMAINS,
    Rob2Error,
    effective_answers,
    propose_domain,
    questions_for,
)


def ids(questions):
    return [q.id for q in questions]


def test_five_domains_in_order_with_their_questions():
    assert [d.id for d in DOMAINS] == ["D1", "D2", "D3", "D4", "D5"]
    assert {d.id: [q.id for q in d.questions] for d in DOMAINS} == {
        "D1": ["1.1", "1.2", "1.3"],
        "D2": ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"],
        "D3": ["3.1", "3.2", "3.3", "3.4"],
        "D4": ["4.1", "4.2", "4.3", "4.4", "4.5"],
        "D5": ["5.1", "5.2", "5.3"],
    }
    assert DOMAIN_BY_ID["D2"].name.endswith("(effect of assignment to intervention)")
    assert all(q.domain_id == d.id for d in DOMAINS for q in d.questions)


@pytest.mark.parametrize(
    ("qid", "text"),
    [
        ("1.1", "Was the allocation sequence random?"),
        (
            "2.3",
            "Were there deviations from the intended intervention that arose because of the trial context?",
        ),
        (
            "2.7",
            "Was there potential for a substantial impact (on the result) of the failure to analyse participants in the group to which they were randomized?",
        ),
        ("3.2", "Is there evidence that the result was not biased by missing outcome data?"),
        ("4.3", "Were outcome assessors aware of the intervention received by study participants?"),
    ],
)
def test_question_wording_matches_guidance(qid, text):
    domain = DOMAIN_BY_ID["D" + qid[0]]
    assert domain.question(qid).text == text


@pytest.mark.parametrize(
    ("qid", "prefix"),
    [
        ("2.3", "If Y/PY/NI to 2.1 or 2.2"),
        ("2.4", "If Y/PY to 2.3"),
        ("2.5", "If Y/PY/NI to 2.4"),
        ("2.7", "If N/PN/NI to 2.6"),
        ("3.2", "If N/PN/NI to 3.1"),
        ("3.3", "If N/PN to 3.2"),
        ("3.4", "If Y/PY/NI to 3.3"),
        ("4.3", "If N/PN/NI to 4.1 and 4.2"),
        ("4.4", "If Y/PY/NI to 4.3"),
        ("4.5", "If Y/PY/NI to 4.4"),
    ],
)
def test_conditional_questions_carry_the_guidance_prefix_and_allow_na(qid, prefix):
    q = DOMAIN_BY_ID["D" + qid[0]].question(qid)
    assert q.condition is not None and q.condition.text == prefix
    assert q.label.startswith(f"{qid} {prefix}: ")
    assert "NA" in q.allowed_answers and "NA" not in q.options


def test_unconditional_questions_do_not_allow_na():
    for d in DOMAINS:
        for q in d.questions:
            if q.condition is None:
                assert q.allowed_answers == ("Y", "PY", "PN", "N", "NI")


def test_question_3_2_has_no_no_information_option():
    assert DOMAIN_BY_ID["D3"].question("3.2").allowed_answers == ("Y", "PY", "PN", "N", "NA")


def test_answer_vocabulary():
    assert ANSWERS == ("Y", "PY", "PN", "N", "NI", "NA")
    assert ANSWER_LABELS["PY"] == "Probably yes" and ANSWER_LABELS["NA"] == "Not applicable"


# --- questions_for ----------------------------------------------------------


def test_2_3_applies_only_when_someone_was_aware():
    assert ids(questions_for("D2", {})) == ["2.1", "2.2", "2.6"]
    assert ids(questions_for("D2", {"2.1": "N", "2.2": "PN"})) == ["2.1", "2.2", "2.6"]
    for aware in ("Y", "PY", "NI"):
        assert "2.3" in ids(questions_for("D2", {"2.1": "N", "2.2": aware}))
        assert "2.3" in ids(questions_for("D2", {"2.1": aware, "2.2": "N"}))


def test_domain2_chain_grows_with_answers():
    base = {"2.1": "Y", "2.2": "Y"}
    assert ids(questions_for("D2", {**base, "2.3": "NI"})) == ["2.1", "2.2", "2.3", "2.6"]
    assert "2.4" in ids(questions_for("D2", {**base, "2.3": "PY"}))
    assert "2.5" not in ids(questions_for("D2", {**base, "2.3": "Y", "2.4": "PN"}))
    assert "2.5" in ids(questions_for("D2", {**base, "2.3": "Y", "2.4": "NI"}))
    assert "2.7" in ids(questions_for("D2", {**base, "2.6": "NI"}))
    assert "2.7" not in ids(questions_for("D2", {**base, "2.6": "PY"}))


def test_4_3_needs_both_4_1_and_4_2_to_be_no_or_no_information():
    assert "4.3" in ids(questions_for("D4", {"4.1": "NI", "4.2": "PN"}))
    assert "4.3" not in ids(questions_for("D4", {"4.1": "N", "4.2": "Y"}))
    assert "4.3" not in ids(questions_for("D4", {"4.1": "PY", "4.2": "N"}))
    assert "4.3" not in ids(questions_for("D4", {"4.1": "N"}))  # 4.2 not answered yet


def test_questions_for_missing_data_chain():
    assert ids(questions_for("D3", {"3.1": "Y"})) == ["3.1"]
    assert ids(questions_for("D3", {"3.1": "N", "3.2": "N", "3.3": "NI"})) == [
        "3.1",
        "3.2",
        "3.3",
        "3.4",
    ]


def test_stale_answer_to_a_question_that_no_longer_applies_is_ignored():
    # 2.3-2.5 answered, then the assessor changes 2.1/2.2 to "not aware".
    answers = {"2.1": "N", "2.2": "N", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "Y"}
    assert "2.4" not in ids(questions_for("D2", answers))
    proposal = propose_domain("D2", answers)
    assert proposal.judgement == "low"
    assert effective_answers("D2", answers) == {
        "2.1": "N",
        "2.2": "N",
        "2.3": "NA",
        "2.4": "NA",
        "2.5": "NA",
        "2.6": "Y",
        "2.7": "NA",
    }


# --- invalid input ---------------------------------------------------------------


def test_unknown_domain():
    with pytest.raises(Rob2Error, match="D6"):
        propose_domain("D6", {})
    with pytest.raises(Rob2Error, match="D0"):
        questions_for("D0", {})


def test_unknown_question_is_named():
    with pytest.raises(Rob2Error, match=r"'1\.4'"):
        propose_domain("D1", {"1.1": "Y", "1.2": "Y", "1.3": "N", "1.4": "Y"})
    with pytest.raises(Rob2Error, match=r"'2\.1'"):
        questions_for("D1", {"2.1": "Y"})


def test_invalid_answer_code_is_named():
    with pytest.raises(Rob2Error, match=r"1\.2.*'maybe'"):
        propose_domain("D1", {"1.1": "Y", "1.2": "maybe", "1.3": "N"})
    with pytest.raises(Rob2Error, match=r"1\.1.*'yes'"):
        questions_for("D1", {"1.1": "yes"})


def test_missing_required_answer_is_named():
    with pytest.raises(Rob2Error, match=r"1\.3 .*needs an answer"):
        propose_domain("D1", {"1.1": "Y", "1.2": "Y"})
    with pytest.raises(Rob2Error, match=r"2\.3 If Y/PY/NI to 2\.1 or 2\.2.*needs an answer"):
        propose_domain("D2", {"2.1": "Y", "2.2": "N", "2.6": "Y"})
    with pytest.raises(Rob2Error, match=r"2\.1 .*needs an answer"):
        propose_domain("D2", {"2.1": "", "2.2": "N", "2.6": "Y"})


def test_na_is_refused_where_the_question_applies():
    with pytest.raises(Rob2Error, match=r"2\.3: 'NA' is not allowed"):
        propose_domain("D2", {"2.1": "Y", "2.2": "Y", "2.3": "NA", "2.6": "Y"})
    with pytest.raises(Rob2Error, match=r"1\.1: 'NA' is not allowed"):
        propose_domain("D1", {"1.1": "NA", "1.2": "Y", "1.3": "N"})


def test_no_information_is_refused_for_3_2():
    with pytest.raises(Rob2Error, match=r"3\.2: 'NI' is not allowed"):
        propose_domain("D3", {"3.1": "N", "3.2": "NI"})


def test_rob2_error_is_a_value_error():
    assert issubclass(Rob2Error, ValueError)
