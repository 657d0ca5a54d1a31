"""Encodings, and files refused as a whole (empty, binary, wrong format)."""

from __future__ import annotations

import codecs
import io

import pytest

from reviews.importing import (
    ImportFormatError,
    ParsedRecord,
    csv_headers,
    decode_stream,
    detect_encoding,
    iter_records,
)

RIS = (
    "TY  - JOUR\n"
    "TI  - Über die Wirksamkeit – “Peer-Support” für Menschen mit Psychose: café, naïve, Ærø\n"
    "AU  - Müller, Jörg\n"
    "AU  - Sánchez, José\n"
    "PY  - 2019\n"
    "ER  - \n"
)
TITLE = "Über die Wirksamkeit – “Peer-Support” für Menschen mit Psychose: café, naïve, Ærø"


def read_bytes(data: bytes, **kwargs) -> list:
    return list(iter_records(io.BytesIO(data), **kwargs))


@pytest.mark.parametrize(
    ("label", "data", "encoding"),
    [
        ("utf-8", RIS.encode("utf-8"), "utf-8"),
        ("utf-8 BOM", codecs.BOM_UTF8 + RIS.encode("utf-8"), "utf-8-sig"),
        ("utf-16 BOM", RIS.encode("utf-16"), "utf-16"),
        ("utf-16-le no BOM", RIS.encode("utf-16-le"), "utf-16-le"),
        ("utf-16-be no BOM", RIS.encode("utf-16-be"), "utf-16-be"),
        ("cp1252", RIS.encode("cp1252"), "cp1252"),
        ("windows line ends", RIS.replace("\n", "\r\n").encode("utf-8"), "utf-8"),
        ("old mac line ends", RIS.replace("\n", "\r").encode("utf-8"), "utf-8"),
    ],
)
def test_encodings_are_detected_and_read(label, data, encoding):
    assert detect_encoding(data) == encoding
    (rec,) = read_bytes(data)
    assert rec.title == TITLE
    assert rec.authors == ["Müller, Jörg", "Sánchez, José"]
    assert rec.year == 2019


def test_latin1_text_is_read_as_windows_1252():
    (rec,) = read_bytes(RIS.replace("–", "-").replace("“", '"').replace("”", '"').encode("latin-1"))
    assert rec.authors == ["Müller, Jörg", "Sánchez, José"]


def test_utf8_file_with_a_few_legacy_bytes_late_in_the_file_keeps_them():
    # 70 KB of UTF-8 first, so the head decides "utf-8"; then a record pasted as cp1252.
    good = "".join(RIS.replace("2019", str(1900 + i)) for i in range(100)).encode("utf-8")
    late = "TY  - JOUR\nTI  - Résumé of naïve café\nER  - \n".encode("cp1252")
    items = read_bytes(good + late)
    assert len(items) == 101
    assert items[-1].title == "Résumé of naïve café"


def test_a_multibyte_character_cut_by_the_head_chunk_is_not_broken():
    pad = "TY  - JOUR\nTI  - " + "a" * (64 * 1024 - 17) + "\nER  - \n"
    data = (pad + "TY  - JOUR\nTI  - é at the edge\nER  - \n").encode("utf-8")
    for shift in range(4):
        items = read_bytes(b"\n" * shift + data)
        assert [type(i) for i in items] == [ParsedRecord, ParsedRecord]
        assert items[1].title == "é at the edge"


def test_decode_stream_streams_without_reading_everything():
    class CountingFile(io.BytesIO):
        max_read = 0

        def read(self, size=-1):
            CountingFile.max_read = max(CountingFile.max_read, size if size >= 0 else 10**12)
            return super().read(size)

    data = RIS.encode() * 20_000  # ~2.8 MB
    text = decode_stream(CountingFile(data))
    assert text.readline() == "TY  - JOUR\n"
    assert CountingFile.max_read <= 1 << 20  # never "read it all"


def test_empty_file_is_refused():
    for data in (b"", b"   \r\n\n", codecs.BOM_UTF8):
        with pytest.raises(ImportFormatError, match="empty"):
            read_bytes(data)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"PK\x03\x04" + bytes(200), "ZIP"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "PDF"),
        (bytes(range(256)) * 40, "binary"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG"),
    ],
)
def test_binary_file_is_refused(data, what):
    with pytest.raises(ImportFormatError, match=what):
        read_bytes(data)
    with pytest.raises(ImportFormatError):
        csv_headers(io.BytesIO(data))


def test_wrong_format_is_refused_with_a_clear_message():
    with pytest.raises(ImportFormatError, match="could not be recognised"):
        read_bytes(b"Dear colleague,\nplease find the references attached.\n")


def test_import_format_error_is_a_value_error():
    assert issubclass(ImportFormatError, ValueError)


def test_decode_stream_needs_binary():
    with pytest.raises(TypeError, match="binary"):
        decode_stream(io.StringIO("TY  - JOUR\n"))
