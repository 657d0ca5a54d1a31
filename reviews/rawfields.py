"""A record's raw fields as imported, stored without the copies of its title and abstract.

Pure Python (no Django). ``Record.source_fields`` keeps every tag or column of the source
file, so it repeats the title and the abstract (RIS ``TI``/``AB``, MEDLINE ``TI``/``AB``,
CSV ``Title``/``Abstract``...). Storing them twice made PostgreSQL parse and compress each
abstract twice at import (2.0-2.5 s of the backend's CPU on 100,000 RIS records).

Stored form: a raw value that equals the record's ``title`` or ``abstract`` column exactly
(the text itself, or a list holding only that text) keeps its key, in place, with ``null``
as its value, and the reserved key ``REF_KEY`` maps each such key to what it stands for:
``"title"``/``"abstract"`` (the text) or ``["title"]``/``["abstract"]`` (a one-item list).
Keys keep their order (SQLite keeps it; jsonb orders keys itself either way).

No imported value is a dict (values are text or lists of text), so a ``REF_KEY`` holding a
dict is always this marker; a file with a real ``=`` column is stored as imported. Rows
written before this scheme have no marker and are read as they are (no data migration).

A query on a key of ``source_fields`` (``source_fields__dataset=...``) sees the stored form:
only keys whose value is a copy of the title or abstract read ``null`` there.

Every reader goes through ``unpack`` (``Record.raw_fields``); a change of a record's title
or abstract goes through ``materialise`` first, so the raw field keeps the imported text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REF_KEY", "materialise", "pack", "unpack"]

REF_KEY = "="
_TOKENS = ("title", "abstract")


def pack(fields: dict[str, Any], title: str, abstract: str) -> dict[str, Any]:
    """``fields`` with the values equal to ``title``/``abstract`` left as references."""
    if REF_KEY in fields or not fields:
        return fields
    refs: dict[str, Any] = {}
    out: dict[str, Any] = {}
    # Empty texts are not referenced: an empty CSV cell would only trade "" for a marker.
    title = title or None
    abstract = abstract or None
    for key, value in fields.items():
        token: Any = None
        if isinstance(value, list):
            if len(value) == 1:
                item = value[0]
                if item == title:
                    token = ["title"]
                elif item == abstract:
                    token = ["abstract"]
        elif isinstance(value, str) and value:
            if value == title:
                token = "title"
            elif value == abstract:
                token = "abstract"
        if token is None:
            out[key] = value
        else:
            out[key] = None
            refs[key] = token
    if not refs:
        return fields
    out[REF_KEY] = refs
    return out


def _refs(stored: Any) -> dict[str, Any] | None:
    if not isinstance(stored, dict):
        return None
    refs = stored.get(REF_KEY)
    return refs if isinstance(refs, dict) else None


def unpack(stored: Any, title: str, abstract: str) -> dict[str, Any]:
    """The raw fields as imported, from the stored form and the record's title/abstract."""
    refs = _refs(stored)
    if refs is None:
        return stored if isinstance(stored, dict) else {}
    texts = {"title": title, "abstract": abstract}
    out: dict[str, Any] = {}
    for key, value in stored.items():
        if key == REF_KEY:
            continue
        token = refs.get(key)
        if isinstance(token, list) and token and token[0] in texts:
            out[key] = [texts[token[0]]]
        elif isinstance(token, str) and token in texts:
            out[key] = texts[token]
        else:
            out[key] = value
    return out


def materialise(stored: Any, title: str, abstract: str) -> Any:
    """The stored form with no references: written before a title or abstract changes."""
    return unpack(stored, title, abstract) if _refs(stored) is not None else stored
