"""Domain errors of the statistics engine (all are ``ValueError`` subclasses)."""

from __future__ import annotations


class StatsInputError(ValueError):
    """Input that the statistics engine cannot analyse (too few studies, bad variances...)."""


class EffectSizeError(StatsInputError):
    """An impossible or missing value when computing a study's effect size.

    Parameters
    ----------
    study
        Label (or 1-based position) of the offending study, ``None`` if unknown.
    field
        Name of the offending input field (e.g. ``"sd1"``).
    message
        Human-readable description of the problem.
    """

    def __init__(self, study: object, field: str, message: str) -> None:
        self.study = study
        self.field = field
        self.message = message
        where = f"study {study}" if study is not None else "input"
        super().__init__(f"{where}, field '{field}': {message}")


class ConvergenceError(StatsInputError):
    """An iterative estimator (Fisher scoring, root finding, trim-and-fill) did not converge."""
