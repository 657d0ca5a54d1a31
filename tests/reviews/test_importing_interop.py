"""Every real export in ../shared/data/interop/ goes through the import service: the right
number of records, and the fields a screener sees, as the file has them.

The expected values were read from the files (each is checked to occur in the file's text
too, so a typo here cannot pass); `n` is checked against an independent count of the
file's records (TY lines, or CSV rows with a title).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from reviews import services
from reviews.importing import detect_format
from reviews.models import Record

INTEROP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "interop"
FILES = (
    sorted(p.relative_to(INTEROP).as_posix() for p in INTEROP.glob("*/*"))
    if INTEROP.exists()
    else []
)

pytestmark = pytest.mark.skipif(not INTEROP.exists(), reason="../shared/data is absent")


@dataclass(frozen=True)
class File:
    n: int  # records imported
    n_skipped: int  # rows or records told as skipped (with line and reason)
    fmt: str
    # The first record as the screener sees it.
    title: str  # its start
    authors: tuple[str, int]  # first author, number of authors
    year: int | None
    journal: str  # its start
    doi: str
    keywords: list[str]  # the first three, split
    abstract: str  # its start
    on_every: tuple[str, ...]  # fields no record of the file lacks
    notes: tuple[str, ...] = ()  # the start of each note the preview shows


EXPECTED = {
    "covidence/cff_baseline_covidence.csv": File(
        n=10,
        n_skipped=0,
        fmt="csv",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=[],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "covidence/cff_baseline_covidence_endnote.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=[],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "covidence/cff_baseline_covidence_mendeley.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=[],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "covidence/cff_baseline_covidence_refworks.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=[],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "covidence/cff_baseline_covidence_zotero.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=[],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_abstrackr.csv": File(
        n=10,
        n_skipped=1,
        fmt="csv",
        title="A new small duckbilled dinosaur (Hadrosauridae: Lambeosaurin",
        authors=("Longrich, N.R.", 4),
        year=None,
        journal="Sci Rep",
        doi="",
        keywords=["phosphate", "Africa", "animal"],
        abstract="In the Late Cretaceous, northern and sou",
        on_every=("title", "authors", "journal"),
    ),
    "databases/cff_baseline_cinahl.csv": File(
        n=10,
        n_skipped=0,
        fmt="csv",
        title="Osteohistological insight into the growth dynamics of early ",
        authors=("Curry Rogers, Kristina", 5),
        year=2024,
        journal="PLoS ONE",
        doi="10.1371/journal.pone.0298242",
        keywords=["FEMUR", "DINOSAURS", "MASS extinctions"],
        abstract="Dinosauria debuted on Earth's stage in t",
        on_every=("title", "abstract", "authors", "year", "journal", "doi", "keywords"),
    ),
    "databases/cff_baseline_cinahl.ris": File(
        n=9,
        n_skipped=0,
        fmt="ris",
        title="Osteohistological insight into the growth dynamics of early ",
        authors=("Curry Rogers, Kristina", 5),
        year=2024,
        journal="PLoS ONE",
        doi="10.1371/journal.pone.0298242",
        keywords=["FEMUR", "DINOSAURS", "MASS extinctions"],
        abstract="Dinosauria debuted on Earth's stage in t",
        on_every=("title", "abstract", "authors", "year", "journal", "doi", "keywords"),
    ),
    "databases/cff_baseline_citavi.ris": File(
        n=100,
        n_skipped=0,
        fmt="ris",
        title="Postoperative headache after surgical treatment of cerebello",
        authors=("Pogoda, Louis", 6),
        year=2021,
        journal="European archives of oto-rhino-laryngology : official journa",
        doi="10.1007/s00405-021-06627-6",
        keywords=[],
        abstract="Postoperative headache (POH) is a compli",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_cochrane.csv": File(
        n=3,
        n_skipped=0,
        fmt="csv",
        title="The Incredible Years Therapeutic Dinosaur Programme to build",
        authors=("Bywater, T", 5),
        year=2011,
        journal="Trials",
        doi="10.1186/1745-6215-12-39",
        keywords=["*school health service", "Academic achievement", "Analysis of covariance"],
        abstract="BACKGROUND: School interventions such as",
        on_every=("title", "abstract", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_cochrane_endnote.ris": File(
        n=3,
        n_skipped=0,
        fmt="ris",
        title="The Incredible Years Therapeutic Dinosaur Programme to build",
        authors=("Bywater, T", 5),
        year=2011,
        journal="Trials",
        doi="10.1186/1745-6215-12-39",
        keywords=["*school health service", "Academic achievement", "Analysis of covariance"],
        abstract="BACKGROUND: School interventions such as",
        on_every=("title", "abstract", "authors", "year", "journal", "doi"),
        notes=("9 line(s) of text outside any record were skipped (first on line 1)",),
    ),
    "databases/cff_baseline_embase.csv": File(
        n=10,
        n_skipped=0,
        fmt="csv",
        notes=(
            'Line(s) 1-3 above the header row were skipped (a search preamble, not records): "SEARCH QUERY","dinosaur:ti"',
        ),
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=[
            "keratin (endogenous compound)",
            "melanin (endogenous compound)",
            "animal scales",
        ],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi", "keywords"),
    ),
    "databases/cff_baseline_embase.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=["keratin", "melanin", "animal scales"],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_endnote.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Description of a new specimen of Haplocanthosaurus from the ",
        authors=("Boisvert, C.", 4),
        year=2024,
        journal="Anatomical Record",
        doi="10.1002/ar.25520",
        keywords=["article", "biostratigraphy", "Colorado"],
        abstract="A new specimen of Haplocanthosaurus is d",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_eppireviewer.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="A juvenile bird with possible crown-group affinities from a ",
        authors=("Brownstein C D", 1),
        year=2024,
        journal="BMC ecology and evolution",
        doi="10.1186/s12862-024-02210-9",
        keywords=["eppi-reviewer"],
        abstract="BACKGROUND: Living birds comprise the mo",
        on_every=("title", "authors", "year", "journal", "doi", "keywords"),
    ),
    "databases/cff_baseline_eric_ovid.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Creationism and the Dinosaur Boom.",
        authors=("Stokes, William Lee", 1),
        year=1989,
        journal="Journal of Geological Education",
        doi="",
        keywords=["Adolescent Literature", "Biological Influences", "Biology"],
        abstract="Discusses books and materials published ",
        on_every=("title", "abstract", "year", "keywords"),
        notes=("10 line(s) of text outside any record were skipped (first on line 1)",),
    ),
    "databases/cff_baseline_mendeley.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Description of a new specimen of Haplocanthosaurus from the ",
        authors=("Boisvert, C", 4),
        year=2024,
        journal="Anatomical Record",
        doi="10.1002/ar.25520",
        keywords=["Colorado", "Upper Jurassic", "article"],
        abstract="A new specimen of Haplocanthosaurus is d",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_psychInfo_ovid.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="DINOSAUR: An integrated cognitive-behavioral treatment for a",
        authors=("Keefer, Amy", 2),
        year=2021,
        journal="Journal of Neurodevelopmental Disorders",
        doi="10.1186/s11689-021-09396-9",
        keywords=[
            "*Anxiety Management",
            "*Autism Spectrum Disorders",
            "*Cognitive Behavior Therapy",
        ],
        abstract="Background: Anxiety disorders are highly",
        on_every=("title", "abstract", "authors", "year", "journal", "doi", "keywords"),
        notes=("10 line(s) of text outside any record were skipped (first on line 1)",),
    ),
    "databases/cff_baseline_pubmed.csv": File(
        n=10,
        n_skipped=0,
        fmt="csv",
        title="Time lapse: A glimpse into prehistoric genomics",
        authors=("Griffin DK", 3),
        year=2020,
        journal="Eur J Med Genet",
        doi="10.1016/j.ejmg.2019.03.004",
        keywords=[],
        abstract="",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_scopus.csv": File(
        n=10,
        n_skipped=0,
        fmt="csv",
        title="Global latitudinal gradients and the evolution of body size ",
        authors=("Wilson L.N.", 8),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-46843-2",
        keywords=["Animals", "Biological Evolution", "Body Size"],
        abstract="Global climate patterns fundamentally sh",
        on_every=("title", "abstract", "authors", "year", "journal", "doi", "keywords"),
    ),
    "databases/cff_baseline_scopus.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Global latitudinal gradients and the evolution of body size ",
        authors=("Wilson, L.N.", 8),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-46843-2",
        keywords=["Animals", "Biological Evolution", "Body Size"],
        abstract="Global climate patterns fundamentally sh",
        on_every=("title", "abstract", "authors", "year", "journal", "doi", "keywords"),
    ),
    "databases/cff_baseline_webofscience.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="New Horned Dinosaurs from Utah Provide Evidence for Intracon",
        authors=("Sampson, SD", 7),
        year=2010,
        journal="PLOS ONE",
        doi="10.1371/journal.pone.0012292",
        keywords=["1ST CERATOPSID DINOSAUR", "KAIPAROWITS FORMATION", "WESTERN INTERIOR"],
        abstract="Background: During much of the Late Cret",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_zotero.csv": File(
        n=10,
        n_skipped=0,
        fmt="csv",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=["article", "controlled study", "animal tissue"],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/cff_baseline_zotero.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nature Communications",
        doi="10.1038/s41467-024-48400-3",
        keywords=["article", "controlled study", "animal tissue"],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "databases/dimitrov_cinahl.csv": File(
        n=168,
        n_skipped=0,
        fmt="csv",
        title="Investigation of hearing loss in elderly vertigo and dizzine",
        authors=("Qian Wang", 8),
        year=2023,
        journal="Frontiers in Aging Neuroscience",
        doi="10.3389/fnagi.2023.1225786",
        keywords=[
            "Vertigo Complications",
            "Dizziness Complications",
            "Hearing Disorders Diagnosis",
        ],
        abstract="Background: Vertigo and hearing loss are",
        on_every=("title", "year", "journal"),
    ),
    "databases/dimitrov_embase.csv": File(
        n=568,
        n_skipped=0,
        fmt="csv",
        title="Predicting hearing help-seeking: What features are important",
        authors=("Angonese G.", 5),
        year=2023,
        journal="medRxiv",
        doi="10.1101/2023.02.14.23285904",
        keywords=[],
        abstract="Background: Mobile health care solutions",
        on_every=("authors", "year", "journal"),
    ),
    "databases/dimitrov_ieee.csv": File(
        n=93,
        n_skipped=0,
        fmt="csv",
        title="Intelligent Hearing System using Assistive Technology for He",
        authors=("W. Shehieb", 5),
        year=2018,
        journal="2018 IEEE 9th Annual Information Technology, Electronics and",
        doi="10.1109/iemcon.2018.8615021",
        keywords=["Artificial intelligence", "Assistive technology", "Computer vision"],
        abstract="Hearing is an important sense of coexist",
        on_every=("title", "abstract", "authors", "year", "journal", "doi"),
    ),
    "databases/dimitrov_medline.csv": File(
        n=859,
        n_skipped=0,
        fmt="csv",
        title="Interventions to prevent occupational noise-induced hearing ",
        authors=("Tikka C", 6),
        year=2017,
        journal="Cochrane Database Syst Rev",
        doi="10.1002/14651858.cd006396.pub4",
        keywords=[],
        abstract="",
        on_every=("title", "authors", "year", "journal"),
    ),
    "databases/dimitrov_psychinfo.csv": File(
        n=58,
        n_skipped=0,
        fmt="csv",
        title="Phenotypes and clinical subgroups in vestibular migraine: A ",
        authors=("Teggi, Roberto", 15),
        year=2024,
        journal="Neurological Sciences",
        doi="10.1007/s10072-023-07116-w",
        keywords=[],
        abstract="Objective: The aim of this multicentric ",
        on_every=("title", "abstract", "authors", "year", "journal"),
    ),
    "databases/dimitrov_scopus.csv": File(
        n=709,
        n_skipped=0,
        fmt="csv",
        title="Bridging the Divide: Brain and Behavior in Developmental Lan",
        authors=("Abbott N.", 2),
        year=2023,
        journal="Brain Sciences",
        doi="10.3390/brainsci13111606",
        keywords=[],
        abstract="Developmental language disorder (DLD) is",
        on_every=("title", "abstract", "year", "journal"),
    ),
    "rayyan/cff_baseline_rayyan.csv": File(
        n=10,
        n_skipped=0,
        fmt="csv",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nat. Commun.",
        doi="10.1038/s41467-024-48400-3",
        keywords=["keratin", "melanin", "animal scales"],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "rayyan/cff_baseline_rayyan.ris": File(
        n=10,
        n_skipped=0,
        fmt="ris",
        title="Cellular structure of dinosaur scales reveals retention of r",
        authors=("Yang, Z.", 4),
        year=2024,
        journal="Nat. Commun.",
        doi="10.1038/s41467-024-48400-3",
        keywords=["keratin", "melanin", "animal scales"],
        abstract="Fossil feathers have transformed our und",
        on_every=("title", "authors", "year", "journal", "doi"),
    ),
    "rayyan/rayyanR_MLJ_includes_articles.ris": File(
        n=5,
        n_skipped=0,
        fmt="ris",
        title="Exploring the potential of using simulation games for engagi",
        authors=("Jones, Matt L.", 10),
        year=2023,
        journal="Frontiers in Veterinary Science",
        doi="",
        keywords=[],
        abstract="IntroductionComputer simulation games ar",
        on_every=("title", "authors", "year"),
    ),
    "rayyan/rayyanR_tinea_update.ris": File(
        n=14,
        n_skipped=0,
        fmt="ris",
        title="Efficacy and safety of terbinafine hydrochloride 1% cream vs",
        authors=("S, Choudhary", 4),
        year=2013,
        journal="Indian journal of dermatology",
        doi="",
        keywords=["Nitrates", "Erythema", "Tinea"],
        abstract="Context: To the best of our knowledge, t",
        on_every=("title", "abstract", "authors", "year", "journal"),
    ),
}


def _independent_count(path: Path) -> int:
    """Records in the file by a naive reading: TY lines, or CSV rows with a title or an
    abstract."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".ris":
        return sum(1 for line in text.splitlines() if line.startswith("TY  -"))
    lines = text.splitlines(keepends=True)
    # The header is below any preamble: the first line naming a title column.
    start = next(i for i, ln in enumerate(lines) if re.search(r"(?i:title)|\bTI\b|/atl\b", ln))
    csv.field_size_limit(1 << 26)
    rows = list(csv.DictReader(lines[start:]))

    def column(*names: str) -> str | None:
        return next((h for h in rows[0] if h.lower() in names), None)

    title = column("title", "ti", "article title", "document title", "artinfo/tig/atl")
    abstract = column("abstract", "ab", "artinfo/ab/0")
    return sum(1 for row in rows if (row[title] or "").strip() or (row.get(abstract) or "").strip())


