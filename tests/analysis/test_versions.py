"""Published versions: a frozen snapshot, the list, and two versions side by side."""

from __future__ import annotations

import pytest

from analysis import selectors as analysis_selectors
from analysis.certainty import selectors as certainty_selectors
from analysis.certainty import services as certainty_services
from analysis.versions import selectors, services
from analysis.versions.models import ReviewVersion
from extraction.models import OutcomeSubdomain
from reviews.errors import ConflictError
from tests.analysis.factories import clinical_analysis, review_setup, study_extracted, twelve_trials

pytestmark = pytest.mark.django_db


def _setup(cast, n: int):
    review_setup(cast)
    OutcomeSubdomain.objects.filter(domain__review=cast.review, name="Depressive symptoms").update(
        preferred_instruments="BDI-II\nMHI-5"
    )
    specs = twelve_trials()
    for spec in specs[:n]:
        study_extracted(cast, spec)
    return specs


def _main(analysis):
    report, _ = analysis_selectors.analysis_report(analysis)
    return report.row("all")


def test_nothing_to_publish_before_anything_is_included(cast):
    with pytest.raises(ConflictError, match="Nothing is included"):
        services.version_publish(review=cast.review, actor=cast.lead)
    assert not ReviewVersion.objects.exists()


def test_a_version_freezes_the_review_and_two_versions_compare(cast):
    specs = _setup(cast, 8)
    analysis = clinical_analysis(cast)
    before = _main(analysis)
    ctx = certainty_selectors.evidence_for(analysis)
    finals = {k: (s.rating, "") for k, s in ctx.suggestions.items()}
    rated = certainty_services.assessment_save(analysis=analysis, actor=cast.lead, finals=finals)
    v1 = services.version_publish(review=cast.review, actor=cast.lead, note=" First review ")
    assert (v1.number, v1.note, v1.round, v1.published_by) == (1, "First review", 1, cast.lead)
    assert len(v1.snapshot["studies"]) == 8
    frozen = v1.snapshot["analyses"][0]
    assert frozen["title"] == "Clinical recovery" and frozen["main"]["k"] == before.k
    assert frozen["main"]["estimate"] == pytest.approx(before.numbers.estimate, abs=1e-12)
    assert frozen["rows"] and frozen["studies"] and frozen["method"].startswith("Random-effects")
    assert v1.snapshot["rob"] and v1.snapshot["extraction"]["effects"]
    assert v1.snapshot["prisma"]["studies_included"] == 8
    (certainty,) = v1.snapshot["certainty"]
    assert certainty["analysis"] == "Clinical recovery"
    assert certainty["certainty"] == rated.get_certainty_display()
    assert len(certainty["domains"]) == rated.domains.count() == 5
    assert v1.digest == selectors.snapshot_digest(v1.snapshot)

    for spec in specs[8:]:  # the update finds four more trials
        study_extracted(cast, spec)
    after = _main(analysis)
    assert after.k > before.k
    v2 = services.version_publish(review=cast.review, actor=cast.lead, note="Update")
    v1.refresh_from_db()
    assert v1.snapshot["analyses"][0]["main"]["estimate"] == frozen["main"]["estimate"]
    assert v1.digest == selectors.snapshot_digest(v1.snapshot)

    comparison = selectors.version_compare(v2, v1)  # either order
    assert (comparison.older, comparison.newer) == (v1, v2)
    assert sorted(s["label"] for s in comparison.added) == sorted(s.label for s in specs[8:])
    assert comparison.removed == [] and comparison.kept == 8
    (change,) = comparison.estimates
    assert (change.k_before, change.k_after) == (before.k, after.k)
    assert change.change_value == pytest.approx(
        after.numbers.estimate - before.numbers.estimate, abs=1e-12
    )
    assert (
        change.before == frozen["main"]["cells"]["g"]
        and change.change == f"{change.change_value:+.3f}"
    )


def test_pages_list_show_and_compare_versions(client, cast):
    specs = _setup(cast, 6)
    clinical_analysis(cast)
    client.force_login(cast.lead)
    base = f"/reviews/{cast.review.slug}/analysis/versions/"
    assert 'id="no-versions"' in client.get(base).content.decode()
    response = client.post(base + "publish/", {"note": "Published in the journal"})
    assert response.status_code == 302 and response["Location"] == base + "1/"
    for spec in specs[6:9]:
        study_extracted(cast, spec)
    client.post(base + "publish/", {"note": "Update 1"})
    listing = client.get(base).content.decode()
    assert 'data-version="1"' in listing and 'data-version="2"' in listing
    detail = client.get(base + "1/").content.decode()
    assert "read-only" in detail and "Published in the journal" in detail
    compared = client.get(base + "compare/?a=1&b=2").content.decode()
    assert 'id="studies-added-count">3<' in compared
    assert (
        'data-col="before"' in compared
        and 'data-col="change">+' in compared
        or ('data-col="change">-' in compared)
    )
    activity = client.get(f"/reviews/{cast.review.slug}/activity/").content.decode()
    assert "Version published" in activity and "Version 2 (round 1)" in activity
    client.force_login(cast.alice)  # reviewers read versions, only leads publish
    assert client.get(base + "compare/?a=1&b=2").status_code == 200
    assert client.post(base + "publish/").status_code == 403
    assert client.get(base + "compare/?a=1&b=x").status_code == 400
    assert client.get(base + "compare/?a=1&b=9").status_code == 404
