"""RevMan 5 review files (``.rm5``) read into plain data, and re-pooled the way RevMan did.

A ``.rm5`` is the XML RevMan 5 saves (``COCHRANE_REVIEW``). What this module reads:

- ``STUDIES_AND_REFERENCES/STUDIES/INCLUDED_STUDIES/STUDY``: ``ID``, ``NAME`` (the study ID
  people cite, "Smith 2001"), ``YEAR``;
- ``ANALYSES_AND_DATA/COMPARISON`` (``NO``, ``NAME``) and in each, ``DICH_OUTCOME`` and
  ``CONT_OUTCOME`` (``NO``, ``NAME``, ``GROUP_LABEL_1/2``, ``EFFECT_MEASURE``, ``METHOD``,
  ``RANDOM``, ``CI_STUDY``, ``CI_TOTAL``, ``SWAP_EVENTS``, the stored ``EFFECT_SIZE``,
  ``CI_START``, ``CI_END``, ``TAU2``, ``CHI2``...), their ``*_SUBGROUP``s and data rows:
  ``DICH_DATA`` (``EVENTS_1``, ``TOTAL_1``, ``EVENTS_2``, ``TOTAL_2``) and ``CONT_DATA``
  (``MEAN_1``, ``SD_1``, ``TOTAL_1``, ``MEAN_2``, ``SD_2``, ``TOTAL_2``), group 1 being the
  experimental group.

Generic inverse-variance (``IV_OUTCOME``), O − E (``IPD_OUTCOME``) and "other data"
(``OTHER_OUTCOME``) outcomes carry no per-arm numbers and are listed as not imported, with
the reason. The XML goes through defusedxml (no entities, no DTD, no external references);
anything that is not a RevMan 5 intervention review is refused with a sentence saying why.

RevMan writes its computed numbers with Java's ``Double.toString`` (the shortest string
that reads back as the same double), so the stored values are the doubles RevMan
computed, not roundings: :func:`outcome_checks` compares them at 1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

import analysis.stats as engine  # loads scipy.stats when a file is checked, not at start-up
from analysis.stats import StatsInputError
from reviews.errors import DomainError

MAX_BYTES = 50 * 1024 * 1024
CHECK_TOLERANCE = 1e-6
DICHOTOMOUS, CONTINUOUS = "dichotomous", "continuous"
MEASURE_LABELS = {
    "OR": "odds ratio",
    "RR": "risk ratio",
    "RD": "risk difference",
    "PETO_OR": "Peto odds ratio",
    "MD": "mean difference",
    "SMD": "standardised mean difference",
}
METHOD_LABELS = {"MH": "Mantel-Haenszel", "IV": "inverse variance", "PETO": "Peto"}
NOT_ARM_DATA = {
    "IV_OUTCOME": "generic inverse variance: the file holds each study's estimate and SE, "
    "not per-arm numbers",
    "IPD_OUTCOME": "O − E and variance: the file holds each study's statistics, "
    "not per-arm numbers",
    "OTHER_OUTCOME": "“other data”: free text tables, no numbers to analyse",
}


class RevManFileError(DomainError):
    """A file that is not a RevMan 5 review this importer can read (a 400 with the reason)."""


@dataclass(frozen=True)
class Rm5Study:
    id: str
    name: str
    year: str


@dataclass(frozen=True)
class Rm5Stored:
    """What RevMan computed and stored for a row, subgroup or outcome (None where empty)."""

    effect: float | None = None
    ci_start: float | None = None
    ci_end: float | None = None
    estimable: bool | None = None
    tau2: float | None = None
    chi2: float | None = None
    i2: float | None = None
    z: float | None = None


@dataclass(frozen=True)
class Rm5Row:
    """One data row: a study in an outcome (or subgroup), group 1 experimental."""

    study_id: str
    kind: str
    total1: int
    total2: int
    events1: int | None = None
    events2: int | None = None
    mean1: float | None = None
    sd1: float | None = None
    mean2: float | None = None
    sd2: float | None = None
    stored: Rm5Stored = field(default_factory=Rm5Stored)
    subgroup: int | None = None  # index into the outcome's subgroups


@dataclass(frozen=True)
class Rm5Subgroup:
    no: int
    name: str
    stored: Rm5Stored


@dataclass(frozen=True)
class Rm5Outcome:
    comparison_no: int
    comparison: str
    no: int
    name: str
    kind: str
    measure: str
    method: str  # MH, IV or PETO (continuous outcomes: IV)
    random: bool
    ci_study: float
    ci_total: float
    swap_events: bool
    totals: bool  # RevMan pooled over all rows (TOTALS="YES")
    group_label_1: str
    group_label_2: str
    graph_label_1: str
    graph_label_2: str
    stored: Rm5Stored
    subgroups: tuple[Rm5Subgroup, ...]
    rows: tuple[Rm5Row, ...]

    @property
    def number(self) -> str:
        """RevMan's "Analysis 1.2" number."""
        return f"{self.comparison_no}.{self.no}"


