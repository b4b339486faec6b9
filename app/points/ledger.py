"""Consumers' points: an append-only ledger, idempotent by source.

The balance row moves by atomic SQL only (insert-or-increment on earning, a guarded decrement on
spending) and a CHECK keeps it from going negative. ``remaining`` on each earning (and each
positive adjustment) says what is left of it, so that, after every use case,
balance = sum(points) of the ledger = sum(remaining) of the earnings.

Lock order, the same in every use case: the consumer's balance row first (earning makes it if
missing), then the consumer's earnings in id order, then new entries.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import AppUser
from app.db import insert_once, retried_transaction, upsert, utcnow
from app.extensions import db
from app.identity.service import Actor, audit
from app.points.errors import AdjustmentInvalid, InsufficientPoints, SourceReused
from app.points.models import PointsBalance, PointsEntry, PointsKind
from app.reports import facts, rollups

EXPIRING_SOON = timedelta(days=30)


def expiry_from(now: datetime) -> datetime:
    return now + timedelta(days=current_app.config["POINTS_EXPIRE_DAYS"])


# --- reading -------------------------------------------------------------------------------------

def balance_of(app_user_id: int) -> int:
    """The consumer's points balance (0 before the first earning)."""
    return db.session.scalar(sa.select(PointsBalance.balance)
                             .where(PointsBalance.app_user_id == app_user_id)) or 0


def expiring(app_user_id: int, *, now: datetime | None = None, within: timedelta = EXPIRING_SOON) -> dict:
    """What of the balance expires within ``within``: {points, first_at} (first_at: the earliest expiry)."""
    now = now or utcnow()
    points, first = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(PointsEntry.remaining), 0), sa.func.min(PointsEntry.expires_at))
        .where(PointsEntry.app_user_id == app_user_id, PointsEntry.remaining > 0,
               PointsEntry.expires_at.is_not(None), PointsEntry.expires_at <= now + within)).one()
    return {"points": int(points), "first_at": first}


def list_ledger(*, app_user_id: int, kind: str | None = None):
    query = sa.select(PointsEntry).where(PointsEntry.app_user_id == app_user_id)
    if kind:
        query = query.where(PointsEntry.kind == PointsKind(kind))
    return query.order_by(PointsEntry.id.desc())


# --- the ledger ----------------------------------------------------------------------------------

def _existing(source: str, *, lock: bool = False) -> PointsEntry | None:
    query = sa.select(PointsEntry).where(PointsEntry.source == source).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def _same(entry: PointsEntry, app_user_id: int, kind: PointsKind, points: int) -> PointsEntry:
    """A repeated source answers its entry; the same source for anything else is a conflict."""
    if entry.app_user_id != app_user_id or entry.kind is not kind or entry.points != points:
        raise SourceReused()
    return entry


def _insert_entry(*, app_user_id: int, kind: PointsKind, points: int, source: str, note: str,
                  remaining: int = 0, expires_at: datetime | None = None) -> tuple[PointsEntry, bool]:
    """Insert the entry of this source (balance_after filled in later): (entry, True), or (the
    entry a concurrent twin committed, False)."""
    entry = PointsEntry(app_user_id=app_user_id, kind=kind, points=points, source=source, note=(note or "")[:200],
                        remaining=remaining, expires_at=expires_at, balance_after=0)
    if not insert_once(entry):
        return _same(_existing(source, lock=True), app_user_id, kind, points), False
    rollups.add_all(facts.points_entry(entry))
    return entry, True


def _increment(app_user_id: int, points: int) -> int:
    """Add to the balance (insert-or-increment), answering the new balance (the row is ours now)."""
    db.session.execute(upsert(PointsBalance.__table__, ["app_user_id"],
                              lambda table, _: {"balance": table.c.balance + points}),
                       {"app_user_id": app_user_id, "balance": points})
    return _read_balance(app_user_id)


