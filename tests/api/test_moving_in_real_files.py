"""Decisions of other tools moved in from real exports: every vote read is written or
said why not, reasons attach, PRISMA follows, and a refusal writes nothing.

Files: the shared interop exports in ../shared/data/interop (see its README) and the
excerpts of public exports in tests/fixtures/interop (see the README there).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.models import DecisionsImport
from api.services import decisions_import
from reviews import services as review_services
from reviews.errors import DomainError
from reviews.models import ExclusionReason, ExclusionReasonChange, Record
from screening.models import Resolution, ScreeningItem, Vote, VoteChange
from screening.prisma import prisma_counts
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "interop"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "interop"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is absent")

FOUR = "rayyan_two_rounds_four_reviewers.csv"
FOUR_MAPPING = {"z5393783": "alice", "Coralie": "bob", "Lorenzo": "dana", "Losia": "eli"}
_PAIR = re.compile(r'"([^"]+)"=>"([^"]+)"')


def _imported(cast, path: Path, name: str | None = None):
    batch = review_services.import_preview(
        review=cast.review,
        actor=cast.lead,
        file=SimpleUploadedFile(name or path.name, path.read_bytes()),
        filename=name or path.name,
    )
    return review_services.import_confirm(batch=batch, actor=cast.lead)


def _four_reviewers(cast) -> None:
    for username in ("dana", "eli"):
        MembershipFactory(review=cast.review, user=UserFactory(username=username), is_reviewer=True)


def _rounds(notes: str) -> list[list[tuple[str, str]]]:
    """The file's rounds as written, read independently of the code under test."""
    return [_PAIR.findall(block.split("}")[0]) for block in notes.split("RAYYAN-INCLUSION")[1:]]


def _file_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _accounted(report: dict) -> None:
    """Every decision read is written or listed with a reason, per group and in total."""
    assert report["read"] == report["written"] + report["not_written"]
    assert report["not_written"] == len(report["unwritten"])
    assert all(u["reason"] for u in report["unwritten"])
    for g in report["groups"]:
        assert g["read"] == g["written"] + g["not_written"] == g["written"] + sum(g["why"].values())
    assert sum(g["read"] for g in report["groups"]) == report["read"]


def test_rayyan_two_rounds_four_reviewers_the_last_round_decides(cast):
    _four_reviewers(cast)
    path = FIXTURES / FOUR
    batch = _imported(cast, path)
    rows = _file_rows(path)
    rounds = [_rounds(r["notes"]) for r in rows]
    assert {len(r) for r in rounds} == {2}
    assert {name for r in rounds for block in r for name, _ in block} == set(FOUR_MAPPING)
    n_votes = sum(len(block) for r in rounds for block in r)

    preview = decisions_import(
        batch=batch, actor=cast.lead, tool="rayyan", reviewers=FOUR_MAPPING, dry_run=True
    )
    assert not Vote.objects.exists() and not VoteChange.objects.exists()  # rolled back
    _accounted(preview)
    assert preview["read"] == n_votes and preview["rounds"] == 2
    first_round = sum(len(r[0]) for r in rounds)
    why = Counter(u["reason"] for u in preview["unwritten"])
    assert why["round 1 of 2: the last round decides"] == first_round
    # The file's reasons: "no full text" etc. are new to this review; offered, not yet made.
    new = {r["label"] for r in preview["reasons"]["new"]}
    file_reasons = {
        reason.strip()
        for r in rows
        for m in re.finditer(r"RAYYAN-EXCLUSION-REASONS: ([^|]*)", r["notes"])
        for reason in m.group(1).split(",")
    }
    assert new == file_reasons and not ExclusionReason.objects.filter(label__in=new).exists()

    report = decisions_import(
        batch=batch, actor=cast.lead, tool="rayyan", reviewers=FOUR_MAPPING, create_reasons=True
    )
    _accounted(report)
    assert (report["read"], report["written"]) == (n_votes, preview["written"])
    assert report["written"] == Vote.objects.count() == VoteChange.objects.count()
    # Every last-round vote is written (each record's two) unless the report says why.
    last_round = sum(len(r[1]) for r in rounds)
    assert report["written"] + len(report["unwritten"]) - first_round == last_round
    # Reasons: created with the actor, attached to every last-round exclusion of a record
    # that has reasons; the other reasons of a record are kept in the vote's note.
    assert ExclusionReasonChange.objects.filter(actor=cast.lead).count() == len(file_reasons)
    by_key = {r.source_fields["key"]: r for r in Record.objects.filter(batch=batch)}
    attached = 0
    for row, blocks in zip(rows, rounds, strict=True):
        reasons = re.findall(r"RAYYAN-EXCLUSION-REASONS: ([^|]*)", row["notes"])
        first = reasons[0].split(",")[0].strip() if reasons else None
        record = by_key[row["key"]]
        for name, word in blocks[1]:
            vote = Vote.objects.filter(
                record=record.duplicate_of or record, reviewer__username=FOUR_MAPPING[name]
            ).first()
            if vote is None:
                continue
            assert vote.decision == {"Included": "include", "Excluded": "exclude"}.get(
                word, "maybe"
            )
            if word == "Excluded" and first:
                assert vote.reason.label == first
                attached += 1
    assert attached == report["reasons"]["attached"] > 0
    # PRISMA follows the file's last round: both reviewers excluded -> excluded.
    expected_excluded = sum(
        1
        for row, blocks in zip(rows, rounds, strict=True)
        if not by_key[row["key"]].duplicate_of_id
        and [w for _, w in blocks[1]] == ["Excluded", "Excluded"]
    )
    assert prisma_counts(cast.review).records_excluded == expected_excluded > 20
    # The Activity log keeps the import, its actor and the whole report.
    entry = DecisionsImport.objects.get()
    assert (entry.actor, entry.n_read, entry.n_written) == (cast.lead, n_votes, report["written"])
    assert len(entry.report["unwritten"]) == report["not_written"]


