"""Consumers' points (an append-only ledger, idempotent by source) and the points mall.

The balance row moves by atomic SQL only (insert-or-increment on earning, a guarded decrement on
spending) and a CHECK keeps it from going negative. ``remaining`` on each earning (and each
positive adjustment) says what is left of it, so that, after every use case,
balance = sum(points) of the ledger = sum(remaining) of the earnings.

Lock order, the same in every use case: the consumer's balance row first (earning makes it if
missing), then the consumer's earnings in id order, then new entries.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import AppUser
from app.consumers import blacklist
from app.db import insert_once, transaction, upsert, utcnow
from app.extensions import db
from app.identity.service import Actor, apply_changes, audit
from app.masterdata.models import Region
from app.platform.filters import Filters
from app.points import rules
from app.reports import facts, rollups
from app.points.models import (
    MallItem,
    MallItemKind,
    MallOrder,
    MallOrderStatus,
    PointsBalance,
    PointsEntry,
    PointsKind,
)

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
        raise rules.SourceReused()
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
        raise rules.InsufficientPoints()
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
        raise rules.InsufficientPoints(errors={"balance": balance or 0, "points": points})
    earnings = _lock_earnings(app_user_id)
    overdue = [e for e in earnings if e.expires_at is not None and e.expires_at <= now]
    for earning in overdue:  # expired but not yet swept: not spendable
        _expire_earning(earning)
    live = sorted((e for e in earnings if e not in overdue), key=_expiry_order)
    if sum(e.remaining for e in live) < points:
        raise rules.InsufficientPoints(errors={"balance": balance, "points": points})
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
            with transaction():
                expired = expire_user(app_user_id=app_user_id, now=now)
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
        raise rules.AdjustmentInvalid(errors={"points": ["Non-zero."]} if not points
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


# --- the mall: items (back office) ---------------------------------------------------------------

ITEM_FIELDS = ("name", "description", "image_url", "kind", "points_price", "stock", "active")


def _check_item(item: MallItem) -> None:
    errors = {}
    if not item.name:
        errors["name"] = ["A name is required."]
    if item.points_price is None or item.points_price <= 0:
        errors["points_price"] = ["A price is a positive number of points."]
    if item.stock is None or item.stock < 0:
        errors["stock"] = ["The stock is zero or more."]
    elif item.stock < (item.sold or 0):
        errors["stock"] = [f"{item.sold} were sold already; the stock can't be lower."]
    if errors:
        raise rules.MallItemInvalid(errors=errors)


def _item_values(values: dict) -> dict:
    """An item's fields among ``values``, its kind as the enum."""
    picked = {name: values[name] for name in ITEM_FIELDS if name in values}
    if picked.get("kind") is not None:
        picked["kind"] = MallItemKind(picked["kind"])
    return picked


def create_item(*, actor: Actor, data: dict) -> MallItem:
    item = MallItem(sold=0, active=True, description="")
    with db.session.no_autoflush:
        changes = apply_changes(item, _item_values(data))
        _check_item(item)
    db.session.add(item)
    db.session.flush()
    audit(actor, "mall_item.create", item, changes)
    return item


