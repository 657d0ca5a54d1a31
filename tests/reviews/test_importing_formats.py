"""Each format and dialect, read from small crafted files in tests/fixtures/imports."""

from __future__ import annotations

import io
from pathlib import Path

import nbib
import pytest

from reviews.importing import (
    ImportFormatError,
    ParsedRecord,
    SkippedRecord,
    csv_headers,
    detect_format,
    guess_csv_mapping,
    iter_records,
)
from reviews.importing.ris import parse_ris

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def read(name: str, **kwargs) -> list[ParsedRecord | SkippedRecord]:
    with (FIXTURES / name).open("rb") as fh:
        return list(iter_records(fh, **kwargs))


def records(items) -> list[ParsedRecord]:
    return [i for i in items if isinstance(i, ParsedRecord)]


def skipped(items) -> list[SkippedRecord]:
    return [i for i in items if isinstance(i, SkippedRecord)]


# --- RIS -------------------------------------------------------------------------------


def test_ris_dialects_ovid_zotero_with_banner_and_junk_between_records():
    items = read("ovid_zotero_dialects.ris")
    assert skipped(items) == []
    first, chapter, zotero = records(items)
    assert first.line == 6  # after the 5-line Ovid banner
    assert first.title == "Peer support for people with severe mental illness: a randomised trial"
    assert first.authors == ["Smith, John A.", "Müller, Jörg"]  # A1 tags
    assert first.year == 2019  # Y1 "2019//"
    assert first.journal == "Psychiatric Services"  # JF before JA
    assert first.pages == "201-209"  # SP + EP
    assert (
        first.abstract
        == "Background: peer support is widely offered.\nMethods: we randomised 300 adults."
    )
    assert first.pmid == "31234567"  # M1
    assert first.doi == "10.1176/appi.ps.2019.0001"  # from a doi.org URL, lower-cased
    assert first.keywords == ["Peer Group", "Mental Disorders/th [Therapy]"]
    assert chapter.record_type == "CHAP" and chapter.journal == "Handbook of Recovery"
    assert chapter.doi == "10.1007/978-3-319-00000-0_5"
    assert zotero.year == 2020  # DA "2020/05/01/"
    assert zotero.doi == "10.1080/09638237.2020.1234567"  # "doi:" prefix removed
    assert zotero.pmid == "32345678"  # "PMID: 32345678" in AN
    assert zotero.language == "en"


def test_one_corrupt_record_among_good_ones_is_skipped_with_line_and_reason():
    items = read("corrupt_among_good.ris")
    good = records(items)
    assert [r.title for r in good] == [
        "First good record",
        "Second good record",
        "Third good record, its ER line is missing",
        "Last record, file truncated before ER",
    ]
    assert [r.line for r in good] == [1, 21, 27, 30]
    bad = skipped(items)
    assert [s.line for s in bad] == [7, 12, 16]
    assert "unreadable characters on line 8" in bad[0].reason
    assert "outside a record" in bad[1].reason and "12-14" in bad[1].reason
    assert "no title" in bad[2].reason


def test_ris_single_space_dialect_and_line_by_line_input_agree_with_chunked():
    text = "TY - JOUR\nTI - Single spaced tags\nAU - Roe, R.\nPY - 1999\nER - \n"
    (rec,) = list(parse_ris([text]))
    assert (rec.title, rec.authors, rec.year) == ("Single spaced tags", ["Roe, R."], 1999)
    path = FIXTURES / "corrupt_among_good.ris"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert list(parse_ris(lines)) == read("corrupt_among_good.ris")


def test_ris_records_spanning_chunk_boundaries_keep_their_line_numbers():
    record = "TY  - JOUR\nTI  - Title {i}\nAB  - {pad}\nER  - \n\n"
    text = "".join(record.format(i=i, pad="x" * (i * 37 % 3000)) for i in range(400))
    chunks = [text[i : i + 10_000] for i in range(0, len(text), 10_000)]
    # Chunks must end at line ends: move each partial last line to the next chunk.
    fixed, carry = [], ""
    for chunk in chunks:
        chunk = carry + chunk
        cut = chunk.rfind("\n") + 1
        fixed.append(chunk[:cut])
        carry = chunk[cut:]
    fixed.append(carry)
    got = list(parse_ris(fixed))
    assert [r.title for r in got] == [f"Title {i}" for i in range(400)]
    assert [r.line for r in got] == [1 + 5 * i for i in range(400)]


