"""Read an archive back into a new review (see :mod:`reviews.archive.format`).

Everything is checked before anything is written: the format name and version and every
entry's SHA-256. The rows then go in inside one transaction; uploaded files are saved
while it runs and deleted again if it does not commit, so a refused or failed import
leaves neither rows nor files behind.

Rows are inserted as they were archived (timestamps included) and without signals: an
archive restores what was, it does not re-run what happened (a new review's default
extraction form, the blinding audit...).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_slug
from django.db import DatabaseError, IntegrityError, connections, models, router, transaction
from django.utils import timezone

from reviews.models import Membership, MembershipChange, Review
from reviews.services import membership_log, membership_set_roles, roles_label

from .export import REVIEW_LABEL
from .format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    USERS_FILE,
    ArchiveError,
    IdMaps,
    data_file,
    decode_value,
    is_user_fk,
)
from .registry import Table, ordered_tables
from .users import USER_FIELDS, user_extras

CHUNK = 1000
# What reading a damaged zip raises: a bad header or CRC (BadZipFile), a corrupted deflate
# stream inside a member (zlib.error), a truncated file (EOFError, OSError).
DAMAGED = (zipfile.BadZipFile, zlib.error, OSError, EOFError)


def review_import(*, source: str | IO[bytes], slug: str | None = None, actor: Any = None) -> Review:
    """Create a new review from the archive ``source`` (a path or a binary file).

    ``slug`` defaults to the archived review's. Users are matched by username; unknown
    ones are created inactive, without a password (the lead invites them again). With an
    ``actor`` (an import from the web), the actor becomes a lead of the new review.
    Raises ArchiveError, with nothing written, for an archive of another format, a newer
    version, a damaged entry, a taken slug or rows the database refuses.
    """
    try:
        archive = zipfile.ZipFile(source)
    except DAMAGED:
        raise ArchiveError("This file is not a review archive (it is not a zip file).") from None
    with archive:
        manifest = read_manifest(archive)
        slug = _check_slug(slug or manifest["review"].get("slug", ""))
        return _Import(archive, slug, actor).run()


def archive_peek(*, source: str | IO[bytes], slug: str | None = None) -> str:
    """The new review's slug, once the archive is a zip of a known format and version and
    the slug is free: the quick checks a web upload answers at once (the job that imports
    it then verifies every checksum)."""
    try:
        archive = zipfile.ZipFile(source)
    except DAMAGED:
        raise ArchiveError("This file is not a review archive (it is not a zip file).") from None
    with archive:
        manifest = _manifest_header(archive)
    return _check_slug(slug or manifest["review"].get("slug", ""))


def _manifest_header(archive: zipfile.ZipFile) -> dict[str, Any]:
    if MANIFEST not in archive.namelist():
        raise ArchiveError("This zip file has no manifest.json: it is not a review archive.")
    try:
        data = archive.read(MANIFEST)
    except DAMAGED:
        raise ArchiveError(_damaged(MANIFEST)) from None
    try:
        manifest = json.loads(data)
    except ValueError:
        raise ArchiveError("The archive's manifest.json is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError("This zip file is not a Reviewflow review archive.")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveError(f"The archive names an unknown format version ({version!r}).")
    if version > FORMAT_VERSION:
        raise ArchiveError(
            f"The archive has format version {version}; this Reviewflow reads versions up to "
            f"{FORMAT_VERSION}. Import it with a newer Reviewflow."
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not isinstance(manifest.get("review"), dict):
        raise ArchiveError("The archive's manifest lists no files.")
    return manifest


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The manifest, once the format, version and every entry's checksum are verified."""
    manifest = _manifest_header(archive)
    files = manifest["files"]
    names = set(archive.namelist())
    unlisted = sorted(names - set(files) - {MANIFEST})
    if unlisted:
        raise ArchiveError(f"The archive holds {unlisted[0]}, which its manifest does not list.")
    known = {data_file(t.label) for t in ordered_tables()} | {data_file(REVIEW_LABEL), USERS_FILE}
    for name, entry in files.items():
        if name not in names:
            raise ArchiveError(f"The archive lacks {name}, which its manifest lists.")
        if name.startswith("data/") and name not in known:
            raise ArchiveError(f"The archive holds a table this Reviewflow does not know: {name}.")
        if not name.startswith(("data/", "files/")):
            raise ArchiveError(f"Unexpected entry in the archive: {name}.")
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if _sha256(archive, name) != expected:
            raise ArchiveError(
                f"The checksum of {name} does not match the manifest: the archive is damaged "
                "or was edited. Nothing was imported."
            )
    for required in (data_file(REVIEW_LABEL), USERS_FILE):
        if required not in files:
            raise ArchiveError(f"The archive lacks {required}.")
    return manifest


