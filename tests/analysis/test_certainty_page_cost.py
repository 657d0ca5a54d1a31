"""What the certainty and Summary of Findings pages cost in SQL queries, pinned.

Each rated outcome analysis reads the review's consensus data, RoB 2 consensus and form
fields; read per analysis, a page of six outcomes cost 270 queries. The pages now read
them once per request (``analysis.data.ReviewReads``), so the count is pinned here and
checked to be the same with 2 outcomes over 4 studies and 6 outcomes over 7 studies
(as ``tests/screening/test_page_cost.py`` does for the screening pages).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from analysis.certainty import selectors, services
from tests.analysis.factories import (
    clinical_analysis,
    review_setup,
    rob_consensus,
    study_extracted,
)
from tests.analysis.test_certainty_services import accept_all
from tests.analysis.test_dichotomous import LINDE, response_spec

pytestmark = pytest.mark.django_db

MEASURES = ("RR", "OR", "RD")

# Queries per page for a logged-in lead (session, user, membership and review lookups
# included); "{a}" is a rated analysis, "{t}" the SoF table.
PAGES = {
    "certainty index": ("/reviews/{slug}/certainty/", 21),
    "certainty of one analysis": ("/reviews/{slug}/certainty/{a}/", 22),
    "evidence profile CSV": ("/reviews/{slug}/certainty/profile.csv", 21),
    "evidence profile XLSX": ("/reviews/{slug}/certainty/profile.xlsx", 21),
    "SoF tables": ("/reviews/{slug}/certainty/sof/", 4),
    "SoF table": ("/reviews/{slug}/certainty/sof/{t}/", 23),
    "SoF printable HTML": ("/reviews/{slug}/certainty/sof/{t}/sof.html", 22),
    "SoF DOCX": ("/reviews/{slug}/certainty/sof/{t}/sof.docx", 22),
    "SoF CSV": ("/reviews/{slug}/certainty/sof/{t}/sof.csv", 22),
    "API certainty": ("/api/v1/reviews/{slug}/certainty/", 21),
    "API SoF tables": ("/api/v1/reviews/{slug}/sof/", 21),
}


def build(cast, n_outcomes: int, n_studies: int):
    """``n_studies`` trials (two with a RoB 2 consensus), ``n_outcomes`` rated analyses on
    RR/OR/RD in one SoF table, and one analysis not rated (the index lists it too)."""
    review_setup(cast)
    studies = [study_extracted(cast, response_spec(*row)) for row in LINDE[:n_studies]]
    rob_consensus(cast, studies[0], "high")
    rob_consensus(cast, studies[1], "low")
    table = services.sof_table_save(review=cast.review, actor=cast.lead, values={"title": "T"})
    first = None
    for i in range(n_outcomes):
        analysis = clinical_analysis(
            cast,
            title=f"Response {i + 1}",
            subdomain="Depressive symptoms",
            effect_measure=MEASURES[i % len(MEASURES)],
            subgroup_fields=[],
            min_studies=2,
        )
        ctx = selectors.evidence_for(analysis)
        assessment = services.assessment_save(
            analysis=analysis, actor=cast.lead, finals=accept_all(ctx)
        )
        services.sof_row_add(table=table, assessment=assessment, actor=cast.lead)
        first = first or analysis
    clinical_analysis(cast, title="Not rated", subdomain="Depressive symptoms", subgroup_fields=[])
    return first, table


def page_queries(client: Client, url: str) -> int:
    """Queries of a second visit (the first one fills the report cache)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(("n_outcomes", "n_studies"), [(2, 4), (6, 7)])
def test_certainty_and_sof_pages_cost_a_fixed_number_of_queries(cast, n_outcomes, n_studies):
    analysis, table = build(cast, n_outcomes, n_studies)
    lead = Client()
    lead.force_login(cast.lead)
    view = selectors.sof_view(table)
    assert len(view.lines) == n_outcomes
    k = selectors.evidence_for(analysis).k  # a trial with no events in either arm drops out
    assert k >= n_studies - 1 and view.lines[0].participants.endswith(f"({k} RCTs)")
    counts = {
        name: page_queries(lead, url.format(slug=cast.review.slug, a=analysis.pk, t=table.pk))
        for name, (url, _) in PAGES.items()
    }
    assert counts == {name: expected for name, (_, expected) in PAGES.items()}
