"""The points mall: items the back office offers, and the orders consumers pay for with points.

An order takes the item's stock by a guarded UPDATE and spends its points through the ledger
(app.points.ledger), once per (consumer, request id); cancelling it gives both back, once.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.consumers import blacklist
from app.db import insert_once, utcnow
from app.extensions import db
from app.identity.service import Actor, apply_changes, audit
from app.masterdata.models import Region
from app.platform.filters import Filters
from app.points.errors import (
    AddressInvalid, ConsumerBlocked, MallItemInvalid, MallItemNotFound, MallItemSoldOut, MallOrderNotFound,
    MallOrderState, RequestReused,
)
from app.points.ledger import earn, spend
from app.points.models import MallItem, MallItemKind, MallOrder, MallOrderStatus


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
        raise MallItemInvalid(errors=errors)


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
        raise MallItemNotFound()
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
        raise AddressInvalid(errors={"address": ["A physical item needs a shipping address."]})
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
        raise AddressInvalid(errors={"address": errors})
    return clean


def _order_by_request(app_user_id: int, request_id: str, *, lock: bool = False) -> MallOrder | None:
    query = sa.select(MallOrder).where(MallOrder.app_user_id == app_user_id, MallOrder.request_id == request_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _repeat(order: MallOrder, item_id: int, quantity: int) -> MallOrder:
    if order.item_id != item_id or order.quantity != quantity:
        raise RequestReused()
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
        raise MallItemInvalid(errors={"quantity": ["At least 1."]})
    if blacklist.is_blocked(app_user.openid):
        raise ConsumerBlocked()
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
        raise MallItemSoldOut()
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
        raise MallOrderNotFound()
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
        raise MallOrderNotFound()
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
        raise MallOrderState(f"A {order.status.value} order can't be shipped.")
    changes = {"tracking_no": [order.tracking_no, tracking_no]}
    order.tracking_no = tracking_no
    return _move(actor, order, MallOrderStatus.SHIPPED, changes)


def deliver(*, actor: Actor, order_id: int) -> MallOrder:
    order = get_order(order_id, lock=True)
    if order.status is MallOrderStatus.DELIVERED:
        return order
    if order.status is not MallOrderStatus.SHIPPED:
        raise MallOrderState(f"A {order.status.value} order can't be delivered; ship it first.")
    return _move(actor, order, MallOrderStatus.DELIVERED, {})


CANCELLABLE = (MallOrderStatus.PLACED, MallOrderStatus.SHIPPED, MallOrderStatus.ISSUED)


def cancel(*, actor: Actor, order_id: int, reason: str = "", now: datetime | None = None) -> MallOrder:
    """Cancel an order: its points go back (source ``mall-refund:<id>``) and its stock, once."""
    order = get_order(order_id, lock=True)
    if order.status is MallOrderStatus.CANCELLED:
        return order
    if order.status not in CANCELLABLE:
        raise MallOrderState(f"A {order.status.value} order can't be cancelled.")
    db.session.execute(sa.update(MallItem).where(MallItem.id == order.item_id, MallItem.sold >= order.quantity)
                       .values(sold=MallItem.sold - order.quantity, updated_at=utcnow()))
    earn(app_user_id=order.app_user_id, points=order.points, source=f"mall-refund:{order.id}",
         note=f"Mall order {order.id} cancelled", now=now)
    return _move(actor, order, MallOrderStatus.CANCELLED, {"reason": [None, reason]})
