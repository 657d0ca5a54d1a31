"""Domain errors of the prioritisation core."""

from __future__ import annotations


class PrioritisationError(ValueError):
    """Bad input to the ranking, simulation or stopping code (the message names the problem)."""
