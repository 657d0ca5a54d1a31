"""Object ids for the API permission matrix: router basename -> URL keyword -> factory(cast).

Every review-scoped route of `api.urls.router` needs its keywords here; the matrix test
fails, naming the route, when one is missing.
"""

from __future__ import annotations

from tests.reviews.matrix_params import PARAMS as REVIEW_PARAMS

STAGE = {"stage": lambda cast: "ta"}

PARAMS: dict[str, dict] = {
    "record": {"pk": REVIEW_PARAMS["record_id"]},
}

# Keywords that are not objects of a review (a stage): the "another review's object"
# check does not apply to routes that take only these.
UNSCOPED = {"stage"}
