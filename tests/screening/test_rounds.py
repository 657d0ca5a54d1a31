"""Update rounds in screening: the current round's queue, progress, agreement and stopping
test by default (every round one click away), and a ranking warm-started on earlier rounds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from reviews import services as review_services
from reviews.models import Record
from screening import selectors, services
from screening.models import RankingSnapshot, ScreeningItem
from screening.stopping import stopping_test_state
from tests.reviews.living import imported
from tests.screening.factories import pair

pytestmark = pytest.mark.django_db
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def two_rounds(cast):
    """Round 1: records 0-3, two resolved, one in conflict, one open. Round 2: 10-12 new."""
    first = imported(cast, range(4))
    services.items_sync(cast.review, force=True)
    old = list(Record.objects.filter(batch=first).order_by("id"))
    pair(cast.review, old[0], cast.alice, cast.bob, "include", "include")
    pair(cast.review, old[1], cast.alice, cast.bob, "exclude", "exclude")
    pair(cast.review, old[2], cast.alice, cast.bob, "include", "exclude")
    review_services.round_open(review=cast.review, actor=cast.lead)
    cast.review.refresh_from_db()
    update = imported(cast, [10, 11, 12])
    services.items_sync(cast.review, force=True)
    new = list(Record.objects.filter(batch=update).order_by("id"))
    pair(cast.review, new[0], cast.alice, cast.bob, "exclude", "exclude")
    return old, new


def test_the_queue_serves_the_current_round_unless_asked_for_all(cast, two_rounds):
    old, new = two_rounds
    served = []
    while item := services.next_item_claim(review=cast.review, stage="ta", actor=cast.lead):
        served.append(item.record_id)
        services.vote_cast(
            review=cast.review,
            record_id=item.record_id,
            stage="ta",
            actor=cast.lead,
            decision="exclude",
        )
    assert sorted(served) == [new[1].pk, new[2].pk]  # round 2's open records, nothing older
    left = services.next_item_claim(review=cast.review, stage="ta", actor=cast.lead, first_round=1)
    assert left.record_id == old[3].pk


def test_progress_agreement_and_the_stopping_test_show_the_current_round(cast, two_rounds):
    membership = cast.membership(cast.lead)
    now = selectors.progress(cast.review, "ta", cast.alice, membership)
    everything = selectors.progress(cast.review, "ta", cast.alice, membership, first_round=1)
    assert (now.total, now.resolved, now.excluded, now.included, now.mine_done) == (3, 1, 1, 0, 1)
    assert (everything.total, everything.resolved, everything.included) == (7, 3, 1)
    assert everything.mine_done == 4 and everything.conflicts == 1 and now.conflicts == 0
    assert selectors.agreement(cast.review, "ta", resolved_only=False, first_round=2).overall.n == 1
    assert selectors.agreement(cast.review, "ta", resolved_only=False).overall.n == 4
    assert stopping_test_state(cast.review, first_round=2).test.records == 3
    assert stopping_test_state(cast.review).test.records == 7
    assert selectors.screening_curve(cast.review, first_round=2).points[-1] == (1, 0)
    assert selectors.screening_curve(cast.review).points[-1] == (3, 1)


def test_pages_switch_between_the_current_round_and_all_rounds(client, cast, two_rounds):
    client.force_login(cast.lead)
    base = f"/reviews/{cast.review.slug}/screening/"
    page = client.get(base).content.decode()
    assert 'id="round-switch"' in page and 'data-round="current" aria-current="true"' in page
    everything = client.get(base + "?round=all").content.decode()
    assert 'data-round="all" aria-current="true"' in everything
    assert "of 7" in everything and "of 3" in page  # records in the progress curve
    conflicts = client.get(base + "conflicts/?stage=ta").content.decode()
    assert "?stage=ta&amp;round=all" in conflicts and "data-record-id" not in conflicts
    assert (
        str(two_rounds[0][2].pk)
        in client.get(base + "conflicts/?stage=ta&round=all").content.decode()
    )
    agreement = client.get(base + "agreement/?round=all").content.decode()
    assert 'data-round="all" aria-current="true"' in agreement


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside the repo")
def test_the_first_ranking_of_an_update_learns_from_earlier_rounds(
    cast, django_capture_on_commit_callbacks
):
    """Cohen et al.'s NSAID review: 200 records screened in round 1 (their labels), then
    the other 193 imported as an update. The ranking asked for when the update's records
    join the queue is fitted on round 1 alone, and puts the update's includes first."""
    rows = list(
        csv.DictReader(io.StringIO((SHARED / "screening" / "cohen2006_nsaids.csv").read_text()))
    )
    label = {r["title"].strip(): r for r in rows}
    for part, numbers in ((rows[:200], 1), (rows[200:], 2)):
        if numbers == 2:
            review_services.round_open(review=cast.review, actor=cast.lead)
        batch = review_services.import_preview(
            review=cast.review, actor=cast.lead, file=io.BytesIO(_csv(part)), filename="nsaids.csv"
        )
        review_services.import_confirm(batch=batch, actor=cast.lead)
        if numbers == 1:
            services.items_sync(cast.review, force=True)
            with services.ranking_notes_batched():
                for record in Record.objects.filter(review=cast.review, duplicate_of=None):
                    decision = label[record.title]["label_abstract_screening"] == "1"
                    services.resolution_import(
                        review=cast.review,
                        record_id=record.pk,
                        stage="ta",
                        actor=cast.lead,
                        decision="include" if decision else "exclude",
                        imported_from="ASReview",
                    )
    assert not RankingSnapshot.objects.exists()
    cast.review.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.items_sync(cast.review, force=True)  # the update's records join the queue
    snapshot = RankingSnapshot.objects.get()
    assert snapshot.n_resolved == 200  # every earlier decision, nothing of the update
    items = list(
        ScreeningItem.objects.filter(review=cast.review, stage="ta", round=2).select_related(
            "record"
        )
    )
    assert len(items) >= 180 and all(i.relevance > 0 for i in items)
    includes = [i.relevance for i in items if label[i.record.title]["label_included"] == "1"]
    excludes = [i.relevance for i in items if label[i.record.title]["label_included"] != "1"]
    assert len(includes) >= 5
    # AUC: the chance that an include ranks above an exclude (0.5 is random order).
    auc = sum((a > b) + 0.5 * (a == b) for a in includes for b in excludes) / (
        len(includes) * len(excludes)
    )
    print(f"update round: {len(includes)} includes among {len(items)}, AUC {auc:.3f}")
    assert auc > 0.75
