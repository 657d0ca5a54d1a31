"""A new review's dashboard lists its lead's next steps, each gone once it is done."""

from __future__ import annotations

import datetime as dt
import io

from reviews import services
from reviews.models import Search
from reviews.selectors import setup_steps
from tests.factories import UserFactory

CSV = b"title,abstract\nMetformin versus placebo,A randomised trial.\n"


def _steps_shown(client, review) -> list[str]:
    html = client.get(f"/reviews/{review.slug}/").content.decode()
    return [
        key for key in ("invite", "criteria", "search", "import") if f'data-step="{key}"' in html
    ]


def test_each_step_disappears_once_done(client, db):
    lead = UserFactory()
    review = services.review_create(creator=lead, title="Metformin for prediabetes")
    client.force_login(lead)
    assert _steps_shown(client, review) == ["invite", "criteria", "search", "import"]
    html = client.get(f"/reviews/{review.slug}/").content.decode()
    assert f'href="/reviews/{review.slug}/members/invite/"' in html
    assert f'href="/reviews/{review.slug}/searches/new/"' in html

    services.review_update(review=review, actor=lead, eligibility_criteria="RCTs in adults.")
    assert _steps_shown(client, review) == ["invite", "search", "import"]

    services.invitation_create(review=review, actor=lead, email="bob@example.org")
    assert _steps_shown(client, review) == ["search", "import"]

    search = services.search_create(
        review=review,
        actor=lead,
        source=Search.Source.PUBMED,
        date_run=dt.date(2026, 1, 5),
        search_string="metformin AND prediabetes",
        hits_reported=1,
    )
    assert _steps_shown(client, review) == ["import"]

    batch = services.import_preview(
        review=review, actor=lead, file=io.BytesIO(CSV), filename="x.csv", search=search
    )
    services.import_confirm(batch=batch, actor=lead)
    assert _steps_shown(client, review) == []
    assert 'id="next-steps"' not in client.get(f"/reviews/{review.slug}/").content.decode()
    review.refresh_from_db()
    assert all(step.done for step in setup_steps(review, has_searches=True, has_records=True))


def test_only_leads_see_the_steps(client, cast):
    review = cast.review  # the test cast's review: a team, but no criteria, search or records
    client.force_login(cast.alice)
    assert 'id="next-steps"' not in client.get(f"/reviews/{review.slug}/").content.decode()
    client.force_login(cast.lead)
    assert _steps_shown(client, review) == ["criteria", "search", "import"]
