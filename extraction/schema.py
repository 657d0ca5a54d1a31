"""Extraction form templates as structured data: validation, the default template, answers.

A template is ``{"sections": [{"title": str, "fields": [field, ...]}, ...]}`` where a
field is ``{"key", "label", "type", "help", "required"}`` plus ``"choices"`` (choice
types) and optional ``"min"``/``"max"`` (numeric types). Keys identify a field
across versions, so answers saved under an older version stay readable.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from reviews.errors import DomainError

FIELD_TYPES: dict[str, str] = {
    "text": "Short text",
    "long_text": "Long text",
    "number": "Number",
    "integer": "Whole number",
    "yes_no": "Yes / no",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "date": "Date",
}
CHOICE_TYPES = {"single_choice", "multiple_choice"}
NUMERIC_TYPES = {"number", "integer"}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_FIELDS = 300


class TemplateError(DomainError):
    """A template that cannot be saved; the message names the section/field at fault."""


class AnswerError(DomainError):
    """An answer that does not fit its field; ``field`` is the field key."""


class NumberError(ValueError):
    """A number typed in a form that cannot be read (e.g. a comma decimal)."""


def parse_number(raw: Any, *, integer: bool = False) -> float | int | None:
    """Read a number typed by a person: '' is None; '1,5' is refused with a clear message."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise NumberError("Enter a number.")
    if isinstance(raw, int | float):
        value = raw
    else:
        text = str(raw).strip().replace("\u2212", "-")
        if not text:
            return None
        if re.fullmatch(r"-?\d+,\d+", text):
            raise NumberError(
                f"Use a point as the decimal separator: {text.replace(',', '.')}, not {text}."
            )
        try:
            value = float(text)
        except ValueError:
            raise NumberError(f"“{text}” is not a number.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise NumberError("Enter a finite number.")
    if integer:
        if float(value) != int(value):
            raise NumberError("Enter a whole number.")
        return int(value)
    return float(value)


# --- validation ----------------------------------------------------------------------


def _text(value: Any, what: str, *, max_length: int = 200, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise TemplateError(f"{what} must be text.")
    value = value.strip()
    if required and not value:
        raise TemplateError(f"{what} is empty.")
    if len(value) > max_length:
        raise TemplateError(f"{what} is longer than {max_length} characters.")
    return value


def validate_template(schema: Any) -> dict:
    """Return a cleaned copy of `schema`, or raise TemplateError naming the problem."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("sections"), list):
        raise TemplateError("A template is an object with a list of sections.")
    if not schema["sections"]:
        raise TemplateError("Add at least one section.")
    seen: set[str] = set()
    sections = []
    n_fields = 0
    for s_index, section in enumerate(schema["sections"], start=1):
        if not isinstance(section, Mapping):
            raise TemplateError(f"Section {s_index} is not an object.")
        title = _text(section.get("title"), f"The title of section {s_index}")
        fields_in = section.get("fields")
        if not isinstance(fields_in, list) or not fields_in:
            raise TemplateError(f"Section “{title}” has no fields.")
        fields = []
        for f_index, field in enumerate(fields_in, start=1):
            fields.append(_validate_field(field, f"Field {f_index} of “{title}”", seen))
        n_fields += len(fields)
        sections.append({"title": title, "fields": fields})
    if n_fields > MAX_FIELDS:
        raise TemplateError(f"A template may have at most {MAX_FIELDS} fields.")
    return {"sections": sections}


def _validate_field(field: Any, where: str, seen: set[str]) -> dict:
    if not isinstance(field, Mapping):
        raise TemplateError(f"{where} is not an object.")
    label = _text(field.get("label"), f"The label of {where.lower()}")
    where = f"Field “{label}”"
    key = field.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise TemplateError(
            f"{where}: the key must start with a letter and use only a-z, 0-9 and _ "
            "(at most 50 characters)."
        )
    if key in seen:
        raise TemplateError(f"{where}: the key “{key}” is used twice.")
    seen.add(key)
    ftype = field.get("type")
    if ftype not in FIELD_TYPES:
        raise TemplateError(f"{where}: unknown type “{ftype}”.")
    clean: dict[str, Any] = {
        "key": key,
        "label": label,
        "type": ftype,
        "help": _text(
            field.get("help", ""), f"{where}: the help text", max_length=1000, required=False
        ),
        "required": bool(field.get("required", False)),
    }
    if ftype in CHOICE_TYPES:
        choices = field.get("choices")
        if not isinstance(choices, list):
            raise TemplateError(f"{where}: a choice field needs a list of choices.")
        cleaned = [_text(c, f"{where}: a choice", max_length=200) for c in choices]
        if len(cleaned) < 2:
            raise TemplateError(f"{where}: give at least two choices.")
        if len({c.casefold() for c in cleaned}) != len(cleaned):
            raise TemplateError(f"{where}: the choices must differ.")
        clean["choices"] = cleaned
    elif field.get("choices"):
        raise TemplateError(f"{where}: only choice fields have choices.")
    if ftype in NUMERIC_TYPES:
        for bound in ("min", "max"):
            if field.get(bound) not in (None, ""):
                try:
                    clean[bound] = parse_number(field[bound], integer=ftype == "integer")
                except NumberError as exc:
                    raise TemplateError(f"{where}: {bound}: {exc}") from None
        if "min" in clean and "max" in clean and clean["min"] > clean["max"]:
            raise TemplateError(f"{where}: the minimum exceeds the maximum.")
    return clean


# --- answers ---------------------------------------------------------------------------


def clean_answer(field: Mapping[str, Any], raw: Any) -> Any:
    """Turn a raw answer (form or JSON) into the stored value; raise AnswerError if it does not fit.

    Empty answers are None (or [] for multiple choice). `required` is not
    checked here: a draft may be incomplete; see :func:`missing_required`.
    """
    ftype, key = field["type"], field["key"]
    try:
        if ftype in ("text", "long_text"):
            return (str(raw).strip() if raw is not None else "") or None
        if ftype in NUMERIC_TYPES:
            value = parse_number(raw, integer=ftype == "integer")
            if value is None:
                return None
            if field.get("min") is not None and value < field["min"]:
                raise AnswerError(f"Must be at least {field['min']:g}.", field=key)
            if field.get("max") is not None and value > field["max"]:
                raise AnswerError(f"Must be at most {field['max']:g}.", field=key)
            return value
        if ftype == "yes_no":
            if raw in (None, "", "unknown"):
                return None
            if raw in (True, "yes", "True", "true", "1"):
                return True
            if raw in (False, "no", "False", "false", "0"):
                return False
            raise AnswerError("Answer yes or no.", field=key)
        if ftype == "single_choice":
            if raw in (None, ""):
                return None
            if raw not in field["choices"]:
                raise AnswerError(f"“{raw}” is not one of the choices.", field=key)
            return raw
        if ftype == "multiple_choice":
            values = [raw] if isinstance(raw, str) else list(raw or [])
            values = [v for v in values if v != ""]
            bad = [v for v in values if v not in field["choices"]]
            if bad:
                raise AnswerError(f"“{bad[0]}” is not one of the choices.", field=key)
            return [c for c in field["choices"] if c in values]
        if ftype == "date":
            if raw in (None, ""):
                return None
            if isinstance(raw, dt.date):
                return raw.isoformat()
            try:
                return dt.date.fromisoformat(str(raw).strip()).isoformat()
            except ValueError:
                raise AnswerError("Enter a date as YYYY-MM-DD.", field=key) from None
    except NumberError as exc:
        raise AnswerError(str(exc), field=key) from None
    raise AnswerError(f"Unknown field type “{ftype}”.", field=key)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def missing_required(schema: Mapping[str, Any], answers: Mapping[str, Any]) -> list[dict]:
    """The required fields without an answer."""
    return [
        field
        for section in schema["sections"]
        for field in section["fields"]
        if field["required"] and is_empty(answers.get(field["key"]))
    ]


def display_value(field: Mapping[str, Any] | None, value: Any) -> str:
    """An answer as people read it (also for answers to fields no longer in the form)."""
    if is_empty(value):
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- the default template --------------------------------------------------------------


def field_spec(
    key: str, label: str, ftype: str, help: str = "", required: bool = False, **extra
) -> dict:
    """One field of a form template, as the templates below and the demo's form write them."""
    return {"key": key, "label": label, "type": ftype, "help": help, "required": required} | extra


_f = field_spec


DEFAULT_TEMPLATE: dict = {
    "sections": [
        {
            "title": "Study and participants",
            "fields": [
                _f("country", "Country", "text", "Where the trial took place."),
                _f("setting", "Setting / context", "text", "e.g. community mental health team."),
                _f(
                    "recruitment",
                    "Recruitment",
                    "long_text",
                    "How and where participants were recruited.",
                ),
                _f(
                    "diagnosis",
                    "Diagnosis / population",
                    "single_choice",
                    "The population's main diagnosis.",
                    True,
                    choices=[
                        "Serious mental illness (SMI)",
                        "Depression",
                        "Anxiety",
                        "Mixed",
                        "Other",
                    ],
                ),
                _f("mean_age", "Mean age (years)", "number", min=0, max=120),
                _f("percent_female", "% female", "number", min=0, max=100),
            ],
        },
        {
            "title": "Intervention",
            "fields": [
                _f("intervention_name", "Intervention name", "text", "", True),
                _f(
                    "format",
                    "Format",
                    "single_choice",
                    "",
                    True,
                    choices=["Group", "One-to-one", "Mixed"],
                ),
                _f(
                    "delivery",
                    "Delivery",
                    "single_choice",
                    "",
                    True,
                    choices=["Face-to-face", "Telephone", "Internet", "Mixed"],
                ),
                _f("sessions", "Number of sessions", "integer", min=0),
                _f("duration_weeks", "Duration (weeks)", "number", min=0),
                _f(
                    "training",
                    "Peer supporter training",
                    "long_text",
                    "Training and supervision the peer supporters received.",
                ),
            ],
        },
        {
            "title": "Comparator",
            "fields": [
                _f(
                    "comparator_type",
                    "Comparator type",
                    "single_choice",
                    "",
                    True,
                    choices=["Care as usual", "Waiting list", "Active control", "Inactive control"],
                ),
                _f("comparator_description", "Comparator description", "long_text"),
            ],
        },
        {
            "title": "Other",
            "fields": [
                _f("funding", "Funding", "text", "Funding sources and conflicts of interest."),
                _f("notes", "Notes", "long_text"),
            ],
        },
    ]
}

DEFAULT_DOMAINS: list[tuple[str, list[str]]] = [
    ("Clinical recovery", ["Depressive symptoms", "Psychiatric symptoms", "Anxiety symptoms"]),
    ("Personal recovery", ["Empowerment", "Hope", "Recovery assessment scale", "Self-efficacy"]),
    ("Functional recovery", ["Quality of life", "Social support", "Loneliness", "Functioning"]),
]
