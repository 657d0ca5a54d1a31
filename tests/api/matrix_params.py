"""URL parameters of the api app's review pages (the exchange page), for the page matrix."""


def _decisions_import(cast) -> int:
    from api.models import DecisionsImport
    from reviews.models import ImportBatch
    from tests.factories import ImportBatchFactory

    batch = ImportBatchFactory(review=cast.review, status=ImportBatch.Status.IMPORTED)
    return DecisionsImport.objects.create(
        review=cast.review, batch=batch, actor=cast.lead, tool="asreview", report={}
    ).pk


PARAMS = {"name": lambda cast: "asreview.csv", "import_id": _decisions_import}

# An export's file name is not an object of a review.
UNSCOPED = {"name"}
