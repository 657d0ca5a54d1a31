"""Reading search exports (RIS, PubMed MEDLINE, BibTeX, CSV, EndNote XML) record by record.

Pure Python (no Django): ``reviews.services`` stores what this yields.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from .bibtex import parse_bibtex
from .csvfmt import TARGET_FIELDS, guess_csv_mapping, parse_csv
from .detect import FORMATS, detect_format
from .encoding import decode_stream, detect_encoding
from .endnote_xml import parse_endnote_xml
from .medline import parse_medline
from .records import ImportFormatError, ParsedRecord, SkippedRecord
from .ris import parse_ris

__all__ = [
    "FORMATS",
    "TARGET_FIELDS",
    "ImportFormatError",
    "ParsedRecord",
    "SkippedRecord",
    "csv_headers",
    "decode_stream",
    "detect_encoding",
    "detect_format",
    "guess_csv_mapping",
    "iter_records",
]

_HEAD_CHARS = 32 * 1024


_CHUNK_CHARS = 1 << 20


def _open_text(binary_file: BinaryIO) -> tuple[str, TextIO, Iterator[str]]:
    """Decode the file; return its head text, the text stream and an iterator over all lines."""
    text = decode_stream(binary_file)
    head = text.read(_HEAD_CHARS)
    if len(head) == _HEAD_CHARS:
        head += text.readline()  # complete the last line so no line is split in two
    return head, text, itertools.chain(io.StringIO(head), text)


def _text_chunks(head: str, text: TextIO) -> Iterator[str]:
    """The head, then ~1 MiB pieces of the text, each ending at a line end."""
    yield head
    while chunk := text.read(_CHUNK_CHARS):
        if not chunk.endswith("\n"):
            chunk += text.readline()
        yield chunk


def iter_records(
    binary_file: BinaryIO,
    fmt: str | None = None,
    csv_mapping: dict[str, str] | None = None,
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream the records of an export, one at a time.

    A record that cannot be read becomes a SkippedRecord (line and reason) and the
    reading goes on.

    Raises
    ------
    ImportFormatError
        The file is empty or binary, its format cannot be recognised (or is not
        one of FORMATS), or a CSV has no title column and no mapping for one.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ImportFormatError(f"Unknown format {fmt!r}: expected one of {', '.join(FORMATS)}.")
    head, text, lines = _open_text(binary_file)
    if not head.strip("\ufeff \t\r\n"):
        raise ImportFormatError("The file is empty.")
    fmt = fmt or detect_format(head)
    if fmt is None:
        raise ImportFormatError(
            "The file's format could not be recognised: expected RIS, PubMed (nbib), "
            "BibTeX, CSV or EndNote XML."
        )
    if fmt == "ris":
        return parse_ris(_text_chunks(head, text))
    if fmt == "nbib":
        return parse_medline(lines)
    if fmt == "bibtex":
        return parse_bibtex(lines)
    if fmt == "endnote_xml":
        return parse_endnote_xml(lines)
    header_line = next((ln for ln in io.StringIO(head) if ln.strip()), "")
    # The header is checked now, so a CSV without a title column fails before streaming.
    return parse_csv(lines, header_line, csv_mapping)


def csv_headers(binary_file: BinaryIO) -> list[str]:
    """Column names of a CSV export (for the column-mapping step).

    Raises
    ------
    ImportFormatError
        The file is empty, binary or has no header row of at least two columns.
    """
    head, _, _ = _open_text(binary_file)
    import csv

    from .csvfmt import sniff_delimiter

    for line in io.StringIO(head):
        if line.strip():
            try:
                row = next(csv.reader([line], delimiter=sniff_delimiter(line)))
            except csv.Error as exc:
                raise ImportFormatError(f"The CSV's first line cannot be read: {exc}.") from exc
            headers = [h.strip().lstrip("\ufeff") for h in row]
            if len(headers) < 2:
                raise ImportFormatError("The CSV's first line has fewer than two columns.")
            return headers
    raise ImportFormatError("The file is empty.")
