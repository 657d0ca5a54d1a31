"""Recognise an export's format from the first kilobytes of its text."""

from __future__ import annotations

import csv
import re

from .wos import wos_tab_header

__all__ = ["FORMATS", "detect_format"]

FORMATS = ("ris", "nbib", "bibtex", "csv", "endnote_xml", "wos", "wos_tab", "ovid")

_RIS_TY = re.compile(r"^\s*TY {1,2}- ?", re.MULTILINE)
_RIS_ANY = re.compile(r"^[A-Z][A-Z0-9] {1,2}-( |$)", re.MULTILINE)
_NBIB = re.compile(r"^PMID- ?\d", re.MULTILINE)
_NBIB_ANY = re.compile(r"^(?:FAU|TI  |AB  |DP  |PT  )- ", re.MULTILINE)
_BIBTEX = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_XML = re.compile(r"<records?>|<ref-type\b", re.IGNORECASE)
# Web of Science plain text: "FN Clarivate Analytics Web of Science" / "FN Thomson Reuters
# Web of Science" then "VR 1.0"; without that header, "PT J" records closed by "ER".
_WOS_FN = re.compile(r"\AFN [^\n]*\n\s*(?:VR|PT) ")
_WOS_PT = re.compile(r"^PT [A-Z]\s*$", re.MULTILINE)
_WOS_ER = re.compile(r"^ER\s*$", re.MULTILINE)
_WOS_TAG = re.compile(r"^(?:AU|AF|TI|SO|PY|UT|DI|AB) \S", re.MULTILINE)
# Ovid direct export: "<1. >" record markers and "VN  - Ovid Technologies" tag lines.
_OVID_MARKER = re.compile(r"^<\s*\d+(?:\.\s*)?>\s*$", re.MULTILINE)
_OVID_TAG = re.compile(r"^(?:VN|DB|UI|TI|AU|YR|SO)  - ", re.MULTILINE)


def detect_format(head_text: str) -> str | None:
    """Return one of FORMATS, or None, for the start of a file.

    Junk before the first record (Ovid/Embase banners, blank lines) is tolerated.
    """
    text = head_text.lstrip("\ufeff \t\r\n")
    if not text:
        return None
    # PubMed's MEDLINE format shares 4-column tags like "TI  - " with RIS; PMID- decides.
    if _NBIB.search(text):
        return "nbib"
    if _RIS_TY.search(text):
        return "ris"
    if text.startswith("<") and _XML.search(text):
        return "endnote_xml"
    if _BIBTEX.search(text):
        return "bibtex"
    if _WOS_FN.match(text) or (
        _WOS_PT.search(text) and _WOS_ER.search(text) and len(_WOS_TAG.findall(text)) >= 2
    ):
        return "wos"
    if text.startswith("PT\t") and wos_tab_header(text.split("\n", 1)[0]):
        return "wos_tab"
    if (_OVID_MARKER.search(text) and _OVID_TAG.search(text)) or text.startswith(
        ("VN  - Ovid", "VN - Ovid")
    ):
        return "ovid"
    if len(_NBIB_ANY.findall(text)) >= 2 and "FAU - " in text:
        return "nbib"
    if len(_RIS_ANY.findall(text)) >= 3:
        return "ris"  # a RIS export whose TY lines were lost: records are then reported
    if _looks_csv(text):
        return "csv"
    return None


def _looks_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if not lines:
        return False
    first = lines[0]
    for delimiter in (",", "\t", ";"):
        if delimiter not in first:
            continue
        try:
            header = next(csv.reader([first], delimiter=delimiter))
        except csv.Error:
            continue  # a field over the csv module's limit: no header line
        # A header: at least two short, non-empty names.
        if len(header) >= 2 and all(0 < len(h.strip()) <= 80 for h in header):
            return True
    return False
