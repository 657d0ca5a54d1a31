"""Review, team, invitation, search-log and upload pages, as a user meets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviews.models import ExclusionReason, ImportBatch, Invitation, Job, Membership, Review, Stage
from tests.factories import ImportBatchFactory, SearchFactory, UserFactory

EXCERPT = (
    Path(__file__).resolve().parents[1] / "fixtures" / "reviews" / "kwok2020_embase_excerpt.ris"
)


def test_creating_a_review_makes_me_lead_and_seeds_reasons(client, db):
    user = UserFactory(username="dorien")
    client.force_login(user)
    response = client.post(
        "/reviews/new/", {"title": "Peer support", "question": "Q?", "status": "protocol"}
    )
    review = Review.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reviews/{review.slug}/"
    assert Membership.objects.get(review=review, user=user).is_lead
    ft = set(review.exclusion_reasons.filter(stage=Stage.FULL_TEXT).values_list("label", flat=True))
    assert {"Wrong population", "Wrong study design", "Full text not retrievable"} <= ft
    ta = set(
        review.exclusion_reasons.filter(stage=Stage.TITLE_ABSTRACT).values_list("label", flat=True)
    )
    assert "Full text not retrievable" not in ta


def test_invitation_signup_joins_with_the_invited_roles(client, cast):
    client.force_login(cast.lead)
    client.post(
        f"/reviews/{cast.review.slug}/members/invite/",
        {"email": "dana@example.org", "is_adjudicator": "on"},
    )
    invitation = Invitation.objects.get()
    client.logout()
    response = client.get(f"/invitations/{invitation.token}/")
    assert b"Sign up and join" in response.content
    response = client.post(
        f"/invitations/{invitation.token}/",
        {
            "username": "dana",
            "email": "dana@example.org",
            "password1": "Str0ng-pass-42",
            "password2": "Str0ng-pass-42",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(review=cast.review, user__username="dana")
    assert membership.is_adjudicator and not membership.is_lead
    # The link works once.
    client.logout()
    assert client.get(f"/invitations/{invitation.token}/").status_code == 410


def test_existing_user_accepts_invitation(client, cast):
    newcomer = UserFactory(username="erin")
    invitation = Invitation.objects.create(
        review=cast.review, username="erin", invited_by=cast.lead
    )
    client.force_login(newcomer)
    assert client.get(f"/invitations/{invitation.token}/").status_code == 200
    client.post(f"/invitations/{invitation.token}/")
    assert Membership.objects.filter(review=cast.review, user=newcomer, is_reviewer=True).exists()


def test_invitation_for_someone_else_is_refused(client, cast):
    invitation = Invitation.objects.create(
        review=cast.review, username="erin", invited_by=cast.lead
    )
    client.force_login(cast.outsider)
    response = client.post(f"/invitations/{invitation.token}/")
    assert response.status_code == 400
    assert not Membership.objects.filter(review=cast.review, user=cast.outsider).exists()


def test_inviting_a_member_again_is_a_clear_error(client, cast):
    client.force_login(cast.lead)
    response = client.post(
        f"/reviews/{cast.review.slug}/members/invite/",
        {"username": "alice", "is_reviewer": "on"},
        follow=True,
    )
    assert b"already a member" in response.content
    assert not Invitation.objects.exists()


def test_last_lead_cannot_be_demoted(client, cast):
    client.force_login(cast.lead)
    lead = cast.membership(cast.lead)
    response = client.post(f"/reviews/{cast.review.slug}/members/{lead.pk}/", {"is_reviewer": "on"})
    assert response.status_code == 400
    lead.refresh_from_db()
    assert lead.is_lead


def test_lead_changes_roles(client, cast):
    client.force_login(cast.lead)
    bob = cast.membership(cast.bob)
    client.post(
        f"/reviews/{cast.review.slug}/members/{bob.pk}/",
        {"is_reviewer": "on", "is_adjudicator": "on"},
    )
    bob.refresh_from_db()
    assert bob.is_adjudicator and bob.is_reviewer


def test_search_log_shows_difference_between_hits_and_imported(client, cast):
    search = SearchFactory(review=cast.review, hits_reported=120)
    ImportBatchFactory(review=cast.review, search=search, n_imported=113)
    client.force_login(cast.alice)
    response = client.get(f"/reviews/{cast.review.slug}/searches/")
    assert response.status_code == 200
    assert response.context["searches"][0].difference == 7
    assert b">7<" in response.content


def test_search_form_rejects_bad_values(client, cast):
    client.force_login(cast.lead)
    response = client.post(
        f"/reviews/{cast.review.slug}/searches/new/",
        {"source": "pubmed", "date_run": "not a date", "search_string": "x", "hits_reported": "-3"},
    )
    assert response.status_code == 400
    assert not cast.review.searches.exists()


def test_upload_of_a_broken_file_is_a_400_with_a_message(client, cast):
    client.force_login(cast.lead)
    upload = SimpleUploadedFile("broken.ris", bytes(range(256)) * 10)
    response = client.post(f"/reviews/{cast.review.slug}/imports/upload/", {"file": upload})
    assert response.status_code == 400
    assert b"invalid-feedback" in response.content or b"alert" in response.content
    assert not ImportBatch.objects.exists()


def test_upload_preview_then_confirm(client, cast):
    client.force_login(cast.lead)
    upload = SimpleUploadedFile("embase.ris", EXCERPT.read_bytes())
    response = client.post(f"/reviews/{cast.review.slug}/imports/upload/", {"file": upload})
    # A job reads the file (in the request here: no broker in tests); its page leads on.
    job = Job.objects.get(kind="import_preview")
    assert response["Location"] == f"/reviews/{cast.review.slug}/jobs/{job.pk}/"
    batch = ImportBatch.objects.get()
    assert job.status == Job.Status.SUCCEEDED and job.started_by == cast.lead
    assert job.result["batch_id"] == batch.pk and job.message == "6 records read, 0 skipped"
    assert (
        client.get(response["Location"])["Location"]
        == f"/reviews/{cast.review.slug}/imports/{batch.pk}/"
    )
    page = client.get(f"/reviews/{cast.review.slug}/imports/{batch.pk}/")
    assert b"Import 6 records" in page.content
    response = client.post(f"/reviews/{cast.review.slug}/imports/{batch.pk}/confirm/")
    confirm = Job.objects.get(kind="import_confirm")
    assert response["Location"] == f"/reviews/{cast.review.slug}/jobs/{confirm.pk}/"
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.IMPORTED and batch.n_imported == 6
    assert confirm.params == {"batch_id": batch.pk}
    # Confirming again is refused, and queues nothing.
    again = client.post(f"/reviews/{cast.review.slug}/imports/{batch.pk}/confirm/")
    assert again.status_code == 409 and Job.objects.filter(kind="import_confirm").count() == 1


def test_csv_with_unknown_headers_goes_through_mapping(client, cast):
    client.force_login(cast.lead)
    data = b"Heading,Summary,Yr\nPeer support trial,An RCT.,2019\nAnother trial,Text,2020\n"
    response = client.post(
        f"/reviews/{cast.review.slug}/imports/upload/", {"file": SimpleUploadedFile("x.csv", data)}
    )
    assert "/imports/map/" in response["Location"]
    page = client.get(response["Location"])
    assert b"Heading" in page.content
    response = client.post(
        response["Location"], {"title": "Heading", "abstract": "Summary", "year": "Yr"}
    )
    batch = ImportBatch.objects.get()
    assert batch.n_read == 2 and batch.csv_mapping["title"] == "Heading"


def test_exclusion_reason_duplicate_label_is_refused(client, cast):
    client.force_login(cast.lead)
    response = client.post(
        f"/reviews/{cast.review.slug}/reasons/new/",
        {"stage": "ft", "label": "wrong population", "position": 1, "active": "on"},
    )
    assert response.status_code == 400
    response = client.post(
        f"/reviews/{cast.review.slug}/reasons/new/",
        {"stage": "ft", "label": "Wrong dose", "position": 20, "active": "on"},
    )
    assert response.status_code == 302
    assert ExclusionReason.objects.filter(review=cast.review, label="Wrong dose").exists()


@pytest.mark.parametrize("user", ["alice", "carol"])
def test_dashboard_for_members(client, cast, user):
    client.force_login(getattr(cast, user))
    response = client.get(f"/reviews/{cast.review.slug}/")
    assert response.status_code == 200
    assert b"Records imported" in response.content
