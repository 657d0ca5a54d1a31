"""The fixed cast every review test uses: a lead, two reviewers, an adjudicator, an outsider."""

from dataclasses import dataclass

import pytest

from reviews.models import Membership, Review
from reviews.services import exclusion_reasons_seed
from tests.factories import MembershipFactory, ReviewFactory, UserFactory


@dataclass
class Cast:
    review: Review
    lead: object
    alice: object
    bob: object
    carol: object
    outsider: object

    def membership(self, user) -> Membership:
        return Membership.objects.get(review=self.review, user=user)


@pytest.fixture
def cast(db) -> Cast:
    review = ReviewFactory(title="Peer support for people with mental illness", slug="peer-support")
    exclusion_reasons_seed(review=review)
    lead = UserFactory(username="lead")
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    carol = UserFactory(username="carol")
    outsider = UserFactory(username="outsider")
    MembershipFactory(review=review, user=lead, is_lead=True, is_reviewer=True)
    MembershipFactory(review=review, user=alice, is_reviewer=True)
    MembershipFactory(review=review, user=bob, is_reviewer=True)
    MembershipFactory(review=review, user=carol, is_reviewer=False, is_adjudicator=True)
    # The outsider leads another review: membership elsewhere must not leak in.
    MembershipFactory(review=ReviewFactory(slug="other-review"), user=outsider, is_lead=True)
    return Cast(review, lead, alice, bob, carol, outsider)


@pytest.fixture
def other_review(cast) -> Review:
    return Review.objects.get(slug="other-review")
