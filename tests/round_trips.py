"""Round trips for tests: the SQL statements and Redis commands a block of code sends."""
from __future__ import annotations

import contextlib

import redis.connection
import sqlalchemy as sa

from app.extensions import db


@contextlib.contextmanager
def counting():
    """The SQL statements run (and the Redis commands sent) inside the block."""
    statements: list[str] = []
    commands: list[bytes] = []

    def on_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", on_statement)
    send = redis.connection.Connection.send_packed_command

    def counting_send(self, command, check_health=True):
        commands.append(command)
        return send(self, command, check_health)

    redis.connection.Connection.send_packed_command = counting_send
    try:
        yield statements, commands
    finally:
        redis.connection.Connection.send_packed_command = send
        sa.event.remove(engine, "before_cursor_execute", on_statement)