def test_rayyan_rounds_as_stages(cast):
    _four_reviewers(cast)
    batch = _imported(cast, FIXTURES / FOUR)
    kwargs = {"batch": batch, "actor": cast.lead, "tool": "rayyan", "reviewers": FOUR_MAPPING}
    kwargs |= {"rayyan_rounds": "stages", "create_reasons": True}
    preview = decisions_import(**kwargs, dry_run=True)
    _accounted(preview)
    stages = {(g["round"], g["stage"]) for g in preview["groups"]}
    assert stages == {(1, "ta"), (2, "ft")}
    why = Counter(u["reason"] for u in preview["unwritten"])
    # Round 2 votes on records round 1 did not include have no full-text stage to go to.
    assert why["not included at title/abstract here, so it has no full-text stage yet"] > 0
    # Full-text exclusions without a reason in the file: refused whole until one is chosen.
    bare = why.get("a full-text exclusion needs a reason: the file gives none of this review's", 0)
    if bare:
        with pytest.raises(DomainError, match="full-text exclusions have no exclusion reason"):
            decisions_import(**kwargs)
        assert (
            not Vote.objects.exists()
            and not ExclusionReason.objects.filter(label="no full text").exists()
        )
    fallback = ExclusionReason.objects.get(review=cast.review, stage="ft", label="Wrong outcome")
    report = decisions_import(**kwargs, ft_reason_id=fallback.pk)
    _accounted(report)
    assert report["reasons"]["fallback"] == bare
    ft_votes = Vote.objects.filter(stage="ft")
    assert ft_votes.count() == sum(g["written"] for g in report["groups"] if g["stage"] == "ft") > 0
    assert not ft_votes.filter(decision="exclude", reason__isnull=True).exists()
    counts = prisma_counts(cast.review)
    assert counts.reports_sought == ScreeningItem.objects.filter(stage="ft").count()


def test_rayyan_rounds_of_one_reviewer_with_other_notes(cast):
    """A real export whose notes start with Web of Science text before the Rayyan blocks."""
    path = FIXTURES / "rayyan_rounds_one_reviewer.csv"
    batch = _imported(cast, path)
    rows = _file_rows(path)
    report = decisions_import(
        batch=batch, actor=cast.lead, tool="rayyan", reviewers={"Coralie": "alice"}
    )
    _accounted(report)
    assert report["read"] == sum(len(b) for r in rows for b in _rounds(r["notes"]))
    assert report["rounds"] == 2
    labelled = Vote.objects.filter(note__startswith="Rayyan labels: ").count()
    assert labelled == sum(
        1
        for r in rows
        if "RAYYAN-LABELS" in r["notes"] and _rounds(r["notes"])
    )  # fmt: skip


