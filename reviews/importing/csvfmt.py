"""CSV/TSV reader with a column mapping (header -> record field)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from .records import (
    ImportFormatError,
    ParsedRecord,
    SkippedRecord,
    clean_doi,
    clean_pmid,
    parse_year,
    split_keywords,
)

__all__ = ["TARGET_FIELDS", "guess_csv_mapping", "parse_csv", "sniff_delimiter"]

TARGET_FIELDS = (
    "title",
    "abstract",
    "authors",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "keywords",
    "language",
    "url",
    "record_type",
)

# Header spellings seen in exports (ASReview, Scopus, Web of Science, Covidence, Rayyan,
# Zotero, PubMed CSV), compared after lower-casing and dropping non-letters.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": ("title", "articletitle", "primarytitle", "ti", "documenttitle", "name"),
    "abstract": ("abstract", "abstractnote", "ab", "summary", "notesabstract"),
    "authors": ("authors", "author", "au", "authorfullnames", "authorsfullnames", "creators"),
    "year": ("year", "publicationyear", "py", "pubyear", "date", "publicationdate", "createdate"),
    "journal": (
        "journal",
        "sourcetitle",
        "publicationtitle",
        "journaltitle",
        "journalbook",
        "source",
        "so",
        "jo",
        "secondarytitle",
    ),
    "volume": ("volume", "vl", "vol"),
    "issue": ("issue", "number", "is", "no"),
    "pages": ("pages", "page", "pagerange", "pg", "pagestart"),
    "doi": ("doi", "di", "do"),
    "pmid": ("pmid", "pubmedid", "pubmed", "medlinepmid"),
    "keywords": (
        "keywords",
        "keyword",
        "kw",
        "authorkeywords",
        "manualtags",
        "meshterms",
        "mesh",
        "indexkeywords",
    ),
    "language": ("language", "la", "languageoforiginaldocument"),
    "url": ("url", "link", "ur"),
    "record_type": ("type", "documenttype", "itemtype", "ty", "publicationtype"),
}
_LOOKUP = {alias: target for target, aliases in _SYNONYMS.items() for alias in aliases}


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower())


def guess_csv_mapping(headers: list[str]) -> dict[str, str]:
    """Map target fields to the headers that most likely hold them (first match wins)."""
    mapping: dict[str, str] = {}
    for header in headers:
        target = _LOOKUP.get(_header_key(header))
        if target and target not in mapping:
            mapping[target] = header
    return mapping


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the most frequent of tab, semicolon and comma
    outside quotes (csv.Sniffer misreads headers such as ``record_id,pubmedID,title``)."""
    outside = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: outside.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _unique(headers: list[str]) -> list[str]:
    """Header names made unique ("x", "x (2)") so no column is lost in source_fields."""
    seen: dict[str, int] = {}
    out = []
    for header in headers:
        name = header or "(unnamed)"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


_AUTHOR_SPLIT = re.compile(r"\s*;\s*|\s*\|\s*|\n")


def _split_authors(value: str) -> list[str]:
    if ";" in value or "|" in value or "\n" in value:
        return [a for a in _AUTHOR_SPLIT.split(value) if a.strip()]
    if " and " in value:
        return [a.strip() for a in value.split(" and ") if a.strip()]
    # "Smith J, Doe A" (Scopus/PubMed CSV) has no "Last, First" commas inside names.
    parts = [p.strip() for p in value.split(",")]
    if len(parts) > 2 and all(" " in p for p in parts if p):
        return [p for p in parts if p]
    return [value.strip()] if value.strip() else []


def parse_csv(
    lines: Iterable[str], header_line: str, mapping: dict[str, str] | None
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from CSV lines (the header line included).

    The header is checked at once (not on the first record), so a CSV without a title
    column raises ImportFormatError when this is called.
    """
    delimiter = sniff_delimiter(header_line)
    source = iter(lines)
    reader = csv.reader(source, delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration as exc:
        raise ImportFormatError("The CSV file is empty.") from exc
    except csv.Error as exc:  # a header longer than the csv module's field limit
        raise ImportFormatError(f"The CSV's header line cannot be read: {exc}.") from exc
    headers = [h.strip().lstrip("\ufeff") for h in headers]
    mapping = dict(mapping) if mapping else guess_csv_mapping(headers)
    unknown = sorted(set(mapping.values()) - set(headers))
    if unknown:
        raise ImportFormatError(f"The column mapping names columns the CSV lacks: {unknown}.")
    if "title" not in mapping:
        raise ImportFormatError(
            "The CSV has no title column: name one 'title' or map a column to the title."
        )
    return _rows(reader, headers, mapping)


def _rows(
    reader, headers: list[str], mapping: dict[str, str]
) -> Iterator[ParsedRecord | SkippedRecord]:
    index = {target: headers.index(header) for target, header in mapping.items()}
    n_cols = len(headers)
    keys = _unique(headers)
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            previous_end = reader.line_num
            yield SkippedRecord(start, f"unreadable CSV row: {exc}")
            continue
        previous_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) > n_cols and any(cell.strip() for cell in row[n_cols:]):
            yield SkippedRecord(
                start, f"row has {len(row)} columns, the header {n_cols} (a stray delimiter?)"
            )
            continue
        row += [""] * (n_cols - len(row))

        def get(target: str, row: list[str] = row) -> str:
            col = index.get(target)
            return row[col].strip() if col is not None else ""

        title, abstract = get("title"), get("abstract")
        doi, pmid = clean_doi(get("doi")), clean_pmid(get("pmid"))
        if not (title or abstract or doi or pmid):
            yield SkippedRecord(start, "row has no title, abstract, DOI or PMID")
            continue
        if "\x00" in title or "\ufffd" in title:
            yield SkippedRecord(start, "corrupt row: unreadable characters in the title")
            continue
        yield ParsedRecord(
            line=start,
            title=title,
            abstract=abstract,
            authors=_split_authors(get("authors")),
            year=parse_year(get("year")),
            journal=get("journal"),
            volume=get("volume"),
            issue=get("issue"),
            pages=get("pages"),
            doi=doi,
            pmid=pmid,
            keywords=split_keywords([get("keywords")]) if get("keywords") else [],
            language=get("language"),
            url=get("url"),
            record_type=get("record_type"),
            source_fields=dict(zip(keys, row[:n_cols], strict=True)),
        )
