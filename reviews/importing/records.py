"""Record shapes produced by every format reader, and the helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reviews.dedup import normalise_doi, normalise_pmid

__all__ = [
    "ImportFormatError",
    "Notes",
    "ParsedRecord",
    "SkippedRecord",
    "parse_year",
    "split_keywords",
]


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (empty, binary, unknown format, no title column)."""


@dataclass(slots=True)
class ParsedRecord:
    """One bibliographic record as read from an export file."""

    line: int  # 1-based line where the record starts (CSV: the line its row starts on)
    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str = ""
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""
    keywords: list[str] = field(default_factory=list)
    language: str = ""
    url: str = ""
    record_type: str = ""
    source_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record that could not be read; the rest of the file still is."""

    line: int
    reason: str


class Notes(list[str]):
    """What a reader passed over without a record to show for it (a preamble above a CSV
    header, text between records, tags it does not know), told to the user in the preview.

    A list of sentences; a reader appends while it streams, so the list is complete once
    the records have all been read.
    """

    def add(self, message: str) -> None:
        if message not in self:
            self.append(message)


_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d|21\d\d)(?!\d)")


def parse_year(value: str | None) -> int | None:
    """First plausible 4-digit year in a date string ("2015///", "2015 May 5", "May 2015")."""
    if not value:
        return None
    match = _YEAR.search(value)
    return int(match.group(1)) if match else None


_KW_SPLIT = re.compile(r"\s*[\n;]\s*")


def split_keywords(values: list[str]) -> list[str]:
    """Keywords from tag values or cells: one per line (EndNote/Embase continuation) or
    separated by ";" with or without a space (Rayyan and IEEE write ``Humans;Animals``)."""
    out: list[str] = []
    for value in values:
        if ";" not in value:
            # Fast path: one keyword per line (already stripped by the readers).
            out.extend(filter(None, map(str.strip, value.split("\n"))))
            continue
        out.extend(filter(None, map(str.strip, _KW_SPLIT.split(value))))
    return out


def clean_doi(value: str) -> str:
    return normalise_doi(value)


def clean_pmid(value: str) -> str:
    return normalise_pmid(value)