def _sha256(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    try:
        with archive.open(name) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except DAMAGED:
        raise ArchiveError(_damaged(name)) from None
    return digest.hexdigest()


def _damaged(name: str) -> str:
    return (
        f"{name} cannot be read: the archive is damaged (a corrupted or truncated zip "
        "entry). Nothing was imported."
    )


def _check_slug(slug: str) -> str:
    try:
        validate_slug(slug)
    except ValidationError:
        raise ArchiveError(
            f"“{slug}” cannot be a review's address: use letters, digits, - and _."
        ) from None
    if len(slug) > Review._meta.get_field("slug").max_length:
        raise ArchiveError("The review's address is too long.")
    if Review.objects.filter(slug=slug).exists():
        raise ArchiveError(
            f"A review with the address “{slug}” exists already; import under another one."
        )
    return slug


class _Import:
    def __init__(self, archive: zipfile.ZipFile, slug: str, actor: Any) -> None:
        self.archive = archive
        self.slug = slug
        self.actor = actor
        self.ids = IdMaps(strict=True)
        self.users: dict[str, Any] = {}
        self.saved: list[tuple[Any, str]] = []  # (storage, name) of files written so far

    def run(self) -> Review:
        try:
            with transaction.atomic():
                review = self.load()
        except BaseException:
            for storage, name in self.saved:
                storage.delete(name)
            raise
        return review

    def load(self) -> Review:
        self.load_users()
        rows = list(self.rows(data_file(REVIEW_LABEL)))
        if len(rows) != 1:
            raise ArchiveError("The archive must hold exactly one review.")
        review_row = {**rows[0], "slug": self.slug}
        review = self.build(Review, review_row, None, where="the review", skip=())
        review.pk = _insert(Review, [review])[0]
        self.review = review
        for table in ordered_tables():
            self.load_table(table)
        if self.actor is not None:
            self.make_lead(self.actor)
        return review

    # --- users ---------------------------------------------------------------------------

    def load_users(self) -> None:
        User = get_user_model()
        rows = list(self.rows(USERS_FILE))
        names = [row.get("username") for row in rows]
        if any(not isinstance(name, str) or not name for name in names):
            raise ArchiveError("A user in the archive has no username.")
        existing = {u.username: u for u in User._base_manager.filter(username__in=names)}
        extras = user_extras()
        for row in rows:
            unknown = set(row) - set(USER_FIELDS) - set(extras)
            if unknown:
                raise ArchiveError(f"Unknown user field(s) in the archive: {sorted(unknown)}.")
            user, created = existing.get(row["username"]), False
            if user is None:
                values = {
                    name: decode_value(User._meta.get_field(name), row.get(name, ""), "a user")
                    for name in USER_FIELDS
                }
                user = User(**values, is_active=False)
                user.set_unusable_password()
                user.save()
                created = True
            for name, extra in extras.items():
                if row.get(name) is not None:
                    extra.load(user, row[name], created)
            self.users[user.username] = user

    def user_id(self, username: Any, where: str) -> int:
        if username not in self.users:
            raise ArchiveError(f"{where} names the user {username!r}, whom the archive lacks.")
        return self.users[username].pk

    # --- rows ----------------------------------------------------------------------------

    def rows(self, name: str) -> Iterator[dict[str, Any]]:
        if name not in self.archive.namelist():
            return
        with self.archive.open(name) as handle:
            for n, line in enumerate(handle, 1):
                try:
                    row = json.loads(line)
                except ValueError:
                    raise ArchiveError(f"{name}, line {n}: not valid JSON.") from None
                if not isinstance(row, dict):
                    raise ArchiveError(f"{name}, line {n}: not a JSON object.")
                yield row

    def load_table(self, table: Table) -> None:
        model = table.model
        mapping = self.ids.table(table.label)
        self_refs = [f for f in model._meta.concrete_fields if f.related_model is model]
        pending: list[tuple[int, str, Any]] = []  # (aid, field attname, target aid)
        batch: list[tuple[int, models.Model]] = []
        for n, row in enumerate(self.rows(data_file(table.label)), 1):
            where = f"{table.label}, row {n}"
            aid = row.pop("id", None)
            if not isinstance(aid, int) or isinstance(aid, bool) or aid < 1 or aid in mapping:
                raise ArchiveError(f"{where}: a missing or repeated id.")
            if table.decode:
                row = table.decode(row, self.ids)
            for field in self_refs:
                if row.get(field.name) is not None:
                    pending.append((aid, field.attname, row[field.name]))
                row[field.name] = None
            batch.append((aid, self.build(model, row, table, where=where, skip=table.skip)))
            if len(batch) >= CHUNK:
                self.flush(model, batch, mapping, table.label)
        self.flush(model, batch, mapping, table.label)
        if pending:
            updates = []
            for aid, attname, target in pending:
                obj = model(pk=mapping[aid])
                setattr(obj, attname, self.ids.map(table.label, target))
                updates.append(obj)
            names = sorted({attname for _, attname, _ in pending})
            model._base_manager.bulk_update(updates, names, batch_size=CHUNK)

    def flush(self, model, batch: list, mapping: dict[int, int], label: str) -> None:
        if not batch:
            return
        try:
            with transaction.atomic():
                pks = _insert(model, [obj for _, obj in batch])
        except (IntegrityError, DatabaseError) as exc:
            raise ArchiveError(f"The database refused rows of {label}: {exc}") from None
        mapping.update(zip((aid for aid, _ in batch), pks, strict=True))
        batch.clear()

    def build(
        self,
        model: type[models.Model],
        row: dict[str, Any],
        table: Table | None,
        *,
        where: str,
        skip: tuple[str, ...],
    ) -> models.Model:
        values: dict[str, Any] = {}
        files: list[tuple[models.FileField, str]] = []
        seen = set()
        for field in model._meta.concrete_fields:
            if field.primary_key or field.name in skip:
                continue
            if field.is_relation and field.related_model is Review:
                values[field.attname] = self.review.pk
                continue
            if field.name not in row:
                if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                    values[field.attname] = timezone.now()
                continue
            seen.add(field.name)
            value = row[field.name]
            if is_user_fk(field):
                values[field.attname] = None if value is None else self.user_id(value, where)
            elif field.is_relation:
                if field.related_model is model:
                    values[field.attname] = None  # set once the whole table is in
                else:
                    values[field.attname] = self.ids.map(
                        field.related_model._meta.label_lower, value
                    )
            elif isinstance(field, models.FileField):
                if not isinstance(value, str):
                    raise ArchiveError(f"{where}: {field.name} is not a file name.")
                if value:
                    files.append((field, value))
                values[field.attname] = ""
            else:
                values[field.attname] = decode_value(field, value, where)
        unknown = set(row) - seen
        if unknown:
            raise ArchiveError(f"{where}: unknown field(s) {sorted(unknown)}.")
        obj = model(**values)
        for field, name in files:
            self.save_file(obj, field, name, where)
        return obj

    def save_file(self, obj: models.Model, field: models.FileField, name: str, where: str) -> None:
        if not name.startswith("files/") or name not in self.archive.namelist():
            raise ArchiveError(f"{where}: the archive lacks the file {name}.")
        storage = field.storage
        with self.archive.open(name) as handle:
            target = field.generate_filename(obj, PurePosixPath(name).name)
            stored = storage.save(target, File(handle), max_length=field.max_length)
        self.saved.append((storage, stored))
        setattr(obj, field.attname, stored)

    def make_lead(self, user: Any) -> None:
        """The lead who imports from the web must be able to open the new review."""
        membership = Membership.objects.filter(review=self.review, user=user).first()
        if membership is None:
            membership = Membership.objects.create(
                review=self.review, user=user, is_lead=True, is_reviewer=False
            )
            membership_log(
                review=self.review,
                actor=user,
                action=MembershipChange.Action.ADDED,
                user=user,
                new_roles=roles_label(membership),
            )
        elif not membership.is_lead:
            membership_set_roles(
                membership=membership,
                actor=user,
                is_lead=True,
                is_reviewer=membership.is_reviewer,
                is_adjudicator=membership.is_adjudicator,
            )


def _insert(model: type[models.Model], objs: list[models.Model]) -> list[int]:
    """Insert rows as they are, returning their new primary keys in order.

    ``raw=True`` is what ``loaddata`` uses: timestamps (``auto_now``/``auto_now_add``) keep
    their archived values instead of "now", and no save signals run. One INSERT per batch,
    in order, so the new keys grow with the archive ids.
    """
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    pk = model._meta.pk
    if not connection.features.can_return_rows_from_bulk_insert:  # pragma: no cover
        return [
            model._base_manager._insert([obj], fields=fields, returning_fields=[pk], raw=True)[0][0]
            for obj in objs
        ]
    size = max(1, connection.ops.bulk_batch_size(fields, objs))
    pks: list[int] = []
    for start in range(0, len(objs), size):
        rows = model._base_manager._insert(
            objs[start : start + size], fields=fields, returning_fields=[pk], raw=True
        )
        pks.extend(row[0] for row in rows)
    return pks
