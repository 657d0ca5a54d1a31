"""Inter-rater agreement: Cohen's kappa and percent agreement (pure Python, no Django).

References
----------
Cohen J. A coefficient of agreement for nominal scales. Educational and Psychological
Measurement 1960;20(1):37-46. doi:10.1177/001316446002000104
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class AgreementError(ValueError):
    """Raised for a contingency table that is not square or holds negative counts."""


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa of one contingency table (rows: rater 1, columns: rater 2).

    ``kappa`` is ``None`` when it is undefined: no ratings, or chance agreement of 1
    (both raters used one and the same category for every item).
    """

    table: tuple[tuple[int, ...], ...]
    n: int
    observed: float | None  # p_o, percent agreement as a proportion
    expected: float | None  # p_e, agreement expected by chance
    kappa: float | None

    @property
    def percent_agreement(self) -> float | None:
        return None if self.observed is None else 100.0 * self.observed

    @property
    def agreements(self) -> int:
        return sum(self.table[i][i] for i in range(len(self.table)))


def cohen_kappa(table: Sequence[Sequence[int]]) -> Kappa:
    """Cohen's (unweighted) kappa of a k x k table of counts.

    kappa = (p_o - p_e) / (1 - p_e), where p_o is the proportion of items on the diagonal
    and p_e = sum_i (row_i / n)(col_i / n) the agreement expected from the marginals
    (Cohen 1960, eq. 1).

    Parameters
    ----------
    table
        Square table of non-negative integer counts; ``table[i][j]`` is the number of items
        rater 1 put in category i and rater 2 in category j.

    Returns
    -------
    Kappa
        With ``kappa=None`` when it is undefined (n = 0 or p_e = 1).

    References
    ----------
    Cohen J (1960). Educational and Psychological Measurement 20(1):37-46.
    """
    k = len(table)
    if k == 0 or any(len(row) != k for row in table):
        raise AgreementError("the agreement table must be square (k rows of k counts)")
    cells = tuple(tuple(row) for row in table)
    for row in cells:
        for value in row:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AgreementError(f"counts must be non-negative integers, got {value!r}")
    n = sum(sum(row) for row in cells)
    if n == 0:
        return Kappa(cells, 0, None, None, None)
    observed = sum(cells[i][i] for i in range(k)) / n
    rows = [sum(cells[i]) / n for i in range(k)]
    cols = [sum(cells[i][j] for i in range(k)) / n for j in range(k)]
    expected = sum(r * c for r, c in zip(rows, cols, strict=True))
    if abs(1.0 - expected) < 1e-12:
        return Kappa(cells, n, observed, expected, None)
    return Kappa(cells, n, observed, expected, (observed - expected) / (1.0 - expected))


def kappa_from_pairs(pairs: Sequence[tuple[str, str]], categories: Sequence[str]) -> Kappa:
    """Kappa of paired ratings ``(rater1, rater2)`` over the given ordered categories."""
    index = {c: i for i, c in enumerate(categories)}
    table = [[0] * len(categories) for _ in categories]
    for a, b in pairs:
        if a not in index or b not in index:
            raise AgreementError(f"rating {a if a not in index else b!r} is not a category")
        table[index[a]][index[b]] += 1
    return cohen_kappa(table)


def kappa_label(kappa: float | None) -> str:
    """Verbal label of Landis & Koch (1977), Biometrics 33:159-174."""
    if kappa is None:
        return "undefined"
    if kappa < 0:
        return "poor"
    for bound, label in ((0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial")):
        if kappa <= bound:
            return label
    return "almost perfect"
