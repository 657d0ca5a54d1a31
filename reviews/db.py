"""Database helpers shared by the apps' services."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

from .errors import DomainError

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# SQLSTATEs PostgreSQL gives a transaction it aborted to let another one through: the
# work itself was fine and succeeds when run again.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


class DatabaseBusy(DomainError):
    """The database kept aborting this change to let concurrent ones through."""

    status = 503


def is_transient(exc: BaseException) -> bool:
    """Was `exc` a deadlock or serialisation failure (safe to retry from scratch)?"""
    cause = exc.__cause__ or exc.__context__
    return getattr(cause, "sqlstate", None) in TRANSIENT_SQLSTATES


def retry_transient(attempts: int = 4) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a service again when PostgreSQL aborts its transaction as a deadlock victim.

    Lock order is what prevents deadlocks; this is the safety net the PostgreSQL manual
    asks of applications, so a reviewer clicking at a busy moment gets their decision
    stored rather than an error. It only retries at the outermost level: inside an
    enclosing transaction the whole transaction is lost and only its owner can retry.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, attempts + 1):
                try:
                    return func(*args, **kwargs)
                except OperationalError as exc:
                    if not is_transient(exc) or connection.in_atomic_block:
                        raise
                    if attempt == attempts:
                        raise DatabaseBusy(
                            "The database is busy with other reviewers' changes; "
                            "please try again in a moment."
                        ) from exc
                    log.info("%s: transient database error, retry %d", func.__name__, attempt)
                    time.sleep(random.uniform(0.005, 0.05) * attempt)
            raise AssertionError("unreachable")

        return wrapper

    return decorate


def lock_for_update(qs, **kwargs):
    """SELECT ... FOR NO KEY UPDATE where the database has it (PostgreSQL).

    The weaker lock still serialises every writer of a row, but does not block the inserts
    of rows that reference it (they take FOR KEY SHARE).
    """
    if connection.features.has_select_for_no_key_update:
        kwargs["no_key"] = True
    return qs.select_for_update(**kwargs)
