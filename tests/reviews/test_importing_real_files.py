"""The real exports in ../shared/data are read without losing a record or a shown field."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from reviews.dedup import normalise_doi
from reviews.importing import ParsedRecord, SkippedRecord, detect_format, iter_records

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
RIS_FILES = sorted((DATA / "imports").glob("*.ris")) if DATA.exists() else []
CSV_FILES = sorted((DATA / "screening").glob("*.csv")) if DATA.exists() else []

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is absent")


def _read(path: Path) -> list[ParsedRecord | SkippedRecord]:
    with path.open("rb") as fh:
        return list(iter_records(fh))


def _raw_ris_records(path: Path) -> list[dict[str, list[str]]]:
    """An independent, naive reading of the file: tag lines grouped between TY and ER."""
    records, current, last = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9])  - ?(.*)$", line)
        if match:
            tag, value = match.groups()
            if tag == "TY":
                current = {}
            if tag == "ER":
                records.append(current)
                current = None
                continue
            current.setdefault(tag, []).append(value.strip())
            last = tag
        elif current is not None and line.strip():
            current[last][-1] += "\n" + line.strip()
    return records


def test_shared_files_are_present():
    # Every file found is read below; the sets grow over time (nine labelled sets today).
    assert RIS_FILES and CSV_FILES


@pytest.mark.parametrize("path", RIS_FILES, ids=lambda p: p.name)
def test_ris_file_yields_one_record_per_ty_line(path):
    expected = sum(
        1 for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("TY  -")
    )
    items = _read(path)
    assert detect_format(path.read_text(encoding="utf-8")[:4096]) == "ris"
    assert [i for i in items if isinstance(i, SkippedRecord)] == []
    assert len(items) == expected
    assert expected > 0


@pytest.mark.parametrize("path", RIS_FILES, ids=lambda p: p.name)
def test_ris_file_keeps_every_shown_field(path):
    raw = _raw_ris_records(path)
    records = _read(path)
    assert len(raw) == len(records)
    for tags, rec in zip(raw, records, strict=True):
        assert rec.title == tags["TI"][0].replace("\n", " ")
        assert rec.authors == tags["AU"]
        assert rec.year == int(tags["PY"][0][:4])
        if "AB" in tags:
            assert rec.abstract == tags["AB"][0]
        if "DO" in tags:
            assert rec.doi == normalise_doi(tags["DO"][0])
            assert rec.doi == rec.doi.lower() and not rec.doi.startswith("http")
        if "T2" in tags:
            assert rec.journal == tags["T2"][0]
        if "AN" in tags and tags["AN"][0].isdigit():
            assert rec.pmid == tags["AN"][0]
        if "KW" in tags:
            assert rec.keywords == [k for k in tags["KW"][0].split("\n") if k]
        # Nothing is lost: every tag and its multi-line value is kept in source_fields.
        assert rec.source_fields == tags


def test_endnote_file_details():
    path = DATA / "imports" / "van_de_schoot_2017_ptsd_included_2.ris"
    first = _read(path)[0]
    assert first.line == 1
    assert first.title.startswith("Trajectory of post-traumatic stress following traumatic injury")
    assert first.pmid == "25657356"
    assert first.doi == "10.1192/bjp.bp.114.145516"
    assert first.volume == "206" and first.issue == "5" and first.pages == "417-23"
    assert first.keywords[0] == "Adolescent" and "Young Adult" in first.keywords
    # N1's untagged continuation lines stay with N1.
    assert first.source_fields["N1"][0].split("\n")[1] == "Bryant, Richard A"
    assert first.source_fields["L1"] == [
        "internal-pdf://1669821051/Bryant-2015-Trajectory of post-traumatic stres.pdf"
    ]


def test_embase_file_details():
    path = DATA / "imports" / "kwok_2020_embase_included.ris"
    records = _read(path)
    first = records[0]
    assert len(first.authors) == 22 and first.authors[-1] == "Nagai, M."
    assert first.source_fields["DB"] == ["Embase\nMedline"]
    assert first.url.startswith("http://www.embase.com/")
    # Embase's "WOS:..." accession numbers are not PMIDs.
    wos = [r for r in records if r.source_fields.get("AN", [""])[0].startswith("WOS:")]
    assert wos and all(r.pmid == "" for r in wos)
    # CRLF line ends do not leak into values.
    assert all("\r" not in r.title and "\r" not in r.abstract for r in records)


@pytest.mark.parametrize("path", CSV_FILES, ids=lambda p: p.name)
def test_asreview_csv_reads_every_row_and_column(path):
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    items = _read(path)
    assert len(items) == len(rows) > 0
    for row, rec in zip(rows, items, strict=True):
        assert isinstance(rec, ParsedRecord)
        assert rec.title == row["title"].strip()
        assert rec.pmid == row["pubmedID"]
        assert rec.abstract == row["abstract"].strip()
        expected_authors = [a.strip() for a in row["authors"].split(";") if a.strip()]
        assert rec.authors == expected_authors
        assert rec.keywords == [k.strip() for k in row["keywords"].split(";") if k.strip()]
        assert rec.source_fields == row
