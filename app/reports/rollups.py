"""Keeping the rollups: writers add to them in their own transaction; the sums are written at its commit.

A writer calls ``add`` (or ``add_all``) for each fact it makes. The additions wait in the session and
are written by one upsert per row just before the transaction commits, in key order: a rollup row is
locked for the last instant of the transaction only, and every writer takes the locks in the same
order (no deadlock between two writers adding to the same rows). A rollback, a deadlock retried,
throws the additions away with the rest of the transaction: a fact counts once, when it commits.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import upsert
from app.platform.clock import china_day
from app.reports.models import ConsumerDay, DailyFact

_PENDING = "report_rollups"


class Key(NamedTuple):
    """One rollup row: a fact on a day, with its dimensions (0 or '' where it has none)."""

    fact: str
    day: date
    product_id: int = 0
    lot_id: int = 0
    place_kind: str = ""
    place_id: int = 0
    region_code: str = ""
    campaign_id: int = 0
    variant: str = ""


def key(fact: str, day: date, *, product_id=None, lot_id=None, place_kind=None, place_id=None, region_code=None,
        campaign_id=None, variant=None) -> Key:
    """A rollup key from values that may be None (a dimension the fact has not)."""
    return Key(fact, day, product_id or 0, lot_id or 0, getattr(place_kind, "value", place_kind) or "", place_id or 0,
               region_code or "", campaign_id or 0, getattr(variant, "value", variant) or "")


class Sums:
    """Counts and amounts per key, added up in Python before they go to the database."""

    __slots__ = ("n", "amount")

    def __init__(self):
        self.n: Counter[Key] = Counter()
        self.amount: Counter[Key] = Counter()

    def add(self, key_: Key, n: int = 1, amount: int = 0) -> None:
        self.n[key_] += n
        self.amount[key_] += amount

    def update(self, other: "Sums") -> None:
        self.n.update(other.n)
        self.amount.update(other.amount)

    def rows(self) -> list[dict]:
        """The non-zero sums as table rows, in key order (the one lock order)."""
        keys = sorted(k for k in self.n.keys() | self.amount.keys() if self.n[k] or self.amount[k])
        return [{**k._asdict(), "n": self.n[k], "amount": self.amount[k]} for k in keys]

    def __bool__(self) -> bool:
        return any(self.n.values()) or any(self.amount.values())


def pending(session: Session) -> Sums:
    sums = session.info.get(_PENDING)
    if sums is None:
        sums = session.info[_PENDING] = Sums()
    return sums


def add(fact: str, day: date, *, n: int = 1, amount: int = 0, session: Session | None = None, **dimensions) -> None:
    """Count a fact in the caller's transaction (written when it commits)."""
    pending(session or _session()).add(key(fact, day, **dimensions), n, amount)


def add_all(sums: Sums, *, session: Session | None = None) -> None:
    """Count facts summed by the caller (a batch) in its transaction."""
    pending(session or _session()).update(sums)


def write(sums: Sums, *, session: Session) -> None:
    """Add sums to the rollup rows now (one statement; rows in key order)."""
    rows = sums.rows()
    if rows:
        statement = upsert(DailyFact.__table__, list(Key._fields), lambda table, new: {
            "n": table.c.n + new.n, "amount": table.c.amount + new.amount})
        session.execute(statement, rows)


def note_consumer_days(scans: Iterable[dict], *, session: Session | None = None) -> None:
    """Note who scanned on which day (scan rows as dicts, in any order: the day's lowest scan id gives
    its region, whichever batch writes it first)."""
    session = session or _session()
    days: dict[tuple[date, int], dict] = {}
    for scan in scans:
        day = (china_day(scan["scanned_at"]), scan["app_user_id"])
        if day not in days or scan["id"] < days[day]["first_scan_id"]:
            days[day] = {"day": day[0], "app_user_id": day[1], "region_code": scan["region_code"] or "",
                         "first_scan_id": scan["id"]}
    if days:
        # region_code before first_scan_id: MySQL assigns left to right, each seeing the ones before.
        statement = upsert(ConsumerDay.__table__, ["day", "app_user_id"], lambda table, new: {
            "region_code": sa.case((new.first_scan_id < table.c.first_scan_id, new.region_code),
                                   else_=table.c.region_code),
            "first_scan_id": sa.case((new.first_scan_id < table.c.first_scan_id, new.first_scan_id),
                                     else_=table.c.first_scan_id)})
        session.execute(statement, [days[key] for key in sorted(days)])


def _session() -> Session:
    from app.extensions import db

    return db.session()


@sa.event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its additions wait for the transaction's commit
    sums = session.info.pop(_PENDING, None)
    if sums:
        write(sums, session=session)


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction) -> None:
    if transaction.parent is None:  # the transaction ended without its commit (rolled back, closed)
        session.info.pop(_PENDING, None)


def apply(rows: Iterable[dict], *, session: Session) -> None:
    """Add rows (dicts of a key's fields, n, amount) to the rollups now: the rebuild's writer."""
    sums = Sums()
    for row in rows:
        sums.add(Key(*(row[name] for name in Key._fields)), row.get("n", 0), row.get("amount", 0))
    write(sums, session=session)