def _decrement(app_user_id: int, points: int) -> int:
    """Take from the balance, never below zero (a guarded UPDATE): the new balance, or 409."""
    result = db.session.execute(sa.update(PointsBalance).where(
        PointsBalance.app_user_id == app_user_id, PointsBalance.balance >= points)
        .values(balance=PointsBalance.balance - points))
    if result.rowcount != 1:
        raise InsufficientPoints()
    return _read_balance(app_user_id)


def _read_balance(app_user_id: int) -> int:
    # A locking read sees the latest committed row (we hold its lock already after a change).
    return db.session.scalar(sa.select(PointsBalance.balance).where(PointsBalance.app_user_id == app_user_id)
                             .with_for_update()) or 0


def _lock_balance(app_user_id: int) -> int | None:
    """Lock the consumer's balance row: its balance, or None when there is none yet (no lock taken:
    a locking read of a missing key would gap-lock)."""
    if db.session.scalar(sa.select(PointsBalance.app_user_id).where(PointsBalance.app_user_id == app_user_id)) is None:
        return None
    return _read_balance(app_user_id)


def earn(*, app_user_id: int, points: int, source: str, note: str = "", now: datetime | None = None) -> PointsEntry:
    """Give a consumer points, once per source; they expire POINTS_EXPIRE_DAYS after ``now``.

    The same source again answers the entry made before; the same source for another user or
    amount is 409 ``points_source_reused``. Runs inside the caller's transaction.
    """
    return _earn(app_user_id, PointsKind.EARN, points, source, note, now)


def _earn(app_user_id: int, kind: PointsKind, points: int, source: str, note: str,
          now: datetime | None) -> PointsEntry:
    if points <= 0:
        raise ValueError("an earning is positive")
    existing = _existing(source)  # a plain read first (a locking read of a missing key gap-locks)
    if existing is not None:
        return _same(existing, app_user_id, kind, points)
    now = now or utcnow()
    # The balance row first (made if missing), like every use case: a spend holding it scans the
    # consumer's entries, and an entry inserted before taking it would deadlock with that spend.
    _increment(app_user_id, 0)
    entry, new = _insert_entry(app_user_id=app_user_id, kind=kind, points=points, source=source, note=note,
                               remaining=points, expires_at=expiry_from(now))
    if new:
        entry.balance_after = _increment(app_user_id, points)
        db.session.flush()
    return entry


def _take(app_user_id: int, kind: PointsKind, points: int, source: str, note: str,
          now: datetime | None) -> PointsEntry:
    """Take points, once per source: from the earliest-expiring earnings' ``remaining`` first."""
    if points <= 0:
        raise ValueError("points taken are positive")
    existing = _existing(source)
    if existing is not None:
        return _same(existing, app_user_id, kind, -points)
    now = now or utcnow()
    balance = _lock_balance(app_user_id)
    if balance is None or balance < points:
        raise InsufficientPoints(errors={"balance": balance or 0, "points": points})
    earnings = _lock_earnings(app_user_id)
    overdue = [e for e in earnings if e.expires_at is not None and e.expires_at <= now]
    for earning in overdue:  # expired but not yet swept: not spendable
        _expire_earning(earning)
    live = sorted((e for e in earnings if e not in overdue), key=_expiry_order)
    if sum(e.remaining for e in live) < points:
        raise InsufficientPoints(errors={"balance": balance, "points": points})
    entry, new = _insert_entry(app_user_id=app_user_id, kind=kind, points=-points, source=source, note=note)
    if not new:
        return entry
    entry.balance_after = _decrement(app_user_id, points)
    left = points
    for earning in live:
        if left == 0:
            break
        used = min(earning.remaining, left)
        earning.remaining -= used
        left -= used
    db.session.flush()
    return entry


def _expiry_order(entry: PointsEntry):
    return (entry.expires_at is None, entry.expires_at or datetime.max, entry.id)


def _lock_earnings(app_user_id: int) -> list[PointsEntry]:
    """The consumer's earnings with something left, locked in id order."""
    return list(db.session.scalars(
        sa.select(PointsEntry).where(PointsEntry.app_user_id == app_user_id, PointsEntry.remaining > 0)
        .order_by(PointsEntry.id).with_for_update().execution_options(populate_existing=True)))


