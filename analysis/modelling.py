"""The model section of a report: every effect size in a three-level model, and/or a
meta-regression on moderators (pure functions of plain data, no ORM).

* ``three_level``: all effect sizes of the main window (each study's earliest timepoint in
  it, every outcome and comparison there; for a mean difference, every comparison of the
  study's preferred instrument, since raw means of different instruments share no scale)
  in metafor's ``rma.mv(yi, vi, mods, random = ~ 1 | study/es)``,
  REML or ML, t tests with k − p df under the Hartung-Knapp setting, optionally CR2
  cluster-robust inference by study (``robust(..., clubSandwich = TRUE)``);
* ``one_per_study`` with moderators: ``rma(yi, vi, mods = ~ ...)`` on the main table's
  one effect per study, with the analysis' τ² estimator and test.

Any inverse-variance measure can be modelled, on its analysis scale: Hedges' g, the mean
difference, the risk difference, and the log odds or risk ratio (its coefficients are
differences of logs; the page also shows them exponentiated).

A model that cannot be fitted (too few studies for CR2, a moderator with one level,
collinear moderators, k ≤ coefficients) is refused in words: the section then shows the
reason and no number.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import stats as engine  # loads scipy.stats when an analysis runs, not at start-up
from .measures import LABELS, RATIOS, SHORT
from .stats import StatsInputError

if TYPE_CHECKING:
    from .stats import ModelResult

ROB_TEXT = {"low": "Low risk", "some_concerns": "Some concerns", "high": "High risk"}
ROB_KEY = "rob"
# Measures on an instrument's own scale: a study's effects of different instruments do not
# enter one model together.
ONE_SCALE = ("MD",)


@dataclass(frozen=True)
class ModeratorVar:
    key: str  # an extraction field key, or "rob"
    label: str
    kind: str  # "numeric" | "categorical"


@dataclass(frozen=True)
class ModelEffect:
    """One effect size as the model sees it, with its moderators' raw values."""

    study_id: int
    study: str
    outcome: str
    yi: float
    vi: float
    values: Mapping[str, Any]


@dataclass(frozen=True)
class ModelSection:
    kind: str  # "three_level" | "metareg"
    result: ModelResult | None
    error: str
    effects: tuple[ModelEffect, ...]
    left_out: tuple[tuple[str, str], ...]  # (study, reason) of effects without a moderator
    moderators: tuple[ModeratorVar, ...]
    method: str
    test: str
    robust: bool
    measure: str = "SMD"  # the analysis' effect measure: yi and b are on its analysis scale

    @property
    def ratio(self) -> bool:
        """True for OR/RR: yi and b are logs, exp(b) is a ratio (of ratios)."""
        return self.measure in RATIOS

    @property
    def scale(self) -> str:
        """The scale of yi and b in words, e.g. "log odds ratio", "mean difference"."""
        label = LABELS.get(self.measure, self.measure)
        if self.measure == "SMD":
            return label  # "Hedges' g", a name
        return f"log {label.lower()}" if self.ratio else label.lower()

    @property
    def title(self) -> str:
        if self.kind == "three_level":
            extra = " with moderators" if self.moderators else ""
            return f"All effect sizes: three-level model{extra}"
        return "Meta-regression"

    @property
    def bubble(self) -> ModeratorVar | None:
        """The continuous moderator the bubble plot shows (the first one)."""
        return next((m for m in self.moderators if m.kind == "numeric"), None)


def moderator_value(raw: Any, kind: str) -> Any:
    """A float for a numeric moderator, a level string for a categorical one; None if
    unanswered (or not a number)."""
    if raw is None or raw == "" or raw == []:
        return None
    if kind == "numeric":
        try:
            x = float(raw)
        except (TypeError, ValueError):
            return None
        return x if math.isfinite(x) else None
    if isinstance(raw, bool):
        return "Yes" if raw else "No"
    if isinstance(raw, list | tuple):
        return "; ".join(sorted(str(v) for v in raw if str(v).strip())) or None
    text = str(raw).strip()
    return ROB_TEXT.get(text, text) or None


