"""From one outcome's numbers at one timepoint to Hedges' g, saying every step taken.

The statistics come from the engine (`analysis.stats`); this module only decides
which data to use (arm-level means, events, or comparison-level statistics), applies
the review's rule for several arms, aligns the direction so that a positive g
favours the intervention, and writes down each conversion with its numbers so the
user sees what was done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# The engine's functions are looked up when a block is computed: ``analysis.stats`` loads
# them (and scipy.stats, ~57 MB) on first use, and this module is imported at start-up.
import analysis.stats as engine
from analysis.stats import EffectSizeError

from .models import ArmRole, Direction, MultiArmRule

# Why a study × outcome × timepoint gives no effect size; analysis lists these.
MISSING_REASONS: dict[str, str] = {
    "no_consensus": "no consensus extraction yet",
    "no_outcome": "outcome not reported",
    "no_data": "no data at this timepoint",
    "one_arm": "only one arm has data",
    "missing_sd": "missing SD (and no SE or CI)",
    "missing_n": "missing N analysed",
    "missing_mean": "missing mean",
    "invalid": "data cannot give an effect size",
}


@dataclass(frozen=True)
class ArmInput:
    arm_id: int
    name: str
    role: str
    mean: float | None = None
    sd: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: float | None = None
    events: float | None = None

    @property
    def is_empty(self) -> bool:
        return all(
            v is None
            for v in (self.mean, self.sd, self.se, self.ci_low, self.ci_high, self.n, self.events)
        )


@dataclass(frozen=True)
class BlockInput:
    """Everything entered for one outcome at one timepoint (one extraction)."""

    arms: tuple[ArmInput, ...]
    direction: str = Direction.HIGHER
    multi_arm_rule: str = MultiArmRule.COMBINE
    t: float | None = None
    p: float | None = None
    p_direction: int | None = None
    n_intervention: float | None = None
    n_control: float | None = None
    effect: float | None = None
    effect_se: float | None = None
    effect_ci_low: float | None = None
    effect_ci_high: float | None = None

    @property
    def has_comparison_data(self) -> bool:
        return any(
            v is not None
            for v in (
                self.t,
                self.p,
                self.effect,
                self.effect_se,
                self.effect_ci_low,
                self.effect_ci_high,
            )
        )


@dataclass(frozen=True)
class Estimate:
    """Hedges' g (positive favours the intervention) and its sampling variance."""

    comparison: str
    yi: float
    vi: float
    n_intervention: float | None
    n_control: float | None
    method: str
    steps: tuple[str, ...] = ()
    # The arm-level data behind the estimate (after combining or splitting arms), kept raw
    # so an analysis can pool another measure: events per arm (intervention, control) for
    # OR/RR/RD, and (mean, SD) per arm (intervention, then control) for a mean difference.
    events: tuple[float, float] | None = None
    means: tuple[float, float, float, float] | None = None

    @property
    def se(self) -> float:
        return math.sqrt(self.vi)

    @property
    def ci(self) -> tuple[float, float]:
        return self.yi - 1.959964 * self.se, self.yi + 1.959964 * self.se


@dataclass(frozen=True)
class BlockResult:
    estimates: tuple[Estimate, ...] = ()
    missing: str | None = None
    detail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        return MISSING_REASONS.get(self.missing or "", "")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True)
class _Group:
    name: str
    mean: float
    sd: float
    n: float


def _arm_group(arm: ArmInput, steps: list[str]) -> _Group | str:
    """A usable (mean, SD, N) for an arm, or the reason code it is not usable."""
    if arm.mean is None:
        return "missing_mean"
    if arm.n is None:
        return "missing_n"
    if arm.sd is not None:
        return _Group(arm.name, arm.mean, arm.sd, arm.n)
    if arm.se is not None:
        sd = float(engine.sd_from_se([arm.se], [arm.n])[0])
        steps.append(
            f"SD of {arm.name} from its SE: SD = SE × √N = {_fmt(arm.se)} × √{_fmt(arm.n)} = {_fmt(sd)}"
        )
        return _Group(arm.name, arm.mean, sd, arm.n)
    if arm.ci_low is not None and arm.ci_high is not None:
        sd = float(engine.sd_from_ci([arm.ci_low], [arm.ci_high], [arm.n])[0])
        steps.append(
            f"SD of {arm.name} from its 95% CI: SD = √N × (upper − lower) / (2 × t[0.975, N−1]) "
            f"= √{_fmt(arm.n)} × ({_fmt(arm.ci_high)} − {_fmt(arm.ci_low)}) / "
            f"(2 × {_fmt(_t975(arm.n))}) = {_fmt(sd)}"
        )
        return _Group(arm.name, arm.mean, sd, arm.n)
    return "missing_sd"


