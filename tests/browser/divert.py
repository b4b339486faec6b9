"""Raise one diversion alert on the demo data (the browser journey's setup): an item the demo's
Hangzhou dealer received, seen by a consumer in Beijing's Dongcheng district, outside its territory.
Run with the server's environment: `python -m tests.browser.divert [district adcode]`; prints the alerts
raised (one per item and place: seeing it in the same place again raises none)."""
from __future__ import annotations

import sys

import sqlalchemy as sa

from app import create_app
from app.channel import diversion
from app.channel.models import SeenKind, Shipment, ShipmentUnit
from app.db import transaction, utcnow
from app.extensions import db
from app.units import unit_rows

DONGCHENG = "110101000000"


def main(region_code: str = DONGCHENG) -> None:
    with create_app().app_context():
        with transaction():
            # The last shipment to a dealer: its items' last dealer is that dealer.
            shipment = db.session.scalars(sa.select(Shipment).where(Shipment.receiver_kind == "dealer")
                                          .order_by(Shipment.id.desc()).limit(1)).one()
            serial = db.session.scalars(sa.select(ShipmentUnit.serial).where(ShipmentUnit.shipment_id == shipment.id)
                                        .order_by(ShipmentUnit.serial).limit(1)).one()
            units = list(unit_rows.load_units([serial], lock=False).values())
            print(diversion.check(units=units, seen_kind=SeenKind.CONSUMER_SCAN, place_kind="region", place_id=None,
                                  region_code=region_code, seen_by="consumer:demo", seen_at=utcnow()))


if __name__ == "__main__":
    main(*sys.argv[1:2])
