"""Import a search export into a review from the command line (same path as the browser)."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from reviews import services
from reviews.importing import FORMATS
from reviews.management.base import ReviewflowCommand
from reviews.models import Review


class Command(ReviewflowCommand):
    help = (
        "Import records: manage.py import_records REVIEW_SLUG FILE [--format FORMAT] [--search ID]"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("review_slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=list(FORMATS), default=None)
        parser.add_argument("--search", type=int, default=None, help="Id of the search in the log.")
        parser.add_argument("--user", default=None, help="Username recorded as importer.")
        parser.add_argument(
            "--preview", action="store_true", help="Only report what would be imported."
        )

    def handle(self, *args, **options) -> None:
        review = Review.objects.filter(slug=options["review_slug"]).first()
        if review is None:
            raise CommandError(f"No review with slug {options['review_slug']!r}.")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        search = None
        if options["search"] is not None:
            search = review.searches.filter(pk=options["search"]).first()
            if search is None:
                raise CommandError(
                    f"Review {review.slug} has no search with id {options['search']}."
                )
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
        with path.open("rb") as handle:
            batch = services.import_preview(
                review=review,
                actor=actor,
                file=handle,
                filename=path.name,
                fmt=options["format"],
                search=search,
            )
        self.stdout.write(
            f"{path.name}: {batch.n_read} records read as {batch.format.upper()}, {batch.n_skipped} skipped"
        )
        for note in batch.notes:
            self.stdout.write(f"  note: {note}")
        for skipped in batch.skipped[:50]:
            self.stdout.write(f"  skipped line {skipped['line']}: {skipped['reason']}")
        for row in batch.preview:
            self.stdout.write(
                f"  line {row['line']}: {row['title'][:100]} ({row['year'] or 'n.d.'})"
            )
        if options["preview"]:
            services.import_discard(batch=batch, actor=actor)
            self.stdout.write("Preview only: nothing stored.")
            return
        batch = services.import_confirm(batch=batch, actor=actor)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {batch.n_imported} records; {batch.n_duplicates} linked as duplicates."
            )
        )