def _rank(r: Any) -> float:
    return r.preferred_rank if r.preferred_rank is not None else math.inf


def all_effects(
    rows: Iterable[Any],
    moderators: Sequence[ModeratorVar],
    rob: Mapping[int, str],
    *,
    measure: str = "SMD",
) -> tuple[ModelEffect, ...]:
    """Every effect of each study at its earliest timepoint in the window (the same
    timepoint rule as the one-per-study table), with moderator values.

    A mean difference is on its instrument's scale, so a study then gives the effects of
    one instrument only: the one the table's rule prefers (rank in the subdomain's list,
    then extraction order), with every comparison of it (e.g. two drugs against a shared
    placebo arm).
    """
    by_study: OrderedDict[int, list[Any]] = OrderedDict()
    for r in rows:
        by_study.setdefault(r.study_id, []).append(r)
    out = []
    for study_id, items in by_study.items():
        first = min(r.weeks for r in items)
        at = [r for r in items if r.weeks == first]
        if measure in ONE_SCALE:
            best = min(enumerate(at), key=lambda ir: (_rank(ir[1]), ir[0]))[1]
            at = [
                r for r in at if (r.outcome_id, r.instrument) == (best.outcome_id, best.instrument)
            ]
        several = len({getattr(r, "comparison", "") for r in at}) > 1
        for r in at:
            fields = r.fields or {}
            values = {
                m.key: moderator_value(
                    rob.get(study_id) if m.key == ROB_KEY else fields.get(m.key), m.kind
                )
                for m in moderators
            }
            outcome = f"{r.outcome} ({r.instrument})" if r.instrument else r.outcome
            if several:
                outcome += f", {r.comparison}"
            out.append(
                ModelEffect(study_id, r.study_label, outcome, float(r.yi), float(r.vi), values)
            )
    return tuple(out)


def model_compute(
    *,
    kind: str,
    effects: Sequence[ModelEffect],
    moderators: Sequence[ModeratorVar],
    method: str,
    hartung_knapp: bool,
    robust: bool,
    level: float = 95,
    measure: str = "SMD",
) -> ModelSection:
    """Fit the section's model; a refusal becomes ``error`` (in words) and no result."""
    kept, left_out = [], []
    for e in effects:
        missing = [m.label for m in moderators if e.values.get(m.key) is None]
        if missing:
            left_out.append((e.study, f"no value for {', '.join(missing)}"))
        else:
            kept.append(e)
    mods = {m.key: [e.values[m.key] for e in kept] for m in moderators}
    kinds = {m.key: "numeric" if m.kind == "numeric" else "factor" for m in moderators}
    if kind == "three_level":
        fit_method = method if method in ("REML", "ML") else "REML"
        test = "t" if hartung_knapp else "z"
    else:
        fit_method = method
        test = "knha" if hartung_knapp else "z"
    result, error = None, ""
    try:
        if len(kept) < 3:
            raise StatsInputError(
                f"{len(kept)} effect size(s) with every moderator answered: too few to fit a model"
            )
        if kind == "three_level":
            result = engine.multilevel(
                [e.yi for e in kept],
                [e.vi for e in kept],
                [e.study_id for e in kept],
                mods=mods,
                kinds=kinds,
                method=fit_method,
                test=test,
                level=level,
                robust="CR2" if robust else None,
            )
        else:
            result = engine.metareg(
                [e.yi for e in kept],
                [e.vi for e in kept],
                mods,
                kinds=kinds,
                method=fit_method,
                test=test,
                level=level,
                study=[e.study_id for e in kept],
                robust="CR2" if robust else None,
            )
    except StatsInputError as exc:
        error = str(exc)
    return ModelSection(
        kind=kind,
        result=result,
        error=error,
        effects=tuple(kept),
        left_out=tuple(left_out),
        moderators=tuple(moderators),
        method=fit_method,
        test=test,
        robust=robust,
        measure=measure,
    )