def get_item(item_id: int, *, lock: bool = False) -> MallItem:
    query = sa.select(MallItem).where(MallItem.id == item_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    item = db.session.scalar(query)
    if item is None:
        raise rules.MallItemNotFound()
    return item


def update_item(*, actor: Actor, item_id: int, changes: dict) -> MallItem:
    """Change an item (audited); the stock never goes below what was sold (the row is locked)."""
    item = get_item(item_id, lock=True)
    with db.session.no_autoflush:
        done = apply_changes(item, _item_values(changes))
        _check_item(item)
    if done:
        item.updated_at = utcnow()
        audit(actor, "mall_item.update", item, done)
    return item


_ITEM_FILTERS = Filters(
    active=lambda value: MallItem.active == value,
    kind=lambda value: MallItem.kind == MallItemKind(value),
    q=lambda value: MallItem.name.contains(value, autoescape=True),
)


def list_items(*, active: bool | None = None, kind: str | None = None, q: str | None = None):
    """Mall items, newest first, narrowed by the filters given."""
    return _ITEM_FILTERS.apply(sa.select(MallItem), active=active, kind=kind, q=q).order_by(MallItem.id.desc())


def available_items(*, kind: str | None = None):
    """What consumers can redeem: active and not sold out, cheapest first."""
    query = sa.select(MallItem).where(MallItem.active.is_(True), MallItem.sold < MallItem.stock)
    if kind:
        query = query.where(MallItem.kind == MallItemKind(kind))
    return query.order_by(MallItem.points_price, MallItem.id)


# --- the mall: orders ----------------------------------------------------------------------------

PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")
ADDRESS_LIMITS = {"name": 50, "phone": 20, "region_code": 12, "detail": 200}


def _address(address: dict | None) -> dict:
    """A shipping address: {name, phone, region_code (an existing region), detail}, or 422."""
    if not isinstance(address, dict):
        raise rules.AddressInvalid(errors={"address": ["A physical item needs a shipping address."]})
    errors, clean = {}, {}
    for name, limit in ADDRESS_LIMITS.items():
        value = address.get(name)
        value = value.strip() if isinstance(value, str) else ""
        if not value:
            errors[name] = ["Required."]
        elif len(value) > limit:
            errors[name] = [f"At most {limit} characters."]
        clean[name] = value
    if "phone" not in errors and not PHONE.match(clean["phone"]):
        errors["phone"] = ["Not a phone number."]
    if "region_code" not in errors and db.session.get(Region, clean["region_code"]) is None:
        errors["region_code"] = ["No such region."]
    if errors:
        raise rules.AddressInvalid(errors={"address": errors})
    return clean


def _order_by_request(app_user_id: int, request_id: str, *, lock: bool = False) -> MallOrder | None:
    query = sa.select(MallOrder).where(MallOrder.app_user_id == app_user_id, MallOrder.request_id == request_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _repeat(order: MallOrder, item_id: int, quantity: int) -> MallOrder:
    if order.item_id != item_id or order.quantity != quantity:
        raise rules.RequestReused()
    return order


def redeem(*, app_user: AppUser, item_id: int, quantity: int = 1, request_id: str,
           address: dict | None = None, now: datetime | None = None) -> MallOrder:
    """Buy a mall item with points, once per (user, request_id).

    The stock is taken by a guarded UPDATE (409 ``mall_item_sold_out``), the points are spent from
    the balance (409 ``points_insufficient``); a physical item is PLACED for shipping to ``address``,
    a coupon is ISSUED with its code. A retry answers the same order; the same request id for
    another item or quantity is 409 ``mall_request_reused``. A blacklisted consumer is 403
    ``consumer_blocked``.
    """
    existing = _order_by_request(app_user.id, request_id)  # a plain read: no gap lock
    if existing is not None:
        return _repeat(existing, item_id, quantity)
    if quantity <= 0:
        raise rules.MallItemInvalid(errors={"quantity": ["At least 1."]})
    if blacklist.is_blocked(app_user.openid):
        raise rules.ConsumerBlocked()
    # The item's row first: inserting the order takes a shared lock on it (the foreign key), and
    # many buyers upgrading that to the stock UPDATE's exclusive lock would deadlock.
    item = get_item(item_id, lock=True)
    physical = item.kind is MallItemKind.PHYSICAL
    shipping = _address(address) if physical else None
    order = MallOrder(app_user_id=app_user.id, request_id=request_id, item_id=item.id, quantity=quantity,
                      points=item.points_price * quantity, address=shipping,
                      status=MallOrderStatus.PLACED if physical else MallOrderStatus.ISSUED)
    if not physical:
        order.coupon_code = new_coupon_code()
    if not insert_once(order):  # the same request sent twice at once: the first one's order
        return _repeat(_order_by_request(app_user.id, request_id, lock=True), item_id, quantity)
    taken = db.session.execute(sa.update(MallItem).where(
        MallItem.id == item.id, MallItem.active.is_(True), MallItem.sold + quantity <= MallItem.stock)
        .values(sold=MallItem.sold + quantity, updated_at=utcnow()))
    if taken.rowcount != 1:
        raise rules.MallItemSoldOut()
    spend(app_user_id=app_user.id, points=order.points, source=f"mall-order:{order.id}",
          note=f"{item.name} x{quantity}"[:200], now=now)
    return order


def new_coupon_code() -> str:
    """16 characters from an alphabet without look-alikes (80 bits); the unique column backs it."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def list_my_orders(*, app_user_id: int, status: str | None = None):
    query = sa.select(MallOrder).where(MallOrder.app_user_id == app_user_id)
    if status:
        query = query.where(MallOrder.status == MallOrderStatus(status))
    return query.order_by(MallOrder.id.desc())


def get_my_order(*, app_user: AppUser, order_id: int) -> MallOrder:
    """The consumer's own order; another's answers 404 like a missing one."""
    order = db.session.get(MallOrder, order_id)
    if order is None or order.app_user_id != app_user.id:
        raise rules.MallOrderNotFound()
    return order


_ORDER_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: MallOrder.status == MallOrderStatus(value),
    app_user_id=lambda value: MallOrder.app_user_id == value,
    item_id=lambda value: MallOrder.item_id == value,
    since=lambda value: MallOrder.created_at >= value,
    until=lambda value: MallOrder.created_at < value,
)


def list_orders(*, status: str | None = None, app_user_id: int | None = None, item_id: int | None = None,
                since: datetime | None = None, until: datetime | None = None):
    """Mall orders, newest first, narrowed by the filters given."""
    return _ORDER_FILTERS.apply(sa.select(MallOrder), status=status, app_user_id=app_user_id, item_id=item_id,
                                since=since, until=until).order_by(MallOrder.id.desc())


def get_order(order_id: int, *, lock: bool = False) -> MallOrder:
    query = sa.select(MallOrder).where(MallOrder.id == order_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    order = db.session.scalar(query)
    if order is None:
        raise rules.MallOrderNotFound()
    return order


def _move(actor: Actor, order: MallOrder, status: MallOrderStatus, changes: dict) -> MallOrder:
    changes = {"status": [order.status, status], **changes}
    order.status = status
    order.updated_at = utcnow()
    audit(actor, f"mall_order.{status.value}", order, changes)
    return order


def ship(*, actor: Actor, order_id: int, tracking_no: str) -> MallOrder:
    """A placed physical order is shipped (the same tracking number again answers it as it is)."""
    order = get_order(order_id, lock=True)
    if order.status is MallOrderStatus.SHIPPED and order.tracking_no == tracking_no:
        return order
    if order.status is not MallOrderStatus.PLACED:
        raise rules.MallOrderState(f"A {order.status.value} order can't be shipped.")
    changes = {"tracking_no": [order.tracking_no, tracking_no]}
    order.tracking_no = tracking_no
    return _move(actor, order, MallOrderStatus.SHIPPED, changes)


def deliver(*, actor: Actor, order_id: int) -> MallOrder:
    order = get_order(order_id, lock=True)
    if order.status is MallOrderStatus.DELIVERED:
        return order
    if order.status is not MallOrderStatus.SHIPPED:
        raise rules.MallOrderState(f"A {order.status.value} order can't be delivered; ship it first.")
    return _move(actor, order, MallOrderStatus.DELIVERED, {})


CANCELLABLE = (MallOrderStatus.PLACED, MallOrderStatus.SHIPPED, MallOrderStatus.ISSUED)


def cancel(*, actor: Actor, order_id: int, reason: str = "", now: datetime | None = None) -> MallOrder:
    """Cancel an order: its points go back (source ``mall-refund:<id>``) and its stock, once."""
    order = get_order(order_id, lock=True)
    if order.status is MallOrderStatus.CANCELLED:
        return order
    if order.status not in CANCELLABLE:
        raise rules.MallOrderState(f"A {order.status.value} order can't be cancelled.")
    db.session.execute(sa.update(MallItem).where(MallItem.id == order.item_id, MallItem.sold >= order.quantity)
                       .values(sold=MallItem.sold - order.quantity, updated_at=utcnow()))
    earn(app_user_id=order.app_user_id, points=order.points, source=f"mall-refund:{order.id}",
         note=f"Mall order {order.id} cancelled", now=now)
    return _move(actor, order, MallOrderStatus.CANCELLED, {"reason": [None, reason]})
