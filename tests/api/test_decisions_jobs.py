"""Decisions previews and imports run as jobs: safe to run again, refusals said at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api import tasks
from api.models import DecisionsImport
from reviews import services as review_services
from reviews.jobs import run_job
from reviews.models import Job
from screening.models import Vote

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"


def _imported(cast, name: str):
    data = (FIXTURES / name).read_bytes()
    batch = review_services.import_preview(
        review=cast.review, actor=cast.lead, file=SimpleUploadedFile(name, data), filename=name
    )
    return review_services.import_confirm(batch=batch, actor=cast.lead)


def test_an_import_job_run_again_does_not_import_twice(cast):
    batch = _imported(cast, "rayyan_articles.csv")
    options = {"tool": "rayyan", "reviewers": {"Alice": "alice", "Bob": "bob"}}
    options["reviewers"]["Pilot Screener"] = None
    job = review_services.job_create(
        review=cast.review,
        kind=tasks.DECISIONS_IMPORT,
        actor=cast.lead,
        params={"batch_id": batch.pk, "options": options},
    )
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    entry = DecisionsImport.objects.get()
    assert job.result["import_id"] == entry.pk and entry.options["job"] == job.pk
    # A redelivered message after the worker died between commit and recording the result:
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, result={})
    run_job(job.pk, job.celery_task_id, tasks._decisions_import)
    job.refresh_from_db()
    assert job.result["import_id"] == entry.pk
    assert DecisionsImport.objects.count() == 1 and Vote.objects.count() == 7


def test_a_refused_import_is_said_beside_its_preview(client, cast):
    """Full-text exclusions without a reason (Rayyan rounds as stages) need one chosen."""
    batch = _imported(cast, "rayyan_two_rounds_four_reviewers.csv")
    for username in ("dana", "eli"):
        from tests.factories import MembershipFactory, UserFactory

        MembershipFactory(review=cast.review, user=UserFactory(username=username), is_reviewer=True)
    client.force_login(cast.lead)
    url = f"/reviews/{cast.review.slug}/exchange/decisions/"
    names = ["Coralie", "Lorenzo", "Losia", "z5393783"]
    form = {"batch": batch.pk, "tool": "rayyan", "mapped": "1", "name": names}
    form |= {"reviewer-0": "bob", "reviewer-1": "dana", "reviewer-2": "eli", "reviewer-3": "alice"}
    form |= {"rayyan_rounds": "stages"}
    preview = client.post(url, form, follow=True)
    report = preview.context["preview"]["report"]
    assert {(g["round"], g["stage"]) for g in report["groups"]} == {(1, "ta"), (2, "ft")}
    job = preview.context["preview"]["job"]
    refused = client.post(url, form | {"confirm": "1", "preview_job": job})
    assert refused.status_code == 400
    assert b"full-text exclusions have no exclusion reason" in refused.content
    assert refused.context["preview"]["report"] == report  # the preview stays on screen
    assert not Vote.objects.exists() and not DecisionsImport.objects.exists()