def _t975(n: float) -> float:
    from scipy import stats

    return float(stats.t.isf(0.025, n - 1))


def _combine(groups: list[_Group], what: str, steps: list[str]) -> _Group:
    merged = groups[0]
    for other in groups[1:]:
        n, m, sd = engine.combine_groups(
            merged.n, merged.mean, merged.sd, other.n, other.mean, other.sd
        )
        name = f"{merged.name} + {other.name}"
        steps.append(
            f"{what} arms {merged.name} (N={_fmt(merged.n)}, M={_fmt(merged.mean)}, "
            f"SD={_fmt(merged.sd)}) and {other.name} (N={_fmt(other.n)}, M={_fmt(other.mean)}, "
            f"SD={_fmt(other.sd)}) combined (Cochrane Handbook Table 6.5.a): "
            f"N = {_fmt(n)}, M = {_fmt(m)}, SD = √{{[(N₁−1)SD₁² + (N₂−1)SD₂² + N₁N₂/N (M₁−M₂)²]"
            f" / (N−1)}} = {_fmt(sd)}"
        )
        merged = _Group(name, m, sd, n)
    return merged


def _align(g: float, direction: str, steps: list[str]) -> float:
    if direction == Direction.LOWER:
        steps.append(
            "Lower scores are better on this outcome: sign reversed so g > 0 favours the intervention"
        )
        return -g
    return g


def compute_block(block: BlockInput) -> BlockResult:
    """Hedges' g for one outcome at one timepoint, or why it cannot be computed."""
    try:
        return _compute(block)
    except EffectSizeError as exc:
        return BlockResult(missing="invalid", detail=exc.message)


def _compute(block: BlockInput) -> BlockResult:
    interventions = [a for a in block.arms if a.role == ArmRole.INTERVENTION and not a.is_empty]
    controls = [a for a in block.arms if a.role == ArmRole.CONTROL and not a.is_empty]
    if not interventions and not controls and not block.has_comparison_data:
        return BlockResult(missing="no_data")

    continuous = [a for a in interventions + controls if a.mean is not None]
    binary = [a for a in interventions + controls if a.events is not None]
    arm_reason: str | None = None
    detail = ""
    if interventions and controls:
        if continuous:
            result = _from_means(block, interventions, controls)
        elif binary:
            result = _from_events(block, interventions, controls)
        else:
            result = BlockResult(missing="missing_mean", detail="no means or events entered")
        if result.estimates:
            return result
        arm_reason, detail = result.missing, result.detail
    elif interventions or controls:
        present = "intervention" if interventions else "control"
        arm_reason, detail = "one_arm", f"only {present} arm data entered"

    if block.has_comparison_data:
        result = _from_comparison(block)
        if result.estimates or arm_reason is None:
            return result
    return BlockResult(missing=arm_reason, detail=detail)


def _from_means(block: BlockInput, interventions, controls) -> BlockResult:
    steps: list[str] = []
    groups: dict[str, list[_Group]] = {ArmRole.INTERVENTION: [], ArmRole.CONTROL: []}
    for arm in interventions + controls:
        group = _arm_group(arm, steps)
        if isinstance(group, str):
            return BlockResult(missing=group, detail=f"arm “{arm.name}”: {MISSING_REASONS[group]}")
        groups[arm.role].append(group)
    control = _combine(groups[ArmRole.CONTROL], "Control", steps)
    treated = groups[ArmRole.INTERVENTION]
    if len(treated) > 1 and block.multi_arm_rule == MultiArmRule.SPLIT:
        k = len(treated)
        n_split = control.n / k
        steps.append(
            f"Shared control {control.name} (N={_fmt(control.n)}) split across {k} comparisons: "
            f"N = {_fmt(n_split)} each, mean and SD unchanged (Cochrane Handbook 23.3.4)"
        )
        estimates = []
        for arm in treated:
            own = list(steps)
            g, v = engine.hedges_g(arm.mean, arm.sd, arm.n, control.mean, control.sd, n_split)
            g = _align(g, block.direction, own)
            estimates.append(
                Estimate(
                    f"{arm.name} vs {control.name}",
                    g,
                    v,
                    arm.n,
                    n_split,
                    "means and SDs",
                    tuple(own),
                    means=(arm.mean, arm.sd, control.mean, control.sd),
                )
            )
        return BlockResult(estimates=tuple(estimates))
    intervention = _combine(treated, "Intervention", steps)
    g, v = engine.hedges_g(
        intervention.mean, intervention.sd, intervention.n, control.mean, control.sd, control.n
    )
    g = _align(g, block.direction, steps)
    return BlockResult(
        estimates=(
            Estimate(
                f"{intervention.name} vs {control.name}",
                g,
                v,
                intervention.n,
                control.n,
                "means and SDs",
                tuple(steps),
                means=(intervention.mean, intervention.sd, control.mean, control.sd),
            ),
        )
    )