def _expire_earning(earning: PointsEntry) -> PointsEntry | None:
    """What is left of a (locked) earning expires: one EXPIRE entry, remaining → 0, balance down."""
    left = earning.remaining
    if left <= 0:
        return None
    entry, new = _insert_entry(app_user_id=earning.app_user_id, kind=PointsKind.EXPIRE, points=-left,
                               source=f"expire:{earning.id}", note="Expired")
    earning.remaining = 0
    if new:
        entry.balance_after = _decrement(earning.app_user_id, left)
    db.session.flush()
    return entry


def spend(*, app_user_id: int, points: int, source: str, note: str = "", now: datetime | None = None) -> PointsEntry:
    """Spend points, once per source; 409 ``points_insufficient`` beyond the (unexpired) balance."""
    return _take(app_user_id, PointsKind.SPEND, points, source, note, now)


def expire_user(*, app_user_id: int, now: datetime | None = None) -> int:
    """Expire the consumer's earnings past their expiry (inside the caller's transaction): points expired."""
    now = now or utcnow()
    if _lock_balance(app_user_id) is None:
        return 0
    expired = 0
    for earning in _lock_earnings(app_user_id):
        if earning.expires_at is not None and earning.expires_at <= now:
            entry = _expire_earning(earning)
            expired += -entry.points if entry is not None else 0
    return expired


def due_for_expiry(now: datetime, *, limit: int = 500, after_user: int = 0) -> list[int]:
    """Consumers with earnings past their expiry and something left of them (a plain read)."""
    return list(db.session.scalars(
        sa.select(PointsEntry.app_user_id).where(
            PointsEntry.remaining > 0, PointsEntry.expires_at <= now, PointsEntry.app_user_id > after_user)
        .group_by(PointsEntry.app_user_id).order_by(PointsEntry.app_user_id).limit(limit)))


def expire(now: datetime | None = None, *, batch: int = 500) -> dict:
    """The expiry sweep (a job: one transaction per consumer). Idempotent and safe to run from two
    processes at once: each consumer's balance row is locked, and each earning expires once
    (its remaining goes to 0, its EXPIRE entry's source is unique)."""
    now = now or utcnow()
    users = points = 0
    after = 0
    while True:
        due = due_for_expiry(now, limit=batch, after_user=after)
        db.session.rollback()  # end the read's snapshot
        if not due:
            break
        for app_user_id in due:
            # Run again if the database rolls it back (a Galera node's commit lost to another's sweep).
            expired = retried_transaction(lambda user=app_user_id: expire_user(app_user_id=user, now=now))
            users += bool(expired)
            points += expired
        after = due[-1]
    return {"consumers": users, "points": points}


def adjustment_made(key: str) -> bool:
    """Whether the back-office adjustment of this key was made already."""
    return _existing(f"adjust:{key}") is not None


def check_adjustment(*, app_user_id: int, points: int) -> None:
    """An adjustment moves a non-zero number of points of an existing consumer."""
    if not points or db.session.get(AppUser, app_user_id) is None:
        raise AdjustmentInvalid(errors={"points": ["Non-zero."]} if not points
                                else {"app_user_id": ["No such consumer."]})


def adjust(*, actor: Actor, app_user_id: int, points: int, reason: str, key: str,
           now: datetime | None = None) -> PointsEntry:
    """A back-office adjustment (signed), audited, once per key; never below zero."""
    check_adjustment(app_user_id=app_user_id, points=points)
    source = f"adjust:{key}"
    note = reason  # who did it is in the audit (the consumer sees the note)
    if _existing(source) is not None:
        return _same(_existing(source), app_user_id, PointsKind.ADJUST, points)
    if points > 0:
        entry = _earn(app_user_id, PointsKind.ADJUST, points, source, note, now)
    else:
        entry = _take(app_user_id, PointsKind.ADJUST, -points, source, note, now)
    audit(actor, "points.adjust", entry, {"points": [None, points], "reason": [None, reason],
                                          "app_user_id": [None, app_user_id]})
    return entry
