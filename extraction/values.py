"""Validation of typed outcome numbers: one message per field, nothing saved on any error.

Used by the data-entry form and by the consensus page, so both refuse the same
input with the same words (an SD of −1, an N of 0, a p of 1.5, "12,5").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .models import Population
from .schema import NumberError, parse_number

ARM_ATTRS: tuple[str, ...] = ("mean", "sd", "se", "ci_low", "ci_high", "n", "events")
COMPARISON_ATTRS: tuple[str, ...] = (
    "t",
    "p",
    "p_direction",
    "n_intervention",
    "n_control",
    "effect",
    "effect_se",
    "effect_ci_low",
    "effect_ci_high",
)
ATTR_LABELS: dict[str, str] = {
    "mean": "Mean",
    "sd": "SD",
    "se": "SE",
    "ci_low": "95% CI lower",
    "ci_high": "95% CI upper",
    "n": "N analysed",
    "events": "Events",
    "t": "t statistic",
    "p": "p value",
    "p_direction": "Direction",
    "n_intervention": "N intervention",
    "n_control": "N control",
    "effect": "Reported SMD",
    "effect_se": "SE of SMD",
    "effect_ci_low": "SMD CI lower",
    "effect_ci_high": "SMD CI upper",
    "population": "Analysis population",
}
INTEGER_ATTRS = {"n", "events", "n_intervention", "n_control"}
POSITIVE_ATTRS = {"sd": "An SD", "se": "An SE", "effect_se": "An SE"}
POPULATIONS = {value for value, _ in Population.choices}


def _read(attr: str, raw: Any, errors: dict[str, str]) -> Any:
    if attr == "p_direction":
        if raw in (None, "", 0):
            return None
        if str(raw).strip() in ("1", "+1"):
            return 1
        if str(raw).strip() == "-1":
            return -1
        errors[attr] = "Choose whether the intervention mean is higher (+1) or lower (−1)."
        return None
    try:
        value = parse_number(raw, integer=attr in INTEGER_ATTRS)
    except NumberError as exc:
        errors[attr] = str(exc)
        return None
    if value is None:
        return None
    if attr in POSITIVE_ATTRS and value <= 0:
        errors[attr] = f"{POSITIVE_ATTRS[attr]} must be greater than 0."
    elif attr in ("n", "n_intervention", "n_control") and value < 1:
        errors[attr] = "N must be at least 1."
    elif attr == "events" and value < 0:
        errors[attr] = "Events cannot be negative."
    elif attr == "p" and not 0 < value < 1:
        errors[attr] = "A p value lies between 0 and 1."
    return value


def _ordered(values: dict, low: str, high: str, errors: dict[str, str]) -> None:
    if values.get(low) is not None and values.get(high) is not None and values[high] <= values[low]:
        errors[high] = "The upper limit must be greater than the lower limit."


def clean_arm(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values of one arm row -> (values, errors by attribute)."""
    errors: dict[str, str] = {}
    values = {attr: _read(attr, raw.get(attr), errors) for attr in ARM_ATTRS}
    _ordered(values, "ci_low", "ci_high", errors)
    if (
        values["events"] is not None
        and values["n"] is not None
        and "n" not in errors
        and values["events"] > values["n"]
    ):
        errors["events"] = "Events cannot exceed N."
    return values, errors


def clean_comparison(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed comparison-level values (and the analysis population) -> (values, errors)."""
    errors: dict[str, str] = {}
    values = {attr: _read(attr, raw.get(attr), errors) for attr in COMPARISON_ATTRS}
    _ordered(values, "effect_ci_low", "effect_ci_high", errors)
    population = (raw.get("population") or Population.UNCLEAR).strip()
    if population not in POPULATIONS:
        errors["population"] = "Choose ITT, completers or unclear."
    values["population"] = population
    return values, errors


def is_blank(values: Mapping[str, Any], attrs: tuple[str, ...]) -> bool:
    return all(values.get(a) is None for a in attrs)
