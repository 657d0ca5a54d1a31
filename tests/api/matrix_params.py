"""URL parameters of the api app's review pages (the exchange page), for the page matrix."""


def _decisions_import(cast) -> int:
    from api.models import DecisionsImport
    from reviews.models import ImportBatch
    from tests.factories import ImportBatchFactory

    batch = ImportBatchFactory(review=cast.review, status=ImportBatch.Status.IMPORTED)
    return DecisionsImport.objects.create(
        review=cast.review, batch=batch, actor=cast.lead, tool="asreview", report={}
    ).pk


def _decisions_preview(cast) -> int:
    from api import tasks
    from api.services import decisions_import
    from reviews.models import ImportBatch, Job
    from tests.factories import ImportBatchFactory

    batch = ImportBatchFactory(review=cast.review, status=ImportBatch.Status.IMPORTED)
    options = {"tool": "covidence", "covidence_list": "screen"}
    report = decisions_import(batch=batch, actor=cast.lead, dry_run=True, **options)
    return Job.objects.create(
        review=cast.review,
        kind=tasks.DECISIONS_PREVIEW,
        started_by=cast.lead,
        status=Job.Status.SUCCEEDED,
        params={"batch_id": batch.pk, "options": options},
        result={"report": report},
    ).pk


PARAMS = {
    "name": lambda cast: "asreview.csv",
    "import_id": _decisions_import,
    "preview_id": _decisions_preview,
}

# An export's file name is not an object of a review.
UNSCOPED = {"name"}
