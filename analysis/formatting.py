"""Numbers as journals print them in meta-analysis tables (e.g. Smit et al. 2023, Table 1).

g to two decimals with a typographic minus, "0.19 (0.11–0.27)" when both CI limits are
non-negative and "0.19 (−0.20 to 0.58)" otherwise (a dash next to a minus is ambiguous);
I² as an integer percent; p as "<0.001", three decimals below 0.01, else two.
"""

from __future__ import annotations

import math

MINUS = "\u2212"
EN_DASH = "\u2013"
NA = "NA"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def fmt_num(x: float | None, digits: int = 2) -> str:
    """Fixed decimals with a typographic minus; never "−0.00"."""
    if not _finite(x):
        return NA
    text = f"{x:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def fmt_range(lo: float | None, hi: float | None, digits: int = 2) -> str:
    """ "0.11–0.27", or "−0.20 to 0.58" when a limit is negative."""
    if not (_finite(lo) and _finite(hi)):
        return NA
    a, b = fmt_num(lo, digits), fmt_num(hi, digits)
    sep = " to " if (a.startswith(MINUS) or b.startswith(MINUS)) else EN_DASH
    return f"{a}{sep}{b}"


def fmt_estimate_ci(
    est: float | None, lo: float | None, hi: float | None, measure: str = "SMD"
) -> str:
    """ "0.19 (0.11–0.27)"; ratios (OR, RR: log scale in the analysis) as "0.78 (0.64–0.95)"."""
    if not _finite(est):
        return NA
    if measure in ("OR", "RR"):
        est, lo, hi = (math.exp(x) if _finite(x) else x for x in (est, lo, hi))
    return f"{fmt_num(est)} ({fmt_range(lo, hi)})"


def fmt_i2(i2: float | None, lo: float | None = None, hi: float | None = None) -> str:
    """ "10 (0–44)": integer percent, CI in brackets when known."""
    if not _finite(i2):
        return NA
    text = str(round(i2))
    if _finite(lo) and _finite(hi):
        text += f" ({round(lo)}{EN_DASH}{round(hi)})"
    return text


def fmt_p(p: float | None) -> str:
    """ "<0.001", "0.003", "0.27"."""
    if not _finite(p):
        return NA
    if p < 0.001:
        return "<0.001"
    if p < 0.01:
        return f"{p:.3f}"
    text = f"{p:.2f}"
    # 0.995 and above would print as "1.00"; journals print that as such
    return text


def fmt_p_text(p: float | None) -> str:
    """For running text: "p < 0.001" or "p = 0.27"."""
    if not _finite(p):
        return "p not estimable"
    value = fmt_p(p)
    return f"p {value[0]} {value[1:]}" if value.startswith("<") else f"p = {value}"
