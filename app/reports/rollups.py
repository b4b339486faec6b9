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
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import greatest, upsert
from app.extensions import db
from app.platform.clock import china_day
from app.reports.models import ConsumerDay, ConsumerTotal, DailyFact

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


COARSE = "@"  # a fact's coarse rows: fact + "@"


def coarse_key(fine: Key) -> Key:
    """The row a fine row also counts in: day, place kind, variant and province only. Reports that need
    nothing finer (the overview, a province map) read a few rows a day, not one per lot and district."""
    return Key(fine.fact + COARSE, fine.day, 0, 0, fine.place_kind, 0, province_of(fine.region_code), 0, fine.variant)


BY_PRODUCT = "#"  # a fact's product rows: fact + "#"


def product_key(fine: Key) -> Key:
    """The row a fine row also counts in by product: day, product (0: none) and variant only. Reports
    by product or for some products over the whole country (consumer segments, a campaign's scans)
    read a few rows a day per product, not one per lot and district (bench: 844 ms for 30 days at
    full scale)."""
    return Key(fine.fact + BY_PRODUCT, fine.day, fine.product_id, 0, "", 0, "", 0, fine.variant)


def write(sums: Sums, *, session: Session) -> None:
    """Add sums to the rollup rows now, each to its fine row, its coarse row and its product row (one
    statement; rows in key order)."""
    every = Sums()
    every.update(sums)
    for fine in sums.n.keys() | sums.amount.keys():
        every.add(coarse_key(fine), sums.n[fine], sums.amount[fine])
        every.add(product_key(fine), sums.n[fine], sums.amount[fine])
    rows = every.rows()
    if rows:
        statement = upsert(DailyFact.__table__, list(Key._fields), lambda table, new: {
            "n": table.c.n + new.n, "amount": table.c.amount + new.amount})
        session.execute(statement, rows)


PREV_DAY_REACH = 366  # a previous day further back than a report's longest period is not kept
# A consumer-day, counted under the days since the consumer's previous day ("new": none within reach):
# the consumers of a period are its consumer-days whose gap reaches back before the period's first day
# (app.reports.service.distinct_consumers), summed from a few hundred rows a day whatever the crowd.
CONSUMER_DAY = "consumer.day"
CONSUMER_PROVINCE_DAY = "consumer.pday"  # the same, in the province of the day's first scan ('' for none)


def province_of(region_code: str | None) -> str:
    return region_code[:2].ljust(12, "0") if region_code else ""


def gap_since(day: date, previous: date | None) -> str:
    """A consumer-day's variant: days since the previous day with a scan, 3 digits, or "new"."""
    return "new" if previous is None else f"{(day - previous).days:03d}"


