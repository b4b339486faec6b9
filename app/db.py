"""Declarative base, column types and the one place a use case commits."""
from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timezone
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

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


def tune_connections(engine) -> None:
    """Per-connection settings the bulk paths rely on, set once as each connection opens."""
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


@contextlib.contextmanager
def transaction():
    """Run a use case in one transaction: commit on success, roll back on any error."""
    from app.extensions import db

    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def mysql_like() -> bool:
    """Whether the session's database is MySQL or MariaDB (else SQLite)."""
    from app.extensions import db

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


def insert_once(row) -> bool:
    """Insert a row a unique key may refuse (a concurrent twin): True when inserted.

    On MySQL/MariaDB inside a savepoint, so the refusal leaves the transaction usable. SQLite
    serialises writers (no twin can slip in) and pysqlite would commit a bare savepoint's release.
    """
    from app.extensions import db

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


# MySQL errors a use case may simply run again: a deadlock victim, a lock wait timed out, and a
# duplicate key lost to a concurrent twin (the retry then finds the twin and answers as a repeat).
RETRYABLE_ERRORS = frozenset({1213, 1205, 1062})
T = TypeVar("T")
log = logging.getLogger(__name__)


def _retryable_number(error: BaseException) -> int | None:
    """The MySQL error worth a retry behind this one, if any. A deadlock inside a savepoint rolls the
    whole transaction back, and the ROLLBACK TO SAVEPOINT that follows fails (1305) in its place."""
    seen = 0
    while error is not None and seen < 5:
        orig = getattr(error, "orig", error)
        number = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
        if number in RETRYABLE_ERRORS:
            return number
        error, seen = error.__context__ or error.__cause__, seen + 1
    return None


def retrying(fn: Callable[[], T], *, attempts: int = 3) -> T:
    """Run a use case (its own transaction) again when the database picked it as a deadlock victim."""
    from app.extensions import db

    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (OperationalError, IntegrityError) as error:
            number = _retryable_number(error)
            if number is None or attempt == attempts:
                raise
            db.session.rollback()
            log.info("use case retried after database error %s (attempt %d)", number, attempt)
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def retried_transaction(use_case: Callable[[], T]) -> T:
    """Run a use case in a transaction of its own, again when the database picked it as a deadlock victim."""
    def run() -> T:
        with transaction():
            return use_case()
    return retrying(run)

