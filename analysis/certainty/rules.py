"""GRADE rules: a suggested rating per domain from an analysis' own numbers (no Django).

Each rule takes plain numbers (the pooled estimate on the analysis scale, its CI and
prediction interval, I² and its CI, Egger's test, trim-and-fill, per-study weights with
their RoB 2 consensus) and returns a :class:`Suggestion`: the rating, the rule that
produced it in words, and the numbers it used, so that a person can check it.

Ratios (OR, RR) arrive on the log scale, as the stats engine returns them; thresholds are
given and printed on the natural scale and compared on the log scale.

References
----------
Schünemann H, Brożek J, Guyatt G, Oxman A (eds). GRADE Handbook, 2013, section 5.
Guyatt GH et al. GRADE guidelines 5-8 (publication bias, imprecision, inconsistency,
indirectness). J Clin Epidemiol 2011;64:1277-1302.
Zeng L et al. GRADE guidance 34: update on rating imprecision using a minimally
contextualized approach. J Clin Epidemiol 2022;150:216-224.
Santesso N et al. GRADE guidelines 26: informative statements to communicate the findings
of systematic reviews of interventions. J Clin Epidemiol 2020;119:126-135.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------- vocabulary

NO_CONCERN, SERIOUS, VERY_SERIOUS = "no", "serious", "very_serious"
RATINGS: dict[str, str] = {
    NO_CONCERN: "No serious concern",
    SERIOUS: "Serious",
    VERY_SERIOUS: "Very serious",
}
LEVELS_DOWN = {NO_CONCERN: 0, SERIOUS: 1, VERY_SERIOUS: 2}

DOMAINS: dict[str, str] = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
}
UPGRADES: dict[str, str] = {
    "large_effect": "Large effect",
    "dose_response": "Dose-response gradient",
    "confounding": "Plausible confounding would reduce the effect",
}

HIGH, MODERATE, LOW, VERY_LOW = 4, 3, 2, 1
CERTAINTY: dict[int, tuple[str, str]] = {
    HIGH: ("High", "\u2295\u2295\u2295\u2295"),
    MODERATE: ("Moderate", "\u2295\u2295\u2295\u25ef"),
    LOW: ("Low", "\u2295\u2295\u25ef\u25ef"),
    VERY_LOW: ("Very low", "\u2295\u25ef\u25ef\u25ef"),
}
CERTAINTY_MEANING: dict[int, str] = {
    HIGH: "We are very confident that the true effect lies close to that of the estimate.",
    MODERATE: (
        "We are moderately confident in the effect estimate: the true effect is likely to be "
        "close to it, but there is a possibility that it is substantially different."
    ),
    LOW: (
        "Our confidence in the effect estimate is limited: the true effect may be "
        "substantially different from it."
    ),
    VERY_LOW: (
        "We have very little confidence in the effect estimate: the true effect is likely to "
        "be substantially different from it."
    ),
}

RATIOS = ("OR", "RR")
DICHOTOMOUS = ("OR", "RR", "RD")

# Thresholds of the rules (named so tests and the page print the same numbers)
ROB_SHARE = 50.0  # % of weight: "most of the information" (more than half)
I2_SUBSTANTIAL = 50.0  # Cochrane Handbook 10.10.2: 50-90% may be substantial
I2_CONSIDERABLE = 75.0  # 75-100% considerable
EGGER_ALPHA = 0.10  # Egger's test has low power: the conventional 10% level
PUBLICATION_MIN_K = 10  # Cochrane Handbook 13.3.5.4: tests need at least 10 studies
LARGE_RATIO, VERY_LARGE_RATIO = 2.0, 5.0  # GRADE 9: RR > 2 (< 0.5), > 5 (< 0.2)
Z_ALPHA, Z_BETA = 1.959963984540054, 0.8416212335729143  # two-sided 5%, power 80%
DEFAULT_RRR = 0.25  # optimal information size for dichotomous outcomes: 25% relative change

# Default decision thresholds (natural scale): the null and a minimal important difference
DEFAULT_MID: dict[str, float | None] = {"SMD": 0.2, "MD": None, "OR": 1.25, "RR": 1.25, "RD": None}


class RuleInputError(ValueError):
    """Numbers a rule cannot use (named in the message)."""


def null_of(measure: str) -> float:
    """The null on the natural scale: 1 for ratios, 0 otherwise."""
    return 1.0 if measure in RATIOS else 0.0


def to_analysis_scale(measure: str, value: float) -> float:
    if measure in RATIOS:
        if value <= 0:
            raise RuleInputError(f"a threshold for a ratio must be positive, not {value:g}")
        return math.log(value)
    return value


def to_natural(measure: str, value: float | None) -> float | None:
    if value is None or measure not in RATIOS:
        return value
    return math.exp(value)


def default_thresholds(measure: str) -> tuple[float, ...]:
    """The null and, where GRADE has a default, the MID either side (natural scale):
    SMD −0.2/0/0.2 and OR/RR 0.75/1/1.25 (GRADE's default relative risk reduction and
    increase of 25%); MD and RD the null only until the lead gives an MID."""
    null = null_of(measure)
    mid = DEFAULT_MID.get(measure)
    if mid is None:
        return (null,)
    if measure in RATIOS:
        return (2 * null - mid, null, mid)
    return (-mid, null, mid)


def fmt(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "NA"
    text = f"{x:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class StudyInput:
    """One study of the pooled analysis. ``weight`` in percent; ``rob`` its RoB 2
    consensus for this result ("low", "some_concerns", "high" or "" when none)."""

    label: str
    yi: float
    vi: float
    weight: float
    rob: str = ""
    randomised: bool = True
    n: float | None = None


@dataclass(frozen=True)
class Pooled:
    """A pooled estimate on the analysis scale (log for ratios)."""

    estimate: float
    ci_low: float
    ci_high: float
    k: int


@dataclass(frozen=True)
class Evidence:
    """Everything the rules read about one outcome analysis."""

    measure: str
    main: Pooled
    studies: tuple[StudyInput, ...]
    pi_low: float | None = None
    pi_high: float | None = None
    I2: float | None = None  # noqa: N815
    I2_low: float | None = None  # noqa: N815
    I2_high: float | None = None  # noqa: N815
    low_risk_only: Pooled | None = None  # the same model on the low-risk results only
    egger_p: float | None = None
    trimfill: Pooled | None = None  # after filling
    trimfill_k0: int | None = None
    control_risk: float | None = None  # dichotomous: assumed control risk (0-1)
    sd: float | None = None  # MD: the SD that turns the MID into an SMD for the OIS

    def __post_init__(self) -> None:
        if self.measure not in ("SMD", "MD", *DICHOTOMOUS):
            raise RuleInputError(f"unknown effect measure {self.measure!r}")
        if not self.studies:
            raise RuleInputError("an assessment needs at least one study")

    @property
    def total_n(self) -> float | None:
        ns = [s.n for s in self.studies]
        if any(n is None for n in ns):
            return None
        return float(sum(ns))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Suggestion:
    """A suggested rating: ``rating``, the rule in words (``rule``), the numbers it used
    (``numbers``, label → printed value) and a note (e.g. "not assessable")."""

    domain: str
    rating: str
    rule: str
    numbers: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def levels(self) -> int:
        return LEVELS_DOWN[self.rating]

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "rating": self.rating,
            "rule": self.rule,
            "numbers": dict(self.numbers),
            "note": self.note,
        }


# --------------------------------------------------------------------------- helpers


def side(measure: str, lo: float, hi: float) -> str:
    """Where a CI (analysis scale) lies relative to the null: "above", "below", "crosses"
    (a CI touching the null counts as crossing it: it does not exclude it)."""
    null = 0.0  # log(1) for ratios
    del measure
    if lo > null:
        return "above"
    if hi < null:
        return "below"
    return "crosses"


def crossed(lo: float, hi: float, thresholds: Sequence[float]) -> list[float]:
    """Thresholds (analysis scale) strictly inside the interval (a bound equal to a
    threshold does not cross it)."""
    return [t for t in thresholds if lo < t < hi]


def _shares(studies: Sequence[StudyInput]) -> dict[str, float]:
    total = sum(s.weight for s in studies)
    out = {"low": 0.0, "some_concerns": 0.0, "high": 0.0, "": 0.0}
    for s in studies:
        out[s.rob if s.rob in out else ""] += s.weight
    if total <= 0:
        raise RuleInputError("the studies' weights add up to zero")
    return {k: 100.0 * v / total for k, v in out.items()}


def _ci_text(measure: str, p: Pooled) -> str:
    return (
        f"{fmt(to_natural(measure, p.estimate))} "
        f"({fmt(to_natural(measure, p.ci_low))} to {fmt(to_natural(measure, p.ci_high))})"
    )


SIDE_WORDS = {
    "above": "above the null",
    "below": "below the null",
    "crosses": "includes the null",
}


# --------------------------------------------------------------------------- the domains


def risk_of_bias(ev: Evidence) -> Suggestion:
    """Share of the weight from results at high risk or with some concerns (RoB 2
    consensus; results without one count as some concerns), and whether pooling only the
    results at low risk changes the conclusion (the CI's side of the null).

    Very serious: more than 50% of the weight at high risk. Serious: more than 50% at high
    risk or some concerns together, or the conclusion changes without them. Otherwise no
    serious concern.
    """
    shares = _shares(ev.studies)
    at_risk = shares["high"] + shares["some_concerns"] + shares[""]
    numbers = {
        "weight at high risk": f"{shares['high']:.1f}%",
        "weight with some concerns": f"{shares['some_concerns']:.1f}%",
        "weight at low risk": f"{shares['low']:.1f}%",
    }
    if shares[""]:
        numbers["weight without a RoB 2 consensus (counted as some concerns)"] = (
            f"{shares['']:.1f}%"
        )
    main_side = side(ev.measure, ev.main.ci_low, ev.main.ci_high)
    changes: bool | None = None
    if at_risk == 0:
        note = "every result is at low risk of bias"
    elif ev.low_risk_only is None:
        note = "fewer than 2 results at low risk: the conclusion without the others is unknown"
    else:
        low_side = side(ev.measure, ev.low_risk_only.ci_low, ev.low_risk_only.ci_high)
        changes = low_side != main_side
        numbers["all results"] = _ci_text(ev.measure, ev.main)
        numbers[f"low risk only (k={ev.low_risk_only.k})"] = _ci_text(ev.measure, ev.low_risk_only)
        note = (
            f"without them the CI {SIDE_WORDS[low_side]} (all: {SIDE_WORDS[main_side]})"
            if changes
            else "leaving them out does not change the conclusion"
        )
    if shares["high"] > ROB_SHARE:
        rating, why = VERY_SERIOUS, f"more than {ROB_SHARE:g}% of the weight at high risk"
    elif at_risk > ROB_SHARE:
        rating, why = SERIOUS, f"more than {ROB_SHARE:g}% at high risk or with some concerns"
    elif changes:
        rating, why = SERIOUS, "leaving out the results at risk changes the conclusion"
    else:
        rating, why = (
            NO_CONCERN,
            (
                f"at most {ROB_SHARE:g}% of the weight at high risk or with some concerns, "
                "and the conclusion holds without them"
            ),
        )
    return Suggestion("risk_of_bias", rating, why, numbers, note)


def _non_overlapping_opposite(ev: Evidence) -> int:
    """Pairs of studies whose 95% CIs do not overlap and whose estimates lie on opposite
    sides of the null."""
    z = Z_ALPHA
    cis = [(s.yi, s.yi - z * math.sqrt(s.vi), s.yi + z * math.sqrt(s.vi)) for s in ev.studies]
    pairs = 0
    for i, (y1, lo1, hi1) in enumerate(cis):
        for y2, lo2, hi2 in cis[i + 1 :]:
            if (y1 > 0) != (y2 > 0) and y1 != 0 and y2 != 0 and (hi1 < lo2 or hi2 < lo1):
                pairs += 1
    return pairs


def inconsistency(ev: Evidence) -> Suggestion:
    """I² (with its CI), the prediction interval and the overlap of the study CIs.

    Signals: I² ≥ 50%; the prediction interval includes the null while the CI excludes
    it; at least one pair of studies with non-overlapping CIs on opposite sides of the
    null. Very serious: I² ≥ 75% with either of the other two signals. Serious: any
    signal. A single study: not assessable (no serious concern).
    """
    if ev.main.k < 2 or len(ev.studies) < 2:
        return Suggestion(
            "inconsistency", NO_CONCERN, "a single study", {}, "not assessable: one study"
        )
    i2 = ev.I2 if ev.I2 is not None else 0.0
    numbers = {"I²": f"{i2:.0f}%"}
    if ev.I2_low is not None and ev.I2_high is not None:
        numbers["I² 95% CI"] = f"{ev.I2_low:.0f}% to {ev.I2_high:.0f}%"
    ci_side = side(ev.measure, ev.main.ci_low, ev.main.ci_high)
    pi_crosses = False
    if ev.pi_low is not None and ev.pi_high is not None:
        numbers["95% prediction interval"] = (
            f"{fmt(to_natural(ev.measure, ev.pi_low))} to {fmt(to_natural(ev.measure, ev.pi_high))}"
        )
        pi_crosses = ci_side != "crosses" and side(ev.measure, ev.pi_low, ev.pi_high) == "crosses"
    pairs = _non_overlapping_opposite(ev)
    numbers["study pairs with non-overlapping CIs on opposite sides"] = str(pairs)
    signals = []
    if i2 >= I2_SUBSTANTIAL:
        signals.append(f"I² ≥ {I2_SUBSTANTIAL:g}%")
    if pi_crosses:
        signals.append("the prediction interval includes the null while the CI excludes it")
    if pairs:
        signals.append("studies with non-overlapping CIs on opposite sides of the null")
    if i2 >= I2_CONSIDERABLE and (pi_crosses or pairs):
        rating = VERY_SERIOUS
        why = f"I² ≥ {I2_CONSIDERABLE:g}% and " + "; ".join(signals[1:])
    elif signals:
        rating, why = SERIOUS, "; ".join(signals)
    else:
        rating = NO_CONCERN
        why = f"I² < {I2_SUBSTANTIAL:g}%, the prediction interval agrees with the CI, CIs overlap"
    return Suggestion("inconsistency", rating, why, numbers)


def optimal_information_size(ev: Evidence, thresholds: Sequence[float]) -> float | None:
    """Total participants a single adequately powered trial would need (α 5% two-sided,
    power 80%): for SMD (or MD with an SD) to detect the MID; for dichotomous outcomes a
    25% relative change from the control risk. None when it cannot be computed."""
    null = null_of(ev.measure)
    mids = [abs(t - null) for t in thresholds if t != null]
    if ev.measure in ("SMD", "MD"):
        if not mids:
            return None
        d = min(mids)
        if ev.measure == "MD":
            if not ev.sd:
                return None
            d = d / ev.sd
        return 2 * 2 * (Z_ALPHA + Z_BETA) ** 2 / d**2
    p0 = ev.control_risk
    if p0 is None or not 0 < p0 < 1:
        return None
    p1 = p0 * (1 - DEFAULT_RRR)
    per_arm = (Z_ALPHA + Z_BETA) ** 2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p0 - p1) ** 2
    return 2 * per_arm


def imprecision(ev: Evidence, thresholds: Sequence[float] | None = None) -> Suggestion:
    """The CI against the decision thresholds (natural scale; default the null and the
    MID either side), then the optimal information size (OIS).

    Serious: the CI crosses one threshold, or it crosses none but the total N is below
    the OIS. Very serious: the CI crosses two or more thresholds (e.g. appreciable benefit
    and no effect). A bound equal to a threshold does not cross it.
    """
    natural = tuple(sorted(thresholds if thresholds else default_thresholds(ev.measure)))
    scaled = [to_analysis_scale(ev.measure, t) for t in natural]
    hits = crossed(ev.main.ci_low, ev.main.ci_high, scaled)
    numbers = {
        "95% CI": f"{fmt(to_natural(ev.measure, ev.main.ci_low))} to "
        f"{fmt(to_natural(ev.measure, ev.main.ci_high))}",
        "thresholds": ", ".join(fmt(t) for t in natural),
        "thresholds crossed": str(len(hits)),
    }
    ois = optimal_information_size(ev, natural)
    n = ev.total_n
    if n is not None:
        numbers["participants"] = f"{n:.0f}"
    if ois is not None:
        numbers["optimal information size"] = f"{math.ceil(ois)}"
    crossed_text = ", ".join(fmt(to_natural(ev.measure, t)) for t in hits)
    if len(hits) >= 2:
        return Suggestion(
            "imprecision",
            VERY_SERIOUS,
            f"the CI crosses {len(hits)} thresholds ({crossed_text})",
            numbers,
        )
    if len(hits) == 1:
        return Suggestion(
            "imprecision", SERIOUS, f"the CI crosses the threshold {crossed_text}", numbers
        )
    if ois is not None and n is not None and n < ois:
        return Suggestion(
            "imprecision",
            SERIOUS,
            "the CI crosses no threshold but the participants are fewer than the optimal "
            "information size",
            numbers,
        )
    note = "" if ois is not None and n is not None else "optimal information size not computed"
    return Suggestion(
        "imprecision",
        NO_CONCERN,
        "the CI crosses no threshold"
        + (" and the participants reach the optimal information size" if not note else ""),
        numbers,
        note,
    )


def publication_bias(ev: Evidence) -> Suggestion:
    """Egger's test and trim-and-fill, with at least 10 studies.

    Fewer than 10 studies: not assessable (no serious concern, noted). Serious: Egger's
    p < 0.10 or trim-and-fill moves the CI to another side of the null. Very serious: both.
    """
    k = ev.main.k
    numbers = {"studies": str(k)}
    if ev.egger_p is not None:
        numbers["Egger's p"] = f"{ev.egger_p:.3f}"
    if ev.trimfill is not None:
        numbers[f"trim-and-fill ({ev.trimfill_k0 or 0} imputed)"] = _ci_text(
            ev.measure, ev.trimfill
        )
    if k < PUBLICATION_MIN_K:
        return Suggestion(
            "publication_bias",
            NO_CONCERN,
            f"fewer than {PUBLICATION_MIN_K} studies: tests for small-study effects lack power",
            numbers,
            "not assessable",
        )
    egger = ev.egger_p is not None and ev.egger_p < EGGER_ALPHA
    tf_changes = ev.trimfill is not None and side(
        ev.measure, ev.trimfill.ci_low, ev.trimfill.ci_high
    ) != side(ev.measure, ev.main.ci_low, ev.main.ci_high)
    if egger and tf_changes:
        rating = VERY_SERIOUS
        why = f"Egger's p < {EGGER_ALPHA:g} and trim-and-fill changes the conclusion"
    elif egger:
        rating, why = SERIOUS, f"Egger's p < {EGGER_ALPHA:g}"
    elif tf_changes:
        rating, why = SERIOUS, "trim-and-fill changes the conclusion"
    else:
        rating = NO_CONCERN
        why = f"Egger's p ≥ {EGGER_ALPHA:g} and trim-and-fill keeps the conclusion"
    note = "" if ev.egger_p is not None else "Egger's test not computed"
    return Suggestion("publication_bias", rating, why, numbers, note)


def indirectness(ev: Evidence) -> Suggestion:
    """No rule: population, intervention, comparator and outcome are the lead's judgement."""
    del ev
    return Suggestion(
        "indirectness",
        NO_CONCERN,
        "no rule: the lead judges population, intervention, comparator and outcome",
        {},
        "lead's judgement",
    )


def large_effect(ev: Evidence) -> int:
    """Suggested upgrade for a large effect (ratios only): RR/OR > 2 or < 0.5 with the CI
    on that side of the null: 1; > 5 or < 0.2: 2."""
    if ev.measure not in RATIOS:
        return 0
    est = abs(ev.main.estimate)
    if side(ev.measure, ev.main.ci_low, ev.main.ci_high) == "crosses":
        return 0
    if est > math.log(VERY_LARGE_RATIO):
        return 2
    if est > math.log(LARGE_RATIO):
        return 1
    return 0


def suggest(ev: Evidence, thresholds: Sequence[float] | None = None) -> dict[str, Suggestion]:
    """Every domain's suggestion, in GRADE's order."""
    out = {
        "risk_of_bias": risk_of_bias(ev),
        "inconsistency": inconsistency(ev),
        "indirectness": indirectness(ev),
        "imprecision": imprecision(ev, thresholds),
        "publication_bias": publication_bias(ev),
    }
    assert list(out) == list(DOMAINS)
    return out


# --------------------------------------------------------------------------- certainty


def starting_level(designs: Sequence[bool | None]) -> tuple[int, str]:
    """High when the studies are randomised, low when none is; mixed evidence starts high
    (the non-randomised studies are then weighed under risk of bias)."""
    randomised = [d for d in designs if d is not None]
    if randomised and not any(randomised):
        return LOW, "non-randomised studies start at low"
    if randomised and not all(randomised):
        return HIGH, "randomised and non-randomised studies: starts at high"
    return HIGH, "randomised trials start at high"


def certainty(start: int, downgrades: Sequence[int], upgrades: Sequence[int] = ()) -> int:
    """Start minus the levels rated down plus (non-randomised evidence only) the levels
    rated up, within very low .. high. Upgrades never apply to evidence that starts high."""
    if start not in CERTAINTY:
        raise RuleInputError(f"unknown starting level {start!r}")
    if any(d not in (0, 1, 2) for d in downgrades) or any(u not in (0, 1, 2) for u in upgrades):
        raise RuleInputError("a domain rates down or up by 0, 1 or 2 levels")
    up = sum(upgrades) if start < HIGH else 0
    return max(VERY_LOW, min(HIGH, start - sum(downgrades) + up))


def certainty_label(level: int) -> str:
    name, symbols = CERTAINTY[level]
    return f"{symbols} {name}"


def in_sentence(name: str) -> str:
    """An outcome's name inside a sentence: "Clinical recovery" -> "clinical recovery",
    while a first word that is not plain lower case after its capital ("HbA1c", "BDI-II",
    "QoL") is kept as written."""
    first, _, rest = name.partition(" ")
    if first[1:] == first[1:].lower() and first[:1].isupper():
        first = first[:1].lower() + first[1:]
    return f"{first} {rest}" if rest else first


def statement(
    level: int,
    *,
    measure: str,
    estimate: float,
    intervention: str,
    outcome: str,
    thresholds: Sequence[float] | None = None,
) -> str:
    """GRADE's informative statement (Santesso 2020): the verb carries the certainty
    ("reduces", "probably reduces", "may reduce", "very uncertain"), the size is whether
    the point estimate passes the MID (else "little to no difference")."""
    if level == VERY_LOW:
        return f"The evidence is very uncertain about the effect of {intervention} on {outcome}."
    natural = tuple(thresholds if thresholds else default_thresholds(measure))
    null = null_of(measure)
    est = to_natural(measure, estimate)
    assert est is not None
    above = [t for t in natural if t > null]
    below = [t for t in natural if t < null]
    small_up = est > null and bool(above) and est < min(above)
    small_down = est < null and bool(below) and est > max(below)
    size = "none" if est == null or small_up or small_down else "up" if est > null else "down"
    if measure == "SMD":  # g > 0 favours the intervention (extraction aligns the sign)
        verbs = {"up": ("improves", "improve"), "down": ("worsens", "worsen")}
    else:
        verbs = {"up": ("increases", "increase"), "down": ("reduces", "reduce")}
    if size == "none":
        phrase = {
            HIGH: "results in little to no difference in",
            MODERATE: "probably results in little to no difference in",
            LOW: "may result in little to no difference in",
        }[level]
    else:
        third, base = verbs[size]
        phrase = {HIGH: third, MODERATE: f"probably {third}", LOW: f"may {base}"}[level]
    return f"{intervention[:1].upper()}{intervention[1:]} {phrase} {outcome}."
