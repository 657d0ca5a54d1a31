"""PRISMA 2020 flow diagram rendering (SVG, PNG, PDF and CSV).

Draws the template for "new systematic reviews which included searches of databases,
registers and other sources" (Page et al., 2021), or, given the counts of the previous
version (``previous_studies``, ``previous_reports``), the template for "updated systematic
reviews": a "Previous studies" column whose boxes carry the studies and reports included in
the previous version and the totals, the main column counting what the update added. The diagram is hand-built SVG so that
every box label and number stays searchable text; PNG and PDF are produced from the same
SVG with CairoSVG, so all three exports look identical.

This module is pure rendering code: it takes a :class:`PrismaCounts` and knows nothing
about Django or the screening models.

References
----------
Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated guideline
for reporting systematic reviews. BMJ 2021;372:n71. doi:10.1136/bmj.n71
"""

from __future__ import annotations

import csv
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = [
    "PrismaCounts",
    "PrismaCountsError",
    "PrismaLayout",
    "LayoutBox",
    "Arrow",
    "BoxItem",
    "prisma_layout",
    "render_svg",
    "render_png",
    "render_pdf",
    "counts_csv",
]

SVG_NS = "http://www.w3.org/2000/svg"
FONT_FAMILY = "DejaVu Sans"

# Geometry, in SVG user units (CSS px). Chosen so a 13 px font stays legible when the
# diagram is printed at one column width of an A4 page.
FONT_SIZE = 13.0
HEADER_FONT_SIZE = 14.0
PHASE_FONT_SIZE = 15.0
LINE_HEIGHT = 17.0
ITEM_GAP = 3.0  # extra space between two items of a box, so wrapped items stay distinct
PAD_X = 10.0
PAD_Y = 9.0
HANGING_INDENT = 12.0  # continuation lines of a wrapped item
ITEM_INDENT = 14.0  # list items under a heading ("Duplicate records removed ...")
MARGIN = 16.0
PHASE_WIDTH = 34.0
PHASE_GAP = 16.0
MAIN_WIDTH = 290.0
SIDE_WIDTH = 300.0
ARROW_GAP = 48.0  # horizontal gap between a main box and its side box
SECTION_GAP = 44.0  # between the databases section and the other-methods section
ROW_GAP = 34.0  # vertical gap between rows (room for a down arrow)
MIN_BOX_HEIGHT = 44.0
ARROW_HEAD_LENGTH = 9.0
ARROW_HEAD_HALF_WIDTH = 4.5
# Measured widths are for the unhinted outline; rasterisers differ by a pixel or two.
WIDTH_SAFETY = 1.03

HEADER_DB_FILL = "#ffc000"
HEADER_PREVIOUS_FILL = "#ffc000"
HEADER_OTHER_FILL = "#d9d9d9"
PHASE_FILL = "#9dc3e6"
BOX_STROKE = "#1a1a1a"

# XML 1.0 forbids most control characters; user text containing them would make the SVG
# unparseable, so they are dropped before rendering.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class PrismaCountsError(ValueError):
    """Raised when PRISMA counts are missing, negative or structurally inconsistent."""


def _as_pairs(value: Iterable[tuple[str, int]] | None, name: str) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    pairs = []
    for entry in value:
        try:
            label, n = entry
        except (TypeError, ValueError) as exc:
            raise PrismaCountsError(f"{name}: each entry must be a (name, count) pair") from exc
        if not isinstance(label, str) or not label.strip():
            raise PrismaCountsError(f"{name}: every entry needs a non-empty name")
        pairs.append((label.strip(), _as_count(n, f"{name} '{label.strip()}'")))
    return tuple(pairs)


def _as_count(value: object, name: str) -> int:
    # bool is an int subclass; True as a count is always a caller bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PrismaCountsError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise PrismaCountsError(f"{name} must not be negative, got {value}")
    return value


