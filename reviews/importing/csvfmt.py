"""CSV/TSV reader with a column mapping (header -> record field)."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator

from .ovid import ovid_record
from .records import (
    ImportFormatError,
    Notes,
    ParsedRecord,
    SkippedRecord,
    clean_doi,
    clean_pmid,
    parse_year,
    split_keywords,
)
from .revman_csv import refuse_revman_analyses

__all__ = [
    "TARGET_FIELDS",
    "find_header",
    "guess_csv_mapping",
    "keyword_columns",
    "parse_csv",
    "sniff_delimiter",
]

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
# Zotero, PubMed, Embase.com, CINAHL, IEEE, Ovid CSV), compared after lower-casing and
# dropping non-letters. Earlier spellings win when a file has several ("Source title"
# over Embase's whole-citation "Source", Ovid's "JN" over its "SO").
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": (
        "title",
        "articletitle",
        "primarytitle",
        "ti",
        "documenttitle",
        "name",
        "artinfotigatl",  # EBSCO's JSON flattened to columns (read by its own rules)
    ),
    "abstract": ("abstract", "abstractnote", "ab", "summary", "notesabstract"),
    "authors": (
        "authors",
        "author",
        "au",
        "authornames",
        "authorfullnames",
        "authorsfullnames",
        "creators",
        # ASReview's export read back with R or pandas
        "firstauthors",
    ),
    "year": (
        "year",
        "publicationyear",
        "publishedyear",
        "py",
        "yr",
        "pubyear",
        "date",
        "publicationdate",
        "createdate",
    ),
    "journal": (
        "journal",
        "sourcetitle",
        "publicationtitle",
        "journaltitle",
        "journalbook",
        "jn",
        "jo",
        "secondarytitle",
        "source",
        "so",
    ),
    "volume": ("volume", "vl", "vol", "vo"),
    "issue": ("issue", "number", "is", "no", "ip"),
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
        "subjects",
        "ieeeterms",
        "mh",
        "emtreemedicalindextermsmajorfocus",
        "emtreemedicalindexterms",
        "emtreedrugindextermsmajorfocus",
        "emtreedrugindexterms",
    ),
    "language": ("language", "la", "languageoforiginaldocument", "articlelanguage"),
    "url": ("url", "link", "ur"),
    "record_type": ("type", "documenttype", "itemtype", "ty", "publicationtype"),
}
_RANK = {
    alias: (target, rank)
    for target, aliases in _SYNONYMS.items()
    for rank, alias in enumerate(aliases)
}
# Cells that list keywords with ", " (Embase.com's Emtree columns); elsewhere a comma may
# belong to a keyword ("Stress Disorders, Post-Traumatic").
_COMMA_LISTS = ("emtree",)


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower())


def guess_csv_mapping(headers: list[str]) -> dict[str, str]:
    """Map target fields to the headers that most likely hold them.

    Among headers meaning the same field, the spelling listed first in _SYNONYMS wins,
    then the leftmost column.
    """
    best: dict[str, tuple[int, str]] = {}
    for header in headers:
        found = _RANK.get(_header_key(header))
        if found is None:
            continue
        target, rank = found
        if target not in best or rank < best[target][0]:
            best[target] = (rank, header)
    return {
        target: best[target][1] for target in sorted(best, key=lambda t: headers.index(best[t][1]))
    }


def keyword_columns(headers: list[str]) -> list[str]:
    """Every column that lists keywords (Scopus has author and index keywords, Embase.com
    four Emtree columns): all are read when the mapping was guessed."""
    return [h for h in headers if _RANK.get(_header_key(h), ("",))[0] == "keywords"]


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
_LEADING_AND = re.compile(r"^and\s+")
_INITIALS = re.compile(r"(?:[A-Z]\.?-?){1,4}")


def _split_authors(value: str) -> list[str]:
    if ";" in value or "|" in value or "\n" in value:
        # abstrackr writes "Longrich, N.R.\n and Pereda-Suberbiola, X.\n".
        names = (_LEADING_AND.sub("", a.strip()) for a in _AUTHOR_SPLIT.split(value))
        return [a for a in names if a]
    if " and " in value:
        return [a.strip() for a in value.split(" and ") if a.strip()]
    # "Smith J, Doe A" (Scopus/PubMed CSV) has no "Last, First" commas inside names; two
    # such names ("Smith J., Doe A.", Embase.com) must both end in initials, or "de la
    # Cruz, Maria José" would be two people.
    parts = [p.strip() for p in value.split(",")]
    if len(parts) > 2 and all(" " in p for p in parts if p):
        return [p for p in parts if p]
    if len(parts) == 2 and all(" " in p and _INITIALS.fullmatch(p.split()[-1]) for p in parts):
        return parts
    return [value.strip()] if value.strip() else []


def _split_keyword_cell(value: str, header: str) -> list[str]:
    """Keywords of one cell: ";"- or line-separated; ", "-separated in Embase.com's Emtree
    columns; abstrackr's "phosphate,Africa,animal" (commas, never a space) too."""
    if ";" in value or "\n" in value:
        return split_keywords([value])
    if _header_key(header).startswith(_COMMA_LISTS):
        return [k for k in (p.strip() for p in value.split(",")) if k]
    if value.count(",") >= 2 and ", " not in value:
        return [k for k in (p.strip() for p in value.split(",")) if k]
    return [value.strip()] if value.strip() else []


