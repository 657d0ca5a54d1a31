"""Encoding detection and a streaming text reader over an uploaded binary file."""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO, TextIO

from .records import ImportFormatError

__all__ = ["HEAD_BYTES", "decode_stream", "detect_encoding"]

HEAD_BYTES = 64 * 1024

_FALLBACK = "reviewflow-cp1252-fallback"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 rejected as Windows-1252 (Latin-1 for its 5 unused bytes).

    Real exports are sometimes mostly UTF-8 with a few records pasted from a legacy
    source; replacing those bytes by U+FFFD would lose letters, refusing the file would
    lose every record.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    if exc.encoding.lower().replace("-", "").startswith("utf16"):
        return "\ufffd", exc.end  # a cut UTF-16 code unit: nothing sensible to recover
    text = "".join(
        bytes([b]).decode("cp1252", errors="ignore") or bytes([b]).decode("latin-1") for b in bad
    )
    return text, exc.end


codecs.register_error(_FALLBACK, _cp1252_fallback)


class _PrefixedRaw(io.RawIOBase):
    """Replays the already-read head bytes, then the rest of the underlying file."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._pos = 0
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._pos < len(self._head):
            n = min(len(buffer), len(self._head) - self._pos)
            buffer[:n] = self._head[self._pos : self._pos + n]
            self._pos += n
            return n
        data = self._rest.read(len(buffer))
        if not data:
            return 0
        n = len(data)
        buffer[:n] = data
        return n


def _looks_utf16(head: bytes) -> str | None:
    """UTF-16 without BOM: ASCII text leaves a NUL in every other byte."""
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
    odd_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (or an Excel/Word file)",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0": "an old Office document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SQLite format 3": "an SQLite database",
}


def detect_encoding(head: bytes) -> str:
    """Return the codec name for a file starting with ``head``.

    BOMs first (UTF-8, UTF-32, UTF-16), then BOM-less UTF-16, then UTF-8 if the head
    decodes as such, else Windows-1252 (a superset of the printable Latin-1 range).

    Raises
    ------
    ImportFormatError
        When the head looks binary (NUL/control bytes or a known binary signature).
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _looks_utf16(head)
    if utf16:
        return utf16
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ImportFormatError(f"The file is {what}, not a text export of references.")
    sample = head[:8192]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    # A few NULs are one corrupt record (reported and skipped); many mean a binary file.
    if sample and (sample.count(0) > len(sample) * 0.01 or controls > len(sample) * 0.05):
        raise ImportFormatError(
            "The file is binary, not a text export of references (RIS, PubMed, BibTeX, CSV, "
            "Web of Science, Ovid...)."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the end of the head is fine
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode_stream(binary_file: BinaryIO) -> TextIO:
    """Return a streaming text reader over ``binary_file`` with its encoding detected.

    Only the first 64 KiB are inspected; the rest is decoded as it is read, with
    universal newlines (CRLF and CR become LF). Bytes that do not fit the detected
    UTF-8 are read as Windows-1252 instead of failing the whole file.
    """
    head = binary_file.read(HEAD_BYTES)
    if isinstance(head, str):
        raise TypeError("decode_stream() needs a binary file (opened with 'rb').")
    encoding = detect_encoding(head)
    raw = io.BufferedReader(_PrefixedRaw(head, binary_file), buffer_size=HEAD_BYTES)
    errors = "replace" if encoding.startswith(("utf-16", "utf-32")) else _FALLBACK
    text = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=None)
    text.detected_encoding = encoding  # type: ignore[attr-defined]
    return text
