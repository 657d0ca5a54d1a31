"""RevMan's "Data and analyses" CSV is not a list of references: recognise and refuse it.

RevMan 5 exports its analyses as a CSV whose rows are comparisons, outcomes, subgroups and
study results ("Comparison Number, Outcome Number, Subgroup Number, Name, Data Type,
Statistical Method, Effect Measure, ... Group Label 1, Group Label 2 ..."). Read as
records, each row's "Name" became a title: comparisons and outcome names as references.
The review's own file (``.rm5``) holds the same data in full, and the "Other tools" page
imports it as studies with their outcome data.
"""

from __future__ import annotations

from .records import ImportFormatError

_SIGNATURES = (
    {"comparison number", "outcome number"},
    {"data type", "effect measure", "group label 1", "group label 2"},
)

MESSAGE = (
    "This is RevMan's “Data and analyses” export, not a list of references: its rows are "
    "comparisons, outcomes and study results. To bring a RevMan review in, import its "
    "RevMan file (.rm5) on the “Other tools” page (“A RevMan 5 review”): its studies "
    "become studies with their outcome data."
)


def refuse_revman_analyses(headers: list[str]) -> None:
    """Raise ImportFormatError, pointing to the RevMan import, for RevMan's analyses CSV."""
    names = {h.strip().casefold() for h in headers}
    if any(signature <= names for signature in _SIGNATURES):
        raise ImportFormatError(MESSAGE)
