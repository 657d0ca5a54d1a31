"""EndNote XML reader (expat, streaming: one <record> at a time, with its line number)."""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Iterable, Iterator

from .records import ParsedRecord, SkippedRecord, clean_doi, clean_pmid, parse_year

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
        keywords=list(fields.get("keywords/keyword", [])),
        language=_first(fields, "language"),
        url=_first(fields, "urls/related-urls/url", "urls/web-urls/url"),
        record_type=_first(fields, "ref-type@name", "ref-type"),
        source_fields=fields,
    )


def parse_endnote_xml(lines: Iterable[str]) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from EndNote XML; malformed XML ends the file with a SkippedRecord."""
    parser = xml.parsers.expat.ParserCreate()
    done: list[ParsedRecord | SkippedRecord] = []
    state: dict = {"fields": None, "path": [], "texts": [], "line": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "record":
            state.update(fields={}, path=[], texts=[], line=parser.CurrentLineNumber)
            return
        if state["fields"] is None or name == "style":
            return  # <style> only formats text inside its parent element
        state["path"].append(name)
        state["texts"].append([])
        if name == "ref-type" and "name" in attrs:
            state["fields"].setdefault("ref-type@name", []).append(attrs["name"])

    def end(name: str) -> None:
        fields = state["fields"]
        if fields is None or name == "style":
            return
        if name == "record":
            done.append(endnote_record(state["line"], fields))
            state["fields"] = None
            return
        path = "/".join(state["path"])
        text = "".join(state["texts"].pop()).strip()
        state["path"].pop()
        if text:
            fields.setdefault(path, []).append(text)

    def chars(data: str) -> None:
        if state["fields"] is not None and state["texts"]:
            state["texts"][-1].append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        for line in lines:
            parser.Parse(line, False)
            if done:
                yield from done
                done.clear()
        parser.Parse("", True)
    except xml.parsers.expat.ExpatError as exc:
        yield from done
        yield SkippedRecord(
            exc.lineno or 0,
            f"malformed XML ({xml.parsers.expat.errors.messages.get(exc.code, exc)}); "
            "the rest of the file could not be read",
        )
        return
    yield from done
