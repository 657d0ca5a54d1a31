"""Create a new review from an archive written by `export_review`."""

from __future__ import annotations

from reviews.archive.restore import review_import
from reviews.management.base import ReviewflowCommand


class Command(ReviewflowCommand):
    help = (
        "Import a review archive as a new review. Users are matched by username; unknown "
        "ones are created inactive (invite them again)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("archive", help="a zip file written by export_review")
        parser.add_argument("--slug", help="the new review's address (default: the archived one)")

    def handle(self, *args, archive: str, slug: str | None, **options) -> None:
        with open(archive, "rb") as handle:
            review = review_import(source=handle, slug=slug)
        self.stdout.write(
            self.style.SUCCESS(f"Imported “{review.title}” at /reviews/{review.slug}/.")
        )
