"""PRISMA 2020 counts from a review built through the real services, box by box."""

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviews import services as review_services
from reviews.models import Search
from reviews.selectors import record_counts
from screening import prisma, services
from screening.models import PrismaExtra
from tests.screening.factories import ft_reason, vote
from tests.screening.matrix_params import PDF_BYTES

pytestmark = pytest.mark.django_db


def ris(records: list[tuple[str, str]]) -> bytes:
    lines = []
    for title, doi in records:
        lines += [
            "TY  - JOUR",
            f"TI  - {title}",
            "AU  - Smith, Jane",
            "PY  - 2020",
            "JO  - Psychiatric Services",
            f"DO  - {doi}",
            "ER  - ",
            "",
        ]
    return "\n".join(lines).encode()


def import_ris(review, lead, source: str, records) -> None:
    search = Search.objects.create(
        review=review,
        source=source,
        date_run=dt.date(2024, 1, 1),
        search_string="peer support",
        hits_reported=len(records),
        created_by=lead,
    )
    batch = review_services.import_preview(
        review=review,
        actor=lead,
        file=io.BytesIO(ris(records)),
        filename=f"{source}.ris",
        fmt="ris",
        search=search,
    )
    review_services.import_confirm(batch=batch, actor=lead)


TOPICS = [
    "peer mentoring",
    "recovery colleges",
    "hearing voices groups",
    "clubhouse models",
    "peer-run respite",
    "online forums",
    "peer navigators",
    "family peer advocates",
    "warm lines",
    "peer bridgers",
    "recovery coaching",
    "mutual aid groups",
    "peer-delivered CBT",
    "lived experience workers",
    "peer case managers",
    "self-help groups",
    "consumer-operated services",
]


@pytest.fixture
def known_review(cast):
    """PubMed 12 + Embase 8 records, 3 of Embase's are PubMed's again (same DOI and title).

    Title/abstract (17 records): 9 excluded (7 agreed, 2 adjudicated), 8 included
    (6 agreed, 1 adjudicated after a disagreement, 1 after two maybes).
    Full text (8 reports): 1 not retrievable, 7 assessed: 2 excluded for the wrong
    population (agreed), 1 for the wrong outcome (adjudicated), 4 included.
    """
    review, lead = cast.review, cast.lead
    pubmed = [(f"A randomised trial of {t}", f"10.1000/p{i}") for i, t in enumerate(TOPICS[:12])]
    embase = pubmed[:3] + [
        (f"A randomised trial of {t}", f"10.1000/e{i}") for i, t in enumerate(TOPICS[12:])
    ]
    import_ris(review, lead, Search.Source.PUBMED, pubmed)
    import_ris(review, lead, Search.Source.EMBASE, embase)
    assert record_counts(review)["duplicates"] == 3
    services.items_sync(review, force=True)
    unique = list(review.records.filter(duplicate_of__isnull=True).order_by("id"))
    assert len(unique) == 17
    a, b, carol = cast.alice, cast.bob, cast.carol

    def ta(record, da, db, final=None):
        vote(review, record, a, da)
        vote(review, record, b, db)
        if final:
            services.conflict_resolve(
                review=review, record_id=record.pk, stage="ta", actor=carol, decision=final
            )

    excluded, included = unique[:9], unique[9:]
    for r in excluded[:7]:
        ta(r, "exclude", "exclude")
    for r in excluded[7:]:
        ta(r, "include", "exclude", final="exclude")
    for r in included[:6]:
        ta(r, "include", "include")
    ta(included[6], "exclude", "include", final="include")
    ta(included[7], "maybe", "maybe", final="include")

    population, outcome = ft_reason(review), ft_reason(review, "Wrong outcome")
    services.fulltext_set_not_retrievable(
        review=review, record_id=included[0].pk, actor=a, not_retrievable=True
    )
    for r in included[1:]:
        services.fulltext_upload(
            review=review,
            record_id=r.pk,
            actor=a,
            upload=SimpleUploadedFile("x.pdf", PDF_BYTES, content_type="application/pdf"),
        )
    for r in included[1:3]:
        vote(review, r, a, "exclude", "ft", reason_id=population.pk)
        vote(review, r, b, "exclude", "ft", reason_id=population.pk)
    vote(review, included[3], a, "exclude", "ft", reason_id=population.pk)
    vote(review, included[3], b, "exclude", "ft", reason_id=outcome.pk)
    services.conflict_resolve(
        review=review,
        record_id=included[3].pk,
        stage="ft",
        actor=carol,
        decision="exclude",
        reason_id=outcome.pk,
    )
    for r in included[4:]:
        vote(review, r, a, "include", "ft")
        vote(review, r, b, "include", "ft")
    return review


EXPECTED_BOXES = {
    ("identification", "PubMed/MEDLINE"): 12,
    ("identification", "Embase"): 8,
    ("identification", "Total"): 20,
    ("removed_before_screening", "Duplicate records removed"): 3,
    ("removed_before_screening", "Records marked as ineligible by automation tools"): 0,
    ("removed_before_screening", "Records removed for other reasons"): 0,
    ("records_screened", "Records screened"): 17,
    ("records_excluded", "Records excluded"): 9,
    ("reports_sought", "Reports sought for retrieval"): 8,
    ("reports_not_retrieved", "Reports not retrieved"): 1,
    ("reports_assessed", "Reports assessed for eligibility"): 7,
    ("reports_excluded", "Wrong population"): 2,
    ("reports_excluded", "Wrong outcome"): 1,
    ("included", "Studies included in review"): 4,
    ("included", "Reports of included studies"): 4,
}


