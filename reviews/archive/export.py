"""Write one review to an archive (see :mod:`reviews.archive.format`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

from reviews.models import Review

from .format import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    USERS_FILE,
    ZIP_DATE,
    ArchiveError,
    IdMaps,
    data_file,
    dumps,
    encode_value,
    is_user_fk,
)
from .registry import Table, ordered_tables
from .users import USER_FIELDS, user_extras

REVIEW_LABEL = "reviews.review"
CHUNK = 2000


class _Writer:
    """Zip entries with fixed timestamps; remembers each entry's SHA-256 and row count."""

    def __init__(self, out: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.files: dict[str, dict[str, Any]] = {}

    def write_lines(self, name: str, lines: Iterable[bytes]) -> None:
        digest, n = hashlib.sha256(), 0
        with self.zip.open(self._info(name), "w", force_zip64=True) as handle:
            for line in lines:
                digest.update(line)
                handle.write(line)
                n += 1
        self.files[name] = {"sha256": digest.hexdigest(), "rows": n}

    def write_file(self, name: str, source: IO[bytes]) -> None:
        digest = hashlib.sha256()
        with self.zip.open(self._info(name), "w", force_zip64=True) as handle:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                handle.write(chunk)
        self.files[name] = {"sha256": digest.hexdigest()}

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        return info


def review_export(*, review: Review, out: IO[bytes]) -> dict[str, Any]:
    """Write ``review`` with everything it holds to the zip ``out``; return the manifest.

    Reads only: one query per table (in primary-key order) and one per user named.
    Raises ArchiveError if an uploaded file the review names is missing from storage.
    """
    # One snapshot for every query: a vote cast while the export runs must not appear in
    # one table and be missing from the id maps read before it. PostgreSQL needs REPEATABLE
    # READ for that, set as the transaction's first statement (so only when this is the
    # outermost transaction); SQLite's read transaction is a snapshot already.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _Export(review).write(out)


class _Export:
    def __init__(self, review: Review) -> None:
        self.review = review
        self.tables = ordered_tables()
        self.ids = IdMaps(strict=False)
        self.querysets = {}
        for table in self.tables:
            qs = table.model._base_manager.filter(**{table.review_path: review}).order_by("pk")
            self.querysets[table.label] = qs
            pks = qs.values_list("pk", flat=True).iterator(chunk_size=CHUNK)
            self.ids.set(table.label, {pk: n for n, pk in enumerate(pks, 1)})
        self.usernames: dict[int, str] = {}
        self.attachments: list[tuple[str, Any]] = []

    def write(self, out: IO[bytes]) -> dict[str, Any]:
        writer = _Writer(out)
        # the slug is in the manifest: an import may choose another
        review_row = self.encode(self.review, Review, label=REVIEW_LABEL, skip=("slug",))
        writer.write_lines(data_file(REVIEW_LABEL), [dumps(review_row)])
        for table in self.tables:
            rows = (
                self.encode_table_row(obj, table)
                for obj in self.querysets[table.label].iterator(chunk_size=CHUNK)
            )
            writer.write_lines(data_file(table.label), (dumps(row) for row in rows))
        for name, fieldfile in self.attachments:
            try:
                with fieldfile.open("rb") as handle:
                    writer.write_file(name, handle)
            except FileNotFoundError:
                raise ArchiveError(
                    f"The file {fieldfile.name} is missing from storage; "
                    "restore it, then export again."
                ) from None
        writer.write_lines(USERS_FILE, (dumps(row) for row in self.user_rows()))
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "exported_at": timezone.now().astimezone(dt.UTC).isoformat(),
            "review": {"slug": self.review.slug, "title": self.review.title},
            "files": dict(sorted(writer.files.items())),
        }
        writer.zip.writestr(_Writer._info(MANIFEST), dumps(manifest))
        writer.zip.close()
        return manifest

    def encode_table_row(self, obj: models.Model, table: Table) -> dict[str, Any]:
        row = self.encode(obj, table.model, label=table.label, skip=table.skip)
        return table.encode(row, self.ids) if table.encode else row

    def encode(
        self,
        obj: models.Model,
        model: type[models.Model],
        *,
        label: str,
        skip: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for field in model._meta.concrete_fields:
            if field.name in skip:
                continue
            value = getattr(obj, field.attname)
            if field.primary_key:
                if model is not Review:
                    row["id"] = self.ids.map(label, value)
            elif field.is_relation and field.related_model is Review:
                continue  # the archive holds one review: implied
            elif is_user_fk(field):
                row[field.name] = None if value is None else self.username(value)
            elif field.is_relation:
                row[field.name] = self.ids.map(field.related_model._meta.label_lower, value)
            elif isinstance(field, models.FileField):
                row[field.name] = self.attach(label, row.get("id", 0), field, obj)
            else:
                row[field.name] = encode_value(field, value)
        return row

    def attach(self, label: str, aid: int, field: models.FileField, obj: models.Model) -> str:
        fieldfile = getattr(obj, field.name)
        if not fieldfile:
            return ""
        # Not the stored name: storage may have added a random suffix to it, and two
        # exports must name the file alike. The import's upload_to names it anew.
        name = f"files/{label}/{aid}/{field.name}{PurePosixPath(fieldfile.name).suffix}"
        self.attachments.append((name, fieldfile))
        return name

    def username(self, user_id: int) -> str:
        if user_id not in self.usernames:
            User = get_user_model()
            self.usernames[user_id] = User._base_manager.values_list("username", flat=True).get(
                pk=user_id
            )
        return self.usernames[user_id]

    def user_rows(self) -> list[dict[str, Any]]:
        User = get_user_model()
        users = list(User._base_manager.filter(pk__in=self.usernames).order_by("username"))
        extras = {name: extra.dump(users) for name, extra in user_extras().items()}
        rows = []
        for user in users:
            row = {name: getattr(user, name) for name in USER_FIELDS}
            for name, values in extras.items():
                row[name] = values.get(user.pk)
            rows.append(row)
        return rows