@dataclass(frozen=True)
class PrismaCounts:
    """Numbers for every box of the PRISMA 2020 flow diagram.

    ``sources`` are the databases and registers searched (name, records identified);
    ``other_sources`` are other methods such as citation searching or websites. The
    ``other_reports_*`` fields describe the other-methods column below identification and
    may be ``None``, in which case those boxes are omitted. Lists are accepted and stored
    as tuples so instances stay hashable.
    """

    sources: tuple[tuple[str, int], ...]
    duplicates_removed: int
    records_screened: int
    records_excluded: int
    reports_sought: int
    reports_not_retrieved: int
    reports_assessed: int
    reports_excluded: tuple[tuple[str, int], ...]
    studies_included: int
    reports_included: int
    automation_excluded: int = 0
    other_removed: int = 0
    other_sources: tuple[tuple[str, int], ...] = ()
    other_reports_sought: int | None = None
    other_reports_not_retrieved: int | None = None
    other_reports_assessed: int | None = None
    other_reports_excluded: tuple[tuple[str, int], ...] | None = None
    # Updated reviews: what the previous version included. Then `studies_included` and
    # `reports_included` are the new ones, and the totals are drawn beside them.
    previous_studies: int | None = None
    previous_reports: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise in place once
        set_(self, "sources", _as_pairs(self.sources, "sources"))
        set_(self, "reports_excluded", _as_pairs(self.reports_excluded, "reports_excluded"))
        set_(self, "other_sources", _as_pairs(self.other_sources, "other_sources"))
        for name in (
            "duplicates_removed",
            "records_screened",
            "records_excluded",
            "reports_sought",
            "reports_not_retrieved",
            "reports_assessed",
            "studies_included",
            "reports_included",
            "automation_excluded",
            "other_removed",
        ):
            _as_count(getattr(self, name), name)
        for name in (
            "other_reports_sought",
            "other_reports_not_retrieved",
            "other_reports_assessed",
        ):
            if getattr(self, name) is not None:
                _as_count(getattr(self, name), name)
        if self.other_reports_excluded is not None:
            set_(
                self,
                "other_reports_excluded",
                _as_pairs(self.other_reports_excluded, "other_reports_excluded"),
            )
        has_other_detail = any(
            getattr(self, name) is not None
            for name in (
                "other_reports_sought",
                "other_reports_not_retrieved",
                "other_reports_assessed",
                "other_reports_excluded",
            )
        )
        if has_other_detail and not self.other_sources:
            raise PrismaCountsError(
                "other-methods reports were given but no other sources (other_sources is empty)"
            )
        if self.other_reports_not_retrieved is not None and self.other_reports_sought is None:
            raise PrismaCountsError(
                "other_reports_not_retrieved needs other_reports_sought to attach to"
            )
        if self.other_reports_excluded is not None and self.other_reports_assessed is None:
            raise PrismaCountsError("other_reports_excluded needs other_reports_assessed")
        if (self.previous_studies is None) != (self.previous_reports is None):
            raise PrismaCountsError("previous_studies and previous_reports come together")
        for name in ("previous_studies", "previous_reports"):
            if getattr(self, name) is not None:
                _as_count(getattr(self, name), name)

    @property
    def is_update(self) -> bool:
        """Drawn with the template for updated reviews (a previous version's counts)."""
        return self.previous_studies is not None

    @property
    def total_studies(self) -> int:
        return (self.previous_studies or 0) + self.studies_included

    @property
    def total_reports(self) -> int:
        return (self.previous_reports or 0) + self.reports_included

    @property
    def records_identified(self) -> int:
        """Total records identified from databases and registers."""
        return sum(n for _, n in self.sources)

    @property
    def has_other_methods(self) -> bool:
        """Whether the other-methods column is drawn."""
        return bool(self.other_sources)

    def inconsistencies(self) -> list[str]:
        """Return human-readable descriptions of counts that do not add up (empty if none).

        The diagram is still drawn for inconsistent counts (a lead may be mid-review);
        callers decide whether to warn.
        """
        problems = []
        removed = self.duplicates_removed + self.automation_excluded + self.other_removed
        if self.records_screened != self.records_identified - removed:
            problems.append(
                f"records screened ({self.records_screened}) != identified "
                f"({self.records_identified}) - removed before screening ({removed})"
            )
        if self.reports_sought != self.records_screened - self.records_excluded:
            problems.append(
                f"reports sought ({self.reports_sought}) != screened ({self.records_screened})"
                f" - excluded ({self.records_excluded})"
            )
        if self.reports_assessed != self.reports_sought - self.reports_not_retrieved:
            problems.append(
                f"reports assessed ({self.reports_assessed}) != sought ({self.reports_sought})"
                f" - not retrieved ({self.reports_not_retrieved})"
            )
        other_assessed = self.other_reports_assessed or 0
        other_excluded = sum(n for _, n in self.other_reports_excluded or ())
        excluded = sum(n for _, n in self.reports_excluded)
        expected_reports = self.reports_assessed - excluded + other_assessed - other_excluded
        if self.reports_excluded and self.reports_included != expected_reports:
            problems.append(
                f"reports of included studies ({self.reports_included}) != assessed - excluded"
                f" over both columns ({expected_reports})"
            )
        if self.studies_included > self.reports_included:
            problems.append(
                f"studies included ({self.studies_included}) > reports of included studies"
                f" ({self.reports_included})"
            )
        if (
            self.other_reports_sought is not None
            and self.other_reports_not_retrieved is not None
            and self.other_reports_assessed is not None
            and self.other_reports_assessed
            != self.other_reports_sought - self.other_reports_not_retrieved
        ):
            problems.append("other methods: assessed != sought - not retrieved")
        return problems


