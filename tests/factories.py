"""factory_boy factories for the reviews app; other apps add theirs in tests/<app>/factories.py."""

import factory
from django.contrib.auth import get_user_model

from reviews import dedup
from reviews.models import ImportBatch, Job, Membership, Record, Review, Search


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pw-for-tests-1")


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    title = factory.Sequence(lambda n: f"Peer support review {n}")
    slug = factory.Sequence(lambda n: f"review-{n}")
    question = "Does peer support improve recovery in people with mental illness?"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    review = factory.SubFactory(ReviewFactory)
    user = factory.SubFactory(UserFactory)
    is_reviewer = True


class SearchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Search

    review = factory.SubFactory(ReviewFactory)
    source = Search.Source.PUBMED
    date_run = factory.Faker("date_object")
    search_string = '"peer support"[tiab] AND (depress* OR schizophren*)'
    hits_reported = 100


class ImportBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportBatch

    review = factory.SubFactory(ReviewFactory)
    filename = "export.ris"
    format = "ris"
    status = ImportBatch.Status.IMPORTED


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    review = factory.SubFactory(ReviewFactory)
    kind = "duplicates_find"
    status = Job.Status.FAILED
    error = "It went wrong."


class RecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Record

    review = factory.SubFactory(ReviewFactory)
    batch = factory.SubFactory(ImportBatchFactory, review=factory.SelfAttribute("..review"))
    title = factory.Sequence(lambda n: f"A randomised trial of peer support number {n}")
    abstract = "Background: peer support. Methods: RCT. Results: improved hope."
    authors = factory.LazyFunction(lambda: ["Smith, Jane", "Doe, John"])
    year = 2020
    journal = "Psychiatric Services"
    title_norm = factory.LazyAttribute(lambda r: dedup.normalise_title(r.title))
    first_author = factory.LazyAttribute(
        lambda r: dedup.first_author_key(r.authors[0]) if r.authors else ""
    )