def note_consumer_days(scans: Iterable[dict], *, session: Session | None = None, totals: bool = True) -> None:
    """Note who scanned on which day, how often, and the consumer's previous day with a scan (scan rows as
    dicts, in any order: the day's lowest scan id gives its region, whichever batch writes it first).

    The consumer's nearby days are read so a day written out of order (a claim writes its scan before
    the worker writes an earlier one) gets its previous day, and the day after it takes this one. The
    read takes no lock (a gap lock would block every writer of new consumers): two writers of one
    consumer's scans of two different days at the same instant may leave a previous day stale, which
    moves that consumer between frequency segments until a rebuild. ``totals``: add the scans to the
    consumers' totals too (the rebuild recomputes those from every scan instead)."""
    session = session or _session()
    days: dict[tuple[int, date], list] = {}  # (user, day) -> [region, scans, first scan id]
    for scan in scans:
        entry = days.setdefault((scan["app_user_id"], china_day(scan["scanned_at"])), ["", 0, None])
        entry[1] += 1
        if entry[2] is None or scan["id"] < entry[2]:
            entry[0], entry[2] = scan["region_code"] or "", scan["id"]
    if not days:
        return
    table = ConsumerDay.__table__
    reach = timedelta(days=PREV_DAY_REACH)
    query = (sa.select(table.c.app_user_id, table.c.day, table.c.prev_day, table.c.region_code, table.c.first_scan_id)
             .where(table.c.app_user_id.in_(sorted({user for user, _ in days})),
                    table.c.day.between(min(d for _, d in days) - reach, max(d for _, d in days) + reach))
             .order_by(table.c.app_user_id, table.c.day))
    known: dict[int, dict[date, date | None]] = {}  # user -> {day: its previous day}
    places: dict[tuple[int, date], list] = {}  # (user, day) -> [region, first scan id]
    for user, day, prev_day, region, first_id in session.execute(query):
        known.setdefault(user, {})[day] = prev_day
        places[(user, day)] = [region, first_id]
    inserted: dict[tuple[int, date], date | None] = {}
    moved: dict[tuple[int, date], date] = {}
    gaps = pending(session)

    def note_gap(user, day, previous, n=1):  # a consumer-day under its gap, whole country and in its province
        gaps.add(key(CONSUMER_DAY, day, variant=gap_since(day, previous)), n)
        gaps.add(key(CONSUMER_PROVINCE_DAY, day, region_code=province_of(places[(user, day)][0]),
                     variant=gap_since(day, previous)), n)

    for user, day in sorted(days):  # a consumer's days in order: a day of this batch sees the ones before it
        mine = known.setdefault(user, {})
        region, _, first_id = days[(user, day)]
        if day in mine:  # a day already written: the upsert adds its scans, and a lower scan id its region
            if first_id < places[(user, day)][1] and province_of(region) != province_of(places[(user, day)][0]):
                note_gap(user, day, mine[day], -1)
                places[(user, day)] = [region, first_id]
                note_gap(user, day, mine[day])
            continue
        earlier = max((d for d in mine if d < day), default=None)
        inserted[(user, day)] = mine[day] = earlier if earlier and day - earlier <= reach else None
        places[(user, day)] = [region, first_id]
        note_gap(user, day, mine[day])
        after = min((d for d in mine if d > day), default=None)
        if after is not None and after - day <= reach:  # a day written before this earlier one
            note_gap(user, after, mine[after], -1)
            note_gap(user, after, day)
            moved[(user, after)] = mine[after] = day
    for (user, after), day in sorted(moved.items()):
        session.execute(sa.update(table).where(table.c.app_user_id == user, table.c.day == after)
                        .values(prev_day=day))
    rows = [{"day": day, "app_user_id": user, "region_code": region, "scans": count, "first_scan_id": first_id,
             "prev_day": inserted.get((user, day))}
            for (user, day), (region, count, first_id) in sorted(days.items(), key=lambda item: (item[0][1], item[0][0]))]
    # region_code before first_scan_id: MySQL assigns left to right, each seeing the ones before.
    statement = upsert(table, ["day", "app_user_id"], lambda t, new: {
        "scans": t.c.scans + new.scans,
        "region_code": sa.case((new.first_scan_id < t.c.first_scan_id, new.region_code), else_=t.c.region_code),
        "first_scan_id": sa.case((new.first_scan_id < t.c.first_scan_id, new.first_scan_id),
                                 else_=t.c.first_scan_id)})
    session.execute(statement, rows)
    if totals:
        per_user: dict[int, list] = {}
        for (user, day), (_, count, _) in days.items():
            entry = per_user.setdefault(user, [0, day])
            entry[0], entry[1] = entry[0] + count, max(entry[1], day)
        add_to_totals({user: (count, day) for user, (count, day) in per_user.items()}, session=session)


FREQUENCY = (("1", 1, 1), ("2-3", 2, 3), ("4-9", 4, 9), ("10+", 10, None))  # (segment, fewest, most scans)
CONSUMER_SEGMENT = "consumer.segment"


def segment_of(scans: int) -> str:
    """A consumer's frequency segment (member tag) by their scans."""
    return next(name for name, low, high in FREQUENCY if scans >= low and (high is None or scans <= high))


def add_to_totals(added: dict[int, tuple[int, date]], *, session: Session) -> None:
    """Add scans to consumers' totals ({user: (scans, latest day)}), moving each consumer's
    ``consumer.segment`` fact from their old (last day, segment) to the new one. The totals are read
    without a lock, like the consumer-days: two writers of one consumer at the same instant may leave
    a segment fact stale until a rebuild."""
    table = ConsumerTotal.__table__
    users = sorted(added)
    known = {}
    for start in range(0, len(users), 1000):
        known.update({user: (scans, last) for user, scans, last in session.execute(
            sa.select(table.c.app_user_id, table.c.scans, table.c.last_day)
            .where(table.c.app_user_id.in_(users[start:start + 1000])))})
    sums = pending(session)
    rows = []
    for user in users:
        count, day = added[user]
        scans, last = known.get(user, (0, None))
        if last is not None:
            sums.add(key(CONSUMER_SEGMENT, last, variant=segment_of(scans)), -1, -scans)
        scans, last = scans + count, max(day, last) if last else day
        sums.add(key(CONSUMER_SEGMENT, last, variant=segment_of(scans)), 1, scans)
        rows.append({"app_user_id": user, "scans": count, "last_day": last})
    statement = upsert(table, ["app_user_id"], lambda t, new: {
        "scans": t.c.scans + new.scans, "last_day": greatest(t.c.last_day, new.last_day)})
    session.execute(statement, rows)


def _session() -> Session:
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