def csv_boxes(text: str) -> dict:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    return {(r["box"], r["label"]): int(r["n"]) for r in rows}


def test_every_box_of_the_diagram(client, cast, known_review):
    client.force_login(cast.alice)
    base = f"/reviews/{known_review.slug}/screening/prisma/"
    boxes = csv_boxes(client.get(base + "diagram.csv").content.decode())
    assert boxes == EXPECTED_BOXES
    # The SVG on the page draws the same numbers in the same boxes.
    svg = client.get(base + "diagram.svg").content.decode()
    root = ET.fromstring(svg.split("?>", 1)[1])
    ns = {"s": "http://www.w3.org/2000/svg"}
    drawn = {}
    for group in root.iterfind(".//s:g[@data-box]", ns):
        for text in group.iterfind("s:text[@data-n]", ns):
            label = " ".join("".join(t.itertext()) for t in text).rsplit(" (n = ", 1)[0]
            drawn[(group.get("data-box"), label.strip())] = int(text.get("data-n"))
    for (box, label), n in EXPECTED_BOXES.items():
        match = [v for (b, lab), v in drawn.items() if b == box and lab.startswith(label)]
        assert match == [n], (box, label, drawn)
    page = client.get(base).content.decode()
    assert 'id="prisma-diagram"' in page and "do not add up" not in page


def test_counts_add_up(known_review):
    c = prisma.prisma_counts(known_review)
    assert c.inconsistencies() == []
    assert c.records_screened == c.records_identified - c.duplicates_removed
    assert c.reports_sought == c.records_screened - c.records_excluded
    assert c.reports_assessed == c.reports_sought - c.reports_not_retrieved
    assert c.reports_included == c.reports_assessed - sum(n for _, n in c.reports_excluded)


def test_studies_come_from_a_registered_provider(known_review, monkeypatch):
    # Only this test's provider (the extraction app may have registered its own).
    monkeypatch.setattr(prisma, "_providers", [])

    def provider(review):
        return (3, 4) if review.pk == known_review.pk else None

    c = prisma.prisma_counts(known_review)
    assert (c.studies_included, c.reports_included) == (4, 4)  # reports = studies until then
    prisma.register_included_studies_provider(provider)
    c = prisma.prisma_counts(known_review)
    assert (c.studies_included, c.reports_included) == (3, 4)
    prisma.unregister_included_studies_provider(provider)


def test_lead_entered_counts_are_separate_labelled_boxes(client, cast, known_review):
    client.force_login(cast.lead)
    url = f"/reviews/{known_review.slug}/screening/prisma/counts/"
    response = client.post(
        url,
        {
            "automation_excluded": "5",
            "other_removed": "1",
            "other_sources_text": "Citation searching: 6\nWebsites: 2",
            "other_reports_sought": "8",
            "other_reports_not_retrieved": "1",
            "other_reports_assessed": "7",
            "other_reports_excluded_text": "Wrong population: 5",
        },
    )
    assert response.status_code == 302
    boxes = csv_boxes(
        client.get(f"/reviews/{known_review.slug}/screening/prisma/diagram.csv").content.decode()
    )
    assert (
        boxes[("removed_before_screening", "Records marked as ineligible by automation tools")] == 5
    )
    assert boxes[("other_identification", "Citation searching")] == 6
    assert boxes[("other_reports_excluded", "Wrong population")] == 5
    # Bad input: a clear message and a 4xx; nothing saved.
    response = client.post(
        url,
        {"automation_excluded": "-1", "other_removed": "0", "other_sources_text": "no number here"},
    )
    assert response.status_code == 400
    assert PrismaExtra.objects.get(review=known_review).automation_excluded == 5
    client.force_login(cast.alice)
    assert client.post(url, {"automation_excluded": "1", "other_removed": "0"}).status_code == 403


@pytest.mark.parametrize("fmt,magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_downloads(client, cast, known_review, fmt, magic):
    client.force_login(cast.bob)
    response = client.get(f"/reviews/{known_review.slug}/screening/prisma/diagram.{fmt}")
    assert response.status_code == 200 and response.content.startswith(magic)
    assert "attachment" in response["Content-Disposition"]


def test_readable_with_ten_reasons_and_six_sources(cast):
    """Many exclusion reasons and sources still give a diagram (the renderer lays it out)."""
    from screening.prisma_render import PrismaCounts, prisma_layout

    counts = PrismaCounts(
        sources=[(f"Database {i}", 10) for i in range(6)],
        duplicates_removed=0,
        records_screened=60,
        records_excluded=20,
        reports_sought=40,
        reports_not_retrieved=0,
        reports_assessed=40,
        reports_excluded=[(f"Reason number {i}", 3) for i in range(10)],
        studies_included=10,
        reports_included=10,
    )
    layout = prisma_layout(counts)
    boxes = layout.flow_boxes
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
