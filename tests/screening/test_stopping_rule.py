"""The stopping rule in the app: settings, the random-sampling queue and the test's state."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.errors import DomainError
from screening import services
from screening.models import ScreeningItem, StoppingRule, StoppingRuleChange, Vote
from screening.stopping import stopping_test_state
from tests.screening.factories import pair, records

pytestmark = pytest.mark.django_db


def url(cast, tail: str) -> str:
    return f"/reviews/{cast.review.slug}/screening/{tail}"


def test_rule_set_validates_and_logs_the_actor(cast):
    with pytest.raises(DomainError, match="Target recall"):
        services.stopping_rule_set(
            review=cast.review, actor=cast.lead, target_recall=1.0, confidence=0.95
        )
    with pytest.raises(DomainError, match="Confidence"):
        services.stopping_rule_set(
            review=cast.review, actor=cast.lead, target_recall=0.9, confidence=0.3
        )
    assert not StoppingRuleChange.objects.exists()
    rule = services.stopping_rule_set(
        review=cast.review, actor=cast.lead, target_recall=0.9, confidence=0.8
    )
    assert (rule.target_recall, rule.confidence) == (0.9, 0.8)
    services.stopping_rule_set(
        review=cast.review, actor=cast.lead, target_recall=0.9, confidence=0.8
    )  # unchanged: no second audit row
    change = StoppingRuleChange.objects.get()
    assert change.actor == cast.lead and not change.sampling


def test_sampling_switches_the_queue_to_random_order(cast):
    made = records(cast.review, 6)
    items = list(ScreeningItem.objects.filter(review=cast.review, stage="ta").order_by("priority"))
    # Relevance puts the lowest-priority item first; random order takes the highest.
    ScreeningItem.objects.filter(pk=items[0].pk).update(relevance=10.0)
    ranked = services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice)
    assert ranked.pk == items[0].pk
    services.stopping_sampling_set(review=cast.review, actor=cast.lead, sampling=True)
    sampled = services.next_item_claim(review=cast.review, stage="ta", actor=cast.bob)
    assert sampled.pk == items[-1].pk
    assert StoppingRule.objects.get(review=cast.review).sampling_since is not None
    services.stopping_sampling_set(review=cast.review, actor=cast.lead, sampling=False)
    assert not services.stopping_sampling_on(cast.review)
    assert [c.sampling for c in StoppingRuleChange.objects.order_by("id")] == [True, False]
    assert len(made) == 6


def _ranked_phase(cast, n_records: int, includes: int, excludes: int) -> list:
    made = records(cast.review, n_records)
    for record in made[:includes]:
        pair(cast.review, record, cast.alice, cast.bob, "include", "include")
    for record in made[includes : includes + excludes]:
        pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
    # The ranked phase lies clearly before the switch.
    Vote.objects.filter(review=cast.review).update(created_at=timezone.now() - timedelta(minutes=5))
    return made[includes + excludes :]


def test_state_in_plain_words_from_start_to_stop(cast):
    # 20 records, 10 screened in ranked order with 5 includes: H0 "recall < 95 %" needs one
    # more include among the other 10, and P(no include in n draws) = (10 - n) / 10.
    rest = _ranked_phase(cast, 20, includes=5, excludes=5)
    services.stopping_rule_set(
        review=cast.review, actor=cast.lead, target_recall=0.95, confidence=0.8
    )
    state = stopping_test_state(cast.review)
    assert state.state == "off"
    assert "about 9 random records would be needed" in state.headline
    services.stopping_sampling_set(review=cast.review, actor=cast.lead, sampling=True)
    assert stopping_test_state(cast.review).headline == (
        "keep screening: about 9 more records needed"
    )
    for record in rest[:4]:
        pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
    # One vote only: awaiting resolution, counted as an include, which raises H0's K to 2.
    services.vote_cast(
        review=cast.review, record_id=rest[4].pk, stage="ta", actor=cast.alice, decision="exclude"
    )
    state = stopping_test_state(cast.review)
    assert (state.test.sampled, state.test.sample_found, state.unresolved_sample) == (5, 1, 1)
    assert state.state == "keep"
    services.vote_cast(
        review=cast.review, record_id=rest[4].pk, stage="ta", actor=cast.bob, decision="exclude"
    )
    for record in rest[5:9]:
        pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
    state = stopping_test_state(cast.review)
    assert state.test.p_value == pytest.approx(0.1)
    assert state.headline == (
        "stop: 95 % recall reached with 80 % confidence after 19 of 20 records"
    )


def test_ranked_records_unresolved_at_the_switch_make_it_wait(cast):
    rest = _ranked_phase(cast, 12, includes=2, excludes=2)
    services.vote_cast(
        review=cast.review, record_id=rest[0].pk, stage="ta", actor=cast.alice, decision="include"
    )
    Vote.objects.filter(record=rest[0]).update(created_at=timezone.now() - timedelta(minutes=5))
    services.stopping_sampling_set(review=cast.review, actor=cast.lead, sampling=True)
    state = stopping_test_state(cast.review)
    assert state.state == "wait" and state.pending == 1
    assert state.headline.startswith("waiting: 1 record screened before the switch")


def test_switch_view_is_for_the_lead_only(client, cast):
    records(cast.review, 3)
    client.force_login(cast.alice)
    assert client.post(url(cast, "stopping/sampling/"), {"sampling": "on"}).status_code == 403
    client.force_login(cast.outsider)
    assert client.post(url(cast, "stopping/sampling/"), {"sampling": "on"}).status_code == 404
    client.force_login(cast.lead)
    assert client.get(url(cast, "stopping/sampling/")).status_code == 405
    assert client.post(url(cast, "stopping/sampling/"), {"sampling": "on"}).status_code == 302
    assert services.stopping_sampling_on(cast.review)
    page = client.get(url(cast, "")).content.decode()
    assert 'id="stopping-test" data-state="keep"' in page
    assert "Back to ranked order" in page


def test_settings_form_sets_target_and_confidence(client, cast):
    client.force_login(cast.lead)
    data = {
        "votes_required": "2",
        "blinded": "on",
        "prioritise": "on",
        "include_keywords": "",
        "exclude_keywords": "",
        "target_recall": "90",
        "confidence": "99",
    }
    assert client.post(url(cast, "settings/"), data).status_code == 302
    rule = StoppingRule.objects.get(review=cast.review)
    assert (rule.target_recall, rule.confidence) == (0.9, 0.99)
    bad = client.post(url(cast, "settings/"), {**data, "target_recall": "100"})
    assert bad.status_code == 400 and "less than or equal to 99.9" in bad.content.decode()
    rule.refresh_from_db()
    assert rule.target_recall == 0.9
    page = client.get(url(cast, "")).content.decode()
    assert "target 90 % recall, 99 % confidence" in page


def test_state_leaves_out_records_whose_item_is_no_longer_active(cast):
    # A decided record later merged as a duplicate has its item deactivated: its votes and
    # resolution no longer count, in the ranked phase or anywhere else.
    _ranked_phase(cast, 20, includes=5, excludes=5)
    before = stopping_test_state(cast.review).test
    assert (before.ranked_screened, before.ranked_found) == (10, 5)
    included = ScreeningItem.objects.filter(
        review=cast.review, stage="ta", record__resolutions__decision="include"
    ).first()
    ScreeningItem.objects.filter(pk=included.pk).update(active=False)
    after = stopping_test_state(cast.review).test
    assert (after.ranked_screened, after.ranked_found) == (9, 4)