# ---------------------------------------------------------------------------------------
# Text measurement and wrapping
# ---------------------------------------------------------------------------------------

_font_lock = threading.Lock()


def _font_path(bold: bool) -> str:
    """DejaVu Sans ships with matplotlib, so the metrics match the font Cairo draws with."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


@lru_cache(maxsize=8)
def _font(size: float, bold: bool):  # -> PIL.ImageFont.FreeTypeFont
    from PIL import ImageFont

    return ImageFont.truetype(_font_path(bold), size=size)


@lru_cache(maxsize=4096)
def text_width(text: str, size: float = FONT_SIZE, bold: bool = False) -> float:
    """Width of ``text`` in px when set in DejaVu Sans at ``size`` px."""
    # FreeType faces are not safe to share between threads, hence the lock.
    with _font_lock:
        return float(_font(size, bold).getlength(text)) * WIDTH_SAFETY


def _split_long_word(word: str, width: float, size: float, bold: bool) -> list[str]:
    pieces, current = [], ""
    for ch in word:
        if current and text_width(current + ch, size, bold) > width:
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap_text(
    text: str,
    width: float,
    *,
    size: float = FONT_SIZE,
    bold: bool = False,
    first_indent: float = 0.0,
    hanging_indent: float = 0.0,
    keep_together: str = "",
) -> list[str]:
    """Greedy word wrap to ``width`` px; ``keep_together`` is appended and never split."""
    tokens = text.split()
    if keep_together:
        tokens.append(keep_together)
    lines: list[str] = []
    current = ""
    for token in tokens:
        avail = width - (first_indent if not lines else hanging_indent)
        candidate = f"{current} {token}" if current else token
        if text_width(candidate, size, bold) <= avail:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
            avail = width - hanging_indent
        if text_width(token, size, bold) <= avail or token == keep_together:
            current = token
        else:
            pieces = _split_long_word(token, avail, size, bold)
            lines.extend(pieces[:-1])
            current = pieces[-1]
    if current or not lines:
        lines.append(current)
    return lines


# ---------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxItem:
    """One logical entry of a box: a label with an optional count, wrapped into lines."""

    label: str
    n: int | None
    indent: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The unwrapped text as printed, e.g. ``"Records screened (n = 1,234)"``."""
        return f"{self.label} {format_n(self.n)}" if self.n is not None else self.label


