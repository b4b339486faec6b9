"""Line sessions: a line working a lot, opened and stopped by the line's client, and their reports.

A session is what a line upload goes through (``app.units.line_engine.apply_records`` locks it); its
counts are kept by the engine, its rejected records by ``rejected_records``.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor
from app.masterdata.models import ProductionLine, Status
from app.platform.filters import Filters
from app.production.models import LotStatus, ProductionLot
from app.units import rules, unit_rows
from app.units.models import LineSession, RejectedRecord, SessionStatus

ACCEPTED = "accepted"

def start_session(*, actor: Actor, line_id: int, lot_id: int, operator: str = "") -> LineSession:
    """Open a session of an active line on an open lot (of that line, when the lot names one)."""
    line = db.session.get(ProductionLine, line_id)
    if line is None:
        raise rules.LineUnknown(errors={"line_id": ["unknown"]})
    if line.status is not Status.ACTIVE:
        raise rules.LineInactive(f"The production line {line.code} is deactivated.")
    lot = db.session.get(ProductionLot, lot_id)
    if lot is None:
        raise rules.LotUnknown(errors={"lot_id": ["unknown"]})
    if lot.status is not LotStatus.OPEN:
        raise rules.LotClosed(f"The production lot {lot.lot_no} is closed; reopen it first.")
    if lot.line_id is not None and lot.line_id != line.id:
        raise rules.LotOnAnotherLine(f"The production lot {lot.lot_no} is made on another line.")
    session = LineSession(line_id=line.id, lot_id=lot.id, source=unit_rows.source_of(actor), operator=operator,
                          status=SessionStatus.OPEN, started_at=utcnow())
    db.session.add(session)
    db.session.flush()
    return session


def get_session(session_id: int) -> LineSession:
    session = db.session.get(LineSession, session_id)
    if session is None:
        raise rules.LineSessionNotFound()
    return session


def stop_session(*, actor: Actor, session_id: int) -> LineSession:
    """Stop a session: it takes no more uploads (stopping twice changes nothing)."""
    session = db.session.scalar(sa.select(LineSession).where(LineSession.id == session_id).with_for_update())
    if session is None:
        raise rules.LineSessionNotFound()
    if session.status is SessionStatus.OPEN:
        session.status, session.stopped_at = SessionStatus.STOPPED, utcnow()
    return session


_SESSION_FILTERS = Filters(
    falsy_is_any=True,
    line_id=lambda value: LineSession.line_id == value,
    lot_id=lambda value: LineSession.lot_id == value,
    status=lambda value: LineSession.status == SessionStatus(value),
    product_id=lambda value: LineSession.lot_id.in_(
        sa.select(ProductionLot.id).where(ProductionLot.product_id == value)),
)
_STARTED = Filters(  # times: None is "any" (an id of 0 or a blank status is "any" above)
    since=lambda value: LineSession.started_at >= value, until=lambda value: LineSession.started_at < value)


def list_sessions(*, line_id: int | None = None, lot_id: int | None = None, status: str | None = None,
                  product_id: int | None = None, since: datetime | None = None, until: datetime | None = None):
    """Sessions, newest first (a select, for paging); ``since``/``until``: started at or after / before."""
    query = _SESSION_FILTERS.apply(sa.select(LineSession).order_by(LineSession.id.desc()), line_id=line_id,
                                   lot_id=lot_id, status=status, product_id=product_id)
    return _STARTED.apply(query, since=since, until=until)


def pass_rate(*, total: int, accepted: int, duplicate: int) -> float | None:
    """accepted / (total - duplicate), 4 places; None before the first record that is not a duplicate.

    A duplicate read (a code the line already recorded, scanned again) is harmless: it is neither a
    pass nor a failure, so it is left out of both sides.
    """
    scanned = total - duplicate
    return round(accepted / scanned, 4) if scanned > 0 else None


def session_report(session: LineSession) -> dict:
    """A session's counts (each record id once, under its latest outcome), reasons and pass rate."""
    by_reason = dict(db.session.execute(
        sa.select(RejectedRecord.reason, sa.func.count())
        .where(RejectedRecord.session_id == session.id, RejectedRecord.reason != rules.DUPLICATE)
        .group_by(RejectedRecord.reason)).all())
    return {
        "id": session.id, "line_id": session.line_id, "lot_id": session.lot_id, "operator": session.operator,
        "status": session.status.value, "started_at": session.started_at, "stopped_at": session.stopped_at,
        "total": session.total, "accepted": session.accepted, "duplicate": session.duplicate,
        "rejected": session.rejected, "rejected_by_reason": dict(sorted(by_reason.items())),
        "pass_rate": pass_rate(total=session.total, accepted=session.accepted, duplicate=session.duplicate),
    }


