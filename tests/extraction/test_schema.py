"""Form templates as data: validation on save, answers per field type, the default template."""

from __future__ import annotations

import copy

import pytest

from extraction.schema import (
    DEFAULT_TEMPLATE,
    AnswerError,
    NumberError,
    TemplateError,
    clean_answer,
    missing_required,
    parse_number,
    validate_template,
)


def _template(**field) -> dict:
    base = {"key": "k", "label": "A field", "type": "text"}
    return {"sections": [{"title": "S", "fields": [base | field]}]}


def test_default_template_is_valid_and_has_the_peer_support_fields():
    clean = validate_template(DEFAULT_TEMPLATE)
    keys = [f["key"] for s in clean["sections"] for f in s["fields"]]
    for key in (
        "country",
        "setting",
        "recruitment",
        "diagnosis",
        "mean_age",
        "percent_female",
        "intervention_name",
        "format",
        "delivery",
        "sessions",
        "duration_weeks",
        "training",
        "comparator_type",
        "funding",
        "notes",
    ):
        assert key in keys
    fmt = next(f for s in clean["sections"] for f in s["fields"] if f["key"] == "format")
    assert fmt["choices"] == ["Group", "One-to-one", "Mixed"]


@pytest.mark.parametrize(
    "schema, words",
    [
        ({}, "list of sections"),
        ({"sections": []}, "at least one section"),
        ({"sections": [{"title": "", "fields": []}]}, "title of section 1"),
        ({"sections": [{"title": "S", "fields": []}]}, "has no fields"),
        (_template(key="Bad Key"), "key must start with a letter"),
        (_template(type="slider"), "unknown type"),
        (_template(type="single_choice"), "needs a list of choices"),
        (_template(type="single_choice", choices=["only"]), "at least two choices"),
        (_template(type="multiple_choice", choices=["a", "A"]), "must differ"),
        (_template(type="number", min="5", max="1"), "minimum exceeds the maximum"),
        (_template(type="text", choices=["a", "b"]), "only choice fields"),
        (_template(label=""), "label of field 1"),
    ],
)
def test_invalid_templates_are_refused_with_a_message(schema, words):
    with pytest.raises(TemplateError) as exc:
        validate_template(schema)
    assert words in exc.value.message


def test_duplicate_keys_across_sections_are_refused():
    schema = copy.deepcopy(DEFAULT_TEMPLATE)
    schema["sections"][1]["fields"][0]["key"] = "country"
    with pytest.raises(TemplateError, match="used twice"):
        validate_template(schema)


def test_validation_drops_unknown_properties_and_trims_text():
    clean = validate_template(_template(label="  Mean age  ", _fresh=True, type="integer", min="0"))
    field = clean["sections"][0]["fields"][0]
    assert field == {
        "key": "k",
        "label": "Mean age",
        "type": "integer",
        "help": "",
        "required": False,
        "min": 0,
    }


@pytest.mark.parametrize(
    "raw, expected",
    [("12.5", 12.5), (" -3 ", -3.0), ("1e2", 100.0), ("", None), (None, None), ("\u22122", -2.0)],
)
def test_parse_number_reads_what_people_type(raw, expected):
    assert parse_number(raw) == expected


def test_a_comma_decimal_gets_a_message_naming_the_point():
    with pytest.raises(NumberError) as exc:
        parse_number("12,5")
    assert "12.5" in str(exc.value) and "decimal separator" in str(exc.value)


@pytest.mark.parametrize("raw", ["abc", "1.2.3", "nan", "inf"])
def test_parse_number_refuses_non_numbers(raw):
    with pytest.raises(NumberError):
        parse_number(raw)


def test_integer_fields_refuse_fractions():
    with pytest.raises(NumberError, match="whole number"):
        parse_number("2.5", integer=True)


@pytest.mark.parametrize(
    "field, raw, expected",
    [
        ({"type": "text"}, "  Utrecht ", "Utrecht"),
        ({"type": "long_text"}, "", None),
        ({"type": "number"}, "41.5", 41.5),
        ({"type": "integer"}, "12", 12),
        ({"type": "yes_no"}, "yes", True),
        ({"type": "yes_no"}, "no", False),
        ({"type": "yes_no"}, "", None),
        ({"type": "single_choice", "choices": ["A", "B"]}, "B", "B"),
        ({"type": "multiple_choice", "choices": ["A", "B", "C"]}, ["C", "A"], ["A", "C"]),
        ({"type": "date"}, "2023-02-01", "2023-02-01"),
    ],
)
def test_answers_are_cleaned_per_type(field, raw, expected):
    assert clean_answer({"key": "k", **field}, raw) == expected


@pytest.mark.parametrize(
    "field, raw, words",
    [
        ({"type": "number", "min": 0, "max": 100}, "101", "at most 100"),
        ({"type": "number", "min": 0}, "-1", "at least 0"),
        ({"type": "number"}, "3,5", "decimal separator"),
        ({"type": "single_choice", "choices": ["A", "B"]}, "Z", "not one of the choices"),
        ({"type": "multiple_choice", "choices": ["A"]}, ["A", "Q"], "not one of the choices"),
        ({"type": "date"}, "01/02/2023", "YYYY-MM-DD"),
        ({"type": "yes_no"}, "perhaps", "yes or no"),
    ],
)
def test_bad_answers_raise_with_the_field_key(field, raw, words):
    with pytest.raises(AnswerError) as exc:
        clean_answer({"key": "k", **field}, raw)
    assert words in exc.value.message and exc.value.field == "k"


def test_missing_required_lists_empty_required_fields():
    schema = validate_template(DEFAULT_TEMPLATE)
    missing = {
        f["key"] for f in missing_required(schema, {"diagnosis": "Depression", "format": []})
    }
    assert missing == {"intervention_name", "format", "delivery", "comparator_type"}
