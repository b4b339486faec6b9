"""What each source row counts for in the rollups: one function per kind of row, used twice.

The writers call these on the rows they have just written (in the same transaction); the rebuild
calls the same functions on the rows it reads back. So an incremental rollup equals a rebuild by
construction, and a test drives random workloads to keep it so.

Facts (``report_daily.fact``; n counts, amount is items, fen or points as said):

- codes.issued / codes.voided: codes in a batch (variant: level).
- unit.commissioned, unit.packed, unit.unpacked, unit.scrapped, unit.recalled: units (variant: level;
  amount: the items they hold); place: where it happened (commission: the line).
- stock.in / stock.out: units received into / shipped out of a warehouse, dealer or store (amount:
  items); place: the holder; the brand ships from its warehouses, dealers from themselves.
- unit.sold: items sale-scanned at a store (place: the store).
- receipt: receipts confirmed (amount: items received); receipt.missing / receipt.extra /
  receipt.damaged: the items each discrepancy names (place: the receiver).
- scan: consumer scans (variant: verdict); scan.first: a unit's first consumer scan (variant: verdict).
- draw: claims (variant: outcome); prize: prizes won (variant: prize kind; amount: fen or points);
  participant: a consumer's first draw of the day in a campaign (variant: new, the first ever in it,
  or returning).
- payout.paid / payout.failed: payouts that ended so (amount: fen; variant: purpose; failed
  includes cancelled: the money went back). A payout that ends otherwise later moves its fact.
- points.earned / points.spent: consumer points ledger (variant: entry kind; amount: points).
- alert.diversion / alert.diversion_closed / alert.leak: alerts raised and closed.
- consumer.day: a consumer who scanned that day (variant: days since their previous day with a scan,
  or "new"); consumer.pday: the same in the province of the day's first scan; both kept with
  report_consumer_days by ``rollups.note_consumer_days``.
- consumer.segment: a consumer's member tag (variant) on their latest day with a scan (amount: their
  scans ever); kept with report_consumers.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.masterdata.models import Store, Warehouse
from app.platform.clock import china_day
from app.reports.rollups import Sums, key

PLACE_TABLES = {"warehouse": "warehouses", "store": "stores"}  # holders with one region (a dealer has a territory)


def place_regions(places: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The region of each (kind, id) place that has one (warehouses, stores)."""
    wanted: dict[str, set[int]] = {}
    for kind, id_ in places:
        if kind in PLACE_TABLES and id_:
            wanted.setdefault(kind, set()).add(id_)
    found: dict[tuple[str, int], str] = {}
    for kind, model in (("warehouse", Warehouse), ("store", Store)):
        ids = sorted(wanted.get(kind, ()))
        for start in range(0, len(ids), 1000):
            for id_, region in db.session.execute(sa.select(model.id, model.region_code)
                                                  .where(model.id.in_(ids[start:start + 1000]))):
                found[(kind, id_)] = region or ""
    return found


def _value(thing) -> str:
    return getattr(thing, "value", thing) or ""


# --- unit events --------------------------------------------------------------------------------

UNIT_EVENT_FACTS = {"commission": "unit.commissioned", "pack": "unit.packed", "unpack": "unit.unpacked",
                    "remove": "unit.unpacked", "scrap": "unit.scrapped", "recall": "unit.recalled",
                    "receive": "stock.in", "ship": "stock.out", "sell": "unit.sold"}


def unit_events(events: Iterable[Mapping], units: Mapping[int, object], lots: Mapping[int, int] | None = None) -> Sums:
    """Facts of unit events (rows as ``units.unit_rows.event_row`` makes them). ``units``: serial -> an object
    with ``level`` and ``product_id`` (a UnitState); ``lots``: lot id -> product id, for a unit not given."""
    tally: Counter = Counter()
    for event in events:
        unit = units.get(event["serial"])
        data = event.get("data")
        tally[event_tally_key(
            event["kind"], event["occurred_at"], event["lot_id"], event["location_kind"], event["location_id"],
            unit.level if unit is not None else None,
            unit.product_id if unit is not None else (lots or {}).get(event["lot_id"]),
            data.get("units") if isinstance(data, dict) else None)] += 1
    return unit_event_sums(tally)


def event_tally_key(kind, occurred_at, lot_id, location_kind, location_id, level, product_id, items) -> tuple:
    """What of an event its facts depend on: events with equal keys are counted together (``unit_event_sums``)."""
    return kind, occurred_at, lot_id, location_kind, location_id, level, product_id, items


def unit_event_sums(tally: Mapping[tuple, int]) -> Sums:
    """Facts of events tallied by ``event_tally_key`` (a writer in a hurry tallies as it goes)."""
    wanted = [(k, n) for k, n in tally.items() if _value(k[0]) in UNIT_EVENT_FACTS]
    regions = place_regions((_value(k[3]), k[4]) for k, _ in wanted)
    days: dict[datetime, object] = {}
    sums = Sums()
    for (kind, occurred_at, lot_id, location_kind, location_id, level, product_id, items), n in wanted:
        kind, level, place = _value(kind), _value(level), (_value(location_kind), location_id or 0)
        day = days.get(occurred_at) or days.setdefault(occurred_at, china_day(occurred_at))
        if items is None:
            items = 1 if level == "item" else 0
        sums.add(key(UNIT_EVENT_FACTS[kind], day, product_id=product_id, lot_id=lot_id, place_kind=place[0],
                     place_id=place[1], region_code=regions.get(place), variant=None if kind == "sell" else level),
                 n, n * items)
    return sums


