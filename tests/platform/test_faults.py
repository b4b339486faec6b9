"""app.faults: an outage or a rolled-back use case told from a bug, by the drivers' own exceptions."""
from __future__ import annotations

import sqlite3

import pymysql
import pytest
import redis.exceptions
import sqlalchemy as sa

from app import faults


def mysql(kind, number: int, message: str = "message"):
    return getattr(sa.exc, kind.__name__)("SELECT 1", {}, kind(number, message))


@pytest.mark.parametrize("error", [
    mysql(pymysql.err.OperationalError, 2003, "Can't connect to MySQL server on '127.0.0.1'"),
    mysql(pymysql.err.OperationalError, 2006, "MySQL server has gone away"),
    mysql(pymysql.err.OperationalError, 2013, "Lost connection to MySQL server during query"),
    mysql(pymysql.err.OperationalError, 1040, "Too many connections"),
    mysql(pymysql.err.InterfaceError, 0, ""),
    sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
    sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    redis.exceptions.ConnectionError("Error 111 connecting to localhost:6379. Connection refused."),
    redis.exceptions.TimeoutError("Timeout reading from socket"),
], ids=lambda e: type(e).__name__ + ":" + str(e)[:30])
def test_outages(error):
    assert faults.is_outage(error)


@pytest.mark.parametrize("error", [
    mysql(pymysql.err.ProgrammingError, 1146, "Table 'x' doesn't exist"),
    mysql(pymysql.err.IntegrityError, 1452, "a foreign key constraint fails"),
    mysql(pymysql.err.OperationalError, 1054, "Unknown column"),
    sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: x")),
    sa.exc.InterfaceError("SELECT 1", {}, sqlite3.InterfaceError("Error binding parameter 0")),
    redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    KeyError("a bug"),
], ids=lambda e: type(e).__name__ + ":" + str(e)[:30])
def test_bugs_and_refusals_are_not_outages(error):
    assert not faults.is_outage(error) and not faults.may_run_again(error)


@pytest.mark.parametrize("number", [1213, 1205, 1467, 1062, 2006, 2013])
def test_what_the_database_rolled_back_may_run_again(number):
    kind = pymysql.err.IntegrityError if number == 1062 else pymysql.err.OperationalError
    assert faults.may_run_again(mysql(kind, number))
