"""Recomputing the rollups of a range of days from the source rows (``flask reports rebuild``).

Each kind of source row goes through the same function in ``facts`` as when it was written, so a
rebuild equals what the writers kept. Rows are read in chunks (constant memory over any range).
A rebuild replaces the range's rows in one transaction; a fact committed by a writer while it reads
may be missed or counted twice for that day, so rebuild past days, or today when writers are quiet.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from app.campaigns.models import Draw
from app.channel.models import DiversionAlert, Receipt
from app.codes.models import CodeBatch
from app.consumers.models import CodeLeakAlert, ConsumerScan
from app.extensions import db
from app.payouts import settlement
from app.payouts.models import Payout, PayoutStatus
from app.platform.clock import china_day, day_start
from app.points.models import PointsEntry
from app.reports import facts, rollups
from app.reports.models import ConsumerDay, ConsumerTotal, DailyFact
from app.units.models import Event, Unit

CHUNK = 5_000


@dataclass(frozen=True)
class Rebuilt:
    first: date
    last: date
    rows: int  # rollup rows written (besides their coarse and product rows)


def rebuild(*, first: date, last: date) -> Rebuilt:
    """Replace the rollups of days first..last (China days) by sums of the source rows; in the caller's
    transaction."""
    starts, ends = day_start(first), day_start(last + timedelta(days=1))
    db.session.execute(sa.delete(DailyFact).where(DailyFact.day.between(first, last)))
    db.session.execute(sa.delete(ConsumerDay).where(ConsumerDay.day.between(first, last)))
    sums = rollups.Sums()
    for family in (_unit_events, _code_batches, _receipts, _consumer_scans, _payouts, _points, _alerts):
        sums.update(family(starts, ends))
    sums.update(_draws(first, last))
    sums.update(_consumer_totals(first, last, starts, ends))
    rollups.write(sums, session=db.session())
    return Rebuilt(first=first, last=last, rows=len(sums.rows()))


def _stream(query):
    return db.session.execute(query.execution_options(yield_per=CHUNK))


def _in(column, starts, ends):
    return sa.and_(column >= starts, column < ends)


def _unit_events(starts, ends) -> rollups.Sums:
    tally: Counter = Counter()
    query = (sa.select(Event.kind, Event.occurred_at, Event.lot_id, Event.location_kind, Event.location_id,
                       Unit.level, Unit.product_id, Event.data)
             .join(Unit, Unit.serial == Event.serial)
             .where(_in(Event.occurred_at, starts, ends), Event.kind.in_(list(facts.UNIT_EVENT_FACTS))))
    for kind, at, lot_id, location_kind, location_id, level, product_id, data in _stream(query):
        items = data.get("units") if isinstance(data, dict) else None
        tally[facts.event_tally_key(kind, at, lot_id, location_kind, location_id, level, product_id, items)] += 1
    return facts.unit_event_sums(tally)


def _code_batches(starts, ends) -> rollups.Sums:
    sums = rollups.Sums()
    for batch in db.session.scalars(sa.select(CodeBatch).where(_in(CodeBatch.created_at, starts, ends))):
        sums.update(facts.code_batch(batch))
    for batch in db.session.scalars(sa.select(CodeBatch).where(_in(CodeBatch.voided_at, starts, ends))):
        sums.update(facts.code_batch(batch, voided=True))
    return sums


def _receipts(starts, ends) -> rollups.Sums:
    sums = rollups.Sums()
    for receipt in db.session.scalars(sa.select(Receipt).where(_in(Receipt.confirmed_at, starts, ends))):
        sums.update(facts.receipt(receipt))
    return sums


def _consumer_scans(starts, ends) -> rollups.Sums:
    """Scans a page at a time by id (keyset): the consumer days of each page are written before the next
    is read, and a streamed cursor would be cut short by that write on MySQL (one connection)."""
    sums = rollups.Sums()
    columns = (ConsumerScan.id, ConsumerScan.serial, ConsumerScan.app_user_id, ConsumerScan.verdict,
               ConsumerScan.scan_number, ConsumerScan.product_id, ConsumerScan.lot_id, ConsumerScan.region_code,
               ConsumerScan.scanned_at)
    after = 0
    while True:
        page = db.session.execute(sa.select(*columns).where(_in(ConsumerScan.scanned_at, starts, ends),
                                                            ConsumerScan.id > after)
                                  .order_by(ConsumerScan.id).limit(CHUNK)).mappings().all()
        if not page:
            return sums
        rows = [dict(row) for row in page]
        sums.update(facts.consumer_scans(rows))
        rollups.note_consumer_days(rows, totals=False)
        after = rows[-1]["id"]


def _consumer_totals(first: date, last: date, starts, ends) -> rollups.Sums:
    """The totals of the consumers who scanned in the range, from all their scans; their segment facts
    move from where the kept totals had put them (those inside the range were deleted with it)."""
    sums = rollups.Sums()
    users = sorted(db.session.scalars(sa.select(ConsumerScan.app_user_id).distinct()
                                      .where(_in(ConsumerScan.scanned_at, starts, ends))))
    table = ConsumerTotal.__table__
    for start in range(0, len(users), CHUNK):
        chunk = users[start:start + CHUNK]
        for scans, last_day in db.session.execute(sa.select(table.c.scans, table.c.last_day)
                                                  .where(table.c.app_user_id.in_(chunk))):
            if not first <= last_day <= last:
                sums.add(rollups.key(rollups.CONSUMER_SEGMENT, last_day, variant=rollups.segment_of(scans)),
                         -1, -scans)
        db.session.execute(sa.delete(table).where(table.c.app_user_id.in_(chunk)))
        rows = []
        for user, scans, latest in db.session.execute(
                sa.select(ConsumerScan.app_user_id, sa.func.count(), sa.func.max(ConsumerScan.scanned_at))
                .where(ConsumerScan.app_user_id.in_(chunk)).group_by(ConsumerScan.app_user_id)):
            day = china_day(latest)
            rows.append({"app_user_id": user, "scans": scans, "last_day": day})
            sums.add(rollups.key(rollups.CONSUMER_SEGMENT, day, variant=rollups.segment_of(scans)), 1, scans)
        if rows:
            db.session.execute(sa.insert(table), rows)
    return sums


def _draws(first: date, last: date) -> rollups.Sums:
    """Draws of the days, each knowing whether it was the consumer's first in its campaign (ever, and
    that day): draws of one consumer are made one at a time, so id order is the order they counted."""
    sums = rollups.Sums()
    earlier = sa.orm.aliased(Draw)
    def none_before(*same):
        return ~sa.exists().where(earlier.campaign_id == Draw.campaign_id, earlier.app_user_id == Draw.app_user_id,
                                  earlier.id < Draw.id, *same)
    query = (sa.select(Draw, ConsumerScan.product_id, none_before().label("first_ever"),
                       none_before(earlier.day == Draw.day).label("first_of_day"))
             .join(ConsumerScan, ConsumerScan.id == Draw.scan_id)
             .where(Draw.day.between(first, last)))
    for draw, product_id, first_ever, first_of_day in _stream(query):
        sums.update(facts.draw(draw, product_id=product_id, first_in_campaign=bool(first_ever),
                               first_of_day=bool(first_of_day)))
    return sums


def _payouts(starts, ends) -> rollups.Sums:
    sums = rollups.Sums()
    query = sa.select(Payout).where(_in(Payout.finished_at, starts, ends), Payout.status.in_(
        [PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.CANCELLED]))
    for payout in db.session.scalars(query):
        sums.update(facts.payout(payout, region_code=settlement.handler(payout.purpose).region(payout)))
    return sums


def _points(starts, ends) -> rollups.Sums:
    sums = rollups.Sums()
    for entry in _stream(sa.select(PointsEntry).where(_in(PointsEntry.created_at, starts, ends))).scalars():
        sums.update(facts.points_entry(entry))
    return sums


def _alerts(starts, ends) -> rollups.Sums:
    sums = rollups.Sums()
    for alert in db.session.scalars(sa.select(DiversionAlert).where(_in(DiversionAlert.created_at, starts, ends))):
        sums.update(facts.diversion_alert(alert))
    for alert in db.session.scalars(sa.select(DiversionAlert).where(_in(DiversionAlert.resolved_at, starts, ends))):
        sums.update(facts.diversion_alert(alert, closed=True))
    query = sa.select(CodeLeakAlert, CodeBatch.product_id).join(CodeBatch, CodeBatch.id == CodeLeakAlert.batch_id) \
        .where(_in(CodeLeakAlert.first_seen_at, starts, ends))
    for alert, product_id in db.session.execute(query):
        sums.update(facts.leak_alert(first_seen_at=alert.first_seen_at, product_id=product_id))
    return sums
