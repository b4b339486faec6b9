"""Sale scans: a clerk scans a unit sold, the unit leaves for a consumer and the clerk earns the best
matching reward rule's reward.

A unit is sale-scanned once, ever: the unit's row is locked first (two clerks scanning the same unit
queue up), and the unique serial of ``sale_scans`` settles whatever gets past that. The reward is
the best matching active rule at the scan time; it goes to the clerk's ledger in the same
transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.accounts.models import AppUser
from app.channel import diversion
from app.channel.models import SeenKind
from app.codes.models import Level
from app.db import utcnow
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope
from app.masterdata import refs
from app.masterdata.models import Product
from app.retail import rules
from app.retail.errors import NoStore
from app.retail.ledger import credit
from app.retail.models import LedgerEntry, SaleScan
from app.retail.reward_rules import best_rule
from app.retail.stores import actor_label, current_store
from app.units import rules as unit_rules
from app.units import code_reader, stock_moves, unit_rows
from app.units.models import EventKind, LocationKind, UnitStatus
from app.webhooks.service import emit

SALE_MAX_AGE = timedelta(days=3)  # an offline phone uploads late, but not a week later


@dataclass(slots=True)
class SaleResult:
    """A sale scan and what it earned (``credited``: the ledger entry, None when withheld or no rule)."""

    sale: SaleScan
    product: Product
    credited: LedgerEntry | None


def sale_scan(*, user: AppUser, store_id: int, code: str, scanned_at: datetime | None = None) -> SaleResult:
    """A clerk of ``store_id`` scans a unit sold: the unit is sold here, the clerk earns the rule's reward."""
    now = utcnow()
    membership = current_store(user=user)
    if membership.store_id != store_id:
        raise NoStore()
    shop = membership.store
    scanned_at = scanned_at or now
    if unit_rules.scan_time_invalid(scanned_at, now) or scanned_at < now - SALE_MAX_AGE:
        raise rules.refuse_sale(rules.SCAN_TIME_INVALID)

    decoded = code_reader.CodeReader().read(code)
    if isinstance(decoded, str):
        raise rules.refuse_sale(decoded)
    reason = code_reader.issue_reason(code_reader.BatchIndex.covering([decoded.serial]).batch_of(decoded))
    if reason:
        raise rules.refuse_sale(reason)

    unit, parent = _lock_unit(decoded.serial)
    _check_sellable(unit)
    if _already_sold(unit.serial):
        raise rules.refuse_sale(rules.ALREADY_SOLD)

    not_received = not (unit.location_kind is LocationKind.STORE and unit.location_id == store_id
                        and not unit.in_transit)
    rule = best_rule(product_id=unit.product_id, region_code=shop.region_code, at=scanned_at)
    withheld = bool(rule and not_received and rule.withhold_not_received)
    sale = SaleScan(serial=unit.serial, code=decoded.code, store_id=store_id, app_user_id=user.id,
                    product_id=unit.product_id, lot_id=unit.lot_id, region_code=shop.region_code,
                    not_received=not_received, rule_id=rule.id if rule else None,
                    reward_kind=rule.kind if rule else None, reward_amount=rule.amount if rule else 0,
                    withheld=withheld, scanned_at=scanned_at)
    db.session.add(sale)
    try:
        db.session.flush()
    except IntegrityError:  # another clerk's scan of this unit committed first
        raise rules.refuse_sale(rules.ALREADY_SOLD) from None

    # Seen where it was found, before it leaves for the consumer.
    diversion.check(units=[unit], seen_kind=SeenKind.SALE, place_kind="store", place_id=store_id,
                    region_code=shop.region_code, seen_by=actor_label(user), seen_at=scanned_at)
    origin = {"kind": unit.location_kind.value, "id": unit.location_id, "in_transit": unit.in_transit}
    _move_to_consumer(unit, parent, store_id=store_id, sale=sale, origin=origin, now=now,
                      source=actor_label(user))

    credited = None
    if rule and not withheld:
        credited = credit(app_user_id=user.id, kind=rule.kind, amount=rule.amount, source=f"sale:{sale.id}",
                          note=f"Sale of {decoded.code}")
    product = db.session.get(Product, unit.product_id)
    emit("sale.scanned", {
        "sale_scan_id": sale.id, "code": decoded.code, "serial": unit.serial, "store_id": store_id,
        "app_user_id": user.id, "product_id": unit.product_id, "lot_id": unit.lot_id,
        "region_code": shop.region_code, "not_received": not_received, "scanned_at": scanned_at.isoformat(),
        "reward": {"kind": rule.kind.value, "amount": rule.amount, "withheld": withheld} if rule else None,
        "store": refs.of_party("store", shop), "product": refs.of_product(product),
    })
    return SaleResult(sale, product, credited)


