"""retrying(): which database errors make a use case run again."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from app.db import retrying


class MySQLError(Exception):
    pass


def failure(number: int, context: BaseException | None = None) -> OperationalError:
    error = OperationalError("statement", {}, MySQLError(number, "message"))
    error.__context__ = context
    return error


def flaky(*errors):
    calls = []

    def use_case():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "done"
    return use_case, calls


def test_a_deadlock_victim_runs_again(app):
    use_case, calls = flaky(failure(1213))
    assert retrying(use_case) == "done" and len(calls) == 2


def test_a_deadlock_hidden_behind_a_lost_savepoint_runs_again(app):
    # A deadlock inside a savepoint rolls the whole transaction back; the ROLLBACK TO SAVEPOINT that
    # follows fails with 1305, and that is the error the use case sees.
    use_case, calls = flaky(failure(1305, context=failure(1213)))
    assert retrying(use_case) == "done" and len(calls) == 2


def test_other_errors_and_the_last_attempt_are_raised(app):
    use_case, calls = flaky(failure(1305))
    with pytest.raises(OperationalError):
        retrying(use_case)
    assert len(calls) == 1
    use_case, calls = flaky(*[failure(1213)] * 4)
    with pytest.raises(OperationalError):
        retrying(use_case)
    assert len(calls) == 4


def test_a_retried_transaction_commits_each_attempt_on_its_own(app):
    from app.db import retried_transaction

    use_case, calls = flaky(failure(1213))
    assert retried_transaction(use_case) == "done" and len(calls) == 2
