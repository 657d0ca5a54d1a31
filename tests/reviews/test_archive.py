"""Review archives: coverage of every review-scoped table, refusals, users, commands, views."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import models

from analysis.versions.models import ReviewVersion
from analysis.versions.selectors import snapshot_digest, version_snapshot
from reviews.archive import FORMAT_VERSION, ArchiveError
from reviews.archive.export import review_export
from reviews.archive.format import MANIFEST, UNKNOWN_ID, data_file
from reviews.archive.registry import archive_exclusions, archive_tables, ordered_tables
from reviews.archive.restore import review_import
from reviews.models import (
    DuplicateLink,
    Invitation,
    Job,
    Membership,
    Record,
    Review,
    ReviewRound,
    SearchRun,
)
from reviews.services import duplicate_decide, invitation_create, round_open
from screening import services as screening
from screening.models import FullText, ScreeningPreference
from tests.factories import RecordFactory, SearchFactory, UserFactory
from tests.reviews.damage import corrupt_member
from tests.screening.factories import records, vote

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
APPS = ("reviews", "screening", "extraction", "analysis")


# --- coverage --------------------------------------------------------------------------------


def _reaches_review(model: type[models.Model], depth: int = 5) -> bool:
    if model is Review:
        return True
    if depth == 0:
        return False
    return any(
        f.is_relation
        and f.many_to_one
        and f.related_model is not model
        and _reaches_review(f.related_model, depth - 1)
        for f in model._meta.concrete_fields
    )


def test_every_review_scoped_model_is_archived_or_excluded_with_a_reason():
    """A new model that belongs to a review must join the archive (or say why not)."""
    tables, excluded = archive_tables(), archive_exclusions()
    scoped = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model is not Review and _reaches_review(model)
    ]
    assert {m._meta.app_label for m in scoped} >= set(APPS)
    assert len(scoped) > 30
    missing = [
        m._meta.label_lower for m in scoped if m._meta.label_lower not in {*tables, *excluded}
    ]
    assert not missing, f"add these to the review archive (AppConfig.ready): {missing}"
    assert all(reason.strip() for reason in excluded.values())
    # Every registered table reaches its review through the path it names.
    for table in tables.values():
        str(table.model._base_manager.filter(**{table.review_path: Review(pk=1)}).query)
    # The per-user keyboard map (not review-scoped) travels with the review's users.
    assert ScreeningPreference._meta.label_lower not in tables


# --- a small review with every kind of row ---------------------------------------------------


@pytest.fixture
def full(cast):
    """A review with a merged duplicate, an undone vote, a PDF, corrections, blinding
    switched, PRISMA extras, an open invitation and a keymap."""
    review = cast.review
    recs = records(review, 4)
    dup = RecordFactory(review=review, batch=recs[0].batch, title=recs[0].title)
    link = DuplicateLink.objects.create(
        review=review,
        kept=recs[0],
        duplicate=dup,
        score=0.99,
        tier="review",
        reason="title",
        status=DuplicateLink.Status.PENDING,
    )
    duplicate_decide(link=link, actor=cast.lead, is_duplicate=True)
    screening.items_sync(review, force=True)
    for rec in recs[:3]:
        vote(review, rec, cast.alice, "include")
        vote(review, rec, cast.bob, "include")
    vote(review, recs[3], cast.alice, "exclude")
    screening.vote_undo(review=review, stage="ta", actor=cast.alice)
    screening.fulltext_upload(
        review=review,
        record_id=recs[0].pk,
        actor=cast.alice,
        upload=SimpleUploadedFile("trial.pdf", PDF, content_type="application/pdf"),
    )
    screening.record_correct(review=review, record_id=recs[1].pk, actor=cast.bob, year=2019)
    screening.blinding_set(review=review, actor=cast.lead, blinded=False)
    screening.prisma_extra_set(
        review=review, actor=cast.lead, automation_excluded=3, other_removed=0
    )
    invitation_create(review=review, actor=cast.lead, email="dana@example.org")
    screening.preference_set_keymap(user=cast.alice, keymap={"include": ["y"]})
    # An update round with a run of a search (issue 23).
    search = SearchFactory(review=review)
    SearchRun.objects.create(
        review=review, search=search, batch=recs[0].batch, date_run=dt.date(2026, 6, 1)
    )
    round_open(review=review, actor=cast.lead, note="June update")
    review.refresh_from_db()
    snapshot = version_snapshot(review)
    ReviewVersion.objects.create(
        review=review, number=1, round=2, snapshot=snapshot, digest=snapshot_digest(snapshot)
    )
    return review


def _export(review) -> bytes:
    out = io.BytesIO()
    review_export(review=review, out=out)
    return out.getvalue()


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rows(data: bytes, label: str) -> list[dict]:
    return [json.loads(line) for line in _entries(data)[data_file(label)].splitlines()]


def test_every_kind_of_row_round_trips(full, cast):
    first = _export(full)
    manifest = json.loads(_entries(first)[MANIFEST])
    assert manifest["version"] == FORMAT_VERSION and manifest["review"]["slug"] == full.slug
    for label in (
        "screening.votechange",
        "screening.fulltext",
        "screening.recordcorrection",
        "screening.blindingchange",
        "screening.prismaextra",
        "reviews.invitation",
        "reviews.duplicatelink",
        "reviews.searchrun",
        "reviews.reviewround",
        "analysis.reviewversion",
    ):
        assert manifest["files"][data_file(label)]["rows"] >= 1, label
    assert "token" not in _rows(first, "reviews.invitation")[0]

    copy = review_import(source=io.BytesIO(first), slug="copy")
    second = _entries(_export(copy))
    for name, data in _entries(first).items():
        if name != MANIFEST:
            assert second[name] == data, name
    # the duplicate link points at the copy's records, the PDF is the same bytes
    dup = Record.objects.get(review=copy, duplicate_of__isnull=False)
    assert dup.duplicate_of.review_id == copy.pk
    fulltext = FullText.objects.get(review=copy)
    assert fulltext.file.read() == PDF and fulltext.record.review_id == copy.pk
    assert fulltext.file.name != FullText.objects.get(review=full).file.name
    invitation = Invitation.objects.get(review=copy)
    assert invitation.token != Invitation.objects.get(review=full).token
    assert copy.round == 2 and ReviewRound.objects.get(review=copy).note == "June update"
    assert SearchRun.objects.get(review=copy).batch.review_id == copy.pk
    version = ReviewVersion.objects.get(review=copy)
    assert version.snapshot == ReviewVersion.objects.get(review=full).snapshot
    assert version.digest == ReviewVersion.objects.get(review=full).digest


def test_unknown_users_become_inactive_accounts_and_known_ones_keep_their_keymap(full, cast):
    data = _export(full)
    cast.alice.username = "alice-renamed"  # "alice" is unknown here now
    cast.alice.save()
    ScreeningPreference.objects.filter(user=cast.bob).delete()
    copy = review_import(source=io.BytesIO(data), slug="copy")
    alice = Membership.objects.get(review=copy, user__username="alice").user
    assert alice.pk != cast.alice.pk and not alice.is_active
    assert not alice.has_usable_password() and alice.email == cast.alice.email
    assert ScreeningPreference.objects.get(user=alice).keymap["include"] == ["y"]
    lead = Membership.objects.get(review=copy, user=cast.lead)
    assert lead.is_lead and lead.user.is_active


# --- refusals: a clear message and nothing written ------------------------------------------


def _state() -> tuple:
    media = sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    counts = tuple(t.model._base_manager.count() for t in ordered_tables())
    return Review.objects.count(), counts, media


def _rewrite(data: bytes, change, *, fix_checksums: bool) -> bytes:
    entries = _entries(data)
    change(entries)
    if fix_checksums:  # a consistent archive with bad content
        manifest = json.loads(entries[MANIFEST])
        manifest["files"] = {
            name: {"sha256": hashlib.sha256(value).hexdigest()}
            for name, value in entries.items()
            if name != MANIFEST
        }
        entries[MANIFEST] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, value in entries.items():
            archive.writestr(name, value)
    return out.getvalue()


def _manifest(entries: dict, **changes) -> None:
    manifest = json.loads(entries[MANIFEST])
    manifest.update(changes)
    entries[MANIFEST] = json.dumps(manifest).encode()


def _late_table_broken(entries: dict) -> None:
    """An unknown field in the first row of a table read after the PDF was saved."""
    order = [t.label for t in ordered_tables()]
    after = order[order.index("screening.fulltext") + 1 :]
    name = next(data_file(label) for label in after if entries.get(data_file(label)))
    lines = entries[name].splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), "smuggled": 1}).encode()
    entries[name] = b"\n".join(lines) + b"\n"


@pytest.mark.parametrize(
    "change,fix,message",
    [
        (lambda e: _manifest(e, version=FORMAT_VERSION + 1), False, "newer Reviewflow"),
        (lambda e: _manifest(e, version="one"), False, "unknown format version"),
        (lambda e: _manifest(e, format="something-else"), False, "not a Reviewflow"),
        (lambda e: e.update({data_file("reviews.record"): b"{}\n"}), False, "checksum"),
        (lambda e: e.update({"files/extra.bin": b"x"}), False, "does not list"),
        (lambda e: e.pop(MANIFEST), False, "no manifest"),
        (_late_table_broken, True, "smuggled"),
        (lambda e: e.update({data_file("reviews.vote"): b"{}\n"}), True, "does not know"),
    ],
    ids=["newer", "bad-version", "format", "checksum", "unlisted", "manifest", "row", "table"],
)
def test_refused_archives_write_nothing(full, change, fix, message):
    data = _rewrite(_export(full), change, fix_checksums=fix)
    before = _state()
    with pytest.raises(ArchiveError, match=message):
        review_import(source=io.BytesIO(data), slug="copy")
    assert _state() == before


def test_not_a_zip_and_a_taken_slug_are_refused(full):
    with pytest.raises(ArchiveError, match="not a zip"):
        review_import(source=io.BytesIO(b"PK but not really"))
    with pytest.raises(ArchiveError, match="exists already"):
        review_import(source=io.BytesIO(_export(full)))
    with pytest.raises(ArchiveError, match="address"):
        review_import(source=io.BytesIO(_export(full)), slug="no spaces/please")


@pytest.mark.parametrize("member", [MANIFEST, data_file("reviews.record")])
def test_an_entry_corrupted_inside_its_compressed_data_is_refused(full, member):
    data = corrupt_member(_export(full), member)
    before = _state()
    with pytest.raises(ArchiveError, match=r"cannot be read: the archive is damaged"):
        review_import(source=io.BytesIO(data), slug="copy")
    assert _state() == before


def test_the_command_refuses_a_corrupted_archive_in_one_line(full, tmp_path):
    path = tmp_path / "review.zip"
    path.write_bytes(corrupt_member(_export(full), data_file("reviews.record")))
    before = _state()
    with pytest.raises(CommandError, match="reviews.record.jsonl cannot be read") as info:
        call_command("import_review", str(path), "--slug", "copy")
    assert "\n" not in str(info.value)
    assert _state() == before


def test_the_page_refuses_a_corrupted_archive(client, full, cast):
    client.force_login(cast.lead)
    data = _export(full)
    # damaged manifest: the quick check answers at once on the page
    upload = SimpleUploadedFile("review.zip", corrupt_member(data, MANIFEST))
    response = client.post(
        f"/reviews/{full.slug}/archive/import/", {"archive": upload, "slug": "copy"}
    )
    assert response.status_code == 400
    assert "manifest.json cannot be read: the archive is damaged" in response.content.decode()
    # damaged table: the upload is accepted, its job fails with the message, nothing written
    before = _state()
    upload = SimpleUploadedFile("review.zip", corrupt_member(data, data_file("reviews.record")))
    response = client.post(
        f"/reviews/{full.slug}/archive/import/", {"archive": upload, "slug": "copy"}
    )
    job = Job.objects.filter(kind="archive_import").latest("id")
    assert job.status == Job.Status.FAILED
    assert "reviews.record.jsonl cannot be read: the archive is damaged" in job.error
    page = client.get(response["Location"])
    assert page.status_code == 200 and "the archive is damaged" in page.content.decode()
    assert _state()[:2] == before[:2] and not Review.objects.filter(slug="copy").exists()


def test_ids_in_json_of_deleted_rows_become_the_unknown_id():
    from reviews.archive.format import IdMaps

    ids = IdMaps(strict=False)
    ids.set("reviews.record", {10: 1})
    assert ids.map("reviews.record", 10) == 1 and ids.map("reviews.record", 11) == UNKNOWN_ID
    strict = IdMaps(strict=True)
    strict.set("reviews.record", {1: 10})
    assert strict.map("reviews.record", UNKNOWN_ID) == UNKNOWN_ID
    with pytest.raises(ArchiveError, match="does not hold"):
        strict.map("reviews.record", 2)


# --- commands and the settings page ----------------------------------------------------------


def test_commands_export_and_import(full, tmp_path):
    out = tmp_path / "review.zip"
    stdout = io.StringIO()
    call_command("export_review", full.slug, str(out), stdout=stdout)
    assert f"format version {FORMAT_VERSION}" in stdout.getvalue()
    call_command("import_review", str(out), "--slug", "restored", stdout=stdout)
    assert Review.objects.get(slug="restored").title == full.title
    with pytest.raises(CommandError, match="exists already"):
        call_command("import_review", str(out))
    with pytest.raises(CommandError, match="no review"):
        call_command("export_review", "missing", str(tmp_path / "x.zip"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["review.zip"]  # no temporary left


def test_lead_exports_and_imports_from_the_settings_page(client, full, cast):
    client.force_login(cast.lead)
    page = client.get(f"/reviews/{full.slug}/protocol/")
    assert b"Download archive" in page.content
    response = client.get(f"/reviews/{full.slug}/archive/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)

    upload = SimpleUploadedFile("review.zip", data, content_type="application/zip")
    response = client.post(
        f"/reviews/{full.slug}/archive/import/", {"archive": upload, "slug": "imported"}
    )
    job = Job.objects.get(kind="archive_import")
    assert response["Location"] == f"/reviews/{full.slug}/jobs/{job.pk}/"
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert client.get(response["Location"])["Location"] == "/reviews/imported/"
    assert Membership.objects.get(review__slug="imported", user=cast.lead).is_lead
    assert not default_storage.exists(job.params["path"])  # the upload is gone once imported

    # a damaged archive passes the quick checks, then its job fails, writing nothing
    damaged = _rewrite(
        data, lambda e: e.update({data_file("reviews.record"): b"{}\n"}), fix_checksums=False
    )
    before = _state()
    upload = SimpleUploadedFile("review.zip", damaged, content_type="application/zip")
    client.post(f"/reviews/{full.slug}/archive/import/", {"archive": upload, "slug": "damaged"})
    job = Job.objects.filter(kind="archive_import").latest("id")
    assert job.status == Job.Status.FAILED and "checksum" in job.error
    assert _state()[:2] == before[:2] and not Review.objects.filter(slug="damaged").exists()

    bad = SimpleUploadedFile("review.zip", b"not a zip", content_type="application/zip")
    response = client.post(f"/reviews/{full.slug}/archive/import/", {"archive": bad})
    assert response.status_code == 400 and "not a zip file" in response.content.decode()
    upload = SimpleUploadedFile("review.zip", data, content_type="application/zip")
    response = client.post(f"/reviews/{full.slug}/archive/import/", {"archive": upload})
    assert response.status_code == 400 and "exists already" in response.content.decode()


def test_reviewers_cannot_export(client, full, cast):
    client.force_login(cast.alice)
    assert client.get(f"/reviews/{full.slug}/archive/export/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_an_export_outside_any_transaction_reads_one_snapshot():
    """The export opens its own transaction (REPEATABLE READ READ ONLY on PostgreSQL)."""
    from django.db import connection

    from tests.factories import MembershipFactory, ReviewFactory

    review = ReviewFactory(slug="snapshot")
    MembershipFactory(review=review, user=UserFactory(username="solo"), is_lead=True)
    RecordFactory(review=review)
    assert not connection.in_atomic_block
    data = _export(review)
    assert len(_rows(data, "reviews.record")) == 1
    assert not connection.in_atomic_block