def coefficient_label(name: str, moderators: Sequence[ModeratorVar]) -> str:
    """How a coefficient reads in tables: "Intercept", "Age", "Setting: community"."""
    if name == "intrcpt":
        return "Intercept"
    for m in moderators:
        if name == m.key:
            return m.label
        if m.kind != "numeric" and name.startswith(m.key):
            return f"{m.label}: {name[len(m.key) :]}"
    return name


def model_sentences(section: ModelSection) -> str:
    """A methods-and-results sentence for the model section ('' when nothing was fitted)."""
    from .formatting import fmt_num, fmt_p_text, fmt_range

    res = section.result
    if res is None:
        return ""
    est = "restricted maximum likelihood" if section.method == "REML" else section.method
    if section.kind == "three_level":
        text = (
            f"To use every effect size, a three-level model (effect sizes within studies; "
            f"metafor rma.mv) was fitted by {est} to {res.k} effect sizes ({section.scale}) "
            f"from {res.n_studies} studies"
        )
    else:
        text = (
            f"A mixed-effects meta-regression (metafor rma, {est}) was fitted to {res.k} "
            f"studies ({section.scale})"
        )
    if section.moderators:
        text += " with " + ", ".join(m.label for m in section.moderators) + " as moderator(s)"
    if section.robust:
        text += (
            "; inference was cluster-robust by study (CR2 with Satterthwaite degrees of "
            "freedom, clubSandwich)"
        )
    elif section.test in ("t", "knha"):
        text += "; coefficients were tested with t tests"
    text += ". "
    if res.sigma2 is not None and res.I2_levels is not None:
        text += (
            f"Between-study variance σ²(3) = {fmt_num(res.sigma2[0], 3)}, within-study "
            f"σ²(2) = {fmt_num(res.sigma2[1], 3)}; of the total variance "
            f"{fmt_num(res.I2_levels[0], 0)}% lay between studies and "
            f"{fmt_num(res.I2_levels[1], 0)}% within studies (Cheung, 2014). "
        )
    for i, name in enumerate(res.names):
        label = coefficient_label(name, section.moderators)
        text += (
            f"{label}: b = {fmt_num(res.b[i])} (95% CI {fmt_range(res.ci_low[i], res.ci_high[i])}; "
            f"{fmt_p_text(res.p[i])}"
        )
        if section.ratio:
            text += (
                f"; exp(b) = {fmt_num(math.exp(res.b[i]))}, "
                f"{fmt_range(math.exp(res.ci_low[i]), math.exp(res.ci_high[i]))}"
            )
        text += "). "
    if res.R2 is not None:
        text += f"The moderators explained {fmt_num(res.R2, 0)}% of the between-study variance. "
    return text.strip()


def model_summary(section: ModelSection | None) -> str:
    """One line for the analyses page: the model's pooled effect, or its test of
    moderators ('' without a model section)."""
    from .formatting import fmt_num, fmt_p_text, fmt_range

    if section is None:
        return ""
    if section.result is None:
        return f"{section.title}: not fitted ({section.error})"
    res = section.result
    where = f"{res.k} effect sizes, {res.n_studies} studies"
    how = ", CR2" if section.robust else ""
    if len(res.names) == 1:
        b, lo, hi = res.b[0], res.ci_low[0], res.ci_high[0]
        if section.ratio:
            b, lo, hi = math.exp(b), math.exp(lo), math.exp(hi)
        short = SHORT.get(section.measure, "")
        return f"{section.title}{how}: {short} {fmt_num(b)} ({fmt_range(lo, hi)}); {where}"
    names = ", ".join(m.label for m in section.moderators)
    text = f"{section.title} ({names}){how}: {where}"
    if res.QM is not None and res.QM_df is not None:
        df1, df2 = res.QM_df
        stat = f"F({df1:g}, {fmt_num(df2, 1)})" if df2 is not None else f"QM({df1:g})"
        text += f"; test of moderators {stat} = {fmt_num(res.QM, 2)}, {fmt_p_text(res.QM_p)}"
    return text
