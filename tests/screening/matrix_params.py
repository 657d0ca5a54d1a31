"""URL parameters of the screening app's review-scoped URLs, for the permission matrix test.

The record is included at title/abstract by alice and bob and has a PDF, so every
record-scoped screening URL (both stages, the PDF view) has something to show.
"""

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import RecordFactory

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _screened_record(cast):
    from screening import services

    record = RecordFactory(review=cast.review)
    services.items_sync(cast.review, force=True)
    for user in (cast.alice, cast.bob):
        services.vote_cast(
            review=cast.review, record_id=record.pk, stage="ta", actor=user, decision="include"
        )
    services.fulltext_upload(
        review=cast.review,
        record_id=record.pk,
        actor=cast.alice,
        upload=SimpleUploadedFile("paper.pdf", PDF_BYTES, content_type="application/pdf"),
    )
    return record.pk


PARAMS = {
    "stage": lambda cast: "ta",
    "fmt": lambda cast: "svg",
    "record_id": _screened_record,
}

# A stage or a file format is not an object of a review.
UNSCOPED = {"stage", "fmt"}
