"""Reading search exports (RIS, PubMed MEDLINE, BibTeX, CSV, EndNote XML, Web of Science
plain text and tab-delimited, Ovid direct export) record by record.

Pure Python (no Django): ``reviews.services`` stores what this yields.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from .bibtex import parse_bibtex
from .csvfmt import TARGET_FIELDS, find_header, guess_csv_mapping, parse_csv
from .detect import FORMATS, detect_format
from .encoding import decode_stream, detect_encoding
from .endnote_xml import parse_endnote_xml
from .medline import parse_medline
from .ovid import parse_ovid
from .records import ImportFormatError, Notes, ParsedRecord, SkippedRecord
from .ris import parse_ris
from .wos import parse_wos, parse_wos_tab

__all__ = [
    "FORMATS",
    "TARGET_FIELDS",
    "ImportFormatError",
    "Notes",
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
    notes: Notes | None = None,
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream the records of an export, one at a time.

    A record that cannot be read becomes a SkippedRecord (line and reason) and the
    reading goes on. What is passed over without being a record (a preamble above a CSV
    header, text outside records, tags a format does not define) is told in ``notes``,
    complete once every record has been read.

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
            "BibTeX, CSV, EndNote XML, Web of Science (plain text or tab-delimited) or an "
            "Ovid direct export."
        )
    if fmt == "ris":
        return parse_ris(_text_chunks(head, text), notes)
    if fmt == "nbib":
        return parse_medline(lines, notes)
    if fmt == "bibtex":
        return parse_bibtex(lines)
    if fmt == "endnote_xml":
        return parse_endnote_xml(lines)
    if fmt == "wos":
        return parse_wos(_text_chunks(head, text), notes)
    if fmt == "wos_tab":
        # The header is checked now, like a CSV's.
        return parse_wos_tab(lines, notes)
    if fmt == "ovid":
        return parse_ovid(lines, notes)
    # The header is checked now, so a CSV without a title column fails before streaming.
    return parse_csv(lines, head, csv_mapping, notes)


def csv_headers(binary_file: BinaryIO) -> list[str]:
    """Column names of a CSV export (for the column-mapping step): those of its header
    row, found below any preamble (see find_header).

    Raises
    ------
    ImportFormatError
        The file is empty, binary or has no header row of at least two columns.
    """
    head, _, _ = _open_text(binary_file)
    if not head.strip("\ufeff \t\r\n"):
        raise ImportFormatError("The file is empty.")
    return find_header(head)[1]
