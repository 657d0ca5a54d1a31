"""Object ids for the API permission matrix: router basename -> URL keyword -> factory(cast).

Every review-scoped route of `api.urls.router` needs its keywords here; the matrix test
fails, naming the route, when one is missing.
"""

from __future__ import annotations

from reviews.models import ImportBatch
from screening.models import ScreeningItem
from tests.analysis.matrix_params import PARAMS as ANALYSIS_PARAMS
from tests.analysis.matrix_params import certainty_assessment
from tests.extraction.matrix_params import PARAMS as EXTRACTION_PARAMS
from tests.factories import ImportBatchFactory
from tests.reviews.matrix_params import PARAMS as REVIEW_PARAMS


def _conflict(cast) -> int:
    from tests.screening.factories import pair, records

    (record,) = records(cast.review, 1)
    item = pair(cast.review, record, cast.alice, cast.bob, "include", "exclude")
    assert item.status == ScreeningItem.Status.CONFLICT
    return record.pk


PARAMS: dict[str, dict] = {
    "record": {"pk": REVIEW_PARAMS["record_id"]},
    "import": {
        "pk": lambda cast: (
            ImportBatchFactory(review=cast.review, status=ImportBatch.Status.PREVIEW).pk
        )
    },
    "conflict": {"pk": _conflict},
    "study": {"pk": EXTRACTION_PARAMS["study_id"]},
    "analysis": {"pk": ANALYSIS_PARAMS["analysis_id"]},
    "certainty": {"pk": certainty_assessment},
    "sof": {"pk": ANALYSIS_PARAMS["table_id"]},
    "search": {"pk": REVIEW_PARAMS["search_id"]},
    "version": {"number": ANALYSIS_PARAMS["number"]},
}

# Keywords that are not objects of a review (a stage): the "another review's object"
# check does not apply to routes that take only these.
UNSCOPED = {"stage"}


def _job(cast) -> int:
    from reviews.models import Job

    return Job.objects.create(review=cast.review, kind="duplicates_find", started_by=cast.lead).pk


PARAMS["job"] = {"pk": _job}
PARAMS["export"] = {"pk": lambda cast: "asreview.csv"}

# Per route: keywords that name no object of a review (an export's file name).
UNSCOPED_BY_BASENAME = {"export": {"pk"}}
