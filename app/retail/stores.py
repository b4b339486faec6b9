"""A clerk's store: the membership that makes a user its clerk, and the shipments the store receives
(the dealer helper's receipts, for a store)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts.models import AppUser, MembershipStatus, StoreMembership
from app.channel import receipts
from app.channel.models import PartyKind, Shipment, ShipmentScan, ShipmentUnit
from app.extensions import db
from app.masterdata.models import Product, Status
from app.retail.errors import NoStore


def actor_label(user: AppUser) -> str:
    return f"app_user:{user.id}"


def current_store(*, user: AppUser) -> StoreMembership:
    """The user's approved membership of an active store, or 403 ``no_store``."""
    membership = db.session.scalar(sa.select(StoreMembership).where(
        StoreMembership.app_user_id == user.id, StoreMembership.status == MembershipStatus.APPROVED))
    if membership is None or membership.store.status is not Status.ACTIVE:
        raise NoStore()
    return membership


def pending_receipts(*, store_id: int):
    return receipts.pending_receipts(receiver_kind=PartyKind.STORE, receiver_id=store_id)


@dataclass(slots=True)
class ContentLine:
    product_id: int
    sku: str
    product_name: str
    lot_id: int | None
    items: int


@dataclass(slots=True)
class ShipmentContents:
    shipment: Shipment
    lines: list[ContentLine]
    scans: list[ShipmentScan]


def receivable(*, store_id: int, shipment_id: int) -> ShipmentContents:
    """A shipment to my store with what it should hold: items per product and lot, and the codes scanned."""
    shipment = receipts.get_receivable(receiver_kind=PartyKind.STORE, receiver_id=store_id, shipment_id=shipment_id)
    lines = [ContentLine(product_id, sku, name, lot_id, items) for product_id, sku, name, lot_id, items in
             db.session.execute(
                 sa.select(ShipmentUnit.product_id, Product.sku, Product.name, ShipmentUnit.lot_id,
                           sa.func.count(ShipmentUnit.id))
                 .join(Product, Product.id == ShipmentUnit.product_id)
                 .where(ShipmentUnit.shipment_id == shipment.id)
                 .group_by(ShipmentUnit.product_id, Product.sku, Product.name, ShipmentUnit.lot_id)
                 .order_by(ShipmentUnit.product_id, ShipmentUnit.lot_id))]
    scans = list(db.session.scalars(sa.select(ShipmentScan).where(
        ShipmentScan.shipment_id == shipment.id, ShipmentScan.undone_at.is_(None)).order_by(ShipmentScan.id)))
    return ShipmentContents(shipment, lines, scans)


def confirm_store_receipt(*, user: AppUser, store_id: int, shipment_id: int, codes: list[str] | None = None,
                          damaged: list[str] = (), note: str = ""):
    """My store confirms a shipment (whole, or the codes scanned in)."""
    receipt = receipts.confirm_receipt(actor_label=actor_label(user), receiver_kind=PartyKind.STORE,
                                       receiver_id=store_id, shipment_id=shipment_id, codes=codes,
                                       damaged=damaged, note=note)
    found = receipts.discrepancies(shipment_id=shipment_id)
    return receipt, list(db.session.scalars(found) if isinstance(found, sa.Select) else found)