def _lock_unit(serial: int) -> tuple[unit_rows.UnitState, unit_rows.UnitState | None]:
    """The unit (and the case it is packed in, if any), locked in serial order."""
    peek = unit_rows.load_units([serial], lock=False).get(serial)
    if peek is None:
        raise rules.refuse_sale(rules.NOT_COMMISSIONED)
    wanted = {serial} | ({peek.parent_serial} if peek.parent_serial is not None else set())
    locked = unit_rows.load_units(wanted)
    unit = locked[serial]
    if unit.parent_serial is not None and unit.parent_serial not in locked:
        # Repacked between the two reads (rare): lock the new parent too.
        locked.update(unit_rows.load_units([unit.parent_serial]))
    return unit, locked.get(unit.parent_serial) if unit.parent_serial is not None else None


def _already_sold(serial: int) -> bool:
    # A plain read (a locking read of a missing serial would gap-lock, and two clerks selling units
    # in one gap would deadlock). A sale committed while we waited for the unit's lock may be
    # missed here; the unique serial then refuses our insert.
    return db.session.scalar(sa.select(SaleScan.id).where(SaleScan.serial == serial)) is not None


def _check_sellable(unit: unit_rows.UnitState) -> None:
    if unit.level is not Level.ITEM:
        raise rules.refuse_sale(rules.WRONG_LEVEL)
    if unit.status is UnitStatus.SCRAPPED:
        raise rules.refuse_sale(rules.SCRAPPED)
    if unit.status is UnitStatus.VOIDED:
        raise rules.refuse_sale(rules.VOIDED)
    if unit.recall_id is not None:
        raise rules.refuse_sale(rules.RECALLED)


def _move_to_consumer(unit: unit_rows.UnitState, parent: unit_rows.UnitState | None, *, store_id: int,
                      sale: SaleScan, origin: dict, now: datetime, source: str) -> None:
    """The unit leaves for a consumer (taken out of its case if packed), with its SELL event."""
    before = {unit.serial: stock_moves.stock_key(unit)}
    events = []
    if parent is not None:
        events.append(unit_rows.event_row(
            kind=EventKind.REMOVE, serial=unit.serial, parent_serial=parent.serial, occurred_at=sale.scanned_at,
            recorded_at=now, location_kind=LocationKind.STORE, location_id=store_id, source=source,
            data={"why": "sold", "sale_scan_id": sale.id}))
        parent.child_count = max(parent.child_count - 1, 0)
        unit_rows.save_units([parent], ["child_count"])
        unit.parent_serial = None
    unit.location_kind, unit.location_id, unit.in_transit = LocationKind.CONSUMER, store_id, False
    unit_rows.save_units([unit], ["location_kind", "location_id", "in_transit", "parent_serial"])
    stock_moves.adjust_stock(stock_moves.stock_deltas(before, [unit]))
    events.append(unit_rows.event_row(
        kind=EventKind.SELL, serial=unit.serial, lot_id=unit.lot_id, occurred_at=sale.scanned_at, recorded_at=now,
        location_kind=LocationKind.STORE, location_id=store_id, source=source,
        data={"sale_scan_id": sale.id, "from": origin, "not_received": sale.not_received}))
    unit_rows.write_events(events, units={unit.serial: unit})


def list_my_sales(*, user: AppUser):
    return sa.select(SaleScan).where(SaleScan.app_user_id == user.id).order_by(SaleScan.id.desc())


def list_sale_scans(*, store_id=None, product_id=None, app_user_id=None, not_received=None,
                    since=None, until=None, scope: DataScope = NATIONAL):
    """Sale scans, newest first, in the scope's regions (a scan carries its store's region)."""
    query = sa.select(SaleScan).where(scope.filter(SaleScan.region_code)).order_by(SaleScan.id.desc())
    if store_id is not None:
        query = query.where(SaleScan.store_id == store_id)
    if product_id is not None:
        query = query.where(SaleScan.product_id == product_id)
    if app_user_id is not None:
        query = query.where(SaleScan.app_user_id == app_user_id)
    if not_received is not None:
        query = query.where(SaleScan.not_received == not_received)
    if since is not None:
        query = query.where(SaleScan.scanned_at >= since)
    if until is not None:
        query = query.where(SaleScan.scanned_at < until)
    return query
