"""Helpers for comparing the statistics engine with metafor fixtures (no Django, no R)."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

CASES_DIR = Path(__file__).resolve().parent / "reference" / "cases"
RTOL = 1e-6
ATOL = 1e-8


def case_names() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.json") if p.stem != "escalc")


@cache
def load_case(name: str) -> dict:
    return json.loads((CASES_DIR / f"{name}.json").read_text())


def assert_close(got, expected, where: str = "") -> None:
    """Compare numbers (None = R's NA/NaN/inf), strings and lists at rtol 1e-6 / atol 1e-8."""
    if isinstance(expected, list):
        assert isinstance(got, list | tuple), f"{where}: expected a list, got {got!r}"
        assert len(got) == len(expected), f"{where}: length {len(got)} != {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_close(g, e, f"{where}[{i}]")
        return
    if expected is None:
        assert got is None or (isinstance(got, float) and not math.isfinite(got)), (
            f"{where}: {got!r} != NA"
        )
        return
    if isinstance(expected, str):
        assert got == expected, f"{where}: {got!r} != {expected!r}"
        return
    assert got is not None, f"{where}: got None, metafor gives {expected!r}"
    assert math.isclose(float(got), float(expected), rel_tol=RTOL, abs_tol=ATOL), (
        f"{where}: {got!r} != metafor {expected!r}"
    )


def as_list(value) -> list:
    """jsonlite writes length-1 vectors as scalars and empty ones as {} or null: normalise."""
    if value is None or value == {}:
        return []
    return value if isinstance(value, list) else [value]
