"""Reading an export's rows from the database in chunks, so memory stays flat in the row count."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice

import sqlalchemy as sa

from app.extensions import db

CHUNK_ROWS = 2000
# MariaDB drops a connection whose result it could not send for net_write_timeout (60 s by default),
# and a streamed result waits on the export's writing: the reading connection gets a day instead.
STREAM_WRITE_TIMEOUT_SECONDS = 24 * 3600


def select_chunks(statement: sa.Select, *, entities: bool, present: Callable[[list], list] | None = None,
                  chunk_rows: int | None = None) -> Iterator[list]:
    """The items of a select (ORM entities, or rows of labelled columns) in its order, chunk_rows at a time.

    The select is read through a connection of its own with a server-side cursor (on MySQL/MariaDB; the
    embedded SQLite reads it whole first: its keys, for a select of entities). Entities are read
    as their primary keys there and loaded a chunk at a time in the session, by the same select (its
    eager loads included): their lazy loads (a dealer's territory) then never run on the connection
    whose cursor is still open, which MySQL's protocol forbids.
    """
    present = present or (lambda items: items)
    chunk_rows = chunk_rows or CHUNK_ROWS
    if entities:
        entity = statement.column_descriptions[0]["entity"]
        mapper = sa.inspect(entity)
        keys = mapper.primary_key
        reading = statement.with_only_columns(*keys)
    else:
        reading = statement
    for part in _read_in_parts(reading, chunk_rows):
        if not entities:
            yield present(list(part))
            continue
        wanted = [tuple(row) for row in part]
        match = keys[0].in_([w[0] for w in wanted]) if len(keys) == 1 else sa.tuple_(*keys).in_(wanted)
        loaded = db.session.scalars(statement.where(match).order_by(None)).unique().all()
        by_key = {tuple(mapper.primary_key_from_instance(item)): item for item in loaded}
        yield present([by_key[key] for key in wanted if key in by_key])
        # Let go of this chunk's entities and of the read's snapshot before the next one.
        db.session.rollback()


def _read_in_parts(statement: sa.Select, chunk_rows: int) -> Iterator[list]:
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # SQLite locks the whole file: an open read on a second connection would block the
            # progress written meanwhile. The embedded default reads first, then works in parts.
            everything = connection.execute(statement).all()
        else:
            connection.exec_driver_sql(f"SET SESSION net_write_timeout = {int(STREAM_WRITE_TIMEOUT_SECONDS)}")
            result = connection.execution_options(stream_results=True, max_row_buffer=chunk_rows).execute(statement)
            try:
                yield from result.partitions(chunk_rows)
            finally:
                # Also when the export stops halfway: closing reads (and drops) the rest of the stream, the
                # only end MySQL's protocol has for a streamed result.
                result.close()
                connection.exec_driver_sql("SET SESSION net_write_timeout = DEFAULT")  # back to the pool as it came
            return
    for start in range(0, len(everything), chunk_rows):
        yield everything[start:start + chunk_rows]


def iterable_chunks(rows: Iterable, *, chunk_rows: int | None = None) -> Iterator[list]:
    """Any iterable of rows, chunk_rows at a time."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    iterator = iter(rows)
    while chunk := list(islice(iterator, chunk_rows)):
        yield chunk
