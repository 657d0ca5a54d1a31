"""Stopping aid for title/abstract screening: the tool suggests, the lead decides.

Two signals are shown on the screening overview:

* the number of consecutive excludes since the last include (a run of several hundred
  in a relevance-ordered queue is the classic heuristic stopping rule);
* an estimate of the includes still among the unscreened records, with its method named.
  The estimator of the prioritisation core is used when it offers one; otherwise the
  inclusion rate of the most recent ``window`` resolved records is extrapolated to the
  records left. With a relevance-ordered queue the inclusion rate falls as screening
  proceeds, so that extrapolation errs on the side of too many remaining includes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .selectors import Curve

WINDOW = 100


@dataclass(frozen=True)
class StoppingAid:
    screened: int
    remaining_records: int
    found: int
    consecutive_excludes: int
    estimated_remaining: float | None
    method: str

    @property
    def estimated_total(self) -> float | None:
        if self.estimated_remaining is None:
            return None
        return self.found + self.estimated_remaining

    @property
    def estimated_recall(self) -> float | None:
        total = self.estimated_total
        return None if not total else 100.0 * self.found / total


def _core_estimate(labels: tuple[int, ...], remaining: int) -> tuple[float, str] | None:
    try:
        from .prioritisation import stopping as core_stopping  # type: ignore[attr-defined]
    except ImportError:
        return None
    estimate = getattr(core_stopping, "estimate_remaining", None)
    if estimate is None:
        return None
    result = estimate(list(labels), remaining)
    value = getattr(result, "remaining", result)
    method = getattr(result, "method", "prioritisation core estimator")
    return float(value), str(method)


def stopping_aid(curve: Curve, window: int = WINDOW) -> StoppingAid:
    remaining = max(curve.total - curve.screened, 0)
    estimate: float | None = None
    method = ""
    core = _core_estimate(curve.labels, remaining) if curve.labels else None
    if core is not None:
        estimate, method = core
    elif curve.labels:
        recent = curve.labels[-window:]
        rate = sum(recent) / len(recent)
        estimate = rate * remaining
        method = (
            f"inclusion rate of the last {len(recent)} resolved records "
            f"({100 * rate:.1f} %) × {remaining:,} records not yet resolved"
        )
    return StoppingAid(
        screened=curve.screened,
        remaining_records=remaining,
        found=curve.found,
        consecutive_excludes=curve.consecutive_excludes,
        estimated_remaining=estimate,
        method=method,
    )