@dataclass(frozen=True)
class LayoutBox:
    """A positioned rectangle: a flow box, a section header or a phase label."""

    key: str
    kind: str  # "box", "header" or "phase"
    x: float
    y: float
    w: float
    h: float
    items: tuple[BoxItem, ...] = ()
    fill: str = "#ffffff"

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def overlaps(self, other: LayoutBox) -> bool:
        """True if the two rectangles share any interior area."""
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


@dataclass(frozen=True)
class Arrow:
    """A polyline ending in an arrow head at its last point."""

    start: str  # key of the source box
    end: str  # key of the target box
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PrismaLayout:
    """Positions of every element; the SVG is a direct drawing of this."""

    width: float
    height: float
    boxes: tuple[LayoutBox, ...]
    arrows: tuple[Arrow, ...] = field(default_factory=tuple)

    def box(self, key: str) -> LayoutBox:
        """Return the box with ``key``; raises KeyError if it is not drawn."""
        for b in self.boxes:
            if b.key == key:
                return b
        raise KeyError(key)

    @property
    def flow_boxes(self) -> tuple[LayoutBox, ...]:
        return tuple(b for b in self.boxes if b.kind == "box")


def format_n(n: int) -> str:
    """Format a count as printed in the diagram: ``(n = 1,234)``."""
    return f"(n = {n:,})"


@dataclass(frozen=True)
class _Entry:
    label: str
    n: int | None = None
    indent: float = 0.0


def _items(entries: Sequence[_Entry], width: float) -> tuple[BoxItem, ...]:
    inner = width - 2 * PAD_X
    items = []
    for e in entries:
        lines = wrap_text(
            _clean(e.label),
            inner,
            first_indent=e.indent,
            hanging_indent=e.indent + HANGING_INDENT,
            keep_together=format_n(e.n) if e.n is not None else "",
        )
        items.append(BoxItem(label=_clean(e.label), n=e.n, indent=e.indent, lines=tuple(lines)))
    return tuple(items)


def _items_height(items: Sequence[BoxItem]) -> float:
    n_lines = sum(len(i.lines) for i in items)
    return 2 * PAD_Y + n_lines * LINE_HEIGHT + max(len(items) - 1, 0) * ITEM_GAP


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _list_entries(heading: str, pairs: Sequence[tuple[str, int]], empty_label: str) -> list[_Entry]:
    entries = [_Entry(heading)]
    if not pairs:
        entries.append(_Entry(empty_label, 0, ITEM_INDENT))
    entries.extend(_Entry(name, n, ITEM_INDENT) for name, n in pairs)
    return entries


