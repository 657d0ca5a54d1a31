"""The demo review (`manage.py load_demo`): one topic on every page, every source named.

One load for the whole module's checks: it runs the demo twice (idempotent), then walks
every page reachable from the dashboard as the lead, as a newcomer would.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.core.management import call_command

from analysis.demo import DRUG_CLASS_TITLE, THREE_LEVEL_TITLE
from reviews.demo import DEMO_SLUG, DEMO_TITLE, demo_review
from reviews.models import Review

# Words of the earlier demo's data sets (ADHD records, stroke-unit and St John's wort trials,
# peer support outcomes) that have nothing to do with oral glucose-lowering drugs.
OFF_TOPIC = (
    "peer support",
    "peer-support",
    "peer supporter",
    "mental illness",
    "clinical recovery",
    "personal recovery",
    "functional recovery",
    "normand",
    "stroke unit",
    "stroke-unit",
    "length of hospital stay",
    "linde",
    "st john",
    "hypericum",
    "adhd",
    "attention deficit",
)
# Every data set the demo uses, as cited on the protocol page and the dashboard.
CITED = (
    "Cohen AM, Hersh WR, Peterson K, Yen PY (2006)",
    "doi:10.1197/jamia.M1929",
    "Senn S, Gavini F, Magrez D, Scheen A (2013)",
    "doi:10.1177/0962280211432220",
    "dat.senn2013",
    "Nissen SE, Wolski K (2007)",
    "doi:10.1056/NEJMoa072761",
    "dat.nissen2007",
)
SKIP = re.compile(r"\.(csv|xlsx|zip|png|svg|pdf|json|r|ris|txt)$|/archive/|/exports?/|logout", re.I)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def _text(html: str) -> str:
    """The page's visible text, without scripts and without form hints: a hint's example
    ("e.g. ...") is the app's, not the review's data."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    html = re.sub(
        r'<(div|span|small)\b[^>]*class="form-text[^"]*"[^>]*>.*?</\1>', " ", html, flags=re.S
    )
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _walk(client, start: str, per_kind: int = 3) -> dict[str, str]:
    """GET every kind of page of the review reachable from `start` → path: text (HTML).

    A kind is a path with its numbers blanked: the first few of each (three records,
    three studies, ...) stand for the rest.
    """
    prefix = f"/reviews/{DEMO_SLUG}/"
    seen: dict[str, str] = {}
    kinds: dict[str, int] = {}
    queue = [start]
    while queue:
        url = queue.pop(0)
        kind = re.sub(r"\d+", "N", url)
        if url in seen or kinds.get(kind, 0) >= per_kind:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if "text/html" not in response.get("Content-Type", ""):
            seen[url] = ""
            continue
        html = response.content.decode()
        seen[url] = _text(html)
        parser = _Links()
        parser.feed(html)
        for href in parser.links:
            parts = urlsplit(urljoin(url, href))
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if parts.path.startswith(prefix) and not SKIP.search(parts.path) and path not in seen:
                queue.append(path)
    return seen


def test_the_demo_review_stays_on_one_topic_and_names_its_sources(db, client):
    call_command("load_demo", stdout=io.StringIO())
    review = demo_review()
    n_records = review.records.count()
    out = io.StringIO()
    call_command("load_demo", stdout=out)  # idempotent: `make run` twice duplicates nothing
    assert "exists already" in out.getvalue()
    assert Review.objects.filter(slug=DEMO_SLUG).count() == 1
    assert demo_review().records.count() == n_records == 503 + 26 + 42
    assert review.title == DEMO_TITLE

    lead = review.memberships.get(is_lead=True).user
    client.force_login(lead)
    protocol = client.get(f"/reviews/{DEMO_SLUG}/protocol/").content.decode()
    dashboard = client.get(f"/reviews/{DEMO_SLUG}/").content.decode()
    for citation in CITED:
        assert citation in protocol, citation
        assert citation in dashboard, citation

    pages = _walk(client, f"/reviews/{DEMO_SLUG}/")
    assert len(pages) > 60  # the walk reached every section
    # the dependent-effects analyses (three-level model, meta-regression) are listed
    analyses = pages[f"/reviews/{DEMO_SLUG}/analysis/"]
    assert THREE_LEVEL_TITLE in analyses and DRUG_CLASS_TITLE in analyses
    assert any("All effect sizes: three-level model" in text for text in pages.values())
    for url, text in pages.items():
        found = [word for word in OFF_TOPIC if re.search(rf"\b{word}\b", text, re.I)]
        assert not found, (url, found)
    # Generated parts say so on the pages where they appear
    areas = {
        "screening": [u for u in pages if "/screening/" in u],
        "rob": [u for u in pages if "/extraction/rob" in u],
        "extraction": [u for u in pages if "/extraction/" in u and "/rob" not in u],
    }
    for area, urls in areas.items():
        assert urls, area
        for url in urls:
            if pages[url]:
                assert "Generated data:" in pages[url], (area, url)
    assert "Generated data:" not in pages[f"/reviews/{DEMO_SLUG}/protocol/"]