# --- code batches ---------------------------------------------------------------------------------

def code_batch(batch, *, voided: bool = False) -> Sums:
    """A batch issued (or voided: its codes no longer count as issued that day)."""
    sums = Sums()
    moment = batch.voided_at if voided else batch.created_at
    sums.add(key("codes.voided" if voided else "codes.issued", china_day(moment), product_id=batch.product_id,
                 variant=batch.level), 1, batch.count)
    return sums


# --- receipts -------------------------------------------------------------------------------------

def receipt(row) -> Sums:
    """A confirmed receipt: its items, and the items each discrepancy names."""
    sums = Sums()
    kind, id_ = _value(row.receiver_kind), row.receiver_id
    region = place_regions([(kind, id_)]).get((kind, id_))
    day = china_day(row.confirmed_at)
    for fact, amount in (("receipt", row.received), ("receipt.missing", row.missing), ("receipt.extra", row.extra),
                         ("receipt.damaged", row.damaged)):
        if fact == "receipt" or amount:
            sums.add(key(fact, day, place_kind=kind, place_id=id_, region_code=region), 1, amount)
    return sums


# --- consumer scans -----------------------------------------------------------------------------

def consumer_scans(rows: Iterable[Mapping]) -> Sums:
    """Scans (rows of consumer_scans as dicts): every scan, and a unit's first."""
    sums = Sums()
    for row in rows:
        dims = dict(product_id=row["product_id"], lot_id=row["lot_id"], region_code=row["region_code"],
                    variant=row["verdict"])
        day = china_day(row["scanned_at"])
        sums.add(key("scan", day, **dims))
        if row["serial"] is not None and row["scan_number"] == 1:
            sums.add(key("scan.first", day, **dims))
    return sums


# --- draws ----------------------------------------------------------------------------------------

def draw(row, *, product_id: int | None, first_in_campaign: bool, first_of_day: bool) -> Sums:
    """A claim: its outcome, its prize, and whether it made the consumer a participant that day."""
    sums = Sums()
    dims = dict(campaign_id=row.campaign_id, region_code=row.region_code, product_id=product_id)
    sums.add(key("draw", row.day, variant=row.outcome, **dims))
    if _value(row.outcome) == "won":
        sums.add(key("prize", row.day, variant=row.prize_kind, **dims), 1, row.amount)
    if first_of_day:
        sums.add(key("participant", row.day, variant="new" if first_in_campaign else "returning", **dims))
    return sums


# --- payouts --------------------------------------------------------------------------------------

PAYOUT_FACTS = {"succeeded": "payout.paid", "failed": "payout.failed", "cancelled": "payout.failed"}


def payout(row, *, status=None, finished_at: datetime | None = None, region_code: str | None = None,
           sign: int = 1) -> Sums:
    """A payout that ended (status and time as given, else its own); sign -1 takes an earlier ending back."""
    sums = Sums()
    status, finished_at = _value(status or row.status), finished_at or row.finished_at
    fact = PAYOUT_FACTS.get(status)
    if fact is not None and finished_at is not None:
        sums.add(key(fact, china_day(finished_at), campaign_id=row.campaign_id, region_code=region_code,
                     variant=row.purpose), sign, sign * row.amount_fen)
    return sums


def payout_moved(row, *, was_status, was_finished_at: datetime | None, region_code: str | None) -> Sums:
    """A payout's ending changed (an ending, or a late answer after one): the old fact out, the new one in.

    ``region_code``: where its money was won (a prize's draw; its settlement handler says), else None.
    """
    sums = payout(row, region_code=region_code)
    if was_status is not None:
        sums.update(payout(row, status=was_status, finished_at=was_finished_at, region_code=region_code, sign=-1))
    return sums


# --- points ---------------------------------------------------------------------------------------

def points_entry(row) -> Sums:
    sums = Sums()
    fact = "points.earned" if row.points > 0 else "points.spent"
    if row.points:
        sums.add(key(fact, china_day(row.created_at), variant=row.kind), 1, abs(row.points))
    return sums


# --- alerts ---------------------------------------------------------------------------------------

def diversion_alert(row, *, closed: bool = False) -> Sums:
    sums = Sums()
    moment = row.resolved_at if closed else row.created_at
    sums.add(key("alert.diversion_closed" if closed else "alert.diversion", china_day(moment),
                 product_id=row.product_id, lot_id=row.lot_id, place_kind="dealer", place_id=row.dealer_id,
                 region_code=row.region_code))
    return sums


def leak_alert(*, first_seen_at: datetime, product_id: int | None) -> Sums:
    """A code-leak alert raised (the first scan of a code never put on a product)."""
    sums = Sums()
    sums.add(key("alert.leak", china_day(first_seen_at), product_id=product_id))
    return sums
