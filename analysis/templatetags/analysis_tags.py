"""Template filters of the analysis pages."""

from __future__ import annotations

from typing import Any

from django import template

from ..data import ROB_LEVELS
from ..formatting import fmt_estimate_ci

register = template.Library()

Z975 = 1.959963984540054


@register.filter
def effect_ci(effect: Any, measure: str = "SMD") -> str:
    """A study's effect with its 95% CI, journal-formatted (ratios back-transformed)."""
    half = Z975 * effect.se
    return fmt_estimate_ci(effect.yi, effect.yi - half, effect.yi + half, measure)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def rob_label(value: str) -> str:
    return ROB_LEVELS.get(value, value)
