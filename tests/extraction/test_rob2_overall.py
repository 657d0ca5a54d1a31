"""Overall RoB 2 judgement (guidance Table 1) and assessor overrides."""

from __future__ import annotations

import dataclasses

import pytest

from extraction.rob.algorithm import (
    Proposal,
    Rob2Error,
    apply_override,
    propose_domain,
    propose_overall,
)


def judgements(**overrides):
    base = {"D1": "low", "D2": "low", "D3": "low", "D4": "low", "D5": "low"}
    base.update({k.upper(): v for k, v in overrides.items()})
    return base


@pytest.mark.parametrize(
    ("domains", "expected", "rule_id", "needs_confirmation"),
    [
        pytest.param(judgements(), "low", "overall.low", False, id="all low: low"),
        pytest.param(
            judgements(d3="some_concerns"),
            "some_concerns",
            "overall.some_concerns",
            False,
            id="one some concerns",
        ),
        pytest.param(
            judgements(d1="some_concerns", d4="some_concerns"),
            "some_concerns",
            "overall.some_concerns_multiple",
            True,
            id="two some concerns: assessor confirms",
        ),
        pytest.param(
            dict.fromkeys(("D1", "D2", "D3", "D4", "D5"), "some_concerns"),
            "some_concerns",
            "overall.some_concerns_multiple",
            True,
            id="all some concerns",
        ),
        pytest.param(judgements(d5="high"), "high", "overall.high", False, id="one high: high"),
        pytest.param(
            judgements(d2="high", d3="some_concerns", d4="some_concerns"),
            "high",
            "overall.high",
            False,
            id="high beats some concerns",
        ),
    ],
)
def test_overall(domains, expected, rule_id, needs_confirmation):
    proposal = propose_overall(domains)
    assert proposal.judgement == expected
    assert proposal.rule_id == rule_id
    assert proposal.needs_confirmation is needs_confirmation


def test_overall_explanations_name_the_domains():
    assert "D5" in propose_overall(judgements(d5="high")).explanation
    multiple = propose_overall(judgements(d1="some_concerns", d4="some_concerns"))
    assert "D1, D4" in multiple.explanation and "raise to high" in multiple.explanation


def test_overall_rejects_missing_unknown_and_invalid_domains():
    partial = judgements()
    del partial["D4"]
    with pytest.raises(Rob2Error, match="D4"):
        propose_overall(partial)
    with pytest.raises(Rob2Error, match="D6"):
        propose_overall({**judgements(), "D6": "low"})
    with pytest.raises(Rob2Error, match=r"D2.*'no_information'"):
        propose_overall(judgements(d2="no_information"))
    with pytest.raises(Rob2Error, match=r"D1.*'Low'"):
        propose_overall(judgements(d1="Low"))


def test_from_answers_to_overall():
    d1 = propose_domain("D1", {"1.1": "Y", "1.2": "Y", "1.3": "N"})
    d2 = propose_domain("D2", {"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "Y"})
    d3 = propose_domain("D3", {"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "PN"})
    d4 = propose_domain("D4", {"4.1": "N", "4.2": "N", "4.3": "N"})
    d5 = propose_domain("D5", {"5.1": "Y", "5.2": "N", "5.3": "N"})
    overall = propose_overall(
        {
            "D1": d1.judgement,
            "D2": d2.judgement,
            "D3": d3.judgement,
            "D4": d4.judgement,
            "D5": d5.judgement,
        }
    )
    assert overall.judgement == "some_concerns" and overall.needs_confirmation


# --- overrides -------------------------------------------------------------------


def test_override_requires_a_justification():
    proposal = propose_domain("D1", {"1.1": "Y", "1.2": "NI", "1.3": "N"})
    for empty in ("", "   ", "\n"):
        with pytest.raises(Rob2Error, match="justification"):
            apply_override(proposal, "low", empty)


def test_override_records_the_algorithm_judgement():
    proposal = propose_domain("D1", {"1.1": "Y", "1.2": "NI", "1.3": "N"})
    final = apply_override(proposal, "low", " Trial unit confirmed central allocation by email. ")
    assert final.judgement == "low"
    assert final.overridden is True
    assert final.algorithm_judgement == "some_concerns"
    assert final.justification == "Trial unit confirmed central allocation by email."
    assert final.rule_id == proposal.rule_id
    assert proposal.judgement == "some_concerns"  # frozen: the proposal itself is unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        proposal.judgement = "high"  # type: ignore[misc]


def test_confirming_multiple_some_concerns_clears_the_flag_or_raises_to_high():
    proposal = propose_overall(judgements(d1="some_concerns", d3="some_concerns"))
    kept = apply_override(proposal, "some_concerns", "Concerns are minor and independent.")
    assert kept.needs_confirmation is False and kept.overridden is False
    raised = apply_override(proposal, "high", "Together they substantially lower confidence.")
    assert (
        raised.judgement == "high"
        and raised.overridden
        and raised.algorithm_judgement == "some_concerns"
    )


def test_second_override_keeps_the_original_algorithm_judgement():
    first = apply_override(Proposal("low", "D3.R1", "x"), "high", "reason one")
    second = apply_override(first, "low", "reason two")
    assert second.algorithm_judgement == "low" and second.overridden is False


def test_override_rejects_unknown_judgements():
    proposal = propose_overall(judgements())
    with pytest.raises(Rob2Error, match="'no_information'"):
        apply_override(proposal, "no_information", "figures only")
    with pytest.raises(Rob2Error, match="'serious'"):
        apply_override(proposal, "serious", "not a RoB 2 level")