def _from_events(block: BlockInput, interventions, controls) -> BlockResult:
    steps: list[str] = []
    totals = {}
    for role, arms in ((ArmRole.INTERVENTION, interventions), (ArmRole.CONTROL, controls)):
        if any(a.events is None or a.n is None for a in arms):
            bad = next(a for a in arms if a.events is None or a.n is None)
            code = "missing_n" if bad.n is None else "no_data"
            return BlockResult(missing=code, detail=f"arm “{bad.name}”: events and N both needed")
        events, n = sum(a.events for a in arms), sum(a.n for a in arms)
        if len(arms) > 1:
            steps.append(f"{role.label} arms pooled: {_fmt(events)} events of {_fmt(n)}")
        totals[role] = (events, n)
    (a, n1), (c, n2) = totals[ArmRole.INTERVENTION], totals[ArmRole.CONTROL]
    lor = engine.escalc_or([a], [n1 - a], [c], [n2 - c])
    es = engine.logor_to_smd(lor.yi, lor.vi)
    steps.append(
        f"Log odds ratio {_fmt(float(lor.yi[0]))} (events {_fmt(a)}/{_fmt(n1)} vs {_fmt(c)}/{_fmt(n2)}) "
        "converted to an SMD: d = ln(OR) × √3 / π (Chinn 2000)"
    )
    g = _align(float(es.yi[0]), block.direction, steps)
    return BlockResult(
        estimates=(
            Estimate(
                "Intervention vs control",
                g,
                float(es.vi[0]),
                n1,
                n2,
                "events",
                tuple(steps),
                events=(a, c),
            ),
        )
    )


def _from_comparison(block: BlockInput) -> BlockResult:
    steps: list[str] = []
    n1, n2 = block.n_intervention, block.n_control
    if block.effect is not None:
        if block.effect_se is not None:
            se = block.effect_se
            method = "reported SMD and SE"
        elif block.effect_ci_low is not None and block.effect_ci_high is not None:
            se = float(engine.se_from_ci([block.effect_ci_low], [block.effect_ci_high])[0])
            steps.append(
                f"SE from the 95% CI: SE = (upper − lower) / (2 × 1.96) = "
                f"({_fmt(block.effect_ci_high)} − {_fmt(block.effect_ci_low)}) / 3.92 = {_fmt(se)}"
            )
            method = "reported SMD and CI"
        else:
            return BlockResult(missing="invalid", detail="a reported SMD needs its SE or 95% CI")
        g = _align(block.effect, block.direction, steps)
        return BlockResult(
            estimates=(Estimate("Intervention vs control", g, se**2, n1, n2, method, tuple(steps)),)
        )
    if n1 is None or n2 is None:
        return BlockResult(missing="missing_n", detail="a t or p value needs both group sizes")
    if block.t is not None:
        es = engine.smd_from_t([block.t], [n1], [n2])
        steps.append(f"g from t = {_fmt(block.t)}: d = t × √(1/N₁ + 1/N₂), small-sample corrected")
        method = "t statistic"
    elif block.p is not None:
        if block.p_direction is None:
            return BlockResult(
                missing="invalid", detail="a p value needs the direction of the difference"
            )
        es = engine.smd_from_p([block.p], [block.p_direction], [n1], [n2])
        steps.append(
            f"t recovered from the two-sided p = {_fmt(block.p)} with {_fmt(n1 + n2 - 2)} df, "
            "then d = t × √(1/N₁ + 1/N₂), small-sample corrected"
        )
        method = "p value"
    else:
        return BlockResult(missing="invalid", detail="comparison statistics are incomplete")
    g = _align(float(es.yi[0]), block.direction, steps)
    return BlockResult(
        estimates=(
            Estimate("Intervention vs control", g, float(es.vi[0]), n1, n2, method, tuple(steps)),
        )
    )
