"""The EPCIS tests' world: the same master data and code batches in any database (a partner's copy too),
and the EPCIS endpoints' paths."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.codes import service as codes
from app.db import transaction
from app.masterdata import dealers, products
from app.masterdata import places as masterdata_places
from app.production import service as production
from tests.masterdata_factories import ACTOR

QUERY = "/api/integration/epcis/events"
CAPTURE = "/api/integration/epcis/capture"
LINE = "/api/integration/line"
SCANS = "/api/integration/warehouse/scans"
GTIN = "06901234567892"


@dataclass
class World:
    line: int
    lot: int
    warehouse: int
    dealer: int
    items: list[str]
    case: str
    pallet: str


def build_world(app) -> World:
    """The same master data and code batches in any database: places carry external ids, the lot its number."""
    app.config["GS1_COMPANY_PREFIX"] = "6901234"
    with transaction():
        product = products.create_product(actor=ACTOR, data={"sku": "RT-1", "name": "Round trip", "gtin": GTIN,
                                                               "units_per_case": 2, "cases_per_pallet": 2})
        factory = masterdata_places.create_factory(actor=ACTOR, data={"name": "F"})
        line = masterdata_places.create_production_line(actor=ACTOR, data={"factory_id": factory.id, "code": "L-RT",
                                                                    "name": "Line", "external_id": "LINE-1"})
        warehouse = masterdata_places.create_warehouse(actor=ACTOR, data={"name": "W", "factory_id": factory.id,
                                                                   "external_id": "WH-1"})
        dealer = dealers.create_dealer(actor=ACTOR, data={"name": "D", "external_id": "DL-1"})
    with transaction():
        lot = production.create_production_lot(actor=ACTOR, data={
            "product_id": product.id, "factory_id": factory.id, "line_id": line.id, "lot_no": "LOT-RT",
            "production_date": date(2026, 3, 2)})
    batches = []
    for level, count in (("item", 3), ("case", 1), ("pallet", 1)):
        with transaction():
            batch, _ = codes.issue_batch(actor=ACTOR, product_id=product.id, level=level, count=count)
        batches.append([codes.keyring().encode(batch.serial_start + i, batch.key_version) for i in range(count)])
    return World(line.id, lot.id, warehouse.id, dealer.id, batches[0], batches[1][0], batches[2][0])
