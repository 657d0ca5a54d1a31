"""The transient-error retry around services that lock rows."""

import pytest
from django.db import OperationalError, transaction

from reviews.db import DatabaseBusy, is_transient, retry_transient


class FakeDriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def db_error(sqlstate: str) -> OperationalError:
    """An OperationalError as Django raises it: the driver's error as its cause."""
    try:
        raise OperationalError("deadlock detected") from FakeDriverError(sqlstate)
    except OperationalError as exc:
        return exc


def flaky(failures: list[OperationalError]):
    calls = []

    @retry_transient(attempts=3)
    def service(value):
        calls.append(value)
        if failures:
            raise failures.pop(0)
        return value * 2

    return service, calls


def test_deadlock_victim_is_run_again_and_succeeds():
    service, calls = flaky([db_error("40P01"), db_error("40001")])
    assert service(21) == 42
    assert calls == [21, 21, 21]


def test_persistent_deadlocks_become_a_503_message_not_a_500():
    service, calls = flaky([db_error("40P01")] * 3)
    with pytest.raises(DatabaseBusy) as raised:
        service(1)
    assert raised.value.status == 503
    assert "try again" in raised.value.message
    assert len(calls) == 3


def test_other_database_errors_are_not_retried():
    service, calls = flaky([db_error("08006")])  # connection failure
    with pytest.raises(OperationalError):
        service(1)
    assert calls == [1]
    assert not is_transient(db_error("08006"))


@pytest.mark.django_db
def test_no_retry_inside_an_enclosing_transaction():
    # The enclosing transaction is already aborted; only its owner can start it again.
    service, calls = flaky([db_error("40P01")])
    with pytest.raises(OperationalError), transaction.atomic():
        service(1)
    assert calls == [1]
