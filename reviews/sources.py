"""Clients of the sources a scheduled search runs against: PubMed and OpenAlex.

No Django: each function takes the query, the dates to cover and the service's address,
and returns an export the importers read (PubMed's MEDLINE text; OpenAlex works written as
RIS). Requests are spaced to the services' published limits (NCBI: 3 requests a second,
10 with an API key; OpenAlex: 10 a second) by a limiter shared by the threads of one
process; a deployment with several workers runs the schedules from one beat, one at a
time (``reviews.tasks.search_schedules_due``), so the limits hold.

NCBI E-utilities: ``esearch`` (``db=pubmed``, ``datetype=edat`` between ``mindate`` and
``maxdate``, ``usehistory=y``, JSON) gives the count and a history key; ``efetch``
(``rettype=medline``, ``retmode=text``) returns the records in pages of ``PAGE``.
OpenAlex: ``/works`` with ``search`` and a ``from_publication_date``/``to_publication_date``
filter, paged with ``cursor``; ``mailto`` joins its polite pool.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

PAGE = 200
MAX_RECORDS = 10_000  # more than a schedule should ever bring: a query gone wrong
TIMEOUT = 30
USER_AGENT = "Reviewflow scheduled search (https://github.com/; systematic reviews)"


class SourceError(Exception):
    """The service could not be reached or answered something unexpected."""


@dataclass(frozen=True)
class Fetched:
    """An export of what a source found: bytes for the importer, its format, the hits."""

    content: bytes
    fmt: str  # an importer's format name: "nbib" or "ris"
    hits: int
    requests: int


class RateLimiter:
    """At most ``per_second`` requests a second, across the threads of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def wait(self, key: str, per_second: float) -> None:
        with self._lock:
            now = time.monotonic()
            ready = self._last.get(key, 0.0) + 1.0 / per_second
            if ready > now:
                time.sleep(ready - now)
            self._last[key] = time.monotonic()


LIMITER = RateLimiter()


def _get(url: str, params: dict[str, Any], *, limit: tuple[str, float]) -> bytes:
    LIMITER.wait(*limit)
    full = f"{url}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(full, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) set by settings
            return response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SourceError(f"{urllib.parse.urlsplit(url).netloc} did not answer: {exc}") from exc


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SourceError(f"{what} answered something that is not JSON.") from exc


# --- PubMed ---------------------------------------------------------------------------------


def pubmed_fetch(
    query: str,
    since: dt.date,
    until: dt.date,
    *,
    base_url: str,
    api_key: str = "",
    email: str = "",
) -> Fetched:
    """Records PubMed added (Entrez date) from `since` to `until`, as MEDLINE text."""
    limit = ("ncbi", 10.0 if api_key else 3.0)
    common = {"db": "pubmed", "tool": "reviewflow"}
    if api_key:
        common["api_key"] = api_key
    if email:
        common["email"] = email
    found = _json(
        _get(
            f"{base_url.rstrip('/')}/esearch.fcgi",
            {
                **common,
                "term": query,
                "datetype": "edat",
                "mindate": since.strftime("%Y/%m/%d"),
                "maxdate": until.strftime("%Y/%m/%d"),
                "usehistory": "y",
                "retmax": 0,
                "retmode": "json",
            },
            limit=limit,
        ),
        "PubMed's esearch",
    )
    result = found.get("esearchresult") if isinstance(found, dict) else None
    if not isinstance(result, dict) or "count" not in result:
        message = result.get("ERROR") if isinstance(result, dict) else None
        raise SourceError(f"PubMed's esearch refused the query: {message or 'no count'}.")
    hits = int(result["count"])
    if hits > MAX_RECORDS:
        raise SourceError(f"The query finds {hits:,} records, more than {MAX_RECORDS:,}.")
    pages = []
    for start in range(0, hits, PAGE):
        pages.append(
            _get(
                f"{base_url.rstrip('/')}/efetch.fcgi",
                {
                    **common,
                    "WebEnv": result.get("webenv", ""),
                    "query_key": result.get("querykey", ""),
                    "retstart": start,
                    "retmax": PAGE,
                    "rettype": "medline",
                    "retmode": "text",
                },
                limit=limit,
            ).strip()
        )
    return Fetched(b"\n\n".join(pages) + b"\n", "nbib", hits, 1 + len(pages))


# --- OpenAlex -------------------------------------------------------------------------------


def _abstract(inverted: Any) -> str:
    """OpenAlex keeps abstracts as {word: [positions]}; put the words back in order."""
    if not isinstance(inverted, dict):
        return ""
    at = {pos: word for word, positions in inverted.items() for pos in positions or ()}
    return " ".join(at[i] for i in sorted(at))


def _ris(work: dict[str, Any]) -> str:
    def line(tag: str, value: Any) -> str:
        text = " ".join(str(value).split()) if value not in (None, "") else ""
        return f"{tag}  - {text}\n" if text else ""

    ids = work.get("ids") or {}
    source = ((work.get("primary_location") or {}).get("source") or {}).get("display_name")
    biblio = work.get("biblio") or {}
    out = "TY  - JOUR\n" + line("TI", work.get("title") or work.get("display_name"))
    for authorship in work.get("authorships") or ():
        out += line("AU", ((authorship or {}).get("author") or {}).get("display_name"))
    out += line("PY", work.get("publication_year"))
    out += line("JO", source)
    out += line("VL", biblio.get("volume")) + line("IS", biblio.get("issue"))
    out += line("SP", biblio.get("first_page")) + line("EP", biblio.get("last_page"))
    out += line("DO", work.get("doi"))
    pmid = str(ids.get("pmid") or "").rstrip("/").rsplit("/", 1)[-1]
    out += line("AN", pmid) + line("UR", work.get("id"))
    out += line("AB", _abstract(work.get("abstract_inverted_index")))
    return out + "ER  - \n"


def openalex_fetch(
    query: str, since: dt.date, until: dt.date, *, base_url: str, mailto: str = ""
) -> Fetched:
    """Works OpenAlex dates from `since` to `until` matching `query`, written as RIS."""
    params: dict[str, Any] = {
        "search": query,
        "filter": f"from_publication_date:{since.isoformat()},"
        f"to_publication_date:{until.isoformat()}",
        "per-page": PAGE,
        "cursor": "*",
    }
    if mailto:
        params["mailto"] = mailto
    works: list[str] = []
    hits, requests = 0, 0
    while params["cursor"]:
        page = _json(
            _get(f"{base_url.rstrip('/')}/works", params, limit=("openalex", 10.0)), "OpenAlex"
        )
        requests += 1
        meta, results = page.get("meta") or {}, page.get("results")
        if not isinstance(results, list):
            raise SourceError("OpenAlex answered without results.")
        hits = int(meta.get("count") or 0)
        if hits > MAX_RECORDS:
            raise SourceError(f"The query finds {hits:,} works, more than {MAX_RECORDS:,}.")
        works.extend(_ris(w) for w in results if isinstance(w, dict))
        params["cursor"] = meta.get("next_cursor") if results else None
    return Fetched("\n".join(works).encode("utf-8"), "ris", hits, requests)
