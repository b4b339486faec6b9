"""The brand's view of the channel's shipments (written by the shipment and receipt services): every
shipment inside the back-office user's data scope, its receipt and what the receipt found wrong."""
from __future__ import annotations

import sqlalchemy as sa

from app.channel.errors import ShipmentNotFound
from app.channel.models import Discrepancy, Receipt, Shipment
from app.channel.orders import party_in
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope


def _shipment_in(scope: DataScope):
    """A shipment is in a data scope when its shipper or its receiver is."""
    if scope.national:
        return sa.true()
    return sa.or_(party_in(scope, Shipment.shipper_kind, Shipment.shipper_id),
                  party_in(scope, Shipment.receiver_kind, Shipment.receiver_id))


def list_shipments(*, status=None, order_id=None, shipper_kind=None, shipper_id=None, receiver_kind=None,
                   receiver_id=None, scope: DataScope = NATIONAL):
    """A select of shipments, newest first."""
    query = sa.select(Shipment).where(_shipment_in(scope)).order_by(Shipment.id.desc())
    for column, value in ((Shipment.status, status), (Shipment.order_id, order_id),
                          (Shipment.shipper_kind, shipper_kind), (Shipment.shipper_id, shipper_id),
                          (Shipment.receiver_kind, receiver_kind), (Shipment.receiver_id, receiver_id)):
        if value is not None:
            query = query.where(column == value)
    return query


def get_shipment(shipment_id: int, *, scope: DataScope = NATIONAL) -> Shipment:
    """A shipment (404 ``shipment_not_found``, also outside the data scope)."""
    shipment = db.session.get(Shipment, shipment_id)
    if shipment is None or not (scope.national or db.session.scalar(
            sa.select(Shipment.id).where(Shipment.id == shipment_id, _shipment_in(scope)))):
        raise ShipmentNotFound()
    return shipment


def shipment_receipt(shipment_id: int) -> Receipt | None:
    return db.session.scalar(sa.select(Receipt).where(Receipt.shipment_id == shipment_id))


def shipment_discrepancies(*, shipment_id: int, kind=None, scope: DataScope = NATIONAL):
    """A select of what the shipment's receipt found wrong (missing, extra, damaged)."""
    get_shipment(shipment_id, scope=scope)
    query = sa.select(Discrepancy).where(Discrepancy.shipment_id == shipment_id).order_by(Discrepancy.id)
    return query.where(Discrepancy.kind == kind) if kind is not None else query
