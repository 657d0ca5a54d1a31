"""De-duplication through the services: linked, never deleted; reversible; against earlier imports."""

from __future__ import annotations

import io

import pytest

from reviews import services
from reviews.errors import ConflictError
from reviews.models import DuplicateLink, Record

RIS_A = """TY  - JOUR
AU  - Smith, Jane
TI  - Peer support for people with serious mental illness: a randomised controlled trial
PY  - 2019
JO  - Psychiatric Services
DO  - 10.1176/appi.ps.2019.1
ER  -
TY  - JOUR
AU  - Jones, Paul
TI  - Hope and empowerment after a peer-led recovery course
PY  - 2020
JO  - BMC Psychiatry
AN  - 31234567
ER  -
TY  - JOUR
AU  - Brown, Alice
TI  - Loneliness among people with depression: a cohort study
PY  - 2018
JO  - J Affect Disord
ER  -
"""

# Same three studies as exported by another database, plus one new record.
RIS_B = """TY  - JOUR
AU  - Smith, J.
TI  - Peer Support for People With Serious Mental Illness - A Randomised Controlled Trial.
PY  - 2019
JO  - Psychiatr Serv
DO  - https://doi.org/10.1176/APPI.PS.2019.1
ER  -
TY  - JOUR
AU  - Jones, P
TI  - Hope and empowerment after a peer led recovery course
PY  - 2021
JO  - BMC Psychiatry
AN  - 31234567
ER  -
TY  - JOUR
AU  - Brown, A
TI  - Loneliness among people with depression: a cohort study
PY  - 2019
JO  - Journal of Affective Disorders
ER  -
TY  - JOUR
AU  - Green, Tom
TI  - Telephone peer support for postnatal depression
PY  - 2017
JO  - BJPsych
ER  -
"""


def _import(cast, text: str, name: str):
    batch = services.import_preview(
        review=cast.review, actor=cast.lead, file=io.BytesIO(text.encode()), filename=name
    )
    return services.import_confirm(batch=batch, actor=cast.lead)


def test_second_import_is_checked_against_the_first(cast):
    _import(cast, RIS_A, "pubmed.ris")
    batch = _import(cast, RIS_B, "embase.ris")
    assert batch.n_imported == 4
    assert batch.n_duplicates == 3
    assert Record.objects.filter(review=cast.review).count() == 7  # nothing deleted
    dups = Record.objects.filter(duplicate_of__isnull=False)
    assert set(dups.values_list("batch__filename", flat=True)) == {"embase.ris"}
    for dup in dups.select_related("duplicate_of"):
        assert dup.duplicate_of.batch.filename == "pubmed.ris"
    reasons = set(DuplicateLink.objects.values_list("reason", flat=True))
    assert any("doi" in r.lower() for r in reasons) and any("pmid" in r.lower() for r in reasons)


def test_rerun_finds_nothing_new_and_keeps_decisions(cast):
    _import(cast, RIS_A, "a.ris")
    _import(cast, RIS_B, "b.ris")
    links = DuplicateLink.objects.count()
    assert services.duplicates_find(review=cast.review) == 0
    assert DuplicateLink.objects.count() == links


def test_undo_merge_restores_the_record_and_survives_rerun(cast):
    _import(cast, RIS_A, "a.ris")
    _import(cast, RIS_B, "b.ris")
    link = DuplicateLink.objects.filter(status=DuplicateLink.Status.MERGED).first()
    services.duplicate_undo(link=link, actor=cast.lead)
    assert Record.objects.get(pk=link.duplicate_id).duplicate_of_id is None
    services.duplicates_find(review=cast.review)
    assert Record.objects.get(pk=link.duplicate_id).duplicate_of_id is None
    with pytest.raises(ConflictError):
        services.duplicate_undo(link=link, actor=cast.lead)


def test_pending_pair_is_decided_by_a_lead(cast):
    _import(cast, RIS_A, "a.ris")
    kept = Record.objects.get(title__startswith="Loneliness")
    dup = Record.objects.create(
        review=cast.review,
        batch=kept.batch,
        title="Loneliness in depression: cohort",
        title_norm="loneliness in depression cohort",
        year=2018,
        authors=["Brown, A"],
        first_author="brown",
    )
    link = DuplicateLink.objects.create(
        review=cast.review,
        kept=kept,
        duplicate=dup,
        score=0.8,
        tier="review",
        reason="title",
        status="pending",
    )
    services.duplicate_decide(link=link, actor=cast.lead, is_duplicate=True)
    dup.refresh_from_db()
    assert dup.duplicate_of_id == kept.pk
    with pytest.raises(ConflictError):
        services.duplicate_decide(link=link, actor=cast.lead, is_duplicate=False)


def test_duplicate_pages_show_pairs_side_by_side(client, cast):
    _import(cast, RIS_A, "a.ris")
    _import(cast, RIS_B, "b.ris")
    client.force_login(cast.lead)
    response = client.get(f"/reviews/{cast.review.slug}/duplicates/?status=merged")
    assert response.status_code == 200
    assert b"Undo merge" in response.content
    assert b'class="diff"' in response.content  # differing fields are marked
    link = DuplicateLink.objects.filter(status="merged").first()
    response = client.post(
        f"/reviews/{cast.review.slug}/duplicates/{link.pk}/", {"action": "undo", "back": "merged"}
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.status == DuplicateLink.Status.UNDONE
    response = client.post(
        f"/reviews/{cast.review.slug}/duplicates/{link.pk}/", {"action": "nonsense"}
    )
    assert response.status_code == 400