@dataclass(frozen=True)
class Rm5Comparison:
    no: int
    name: str
    outcomes: tuple[Rm5Outcome, ...]


@dataclass(frozen=True)
class Rm5Skipped:
    """Something in the file that is not imported, and why."""

    what: str
    reason: str


@dataclass(frozen=True)
class Rm5Review:
    title: str
    version: str
    studies: tuple[Rm5Study, ...]
    comparisons: tuple[Rm5Comparison, ...]
    skipped: tuple[Rm5Skipped, ...]
    other_studies: int  # excluded, awaiting classification, ongoing

    @property
    def outcomes(self) -> Iterator[Rm5Outcome]:
        for comparison in self.comparisons:
            yield from comparison.outcomes

    def study(self, study_id: str) -> Rm5Study:
        return next(s for s in self.studies if s.id == study_id)


# --- reading -------------------------------------------------------------------------------------


def _text(element: Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _number(
    element: Element, attr: str, where: str, *, required: bool, computed: bool = False
) -> float | None:
    """A numeric attribute; ``computed`` ones (RevMan's results) may be NaN or Infinity,
    which RevMan writes where a statistic is undefined: those read as None."""
    raw = (element.get(attr) or "").strip()
    if not raw:
        if required:
            raise RevManFileError(f"{where}: {attr} is empty.")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise RevManFileError(f"{where}: {attr} “{raw[:40]}” is not a number.") from None
    if not math.isfinite(value):
        if computed:
            return None
        raise RevManFileError(f"{where}: {attr} is not a finite number.")
    return value


def _count(element: Element, attr: str, where: str) -> int:
    value = _number(element, attr, where, required=True)
    if value < 0 or value != int(value):
        raise RevManFileError(f"{where}: {attr} “{element.get(attr)}” is not a whole number ≥ 0.")
    return int(value)


def _stored(element: Element, where: str) -> Rm5Stored:
    estimable = element.get("ESTIMABLE")
    return Rm5Stored(
        estimable=None if estimable is None else estimable == "YES",
        **{
            name: _number(element, attr, where, required=False, computed=True)
            for name, attr in (
                ("effect", "EFFECT_SIZE"),
                ("ci_start", "CI_START"),
                ("ci_end", "CI_END"),
                ("tau2", "TAU2"),
                ("chi2", "CHI2"),
                ("i2", "I2"),
                ("z", "Z"),
            )
        },
    )


def _row(element: Element, kind: str, where: str, subgroup: int | None) -> Rm5Row:
    study_id = element.get("STUDY_ID") or ""
    where = f"{where}, study {study_id or '(no STUDY_ID)'}"
    if not study_id:
        raise RevManFileError(f"{where}: a data row names no study.")
    values: dict = {
        "total1": _count(element, "TOTAL_1", where),
        "total2": _count(element, "TOTAL_2", where),
    }
    if kind == DICHOTOMOUS:
        values["events1"] = _count(element, "EVENTS_1", where)
        values["events2"] = _count(element, "EVENTS_2", where)
        for g in ("1", "2"):
            if values[f"events{g}"] > values[f"total{g}"]:
                raise RevManFileError(
                    f"{where}: group {g} has more events ({values[f'events{g}']}) than "
                    f"participants ({values[f'total{g}']})."
                )
    else:
        for attr in ("MEAN_1", "SD_1", "MEAN_2", "SD_2"):
            value = _number(element, attr, where, required=False)
            if attr.startswith("SD") and value is not None and value < 0:
                raise RevManFileError(f"{where}: {attr} is negative.")
            values[attr.lower().replace("_", "")] = value
    return Rm5Row(
        study_id=study_id, kind=kind, stored=_stored(element, where), subgroup=subgroup, **values
    )


def _outcome(element: Element, c_no: int, c_name: str) -> Rm5Outcome:
    kind = DICHOTOMOUS if element.tag == "DICH_OUTCOME" else CONTINUOUS
    no = int(_number(element, "NO", f"Comparison {c_no}", required=True) or 0)
    where = f"Analysis {c_no}.{no}"
    measure = (element.get("EFFECT_MEASURE") or "").strip().upper()
    allowed = ("OR", "RR", "RD", "PETO_OR") if kind == DICHOTOMOUS else ("MD", "SMD")
    if measure not in allowed:
        raise RevManFileError(f"{where}: unknown effect measure “{measure}”.")
    method = (element.get("METHOD") or "").strip().upper() if kind == DICHOTOMOUS else "IV"
    if kind == DICHOTOMOUS and method not in ("MH", "IV", "PETO"):
        raise RevManFileError(f"{where}: unknown statistical method “{method}”.")
    rows: list[Rm5Row] = []
    subgroups: list[Rm5Subgroup] = []
    row_tag = "DICH_DATA" if kind == DICHOTOMOUS else "CONT_DATA"
    for child in element:
        if child.tag == row_tag:
            rows.append(_row(child, kind, where, None))
        elif child.tag.endswith("_SUBGROUP"):
            s_no = int(_number(child, "NO", where, required=True) or 0)
            s_where = f"{where}.{s_no}"
            subgroups.append(Rm5Subgroup(s_no, _text(child.find("NAME")), _stored(child, s_where)))
            rows.extend(
                _row(r, kind, s_where, len(subgroups) - 1) for r in child if r.tag == row_tag
            )
    return Rm5Outcome(
        comparison_no=c_no,
        comparison=c_name,
        no=no,
        name=_text(element.find("NAME")) or f"Outcome {c_no}.{no}",
        kind=kind,
        measure=measure,
        method=method,
        random=element.get("RANDOM") == "YES",
        ci_study=_number(element, "CI_STUDY", where, required=False) or 95.0,
        ci_total=_number(element, "CI_TOTAL", where, required=False) or 95.0,
        swap_events=element.get("SWAP_EVENTS") == "YES",
        totals=element.get("TOTALS", "YES") == "YES",
        group_label_1=_text(element.find("GROUP_LABEL_1")) or "Experimental",
        group_label_2=_text(element.find("GROUP_LABEL_2")) or "Control",
        graph_label_1=_text(element.find("GRAPH_LABEL_1")),
        graph_label_2=_text(element.find("GRAPH_LABEL_2")),
        stored=_stored(element, where),
        subgroups=tuple(subgroups),
        rows=tuple(rows),
    )


def parse_rm5(data: bytes) -> Rm5Review:
    """Read a ``.rm5`` file; raise :class:`RevManFileError` saying why one cannot be read."""
    if not data.strip():
        raise RevManFileError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise RevManFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise RevManFileError(
            "The file declares a DTD or XML entities, which RevMan files never do; "
            "it is refused for safety."
        ) from None
    except (LookupError, ValueError, UnicodeError):  # an encoding expat cannot read
        raise RevManFileError(
            "The file declares a character encoding that cannot be read; RevMan writes "
            "ISO-8859-1 or UTF-8."
        ) from None
    except ParseError as exc:
        line = getattr(exc, "position", (None,))[0]
        raise RevManFileError(
            "This is not a RevMan 5 review file: its XML cannot be read"
            + (f" (line {line})." if line else ".")
        ) from None
    if root.tag != "COCHRANE_REVIEW":
        raise RevManFileError(
            f"This is not a RevMan 5 review file (.rm5): it is XML, but its root element is "
            f"<{root.tag[:40]}>, not <COCHRANE_REVIEW>."
        )
    review_type = root.get("TYPE", "INTERVENTION")
    if review_type != "INTERVENTION":
        raise RevManFileError(
            f"This is a RevMan {review_type.lower().replace('_', ' ')} review; only intervention "
            "reviews (dichotomous and continuous outcomes) can be imported."
        )
    studies: list[Rm5Study] = []
    seen_names: set[str] = set()
    for element in root.iterfind("STUDIES_AND_REFERENCES/STUDIES/INCLUDED_STUDIES/STUDY"):
        sid = element.get("ID") or ""
        name = " ".join((element.get("NAME") or sid).split())[:200]
        if not sid:
            raise RevManFileError("An included study has no ID.")
        if name.casefold() in seen_names:
            name = f"{name} ({sid})"[:200]
        seen_names.add(name.casefold())
        studies.append(Rm5Study(sid, name, element.get("YEAR", "")))
    other = sum(
        1
        for section in ("EXCLUDED_STUDIES", "AWAITING_STUDIES", "ONGOING_STUDIES")
        for _ in root.iterfind(f"STUDIES_AND_REFERENCES/STUDIES/{section}/STUDY")
    )
    comparisons: list[Rm5Comparison] = []
    skipped: list[Rm5Skipped] = []
    for element in root.iterfind("ANALYSES_AND_DATA/COMPARISON"):
        c_no = int(_number(element, "NO", "A comparison", required=True) or 0)
        c_name = _text(element.find("NAME")) or f"Comparison {c_no}"
        outcomes = []
        for child in element:
            if child.tag in ("DICH_OUTCOME", "CONT_OUTCOME"):
                outcomes.append(_outcome(child, c_no, c_name))
            elif child.tag in NOT_ARM_DATA:
                no = child.get("NO", "?")
                skipped.append(
                    Rm5Skipped(
                        f"Analysis {c_no}.{no} {_text(child.find('NAME'))}".strip(),
                        NOT_ARM_DATA[child.tag],
                    )
                )
        comparisons.append(Rm5Comparison(c_no, c_name, tuple(outcomes)))
    known = {s.id for s in studies}
    for comparison in comparisons:
        for outcome in comparison.outcomes:
            for row in outcome.rows:
                if row.study_id not in known:
                    raise RevManFileError(
                        f"Analysis {outcome.number} has data for study “{row.study_id}”, which "
                        "is not among the file's included studies."
                    )
    if not studies:
        raise RevManFileError("The file lists no included studies: there is nothing to import.")
    return Rm5Review(
        title=_text(root.find("COVER_SHEET/TITLE")),
        version=(root.get("REVMAN_SUB_VERSION") or root.get("REVMAN_VERSION") or "").strip(),
        studies=tuple(studies),
        comparisons=tuple(comparisons),
        skipped=tuple(skipped),
        other_studies=other,
    )


# --- what RevMan computed, computed again ----------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One stored number next to ours (both as RevMan shows them: ratios exponentiated)."""

    what: str  # "overall", "subgroup 1.2.1", or a study's name
    quantity: str  # EFFECT_SIZE, CI_START, CI_END, TAU2, CHI2
    stored: float
    ours: float | None

    @property
    def agrees(self) -> bool:
        return self.ours is not None and abs(self.ours - self.stored) <= CHECK_TOLERANCE


@dataclass(frozen=True)
class OutcomeCheck:
    outcome: Rm5Outcome
    comparisons: tuple[Comparison, ...]
    estimate: float | None  # ours, overall, as displayed
    ci: tuple[float, float] | None

    @property
    def agrees(self) -> bool:
        return all(c.agrees for c in self.comparisons)

    @property
    def largest_difference(self) -> float | None:
        diffs = [abs(c.ours - c.stored) for c in self.comparisons if c.ours is not None]
        return max(diffs) if diffs else None


def pool_rows(outcome: Rm5Outcome, rows: tuple[Rm5Row, ...] | list[Rm5Row]):
    """Pool data rows with the outcome's own RevMan method (SWAP_EVENTS honoured)."""
    if outcome.kind == DICHOTOMOUS:
        e1 = [r.events1 for r in rows]
        e2 = [r.events2 for r in rows]
        n1 = [r.total1 for r in rows]
        n2 = [r.total2 for r in rows]
        if outcome.swap_events:  # RevMan analyses the non-events
            e1 = [n - e for e, n in zip(e1, n1, strict=True)]
            e2 = [n - e for e, n in zip(e2, n2, strict=True)]
        return engine.revman.revman_dichotomous(
            e1, n1, e2, n2,
            measure=outcome.measure, method=outcome.method, random=outcome.random,
            ci_study=outcome.ci_study, ci_total=outcome.ci_total,
        )  # fmt: skip
    return engine.revman.revman_continuous(
        [r.mean1 if r.mean1 is not None else math.nan for r in rows],
        [r.sd1 if r.sd1 is not None else 0.0 for r in rows],
        [r.total1 for r in rows],
        [r.mean2 if r.mean2 is not None else math.nan for r in rows],
        [r.sd2 if r.sd2 is not None else 0.0 for r in rows],
        [r.total2 for r in rows],
        measure=outcome.measure, random=outcome.random,
        ci_study=outcome.ci_study, ci_total=outcome.ci_total,
    )  # fmt: skip


def _pooled_comparisons(label: str, stored: Rm5Stored, result, measure: str) -> list[Comparison]:
    out = []
    for quantity, value, ours in (
        ("EFFECT_SIZE", stored.effect, engine.revman.display(measure, result.estimate)),
        ("CI_START", stored.ci_start, engine.revman.display(measure, result.ci_low)),
        ("CI_END", stored.ci_end, engine.revman.display(measure, result.ci_high)),
        ("TAU2", stored.tau2 if result.random else None, result.tau2),
        ("CHI2", stored.chi2 if result.df > 0 else None, result.chi2),
    ):
        if value is not None and stored.estimable is not False:
            out.append(Comparison(label, quantity, value, ours))
    return out


def outcome_checks(
    review: Rm5Review, study_names: dict[str, str] | None = None
) -> list[OutcomeCheck]:
    """For each outcome RevMan computed, our pooling with its method next to its stored
    numbers: per data row, per subgroup, overall. Outcomes RevMan left uncomputed (no
    stored numbers) compare nothing."""
    names = study_names or {s.id: s.name for s in review.studies}
    checks = []
    for outcome in review.outcomes:
        rows = [r for r in outcome.rows if _usable(r)]
        if not rows:
            checks.append(OutcomeCheck(outcome, (), None, None))
            continue
        try:
            result = pool_rows(outcome, rows)
        except StatsInputError:
            checks.append(OutcomeCheck(outcome, (), None, None))
            continue
        comparisons: list[Comparison] = []
        for row, mine in zip(rows, result.rows, strict=True):
            if row.stored.estimable is False or row.stored.effect is None:
                continue
            for quantity, value, ours in (
                ("EFFECT_SIZE", row.stored.effect, mine.yi),
                ("CI_START", row.stored.ci_start, mine.ci_low),
                ("CI_END", row.stored.ci_end, mine.ci_high),
            ):
                if value is not None:
                    shown = engine.revman.display(outcome.measure, ours) if mine.estimable else None
                    comparisons.append(Comparison(names[row.study_id], quantity, value, shown))
        for index, subgroup in enumerate(outcome.subgroups):
            members = [r for r in rows if r.subgroup == index]
            if not members or subgroup.stored.effect is None:
                continue
            try:
                sub = pool_rows(outcome, members)
            except StatsInputError:
                continue
            if sub.estimate is not None:
                label = f"subgroup {outcome.number}.{subgroup.no}"
                comparisons += _pooled_comparisons(label, subgroup.stored, sub, outcome.measure)
        if outcome.totals and result.estimate is not None:
            comparisons += _pooled_comparisons("overall", outcome.stored, result, outcome.measure)
        ci = None
        if result.estimate is not None:
            ci = (
                engine.revman.display(outcome.measure, result.ci_low),
                engine.revman.display(outcome.measure, result.ci_high),
            )
        checks.append(
            OutcomeCheck(
                outcome,
                tuple(comparisons),
                engine.revman.display(outcome.measure, result.estimate),
                ci,
            )
        )
    return checks


def _usable(row: Rm5Row) -> bool:
    """A row with participants in both groups (RevMan keeps empty rows for studies whose
    data were never entered: TOTAL 0), and for continuous data both means."""
    if row.kind == CONTINUOUS and (row.mean1 is None or row.mean2 is None):
        return False
    return row.total1 > 0 and row.total2 > 0
