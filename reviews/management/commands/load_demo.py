"""Load the demo review with demo users; running it again changes nothing.

The review's records to screen are the 503 PubMed records of the Oral Hypoglycemics set of
Cohen et al. (2006); the apps' demo steps (`reviews.demo`) add screening, included studies,
extraction, risk of bias and analyses on the same topic. See docs/demo.md.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from reviews import services
from reviews.demo import DEMO_SLUG, DEMO_TITLE, demo_steps
from reviews.management.base import ReviewflowCommand
from reviews.models import ImportBatch, Membership, Review, Search

DEMO_PASSWORD = "reviewflow-demo"
DEMO_DATA = Path(__file__).resolve().parents[2] / "demo_data"
# A verbatim, gzipped copy of ../shared/data/screening/cohen2006_oral_hypoglycemics.csv, so
# `make run` works on a machine without the shared data (demo_data/README.md).
RECORDS = DEMO_DATA / "cohen2006_oral_hypoglycemics.csv.gz"
RECORDS_NAME = "cohen2006_oral_hypoglycemics.csv"
N_RECORDS = 503

SOURCES_INTRO = (
    "Every record and number in this demo review comes from a published data set, cited "
    "below; what was generated rather than taken from a source is said on the page where "
    "it appears (and in docs/demo.md)."
)
COHEN_CITATION = (
    "Records to screen (the PubMed search): the 503 records of the Oral Hypoglycemics set of "
    "Cohen AM, Hersh WR, Peterson K, Yen PY (2006). Reducing workload in systematic review "
    "preparation using automated citation classification. JAMIA 13(2):206-219. "
    "doi:10.1197/jamia.M1929 - as distributed in the ASReview systematic-review-datasets "
    "(MIT licence). Their title/abstract and full-text labels are the decisions of the Drug "
    "Effectiveness Review Project (DERP) report on oral hypoglycemics, made under that "
    "report's criteria, which are not this protocol's."
)
PROTOCOL = {
    "question": (
        "In adults with type 2 diabetes, how much do oral glucose-lowering drugs lower HbA1c "
        "compared with placebo, and does rosiglitazone change the risk of myocardial infarction?"
    ),
    "population": "Adults with type 2 diabetes mellitus.",
    "intervention": (
        "Oral glucose-lowering drugs: metformin; alpha-glucosidase inhibitors (acarbose, "
        "miglitol); thiazolidinediones (pioglitazone, rosiglitazone); DPP-4 inhibitors "
        "(sitagliptin, vildagliptin); benfluorex; alone or added to other glucose-lowering "
        "treatment."
    ),
    "comparator": "Placebo, usual care, or another glucose-lowering drug.",
    "outcomes": (
        "Glycaemic control: HbA1c (%), change from baseline or value at the end of treatment. "
        "Cardiovascular safety: participants with a myocardial infarction."
    ),
    "eligibility_criteria": (
        "Include: randomised controlled trials in adults with type 2 diabetes that compare an "
        "oral glucose-lowering drug with placebo, usual care or another glucose-lowering drug "
        "and report HbA1c or myocardial infarctions.\n"
        "Exclude: other populations (e.g. prediabetes, psoriasis, Alzheimer's disease); "
        "non-randomised designs; reviews and commentaries.\n"
        "Note: the demo's votes on the PubMed records follow the DERP report's decisions "
        "(see Data sources), whose criteria differ from these."
    ),
    "include_keywords": (
        "randomi*\nmetformin\nacarbose\nmiglitol\npioglitazone\nrosiglitazone\nsitagliptin\n"
        "vildagliptin\nsulfonylurea*\nHbA1c\nglycated\nglycosylated"
    ),
    "exclude_keywords": "rat\nrats\nmice\ncase report\nreview\ntype 1",
}
USERS = {
    "lead": {"is_lead": True, "is_reviewer": True, "is_adjudicator": True},
    "alice": {"is_reviewer": True},
    "bob": {"is_reviewer": True},
    "carol": {"is_reviewer": False, "is_adjudicator": True},
}


class Command(ReviewflowCommand):
    help = f"Create the demo review '{DEMO_TITLE}' and its demo users."

    def handle(self, *args, **options) -> None:
        users = self._users()
        review = Review.objects.filter(slug=DEMO_SLUG).first()
        if review is None:
            review = self._create_review(users)
            self.stdout.write(f"Created the demo review at /reviews/{DEMO_SLUG}/")
        else:
            self.stdout.write("The demo review exists already; completing any missing step.")
        # Background jobs (ranking refits after votes) run in this thread: a command must
        # not leave writers behind, and SQLite would refuse them while a step writes.
        with override_settings(REVIEWFLOW_JOBS_IN_THREAD=False):
            for step in demo_steps():
                review.refresh_from_db()
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
            title=DEMO_TITLE,
            slug=DEMO_SLUG,
            status=Review.Status.SCREENING,
            data_sources=SOURCES_INTRO,
            **PROTOCOL,
        )
        Membership.objects.filter(review=review, user=users["lead"]).update(**USERS["lead"])
        for username, roles in USERS.items():
            if username != "lead":
                Membership.objects.create(review=review, user=users[username], **roles)
        services.review_source_add(review=review, actor=users["lead"], citation=COHEN_CITATION)
        search = services.search_create(
            review=review,
            actor=users["lead"],
            source=Search.Source.PUBMED,
            date_run=timezone.localdate(),
            search_string=(
                "The search strategy of the DERP report on oral hypoglycemics (not part of the "
                "data set; see Cohen et al. 2006)."
            ),
            hits_reported=N_RECORDS,
            notes=(
                "The date is the day these records were imported into the demo. " + COHEN_CITATION
            ),
        )
        self._import(review, search, users["lead"])
        return review

    def _import(self, review: Review, search: Search, lead) -> ImportBatch:
        batch = services.import_preview(
            review=review,
            actor=lead,
            file=io.BytesIO(gzip.decompress(RECORDS.read_bytes())),
            filename=RECORDS_NAME,
            fmt="csv",
            search=search,
        )
        return services.import_confirm(batch=batch, actor=lead)
