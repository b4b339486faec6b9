"""Line uploads of any size (NDJSON): records read one line at a time, applied in chunks of 10,000.

Each chunk is a use case of its own, in its own transaction, run again when the database rolled it
back (app.db.retried_transaction): the answer goes out as the chunks commit, so the upload as a whole
can't be run again the way app.http.retry_writes runs a view; the chunks before a failure stay applied.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from app.db import retried_transaction
from app.identity.service import Actor
from app.units import line_engine, line_records, line_sessions, rules
from app.units.models import LineSession, SessionStatus

STREAM_CHUNK = 10_000
_record_decoder = msgspec.json.Decoder(line_records.Record)


def open_session(session_id: int) -> LineSession:
    """The session an upload goes to; a stopped one is refused before anything is read or answered."""
    session = line_sessions.get_session(session_id)
    if session.status is not SessionStatus.OPEN:
        raise rules.LineSessionStopped()
    return session


class StreamedUpload:
    """One NDJSON upload to a session: ``results`` applies it, ``totals`` counts what it did so far."""

    def __init__(self, *, actor: Actor, session_id: int) -> None:
        self.actor = actor
        self.session_id = session_id
        self.totals = {"records": 0, "accepted": 0, "duplicate": 0, "rejected": 0, "invalid": 0,
                       "chunks_committed": 0}

    def results(self, body: Iterable[bytes]) -> Iterator[line_records.Result]:
        """Each record's result, in upload order, once its chunk has committed; a line that is not a record
        is rejected on its own (invalid_record) at once."""
        chunk, indexes = [], []
        for index, line in enumerate(_lines(body)):
            self.totals["records"] += 1
            try:
                chunk.append(_record_decoder.decode(line))
            except msgspec.DecodeError as error:
                self.totals["invalid"] += 1
                self.totals["rejected"] += 1
                yield line_records.Result(index, "", "rejected", rules.INVALID_RECORD, str(error))
                continue
            indexes.append(index)
            if len(chunk) == STREAM_CHUNK:
                yield from self._apply(chunk, indexes)
                chunk, indexes = [], []
        if chunk:
            yield from self._apply(chunk, indexes)

    def _apply(self, chunk: list, indexes: list[int]) -> Iterator[line_records.Result]:
        results = retried_transaction(lambda: line_engine.apply_records(actor=self.actor, session_id=self.session_id,
                                                                  records=chunk))
        self.totals["chunks_committed"] += 1
        for index, result in zip(indexes, results):
            result.index = index
            self.totals[result.status] += 1
            yield result


def _lines(body: Iterable[bytes]) -> Iterator[bytes]:
    for line in body:
        line = line.strip()
        if line:
            yield line
