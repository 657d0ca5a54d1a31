"""GRADE pages and exports: the lead rates, members read, the SoF table downloads."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from analysis.certainty import rules, selectors, services
from analysis.certainty.models import CertaintyAssessment, CertaintyEvent
from tests.analysis.test_certainty_services import accept_all, rr_analysis  # noqa: F401


def _form(ctx, **overrides) -> dict:
    data = {"intervention": "St John's wort", "thresholds": ""}
    for key, s in ctx.suggestions.items():
        data[key], data[f"{key}_reason"] = s.rating, ""
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_lead_rates_with_a_reason_members_read_and_exports_hold_the_cells(
    client,
    cast,
    rr_analysis,  # noqa: F811
):
    analysis, _ = rr_analysis
    ctx = selectors.evidence_for(analysis)
    slug = cast.review.slug
    rate = reverse("certainty:rate", args=[slug, analysis.pk])
    other = rules.VERY_SERIOUS if ctx.suggestions["imprecision"].rating != "very_serious" else "no"

    client.force_login(cast.alice)  # a reviewer reads but does not rate
    assert client.post(rate, _form(ctx)).status_code == 403
    client.force_login(cast.lead)
    # overriding without a reason: 400, the field named, nothing written
    response = client.post(rate, _form(ctx, imprecision=other))
    assert response.status_code == 400
    assert "say why" in response.content.decode()
    assert not CertaintyAssessment.objects.exists()
    response = client.post(
        rate, _form(ctx, imprecision=other, imprecision_reason="Few events overall.")
    )
    assert response.status_code == 302
    a = CertaintyAssessment.objects.get()
    assert a.domains.get(domain="imprecision").final == other
    assert CertaintyEvent.objects.filter(actor=cast.lead, action="rated").count() == 1

    client.force_login(cast.alice)
    page = client.get(reverse("certainty:detail", args=[slug, analysis.pk])).content.decode()
    assert "Few events overall." in page and rules.CERTAINTY[a.certainty][1] in page
    index = client.get(reverse("certainty:index", args=[slug])).content.decode()
    assert rules.certainty_label(a.certainty) in index

    client.force_login(cast.lead)
    response = client.post(
        reverse("certainty:sof_create", args=[slug]),
        {"title": "St John's wort vs placebo", "comparison": "placebo"},
    )
    table_url = response["Location"]
    table_id = int(table_url.rstrip("/").rsplit("/", 1)[1])
    client.post(reverse("certainty:sof_row_add", args=[slug, table_id]), {"assessment": a.pk})
    assert client.post(
        reverse("certainty:sof_row_add", args=[slug, table_id]), {"assessment": 999999}
    ).status_code in (400, 404)
    page = client.get(table_url).content.decode()
    assert "Few events overall." in page and "per 1,000" in page

    # Word: one header row and the outcome's row, the certainty naming the footnote marks
    from docx import Document

    response = client.get(reverse("certainty:sof_export", args=[slug, table_id, "docx"]))
    assert response.status_code == 200
    doc = Document(io.BytesIO(response.content))
    (grid,) = doc.tables
    cells = [c.text for c in grid.rows[1].cells]
    line = selectors.sof_view(a.sof_rows.get().table).lines[0]
    assert cells[0].startswith(a.outcome)
    assert cells[3] == line.relative and cells[4] == line.participants
    assert cells[5].startswith(rules.certainty_label(a.certainty))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Imprecision: rated down" in text and "Few events overall." in text

    rows = list(csv.reader(io.StringIO(client.get(
        reverse("certainty:sof_export", args=[slug, table_id, "csv"])
    ).content.decode())))  # fmt: skip
    assert rows[1][0] == a.outcome and rows[1][2] == line.participants
    printable = client.get(reverse("certainty:sof_export", args=[slug, table_id, "html"]))
    assert printable.status_code == 200 and b"sof-table" in printable.content
    assert (
        client.get(reverse("certainty:sof_export", args=[slug, table_id, "pdf"])).status_code == 400
    )
    profile = client.get(reverse("certainty:profile_export", args=[slug, "csv"])).content
    head, first = list(csv.reader(io.StringIO(profile.decode())))[:2]
    assert first[head.index("Imprecision: reason")] == "Few events overall."
    xlsx = client.get(reverse("certainty:profile_export", args=[slug, "xlsx"]))
    assert xlsx.content[:2] == b"PK"


@pytest.mark.django_db
def test_sof_rows_are_ordered_by_the_lead_and_typed_values_checked(cast, rr_analysis):  # noqa: F811
    analysis, _ = rr_analysis
    ctx = selectors.evidence_for(analysis)
    a = services.assessment_save(analysis=analysis, actor=cast.lead, finals=accept_all(ctx))
    from analysis.certainty.models import CertaintyAssessment as CA

    second = services.assessment_save(
        analysis=_copy(cast, analysis), actor=cast.lead, finals=accept_all(ctx)
    )
    assert CA.objects.count() == 2
    table = services.sof_table_save(review=cast.review, actor=cast.lead, values={"title": "T"})
    r1 = services.sof_row_add(table=table, assessment=a, actor=cast.lead)
    r2 = services.sof_row_add(table=table, assessment=second, actor=cast.lead)
    assert [line.row.pk for line in selectors.sof_view(table).lines] == [r1.pk, r2.pk]
    services.sof_row_move(row=r2, actor=cast.lead, offset=-1)
    assert [line.row.pk for line in selectors.sof_view(table).lines] == [r2.pk, r1.pk]
    from reviews.errors import ConflictError, DomainError

    with pytest.raises(ConflictError):
        services.sof_row_add(table=table, assessment=a, actor=cast.lead)
    with pytest.raises(DomainError, match="both"):
        services.sof_row_save(row=r1, actor=cast.lead, values={"scale_sd": 5.0, "scale_name": ""})
    with pytest.raises(ConflictError):
        services.sof_table_save(review=cast.review, actor=cast.lead, values={"title": "T"})


def _copy(cast, analysis):
    from analysis import services as analysis_services

    values = {name: getattr(analysis, name) for name in analysis_services.ANALYSIS_FIELDS}
    values["title"] = "Response (copy)"
    return analysis_services.analysis_save(review=cast.review, actor=cast.lead, values=values)
