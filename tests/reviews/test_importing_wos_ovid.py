"""Web of Science plain text and tab-delimited, Ovid direct export: real excerpts and fuzzing.

The fixtures are real exports from public repositories (see tests/fixtures/imports/README.md).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviews.importing import (
    ImportFormatError,
    Notes,
    ParsedRecord,
    SkippedRecord,
    detect_format,
    iter_records,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"

# The header of a Web of Science tab-delimited export (68 columns, as Clarivate writes it).
WOS_TAB_HEADER = [
    "PT",
    "AU",
    "BA",
    "BE",
    "GP",
    "AF",
    "BF",
    "CA",
    "TI",
    "SO",
    "SE",
    "BS",
    "LA",
    "DT",
    "CT",
    "CY",
    "CL",
    "SP",
    "HO",
    "DE",
    "ID",
    "AB",
    "C1",
    "RP",
    "EM",
    "RI",
    "OI",
    "FU",
    "FX",
    "CR",
    "NR",
    "TC",
    "Z9",
    "U1",
    "U2",
    "PU",
    "PI",
    "PA",
    "SN",
    "EI",
    "BN",
    "J9",
    "JI",
    "PD",
    "PY",
    "VL",
    "IS",
    "PN",
    "SU",
    "SI",
    "MA",
    "BP",
    "EP",
    "AR",
    "DI",
    "D2",
    "EA",
    "EY",
    "PG",
    "WC",
    "SC",
    "GA",
    "UT",
    "PM",
    "OA",
    "HC",
    "HP",
    "DA",
]


def read(data: bytes, fmt: str | None = None) -> tuple[list[ParsedRecord | SkippedRecord], Notes]:
    notes = Notes()
    items = list(iter_records(io.BytesIO(data), fmt=fmt, notes=notes))
    return items, notes


def records(items) -> list[ParsedRecord]:
    assert all(isinstance(i, ParsedRecord) for i in items), items
    return items


# --- Web of Science plain text --------------------------------------------------------------


def test_wos_clarivate_plain_text():
    data = (FIXTURES / "wos_plaintext_clarivate.txt").read_bytes()
    assert detect_format(data.decode("utf-8-sig")) == "wos"
    items, notes = read(data)
    first, second, third = records(items)
    assert first.line == 3  # the PT line, after FN and VR
    # TI wraps onto a continuation line: joined with a space.
    assert first.title == (
        "Caregivers' views on stigmatization and discrimination of people affected by "
        "leprosy in Ghana"
    )
    # AF (full names), one per continuation line, rather than AU's initials.
    assert first.authors == ["Asampong, Emmanuel", "Gyeke, Mavis Dako Plusminus", "Oduro, Razak"]
    assert first.source_fields["AU"] == ["Asampong, E\nGyeke, MDP\nOduro, R"]
    assert (first.year, first.journal, first.volume, first.issue) == (
        2018,
        "PLOS NEGLECTED TROPICAL DISEASES",
        "12",
        "1",
    )
    assert first.pages == "e0006219"  # an article number, no BP/EP
    assert (first.doi, first.pmid) == ("10.1371/journal.pntd.0006219", "29377890")
    assert first.keywords == ["MENTAL-HEALTH", "STIGMA", "INDIA"]
    assert (first.language, first.record_type) == ("English", "Article")
    # The structured abstract keeps its paragraphs.
    assert first.abstract.startswith("Background\nLeprosy is a condition")
    assert first.abstract.endswith("prevailing economic conditions in the country.")
    assert first.source_fields["UT"] == ["WOS:000424022700066"]
    # Keywords Plus wrap mid-list: the line end is a space, not a separator.
    assert second.keywords == [
        "DEVELOPING-COUNTRIES",
        "RANDOMIZED-TRIAL",
        "HEALTH BEHAVIORS",
        "STRATEGY",
        "IMPACT",
        "FACE",
        "DISEASE",
        "WATER",
    ]
    assert second.record_type == "Review" and second.line == 62
    assert third.title == "Emerging trends of Zika apprehension in an epidemic setting"
    assert third.authors[-1] == "Flamand, Claude"
    assert list(notes) == []  # every line belonged to a record or the header


def test_wos_thomson_plain_text_with_bom():
    data = (FIXTURES / "wos_plaintext_thomson.isi").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfFN Thomson Reuters Web of Science")
    items, notes = read(data)
    first, second = records(items)
    assert first.title == "Supervenience and causation: A probabilistic approach"
    assert first.authors == ["Kim, S"]
    assert (first.year, first.journal, first.pages) == (2000, "SYNTHESE", "245-259")
    assert first.doi == "10.1023/a:1005282128866"
    # Cited references stay with the record, one per line.
    assert len(first.source_fields["CR"][0].split("\n")) == 13
    assert (second.year, second.keywords, second.abstract) == (2001, ["CAUSALITY"], "")
    assert list(notes) == []


def test_wos_missing_er_unknown_tags_and_stray_lines_are_told():
    text = (
        "FN Clarivate Analytics Web of Science\nVR 1.0\n"
        "PT J\nAU Doe, J\nTI First\nXQ not a WoS tag\nPY 2020\n"  # no ER: the next PT closes it
        "PT J\nTI Second\nER\n"
        "stray text between records\n"
        "AU Roe, R\nTI Third, its PT line lost\nER\nEF\n"
    )
    items, notes = read(text.encode())
    first, second, third = records(items)
    assert (first.title, first.year, first.source_fields["XQ"]) == (
        "First",
        2020,
        ["not a WoS tag"],
    )
    assert (second.title, second.line) == ("Second", 8)
    assert (third.title, third.authors) == ("Third, its PT line lost", ["Roe, R"])
    assert any("1 line(s) outside any record" in n and "line 11" in n for n in notes)
    assert any("XQ" in n and "not shown" in n for n in notes)


def test_wos_records_across_chunk_boundaries_keep_their_line_numbers():
    """3 MB: records cross the 1 MiB pieces the reader is handed; none is cut or lost."""
    text = (FIXTURES / "wos_plaintext_clarivate.txt").read_text(encoding="utf-8-sig")
    body = text[text.index("PT J") : text.rindex("EF")]
    copies = 3 * 1024 * 1024 // len(body) + 1
    data = ("FN Clarivate Analytics Web of Science\nVR 1.0\n" + body * copies + "EF\n").encode()
    items, notes = read(data)
    got = records(items)
    assert len(got) == 3 * copies
    lines = data.decode().split("\n")
    assert all(lines[r.line - 1] == "PT J" for r in got)
    assert [r.doi for r in got[:3]] == [r.doi for r in got[-3:]]
    assert list(notes) == []


def test_wos_corrupt_record_is_skipped_and_the_rest_read():
    good = "PT J\nTI A good record with a title long enough\nPY 2001\nER\n\n" * 10
    text = "FN x\nVR 1.0\nPT J\nTI Bad\x00title\nER\n\n" + good + "EF\n"
    items, _ = read(text.encode())
    assert isinstance(items[0], SkippedRecord) and items[0].line == 3
    assert "unreadable" in items[0].reason
    assert len(records(items[1:])) == 10


def test_wos_record_without_title_abstract_or_ids_is_skipped():
    items, _ = read(b"FN x\nVR 1.0\nPT J\nAU Doe, J\nPY 2001\nER\nEF\n")
    (skipped,) = items
    assert isinstance(skipped, SkippedRecord) and "no title" in skipped.reason


# --- Web of Science tab-delimited -----------------------------------------------------------


def _as_tab_delimited(items: list[ParsedRecord]) -> str:
    """The records under Clarivate's tab-delimited header: people "; "-separated, other
    continuation lines joined with a space, as Web of Science writes them."""
    lines = ["\t".join(WOS_TAB_HEADER) + "\t"]
    for rec in items:
        cells = []
        for tag in WOS_TAB_HEADER:
            value = rec.source_fields.get(tag, [""])[0]
            sep = "; " if tag in ("AU", "AF", "CA", "BA", "BF", "BE", "GP", "CR", "C1") else " "
            cells.append(sep.join(value.split("\n")))
        lines.append("\t".join(cells) + "\t")
    return "\n".join(lines) + "\n"


def test_wos_tab_delimited_reads_like_the_plain_text():
    plain = records(read((FIXTURES / "wos_plaintext_clarivate.txt").read_bytes())[0])
    text = _as_tab_delimited(plain)
    assert detect_format(text) == "wos_tab"
    for encoded in (text.encode("utf-8"), b"\xff\xfe" + text.encode("utf-16-le")):
        tab, notes = read(encoded)
        tab = records(tab)
        assert [r.line for r in tab] == [2, 3, 4]
        for a, b in zip(plain, tab, strict=True):
            assert (a.title, a.authors, a.year, a.journal, a.doi, a.pmid, a.keywords) == (
                b.title,
                b.authors,
                b.year,
                b.journal,
                b.doi,
                b.pmid,
                b.keywords,
            )
            assert b.abstract == a.abstract.replace("\n", " ")
        assert list(notes) == []


def test_wos_tab_delimited_quotes_are_text_and_bad_rows_are_skipped():
    header = "\t".join(WOS_TAB_HEADER)
    col = {tag: i for i, tag in enumerate(WOS_TAB_HEADER)}

    def row(**values: str) -> str:
        cells = [""] * len(WOS_TAB_HEADER)
        for tag, value in values.items():
            cells[col[tag]] = value
        return "\t".join(cells)

    text = "\n".join(
        [
            header,
            row(PT="J", TI='A "quoted" title', AU="Doe, J; Roe, R", PY="2019"),
            row(PT="J", TI="Next line is read", PY="2020"),
            row(PT="J", TI="Too many", PY="2021") + "\tstray\tcells",
            row(PT="J", AU="Nobody, N"),
        ]
    )
    items, _ = read(text.encode())
    quoted, nxt, too_many, empty = items
    assert quoted.title == 'A "quoted" title' and quoted.authors == ["Doe, J", "Roe, R"]
    assert nxt.title == "Next line is read" and nxt.line == 3
    assert isinstance(too_many, SkippedRecord) and "columns" in too_many.reason
    assert isinstance(empty, SkippedRecord) and empty.line == 5


def test_wos_tab_header_is_checked_at_once():
    with pytest.raises(ImportFormatError, match="not a Web of Science tab-delimited header"):
        iter_records(io.BytesIO(b"title,authors\nA,B\n"), fmt="wos_tab")


# --- Ovid direct export ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ovid_embase_citavi.ovd", "ovid_embase_endnote.cgi"])
def test_ovid_direct_export(name):
    data = (FIXTURES / name).read_bytes()
    assert detect_format(data.decode()) == "ovid"
    items, notes = read(data)
    first, second = records(items)
    assert first.line == 1 and first.source_fields["UI"] == ["621381829"]
    assert first.title == (
        "Quality of life in patients with primary ciliary dyskinesia: A systematic review."
    )
    assert first.authors == ["Behan L.", "Rubbo B.", "Lucas J.S.", "Galvin A.D."]
    assert first.year == 2018
    assert first.journal == "BMC Proceedings"  # no JN: the source up to its first ". "
    assert first.doi == "10.1186/s12919-018-0099-8"
    assert first.pmid == ""  # an Embase accession number is not a PMID
    assert first.keywords[:3] == ["adult", "anxiety", "awareness"]
    assert "*Kartagener syndrome" in first.keywords and len(first.keywords) == 20
    assert (first.language, first.record_type) == ("English", "Conference Abstract")
    assert first.abstract.startswith("Background: As in most rare diseases")
    assert first.abstract.endswith("Interventions that ameliorate these issues need investigation.")
    # IN's six-space continuation line stays with IN; IS is the ISSN, not the issue.
    assert first.source_fields["IN"][0].split("\n")[1].startswith("(Behan, Galvin)")
    assert first.issue == "" and first.source_fields["IS"] == ["1753-6561"]
    assert second.title.startswith("Development of a bioinformatics analysis method")
    assert second.authors == ["Dyskinesia P.C.", "Server E.A."]
    assert list(notes) == []


def test_ovid_both_variants_read_the_same_fields():
    citavi = records(read((FIXTURES / "ovid_embase_citavi.ovd").read_bytes())[0])
    endnote = records(read((FIXTURES / "ovid_embase_endnote.cgi").read_bytes())[0])
    for a, b in zip(citavi, endnote, strict=True):
        assert (a.title, a.authors, a.year, a.journal, a.doi, a.keywords) == (
            b.title,
            b.authors,
            b.year,
            b.journal,
            b.doi,
            b.keywords,
        )
        # EndNote's variant breaks the abstract into paragraphs on unindented lines.
        assert a.abstract.replace("\n", " ") == " ".join(b.abstract.split("\n")).replace("  ", " ")


def test_ovid_medline_ui_is_the_pmid_and_a_search_banner_is_told():
    text = (
        "Database: Ovid MEDLINE(R) ALL <1946 to June 02, 2024>\n"
        "Search Strategy:\n--------------------------------------------------------------\n"
        "1     exp Hearing Loss/ (81234)\n\n"
        "<1. >\nVN  - Ovid Technologies\nDB  - Ovid MEDLINE(R) ALL\nUI  - 28685503\n"
        "TI  - Interventions to prevent occupational noise-induced hearing loss.\n"
        "SO  - Cochrane Database of Systematic Reviews. 7:CD006396, 2017 07 07.\n"
        "AU  - Tikka C\nAU  - Verbeek JH\nJT  - The Cochrane database of systematic reviews\n"
        "YR  - 2017\nMH  - Hearing Loss, Noise-Induced/pc [Prevention & Control]\n\n"
        "<2. >\nVN  - Ovid Technologies\nDB  - Ovid MEDLINE(R) ALL\nUI  - 1\nER  - x\n"
    )
    items, notes = read(text.encode())
    first, second = items
    assert (
        first.pmid == "28685503" and first.journal == "The Cochrane database of systematic reviews"
    )
    assert first.keywords == ["Hearing Loss, Noise-Induced/pc [Prevention & Control]"]
    assert first.line == 6
    assert second.pmid == "1"  # a record with no title but a PMID is kept
    assert any("4 line(s) outside any record" in n and "line 1" in n for n in notes)


# --- Fuzzing: any record written in the format reads back ---------------------------------

_text = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters=";"
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@st.composite
def wos_records(draw) -> list[dict]:
    return [
        {
            "title": draw(_text),
            "authors": draw(st.lists(_text, min_size=1, max_size=4)),
            "year": draw(st.integers(1900, 2030)),
            "keywords": draw(st.lists(_text, max_size=4, unique=True)),
        }
        for _ in range(draw(st.integers(1, 4)))
    ]


@given(recs=wos_records(), crlf=st.booleans())
def test_wos_plain_text_round_trip(recs, crlf):
    out = ["FN Clarivate Analytics Web of Science", "VR 1.0"]
    for rec in recs:
        out += ["PT J", "AF " + rec["authors"][0]] + ["   " + a for a in rec["authors"][1:]]
        out += ["TI " + rec["title"], f"PY {rec['year']}"]
        if rec["keywords"]:
            out.append("DE " + "; ".join(rec["keywords"]))
        out += ["ER", ""]
    out.append("EF")
    data = ("\r\n" if crlf else "\n").join(out).encode()
    items, notes = read(data, fmt="wos")
    got = records(items)
    assert [(r.title, r.authors, r.year, r.keywords) for r in got] == [
        (r["title"], r["authors"], r["year"], r["keywords"]) for r in recs
    ]
    assert list(notes) == []


@given(recs=wos_records())
def test_ovid_direct_export_round_trip(recs):
    out = []
    for n, rec in enumerate(recs, 1):
        out += [f"<{n}. >", "VN  - Ovid Technologies", "DB  - Embase", f"UI  - {600000000 + n}"]
        out += ["TI  - " + rec["title"]] + ["AU  - " + a for a in rec["authors"]]
        out += ["MH  - " + k for k in rec["keywords"]] + [f"YR  - {rec['year']}", ""]
    items, notes = read("\n".join(out).encode(), fmt="ovid")
    got = records(items)
    assert [(r.title, r.authors, r.year, r.keywords) for r in got] == [
        (r["title"], r["authors"], r["year"], r["keywords"]) for r in recs
    ]
    assert list(notes) == []


# --- The wosfile package (a dedicated Web of Science reader) agrees --------------------------


@pytest.mark.parametrize("name", ["wos_plaintext_clarivate.txt", "wos_plaintext_thomson.isi"])
def test_wosfile_reads_the_same_records(name):
    wosfile = pytest.importorskip("wosfile")
    path = FIXTURES / name
    theirs = list(wosfile.records_from(str(path)))
    ours = records(read(path.read_bytes())[0])
    assert len(theirs) == len(ours) > 0
    for their, our in zip(theirs, ours, strict=True):
        assert our.title == their["TI"]
        assert our.authors == their.get("AF", their["AU"])
        assert our.year == int(their["PY"])
        assert our.journal == their["SO"]
        assert our.doi == their["DI"].lower()
        assert our.pmid == their.get("PM", "")
        keywords = [k for tag in ("DE", "ID") for k in their.get(tag, [])]
        assert our.keywords == list(dict.fromkeys(keywords))
        # wosfile joins abstract paragraphs with a space, we keep them as lines.
        assert our.abstract.replace("\n", " ") == their.get("AB", "")


# --- Text between records of the older formats is told too ---------------------------------


def test_ris_and_medline_banners_between_records_are_told():
    items, notes = read((FIXTURES / "ovid_zotero_dialects.ris").read_bytes())
    assert len(records(items)) == 3
    (note,) = notes  # the 4-line Ovid banner, and "<2>" / "Unique Identifier" between records
    assert note.startswith("6 line(s) of text outside any record were skipped (first on line 1)")
    nbib = b"Search: peer support\n\nPMID- 1\nTI  - One\n\nPMID- 2\nTI  - Two\n"
    items, notes = read(nbib)
    assert [r.title for r in records(items)] == ["One", "Two"]
    assert list(notes) == [
        "1 line(s) of text outside any record were skipped (first on line 1): a search "
        "banner, not a record."
    ]
