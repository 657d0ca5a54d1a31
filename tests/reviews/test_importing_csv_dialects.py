"""CSV exports with a preamble, R/pandas rewrites and keyword cells, read from small texts
written after the real files in ../shared/data/interop (see test_importing_interop.py for
those files themselves)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviews.importing import (
    ImportFormatError,
    Notes,
    ParsedRecord,
    SkippedRecord,
    csv_headers,
    guess_csv_mapping,
    iter_records,
)

EMBASE_PREAMBLE = (
    '"SEARCH QUERY","dinosaur:ti"\n-------------------------------------\n\n'
    '"Title","Author Names","Source","Source title","Publication Year","Abstract",'
    '"Emtree Medical Index Terms","Medline PMID","DOI"\n'
    '"Scales of a dinosaur","Yang Z., Jiang B., Xu J.","Nature Communications (2024) 15:1",'
    '"Nature Communications","2024","Fossil feathers.","animal scales, dinosaur, feather",'
    '"38773066","10.1038/s41467-024-48400-3"\n'
)


def read(text: str, **kwargs) -> tuple[list[ParsedRecord | SkippedRecord], Notes]:
    notes = Notes()
    return list(iter_records(io.BytesIO(text.encode()), notes=notes, **kwargs)), notes


def test_a_preamble_above_the_header_is_skipped_and_told():
    (rec,), notes = read(EMBASE_PREAMBLE)
    assert rec.line == 5  # its physical line in the file
    assert rec.title == "Scales of a dinosaur" and rec.authors == ["Yang Z.", "Jiang B.", "Xu J."]
    # "Source title", not Embase's whole-citation "Source", is the journal.
    assert (rec.journal, rec.year, rec.pmid) == ("Nature Communications", 2024, "38773066")
    assert rec.keywords == ["animal scales", "dinosaur", "feather"]
    (note,) = notes
    assert note.startswith("Line(s) 1-3 above the header row were skipped")
    assert '"SEARCH QUERY","dinosaur:ti"' in note


def test_the_mapping_step_sees_the_real_header_and_may_name_it():
    text = EMBASE_PREAMBLE.replace('"Title"', '"Article name"')
    assert csv_headers(io.BytesIO(text.encode()))[:2] == ["Article name", "Author Names"]
    with pytest.raises(ImportFormatError, match="no title column"):
        read(text)
    (rec,), notes = read(text, csv_mapping={"title": "Article name", "year": "Publication Year"})
    assert (rec.title, rec.year, rec.authors) == ("Scales of a dinosaur", 2024, [])
    assert len(notes) == 1


def test_a_csv_without_preamble_has_no_note():
    (rec,), notes = read("title,year\nA title,2001\n")
    assert rec.line == 2 and list(notes) == []


def test_asreview_export_rewritten_by_r():
    text = (
        '"record_id","primary_title","first_authors","notes_abstract","year","doi","keywords",'
        '"asreview_label"\n'
        '1,"Peer support","Smith, J; Doe, A","An abstract.",2019,NA,"peer;support",1\n'
        '2,"No abstract",NA,NA,NA,"10.1000/xyz1",NA,0\n'
    )
    (first, second), _ = read(text)
    assert first.title == "Peer support" and first.authors == ["Smith, J", "Doe, A"]
    assert (first.abstract, first.year, first.doi) == ("An abstract.", 2019, "")
    assert first.keywords == ["peer", "support"]
    assert (second.authors, second.abstract, second.year, second.keywords) == ([], "", None, [])
    assert second.doi == "10.1000/xyz1"
    assert second.source_fields["notes_abstract"] == "NA"  # the file as it was


def test_covidence_and_ovid_year_columns():
    assert guess_csv_mapping(["Title", "Published Year", "Covidence #"])["year"] == "Published Year"
    (cov,), _ = read('Title,Authors,Published Year,Covidence #\nA,"Doe, J.",2021,#123\n')
    assert (cov.year, cov.source_fields["Covidence #"]) == (2021, "#123")
    ovid = (
        "ORN,VN,DB,AN,TI,DP,YR,AU,SO,AB,JN,VO,IP,PG,URL\n"
        "1,Ovid Technologies,APA PsycInfo,2024-54571-035,A title.,Mar 2024,2024,"
        '"Teggi, Roberto\n\nColombo, Bruno","Neurological Sciences. Vol.45,(3), 2024, pp. 1-2.",'
        "Abstract.,Neurological Sciences,45,3,1209-1216,"
        "https://ovidsp.ovid.com/ovidweb.cgi?T=JS&D=psyc22&DO=10.1007%2fs10072-023-07116-w\n"
    )
    (rec,), _ = read(ovid)
    assert (rec.year, rec.journal, rec.volume, rec.issue, rec.pages) == (
        2024,
        "Neurological Sciences",
        "45",
        "3",
        "1209-1216",
    )
    assert rec.authors == ["Teggi, Roberto", "Colombo, Bruno"]
    assert rec.doi == "10.1007/s10072-023-07116-w" and rec.pmid == ""


@pytest.mark.parametrize(
    ("header", "cell", "keywords"),
    [
        ("keywords", "Humans;Animals;Spirulina", ["Humans", "Animals", "Spirulina"]),  # Rayyan
        ("Author Keywords", "a; b ;c", ["a", "b", "c"]),
        ("keywords", "phosphate,Africa,animal", ["phosphate", "Africa", "animal"]),  # abstrackr
        ("keywords", "Stress Disorders, Post-Traumatic", ["Stress Disorders, Post-Traumatic"]),
        ("keywords", "1,2-dichloroethane", ["1,2-dichloroethane"]),
        ("Emtree Medical Index Terms", "animal scales, dinosaur", ["animal scales", "dinosaur"]),
        ("Mesh_Terms", "Humans\nMale", ["Humans", "Male"]),
    ],
)
def test_keywords_are_split_wherever_a_cell_lists_them(header, cell, keywords):
    text = f'title,"{header}"\nA,"{cell}"\n'
    (rec,), _ = read(text)
    assert rec.keywords == keywords


def test_every_keyword_column_is_read_once_each():
    text = 'Title,Author Keywords,Index Keywords\nA,"x; y","y; z"\n'
    (rec,), _ = read(text)
    assert rec.keywords == ["x", "y", "z"]


def test_excel_text_guards_are_removed():
    (rec,), _ = read('Article Title,Publication Date,ISSN\nA,="4/3/2024",="19326203"\n')
    assert rec.year == 2024


@given(
    preamble=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).filter(
            lambda s: "title" not in s.lower()
        ),
        max_size=5,
    ),
    titles=st.lists(
        st.text(alphabet="abcdefgh XYZ", min_size=1, max_size=20).map(str.strip).filter(bool),
        min_size=1,
        max_size=5,
    ),
)
def test_any_preamble_leaves_the_records_whole(preamble, titles):
    body = "title,year\n" + "".join(f"{t},2001\n" for t in titles)
    text = "".join(line.replace("\n", " ") + "\n" for line in preamble) + body
    try:
        items, notes = read(text)
    except ImportFormatError:
        return  # a preamble line that itself reads as a header without a title column
    got = [i.title for i in items if isinstance(i, ParsedRecord)]
    assert got == titles
    if any(line.strip() for line in preamble):
        assert len(notes) == 1


@pytest.mark.django_db
def test_the_preview_page_tells_the_skipped_preamble(cast, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from reviews.models import ImportBatch, Job

    client.force_login(cast.lead)
    response = client.post(
        f"/reviews/{cast.review.slug}/imports/upload/",
        {"file": SimpleUploadedFile("embase.csv", EMBASE_PREAMBLE.encode())},
    )
    assert response.status_code == 302
    client.get(response["Location"], follow=True)
    job = Job.objects.get(review=cast.review)
    batch = ImportBatch.objects.get(pk=job.result["batch_id"])
    assert batch.n_read == 1 and batch.notes[0].startswith("Line(s) 1-3 above the header row")
    page = client.get(f"/reviews/{cast.review.slug}/imports/{batch.pk}/").content.decode()
    assert "Passed over while reading" in page and "above the header row were skipped" in page
    api = client.get(f"/api/v1/reviews/{cast.review.slug}/imports/{batch.pk}/")
    assert api.status_code == 200 and api.json()["notes"] == batch.notes  # the API too


@pytest.mark.parametrize(
    ("cell", "authors"),
    [
        ("Smith J., Doe A.", ["Smith J.", "Doe A."]),  # Embase.com, two authors
        ("Yang Z., Jiang B., Xu J.", ["Yang Z.", "Jiang B.", "Xu J."]),
        ("de la Cruz, Maria José", ["de la Cruz, Maria José"]),
        ("Martínez, Ricardo N.", ["Martínez, Ricardo N."]),
        (
            "Longrich, N.R.\n and Pereda-Suberbiola, X.\n",
            ["Longrich, N.R.", "Pereda-Suberbiola, X."],
        ),
        ("Yang, Z. and Jiang, B.", ["Yang, Z.", "Jiang, B."]),  # Rayyan
    ],
)
def test_author_cells(cell, authors):
    (rec,), _ = read(f'title,authors\nA,"{cell}"\n')
    assert rec.authors == authors


def test_endnote_xml_keywords_held_in_one_element_are_split():
    xml = (
        "<xml><records><record><titles><title>T</title></titles>"
        "<keywords><keyword>Humans\nMale</keyword><keyword>peer; support</keyword></keywords>"
        "</record></records></xml>\n"
    )
    (rec,), _ = read(xml)
    assert rec.keywords == ["Humans", "Male", "peer", "support"]
