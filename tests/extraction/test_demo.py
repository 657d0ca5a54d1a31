"""The demo steps enter Senn et al. (2013) and Nissen & Wolski (2007) through the services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extraction.demo import demo_extraction, demo_extraction_dichotomous
from extraction.models import Extraction, OutcomeDomain, Study
from extraction.selectors import consensus_effect_sizes, current_template
from reviews.models import DuplicateLink, Record, Search
from screening.models import Resolution
from tests.factories import UserFactory

FIXTURE = Path(__file__).resolve().parents[1] / "stats" / "reference" / "demo" / "demo_glucose.json"


def test_demo_step_enters_the_senn_trials_twice_and_agrees(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": UserFactory()}
    assert "26 trials" in demo_extraction(cast.review, users)
    assert demo_extraction(cast.review, users) is None  # idempotent
    assert Study.objects.filter(review=cast.review).count() == 26
    assert Extraction.objects.filter(study__review=cast.review, kind="independent").count() == 52
    # Found by citation searching, and imported as records (one search, 26 records)
    search = Search.objects.get(review=cast.review, source="citation")
    assert search.hits_reported == 26 and "Senn" in search.notes
    assert Record.objects.filter(review=cast.review, batch__search=search).count() == 26
    # The demo's own outcome domains and form replace the peer-support defaults
    assert set(OutcomeDomain.objects.filter(review=cast.review).values_list("name", flat=True)) == {
        "Glycaemic control",
        "Cardiovascular safety",
    }
    keys = {f["key"] for f in current_template(cast.review).fields()}
    assert {"drug_class", "comparator_type", "hba1c_reported"} <= keys
    assert "training" not in keys  # the default form's peer supporters

    result = consensus_effect_sizes(cast.review)
    assert result.missing == ()
    # Willms 1999 (metformin, acarbose, placebo): two comparisons sharing a split placebo arm
    assert len(result.rows) == 27
    willms = [r for r in result.rows if r.study_label == "Willms 1999"]
    assert len(willms) == 2 and {r.n_control for r in willms} == {14.5}
    # Arm-level data as published: each placebo comparison's MD and variance equal metafor's
    ref = json.loads(FIXTURE.read_text())["hba1c"]
    placebo = [r for r in result.rows if r.fields["comparator_type"] == "Placebo"]
    assert len(placebo) == ref["k"] == 20
    got = []
    for r in placebo:
        m1, sd1, m2, sd2 = r.means
        got.append((m1 - m2, sd1**2 / r.n_intervention + sd2**2 / r.n_control))
    expected = sorted(zip(ref["yi"], ref["vi"], strict=True))
    assert sorted(got) == [pytest.approx(pair, rel=1e-9) for pair in expected]
    # bob's slip (SD 13.69 for 1.369) did not survive the consensus
    bob = Extraction.objects.get(study__label="Kipnes 2001", extractor=cast.bob)
    assert float(bob.data.get().arm_values.get(arm__role="intervention").sd) == 13.69
    kipnes = next(r for r in result.rows if r.study_label == "Kipnes 2001")
    assert kipnes.means == (-1.2, 1.369, 0.1, 1.024)
    assert kipnes.fields["drug_class"] == "Thiazolidinedione"


def test_demo_step_enters_the_nissen_trials_and_excludes_four(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": UserFactory()}
    assert "38 trials" in demo_extraction_dichotomous(cast.review, users)
    assert demo_extraction_dichotomous(cast.review, users) is None  # idempotent
    assert Record.objects.filter(review=cast.review).count() == 42
    assert Study.objects.filter(review=cast.review).count() == 38
    excluded = Resolution.objects.filter(
        record__review=cast.review, stage="ft", decision="exclude"
    ).select_related("record")
    assert sorted(r.record.source_fields["trial"] for r in excluded) == [
        "49653/330",  # chronic psoriasis
        "49653/331",
        "AVA100193",  # Alzheimer's disease
        "DREAM",  # impaired glucose tolerance
    ]
    # Pairs proposed among the trials' look-alike titles were checked and rejected
    links = DuplicateLink.objects.filter(review=cast.review)
    assert links.exists() and not links.filter(status="pending").exists()
    result = consensus_effect_sizes(cast.review)
    assert result.missing == ()
    adopt = next(r for r in result.rows if r.study_label == "ADOPT")
    assert adopt.events == (27, 41) and (adopt.n_intervention, adopt.n_control) == (1456, 2895)
    assert adopt.fields["comparator_type"] == "Another glucose-lowering drug"