# --- PubMed MEDLINE --------------------------------------------------------------------


def test_nbib_records_and_fields():
    items = read("pubmed_sample.nbib")
    first, second = records(items)
    assert first.title == (
        "Trajectory of post-traumatic stress following traumatic injury: 6-year follow-up."
    )
    assert first.authors == ["Bryant, Richard A", "Nickerson, Angela"]  # FAU, not AU
    assert (first.year, first.volume, first.issue, first.pages) == (2015, "206", "5", "417-23")
    assert first.doi == "10.1192/bjp.bp.114.145516" and first.pmid == "25657356"
    assert first.journal.startswith("The British journal of psychiatry")
    assert first.keywords == ["Adolescent", "Stress Disorders, Post-Traumatic/*diagnosis", "trauma"]
    assert first.source_fields["PT"] == ["Journal Article", "Multicenter Study"]
    assert second.doi == "" and second.authors[-1] == "PTSD Trajectories Group"
    (bad,) = skipped(items)
    assert bad.line == 43 and "no title" in bad.reason


def test_nbib_agrees_with_the_nbib_package_on_good_records():
    text = (FIXTURES / "pubmed_sample.nbib").read_text(encoding="utf-8")
    good_part = text.split("\n\nOWN - NLM\nDP  - 2016")[0] + "\n"
    oracle = nbib.read(good_part)
    ours = records(iter_records(io.BytesIO(good_part.encode())))
    assert len(oracle) == len(ours) == 2
    for ref, rec in zip(oracle, ours, strict=True):
        assert rec.title == ref["title"]
        assert rec.pmid == str(ref["pubmed_id"])
        assert rec.authors[: len(ref["authors"])] == [a["author"] for a in ref["authors"]]
        assert rec.doi == ref.get("doi", "")


# --- BibTeX ----------------------------------------------------------------------------


def test_bibtex_broken_entry_is_skipped_and_the_rest_read():
    items = read("broken_entry.bib")
    paper, conference, same_key = records(items)
    assert paper.line == 4
    assert paper.title == "Peer support for people with Severe mental illness"
    assert paper.authors == ["Smith, John", "Müller, Jörg", "Doe, A."]  # LaTeX accents decoded
    assert paper.journal == "Journal of Mental Health"  # @string macro resolved
    assert paper.pages == "101-110" and paper.year == 2019
    assert paper.doi == "10.1080/09638237.2019.0001" and paper.pmid == "31111111"
    assert paper.keywords == ["peer support", "recovery"]
    assert paper.source_fields["ID"] == "smith2019"
    assert conference.journal == "Proceedings of the Mental Health Conference"
    assert conference.record_type == "inproceedings"
    # A repeated citation key is another record, not an error.
    assert same_key.title == "Same key again, a different paper"
    (bad,) = skipped(items)
    assert bad.line == 17 and "syntax error" in bad.reason


def test_bibtex_streams_in_chunks_with_correct_line_numbers():
    entry = "@article{{k{i},\n  title = {{Entry {i}}},\n  year = {{2001}}\n}}\n"
    text = "@string{x = {y}}\n" + "".join(entry.format(i=i) for i in range(450))
    got = records(iter_records(io.BytesIO(text.encode())))
    assert len(got) == 450
    assert [r.line for r in got[:3]] == [2, 6, 10] and got[-1].line == 2 + 4 * 449
    assert got[-1].title == "Entry 449"


# --- CSV -------------------------------------------------------------------------------


def test_csv_with_non_standard_headers_is_mapped_automatically():
    with (FIXTURES / "wos_semicolon.csv").open("rb") as fh:
        headers = csv_headers(fh)
    assert headers == [
        "Article Title",
        "Author Full Names",
        "Publication Year",
        "Source Title",
        "DOI",
        "Abstract",
    ]
    mapping = guess_csv_mapping(headers)
    assert mapping["title"] == "Article Title" and mapping["authors"] == "Author Full Names"
    (rec,) = read("wos_semicolon.csv")
    assert rec.line == 2
    assert rec.title == "Peer support, a trial" and rec.authors == ["Smith, John", "Doe, Ann"]
    assert (rec.year, rec.journal, rec.doi) == (2019, "J Ment Health", "10.1080/abc.1")


