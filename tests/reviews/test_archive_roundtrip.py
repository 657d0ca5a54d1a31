"""The demo review survives export -> import into an empty database -> export unchanged."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.db import connection

from analysis import selectors as analysis_selectors
from analysis.models import Analysis
from extraction.rob.selectors import figure_data
from reviews.archive.export import review_export
from reviews.archive.format import MANIFEST
from reviews.archive.restore import review_import
from reviews.demo import DEMO_SLUG
from reviews.models import Review
from screening.prisma import prisma_counts
from screening.selectors import agreement


def _export(review: Review) -> bytes:
    out = io.BytesIO()
    review_export(review=review, out=out)
    return out.getvalue()


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _figures(review: Review) -> dict:
    """What a reader of the review sees: PRISMA, kappa, RoB figures, pooled results."""
    pooled = {}
    for analysis in Analysis.objects.filter(review=review).order_by("position", "id"):
        report, _ = analysis_selectors.analysis_report(analysis)
        rows = [(row.key, row.k, row.numbers) for row in report.rows()]
        pooled[analysis.title] = (report.main, report.egger, rows)
    return {
        "prisma": prisma_counts(review),
        "kappa": [agreement(review, stage, resolved_only=False) for stage in ("ta", "ft")],
        "rob": figure_data(review),
        "pooled": pooled,
    }


@pytest.fixture
def demo(db) -> Review:
    call_command("load_demo", stdout=io.StringIO())
    return Review.objects.get(slug=DEMO_SLUG)


def _same_data(a: bytes, b: bytes) -> None:
    """Every entry but the manifest byte-identical; the manifest differs only in its date."""
    first, second = _entries(a), _entries(b)
    assert first.keys() == second.keys()
    for name in sorted(first):
        if name != MANIFEST:
            assert first[name] == second[name], name
    manifests = [json.loads(m[MANIFEST]) for m in (first, second)]
    for manifest in manifests:
        manifest.pop("exported_at")
        manifest["review"].pop("slug")
    assert manifests[0] == manifests[1]


def test_demo_round_trip(demo):
    """One demo load (it takes half a minute) for the three round trips."""
    first = _export(demo)
    _same_data(first, _export(demo))  # two exports of one review
    before = _figures(demo)
    assert before["pooled"] and before["rob"].rows and before["prisma"]

    # Under a new slug, beside the original (same users)
    copy = review_import(source=io.BytesIO(first), slug=f"{DEMO_SLUG}-copy")
    assert copy.pk != demo.pk and copy.title == demo.title
    _same_data(first, _export(copy))
    assert repr(_figures(copy)) == repr(before)  # repr: a NaN (an unused variance) equals itself

    # Into an empty database: every table emptied (the test's transaction restores them).
    # PostgreSQL truncates only once the deferred foreign-key checks have run.
    connection.check_constraints()
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    assert not Review.objects.exists()
    restored = review_import(source=io.BytesIO(first))
    assert restored.slug == DEMO_SLUG
    _same_data(first, _export(restored))
    assert repr(_figures(restored)) == repr(before)
