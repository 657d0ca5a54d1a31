"""The paper-style results table of one analysis, computed from plain data (no ORM).

Input: one effect size per study for the main analysis (after the timepoint and
multiple-outcome rules, see :func:`one_per_study`), the same for each specific outcome
and each long-term window, the subgroup variables and the settings. Output: a
:class:`Report` whose blocks and rows follow Smit et al. (2023), Tables 1-3: all studies;
subgroups with the test for subgroup differences (mixed-effects model); specific
outcomes; adjustment for small-study bias (trim-and-fill, k after filling); outliers
excluded; risk of bias; long-term windows.

Every row records *which data* it pools (``dataset`` and ``where``) so that exports
(CSV, R script) can reproduce it exactly.

References
----------
Smit D, Miguel C, Vrijsen JN, Groeneweg B, Spijker J, Cuijpers P. The effectiveness of
peer support for individuals with mental illness: systematic review and meta-analysis.
Psychological Medicine 2023;53:5332-5341.
Borenstein M, Hedges LV, Higgins JPT, Rothstein HR. Introduction to Meta-Analysis.
Wiley 2009, chapters 19 (subgroups) and 24 (multiple outcomes within a study).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import stats as engine  # loads scipy.stats when an analysis runs, not at start-up
from .formatting import fmt_p_text
from .modelling import ModelEffect, ModelSection, ModeratorVar, model_compute
from .stats import StatsInputError

if TYPE_CHECKING:
    from .stats import EggerResult, MetaResult

ROB_ORDER = ("low", "some_concerns", "high")
ROB_LABELS = {"low": "Low risk", "some_concerns": "Some concerns", "high": "High risk"}
MULTIPLE_OUTCOME_RULES = ("preferred", "average")


class ReportInputError(ValueError):
    """Analysis settings or data that cannot produce a report (named in the message)."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class StudyEffect:
    """The one effect size a study contributes to a dataset."""

    study_id: int
    label: str
    yi: float
    vi: float
    n_intervention: float | None = None
    n_control: float | None = None
    outcome: str = ""
    timepoint: str = ""
    weeks: float | None = None
    subgroups: Mapping[str, str] = field(default_factory=dict)
    rob: str = ""
    note: str = ""
    events: tuple[float, float] | None = None  # per arm, for Mantel-Haenszel / Peto
    values: Mapping[str, Any] = field(default_factory=dict)  # raw answers of moderator fields

    @property
    def se(self) -> float:
        return math.sqrt(self.vi)

    @property
    def cells(self) -> tuple[float, float, float, float] | None:
        """The 2×2 table ``ai, bi, ci, di`` (events / non-events per arm), if known."""
        if self.events is None or self.n_intervention is None or self.n_control is None:
            return None
        a, c = self.events
        return a, self.n_intervention - a, c, self.n_control - c


@dataclass(frozen=True)
class Settings:
    """How to pool. ``method`` is the τ² estimator of inverse-variance fits; ``pooling``
    "MH" (Mantel-Haenszel, OR/RR/RD) or "PETO" (OR) pools the 2×2 tables instead. Fits
    that only exist for inverse variance (subgroup test, trim-and-fill, Egger, outliers)
    then use the common-effect inverse-variance model of the same measure."""

    method: str = "REML"
    hartung_knapp: bool = True
    min_studies: int = 5
    min_per_subgroup: int = 3
    multiple_outcomes: str = "preferred"
    level: float = 95.0
    measure: str = "SMD"
    pooling: str = "IV"

    @property
    def test(self) -> str:
        return "knha" if self.hartung_knapp and self.pooling == "IV" else "z"

    @property
    def iv_method(self) -> str:
        return self.method if self.pooling == "IV" else "FE"

    def __post_init__(self) -> None:
        if self.measure not in ("SMD", "MD", *engine.BINARY_MEASURES):
            raise ReportInputError(f"unknown effect measure {self.measure!r}")
        if self.pooling not in ("IV", *engine.MH_METHODS):
            raise ReportInputError(f"unknown pooling method {self.pooling!r}")
        if self.pooling != "IV":
            try:
                engine.binary.check_binary_options(self.measure, self.pooling, "z")
            except StatsInputError as exc:
                raise ReportInputError(str(exc)) from None
        if self.min_studies < 2:
            raise ReportInputError("the minimum number of studies to pool must be at least 2")
        if self.min_per_subgroup < 2:
            raise ReportInputError("the minimum number of studies per subgroup must be at least 2")
        if self.multiple_outcomes not in MULTIPLE_OUTCOME_RULES:
            raise ReportInputError(f"unknown multiple-outcomes rule {self.multiple_outcomes!r}")


