"""URL parameters of the reviews app's review-scoped URLs, for the permission matrix test.

Each app keeps a `tests/<app>/matrix_params.py` with `PARAMS`: URL keyword -> a
function of the test cast returning an object id (or value) inside `cast.review`.
"""

from reviews.models import DuplicateLink, ImportBatch, Membership
from tests.factories import ImportBatchFactory, JobFactory, RecordFactory, SearchFactory


def _record(cast):
    return RecordFactory(review=cast.review).pk


def _link(cast):
    kept = RecordFactory(review=cast.review, title="Peer support trial")
    dup = RecordFactory(review=cast.review, title="Peer support trial.")
    return DuplicateLink.objects.create(
        review=cast.review,
        kept=kept,
        duplicate=dup,
        score=0.9,
        tier="review",
        reason="title",
        status="pending",
    ).pk


PARAMS = {
    "member_id": lambda cast: Membership.objects.get(review=cast.review, user=cast.bob).pk,
    "reason_id": lambda cast: cast.review.exclusion_reasons.first().pk,
    "search_id": lambda cast: SearchFactory(review=cast.review).pk,
    "batch_id": lambda cast: (
        ImportBatchFactory(review=cast.review, status=ImportBatch.Status.PREVIEW).pk
    ),
    "record_id": _record,
    "job_id": lambda cast: JobFactory(review=cast.review, started_by=cast.lead).pk,
    "link_id": _link,
    "token": lambda cast: "0" * 32,
}

# Values that are not objects of a review (a session's upload token): the
# "another review's object" check does not apply to URLs that take only these.
UNSCOPED = {"token"}
