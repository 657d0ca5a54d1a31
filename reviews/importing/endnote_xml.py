"""EndNote XML reader (defusedxml's expat SAX parser, streaming: one <record> at a time)."""

from __future__ import annotations

import xml.sax
import xml.sax.handler
from collections.abc import Iterable, Iterator
from typing import Any

from defusedxml.common import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from .records import (
    ImportFormatError,
    ParsedRecord,
    SkippedRecord,
    clean_doi,
    clean_pmid,
    parse_year,
    split_keywords,
)

__all__ = ["parse_endnote_xml"]


def _first(fields: dict[str, list[str]], *paths: str) -> str:
    for path in paths:
        for value in fields.get(path, ()):
            if value:
                return value
    return ""


def endnote_record(line: int, fields: dict[str, list[str]]) -> ParsedRecord | SkippedRecord:
    """Map an EndNote XML record (element path -> texts) to a ParsedRecord."""
    title = _first(fields, "titles/title")
    abstract = _first(fields, "abstract")
    doi = clean_doi(_first(fields, "electronic-resource-num"))
    accession = _first(fields, "accession-num")
    pmid = (
        clean_pmid(accession) if accession.strip().isdigit() and len(accession.strip()) <= 8 else ""
    )
    if not (title or abstract or doi or pmid):
        return SkippedRecord(line, "record has no title, abstract, DOI or PMID")
    return ParsedRecord(
        line=line,
        title=title,
        abstract=abstract,
        authors=list(fields.get("contributors/authors/author", [])),
        year=parse_year(_first(fields, "dates/year", "dates/pub-dates/date")),
        journal=_first(
            fields, "periodical/full-title", "titles/secondary-title", "periodical/abbr-1"
        ),
        volume=_first(fields, "volume"),
        issue=_first(fields, "number", "issue"),
        pages=_first(fields, "pages"),
        doi=doi,
        pmid=pmid,
        # EndNote may hold several keywords in one element, one per line or "; "-separated.
        keywords=split_keywords(list(fields.get("keywords/keyword", []))),
        language=_first(fields, "language"),
        url=_first(fields, "urls/related-urls/url", "urls/web-urls/url"),
        record_type=_first(fields, "ref-type@name", "ref-type"),
        source_fields=fields,
    )


MAX_DEPTH = 16


class _RecordHandler(xml.sax.handler.ContentHandler):
    """Collects each <record>'s element texts by path; finished records go to ``done``."""

    def __init__(self) -> None:
        super().__init__()
        self.done: list[ParsedRecord | SkippedRecord] = []
        self.fields: dict[str, list[str]] | None = None
        self.path: list[str] = []
        self.texts: list[list[str]] = []
        self.record_line = 0
        self.locator: Any = None
        self.too_deep = 0  # elements open below MAX_DEPTH (their text is not kept)

    def setDocumentLocator(self, locator: Any) -> None:  # noqa: N802 (SAX's name)
        self.locator = locator

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802
        if name == "record":
            self.fields, self.path, self.texts = {}, [], []
            self.record_line = self.locator.getLineNumber() if self.locator else 0
            return
        if self.fields is None or name == "style":
            return  # <style> only formats text inside its parent element
        if self.too_deep or len(self.path) >= MAX_DEPTH:
            self.too_deep += 1  # no EndNote field is this deep; paths would grow quadratically
            return
        self.path.append(name)
        self.texts.append([])
        if name == "ref-type" and "name" in attrs:
            self.fields.setdefault("ref-type@name", []).append(attrs["name"])

    def endElement(self, name: str) -> None:  # noqa: N802
        fields = self.fields
        if fields is None or name == "style":
            return
        if self.too_deep:
            self.too_deep -= 1
            return
        if name == "record":
            self.done.append(endnote_record(self.record_line, fields))
            self.fields = None
            return
        path = "/".join(self.path)
        text = "".join(self.texts.pop()).strip()
        self.path.pop()
        if text:
            fields.setdefault(path, []).append(text)

    def characters(self, content: str) -> None:
        if self.fields is not None and self.texts:
            self.texts[-1].append(content)


def parse_endnote_xml(lines: Iterable[str]) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from EndNote XML; malformed XML ends the file with a SkippedRecord.

    defusedxml's parser refuses entity declarations and external references (billion
    laughs, XXE): no EndNote export has them, so such a file is refused as a whole.

    Raises
    ------
    ImportFormatError
        The file declares XML entities or refers to external ones.
    """
    handler = _RecordHandler()
    parser = DefusedExpatParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
    parser.setContentHandler(handler)
    handler.setDocumentLocator(parser)  # feed() never hands the handler a locator
    done = handler.done
    try:
        for line in lines:
            parser.feed(line)
            if done:
                yield from done
                done.clear()
        parser.close()
    except DefusedXmlException as exc:
        raise ImportFormatError(
            f"The XML file declares entities or external references ({type(exc).__name__}); "
            "EndNote exports have none, so it was refused."
        ) from exc
    except xml.sax.SAXParseException as exc:
        yield from done
        yield SkippedRecord(
            exc.getLineNumber() or 0,
            f"malformed XML ({exc.getMessage()}); the rest of the file could not be read",
        )
        return
    yield from done
