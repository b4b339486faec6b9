"""Production factories: a factory with a line, materials, suppliers, lots; each committed like a use case."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timezone

from app.db import transaction
from app.masterdata import places
from app.production import service
from tests.masterdata_factories import ACTOR, make_factory, make_product

_counter = itertools.count(1)
RECEIVED = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def make_line(factory_id: int, **data):
    with transaction():
        return places.create_production_line(actor=ACTOR, data={
            "factory_id": factory_id, "code": f"L{next(_counter)}", "name": "Line", **data})


def make_production_lot(**data):
    product_id = data.pop("product_id", None) or make_product().id
    factory_id = data.pop("factory_id", None) or make_factory().id
    with transaction():
        return service.create_production_lot(actor=ACTOR, data={
            "product_id": product_id, "factory_id": factory_id, "lot_no": f"L{next(_counter)}",
            "production_date": date(2026, 3, 2), **data})


def make_material(**data):
    n = next(_counter)
    with transaction():
        return service.create_material(actor=ACTOR, data={"code": f"M-{n}", "name": f"Material {n}", **data})


def make_supplier(**data):
    with transaction():
        return service.create_supplier(actor=ACTOR, data={"name": f"Supplier {next(_counter)}", **data})


def make_raw_lot(inspection_result="passed", **data):
    material_id = data.pop("material_id", None) or make_material().id
    supplier_id = data.pop("supplier_id", None) or make_supplier().id
    with transaction():
        return service.create_raw_material_lot(actor=ACTOR, data={
            "material_id": material_id, "supplier_id": supplier_id, "lot_no": f"R{next(_counter)}",
            "received_at": RECEIVED, "inspection_result": inspection_result, **data})