def _box_specs(c: PrismaCounts) -> dict[str, tuple[int, str, list[_Entry]]]:
    """Map box key -> (row, column, entries). Columns: main, side, omain, oside."""
    total_entries = []
    if len(c.sources) > 1:
        total_entries = [_Entry("Total", c.records_identified, ITEM_INDENT)]
    specs: dict[str, tuple[int, str, list[_Entry]]] = {
        "identification": (
            1,
            "main",
            _list_entries("Records identified from:", c.sources, "Databases and registers")
            + total_entries,
        ),
        "removed_before_screening": (
            1,
            "side",
            [
                _Entry("Records removed before screening:"),
                _Entry("Duplicate records removed", c.duplicates_removed, ITEM_INDENT),
                _Entry(
                    "Records marked as ineligible by automation tools",
                    c.automation_excluded,
                    ITEM_INDENT,
                ),
                _Entry("Records removed for other reasons", c.other_removed, ITEM_INDENT),
            ],
        ),
        "records_screened": (2, "main", [_Entry("Records screened", c.records_screened)]),
        "records_excluded": (2, "side", [_Entry("Records excluded", c.records_excluded)]),
        "reports_sought": (3, "main", [_Entry("Reports sought for retrieval", c.reports_sought)]),
        "reports_not_retrieved": (
            3,
            "side",
            [_Entry("Reports not retrieved", c.reports_not_retrieved)],
        ),
        "reports_assessed": (
            4,
            "main",
            [_Entry("Reports assessed for eligibility", c.reports_assessed)],
        ),
        "reports_excluded": (
            4,
            "side",
            _list_entries("Reports excluded:", c.reports_excluded, "No reports excluded"),
        ),
        "included": (
            5,
            "main",
            [
                _Entry("New studies included in review", c.studies_included),
                _Entry("Reports of new included studies", c.reports_included),
            ]
            if c.is_update
            else [
                _Entry("Studies included in review", c.studies_included),
                _Entry("Reports of included studies", c.reports_included),
            ],
        ),
    }
    if c.is_update:
        specs["previous"] = (
            1,
            "prev",
            [
                _Entry("Studies included in previous version of review", c.previous_studies),
                _Entry(
                    "Reports of studies included in previous version of review",
                    c.previous_reports,
                ),
            ],
        )
        specs["total"] = (
            5,
            "prev",
            [
                _Entry("Total studies included in review", c.total_studies),
                _Entry("Reports of total included studies", c.total_reports),
            ],
        )
    if c.has_other_methods:
        specs["other_identification"] = (
            1,
            "omain",
            _list_entries("Records identified from:", c.other_sources, "Other methods"),
        )
        if c.other_reports_sought is not None:
            specs["other_reports_sought"] = (
                3,
                "omain",
                [_Entry("Reports sought for retrieval", c.other_reports_sought)],
            )
        if c.other_reports_not_retrieved is not None:
            specs["other_reports_not_retrieved"] = (
                3,
                "oside",
                [_Entry("Reports not retrieved", c.other_reports_not_retrieved)],
            )
        if c.other_reports_assessed is not None:
            specs["other_reports_assessed"] = (
                4,
                "omain",
                [_Entry("Reports assessed for eligibility", c.other_reports_assessed)],
            )
        if c.other_reports_excluded is not None:
            specs["other_reports_excluded"] = (
                4,
                "oside",
                _list_entries("Reports excluded:", c.other_reports_excluded, "No reports excluded"),
            )
    return specs


