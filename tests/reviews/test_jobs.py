"""Jobs: the row a user watches, its status endpoint, and the runner's failure handling."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction

from reviews import services
from reviews.errors import DomainError
from reviews.jobs import Progress, run_job
from reviews.models import Job
from tests.factories import JobFactory, RecordFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(job: Job) -> str:
    return f"/reviews/{job.review.slug}/jobs/{job.pk}/"


def test_a_running_job_polls_and_shows_its_progress(client, cast):
    job = JobFactory(
        review=cast.review, status=Job.Status.RUNNING, progress=42, message="Read 8,000 records"
    )
    client.force_login(cast.alice)
    response = client.get(_url(job), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Redirect" not in response
    assert 'hx-trigger="every 1s"' in html and f'hx-get="{_url(job)}"' in html
    assert 'value="42"' in html and "Read 8,000 records" in html
    # The full page wraps the same partial.
    page = client.get(_url(job)).content.decode()
    assert "<progress" in page and "Read 8,000 records" in page


def test_a_finished_job_stops_polling_and_leads_to_its_result(client, cast):
    url = f"/reviews/{cast.review.slug}/duplicates/"
    job = JobFactory(
        review=cast.review,
        status=Job.Status.SUCCEEDED,
        progress=100,
        result={"url": url, "label": "See the duplicates", "follow": True},
    )
    client.force_login(cast.lead)
    response = client.get(_url(job), **HTMX)
    assert "hx-trigger" not in response.content.decode()
    assert response["HX-Redirect"] == url
    assert client.get(_url(job))["Location"] == url


def test_a_failed_job_shows_its_error_and_a_lead_may_run_it_again(client, cast):
    job = JobFactory(review=cast.review, started_by=cast.lead, error="No record could be read.")
    client.force_login(cast.alice)
    html = client.get(_url(job), **HTMX).content.decode()
    assert "No record could be read." in html and "Run it again" not in html
    assert client.post(_url(job) + "retry/").status_code == 403
    client.force_login(cast.lead)
    assert "Run it again" in client.get(_url(job), **HTMX).content.decode()
    response = client.post(_url(job) + "retry/")
    assert response.status_code == 302
    job.refresh_from_db()
    # A de-duplication job: it ran again (in the request, no broker in tests) and succeeded.
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 1 and job.error == ""
    assert client.post(_url(job) + "retry/").status_code == 409


def test_a_stalled_job_may_be_run_again_a_live_one_not(client, cast):
    import datetime as dt

    from django.utils import timezone

    live = JobFactory(review=cast.review, status=Job.Status.RUNNING, error="")
    live.heartbeat_at = timezone.now() - dt.timedelta(minutes=5)
    live.save()
    stalled = JobFactory(review=cast.review, status=Job.Status.RUNNING, error="", attempts=1)
    stalled.heartbeat_at = timezone.now() - dt.timedelta(minutes=20)  # its worker died
    stalled.save()
    client.force_login(cast.lead)
    assert "Run it again" not in client.get(_url(live), **HTMX).content.decode()
    assert client.post(_url(live) + "retry/").status_code == 409
    html = client.get(_url(stalled), **HTMX).content.decode()
    assert "may have stopped" in html and "Run it again" in html
    assert client.post(_url(stalled) + "retry/").status_code == 302
    stalled.refresh_from_db()
    assert stalled.status == Job.Status.SUCCEEDED and stalled.attempts == 2


def test_another_reviews_job_is_not_found(client, cast, other_review):
    job = JobFactory(review=other_review)
    client.force_login(cast.lead)
    assert client.get(f"/reviews/{cast.review.slug}/jobs/{job.pk}/").status_code == 404


def test_the_runner_records_a_domain_error_as_it_is(cast):
    job = JobFactory(review=cast.review, status=Job.Status.QUEUED, error="")

    def body(job, progress):
        progress(0.5, "Half-way", force=True)
        raise DomainError("The file has no record.")

    run_job(job.pk, "task-1", body)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error == "The file has no record."
    assert job.attempts == 1 and job.celery_task_id == "task-1" and job.finished_at


def test_the_runner_hides_an_unexpected_error_behind_a_clear_message(cast):
    job = JobFactory(review=cast.review, status=Job.Status.QUEUED, error="")

    def body(job, progress):
        raise KeyError("secret internals")

    run_job(job.pk, "", body)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "The job failed unexpectedly (KeyError)." and "secret" not in job.error


def test_a_job_that_succeeded_is_not_run_again(cast):
    job = JobFactory(review=cast.review, status=Job.Status.QUEUED, error="")
    calls = []

    def body(job, progress):
        calls.append(job.pk)
        return {"message": "All done", "url": "/x/"}

    run_job(job.pk, "", body)
    run_job(job.pk, "", body)  # a message delivered twice
    job.refresh_from_db()
    assert calls == [job.pk] and job.status == Job.Status.SUCCEEDED
    assert job.message == "All done" and job.result == {"url": "/x/"} and job.progress == 100


def test_a_job_interrupted_while_running_runs_again(cast):
    job = JobFactory(review=cast.review, status=Job.Status.RUNNING, attempts=1, error="")
    run_job(job.pk, "", lambda job, progress: {})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2


def test_starting_the_same_job_twice_queues_it_once(cast, settings):
    # Held in the queue: a broker-less test would otherwise run it at once.
    settings.REVIEWFLOW_JOBS_IN_THREAD = True
    with transaction.atomic():
        first = services.job_create(
            review=cast.review, kind="import_confirm", actor=cast.lead, params={"batch_id": 1}
        )
        again = services.job_create(
            review=cast.review, kind="import_confirm", actor=cast.lead, params={"batch_id": 1}
        )
        other = services.job_create(
            review=cast.review, kind="import_confirm", actor=cast.lead, params={"batch_id": 2}
        )
        transaction.set_rollback(True)  # never commits, so nothing is sent
    assert first.pk == again.pk != other.pk and first.status == Job.Status.QUEUED


def test_duplicates_rerun_is_a_job(client, cast):
    RecordFactory(review=cast.review, title="Peer support trial", doi="10.1/x")
    RecordFactory(review=cast.review, title="Peer support trial", doi="10.1/x")
    client.force_login(cast.lead)
    response = client.post(f"/reviews/{cast.review.slug}/duplicates/rerun/")
    job = Job.objects.get(kind="duplicates_find")
    assert response["Location"] == _url(job)
    assert job.status == Job.Status.SUCCEEDED and job.message.startswith("De-duplication re-run: 1")


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_outside_the_jobs_transaction(cast):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite a job's progress is written in its transaction")
    job = JobFactory(review=cast.review, status=Job.Status.RUNNING, error="")
    progress = Progress(job)
    watcher = connections.create_connection("default")
    try:
        with transaction.atomic():
            progress(0.37, "Stored 7,400 records", force=True)
            with watcher.cursor() as cursor:
                cursor.execute("SELECT progress, message FROM reviews_job WHERE id = %s", [job.pk])
                assert cursor.fetchone() == (37, "Stored 7,400 records")
            transaction.set_rollback(True)
    finally:
        progress.close()
        watcher.close()


def _running(cast, *, silent_for: float, **fields) -> Job:
    import datetime as dt

    from django.utils import timezone

    job = JobFactory(
        review=cast.review,
        status=Job.Status.RUNNING,
        error="",
        attempts=1,
        celery_task_id="first-delivery",
        **fields,
    )
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=silent_for)
    )
    job.refresh_from_db()
    return job


def test_a_job_whose_worker_went_silent_is_taken_up_again_once(cast, settings, client):
    settings.REVIEWFLOW_JOB_LOST_AFTER = 30
    settings.REVIEWFLOW_JOBS_IN_THREAD = True  # queued, not run at once: we look at the row
    lost = _running(cast, silent_for=31)
    alive = _running(cast, silent_for=29)
    restarted = services.jobs_restart_lost()
    assert [job.pk for job in restarted] == [lost.pk]
    assert services.jobs_restart_lost() == []  # a second look (another worker) finds nothing
    lost.refresh_from_db()
    alive.refresh_from_db()
    assert lost.status == Job.Status.QUEUED and lost.restarts == 1 and lost.restarted_at
    assert lost.celery_task_id != "first-delivery"
    assert lost.message.startswith("Restarted: its worker stopped responding at ")
    assert alive.status == Job.Status.RUNNING and alive.restarts == 0
    # The page says so.
    client.force_login(cast.alice)
    assert "Restarted automatically" in client.get(_url(lost), **HTMX).content.decode()


def test_a_restarted_job_runs_to_the_end(cast, settings):
    settings.REVIEWFLOW_JOB_LOST_AFTER = 30
    lost = _running(cast, silent_for=60)
    services.jobs_restart_lost()  # tests run jobs at once: it runs in this thread
    lost.refresh_from_db()
    assert lost.status == Job.Status.SUCCEEDED and lost.attempts == 2 and lost.restarts == 1


def test_the_lost_workers_message_delivered_late_does_not_run_the_job_twice(cast, settings):
    settings.REVIEWFLOW_JOB_LOST_AFTER = 30
    calls = []
    job = _running(cast, silent_for=1, restarts=1)
    Job.objects.filter(pk=job.pk).update(celery_task_id="second-delivery")
    # The broker redelivers the dead worker's message while the restarted run is alive.
    run_job(job.pk, "first-delivery", lambda job, progress: calls.append(1) or {})
    job.refresh_from_db()
    assert calls == [] and job.status == Job.Status.RUNNING and job.attempts == 1
    # Had the restarted run died too, the late message would be welcome.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=job.heartbeat_at.replace(year=2000))
    run_job(job.pk, "first-delivery", lambda job, progress: calls.append(1) or {})
    job.refresh_from_db()
    assert calls == [1] and job.status == Job.Status.SUCCEEDED and job.attempts == 2


def test_a_job_that_keeps_killing_its_workers_is_failed_not_restarted(cast, settings):
    settings.REVIEWFLOW_JOB_LOST_AFTER = 30
    settings.REVIEWFLOW_JOB_MAX_RESTARTS = 3
    job = _running(cast, silent_for=60, restarts=3)
    assert services.jobs_restart_lost() == []
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "stopped 4 times" in job.error
