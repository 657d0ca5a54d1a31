"""Load the demo review with demo users; running it again changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from reviews import services
from reviews.demo import demo_steps
from reviews.management.base import ReviewflowCommand
from reviews.models import ImportBatch, Membership, Review, Search

DEMO_SLUG = "peer-support"
DEMO_PASSWORD = "reviewflow-demo"
DEMO_RECORDS = 400
EXCERPT = (
    Path(settings.BASE_DIR) / "tests" / "fixtures" / "screening" / "cohen2006_adhd_excerpt.csv"
)

PROTOCOL = {
    "question": (
        "Are peer support interventions effective for individuals with mental illness, "
        "for clinical, personal and functional recovery?"
    ),
    "population": "Adults with a mental illness (serious mental illness, depression, mixed).",
    "intervention": "Peer support interventions delivered by people with lived experience.",
    "comparator": "Care as usual, waiting list, or other control conditions.",
    "outcomes": (
        "Clinical recovery (e.g. depressive symptoms); personal recovery (empowerment, hope, "
        "recovery, self-efficacy); functional recovery (quality of life, social support, "
        "loneliness, functioning)."
    ),
    "eligibility_criteria": (
        "Include: randomised controlled trials comparing a peer-delivered intervention with a "
        "control condition in people with a mental illness, reporting a recovery outcome.\n"
        "Exclude: non-randomised designs; interventions not delivered by peers; populations "
        "without a mental illness; conference abstracts without data."
    ),
    "registration": "PROSPERO CRD42021225591 (example)",
    "include_keywords": "peer*\nrandomi*\nsupport\nrecovery",
    "exclude_keywords": "rat\nrats\nmice\ncase report\nreview",
}
USERS = {
    "lead": {"is_lead": True, "is_reviewer": True, "is_adjudicator": True},
    "alice": {"is_reviewer": True},
    "bob": {"is_reviewer": True},
    "carol": {"is_reviewer": False, "is_adjudicator": True},
}


class Command(ReviewflowCommand):
    help = "Create the demo review 'Peer support for people with mental illness' and demo users."

    def handle(self, *args, **options) -> None:
        users = self._users()
        review = Review.objects.filter(slug=DEMO_SLUG).first()
        if review is None:
            review = self._create_review(users)
            self.stdout.write(f"Created the demo review at /reviews/{DEMO_SLUG}/")
        else:
            self.stdout.write("The demo review exists already; completing any missing step.")
        for step in demo_steps():
            message = step(review, users)
            if message:
                self.stdout.write(message)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo users: lead, alice, bob, carol (adjudicator) — password: {DEMO_PASSWORD}"
            )
        )

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username in USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.org"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[username] = user
        return users

    @transaction.atomic
    def _create_review(self, users: dict) -> Review:
        review = services.review_create(
            creator=users["lead"],
            title="Peer support for people with mental illness",
            slug=DEMO_SLUG,
            status=Review.Status.SCREENING,
            **PROTOCOL,
        )
        Membership.objects.filter(review=review, user=users["lead"]).update(**USERS["lead"])
        for username, roles in USERS.items():
            if username != "lead":
                Membership.objects.create(review=review, user=users[username], **roles)
        search = services.search_create(
            review=review,
            actor=users["lead"],
            source=Search.Source.PUBMED,
            date_run=dt.date(2020, 12, 18),
            search_string='("peer support"[tiab] OR "peer-delivered"[tiab]) AND randomized controlled trial[pt]',
            hits_reported=DEMO_RECORDS,
            notes=(
                "Demo records: Cohen AM et al. (2006) JAMIA 13(2):206-219, ADHD drug class review "
                "set from the ASReview systematic-review-datasets (MIT licence)."
            ),
        )
        self._import(review, search, users["lead"])
        return review

    def _import(self, review: Review, search: Search, lead) -> ImportBatch:
        source = Path(settings.SHARED_DATA_DIR) / "screening" / "cohen2006_adhd.csv"
        path = source if source.exists() else EXCERPT
        rows = _first_rows(path.read_text(encoding="utf-8-sig"), DEMO_RECORDS)
        batch = services.import_preview(
            review=review,
            actor=lead,
            file=io.BytesIO(rows),
            filename=path.name,
            fmt="csv",
            search=search,
        )
        return services.import_confirm(batch=batch, actor=lead)


def _first_rows(text: str, n: int) -> bytes:
    """The header and the first n data rows of a CSV (quoted fields may hold newlines)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for i, row in enumerate(csv.reader(io.StringIO(text))):
        if i > n:
            break
        writer.writerow(row)
    return out.getvalue().encode("utf-8")