def prisma_layout(counts: PrismaCounts) -> PrismaLayout:
    """Compute the position of every box, header, phase label and arrow.

    Boxes in one row are top-aligned, as in the published template, and rows grow to fit
    their tallest (wrapped) box; the arrow from a main box to its side box runs through
    the middle of the band both boxes share, so it is always straight.
    """
    col_x = {}
    x = MARGIN + PHASE_WIDTH + PHASE_GAP
    if counts.is_update:  # "Previous studies" comes first, left of the databases section
        col_x["prev"] = x
        x += MAIN_WIDTH + SECTION_GAP
    col_x["main"] = x
    col_x["side"] = x + MAIN_WIDTH + ARROW_GAP
    width = col_x["side"] + SIDE_WIDTH + MARGIN
    if counts.has_other_methods:
        col_x["omain"] = col_x["side"] + SIDE_WIDTH + SECTION_GAP
        col_x["oside"] = col_x["omain"] + MAIN_WIDTH + ARROW_GAP
        width = col_x["oside"] + SIDE_WIDTH + MARGIN
    col_w = {
        "prev": MAIN_WIDTH,
        "main": MAIN_WIDTH,
        "side": SIDE_WIDTH,
        "omain": MAIN_WIDTH,
        "oside": SIDE_WIDTH,
    }

    # Section headers (row 0).
    headers = []
    db_header_w = MAIN_WIDTH + ARROW_GAP + SIDE_WIDTH
    header_texts = [
        (
            "header_databases",
            "main",
            "Identification of new studies via databases and registers",
            HEADER_DB_FILL,
        )
    ]
    if counts.has_other_methods:
        header_texts.append(
            (
                "header_other",
                "omain",
                "Identification of new studies via other methods",
                HEADER_OTHER_FILL,
            )
        )
    if counts.is_update:
        header_texts.insert(
            0, ("header_previous", "prev", "Previous studies", HEADER_PREVIOUS_FILL)
        )
    header_w = {
        key: MAIN_WIDTH if col == "prev" else db_header_w for key, col, _, _ in header_texts
    }
    header_lines = {
        key: wrap_text(text, header_w[key] - 2 * PAD_X, size=HEADER_FONT_SIZE, bold=True)
        for key, _, text, _ in header_texts
    }
    header_h = max(
        2 * PAD_Y + max(len(v) for v in header_lines.values()) * (HEADER_FONT_SIZE + 5),
        MIN_BOX_HEIGHT - 6,
    )
    y = MARGIN
    for key, col, text, fill in header_texts:
        item = BoxItem(label=text, n=None, indent=0.0, lines=tuple(header_lines[key]))
        headers.append(
            LayoutBox(key, "header", col_x[col], y, header_w[key], header_h, (item,), fill)
        )
    y += header_h + ROW_GAP * 0.75

    # Flow boxes, row by row.
    specs = _box_specs(counts)
    sized = {
        key: (row, col, _items(entries, col_w[col])) for key, (row, col, entries) in specs.items()
    }
    # The one-row phases must be tall enough for their rotated label.
    phase_min = {
        row: text_width(label, PHASE_FONT_SIZE, bold=True) + 2 * PAD_Y + 8
        for row, label in ((1, "Identification"), (5, "Included"))
    }
    row_top: dict[int, float] = {}
    row_h: dict[int, float] = {}
    boxes: dict[str, LayoutBox] = {}
    for row in range(1, 6):
        in_row = {k: v for k, v in sized.items() if v[0] == row}
        heights = {
            k: max(_items_height(items), MIN_BOX_HEIGHT) for k, (_, _, items) in in_row.items()
        }
        row_h[row] = max([*heights.values(), MIN_BOX_HEIGHT, phase_min.get(row, 0.0)])
        row_top[row] = y
        for key, (_, col, items) in in_row.items():
            # As in the template, identification boxes share one height, and the
            # "included" box fills its phase band.
            h = row_h[row] if row in (1, 5) else heights[key]
            boxes[key] = LayoutBox(key, "box", col_x[col], y, col_w[col], h, items)
        y += row_h[row] + ROW_GAP
    height = y - ROW_GAP + MARGIN

    # Phase labels on the left: Identification (row 1), Screening (rows 2-4), Included (5).
    phases = []
    for key, label, first, last in (
        ("phase_identification", "Identification", 1, 1),
        ("phase_screening", "Screening", 2, 4),
        ("phase_included", "Included", 5, 5),
    ):
        top = row_top[first]
        bottom = row_top[last] + row_h[last]
        item = BoxItem(label=label, n=None, indent=0.0, lines=(label,))
        phases.append(
            LayoutBox(key, "phase", MARGIN, top, PHASE_WIDTH, bottom - top, (item,), PHASE_FILL)
        )

    arrows = _arrows(boxes, counts)
    return PrismaLayout(
        width=width,
        height=height,
        boxes=tuple(headers) + tuple(phases) + tuple(boxes.values()),
        arrows=tuple(arrows),
    )


def _down(a: LayoutBox, b: LayoutBox) -> Arrow:
    return Arrow(a.key, b.key, ((a.cx, a.bottom), (a.cx, b.y)))


def _right(a: LayoutBox, b: LayoutBox) -> Arrow:
    y = (max(a.y, b.y) + min(a.bottom, b.bottom)) / 2  # inside both boxes
    return Arrow(a.key, b.key, ((a.right, y), (b.x, y)))


