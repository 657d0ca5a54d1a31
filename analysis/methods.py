"""An automatically written methods-and-results paragraph authors can paste."""

from __future__ import annotations

import math

from .figures import TAU2_NAMES
from .formatting import fmt_i2, fmt_num, fmt_p_text, fmt_range
from .measures import LABELS, RATIOS, SHORT
from .modelling import model_sentences
from .report import Report, Row


def _ci(row_or_numbers) -> str:
    n = row_or_numbers
    return f"95% CI {fmt_range(n.ci_low, n.ci_high)}"


def _g(n, measure: str = "SMD") -> str:
    if measure in RATIOS:
        return (
            f"{SHORT[measure]} = {fmt_num(math.exp(n.estimate))} "
            f"(95% CI {fmt_range(math.exp(n.ci_low), math.exp(n.ci_high))}; {fmt_p_text(n.p)})"
        )
    return f"{SHORT[measure]} = {fmt_num(n.estimate)} ({_ci(n)}; {fmt_p_text(n.p)})"


def _what(measure: str) -> str:
    if measure == "SMD":
        return "Hedges' g"
    what = LABELS[measure].lower() + "s"
    return what + " (on the log scale)" if measure in RATIOS else what


def _direction(measure: str) -> str:
    if measure == "SMD":
        return "positive values favour the intervention"
    if measure in RATIOS:
        return (
            "ratios compare the risk of the event with the intervention to control; 1/2 was "
            "added to every cell of a study with a zero cell"
        )
    if measure == "RD":
        return "differences are intervention minus control risk"
    return "differences are intervention minus control, on the instrument's scale"


def _heterogeneity_method(pooling: str) -> str:
    if pooling == "IV":
        return (
            "Heterogeneity is reported as I² with its Q-profile 95% CI, together with the "
            "95% prediction interval (PI)."
        )
    # rma.mh / rma.peto: a common-effect model, Q from the studies' escalc estimates
    return (
        "Heterogeneity is reported as Cochran's Q and I² (studies without events in either "
        "arm do not contribute to Q); a common-effect model has no prediction interval."
    )


def _studies(k: int) -> str:
    return f"{k} {'study' if k == 1 else 'studies'}"


