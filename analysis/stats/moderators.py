"""Design matrices from moderators, as R's ``model.matrix(~ x + g)`` builds them for metafor.

A numeric moderator enters as one column; any other moderator is a factor whose levels
sort as R's ``factor()`` sorts them (the first level is the reference) and enters as one
dummy column per other level, named ``<moderator><level>`` as R names them. Models that
metafor would fit only after silently dropping columns (collinear moderators, a factor
with one level) or could not fit at all (k ≤ p) are refused here, in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import StatsInputError

INTERCEPT = "intrcpt"


def r_sort_key(level: str) -> tuple[str, str]:
    """Sort key approximating R's ``sort()`` of strings in an English locale.

    Case is ignored first ("b" sorts before "C"); on a tie the lower-case spelling
    comes first, as in ``en_US`` collation.
    """
    return (level.casefold(), level.swapcase())


@dataclass(frozen=True)
class Moderator:
    """One moderator as it enters the model: numeric, or a factor with sorted levels."""

    name: str
    kind: str  # "numeric" | "factor"
    levels: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    @property
    def reference(self) -> str | None:
        return self.levels[0] if self.kind == "factor" else None


def _is_number(x: object) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float | np.floating) and math.isnan(x)) or x == ""


def design_matrix(
    mods: Mapping[str, Sequence[object]],
    k: int,
    kinds: Mapping[str, str] | None = None,
    intercept: bool = True,
) -> tuple[np.ndarray, tuple[str, ...], tuple[Moderator, ...]]:
    """Build the model matrix for ``mods`` (name → one value per effect).

    ``kinds`` may force a moderator to ``"numeric"`` or ``"factor"``; otherwise a moderator
    whose values are all numbers is numeric and anything else is a factor. Raises
    :class:`StatsInputError` for missing values, a factor with one level, a constant
    numeric moderator, collinear columns and k ≤ number of coefficients.
    """
    kinds = dict(kinds or {})
    cols: list[np.ndarray] = [np.ones(k)] if intercept else []
    names: list[str] = [INTERCEPT] if intercept else []
    out: list[Moderator] = []
    for name, values in mods.items():
        vals = list(values)
        if len(vals) != k:
            raise StatsInputError(f"moderator '{name}' has {len(vals)} values for {k} effects")
        for i, x in enumerate(vals):
            if _missing(x):
                raise StatsInputError(
                    f"moderator '{name}' is missing for effect {i + 1}; "
                    "fill it in or leave that effect out"
                )
        kind = kinds.get(name) or ("numeric" if all(_is_number(x) for x in vals) else "factor")
        if kind == "numeric":
            try:
                col = np.asarray([float(x) for x in vals], dtype=float)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise StatsInputError(f"moderator '{name}' is not numeric") from None
            if not np.all(np.isfinite(col)):
                raise StatsInputError(f"moderator '{name}' has a value that is not finite")
            if intercept and np.ptp(col) == 0:
                raise StatsInputError(
                    f"moderator '{name}' has the same value for every effect, so its "
                    "effect cannot be estimated"
                )
            cols.append(col)
            names.append(name)
            out.append(Moderator(name, "numeric", columns=(name,)))
            continue
        labels = [str(x) for x in vals]
        levels = tuple(sorted(set(labels), key=r_sort_key))
        if len(levels) < 2:
            raise StatsInputError(
                f"moderator '{name}' has only one level ({levels[0]!r}), so its effect "
                "cannot be estimated"
            )
        dummies = levels[1:] if intercept or out else levels
        made = []
        for level in dummies:
            cols.append(np.asarray([1.0 if s == level else 0.0 for s in labels]))
            names.append(f"{name}{level}")
            made.append(f"{name}{level}")
        out.append(Moderator(name, "factor", levels, tuple(made)))
    if not cols:
        raise StatsInputError("the model has no coefficients")
    X = np.column_stack(cols)
    _check_full_rank(X, names)
    p = X.shape[1]
    if k <= p:
        raise StatsInputError(
            f"{p} coefficients cannot be estimated from {k} effects "
            f"(a model needs more effects than coefficients)"
        )
    return X, tuple(names), tuple(out)


def _check_full_rank(X: np.ndarray, names: Sequence[str]) -> None:
    """Refuse collinear columns, naming the first one that adds nothing (metafor drops it)."""
    scale = np.sqrt((X**2).sum(axis=0))
    Xs = X / np.where(scale > 0, scale, 1.0)
    for j in range(1, X.shape[1] + 1):
        if np.linalg.matrix_rank(Xs[:, :j], tol=1e-7 * max(1, j)) < j:
            raise StatsInputError(
                f"moderators are collinear: column '{names[j - 1]}' is a combination of "
                "the others; drop one of them"
            )
