"""Two first ratings of one analysis at once: both answer, one assessment, no 500.

Each request found no assessment and inserted one; the second insert failed on the
one-assessment-per-analysis constraint (an IntegrityError, a 500). The services now lock
the analysis row first, so the second rating waits and re-rates what the first saved.

Meaningful on PostgreSQL only (row locks, concurrent writers); SQLite serialises every
writer, so these tests are skipped there. Run them with
DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/analysis
"""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from analysis.certainty import selectors, services
from analysis.certainty.models import CertaintyAssessment, CertaintyDomain, CertaintyEvent
from reviews.errors import ConflictError
from tests.analysis.test_certainty_services import accept_all, rr_analysis  # noqa: F401
from tests.factories import MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrency needs PostgreSQL row locks"
    ),
]


def run_threads(target, args) -> list:
    """``target(arg)`` in one thread per arg, all released at once; their results."""
    barrier = threading.Barrier(len(args))
    results: list = [None] * len(args)
    errors: list[BaseException] = []

    def wrapped(i, arg):
        try:
            barrier.wait()
            results[i] = target(arg)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(i, a)) for i, a in enumerate(args)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def meet_before_insert(monkeypatch) -> None:
    """Hold each first insert of an assessment until the other rating reaches its own:
    without a lock both have then looked and found none (the race, every time). With the
    lock the other is waiting for it, so the wait times out and the first goes on."""
    barrier = threading.Barrier(2, timeout=3)
    save = CertaintyAssessment.save

    def meeting_save(self, *args, **kwargs):
        if self.pk is None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        return save(self, *args, **kwargs)

    monkeypatch.setattr(CertaintyAssessment, "save", meeting_save)


def test_two_leads_rating_the_same_analysis_for_the_first_time(
    cast,
    rr_analysis,  # noqa: F811
    monkeypatch,
):
    analysis, _ = rr_analysis
    meet_before_insert(monkeypatch)
    second_lead = UserFactory(username="lead2")
    MembershipFactory(review=cast.review, user=second_lead, is_lead=True)
    ctx = selectors.evidence_for(analysis)
    form = {"intervention": "St John's wort", "thresholds": ""}
    for key, s in ctx.suggestions.items():
        form[key], form[f"{key}_reason"] = s.rating, ""
    url = reverse("certainty:rate", args=[cast.review.slug, analysis.pk])

    def rate(user):
        client = Client()
        client.force_login(user)
        return client.post(url, form).status_code

    assert run_threads(rate, [cast.lead, second_lead]) == [302, 302]
    assessment = CertaintyAssessment.objects.get(analysis=analysis)
    assert CertaintyDomain.objects.filter(assessment=assessment).count() == 5
    events = CertaintyEvent.objects.filter(assessment=assessment)
    # the first to take the lock rated it, the other re-rated it; each names its actor
    assert sorted(events.values_list("action", flat=True)) == ["rated", "re-rated"]
    assert {e.actor for e in events} == {cast.lead, second_lead}
    assert assessment.confirmed_by == events.get(action="re-rated").actor


def test_rating_confirming_and_withdrawing_at_once_do_not_deadlock(cast, rr_analysis):  # noqa: F811
    analysis, _ = rr_analysis
    ctx = selectors.evidence_for(analysis)
    first = services.assessment_save(analysis=analysis, actor=cast.lead, finals=accept_all(ctx))

    def act(kind):
        if kind == "save":
            services.assessment_save(analysis=analysis, actor=cast.lead, finals=accept_all(ctx))
        elif kind == "confirm":
            try:
                services.assessment_confirm(assessment=first, actor=cast.lead)
            except ConflictError:
                return "withdrawn"  # the withdrawal went first: a 409, not a 500
        else:
            services.assessment_delete(assessment=first, actor=cast.lead)
        return "ok"

    results = run_threads(act, ["save", "confirm", "delete", "save"])
    assert set(results) <= {"ok", "withdrawn"}
    # whatever the order, at most one assessment, each with its five domains
    assert CertaintyAssessment.objects.filter(analysis=analysis).count() <= 1
    for a in CertaintyAssessment.objects.filter(analysis=analysis):
        assert a.domains.count() == 5