def _arrows(boxes: dict[str, LayoutBox], counts: PrismaCounts) -> list[Arrow]:
    b = boxes
    chain = ["identification", "records_screened", "reports_sought", "reports_assessed", "included"]
    arrows = [_down(b[p], b[q]) for p, q in zip(chain, chain[1:], strict=False)]
    if counts.is_update:
        # The previous version's studies run down to the totals, and so do the new ones.
        arrows.append(_down(b["previous"], b["total"]))
        inc, total = b["included"], b["total"]
        arrows.append(Arrow(inc.key, total.key, ((inc.x, inc.cy), (total.right, inc.cy))))
    for main, side in (
        ("identification", "removed_before_screening"),
        ("records_screened", "records_excluded"),
        ("reports_sought", "reports_not_retrieved"),
        ("reports_assessed", "reports_excluded"),
        ("other_reports_sought", "other_reports_not_retrieved"),
        ("other_reports_assessed", "other_reports_excluded"),
    ):
        if main in b and side in b:
            arrows.append(_right(b[main], b[side]))
    if counts.has_other_methods:
        ochain = [
            k
            for k in ("other_identification", "other_reports_sought", "other_reports_assessed")
            if k in b
        ]
        arrows.extend(_down(b[p], b[q]) for p, q in zip(ochain, ochain[1:], strict=False))
        # The last other-methods box feeds "Studies included": down, then left.
        last, inc = b[ochain[-1]], b["included"]
        arrows.append(
            Arrow(
                last.key, inc.key, ((last.cx, last.bottom), (last.cx, inc.cy), (inc.right, inc.cy))
            )
        )
    return arrows


# ---------------------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------------------


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _sub(parent: ET.Element, tag: str, **attrs: object) -> ET.Element:
    return ET.SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attrs.items()})


def _draw_box(root: ET.Element, box: LayoutBox) -> None:
    g = _sub(root, "g", class_=f"prisma-{box.kind}", id=f"prisma-{box.key}")
    g.set("data-box", box.key)
    rx = 8 if box.kind in ("header", "phase") else 0
    _sub(
        g,
        "rect",
        x=_fmt(box.x),
        y=_fmt(box.y),
        width=_fmt(box.w),
        height=_fmt(box.h),
        rx=rx,
        fill=box.fill,
        stroke=BOX_STROKE if box.kind == "box" else "none",
        stroke_width="1.2",
    )
    if box.kind == "phase":
        label = box.items[0].label
        # Rotated -90 degrees about the band centre; baseline shifted by ~1/3 font size so
        # the glyphs look vertically centred in the band.
        t = _sub(
            g,
            "text",
            x=_fmt(box.cx + PHASE_FONT_SIZE * 0.35),
            y=_fmt(box.cy),
            transform=f"rotate(-90 {_fmt(box.cx + PHASE_FONT_SIZE * 0.35)} {_fmt(box.cy)})",
            text_anchor="middle",
            font_size=_fmt(PHASE_FONT_SIZE),
            font_weight="bold",
        )
        t.text = label
        return
    if box.kind == "header":
        item = box.items[0]
        line_h = HEADER_FONT_SIZE + 5
        first = box.cy - (len(item.lines) - 1) * line_h / 2 + HEADER_FONT_SIZE * 0.35
        t = _sub(
            g, "text", text_anchor="middle", font_size=_fmt(HEADER_FONT_SIZE), font_weight="bold"
        )
        for i, line in enumerate(item.lines):
            span = _sub(t, "tspan", x=_fmt(box.cx), y=_fmt(first + i * line_h))
            span.text = line
        return
    # Flow box: left-aligned items, each one <text> with a <tspan> per wrapped line, so a
    # label and its "(n = ...)" stay in one element even when wrapped.
    baseline = box.y + PAD_Y + FONT_SIZE * 0.95
    content_h = _items_height(box.items) - 2 * PAD_Y
    baseline += (box.h - 2 * PAD_Y - content_h) / 2  # centre content in stretched boxes
    for item in box.items:
        t = _sub(g, "text", class_="prisma-item")
        if item.n is not None:
            t.set("data-n", str(item.n))
        for i, line in enumerate(item.lines):
            indent = item.indent if i == 0 else item.indent + HANGING_INDENT
            span = _sub(t, "tspan", x=_fmt(box.x + PAD_X + indent), y=_fmt(baseline))
            span.text = line
            baseline += LINE_HEIGHT
        baseline += ITEM_GAP


