"""Fixtures shared by the service tests."""
from __future__ import annotations

import pytest

from app.db import transaction
from app.masterdata import places
from tests.masterdata_factories import ACTOR, make_dealer, make_product, make_store
from tests.order_factories import Channel
from tests.production_factories import make_production_lot


@pytest.fixture
def channel(app) -> Channel:
    """A brand warehouse, a two-tier dealer chain with its stores, and two products (see Channel)."""
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "Brand DC", "external_id": "WH-1"})
    province = make_dealer(external_id="D-PROV")
    city = make_dealer(parent_id=province.id, external_id="D-CITY")
    other_city = make_dealer(parent_id=make_dealer().id)
    store = make_store(dealer_ids=[city.id], external_id="S-1")
    lonely = make_store()
    product, product2 = make_product(), make_product(external_id="P-2")
    lot = make_production_lot(product_id=product.id)
    return Channel(warehouse.id, province.id, city.id, other_city.id, store.id, lonely.id, product.sku,
                   product2.sku, lot.lot_no)
