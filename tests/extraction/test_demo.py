"""The demo step enters Normand (1999) through the services; its g equal metafor's, sign-aligned."""

from __future__ import annotations

import pytest

from extraction.demo import demo_extraction
from extraction.models import Extraction, Study
from extraction.selectors import consensus_effect_sizes
from tests.factories import UserFactory

# metafor 4.x: escalc("SMD", m1i, sd1i, n1i, m2i, sd2i, n2i, data = dat.normand1999)
METAFOR_YI = {
    "Edinburgh": -0.3552,
    "Orpington-Mild": -0.3479,
    "Orpington-Moderate": -2.3176,
    "Orpington-Severe": -1.8880,
    "Montreal-Home": -0.3840,
    "Montreal-Transfer": 0.1721,
    "Newcastle": 0.2721,
    "Umea": -0.4246,
    "Uppsala": 0.2896,
}
METAFOR_VI = {"Edinburgh": 0.0131, "Orpington-Moderate": 0.0458, "Umea": 0.0149}


def test_demo_step_extracts_the_normand_trials_twice_and_agrees(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": UserFactory()}
    assert "9 studies" in demo_extraction(cast.review, users)
    assert demo_extraction(cast.review, users) is None  # idempotent
    assert Study.objects.filter(review=cast.review).count() == 9
    assert Extraction.objects.filter(study__review=cast.review, kind="independent").count() == 18
    result = consensus_effect_sizes(cast.review)
    assert result.missing == ()
    by_label = {row.study_label: row for row in result.rows}
    assert set(by_label) == set(METAFOR_YI)
    for label, yi in METAFOR_YI.items():
        # length of stay: lower is better, so g > 0 favours specialist care
        assert by_label[label].yi == pytest.approx(-yi, abs=5e-5)
    for label, vi in METAFOR_VI.items():
        assert by_label[label].vi == pytest.approx(vi, abs=5e-5)
    # bob's mistyped SD did not survive the consensus
    bob = Extraction.objects.get(study__label="Montreal-Home", extractor=cast.bob)
    assert bob.data.get().arm_values.get(arm__role="intervention").sd == 18
    assert by_label["Montreal-Home"].fields["country"] == "Canada"
    assert "Normand" in by_label["Umea"].fields["notes"]
