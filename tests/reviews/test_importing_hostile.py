"""Hostile input to every importer: random and mutated bytes, huge lines, XML attacks, encodings.

The contract: reading a file either yields records (each storable: no NUL byte reaches
the database) or raises ImportFormatError; the upload/confirm services and views answer
a clear 4xx or import every readable record, never a 500 and never part of a file.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import example, given
from hypothesis import strategies as st

from reviews import services
from reviews.errors import DomainError
from reviews.importing import (
    FORMATS,
    ImportFormatError,
    ParsedRecord,
    SkippedRecord,
    csv_headers,
    iter_records,
)
from reviews.models import ImportBatch, Job, Record
from reviews.rows import record_row

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED_IMPORTS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "imports"

# Real exports of each format: the crafted fixtures, and the head of the shared real ones.
SEEDS: dict[str, bytes] = {
    p.name: p.read_bytes()[:6000]
    for p in sorted((FIXTURES / "imports").iterdir())
    if p.suffix in {".ris", ".nbib", ".bib", ".csv", ".xml", ".txt", ".isi", ".ovd", ".cgi", ".tsv"}
}
SEEDS["kwok2020_embase_excerpt.ris"] = (
    FIXTURES / "reviews" / "kwok2020_embase_excerpt.ris"
).read_bytes()[:6000]
if SHARED_IMPORTS.exists():
    for _path in sorted(SHARED_IMPORTS.glob("*.ris")):
        with _path.open("rb") as _fh:
            SEEDS[_path.name] = _fh.read(8000)
SEED_NAMES = sorted(SEEDS)
READABLE = [name for name in SEED_NAMES if name != "no_title_column.csv"]  # it has no records
FORMAT_OF = {
    ".ris": "ris",
    ".nbib": "nbib",
    ".bib": "bibtex",
    ".csv": "csv",
    ".xml": "endnote_xml",
    ".txt": "wos",
    ".isi": "wos",
    ".tsv": "wos_tab",
    ".ovd": "ovid",
    ".cgi": "ovid",
}

JUNK = [
    b"\x00",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded UTF-16 surrogate: invalid UTF-8
    b"\r",
    b"\n",
    b"{",
    b"}",
    b'"',
    b"\\",
    b"@article{",
    b"TY  - ",
    b"ER  - ",
    b"PMID- 1\n",
    b"<record>",
    b"</record>",
    b"<!ENTITY x 'y'>",
    b"&x;",
    b"&#0;",
    b"<![CDATA[",
    b"\x1b[2J",
    b"=cmd|' /C calc'!A0",
]


def read_all(data: bytes, fmt: str | None = None) -> list[ParsedRecord | SkippedRecord]:
    """Read every record; a clean ImportFormatError is one allowed outcome (returns [])."""
    try:
        items = list(iter_records(io.BytesIO(data), fmt=fmt))
    except ImportFormatError as exc:
        assert str(exc)  # a message for the user
        return []
    for item in items:
        assert isinstance(item, ParsedRecord | SkippedRecord)
        if isinstance(item, ParsedRecord):
            row = record_row(item)
            for value in row:
                if isinstance(value, str):
                    assert "\x00" not in value and "\\u0000" not in value
                    value.encode("utf-8")  # no lone surrogate: PostgreSQL would refuse it
            orjson.loads(row[3]), orjson.loads(row[11]), orjson.loads(row[15])
        else:
            assert item.reason
    return items


@st.composite
def mutated(draw) -> bytes:
    """A real export with a few bytes changed, deleted, inserted or spliced from elsewhere."""
    data = bytearray(SEEDS[draw(st.sampled_from(SEED_NAMES))])
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(JUNK) | st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 200))]
        else:
            del data[pos:]
    return bytes(data)


# --- The readers ---------------------------------------------------------------------------


@given(data=st.binary(max_size=3000), fmt=st.sampled_from([None, *FORMATS]))
@example(data=b"\x00" * 100, fmt=None)
@example(data=b"TY  - JOUR\nTI  - a\x00b\nER  - \n", fmt=None)
@example(data=b"\xef\xbb\xbf", fmt=None)
def test_random_bytes_never_raise_anything_but_a_format_error(data, fmt):
    read_all(data, fmt)


@given(data=mutated(), fmt=st.sampled_from([None, *FORMATS]))
def test_mutated_real_exports_never_raise_anything_but_a_format_error(data, fmt):
    read_all(data, fmt)


@given(data=mutated())
def test_csv_headers_of_mutated_files_fail_cleanly(data):
    try:
        headers = csv_headers(io.BytesIO(data))
    except ImportFormatError:
        return
    assert len(headers) >= 2


@pytest.mark.parametrize("name", SEED_NAMES)
def test_a_huge_single_line_is_read_or_refused_quickly(name):
    """5 MB without a line break inside a record (a pasted blob, a broken export)."""
    seed = SEEDS[name]
    cut = seed.find(b"\n", len(seed) // 3)
    data = seed[:cut] + b" " + b"x" * (5 * 1024 * 1024) + seed[cut:]
    read_all(data)
    read_all(b"y" * (5 * 1024 * 1024))  # and a file that is nothing but one line


@pytest.mark.parametrize("name", READABLE)
@pytest.mark.parametrize(
    "encoding,bom",
    [
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),
        ("utf-32-le", codecs.BOM_UTF32_LE),
    ],
)
def test_boms_and_wide_encodings_read_the_same_titles(name, encoding, bom):
    seed = SEEDS[name]
    text = seed.decode("utf-8", errors="ignore")
    text = text[: text.rfind("\n") + 1]  # whole lines: the head was cut anywhere
    if not text.isascii() and bom == b"":
        pytest.skip("BOM-less UTF-16 is recognised from ASCII text only")
    plain = [i.title for i in read_all(text.encode("utf-8")) if isinstance(i, ParsedRecord)]
    wide = [i.title for i in read_all(bom + text.encode(encoding)) if isinstance(i, ParsedRecord)]
    assert plain and wide == plain


@pytest.mark.parametrize("name", READABLE)
def test_wrong_encoding_keeps_the_records(name):
    """A Windows-1252 file (not UTF-8) is read, not refused: letters survive."""
    text = SEEDS[name].decode("utf-8", errors="ignore")
    text = text[: text.rfind("\n") + 1]
    plain = [i.title for i in read_all(text.encode("utf-8")) if isinstance(i, ParsedRecord)]
    legacy = text.encode("cp1252", errors="replace")
    titles = [i.title for i in read_all(legacy) if isinstance(i, ParsedRecord)]
    assert len(titles) == len(plain)


@pytest.mark.parametrize("name", READABLE)
def test_nul_bytes_in_a_record_never_reach_a_row(name):
    seed = SEEDS[name]
    cut = seed.find(b"\n", len(seed) // 4)
    items = read_all(seed[: cut - 2] + b"\x00" + seed[cut - 2 :])
    assert items  # the rest of the file is still read


# --- XML attacks -----------------------------------------------------------------------------

XML_RECORD = (
    b'<record><ref-type name="Journal Article">17</ref-type>'
    b"<titles><title>T &%s; end</title></titles></record>"
)


def _xml(doctype: bytes, entity: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?>\n'
        + doctype
        + b"\n<xml><records>"
        + XML_RECORD % entity
        + b"</records></xml>\n"
    )


BILLION_LAUGHS = _xml(
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>",
    b"lol9",
)
XXE_FILE = _xml(b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"xxe")
XXE_URL = _xml(b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>', b"xxe")
PARAMETER_ENTITY = _xml(b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', b"amp")
QUADRATIC_BLOWUP = _xml(b'<!DOCTYPE x [<!ENTITY a "' + b"a" * 50_000 + b'">]>', b"a" * 1)


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, XXE_FILE, XXE_URL, PARAMETER_ENTITY, QUADRATIC_BLOWUP],
    ids=["billion-laughs", "xxe-file", "xxe-url", "parameter-entity", "quadratic-blowup"],
)
def test_xml_entity_attacks_are_refused_as_a_whole(data):
    with pytest.raises(ImportFormatError, match="entities or external references"):
        list(iter_records(io.BytesIO(data), fmt="endnote_xml"))


def test_deeply_nested_xml_is_read_without_recursion_errors():
    depth = 100_000
    data = (
        b"<xml><records><record><titles><title>Deep</title></titles>"
        + b"<n>" * depth
        + b"</n>" * depth
        + b"</record></records></xml>\n"
    )
    (record,) = read_all(data)
    assert record.title == "Deep"


def test_external_dtd_is_refused_not_fetched():
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/endnote.dtd">\n'
        b"<xml><records>" + XML_RECORD % b"amp" + b"</records></xml>\n"
    )
    with pytest.raises(ImportFormatError, match="ExternalReferenceForbidden"):
        list(iter_records(io.BytesIO(data)))


def test_an_internal_doctype_without_entities_is_read():
    data = _xml(b"<!DOCTYPE xml []>", b"amp")
    (record,) = read_all(data)
    assert record.title == "T & end"


# --- Services: all or nothing ---------------------------------------------------------------


def _media_files(settings) -> set[Path]:
    return {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}


HOSTILE_FILES = {
    "random.bin": bytes(range(256)) * 40,
    "nul-title.ris": b"TY  - JOUR\nTI  - Nul\x00title\nAB  - a\x00b\nER  - \n",
    "nul-everywhere.bib": b"@article{k1,\n title={Nul\x00 title},\n author={A\x00, B},\n year={2001}\n}\n",
    "nul.xml": b"<xml><records><record><titles><title>X\x00Y</title></titles></record></records></xml>",
    "nul.nbib": b"PMID- 123\nTI  - Nul\x00title\nFAU - Doe\x00, J\nAB  - x\n\n",
    "nul.csv": b"title,abstract,authors\nA\x00 title,abs\x00tract,Doe\x00 J\n",
    "billion-laughs.xml": BILLION_LAUGHS,
    "xxe.xml": XXE_FILE,
    "bom-only.ris": codecs.BOM_UTF8,
    "utf16.ris": codecs.BOM_UTF16_LE + "TY  - JOUR\nTI  - Wide\nER  - \n".encode("utf-16-le"),
    "huge-line.ris": b"TY  - JOUR\nTI  - " + b"x" * 3_000_000 + b"\nER  - \n",
    "truncated.xml": SEEDS["endnote_sample.xml"][:700],
    "formula.csv": b'title,authors\n=HYPERLINK("http://x"),@SUM(1)\n',
    "nul.isi": b"FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nTI Nul\x00title\nER\n"
    + b"PT J\nTI A record after the corrupt one, long enough to keep NULs rare\nER\nEF\n" * 4,
    "nul.ovd": b"<1. >\nVN  - Ovid Technologies\nTI  - Nul\x00title\n"
    + b"<2. >\nVN  - Ovid Technologies\nTI  - A readable record, long enough for the head\n" * 4,
    "preamble-only.csv": b'"SEARCH QUERY","dinosaur:ti"\n-----------------\n\n',
    "wos-no-records.txt": b"FN Clarivate Analytics Web of Science\nVR 1.0\nEF\n",
    "ovid-banner-only.txt": b"<1. >\nVN  - Ovid Technologies\nDB  - Embase\n",
    "wos-tab-header-only.txt": b"PT\tAU\tTI\tSO\tPY\tDI\tUT\n",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_upload_imports_everything_readable_or_nothing(cast, settings, name):
    before = _media_files(settings)
    try:
        batch = services.import_preview(
            review=cast.review, actor=cast.lead, file=io.BytesIO(HOSTILE_FILES[name]), filename=name
        )
    except DomainError as exc:
        assert str(exc)
        assert ImportBatch.objects.count() == 0 and Record.objects.count() == 0
        assert _media_files(settings) == before  # no stray upload or spill file
        return
    batch = services.import_confirm(batch=batch, actor=cast.lead)
    assert Record.objects.filter(batch=batch).count() == batch.n_read == batch.n_imported
    for title, abstract in Record.objects.values_list("title", "abstract"):
        assert "\x00" not in title + abstract


def _upload_through_views(client, review, name: str, data: bytes) -> None:
    """Upload, follow the job, confirm: every answer a page or a 4xx; all records or none."""
    n_records, n_batches = Record.objects.count(), ImportBatch.objects.count()
    response = client.post(
        f"/reviews/{review.slug}/imports/upload/", {"file": SimpleUploadedFile(name, data)}
    )
    assert response.status_code in (200, 302, 400), response.status_code
    if response.status_code != 302 or "/imports/map/" in response["Location"]:
        assert ImportBatch.objects.count() == n_batches
        return
    assert client.get(response["Location"], follow=True).status_code == 200  # job, preview
    job = Job.objects.filter(review=review).order_by("-pk").first()
    if job.status == Job.Status.FAILED:
        assert job.error and ImportBatch.objects.count() == n_batches
        return
    assert job.status == Job.Status.SUCCEEDED
    batch = ImportBatch.objects.get(pk=job.result["batch_id"])
    response = client.post(f"/reviews/{review.slug}/imports/{batch.pk}/confirm/")
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).status_code == 200
    batch.refresh_from_db()
    assert Record.objects.count() - n_records == batch.n_read == batch.n_imported


@pytest.mark.django_db
@given(data=mutated() | st.binary(max_size=2000))
def test_mutated_uploads_never_answer_500(cast, client, data):
    client.force_login(cast.lead)
    _upload_through_views(client, cast.review, "export.txt", data or b" ")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_files_through_the_upload_views(cast, client, name):
    client.force_login(cast.lead)
    _upload_through_views(client, cast.review, name, HOSTILE_FILES[name])


# --- The formats of issue 20 through the upload views ---------------------------------------

_INTEROP = SHARED_IMPORTS.parent / "interop"
NEW_FORMAT_FILES = {
    p.name: p.read_bytes()
    for p in sorted((FIXTURES / "imports").iterdir())
    if p.suffix in {".txt", ".isi", ".ovd", ".cgi"}
}
if _INTEROP.exists():
    for _name in ("cff_baseline_embase.csv", "dimitrov_cinahl.csv", "dimitrov_psychinfo.csv"):
        NEW_FORMAT_FILES[_name] = (_INTEROP / "databases" / _name).read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(NEW_FORMAT_FILES))
def test_new_formats_through_the_upload_views(cast, client, name):
    client.force_login(cast.lead)
    n_records = Record.objects.count()
    _upload_through_views(client, cast.review, name, NEW_FORMAT_FILES[name])
    assert Record.objects.count() > n_records  # read, previewed and imported whole