@needs_shared
@pytest.mark.parametrize(
    "name,mapping,n_read",
    [
        ("rayyanR_tinea_update.ris", {"Zbys": "alice", "m.el-gohary": "bob"}, 16),
        ("rayyanR_MLJ_includes_articles.ris", {"Matt": "alice", "Laura": "bob"}, 10),
        ("cff_baseline_rayyan.ris", {"Emily": "alice"}, 6),
        ("cff_baseline_rayyan.csv", {"Emily": "alice"}, 6),
    ],
)
def test_rayyan_real_exports_ris_and_csv(cast, name, mapping, n_read):
    path = SHARED / "rayyan" / name
    batch = _imported(cast, path)
    text = path.read_text(encoding="utf-8").replace('""', '"')  # a CSV cell's quotes
    assert n_read == len(_PAIR.findall(text))
    preview = decisions_import(batch=batch, actor=cast.lead, tool="rayyan", dry_run=True)
    assert sorted(preview["reviewers"], key=str.casefold) == sorted(mapping, key=str.casefold)
    report = decisions_import(
        batch=batch, actor=cast.lead, tool="rayyan", reviewers=mapping, create_reasons=True
    )
    _accounted(report)
    assert report["read"] == n_read
    assert report["written"] == Vote.objects.count()
    if name.startswith("rayyanR_tinea"):
        # "wrong population" matches the review's own reason; the others are created.
        vote = Vote.objects.filter(reason__label="Wrong population").first()
        assert vote is not None and vote.reason.position < 20
        assert ExclusionReason.objects.filter(label="wrong drug", stage="ta").exists()
        assert Vote.objects.filter(note__contains="M.el-G please review").exists()
        assert report["labels_only"] == 2  # two records carry labels and no decision


def test_a_real_covidence_included_list_under_its_own_name(cast):
    """A Covidence "Included" list as a team put it on GitHub: the list is read from the
    file's own name, fields from Covidence's columns, and every row is included twice."""
    path = FIXTURES / "review_283729_included_csv_20240320131744.csv"
    batch = _imported(cast, path)
    rows = _file_rows(path)
    records = list(batch.records.order_by("source_line"))
    assert len(records) == len(rows) == 6
    for row, record in zip(rows, records, strict=True):
        assert record.year == int(row["Published Year"])
        assert record.authors == row["Authors"].split("; ")
        assert (record.journal, record.doi) == (row["Journal"], row["DOI"].lower())
        assert record.source_fields["Covidence #"] == row["Covidence #"]
    preview = decisions_import(batch=batch, actor=cast.lead, tool="covidence", dry_run=True)
    assert preview["covidence_list_guess"] == "included"
    report = decisions_import(
        batch=batch, actor=cast.lead, tool="covidence", covidence_list="included"
    )
    _accounted(report)
    assert report["decisions"] == {"ta:include": 6, "ft:include": 6}
    assert prisma_counts(cast.review).reports_included == 6


@needs_shared
@pytest.mark.parametrize(
    "name,covidence_list",
    [
        ("cff_baseline_covidence.csv", "included"),
        ("cff_baseline_covidence_endnote.ris", "irrelevant"),
        ("cff_baseline_covidence_zotero.ris", "select"),
        ("cff_baseline_covidence_mendeley.ris", "screen"),
    ],
)
def test_covidence_real_exports_as_each_list(cast, name, covidence_list):
    path = SHARED / "covidence" / name
    # Covidence names the file after its list; the preview reads the list from the name.
    upload_name = f"review_123456_{covidence_list}_{path.suffix[1:]}_20240105.{path.suffix[1:]}"
    batch = _imported(cast, path, upload_name)
    n = batch.records.count()
    preview = decisions_import(batch=batch, actor=cast.lead, tool="covidence", dry_run=True)
    assert preview["covidence_list"] == covidence_list
    stages = {"screen": set(), "select": {"ta"}, "irrelevant": {"ta"}, "included": {"ta", "ft"}}
    assert {g["stage"] for g in preview["groups"]} == stages[covidence_list]
    report = decisions_import(
        batch=batch, actor=cast.lead, tool="covidence", covidence_list=covidence_list
    )
    _accounted(report)
    resolved = Resolution.objects.filter(imported_from="Covidence")
    assert report["written"] == resolved.count() == n * len(stages[covidence_list])
    counts = prisma_counts(cast.review)
    if covidence_list == "irrelevant":
        assert counts.records_excluded == n
    if covidence_list == "select":
        assert counts.reports_sought == n and counts.reports_included == 0


