"""The archive format: constants, JSON Lines encoding, id maps and field values.

An archive is a zip file::

    manifest.json                   format name and version, review slug, export date,
                                    per-file SHA-256 and row counts
    data/users.jsonl                every user the review's rows name (by username)
    data/reviews.review.jsonl       the review itself (one row)
    data/<app>.<model>.jsonl        one file per table, rows sorted by archive id
    files/<app>.<model>/<id>/<field>.<ext>   uploaded files (imports, full-text PDFs)

Rows name other rows by *archive ids*: a table's rows numbered 1..n in primary-key order.
Import inserts rows in that order, so the restored rows get increasing primary keys too and
a second export numbers them the same way: two exports of one review differ only in the
manifest's date (every zip entry carries a fixed timestamp).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models

from reviews.errors import DomainError

FORMAT = "reviewflow-review-archive"
FORMAT_VERSION = 2  # 2: review rounds, search runs, screening items' rounds, published versions
MANIFEST = "manifest.json"
USERS_FILE = "data/users.jsonl"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every entry's timestamp, so that exports compare equal
UNKNOWN_ID = 0  # an id inside a JSON value whose row no longer exists (never a real pk)


class ArchiveError(DomainError):
    """An archive that cannot be written or read; nothing was changed."""


def data_file(label: str) -> str:
    return f"data/{label}.jsonl"


def dumps(row: dict[str, Any]) -> bytes:
    """One JSON Lines row: keys sorted, no whitespace, so equal rows are equal bytes."""
    return (
        json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        + b"\n"
    )


class IdMaps:
    """Per table: primary key -> archive id (export) or archive id -> new primary key (import).

    ``strict`` (import): an id the archive does not hold is an error. On export an id of a
    row that no longer exists (named in an old history row) becomes ``UNKNOWN_ID``.
    """

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self._maps: dict[str, dict[int, int]] = {}

    def set(self, label: str, mapping: dict[int, int]) -> None:
        self._maps[label] = mapping

    def table(self, label: str) -> dict[int, int]:
        return self._maps.setdefault(label, {})

    def map(self, label: str, key: Any) -> int | None:
        if key is None:
            return None
        if isinstance(key, bool) or not isinstance(key, int):
            if self.strict:
                raise ArchiveError(f"A {label} reference is not an id: {key!r}.")
            return UNKNOWN_ID
        found = self._maps.get(label, {}).get(key)
        if found is not None:
            return found
        if self.strict and key != UNKNOWN_ID:
            raise ArchiveError(f"The archive names {label} #{key}, which it does not hold.")
        return UNKNOWN_ID

    def map_list(self, label: str, keys: Any) -> list[int | None]:
        if not isinstance(keys, list):
            raise ArchiveError(f"A list of {label} ids was expected, not {keys!r}.")
        return [self.map(label, key) for key in keys]


def is_user_fk(field: models.Field) -> bool:
    return field.is_relation and field.related_model is get_user_model()


def encode_value(field: models.Field, value: Any) -> Any:
    """A field's value as JSON: datetimes in UTC ISO 8601, dates ISO, the rest as is."""
    if value is None:
        return None
    if isinstance(field, models.DateTimeField):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(field, models.DateField | models.TimeField):
        return value.isoformat()
    if isinstance(field, models.DecimalField | models.UUIDField):
        return str(value)
    return value


def decode_value(field: models.Field, value: Any, where: str) -> Any:
    """The archived value as the field stores it, or ArchiveError naming where it was."""
    if value is None:
        if not field.null:
            raise ArchiveError(f"{where}: {field.name} may not be empty.")
        return None
    if isinstance(field, models.JSONField):
        return value
    try:
        value = field.to_python(value)
        field.run_validators(value)
    except ValidationError as exc:
        raise ArchiveError(f"{where}: {field.name}: {' '.join(exc.messages)}") from None
    return value