def test_every_interop_file_has_expectations():
    assert FILES and set(FILES) == set(EXPECTED)


@pytest.mark.parametrize("name", FILES)
def test_interop_file_imports_with_its_fields(cast, name):
    path, want = INTEROP / name, EXPECTED[name]
    data = path.read_bytes()
    text = data.decode("utf-8-sig")
    # The expected values are the file's own.
    for value in (want.title, want.authors[0], want.journal, want.abstract, *want.keywords):
        assert value in text, value
    assert want.doi.lower() in text.lower().replace("%2f", "/")  # Ovid links URL-encode it
    assert detect_format(text[:32768]) == want.fmt

    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(data), filename=path.name
    )
    assert (batch.format, batch.n_read, batch.n_skipped) == (want.fmt, want.n, want.n_skipped)
    for skipped in batch.skipped:
        assert skipped["line"] > 0 and skipped["reason"]
    assert len(batch.notes) == len(want.notes)
    for note, start in zip(batch.notes, want.notes, strict=True):
        assert note.startswith(start)
    batch = services.import_confirm(batch=batch, actor=cast.lead)
    assert batch.n_imported == want.n

    records = list(Record.objects.filter(batch=batch).order_by("id"))
    assert len(records) == want.n
    first = records[0]
    assert first.title.startswith(want.title)
    assert (first.authors[0], len(first.authors)) == want.authors
    assert first.year == want.year
    assert first.journal.startswith(want.journal)
    assert first.doi == want.doi
    assert first.keywords[:3] == want.keywords
    assert first.abstract.startswith(want.abstract)
    # Split keywords: no cell's whole list lands in one keyword.
    assert all(";" not in kw for r in records for kw in r.keywords)
    for field in want.on_every:
        assert all(getattr(r, field) for r in records), field
    assert all(r.source_fields for r in records)  # every column or tag kept with the record


@pytest.mark.parametrize("name", FILES)
def test_interop_record_counts_agree_with_a_naive_reading(name):
    assert EXPECTED[name].n == _independent_count(INTEROP / name)
