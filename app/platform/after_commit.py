"""Side effects that must follow a transaction's outcome, run from one place instead of inside use cases.

A use case queues what must happen once its transaction has committed (``on_commit``: a cache dropped
or refreshed, throttles lifted) or only if it rolls back (``on_rollback``: a Redis reservation handed
back). The session's events run them: the commit of the whole transaction runs the first and forgets the
second; its rollback runs the second and forgets the first. A savepoint released or rolled back inside
it (``insert_once``) is not its outcome and runs nothing. They run after the database is done, so they
never emit SQL; what they touch is Redis or this process.

Rows that must exist exactly when the fact exists are not side effects: webhook events
(``app.webhooks.service.emit``) and notices are written in the same transaction as their fact (an
outbox), so they commit or roll back with it. Scan facts (``app.units.scan_facts``) keep their own
hooks: they mark Redis before the commit and write after it, a protocol of their own.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.extensions import db

_COMMIT = "platform.on_commit"
_ROLLBACK = "platform.on_rollback"


def _queue(name: str, session: Session | None) -> dict:
    session = session if session is not None else db.session()
    return session.info.setdefault(name, {})


def on_commit(fn: Callable[[], object], *, key: Hashable | None = None, session: Session | None = None) -> None:
    """Run ``fn`` once this transaction has committed (dropped if it rolls back); queued twice under one
    ``key``, it runs once."""
    _queue(_COMMIT, session)[fn if key is None else key] = fn


def on_rollback(fn: Callable[[], object], *, key: Hashable, session: Session | None = None) -> None:
    """Run ``fn`` if this transaction rolls back (dropped once it commits); ``drop(key)`` takes it back."""
    _queue(_ROLLBACK, session)[key] = fn


def drop(key: Hashable, *, session: Session | None = None) -> None:
    """Take back what was queued under ``key`` (its effect happened otherwise, or is no longer wanted)."""
    for name in (_COMMIT, _ROLLBACK):
        _queue(name, session).pop(key, None)


def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction has not committed yet
    session.info.pop(_ROLLBACK, None)
    for fn in list(session.info.pop(_COMMIT, {}).values()):
        fn()


def _rolled_back(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is not None:
        return  # a savepoint rolled back: the transaction itself may still commit
    session.info.pop(_COMMIT, None)
    for fn in list(session.info.pop(_ROLLBACK, {}).values()):
        fn()


def install() -> None:
    """Hook every session's commit and rollback (once per process)."""
    if not sa.event.contains(Session, "after_commit", _committed):
        sa.event.listen(Session, "after_commit", _committed)
        sa.event.listen(Session, "after_soft_rollback", _rolled_back)
