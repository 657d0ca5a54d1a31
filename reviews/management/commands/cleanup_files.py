"""Delete stale files from the media storage (see reviews/cleanup.py); run daily."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError

from reviews.cleanup import describe, files_cleanup
from reviews.management.base import ReviewflowCommand


class Command(ReviewflowCommand):
    help = (
        "Delete review archives and orphaned or half-written uploads older than --older-than "
        "days, and discard import previews left unconfirmed that long. Files that an import "
        "batch, a full text or a queued or running job still names are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=7,
            metavar="DAYS",
            help="only what is older than this many days (default 7)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would go; change nothing"
        )

    def handle(self, *args, older_than: int, dry_run: bool, **options) -> None:
        if older_than < 1:
            raise CommandError("--older-than must be at least 1 day.")
        report = files_cleanup(older_than=dt.timedelta(days=older_than), dry_run=dry_run)
        verb = "Would discard" if dry_run else "Discarded"
        for batch in report.previews:
            self.stdout.write(
                f"{verb} import preview #{batch.pk} {batch.filename} of {batch.review.slug} "
                f"(uploaded {batch.created_at:%Y-%m-%d})"
            )
        for stale in report.files:
            self.stdout.write(describe(stale))
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {len(report.files):,} files ({report.bytes / 1e6:,.1f} MB) older than "
            f"{older_than} days; {len(report.previews):,} stale import previews."
        )
