"""A product with a GTIN and two commissioned items, and the Accept headers a browser and a machine send
to the GS1 Digital Link resolver."""
from __future__ import annotations

from datetime import date

import pytest

from app import gs1
from tests.masterdata_factories import make_factory, make_product
from tests.production_factories import make_production_lot
from tests.unit_factories import commission

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
LINKSET = {"Accept": "application/linkset+json"}


@pytest.fixture
def tea():
    body = "690123456789"  # a GTIN-13 without its check digit
    gtin13 = body + str(gs1.check_digit(body))
    product = make_product(name="Jasmine Tea", specification="250 g", gtin=gtin13)
    lot = make_production_lot(product_id=product.id, factory_id=make_factory(region_code="330106000000").id,
                              lot_no="L2026-03", expiry_date=date(2027, 3, 2))
    return {"gtin13": gtin13, "gtin": "0" + gtin13, "product": product, "items": commission(lot, 2)}
