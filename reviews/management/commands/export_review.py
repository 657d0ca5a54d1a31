"""Write a review with everything it holds to a versioned zip archive."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.management.base import CommandError

from reviews.archive.export import review_export
from reviews.management.base import ReviewflowCommand
from reviews.models import Review


class Command(ReviewflowCommand):
    help = "Export a review (protocol, team, records, votes, extraction, RoB, analyses, files)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the review's address, as in /reviews/<slug>/")
        parser.add_argument("out", help="the zip file to write")

    def handle(self, *args, slug: str, out: str, **options) -> None:
        review = Review.objects.filter(slug=slug).first()
        if review is None:
            raise CommandError(f"There is no review “{slug}”.")
        target = Path(out)
        # Written beside the target and renamed at the end: a failed export leaves no
        # half-written archive under the name a backup script will look for.
        fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=".export-", suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as handle:
                manifest = review_export(review=review, out=handle)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        n = sum(entry.get("rows", 0) for entry in manifest["files"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported “{review.title}” to {target}: {n} rows, "
                f"{len(manifest['files'])} files, format version {manifest['version']}."
            )
        )
