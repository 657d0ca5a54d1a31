"""Users in an archive: named by username; apps add per-user data (the screening keymap)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UserExtra:
    """Per-user data an app keeps outside any review, carried with the review's users.

    ``dump(users)`` returns ``{user id: value}`` (users without a value left out);
    ``load(user, value, created)`` restores one value (``created``: the import just created
    the account); it must not overwrite what an existing user has chosen since.
    """

    name: str
    dump: Callable[[Iterable[Any]], dict[int, Any]]
    load: Callable[[Any, Any, bool], None]


_extras: dict[str, UserExtra] = {}


def register_user_extra(extra: UserExtra) -> None:
    _extras[extra.name] = extra


def user_extras() -> dict[str, UserExtra]:
    return dict(_extras)


USER_FIELDS = ("username", "email", "first_name", "last_name")