def _cell(value: str) -> str:
    """A cell's text: stripped; R's ``NA`` is empty; Excel's ``="0123"`` guard removed."""
    value = value.strip()
    if value == "NA":
        return ""
    if value.startswith('="') and value.endswith('"') and len(value) >= 3:
        return value[2:-1]
    return value


# --- Dialects: exports whose fields need more than one column each -------------------------

Row = dict[str, str]


def _is_ovid(headers: list[str]) -> bool:
    """Ovid's CSV: its tags as headers (``ORN,VN,DB,UI,TI,SO,AU,...``)."""
    return {"VN", "DB", "TI"} <= set(headers)


def _ovid_row(line: int, row: Row) -> ParsedRecord | SkippedRecord:
    # Ovid writes several values in one cell separated by blank lines (authors, headings).
    fields = {tag: [value] for tag, value in row.items() if value.strip()}
    return ovid_record(line, fields)


_EBSCO_TITLE = "artinfo/tig/atl"


def _is_ebsco_json(headers: list[str]) -> bool:
    """EBSCOhost's JSON records flattened to columns (``artinfo/aug/au/0``, ...)."""
    return _EBSCO_TITLE in headers


def _numbered(row: Row, prefix: str, suffix: str = "") -> list[str]:
    """Values of ``prefix0suffix``, ``prefix1suffix``... in number order."""
    found = []
    for key, value in row.items():
        if key.startswith(prefix) and key.endswith(suffix) and value.strip():
            number = key[len(prefix) : len(key) - len(suffix)]
            if number.isdigit():
                found.append((int(number), value.strip()))
    return [value for _, value in sorted(found)]


def _ebsco_row(line: int, row: Row) -> ParsedRecord | SkippedRecord:
    title = row.get(_EBSCO_TITLE, "").strip()
    ids = dict(
        zip(
            _numbered(row, "artinfo/ui/", "/_type"),
            _numbered(row, "artinfo/ui/", "/__text"),
            strict=False,
        )
    )
    doi, pmid = clean_doi(ids.get("doi", "")), clean_pmid(ids.get("pmid", ""))
    abstract = "\n".join(_numbered(row, "artinfo/ab/"))
    if not (title or abstract or doi or pmid):
        return SkippedRecord(line, "row has no title, abstract, DOI or PMID")
    pages = row.get("artinfo/ppf", "").strip()
    return ParsedRecord(
        line=line,
        title=title,
        abstract=abstract,
        authors=_numbered(row, "artinfo/aug/au/"),
        year=parse_year(row.get("pubinfo/dt/_year")) or parse_year(row.get("pubinfo/dt/__text")),
        journal=row.get("jinfo/jtl", "").strip(),
        volume=row.get("pubinfo/vid", "").strip(),
        issue=row.get("pubinfo/iid", "").strip(),
        pages=pages,
        doi=doi,
        pmid=pmid,
        keywords=list(dict.fromkeys(_numbered(row, "artinfo/sug/subj/", "/__text"))),
        language=row.get("language", "").strip(),
        url=row.get("header/displayInfo/pLink/url", "").strip(),
        record_type=row.get("artinfo/pubtype", "").strip(),
        source_fields={k: v for k, v in row.items() if v.strip()},
    )


def _dialect(headers: list[str]):
    """A row reader for exports read by their own rules, or None (the column mapping)."""
    if _is_ovid(headers):
        return _ovid_row
    if _is_ebsco_json(headers):
        return _ebsco_row
    return None


# --- Finding the header ----------------------------------------------------------------------

_HEADER_SEARCH_LINES = 30


def _cells(line: str) -> list[str]:
    try:
        row = next(csv.reader([line], delimiter=sniff_delimiter(line)), [])
    except csv.Error:
        return []
    return [c.strip().lstrip("\ufeff") for c in row]