def rejected_records(*, session_id: int, reason: str | None = None):
    """A session's rejected records, latest first (a select, for paging); duplicates only when asked for."""
    get_session(session_id)
    query = sa.select(RejectedRecord).where(RejectedRecord.session_id == session_id)
    query = query.where(RejectedRecord.reason == reason if reason else RejectedRecord.reason != rules.DUPLICATE)
    return query.order_by(RejectedRecord.id.desc())


# --- the records' outcomes: the session's counts and its rejected records ------------------------

def prior_outcomes(source: str, record_ids: set[str]) -> dict[str, tuple[int | None, str]]:
    """The earlier outcome (session, reason) of a client's records kept as rejected or duplicate."""
    found = {}
    for chunk in unit_rows.key_chunks(record_ids):
        for row in db.session.execute(
                sa.select(RejectedRecord.record_id, RejectedRecord.session_id, RejectedRecord.reason)
                .where(RejectedRecord.source == source, unit_rows.one_of(RejectedRecord.record_id, chunk))):
            found[row.record_id] = (row.session_id, row.reason)
    return found


def keep_outcomes(*, session_id: int, source: str, outcomes: list[tuple], prior: dict, now: datetime) -> None:
    """Count an upload's outcomes ((record id, status, reason, record), each record id once) into its
    session, taking a record's earlier rejection or duplicate (``prior``) out of its session's counts, and
    keep the records not accepted for their reason (an accepted one drops its earlier rejection)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    kept, dropped = [], []
    for record_id, status, reason, record in outcomes:
        mine = counts[session_id]
        earlier = prior.get(record_id)
        if earlier is not None:
            earlier_session, earlier_reason = earlier
            if earlier_session is not None:
                theirs = counts[earlier_session]
                theirs["total"] -= 1
                theirs["duplicate" if earlier_reason == rules.DUPLICATE else "rejected"] -= 1
        mine["total"] += 1
        mine[status] += 1
        if status == ACCEPTED:
            if earlier is not None:
                dropped.append(record_id)
            continue
        kept.append({"session_id": session_id, "source": source, "record_id": record_id,
                     "kind": type(record).__name__.lower(), "code": (record.code or "")[:64] or None,
                     "reason": reason or rules.DUPLICATE, "scanned_at": record.scanned_at, "recorded_at": now})
    for chunk in _chunks(sorted(dropped)):
        db.session.execute(sa.delete(RejectedRecord).where(
            RejectedRecord.source == source, RejectedRecord.record_id.in_(chunk)))
    _upsert_rejected(kept)
    for counted in sorted(counts):
        values = {name: getattr(LineSession, name) + delta for name, delta in counts[counted].items() if delta}
        if values:
            db.session.execute(sa.update(LineSession).where(LineSession.id == counted).values(**values)
                               .execution_options(synchronize_session=False))
    for session in db.session.identity_map.values():
        if isinstance(session, LineSession) and session.id in counts:
            db.session.expire(session)


def _upsert_rejected(rows: list[dict]) -> None:
    """Keep rejected records by (source, record id), the latest reason winning."""
    if not rows:
        return
    fields = ("session_id", "kind", "code", "reason", "scanned_at", "recorded_at")
    dialect = db.session.get_bind().dialect.name
    for chunk in _chunks(rows):
        if dialect in ("mysql", "mariadb"):
            statement = mysql.insert(RejectedRecord)
            statement = statement.on_duplicate_key_update({f: statement.inserted[f] for f in fields})
        else:
            statement = sqlite.insert(RejectedRecord)
            statement = statement.on_conflict_do_update(
                index_elements=[RejectedRecord.source, RejectedRecord.record_id],
                set_={f: statement.excluded[f] for f in fields})
        db.session.execute(statement, chunk)


def _chunks(values: list, size: int = unit_rows.CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]
