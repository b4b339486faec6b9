"""Which failures are the database's or Redis's passing trouble, not the request's or the code's.

Three kinds, each with its answer:

- an outage (the server is down, unreachable, restarting or out of connections): a request answers
  503 `service_unavailable` with Retry-After (app.errors); a worker backs off and carries on
  (app.platform.workers); the scan-log writer keeps its batch in the stream (app.consumers.scan_log);
- a use case the database stopped half-way and rolled back (a deadlock victim, a lock wait timed out,
  a connection lost before the commit, an auto-increment value it could not read after a restart):
  it may simply run again (app.db.retrying; every write endpoint through app.http.retry_writes);
- anything else: a bug or a refusal of the data itself, which no retry changes.
"""
from __future__ import annotations

import sqlite3

import redis.exceptions as redis_errors
from sqlalchemy import exc as sa_errors

# MySQL/MariaDB client and server errors that mean the server can't be used right now.
UNREACHABLE = frozenset({
    1040,  # too many connections
    1047,  # a Galera node not (yet) part of the primary component: "WSREP has not yet prepared node"
    1053,  # server shutdown in progress
    1158, 1159, 1160, 1161,  # network read/write error or timeout
    1927,  # connection killed (MariaDB)
    2002, 2003,  # can't connect (socket, TCP)
    2005,  # unknown server host
    2006,  # server has gone away
    2013,  # lost connection during query
    2055,  # lost connection at handshake
})
# A connection lost with the transaction not yet committed: InnoDB rolled it back.
LOST = frozenset({2006, 2013, 1927, 1158, 1159, 1160, 1161})
# The server rolled the statement's transaction back (1213; 1205 with innodb_rollback_on_timeout, and
# else the use case's own rollback follows), a concurrent twin took the unique key first (the retry finds
# it and answers as a repeat), or InnoDB could not read an auto-increment value right after a restart.
ROLLED_BACK = frozenset({1213, 1205, 1062, 1467})
BUSY = frozenset({1213, 1205, 1467})  # still so after the retries: the database is overloaded, not the request wrong

# SQLite's ways of saying the same (the embedded default): the file is locked or can't be opened.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")

_REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError)


def mysql_error_number(error: BaseException | None) -> int | None:
    """The MySQL/MariaDB error number behind an error, looking through what it was raised from.

    A deadlock inside a savepoint rolls the whole transaction back, and the ROLLBACK TO SAVEPOINT that
    follows fails (1305) in its place: the number worth acting on is the first one found in ROLLED_BACK
    or UNREACHABLE, else the outermost.
    """
    first, seen = None, 0
    while error is not None and seen < 5:
        orig = getattr(error, "orig", error)
        args = getattr(orig, "args", None)
        number = args[0] if args and isinstance(args[0], int) else None
        if number in ROLLED_BACK or number in UNREACHABLE:
            return number
        if first is None:
            first = number
        error, seen = error.__context__ or error.__cause__, seen + 1
    return first


def _database_unreachable(error: BaseException) -> bool:
    if isinstance(error, (sa_errors.DisconnectionError, sa_errors.TimeoutError)):
        return True  # the pool's own: a connection found dead at checkout, or no connection free in time
    if not isinstance(error, sa_errors.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.OperationalError):
        return any(text in str(error.orig).lower() for text in _SQLITE_UNAVAILABLE)
    if isinstance(error, (sa_errors.OperationalError, sa_errors.InterfaceError)):
        return mysql_error_number(error) in UNREACHABLE or (
            # pymysql's "(0, '')": a statement on a connection the server already closed
            isinstance(error, sa_errors.InterfaceError) and not isinstance(error.orig, sqlite3.Error)
            and mysql_error_number(error) in (0, None))
    return False


def is_outage(error: BaseException) -> bool:
    """The database or Redis is down, unreachable or out of connections (not this request's fault)."""
    return isinstance(error, _REDIS_DOWN) or _database_unreachable(error)


def is_busy(error: BaseException) -> bool:
    """The database gave up on this use case for others' sake (deadlock, lock wait, restart)."""
    return isinstance(error, sa_errors.DBAPIError) and mysql_error_number(error) in BUSY


def rolled_back(error: BaseException) -> bool:
    """The server answered that it rolled the transaction back: nothing of it was committed, even when the
    answer came to a COMMIT (a Galera certification failure)."""
    return isinstance(error, sa_errors.DBAPIError) and mysql_error_number(error) in ROLLED_BACK and not (
        error.connection_invalidated)


def may_run_again(error: BaseException) -> bool:
    """The use case was rolled back by the database, not refused: running it again may succeed."""
    if not isinstance(error, sa_errors.DBAPIError):
        return False
    number = mysql_error_number(error)
    return number in ROLLED_BACK or number in LOST or error.connection_invalidated