@dataclass(frozen=True)
class SubgroupVar:
    key: str
    label: str
    levels: tuple[str, ...] = ()  # preferred order (form choices); others follow sorted


@dataclass(frozen=True)
class Dataset:
    key: str  # "main", "outcome1", "window1"... (an R identifier)
    label: str
    effects: tuple[StudyEffect, ...]


@dataclass(frozen=True)
class ReportInput:
    title: str
    main: Dataset
    specific: tuple[Dataset, ...] = ()
    windows: tuple[Dataset, ...] = ()
    subgroup_vars: tuple[SubgroupVar, ...] = ()
    settings: Settings = field(default_factory=Settings)
    show_small_study: bool = True
    show_outliers: bool = True
    show_rob: bool = True
    effect_label: str = "Hedges' g"
    # the model section: "three_level" (every effect size) or, with moderators, a
    # meta-regression of the main one-per-study effects ("" = no section)
    model_kind: str = ""
    model_effects: tuple[ModelEffect, ...] = ()
    moderators: tuple[ModeratorVar, ...] = ()
    robust: bool = False

    @property
    def datasets(self) -> tuple[Dataset, ...]:
        return (self.main, *self.specific, *self.windows)


# --------------------------------------------------------------------------- one per study


def _level_of(value: Any) -> str:
    """A subgroup level from a consensus answer ('' when unanswered)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        items = sorted(str(v) for v in value if str(v).strip())
        return "; ".join(items)
    return str(value).strip()


def one_per_study(
    rows: Iterable[Any],
    rule: str,
    subgroup_keys: Sequence[str] = (),
    rob: Mapping[int, str] | None = None,
    value_keys: Sequence[str] = (),
) -> tuple[StudyEffect, ...]:
    """Reduce consensus effect rows to one effect per study (per comparison if split).

    ``rows`` carry ``study_id, study_label, comparison, outcome, instrument,
    preferred_rank, timepoint, weeks, yi, vi, n_intervention, n_control, fields``.

    Rules, applied in this order and written into each effect's ``note``:

    1. Timepoint: the study's earliest timepoint inside the window.
    2. Several outcomes at that timepoint: ``"preferred"`` keeps the outcome whose
       instrument ranks first in its subdomain's preference list (unlisted instruments
       last, then the extraction order); ``"average"`` averages g and takes the variance
       of the mean assuming a correlation of 1 between outcomes, Var = (mean SE)²
       (Borenstein et al. 2009, ch. 24; conservative when the correlation is unknown).
    3. A study with several comparisons (shared control split by the review's
       multi-arm rule) contributes one effect per comparison, labelled with it.
    """
    if rule not in MULTIPLE_OUTCOME_RULES:
        raise ReportInputError(f"unknown multiple-outcomes rule {rule!r}")
    rob = rob or {}
    groups: OrderedDict[tuple[int, str], list[Any]] = OrderedDict()
    for r in rows:
        groups.setdefault((r.study_id, r.comparison), []).append(r)
    comparisons_per_study: dict[int, int] = {}
    for study_id, _ in groups:
        comparisons_per_study[study_id] = comparisons_per_study.get(study_id, 0) + 1
    out = []
    for (study_id, comparison), items in groups.items():
        first_week = min(r.weeks for r in items)
        at = [r for r in items if r.weeks == first_week]
        tp_note = ""
        if len({r.timepoint for r in items}) > 1:
            tp_note = f"earliest timepoint in the window ({at[0].timepoint})"
        notes = [tp_note] if tp_note else []
        if len(at) == 1:
            chosen = at[0]
            yi, vi, outcome = chosen.yi, chosen.vi, _outcome_name(chosen)
        elif rule == "preferred":
            chosen = min(
                enumerate(at),
                key=lambda ir: (
                    ir[1].preferred_rank if ir[1].preferred_rank is not None else math.inf,
                    ir[0],
                ),
            )[1]
            yi, vi, outcome = chosen.yi, chosen.vi, _outcome_name(chosen)
            others = ", ".join(_instrument(r) for r in at if r is not chosen)
            notes.append(f"preferred instrument {_instrument(chosen)} (not {others})")
        else:
            chosen = at[0]
            yi = float(np.mean([r.yi for r in at]))
            vi = float(np.mean([math.sqrt(r.vi) for r in at])) ** 2
            outcome = "; ".join(_outcome_name(r) for r in at)
            notes.append(f"average of {len(at)} outcomes")
        label = chosen.study_label
        if comparisons_per_study[study_id] > 1:
            label = f"{label} ({comparison})"
        fields = chosen.fields or {}
        out.append(
            StudyEffect(
                study_id=study_id,
                label=label,
                yi=float(yi),
                vi=float(vi),
                n_intervention=chosen.n_intervention,
                n_control=chosen.n_control,
                outcome=outcome,
                timepoint=chosen.timepoint,
                weeks=float(chosen.weeks),
                subgroups={k: _level_of(fields.get(k)) for k in subgroup_keys},
                rob=rob.get(study_id, ""),
                note="; ".join(notes),
                events=getattr(chosen, "events", None),
                values={k: fields.get(k) for k in value_keys},
            )
        )
    return tuple(out)


def _instrument(r: Any) -> str:
    return r.instrument or r.outcome


def _outcome_name(r: Any) -> str:
    return f"{r.outcome} ({r.instrument})" if r.instrument else r.outcome


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Numbers:
    """What a table row prints (I² and its Q-profile CI in percent, as metafor)."""

    k: int
    estimate: float
    ci_low: float
    ci_high: float
    I2: float  # noqa: N815
    I2_low: float | None  # noqa: N815
    I2_high: float | None  # noqa: N815
    p: float
    pi_low: float | None
    pi_high: float | None
    tau2: float
    Q: float  # noqa: N815
    Q_df: int  # noqa: N815
    Q_p: float  # noqa: N815

    @classmethod
    def from_meta(cls, r: MetaResult) -> Numbers:
        return cls(
            r.k,
            r.estimate,
            r.ci_low,
            r.ci_high,
            r.I2,
            r.I2_qprofile_ci_low,
            r.I2_qprofile_ci_high,
            r.p,
            r.pi_low,
            r.pi_high,
            r.tau2,
            r.Q,
            r.Q_df,
            r.Q_p,
        )


@dataclass(frozen=True)
class Where:
    """A subset of a dataset: ``column == value`` (or ``!=`` with ``negate``)."""

    column: str  # "rob" or a subgroup key
    value: str
    negate: bool = False

    def keeps(self, e: StudyEffect) -> bool:
        have = e.rob if self.column == "rob" else e.subgroups.get(self.column, "")
        if self.negate:
            return have != "" and have != self.value
        return have == self.value


@dataclass(frozen=True)
class Row:
    """One table row. ``kind``: pool, trimfill, outliers, heading."""

    key: str
    label: str
    kind: str
    dataset: str
    k: int
    numbers: Numbers | None = None
    where: Where | None = None
    p_between: float | None = None
    Q_between: float | None = None  # noqa: N815
    Q_between_df: int | None = None  # noqa: N815
    note: str = ""
    studies: tuple[StudyEffect, ...] = ()
    indent: bool = True

    @property
    def pooled(self) -> bool:
        return self.numbers is not None


@dataclass(frozen=True)
class Block:
    title: str
    rows: tuple[Row, ...]
    footnote: str = ""


@dataclass(frozen=True)
class Report:
    input: ReportInput
    blocks: tuple[Block, ...]
    main: MetaResult | None
    egger: EggerResult | None = None
    egger_note: str = ""
    filled_yi: tuple[float, ...] = ()
    filled_vi: tuple[float, ...] = ()
    trimfill_k0: int | None = None
    trimfill_side: str = ""
    outliers: tuple[str, ...] = ()
    model: ModelSection | None = None

    @property
    def settings(self) -> Settings:
        return self.input.settings

    def rows(self) -> list[Row]:
        return [r for b in self.blocks for r in b.rows]

    def row(self, key: str) -> Row:
        for r in self.rows():
            if r.key == key:
                return r
        raise KeyError(key)


# --------------------------------------------------------------------------- computing


def _fit(effects: Sequence[StudyEffect], s: Settings) -> MetaResult:
    if s.pooling != "IV":
        cells = [e.cells for e in effects]
        if any(c is None for c in cells):
            raise StatsInputError("Mantel-Haenszel and Peto need events and totals per arm")
        return engine.pool_binary(
            s.measure,
            *zip(*cells, strict=True),
            method=s.pooling,
            level=s.level,
            study=[e.label for e in effects],
        )
    return engine.rma(
        [e.yi for e in effects],
        [e.vi for e in effects],
        method=s.method,
        test=s.test,
        level=s.level,
        study=[e.label for e in effects],
    )


def fit_effects(effects: Sequence[StudyEffect], s: Settings) -> MetaResult:
    """Pool ``effects`` with the analysis' model (e.g. a subset, for GRADE's risk of bias)."""
    return _fit(effects, s)


def _pool_row(
    key: str,
    label: str,
    dataset: str,
    effects: Sequence[StudyEffect],
    s: Settings,
    min_k: int,
    where: Where | None = None,
    indent: bool = True,
) -> Row:
    k = len(effects)
    if k == 0:
        return Row(key, label, "pool", dataset, 0, where=where, note="no studies", indent=indent)
    if k < min_k:
        return Row(
            key,
            label,
            "pool",
            dataset,
            k,
            where=where,
            note=f"not pooled: fewer than {min_k} studies",
            studies=tuple(effects),
            indent=indent,
        )
    try:
        numbers = Numbers.from_meta(_fit(effects, s))
    except StatsInputError as exc:
        return Row(
            key,
            label,
            "pool",
            dataset,
            k,
            where=where,
            note=f"not pooled: {exc}",
            studies=tuple(effects),
            indent=indent,
        )
    return Row(key, label, "pool", dataset, k, numbers, where=where, indent=indent)


def _between(
    effects: Sequence[StudyEffect], column: str, levels: Sequence[str], s: Settings
) -> tuple[float, int, float] | None:
    """Q-between (mixed-effects: separate τ² per subgroup, common-effect test of the
    subgroup estimates) over ``levels``; None when fewer than two levels qualify."""
    if len(levels) < 2:
        return None
    keep = [e for e in effects if _value(e, column) in levels]
    try:
        res = engine.subgroup_analysis(
            [e.yi for e in keep],
            [e.vi for e in keep],
            [_value(e, column) for e in keep],
            method=s.iv_method,
            test=s.test,
            level=s.level,
        )
    except StatsInputError:
        return None
    return res.Q_between, res.Q_between_df, res.Q_between_p


def _value(e: StudyEffect, column: str) -> str:
    return e.rob if column == "rob" else e.subgroups.get(column, "")


def _ordered_levels(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    present = {v for v in values if v}
    first = [v for v in preferred if v in present]
    return first + sorted(present - set(first))


def report_compute(inp: ReportInput) -> Report:
    """Compute every block of the table (pure function of the input)."""
    s = inp.settings
    main = inp.main.effects
    blocks: list[Block] = []
    main_row = _pool_row("all", "All studies pooled", "main", main, s, s.min_studies, indent=False)
    main_fit = _fit(main, s) if main_row.pooled else None
    blocks.append(Block("Main effect", (main_row,)))

    # Subgroups
    for var in inp.subgroup_vars:
        levels = _ordered_levels((e.subgroups.get(var.key, "") for e in main), var.levels)
        if not levels:
            continue
        rows = []
        eligible = []
        for i, level in enumerate(levels):
            sel = [e for e in main if e.subgroups.get(var.key, "") == level]
            row = _pool_row(
                f"sub:{var.key}:{i}",
                level,
                "main",
                sel,
                s,
                s.min_per_subgroup,
                where=Where(var.key, level),
            )
            if len(sel) >= s.min_per_subgroup:
                eligible.append(level)
            rows.append(row)
        between = _between(main, var.key, eligible, s)
        unknown = sum(1 for e in main if not e.subgroups.get(var.key, ""))
        heading = Row(
            f"subhead:{var.key}",
            var.label,
            "heading",
            "main",
            sum(r.k for r in rows),
            p_between=between[2] if between else None,
            Q_between=between[0] if between else None,
            Q_between_df=between[1] if between else None,
            note=(
                f"{unknown} {'study' if unknown == 1 else 'studies'} without an answer"
                if unknown
                else ""
            ),
            indent=False,
        )
        foot = (
            f"Test for subgroup differences (mixed-effects model) over levels with at least "
            f"{s.min_per_subgroup} studies"
        )
        blocks.append(Block(f"Subgroups: {var.label}", (heading, *rows), foot))

    # Specific outcomes
    if inp.specific:
        rows = [
            _pool_row(f"outcome:{i}", d.label, d.key, d.effects, s, s.min_studies)
            for i, d in enumerate(inp.specific, start=1)
        ]
        blocks.append(Block("Specific outcomes", tuple(rows)))

    report_extra: dict[str, Any] = {}
    # Small-study bias
    if inp.show_small_study and main_fit is not None:
        yi = [e.yi for e in main]
        vi = [e.vi for e in main]
        egger = None
        egger_note = ""
        try:
            egger = engine.egger_test(yi, vi, level=s.level)
        except StatsInputError as exc:
            egger_note = f"Egger's test not computed: {exc}"
        try:
            tf = engine.trimfill(
                yi,
                vi,
                method=s.iv_method,
                test=s.test,
                level=s.level,
                study=[e.label for e in main],
            )
            note = (
                f"{tf.k0} {'study' if tf.k0 == 1 else 'studies'} imputed on the {tf.side} side"
                if tf.k0
                else "no study imputed"
            )
            tf_row = Row(
                "trimfill",
                "Adjusted for small-study bias (trim-and-fill)",
                "trimfill",
                "main",
                tf.k,
                Numbers.from_meta(tf.model),
                note=note,
            )
            report_extra.update(
                filled_yi=tf.filled_yi,
                filled_vi=tf.filled_vi,
                trimfill_k0=tf.k0,
                trimfill_side=tf.side,
            )
        except StatsInputError as exc:
            tf_row = Row(
                "trimfill",
                "Adjusted for small-study bias (trim-and-fill)",
                "trimfill",
                "main",
                len(main),
                note=f"not computed: {exc}",
            )
        foot = (
            f"Egger's test {_p_words(egger.p)}; k after trim-and-fill, which imputes the studies "
            "missing from the asymmetric side of the funnel (Duval & Tweedie, L0 estimator)."
            if egger
            else egger_note
        )
        report_extra.update(egger=egger, egger_note=egger_note)
        blocks.append(Block("Publication bias", (tf_row,), foot))

    # Sensitivity: outliers and risk of bias
    sens: list[Row] = []
    if inp.show_outliers and main_fit is not None:
        try:
            out = engine.find_outliers(
                [e.yi for e in main],
                [e.vi for e in main],
                method=s.iv_method,
                test=s.test,
                level=s.level,
                study=[e.label for e in main],
            )
            if out.outliers:
                sens.append(
                    Row(
                        "outliers",
                        "Outliers excluded",
                        "outliers",
                        "main",
                        out.model.k,
                        Numbers.from_meta(out.model),
                        note="excluded: " + ", ".join(out.outliers),
                    )
                )
            else:
                sens.append(
                    Row(
                        "outliers",
                        "Outliers excluded",
                        "outliers",
                        "main",
                        len(main),
                        note="no outlier: every study's 95% CI overlaps the pooled CI",
                    )
                )
            report_extra["outliers"] = out.outliers
        except StatsInputError as exc:
            sens.append(
                Row(
                    "outliers",
                    "Outliers excluded",
                    "outliers",
                    "main",
                    len(main),
                    note=f"not computed: {exc}",
                )
            )
    rob_foot = ""
    if inp.show_rob:
        with_rob = [e for e in main if e.rob]
        if not with_rob:
            sens.append(
                Row(
                    "rob:none",
                    "Risk of bias",
                    "heading",
                    "main",
                    0,
                    note="no RoB 2 consensus judgements yet",
                    indent=False,
                )
            )
        else:
            levels = [lv for lv in ROB_ORDER if any(e.rob == lv for e in with_rob)]
            eligible = [
                lv for lv in levels if sum(e.rob == lv for e in with_rob) >= s.min_per_subgroup
            ]
            between = _between(with_rob, "rob", eligible, s)
            sens.append(
                Row(
                    "rob:head",
                    "Risk of bias (RoB 2 overall)",
                    "heading",
                    "main",
                    len(with_rob),
                    p_between=between[2] if between else None,
                    Q_between=between[0] if between else None,
                    Q_between_df=between[1] if between else None,
                    note=(
                        f"{len(main) - len(with_rob)} studies without a RoB 2 consensus left out"
                        if len(with_rob) < len(main)
                        else ""
                    ),
                    indent=False,
                )
            )
            for lv in ROB_ORDER:
                sel = [e for e in with_rob if e.rob == lv]
                sens.append(
                    _pool_row(
                        f"rob:{lv}",
                        f"Only {ROB_LABELS[lv].lower()}",
                        "main",
                        sel,
                        s,
                        s.min_per_subgroup,
                        where=Where("rob", lv),
                    )
                )
            sel = [e for e in with_rob if e.rob != "high"]
            sens.append(
                _pool_row(
                    "rob:excl_high",
                    "Excluding high risk",
                    "main",
                    sel,
                    s,
                    s.min_per_subgroup,
                    where=Where("rob", "high", negate=True),
                )
            )
            rob_foot = "Risk-of-bias rows pool the studies with that overall RoB 2 judgement."
    if sens:
        blocks.append(Block("Sensitivity analyses", tuple(sens), rob_foot))

    # Long-term windows
    if inp.windows:
        rows = [
            _pool_row(f"window:{i}", d.label, d.key, d.effects, s, s.min_studies)
            for i, d in enumerate(inp.windows, start=1)
        ]
        blocks.append(Block("Long-term", tuple(rows)))

    if inp.model_kind:
        report_extra["model"] = model_compute(
            kind=inp.model_kind,
            effects=inp.model_effects,
            moderators=inp.moderators,
            method=s.method,
            hartung_knapp=s.hartung_knapp,
            robust=inp.robust,
            level=s.level,
            measure=s.measure,
        )
    return Report(inp, tuple(blocks), main_fit, **report_extra)


def _p_words(p: float) -> str:
    return fmt_p_text(p)