@needs_shared
def test_covidence_rows_linked_as_duplicates_carry_their_decision(cast):
    """The same references exported again as Covidence's "select" list: every row is
    linked as a duplicate of the first import, and its decision goes to the kept record."""
    path = SHARED / "covidence" / "cff_baseline_covidence.csv"
    _imported(cast, path)
    again = _imported(cast, path, "review_123456_select_csv_20240105.csv")
    rows = list(again.records.values_list("id", "duplicate_of_id"))
    linked = [dup for _, dup in rows if dup]
    assert linked, "the second import links its rows to the first"
    report = decisions_import(batch=again, actor=cast.lead, tool="covidence", dry_run=True)
    assert report["duplicates"]["rows"] == len(linked)
    report = decisions_import(
        batch=again, actor=cast.lead, tool="covidence", covidence_list="select"
    )
    _accounted(report)
    assert report["duplicates"]["written"] == len(linked)
    assert set(
        Resolution.objects.filter(stage="ta", decision="include").values_list("record", flat=True)
    ) >= set(linked)


def test_a_refused_import_writes_nothing(cast):
    _four_reviewers(cast)
    batch = _imported(cast, FIXTURES / FOUR)
    before = (ExclusionReason.objects.count(), ExclusionReasonChange.objects.count())
    with pytest.raises(DomainError, match="Map every Rayyan reviewer"):
        decisions_import(
            batch=batch, actor=cast.lead, tool="rayyan", reviewers={"Coralie": "bob"},
            create_reasons=True,
        )  # fmt: skip
    with pytest.raises(DomainError, match="reviewer role"):
        decisions_import(
            batch=batch, actor=cast.lead, tool="rayyan",
            reviewers=FOUR_MAPPING | {"Losia": "carol"}, create_reasons=True,
        )  # fmt: skip
    assert not Vote.objects.exists() and not DecisionsImport.objects.exists()
    assert (ExclusionReason.objects.count(), ExclusionReasonChange.objects.count()) == before


@pytest.mark.parametrize(
    "name,included,excluded,column",
    [
        ("asreview_lab2_export.csv", 2, 1, "asreview_label"),
        ("asreview_r_rewritten.csv", 1, 1, "included"),
        ("asreview_ris_labels.ris", 10, 10, "N1"),
    ],
)
def test_asreview_exports_of_each_version(cast, name, included, excluded, column):
    batch = _imported(cast, FIXTURES / name)
    report = decisions_import(batch=batch, actor=cast.lead, tool="asreview")
    _accounted(report)
    assert report["asreview_column"] == column
    assert report["decisions"] == {"ta:include": included, "ta:exclude": excluded}
    resolutions = Resolution.objects.filter(imported_from="ASReview")
    assert (
        resolutions.filter(decision="include").count()
        + resolutions.filter(decision="exclude").count()
        + len(report["unwritten"])
        == included + excluded
    )
    if name == "asreview_lab2_export.csv":
        note = resolutions.get(record__title__startswith="Peer support").note
        assert note == (
            "Imported from ASReview · meets PICO; labelled in ASReview by Jane Smith at "
            "2025-01-20 10:02:11; ASReview tags: design_rct"
        )


@needs_shared
def test_a_reason_retired_here_is_said_and_kept_in_the_note(cast):
    ExclusionReason.objects.filter(review=cast.review, label="Wrong population").update(
        active=False
    )
    batch = _imported(cast, SHARED / "rayyan" / "rayyanR_tinea_update.ris")
    mapping = {"Zbys": "alice", "m.el-gohary": "bob"}
    report = decisions_import(batch=batch, actor=cast.lead, tool="rayyan", reviewers=mapping)
    assert report["reasons"]["retired"] == ["Wrong population (title/abstract)"]
    assert "Wrong population (title/abstract)" not in report["reasons"]["matched"]
    assert not Vote.objects.filter(reason__label="Wrong population").exists()
    assert Vote.objects.filter(note__contains="Rayyan reasons: wrong population").exists()
