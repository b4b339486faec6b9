"""Declarative base, column types and the one place a use case commits."""
from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from datetime import datetime, timezone
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, registry

from app import faults

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(sa.TypeDecorator):
    """Stores naive UTC (DATETIME(6) on MySQL), hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times are stored as UTC and must be aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


# JSON on every backend (MariaDB stores it as LONGTEXT with a JSON check).
JSONType = sa.JSON().with_variant(mysql.JSON(), "mysql", "mariadb")
# 64-bit integer primary keys that still autoincrement on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def enum_type(cls) -> sa.Enum:
    """A Python enum stored as its values in a short string column (portable, no native ENUM)."""
    return sa.Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def tune_connections(engine, *, sync_wait: int = 7) -> None:
    """Per-connection settings the bulk paths and a Galera cluster rely on, set once as each connection
    opens; ``sync_wait`` is the Galera causality check (DATABASE_SYNC_WAIT)."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        return

    @sa.event.listens_for(engine, "connect")
    def _settings(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            # A chunk of units read as one JSON_ARRAYAGG document is far above the 1 MB default,
            # past which MariaDB would cut the document short.
            cursor.execute("SET SESSION group_concat_max_len = 4294967295")
            # Strings built in SQL (CONCAT, CAST AS CHAR) take the connection's collation; the tables
            # take the database's. Made equal, an expression compares with a column whatever the
            # server's defaults (MySQL 8's utf8mb4_0900_ai_ci, a database created utf8mb4_unicode_ci).
            cursor.execute("SET SESSION collation_connection = @@collation_database")
            # On a Galera node, statements wait until the node has applied what other nodes committed before
            # them: a request routed to another node than the one its previous request wrote on sees that
            # write, and its foreign keys find their rows (docs/galera.md). MySQL and a MariaDB without Galera have no wsrep_on: nothing to set.
            cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
            row = cursor.fetchone()
            if row and str(row[1]).upper() == "ON":
                cursor.execute("SET SESSION wsrep_sync_wait = %s", (sync_wait,))


@contextlib.contextmanager
def transaction(*, only_if_begun: bool = False):
    """Run a use case in one transaction: commit on success, roll back on any error.

    ``only_if_begun``: a use case that may touch nothing (the consumer scan's hot path) commits only if it
    began a transaction, saving the commit's hooks and round trip. Not for use cases that only note work
    for the commit's hooks (rollups.add, after_commit.on_commit): with no statement run they'd be dropped.
    """
    from app.extensions import db  # built from this module's Base: read when called, not imported

    try:
        yield db.session
        if only_if_begun and not db.session.registry.has():
            return  # no session was even made: nothing began
        session = db.session()
        if not only_if_begun or session.in_transaction() or session.new or session.dirty or session.deleted:
            session.commit()
    except BaseException:
        db.session.rollback()
        raise


def certify_lock(row) -> None:
    """Make the row's lock hold across a Galera cluster: write it (its updated_at).

    SELECT ... FOR UPDATE locks on one node only; Galera certifies writes. A use case that locks a parent
    row only to decide whether to add a child (open the order's one shipment) writes the parent too, so a
    twin on another node conflicts with it at COMMIT and runs again (app.db.retrying), and then finds the
    child. On a single server it costs one UPDATE of a row already locked.
    """
    from app.extensions import db  # built from this module's Base: read when called, not imported

    table = type(row).__table__
    key = [table.c[column.name] == getattr(row, column.key) for column in table.primary_key.columns]
    db.session.execute(sa.update(table).where(*key).values(updated_at=utcnow())
                       .execution_options(synchronize_session=False))


def mysql_like() -> bool:
    """Whether the session's database is MySQL or MariaDB (else SQLite)."""
    from app.extensions import db  # built from this module's Base: read when called, not imported

    return db.session.get_bind().dialect.name in ("mysql", "mariadb")


def upsert(table: sa.Table, keys: list[str], changes: Callable) -> sa.Insert:
    """An INSERT that, on a duplicate of the unique `keys`, sets changes(table, the proposed row) instead
    ({column: expression}; the proposed row's columns are the values given at execution).

    On MySQL the duplicate row is locked exclusively by the statement itself; an INSERT IGNORE
    followed by an UPDATE would take a shared lock first and deadlock with its twin.
    """
    if mysql_like():
        statement = mysql.insert(table)
        return statement.on_duplicate_key_update(changes(table, statement.inserted))
    statement = sqlite.insert(table)
    return statement.on_conflict_do_update(index_elements=keys, set_=changes(table, statement.excluded))


def greatest(a, b):
    """The larger of two SQL values (GREATEST on MySQL, two-argument max() on SQLite)."""
    return sa.func.greatest(a, b) if mysql_like() else sa.func.max(a, b)


def insert_ignore(table: sa.Table) -> sa.Insert:
    """An INSERT whose rows a unique key refuses are skipped, not an error (INSERT IGNORE / OR IGNORE)."""
    return (sa.insert(table).prefix_with("IGNORE", dialect="mysql").prefix_with("IGNORE", dialect="mariadb")
            .prefix_with("OR IGNORE", dialect="sqlite"))


def insert_once(row) -> bool:
    """Insert a row a unique key may refuse (a concurrent twin): True when inserted.

    On MySQL/MariaDB inside a savepoint, so the refusal leaves the transaction usable. SQLite
    serialises writers (no twin can slip in) and pysqlite would commit a bare savepoint's release.
    """
    from app.extensions import db  # built from this module's Base: read when called, not imported

    if not mysql_like():
        db.session.add(row)
        db.session.flush()
        return True
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return False
    return True


T = TypeVar("T")
log = logging.getLogger(__name__)
_commits = threading.local()  # commits begun and done by this thread: decides whether a use case may run again


@sa.event.listens_for(Session, "before_commit")
def _count_commit(session) -> None:
    if not session.in_nested_transaction():  # a savepoint released commits nothing
        _commits.begun = getattr(_commits, "begun", 0) + 1


@sa.event.listens_for(Session, "after_commit")
def _count_commit_done(session) -> None:
    if not session.in_nested_transaction():
        _commits.done = getattr(_commits, "done", 0) + 1


def _commits_so_far() -> tuple[int, int]:
    return getattr(_commits, "begun", 0), getattr(_commits, "done", 0)


def retrying(fn: Callable[[], T], *, attempts: int = 4) -> T:
    """Run a use case (its own transaction) again when the database rolled it back (app.faults): a
    deadlock victim, a lock wait timed out, a duplicate key lost to a twin, a connection lost before the
    commit, an auto-increment value unreadable after a restart, a Galera node's commit that lost its
    certification to another node's.

    Only while nothing was committed. A commit that answered a rollback (Galera reports a conflict with
    another node's commit as a deadlock, 1213, at COMMIT) did not happen: the use case runs again. One whose
    connection was lost has an unknown outcome, and running it again could do it twice: the error is
    raised instead, as it is once any commit of the attempt went through.
    """
    from app.extensions import db  # built from this module's Base: read when called, not imported

    for attempt in range(1, attempts + 1):
        begun, done = _commits_so_far()
        try:
            return fn()
        except DBAPIError as error:
            now_begun, now_done = _commits_so_far()
            commit_in_doubt = now_begun != begun and not faults.rolled_back(error)
            if (attempt == attempts or not faults.may_run_again(error) or now_done != done
                    or commit_in_doubt):
                raise
            db.session.rollback()
            log.info("use case run again after database error %s (attempt %d)",
                     faults.mysql_error_number(error), attempt)
            time.sleep(random.uniform(0.01, 0.03) * attempt)  # apart, so two victims don't meet again
    raise AssertionError("unreachable")


def retried_transaction(use_case: Callable[[], T]) -> T:
    """Run a use case in a transaction of its own, again when the database rolled it back."""
    def run() -> T:
        with transaction():
            return use_case()
    return retrying(run)
