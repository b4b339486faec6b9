import pytest
import sqlalchemy as sa

from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.masterdata import places, stores
from tests.masterdata_factories import (
    ACTOR, BEIJING, DONGCHENG, HANGZHOU, XIHU, ZHEJIANG, make_dealer, make_factory, make_store,
)


def _refused(fn, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        with transaction():
            fn(actor=ACTOR, **kwargs)
    return caught.value


def test_a_store_sits_in_a_city_or_district(app):
    assert make_store(region_code=HANGZHOU).region_code == HANGZHOU
    error = _refused(stores.create_store, data={"name": "s", "region_code": BEIJING})
    assert (error.status, error.code) == (422, "region_level_invalid")
    error = _refused(stores.create_store, data={"name": "s", "region_code": "110199000000"})
    assert (error.status, error.code) == (422, "region_unknown")
    assert _refused(stores.create_store, data={"name": "s"}).code == "field_required"


@pytest.mark.parametrize("longitude, latitude", [(181, 30), (120, -91), (120, None), (float("nan"), 3)])
def test_coordinates_come_in_pairs_and_in_range(app, longitude, latitude):
    error = _refused(stores.create_store, data={"name": "s", "region_code": XIHU,
                                                "longitude": longitude, "latitude": latitude})
    assert (error.status, error.code) == (422, "coordinates_invalid")


def test_changing_one_coordinate_keeps_the_other(app):
    store = make_store(longitude=116.4, latitude=39.9)
    with transaction():
        stores.update_store(actor=ACTOR, store_id=store.id, changes={"latitude": 39.95})
    assert (store.longitude, store.latitude) == (116.4, 39.95)


def test_a_store_is_served_by_existing_dealers(app):
    first, second = make_dealer(), make_dealer()
    store = make_store(dealer_ids=[first.id])
    error = _refused(stores.update_store, store_id=store.id, changes={"dealer_ids": [second.id, 4242]})
    assert (error.status, error.code) == (422, "dealer_unknown")
    with transaction():
        stores.update_store(actor=ACTOR, store_id=store.id, changes={"dealer_ids": [second.id, first.id]})
    assert sorted(d.id for d in store.dealers) == sorted([first.id, second.id])
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "store.update")).one()
    assert record.changes == {"dealer_ids": [[first.id], sorted([first.id, second.id])]}


def test_stores_are_listed_by_region_inside_and_by_dealer(app):
    dealer = make_dealer()
    in_xihu = make_store(region_code=XIHU, dealer_ids=[dealer.id])
    in_hangzhou = make_store(region_code=HANGZHOU)
    make_store(region_code=DONGCHENG)
    def ids(**filters):
        return [s.id for s in db.session.scalars(stores.list_stores(**filters))]
    assert ids(region_code=ZHEJIANG) == [in_xihu.id, in_hangzhou.id]
    assert ids(region_code=HANGZHOU) == [in_xihu.id, in_hangzhou.id]
    assert ids(region_code=XIHU) == [in_xihu.id]
    assert ids(dealer_id=dealer.id) == [in_xihu.id]


def test_production_line_codes_are_unique_per_factory(app):
    factory, other = make_factory(), make_factory()
    with transaction():
        places.create_production_line(actor=ACTOR, data={"factory_id": factory.id, "code": "L1", "name": "Line 1"})
        places.create_production_line(actor=ACTOR, data={"factory_id": other.id, "code": "L1", "name": "Line 1"})
    error = _refused(places.create_production_line, data={"factory_id": factory.id, "code": "L1", "name": "x"})
    assert (error.status, error.code) == (422, "line_code_taken")
    error = _refused(places.create_production_line, data={"factory_id": 999, "code": "L2", "name": "x"})
    assert error.code == "factory_unknown"


def test_a_warehouse_belongs_to_an_existing_factory_or_none(app):
    factory = make_factory(region_code=HANGZHOU)
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "W", "factory_id": factory.id})
    assert warehouse.factory_id == factory.id
    error = _refused(places.update_warehouse, warehouse_id=warehouse.id, changes={"factory_id": 999})
    assert error.code == "factory_unknown"
    error = _refused(places.update_warehouse, warehouse_id=warehouse.id, changes={"region_code": "1"})
    assert error.code == "region_unknown"
