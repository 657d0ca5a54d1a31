"""Scheduled searches: the PubMed and OpenAlex clients against a local HTTP server serving
responses in the services' documented formats (tests/fixtures/reviews/sources/), and the
schedule turning what they find into an update run awaiting the lead's confirmation."""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reviews import services, sources, tasks
from reviews.dashboard import panels_for
from reviews.errors import DomainError
from reviews.models import ImportBatch, Record, SearchChange, SearchRun, SearchSchedule
from tests.factories import SearchFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reviews" / "sources"


class Source:
    """A local stand-in for eutils.ncbi.nlm.nih.gov and api.openalex.org."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        self.fail = False
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                source.requests.append((time.monotonic(), url.path, query))
                body = source.answer(url.path, query)
                if body is None:
                    self.send_error(503 if source.fail else 404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, query: dict[str, str]) -> bytes | None:
        if self.fail:
            return None
        if path == "/eutils/esearch.fcgi":
            return (FIXTURES / "esearch.json").read_bytes()
        if path == "/eutils/efetch.fcgi":
            page = 1 + int(query["retstart"]) // int(query["retmax"])
            return (FIXTURES / f"efetch_page{page}.txt").read_bytes()
        if path == "/openalex/works":
            page = 1 if query["cursor"] == "*" else 2
            return (FIXTURES / f"openalex_page{page}.json").read_bytes()
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def source(settings, monkeypatch):
    server = Source()
    settings.REVIEWFLOW_NCBI_EUTILS_URL = f"{server.url}/eutils"
    settings.REVIEWFLOW_OPENALEX_URL = f"{server.url}/openalex"
    settings.REVIEWFLOW_NCBI_API_KEY = ""
    monkeypatch.setattr(sources, "PAGE", 2)  # three records: two efetch pages
    monkeypatch.setattr(sources, "LIMITER", sources.RateLimiter())
    yield server
    server.close()


def test_pubmed_searches_by_entrez_date_and_fetches_medline_pages(source):
    fetched = sources.pubmed_fetch(
        '"peer support"[tiab]',
        dt.date(2026, 1, 1),
        dt.date(2026, 6, 30),
        base_url=f"{source.url}/eutils",
        email="lead@example.org",
    )
    assert (fetched.hits, fetched.fmt, fetched.requests) == (3, "nbib", 3)
    assert fetched.content.count(b"PMID- ") == 3
    (_, path, search), *fetches = source.requests
    assert path == "/eutils/esearch.fcgi"
    assert search["term"] == '"peer support"[tiab]' and search["db"] == "pubmed"
    assert (search["datetype"], search["mindate"], search["maxdate"]) == (
        "edat",
        "2026/01/01",
        "2026/06/30",
    )
    assert search["usehistory"] == "y" and "api_key" not in search
    assert search["email"] == "lead@example.org" and search["tool"] == "reviewflow"
    assert [f[2]["retstart"] for f in fetches] == ["0", "2"]
    assert {(f[2]["WebEnv"], f[2]["query_key"], f[2]["rettype"]) for f in fetches} == {
        ("MCID_test_webenv_0001", "1", "medline")
    }
    # NCBI without an API key: at most three requests a second.
    times = [t for t, _, _ in source.requests]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 1 / 3 - 0.02


def test_an_api_key_is_sent_and_allows_ten_requests_a_second(source):
    sources.pubmed_fetch(
        "x", dt.date(2026, 1, 1), dt.date(2026, 1, 2), base_url=f"{source.url}/eutils", api_key="k"
    )
    assert {q.get("api_key") for _, _, q in source.requests} == {"k"}
    times = [t for t, _, _ in source.requests]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.1 - 0.02 and max(gaps) < 1 / 3


def test_openalex_pages_by_cursor_and_becomes_ris(source):
    fetched = sources.openalex_fetch(
        "peer support",
        dt.date(2026, 1, 1),
        dt.date(2026, 6, 30),
        base_url=f"{source.url}/openalex",
        mailto="lead@example.org",
    )
    assert (fetched.hits, fetched.fmt, fetched.requests) == (2, "ris", 2)
    first = source.requests[0][2]
    assert first["filter"] == "from_publication_date:2026-01-01,to_publication_date:2026-06-30"
    assert first["mailto"] == "lead@example.org" and first["cursor"] == "*"
    assert source.requests[1][2]["cursor"] == "IlsxNjA5MzcyODAwMDAwXSI="
    text = fetched.content.decode()
    assert "AU  - Maja Lindqvist\nAU  - Chinedu Okafor\n" in text
    assert "AB  - Readmission is common after discharge.\n" in text
    assert "DO  - https://doi.org/10.5555/sched.0001\n" in text and "AN  - 90000001\n" in text
    assert text.count("ER  - ") == 2


def test_a_source_that_does_not_answer_is_a_clear_error(source):
    source.fail = True
    with pytest.raises(sources.SourceError, match="did not answer"):
        sources.openalex_fetch(
            "x", dt.date(2026, 1, 1), dt.date(2026, 1, 2), base_url=f"{source.url}/openalex"
        )


@pytest.mark.django_db
def test_a_scheduled_run_waits_for_the_lead_and_the_team_sees_it(source, cast, client):
    search = SearchFactory(review=cast.review, date_run=dt.date(2026, 1, 1))
    schedule = services.search_schedule_set(
        search=search, actor=cast.lead, provider="pubmed", query=" peer support ", every_days=30
    )
    assert schedule.query == "peer support" and schedule.next_run_on == dt.date.today()
    assert SearchChange.objects.filter(search=search, changes__has_key="schedule query").exists()
    assert tasks.search_schedules_due_task() == 1
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.PREVIEW and batch.n_read == 3
    run = SearchRun.objects.get(batch=batch)
    assert (run.covers_from, run.covers_to, run.hits_reported) == (
        dt.date(2026, 1, 1),
        dt.date.today(),
        3,
    )
    schedule.refresh_from_db()
    assert schedule.covered_to == dt.date.today() and schedule.last_error == ""
    assert services.search_schedules_due() == []  # next due in 30 days
    assert schedule.next_run_on == dt.date.today() + dt.timedelta(days=30)
    (panel,) = [
        p
        for p in panels_for(cast.review, cast.membership(cast.alice))
        if p.title == "Scheduled searches"
    ]
    assert panel.counts[0].value == 1 and f"/imports/{batch.pk}/" in panel.tasks[0].url
    client.force_login(cast.alice)
    assert (
        "Update runs awaiting confirmation"
        in client.get(f"/reviews/{cast.review.slug}/").content.decode()
    )
    services.import_confirm(batch=batch, actor=cast.lead)
    assert Record.objects.filter(review=cast.review).count() == 3
    assert not [
        p
        for p in panels_for(cast.review, cast.membership(cast.alice))
        if p.title == "Scheduled searches"
    ]
    # The next run asks from the day after the last one covered; the records it finds
    # again are linked to the ones imported.
    later = dt.date.today() + dt.timedelta(days=31)
    again = services.search_schedule_run(schedule=schedule, today=later)
    assert again.overlap["seen"] == 3 and again.overlap["new"] == 0
    assert source.requests[-3][2]["mindate"] == (dt.date.today() + dt.timedelta(days=1)).strftime(
        "%Y/%m/%d"
    )


@pytest.mark.django_db
def test_a_failed_run_keeps_its_dates_and_says_why(source, cast):
    search = SearchFactory(review=cast.review, date_run=dt.date(2026, 1, 1))
    schedule = services.search_schedule_set(
        search=search, actor=cast.lead, provider="openalex", query="peer support", every_days=7
    )
    source.fail = True
    with pytest.raises(DomainError, match="did not answer"):
        services.search_schedule_run(schedule=schedule)
    schedule.refresh_from_db()
    assert schedule.covered_to is None and "did not answer" in schedule.last_error
    assert not ImportBatch.objects.exists()
    assert tasks.search_schedules_due_task() == 1  # tried again, failure logged, not raised


@pytest.mark.django_db
def test_the_lead_schedules_a_search_on_its_page(client, cast):
    search = SearchFactory(review=cast.review)
    client.force_login(cast.lead)
    url = f"/reviews/{cast.review.slug}/searches/{search.pk}/schedule/"
    bad = client.post(url, {"provider": "pubmed", "query": "x", "every_days": "0"})
    assert bad.status_code == 400 and not SearchSchedule.objects.exists()
    response = client.post(
        url, {"provider": "openalex", "query": "peer support", "every_days": "14", "active": "on"}
    )
    assert response.status_code == 302
    schedule = SearchSchedule.objects.get(search=search)
    assert (schedule.provider, schedule.every_days, schedule.active) == ("openalex", 14, True)
    page = client.get(f"/reviews/{cast.review.slug}/searches/{search.pk}/").content.decode()
    assert 'id="schedule-form"' in page and "Next run due" in page


@pytest.mark.django_db
def test_a_discarded_scheduled_run_is_asked_for_again(source, cast):
    search = SearchFactory(review=cast.review, date_run=dt.date(2026, 1, 1))
    schedule = services.search_schedule_set(
        search=search, actor=cast.lead, provider="pubmed", query="peer support", every_days=7
    )
    batch = services.search_schedule_run(schedule=schedule, today=dt.date(2026, 3, 1))
    services.import_discard(batch=batch, actor=cast.lead)
    schedule.refresh_from_db()
    assert (
        schedule.covered_to == dt.date(2025, 12, 31) and schedule in services.search_schedules_due()
    )
    again = services.search_schedule_run(schedule=schedule, today=dt.date(2026, 3, 2))
    assert SearchRun.objects.get(batch=again).covers_from == dt.date(2026, 1, 1)
