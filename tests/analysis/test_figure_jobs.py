"""PNG and PDF plot downloads are prepared by a job, then served from the cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from analysis import selectors
from reviews.models import Job
from tests.analysis.test_flow import six  # noqa: F401  (the six-study analysis fixture)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Reports are cached by their inputs: other tests' six-study report must not leak in or out."""
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "fmt", "magic"), [("forest", "png", b"\x89PNG"), ("funnel", "pdf", b"%PDF")]
)
def test_a_member_prepares_a_plot_download_in_a_job(client, cast, six, kind, fmt, magic):  # noqa: F811
    analysis, _ = six
    client.force_login(cast.carol)  # an adjudicator: a member who may read the analysis
    kw = {"slug": cast.review.slug, "analysis_id": analysis.pk}
    page = client.get(reverse("analysis:detail", kwargs=kw)).content.decode()
    assert f'data-prepare="{kind}-{fmt}"' in page
    response = client.post(
        reverse("analysis:figure_prepare", kwargs=kw),
        {"kind": kind, "fmt": fmt, "subgroup": "", "method": "DL", "hk": ""},
    )
    job = Job.objects.get(kind="figure_export")
    assert response["Location"] == f"/reviews/{cast.review.slug}/jobs/{job.pk}/"
    assert job.status == Job.Status.SUCCEEDED and job.started_by == cast.carol
    download = reverse(f"analysis:{kind}", kwargs={**kw, "fmt": fmt}) + "?download=1&method=DL"
    assert job.result["url"] == download
    # The job filled the cache: the download does not draw the plot again.
    drawn = []
    real = selectors.cached_bytes
    monkey = pytest.MonkeyPatch()
    monkey.setattr(
        selectors, "cached_bytes", lambda key, make: real(key, lambda: drawn.append(key))
    )
    try:
        file = client.get(client.get(response["Location"])["Location"])
    finally:
        monkey.undo()
    assert file.status_code == 200 and file.content.startswith(magic) and drawn == []
    assert file["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
def test_a_bad_figure_request_is_a_400_and_queues_nothing(client, cast, six):  # noqa: F811
    analysis, _ = six
    client.force_login(cast.lead)
    url = reverse(
        "analysis:figure_prepare", kwargs={"slug": cast.review.slug, "analysis_id": analysis.pk}
    )
    assert client.post(url, {"kind": "forest", "fmt": "gif"}).status_code == 400
    assert client.get(url).status_code == 405
    assert not Job.objects.exists()
