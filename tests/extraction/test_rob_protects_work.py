"""Structural edits never silently discard a risk-of-bias assessment: a clear 409 instead."""

import pytest

from extraction import services
from reviews.errors import ConflictError
from tests.extraction.rob_matrix_params import rob_study, submitted_pair


def test_merging_away_a_study_with_rob_work_is_refused(cast):
    assessed = submitted_pair(cast, a=cast.lead, b=cast.alice)
    other = rob_study(cast, label="Other 2021")["study"]
    with pytest.raises(ConflictError):
        services.study_merge(target=other, sources=[assessed["study"]], actor=cast.lead)
    assert assessed["study"].rob_targets.exists()


def test_deleting_an_assessed_outcome_is_refused(cast):
    assessed = submitted_pair(cast, a=cast.lead, b=cast.alice)
    outcome = assessed["target"].outcome or assessed["study"].outcomes.first()
    with pytest.raises(ConflictError) as excinfo:
        services.structure_delete(item=outcome, actor=cast.lead)
    assert "risk-of-bias" in excinfo.value.message
    assert assessed["study"].outcomes.filter(pk=outcome.pk).exists()