def test_csv_without_title_column_is_refused_unless_mapped():
    with pytest.raises(ImportFormatError, match="no title column"):
        read("no_title_column.csv")
    mapping = {"title": "name_of_paper", "authors": "writer", "year": "when"}
    (rec,) = read("no_title_column.csv", csv_mapping=mapping)
    assert (rec.title, rec.authors, rec.year) == ("Peer support", ["Smith J"], 2019)
    with pytest.raises(ImportFormatError, match="lacks"):
        read("no_title_column.csv", csv_mapping={"title": "Title"})


def test_csv_bad_rows_are_skipped_with_row_lines():
    text = (
        "title,authors,year\n"
        '"Multi-line\ntitle",A,2001\n'
        ",,\n"
        ",B,2002\n"
        "Too,many,2003,columns,here\n"
        "Fine,C,2004\n"
    )
    items = list(iter_records(io.BytesIO(text.encode()), fmt="csv"))
    assert [(type(i).__name__, i.line) for i in items] == [
        ("ParsedRecord", 2),
        ("SkippedRecord", 5),
        ("SkippedRecord", 6),
        ("ParsedRecord", 7),
    ]
    assert items[0].title == "Multi-line\ntitle"
    assert "no title" in items[1].reason and "columns" in items[2].reason


def test_guess_csv_mapping_for_asreview_headers():
    headers = [
        "record_id",
        "pubmedID",
        "title",
        "keywords",
        "authors",
        "abstract",
        "label_included",
    ]
    assert guess_csv_mapping(headers) == {
        "pmid": "pubmedID",
        "title": "title",
        "keywords": "keywords",
        "authors": "authors",
        "abstract": "abstract",
    }


# --- EndNote XML -----------------------------------------------------------------------


def test_endnote_xml():
    items = read("endnote_sample.xml")
    first, book = records(items)
    assert first.line == 2
    assert first.authors == ["Bryant, R. A.", "Nickerson, A."]
    assert first.title.startswith("Trajectory of post-traumatic stress")
    assert (first.journal, first.year, first.pmid) == ("Br J Psychiatry", 2015, "25657356")
    assert first.doi == "10.1192/bjp.bp.114.145516" and first.keywords == ["Adolescent", "Adult"]
    assert first.record_type == "Journal Article"
    assert book.title == "A book & its title"
    (bad,) = skipped(items)
    assert bad.line == 3


def test_malformed_xml_keeps_records_before_the_error():
    text = (
        (FIXTURES / "endnote_sample.xml")
        .read_text()
        .replace("</record>\n<record><rec-number>3", "<record><rec-number>3", 1)
    )
    items = list(iter_records(io.BytesIO(text.encode()), fmt="endnote_xml"))
    assert isinstance(items[0], ParsedRecord)
    assert isinstance(items[-1], SkippedRecord) and "malformed XML" in items[-1].reason


# --- detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ovid_zotero_dialects.ris", "ris"),
        ("corrupt_among_good.ris", "ris"),
        ("pubmed_sample.nbib", "nbib"),
        ("broken_entry.bib", "bibtex"),
        ("wos_semicolon.csv", "csv"),
        ("no_title_column.csv", "csv"),
        ("endnote_sample.xml", "endnote_xml"),
    ],
)
def test_detect_format(name, fmt):
    text = (FIXTURES / name).read_bytes().decode("utf-8", errors="replace")
    assert detect_format(text) == fmt


@pytest.mark.parametrize(
    "text", ["", "   \n", "Dear colleague,\nplease find the references attached.\n", "{}"]
)
def test_detect_format_none(text):
    assert detect_format(text) is None


def test_format_override_and_unknown_format():
    data = (FIXTURES / "ovid_zotero_dialects.ris").read_bytes()
    assert len(records(iter_records(io.BytesIO(data), fmt="ris"))) == 3
    with pytest.raises(ImportFormatError, match="Unknown format 'xls'"):
        iter_records(io.BytesIO(data), fmt="xls")
