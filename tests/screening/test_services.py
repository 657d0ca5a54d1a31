"""Votes, history, automatic resolution, conflicts, undo, adjudication, full texts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviews.errors import ConflictError, DomainError
from reviews.models import Record, Stage
from screening import services
from screening.models import (
    Claim,
    FullText,
    RecordCorrection,
    Resolution,
    ScreeningItem,
    Vote,
    VoteChange,
)
from tests.factories import RecordFactory
from tests.reviews.living import imported
from tests.screening.factories import ft_reason, include_at_ta, pair, records, vote

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

pytestmark = pytest.mark.django_db


def item_of(record, stage=Stage.TITLE_ABSTRACT):
    return ScreeningItem.objects.get(record=record, stage=stage)


def test_sync_creates_items_for_unique_records_only(cast):
    kept, dup = records(cast.review, 2)
    assert ScreeningItem.objects.filter(review=cast.review, active=True).count() == 2
    Record.objects.filter(pk=dup.pk).update(duplicate_of=kept)
    # Checked a moment ago: the next check comes within SYNC_CHECK_SECONDS, not at once.
    services.items_sync(cast.review)
    assert item_of(dup).active
    services.items_sync(cast.review, force=True)
    assert not item_of(dup).active and item_of(kept).active
    Record.objects.filter(pk=dup.pk).update(duplicate_of=None)
    services.items_sync(cast.review, force=True)
    assert item_of(dup).active


def test_a_confirmed_import_is_in_the_queue_at_once(cast, django_capture_on_commit_callbacks):
    records(cast.review, 2)  # synced, and "checked a moment ago"
    with django_capture_on_commit_callbacks(execute=True):
        imported(cast, range(3))
    services.items_sync(cast.review)  # no force: the records version changed
    assert ScreeningItem.objects.filter(review=cast.review).count() == 5


def test_agreement_resolves_automatically(cast):
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "exclude")
    assert item_of(record).status == ScreeningItem.Status.OPEN
    vote(cast.review, record, cast.bob, "exclude")
    item = item_of(record)
    assert item.status == ScreeningItem.Status.RESOLVED and item.n_votes == 2
    resolution = Resolution.objects.get(record=record, stage="ta")
    assert resolution.decision == "exclude" and not resolution.adjudicated
    assert not ScreeningItem.objects.filter(record=record, stage="ft").exists()


def test_the_same_vote_again_after_it_resolved_the_record_is_no_conflict(cast):
    # A client retrying a request whose answer it lost: the vote is there, as asked.
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.alice, cast.bob, "exclude", "exclude")
    changes = VoteChange.objects.count()
    assert vote(cast.review, record, cast.bob, "exclude").decision == "exclude"
    assert VoteChange.objects.count() == changes
    with pytest.raises(ConflictError, match="already resolved"):
        vote(cast.review, record, cast.bob, "include")


def test_include_moves_the_record_to_full_text(cast):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    assert item_of(record, "ft").status == ScreeningItem.Status.OPEN


@pytest.mark.parametrize("a,b", [("include", "exclude"), ("maybe", "maybe"), ("include", "maybe")])
def test_disagreement_or_maybe_is_a_conflict(cast, a, b):
    (record,) = records(cast.review, 1)
    item = pair(cast.review, record, cast.alice, cast.bob, a, b)
    assert item.status == ScreeningItem.Status.CONFLICT
    assert not Resolution.objects.filter(record=record).exists()


def test_changes_are_kept_in_history_until_resolution(cast):
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "include", note="looks like an RCT")
    vote(cast.review, record, cast.alice, "exclude", note="no: cohort")
    history = list(
        VoteChange.objects.filter(record=record).values_list("old_decision", "new_decision")
    )
    assert history == [("", "include"), ("include", "exclude")]
    assert Vote.objects.get(record=record, reviewer=cast.alice).note == "no: cohort"
    vote(cast.review, record, cast.bob, "exclude")
    with pytest.raises(ConflictError, match="resolved"):
        vote(cast.review, record, cast.alice, "include")


def test_changing_a_vote_in_conflict_can_resolve_it(cast):
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.alice, cast.bob, "include", "exclude")
    vote(cast.review, record, cast.alice, "exclude")
    assert item_of(record).status == ScreeningItem.Status.RESOLVED


def test_a_second_resolution_is_refused_and_takes_the_vote_back_with_it(cast):
    """The item lock excludes it; should it ever be missed, the unique constraint answers
    409 and the vote that would have resolved the record is not kept either."""
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "include")
    Resolution.objects.create(review=cast.review, record=record, stage="ta", decision="exclude")
    with pytest.raises(ConflictError, match="resolved already"):
        vote(cast.review, record, cast.bob, "include")
    assert list(Vote.objects.filter(record=record).values_list("reviewer", flat=True)) == [
        cast.alice.pk
    ]
    assert not VoteChange.objects.filter(record=record, reviewer=cast.bob).exists()
    assert item_of(record).n_votes == 1 and item_of(record).status == ScreeningItem.Status.OPEN
    # The transaction the test runs in is still usable: only the service's part was undone.
    vote(cast.review, record, cast.alice, "exclude")


def test_third_reviewer_cannot_take_a_full_record(cast):
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.alice, cast.bob, "include", "exclude")
    with pytest.raises(ConflictError, match="already has the votes"):
        vote(cast.review, record, cast.lead, "include")
    assert Vote.objects.filter(record=record).count() == 2


def test_queue_gives_each_slot_once_and_completes_pairs_first(cast):
    first, second = records(cast.review, 2)
    a = services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice)
    # A reload gives alice the same record again, not a second slot.
    assert services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice) == a
    # Bob gets the same record (two slots per record), the lead the other one.
    assert services.next_item_claim(review=cast.review, stage="ta", actor=cast.bob) == a
    c = services.next_item_claim(review=cast.review, stage="ta", actor=cast.lead)
    assert c != a and {a.record_id, c.record_id} == {first.pk, second.pk}
    assert Claim.objects.filter(item=a).count() == 2
    # Once the lead voted on c, c (one vote) comes before any fresh record for alice.
    vote(cast.review, a.record, cast.alice, "include")
    vote(cast.review, c.record, cast.lead, "include")
    (third,) = records(cast.review, 1)
    ScreeningItem.objects.filter(record=third).update(priority=99.0)  # most relevant
    assert services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice) == c


def test_claims_of_others_block_a_third_vote(cast):
    (record,) = records(cast.review, 1)
    services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice)
    services.next_item_claim(review=cast.review, stage="ta", actor=cast.bob)
    assert services.next_item_claim(review=cast.review, stage="ta", actor=cast.lead) is None
    with pytest.raises(ConflictError):
        vote(cast.review, record, cast.lead, "include")


def test_single_vote_pilot(cast):
    cast.review.votes_required = 1
    cast.review.save()
    (record,) = records(cast.review, 1)
    vote(cast.review, record, cast.alice, "include")
    assert item_of(record).status == ScreeningItem.Status.RESOLVED
    (other,) = records(cast.review, 1)
    vote(cast.review, other, cast.alice, "maybe")
    assert item_of(other).status == ScreeningItem.Status.CONFLICT


def test_undo_withdraws_my_last_decision(cast):
    one, two = records(cast.review, 2)
    vote(cast.review, one, cast.alice, "include")
    vote(cast.review, two, cast.alice, "exclude")
    assert services.vote_undo(review=cast.review, stage="ta", actor=cast.alice) == two.pk
    assert not Vote.objects.filter(record=two).exists()
    assert VoteChange.objects.filter(record=two).last().new_decision == ""
    assert item_of(two).n_votes == 0
    # The slot stays with alice: she decides again.
    assert (
        services.next_item_claim(review=cast.review, stage="ta", actor=cast.alice).record_id
        == two.pk
    )


def test_undo_refuses_a_resolved_record_and_nothing(cast):
    with pytest.raises(ConflictError, match="no decision"):
        services.vote_undo(review=cast.review, stage="ta", actor=cast.alice)
    (record,) = records(cast.review, 1)
    pair(cast.review, record, cast.bob, cast.alice, "exclude", "exclude")
    with pytest.raises(ConflictError, match="resolved"):
        services.vote_undo(review=cast.review, stage="ta", actor=cast.alice)


def test_full_text_exclusion_needs_a_reason_of_the_stage(cast):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    with pytest.raises(DomainError, match="reason"):
        vote(cast.review, record, cast.alice, "exclude", stage="ft")
    ta_reason = cast.review.exclusion_reasons.filter(stage="ta").first()
    with pytest.raises(DomainError, match="stage"):
        vote(cast.review, record, cast.alice, "exclude", stage="ft", reason_id=ta_reason.pk)
    reason = ft_reason(cast.review)
    item = pair(
        cast.review, record, cast.alice, cast.bob, "exclude", "exclude", "ft", reason_id=reason.pk
    )
    assert item.status == ScreeningItem.Status.RESOLVED
    assert Resolution.objects.get(record=record, stage="ft").reason == reason


def test_full_text_excludes_with_different_reasons_need_the_adjudicator(cast):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    vote(cast.review, record, cast.alice, "exclude", "ft", reason_id=ft_reason(cast.review).pk)
    other = ft_reason(cast.review, "Wrong outcome")
    vote(cast.review, record, cast.bob, "exclude", "ft", reason_id=other.pk)
    assert item_of(record, "ft").status == ScreeningItem.Status.CONFLICT
    resolution = services.conflict_resolve(
        review=cast.review,
        record_id=record.pk,
        stage="ft",
        actor=cast.carol,
        decision="exclude",
        reason_id=other.pk,
        note="Outcome not measured",
    )
    assert resolution.adjudicated and resolution.actor == cast.carol and resolution.reason == other


def test_adjudication_only_for_conflicts_and_needs_valid_input(cast):
    one, two = records(cast.review, 2)
    with pytest.raises(ConflictError, match="not in conflict"):
        services.conflict_resolve(
            review=cast.review, record_id=one.pk, stage="ta", actor=cast.carol, decision="include"
        )
    pair(cast.review, two, cast.alice, cast.bob, "include", "exclude")
    with pytest.raises(DomainError):
        services.conflict_resolve(
            review=cast.review, record_id=two.pk, stage="ta", actor=cast.carol, decision="maybe"
        )
    services.conflict_resolve(
        review=cast.review, record_id=two.pk, stage="ta", actor=cast.carol, decision="include"
    )
    assert item_of(two, "ft").status == ScreeningItem.Status.OPEN
    with pytest.raises(ConflictError):
        services.conflict_resolve(
            review=cast.review, record_id=two.pk, stage="ta", actor=cast.carol, decision="exclude"
        )


def test_records_of_another_review_are_not_found(cast, other_review):
    foreign = RecordFactory(review=other_review)
    services.items_sync(other_review, force=True)
    with pytest.raises(DomainError) as err:
        vote(cast.review, foreign, cast.alice, "include")
    assert err.value.status == 404


def upload(name="paper.pdf", data=PDF, content_type="application/pdf"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_pdf_upload_checks_type_magic_and_size(cast, settings):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    kwargs = {"review": cast.review, "record_id": record.pk, "actor": cast.alice}
    with pytest.raises(DomainError, match="not a PDF"):
        services.fulltext_upload(**kwargs, upload=upload(data=b"<html>not a pdf</html>"))
    with pytest.raises(DomainError, match="Only PDF"):
        services.fulltext_upload(
            **kwargs, upload=upload(name="paper.docx", content_type="application/msword")
        )
    with pytest.raises(DomainError, match="empty"):
        services.fulltext_upload(**kwargs, upload=upload(data=b""))
    settings.REVIEWFLOW_MAX_PDF_BYTES = 10
    with pytest.raises(DomainError, match="limit"):
        services.fulltext_upload(**kwargs, upload=upload())
    assert not FullText.objects.exists()
    settings.REVIEWFLOW_MAX_PDF_BYTES = 10_000
    fulltext = services.fulltext_upload(**kwargs, upload=upload(name="../../etc/passwd.pdf"))
    assert fulltext.file.name.startswith(f"fulltexts/{cast.review.pk}/{record.pk}/")
    assert ".." not in fulltext.file.name
    with fulltext.file.open("rb") as f:
        assert f.read() == PDF
    assert fulltext.size == len(PDF) and len(fulltext.sha256) == 64


def test_pdf_only_for_records_at_full_text(cast):
    (record,) = records(cast.review, 1)
    with pytest.raises(DomainError) as err:
        services.fulltext_upload(
            review=cast.review, record_id=record.pk, actor=cast.alice, upload=upload()
        )
    assert err.value.status == 404


def test_not_retrievable_leaves_the_queue_and_can_be_undone(cast):
    (record,) = records(cast.review, 1)
    include_at_ta(cast.review, record, cast.alice, cast.bob)
    services.fulltext_set_not_retrievable(
        review=cast.review, record_id=record.pk, actor=cast.alice, not_retrievable=True
    )
    assert item_of(record, "ft").status == ScreeningItem.Status.NOT_RETRIEVED
    assert services.next_item_claim(review=cast.review, stage="ft", actor=cast.bob) is None
    with pytest.raises(ConflictError):
        vote(cast.review, record, cast.bob, "include", stage="ft")
    services.fulltext_upload(
        review=cast.review, record_id=record.pk, actor=cast.bob, upload=upload()
    )
    assert item_of(record, "ft").status == ScreeningItem.Status.OPEN
    with pytest.raises(ConflictError, match="PDF"):
        services.fulltext_set_not_retrievable(
            review=cast.review, record_id=record.pk, actor=cast.alice, not_retrievable=True
        )


def test_record_correction_keeps_the_original(cast):
    (record,) = records(cast.review, 1, abstract="")
    changed = services.record_correct(
        review=cast.review,
        record_id=record.pk,
        actor=cast.alice,
        abstract="Background: pasted abstract.",
        title=record.title,
    )
    assert changed == ["abstract"]
    record.refresh_from_db()
    assert record.abstract == "Background: pasted abstract."
    correction = RecordCorrection.objects.get(record=record)
    assert correction.old_value == "" and correction.actor == cast.alice
    with pytest.raises(DomainError, match="cannot be corrected"):
        services.record_correct(review=cast.review, record_id=record.pk, actor=cast.alice, pmid="1")


def test_blinding_switch_is_logged_with_actor(cast):
    services.blinding_set(review=cast.review, actor=cast.lead, blinded=False)
    cast.review.refresh_from_db()
    assert cast.review.blinded is False
    change = cast.review.blinding_changes.get()
    assert change.actor == cast.lead and change.blinded is False
    # Saved through any other path (e.g. the protocol form), it is still logged.
    cast.review.blinded = True
    cast.review.save()
    assert cast.review.blinding_changes.count() == 2
    assert cast.review.blinding_changes.first().actor is None
