"""retrying(): which database errors make a use case run again."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
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


def test_a_use_case_that_committed_once_is_not_run_again(app):
    # Its first transaction went through; a deadlock in its second must not do the first one twice.
    from app.db import transaction
    from app.extensions import db

    calls = []

    def two_commits():
        calls.append(1)
        with transaction():
            db.session.execute(sa.text("SELECT 1"))
        raise failure(1213)

    with pytest.raises(OperationalError):
        retrying(two_commits)
    assert len(calls) == 1
