"""/api/v1/reviews/{slug}/certainty/ and .../sof/: the ratings and SoF tables as the pages."""

from __future__ import annotations

import pytest

from analysis.certainty import rules, selectors, services
from tests.analysis.test_certainty_services import accept_all, rr_analysis  # noqa: F401


@pytest.mark.django_db
def test_members_read_ratings_and_sof_tables(api, cast, rr_analysis):  # noqa: F811
    analysis, _ = rr_analysis
    ctx = selectors.evidence_for(analysis)
    a = services.assessment_save(
        analysis=analysis,
        actor=cast.lead,
        finals=accept_all(ctx, indirectness=(rules.SERIOUS, "Outpatients only.")),
    )
    table = services.sof_table_save(
        review=cast.review, actor=cast.lead, values={"title": "St John's wort vs placebo"}
    )
    services.sof_row_add(table=table, assessment=a, actor=cast.lead)
    base = f"/api/v1/reviews/{cast.review.slug}"

    (rated,) = api("carol").get(f"{base}/certainty/").json()
    assert rated["id"] == a.pk and rated["analysis"] == analysis.pk
    assert rated["certainty"] == a.certainty and rated["data_changed_since_rated"] is False
    domains = {d["domain"]: d for d in rated["domains"]}
    assert domains["indirectness"]["final"] == "serious"
    assert domains["indirectness"]["reason"] == "Outpatients only."
    assert domains["risk_of_bias"]["numbers"]["weight at high risk"].endswith("%")
    assert rated["participants"] == ctx.participants and rated["studies"] == 7
    assert api("alice").get(f"{base}/certainty/{a.pk}/").json()["id"] == a.pk
    assert api("alice").get(f"{base}/certainty/999999/").status_code == 404

    (sof,) = api("alice").get(f"{base}/sof/").json()
    line = selectors.sof_view(table).lines[0]
    (row,) = sof["rows"]
    assert row["participants"] == line.participants
    assert row["corresponding_per_1000"] == pytest.approx(line.absolute.corresponding)
    notes = {f["mark"]: f["text"] for f in sof["footnotes"]}
    assert set(row["footnotes"]) == set(notes)
    assert any(t.startswith("Indirectness") and "Outpatients only." in t for t in notes.values())
    assert api("alice").get(f"{base}/sof/{table.pk}/").json()["title"] == table.title
    assert api("outsider").get(f"{base}/sof/").status_code == 404
    assert api().get(f"{base}/certainty/").status_code == 401