def find_header(head: str, mapping: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """The header row of a CSV's head text: (lines above it, its cells).

    The first line is the header unless lines above it are a preamble, as in Embase.com's
    ``"SEARCH QUERY","dinosaur:ti"`` and a rule line: then the header is the first line
    naming every mapped column (a mapping was given), or a title column, or a column
    layout the dialects know. Without any, the first line whose next row has as many
    cells is taken (or the first line, and the caller reports the missing title).

    Raises
    ------
    ImportFormatError
        The head has no line of two or more cells.
    """
    lines = list(itertools.islice(io.StringIO(head), _HEADER_SEARCH_LINES))
    candidates = [
        (i, cells) for i, ln in enumerate(lines) if ln.strip() and len(cells := _cells(ln)) >= 2
    ]
    if not candidates:
        if any(ln.strip() for ln in lines):
            raise ImportFormatError("The CSV has no header line of two or more columns.")
        raise ImportFormatError("The file is empty.")
    for i, cells in candidates:
        if mapping:
            if set(mapping.values()) <= set(cells):
                return i, cells
        elif "title" in guess_csv_mapping(cells) or _dialect(cells):
            return i, cells
    for i, cells in candidates:
        rest = io.StringIO("".join(lines[i + 1 :]))
        try:
            following = next(
                (r for r in csv.reader(rest, delimiter=sniff_delimiter(lines[i])) if any(r)), None
            )
        except csv.Error:
            following = None
        if following is not None and len(following) == len(cells):
            return i, cells
    return candidates[0]


def parse_csv(
    lines: Iterable[str],
    head: str,
    mapping: dict[str, str] | None,
    notes: Notes | None = None,
) -> Iterator[ParsedRecord | SkippedRecord]:
    """Stream records from CSV lines (the header line included); ``head`` is the file's
    first kilobytes, where the header is looked for.

    The header is checked at once (not on the first record), so a CSV without a title
    column raises ImportFormatError when this is called.
    """
    notes = notes if notes is not None else Notes()
    skip, _ = find_header(head, mapping)
    source = iter(lines)
    above = list(itertools.islice(source, skip))
    reader = csv.reader(source, delimiter=sniff_delimiter(_line_at(head, skip)))
    try:
        headers = next(reader)
    except StopIteration as exc:
        raise ImportFormatError("The CSV file is empty.") from exc
    except csv.Error as exc:  # a header longer than the csv module's field limit
        raise ImportFormatError(f"The CSV's header line cannot be read: {exc}.") from exc
    headers = [h.strip().lstrip("\ufeff") for h in headers]
    refuse_revman_analyses(headers)
    if any(ln.strip() for ln in above):
        shown = " / ".join(ln.strip()[:80] for ln in above if ln.strip())[:240]
        notes.add(
            f"Line(s) 1-{skip} above the header row were skipped (a search preamble, not "
            f"records): {shown}"
        )
    dialect = None if mapping else _dialect(headers)
    keyword_cols = [mapping["keywords"]] if mapping and "keywords" in mapping else []
    if not mapping:
        mapping = guess_csv_mapping(headers)
        keyword_cols = keyword_columns(headers)
    unknown = sorted(set(mapping.values()) - set(headers))
    if unknown:
        raise ImportFormatError(f"The column mapping names columns the CSV lacks: {unknown}.")
    if "title" not in mapping and dialect is None:
        raise ImportFormatError(
            "The CSV has no title column: name one 'title' or map a column to the title."
        )
    return _rows(reader, headers, mapping, keyword_cols, dialect, skip)


def _line_at(head: str, index: int) -> str:
    return next(itertools.islice(io.StringIO(head), index, None), "")


def _rows(
    reader,
    headers: list[str],
    mapping: dict[str, str],
    keyword_cols: list[str],
    dialect,
    offset: int,
) -> Iterator[ParsedRecord | SkippedRecord]:
    index = {target: headers.index(header) for target, header in mapping.items()}
    keyword_index = [(headers.index(h), h) for h in keyword_cols]
    n_cols = len(headers)
    keys = _unique(headers)
    previous_end = reader.line_num
    while True:
        start = previous_end + 1 + offset
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
        if dialect is not None:
            if any("\x00" in c or "\ufffd" in c for c in row):
                yield SkippedRecord(start, "corrupt row: unreadable characters")
                continue
            yield dialect(start, dict(zip(keys, row[:n_cols], strict=True)))
            continue

        def get(target: str, row: list[str] = row) -> str:
            col = index.get(target)
            return _cell(row[col]) if col is not None else ""

        title, abstract = get("title"), get("abstract")
        doi, pmid = clean_doi(get("doi")), clean_pmid(get("pmid"))
        if not (title or abstract or doi or pmid):
            yield SkippedRecord(start, "row has no title, abstract, DOI or PMID")
            continue
        if "\x00" in title or "\ufffd" in title:
            yield SkippedRecord(start, "corrupt row: unreadable characters in the title")
            continue
        keywords: list[str] = []
        for col, header in keyword_index:
            value = _cell(row[col])
            if value:
                keywords += _split_keyword_cell(value, header)
        url = get("url")
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
            keywords=list(dict.fromkeys(keywords)),
            language=get("language"),
            # One URL: Rayyan leaves RIS tag text behind it ("https://...     U2  - L20...").
            url=url.split()[0] if url else "",
            record_type=get("record_type"),
            source_fields=dict(zip(keys, row[:n_cols], strict=True)),
        )