def _draw_arrow(root: ET.Element, arrow: Arrow) -> None:
    pts = list(arrow.points)
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    # Stop the shaft at the base of the head so the line does not poke through the tip.
    base = (x1 - ux * ARROW_HEAD_LENGTH, y1 - uy * ARROW_HEAD_LENGTH)
    shaft = [*pts[:-1], base]
    g = _sub(root, "g", class_="prisma-arrow")
    g.set("data-from", arrow.start)
    g.set("data-to", arrow.end)
    _sub(
        g,
        "polyline",
        points=" ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in shaft),
        fill="none",
        stroke=BOX_STROKE,
        stroke_width="1.4",
    )
    px, py = -uy, ux
    head = [
        (x1, y1),
        (base[0] + px * ARROW_HEAD_HALF_WIDTH, base[1] + py * ARROW_HEAD_HALF_WIDTH),
        (base[0] - px * ARROW_HEAD_HALF_WIDTH, base[1] - py * ARROW_HEAD_HALF_WIDTH),
    ]
    _sub(g, "polygon", points=" ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in head), fill=BOX_STROKE)


def render_svg(counts: PrismaCounts, *, xml_declaration: bool = True) -> str:
    """Render the PRISMA 2020 flow diagram as a standalone SVG document.

    All user-supplied text (source names, exclusion reasons) is escaped by the XML
    serialiser, and characters that XML cannot carry are dropped. Pass
    ``xml_declaration=False`` to inline the ``<svg>`` element in an HTML page.
    """
    layout = prisma_layout(counts)
    ET.register_namespace("", SVG_NS)
    root = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "version": "1.1",
            "width": _fmt(layout.width),
            "height": _fmt(layout.height),
            "viewBox": f"0 0 {_fmt(layout.width)} {_fmt(layout.height)}",
            "font-family": f"'{FONT_FAMILY}', 'DejaVu Sans', Verdana, sans-serif",
            "font-size": _fmt(FONT_SIZE),
            "fill": "#000000",
            "role": "img",
            "aria-labelledby": "prisma-title",
        },
    )
    title = _sub(root, "title", id="prisma-title")
    title.text = "PRISMA 2020 flow diagram"
    _sub(
        root, "rect", x=0, y=0, width=_fmt(layout.width), height=_fmt(layout.height), fill="#ffffff"
    )
    for box in layout.boxes:
        _draw_box(root, box)
    for arrow in layout.arrows:
        _draw_arrow(root, arrow)
    svg = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg if xml_declaration else svg


def render_png(counts: PrismaCounts, dpi: int = 150) -> bytes:
    """Render the diagram as PNG at ``dpi`` (SVG px are taken as 1/96 inch)."""
    import cairosvg

    if dpi <= 0:
        raise PrismaCountsError(f"dpi must be positive, got {dpi}")
    return cairosvg.svg2png(
        bytestring=render_svg(counts).encode("utf-8"),
        scale=dpi / 96.0,
        dpi=96,
        background_color="white",
    )


def render_pdf(counts: PrismaCounts) -> bytes:
    """Render the diagram as a single-page vector PDF."""
    import cairosvg

    return cairosvg.svg2pdf(bytestring=render_svg(counts).encode("utf-8"))


_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(text: str) -> str:
    # Spreadsheet programs execute cells starting with these characters as formulas;
    # source names and reasons are user input (OWASP "CSV injection").
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


def counts_csv(counts: PrismaCounts) -> str:
    """Return the diagram's numbers as CSV with columns ``box, label, n``.

    ``box`` is a stable key (as used in the SVG's ``data-box`` attributes); ``label`` is
    the printed label (source name or exclusion reason for list boxes).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["box", "label", "n"])
    for key, (_, _, entries) in _box_specs(counts).items():
        for e in entries:
            if e.n is not None:
                writer.writerow([key, _csv_safe(_clean(e.label)), e.n])
    return out.getvalue()