def methods_paragraph(report: Report) -> str:
    """Methods then results, in the style of a meta-analysis paper's text."""
    inp, s = report.input, report.settings
    scope = f"{_lower_first(inp.title)} ({_lower_first(inp.main.label)})"
    parts: list[str] = []
    # Methods
    if s.pooling == "MH":
        model = "A common-effect Mantel–Haenszel model"
    elif s.pooling == "PETO":
        model = "A common-effect Peto model"
    elif s.method == "FE":
        model = "A common-effect (inverse-variance) model"
    else:
        model = f"A random-effects model ({TAU2_NAMES[s.method]} estimator of τ²"
        model += ", Hartung–Knapp–Sidik–Jonkman adjustment)" if s.hartung_knapp else ")"
    rule = (
        "Where a study reported several outcomes, the preferred instrument was used"
        if s.multiple_outcomes == "preferred"
        else "Where a study reported several outcomes, their effect sizes were averaged "
        "(assuming a correlation of 1)"
    )
    parts.append(
        f"{model} pooled {_what(s.measure)} for {scope}; {_direction(s.measure)}. "
        f"{rule}, and the earliest assessment within the timepoint window was taken. "
        f"{_heterogeneity_method(s.pooling)} Analyses with fewer than {s.min_studies} "
        f"studies were not pooled."
    )
    if inp.subgroup_vars:
        names = ", ".join(v.label.lower() for v in inp.subgroup_vars)
        parts.append(
            f"Subgroups ({names}) were compared with a mixed-effects model (test for subgroup "
            f"differences, Q-between) when at least {s.min_per_subgroup} studies were "
            f"available per subgroup."
        )
    if inp.show_small_study or inp.show_outliers:
        bits = []
        if inp.show_small_study:
            bits.append(
                "small-study effects with Egger's test and Duval and Tweedie's "
                "trim-and-fill procedure"
            )
        if inp.show_outliers:
            bits.append(
                "the influence of outliers (studies whose 95% CI did not overlap "
                "the CI of the pooled effect)"
            )
        if inp.show_rob:
            bits.append("the influence of risk of bias (RoB 2)")
        parts.append(
            "We examined "
            + ", ".join(bits[:-1])
            + (" and " if len(bits) > 1 else "")
            + bits[-1]
            + "."
        )

    # Results
    rows = {r.key: r for r in report.rows()}
    main = rows["all"]
    if main.numbers is None:
        parts.append(
            f"Only {_studies(main.k)} had data, too few to pool (minimum {s.min_studies})."
            if main.k
            else "No study has consensus data for this analysis yet."
        )
        return " ".join(parts)
    n = main.numbers
    parts.append(
        f"The pooled effect across {_studies(n.k)} was {_g(n, s.measure)}, with I² = "
        + (
            f"{fmt_i2(n.I2)}% ({_i2ci(n)}) and a 95% PI of {fmt_range(n.pi_low, n.pi_high)}."
            if s.pooling == "IV"
            else f"{fmt_i2(n.I2)}% (Q = {fmt_num(n.Q)}, df = {n.Q_df}, {fmt_p_text(n.Q_p)})."
        )
    )
    for block in report.blocks:
        if not block.title.startswith("Subgroups:"):
            continue
        head, levels = block.rows[0], block.rows[1:]
        pooled = [r for r in levels if r.numbers is not None]
        if pooled:
            text = "; ".join(
                f"{r.label}: {_studies(r.k)}, {_g(r.numbers, s.measure)}" for r in pooled
            )
            diff = (
                f"; test for subgroup differences {fmt_p_text(head.p_between)}"
                if head.p_between is not None
                else ""
            )
            parts.append(f"By {head.label.lower()}: {text}{diff}.")
    specific = [r for r in report.rows() if r.key.startswith("outcome:") and r.numbers]
    if specific:
        parts.append(
            "Specific outcomes: "
            + "; ".join(
                f"{r.label.lower()} ({_studies(r.k)}) {_g(r.numbers, s.measure)}" for r in specific
            )
            + "."
        )
    if report.egger is not None:
        parts.append(f"Egger's test {fmt_p_text(report.egger.p)}.")
    tf = rows.get("trimfill")
    if tf is not None and tf.numbers is not None:
        if report.trimfill_k0:
            parts.append(
                f"Trim-and-fill imputed {_studies(report.trimfill_k0)} (k = {tf.k}); the adjusted "
                f"effect was {_g(tf.numbers, s.measure)}."
            )
        else:
            parts.append("Trim-and-fill imputed no study.")
    out = rows.get("outliers")
    if out is not None and out.numbers is not None:
        parts.append(
            f"Excluding {_studies(main.k - out.k)} identified as outliers "
            f"({', '.join(report.outliers)}) gave {_g(out.numbers, s.measure)}."
        )
    elif out is not None and report.outliers == () and "no outlier" in out.note:
        parts.append("No study was an outlier.")
    rob = [r for r in report.rows() if r.key.startswith("rob:") and r.kind == "pool" and r.numbers]
    if rob:
        parts.append(
            "Risk-of-bias sensitivity: "
            + "; ".join(
                f"{r.label.lower()} ({_studies(r.k)}) {_g(r.numbers, s.measure)}" for r in rob
            )
            + _rob_between(rows.get("rob:head"))
            + "."
        )
    longterm = [r for r in report.rows() if r.key.startswith("window:")]
    for r in longterm:
        if r.numbers is not None:
            parts.append(f"At {r.label.lower()}, {_studies(r.k)} gave {_g(r.numbers, s.measure)}.")
        elif r.k:
            parts.append(f"At {r.label.lower()}, only {_studies(r.k)} had data (not pooled).")
    if report.model is not None:
        parts.append(model_sentences(report.model))
    return " ".join(p for p in parts if p)


def _lower_first(text: str) -> str:
    """ "Clinical recovery" -> "clinical recovery", but "RAS total" stays as written."""
    if text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _i2ci(n) -> str:
    if n.I2_low is None or n.I2_high is None:
        return "95% CI not estimable"
    return f"95% CI {round(n.I2_low)}–{round(n.I2_high)}%"


def _rob_between(head: Row | None) -> str:
    if head is None or head.p_between is None:
        return ""
    return f"; difference between risk-of-bias levels {fmt_p_text(head.p_between)}"
