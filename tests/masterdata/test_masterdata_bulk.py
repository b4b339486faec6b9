import pytest
import sqlalchemy as sa

from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.masterdata import bulk_upserts
from app.masterdata.models import Dealer, Product, Store
from tests.masterdata_factories import ACTOR, DONGCHENG, XIHU, ZHEJIANG, gtin13, make_dealer


def _upsert(fn, records):
    with transaction():
        return [(r.external_id, r.result) for r in fn(actor=ACTOR, records=records)]


def _rejected(fn, records) -> DomainError:
    with pytest.raises(DomainError) as caught:
        _upsert(fn, records)
    return caught.value


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


PRODUCTS = [
    {"external_id": "P1", "sku": "S1", "name": "Baijiu 500ml", "gtin": gtin13(1), "units_per_case": 6},
    {"external_id": "P2", "sku": "S2", "name": "Baijiu 250ml", "gtin": gtin13(2), "units_per_case": 12},
]


def test_upserting_the_same_products_twice_changes_nothing_the_second_time(app):
    assert _upsert(bulk_upserts.bulk_upsert_products, PRODUCTS) == [("P1", "created"), ("P2", "created")]
    audits = _count(AuditRecord)
    assert _upsert(bulk_upserts.bulk_upsert_products, PRODUCTS) == [("P1", "unchanged"), ("P2", "unchanged")]
    assert _count(AuditRecord) == audits == 2
    changed = [{**PRODUCTS[0], "units_per_case": 8}, PRODUCTS[1]]
    assert _upsert(bulk_upserts.bulk_upsert_products, changed) == [("P1", "updated"), ("P2", "unchanged")]


def test_one_bad_item_rejects_the_batch_and_nothing_is_written(app):
    bad = [PRODUCTS[0], {**PRODUCTS[1], "gtin": "6900000000000"}, {"external_id": "P3", "sku": "S1", "name": "x"}]
    error = _rejected(bulk_upserts.bulk_upsert_products, bad)
    assert (error.status, error.code) == (422, "batch_rejected")
    assert error.errors["items"] == [
        {"index": 1, "external_id": "P2", "code": "gtin_invalid", "message": error.errors["items"][0]["message"]},
        {"index": 2, "external_id": "P3", "code": "sku_taken", "message": error.errors["items"][1]["message"]},
    ]
    assert _count(Product) == 0 and _count(AuditRecord) == 0


def test_the_same_external_id_twice_in_a_batch_is_refused(app):
    error = _rejected(bulk_upserts.bulk_upsert_products, [PRODUCTS[0], {**PRODUCTS[1], "external_id": "P1"}])
    assert (error.status, error.code) == (422, "external_id_duplicate")


def test_dealers_may_name_a_parent_that_comes_later_in_the_batch(app):
    records = [
        {"external_id": "D3", "name": "District dealer", "parent_external_id": "D2", "tier": 3},
        {"external_id": "D2", "name": "City dealer", "parent_external_id": "D1", "territory": [XIHU]},
        {"external_id": "D1", "name": "Provincial dealer", "territory": [ZHEJIANG]},
    ]
    assert _upsert(bulk_upserts.bulk_upsert_dealers, records) == [("D3", "created"), ("D2", "created"), ("D1", "created")]
    tiers = dict(db.session.execute(sa.select(Dealer.external_id, Dealer.tier)).all())
    assert tiers == {"D1": 1, "D2": 2, "D3": 3}
    assert [r for _, r in _upsert(bulk_upserts.bulk_upsert_dealers, records)] == ["unchanged"] * 3


def test_a_loop_of_parents_inside_a_batch_is_refused(app):
    records = [{"external_id": "A", "name": "A", "parent_external_id": "B"},
               {"external_id": "B", "name": "B", "parent_external_id": "A"},
               {"external_id": "C", "name": "C"}]
    error = _rejected(bulk_upserts.bulk_upsert_dealers, records)
    assert [(i["external_id"], i["code"]) for i in error.errors["items"]] == [
        ("A", "dealer_parent_cycle"), ("B", "dealer_parent_cycle")]
    assert _count(Dealer) == 0


def test_a_batch_cannot_close_a_loop_with_dealers_already_stored(app):
    top = make_dealer(external_id="TOP")
    make_dealer(external_id="MID", parent_id=top.id)
    error = _rejected(bulk_upserts.bulk_upsert_dealers,
                      [{"external_id": "TOP", "name": top.name, "parent_external_id": "MID"}])
    assert error.errors["items"][0]["code"] == "dealer_parent_cycle"


def test_stores_name_their_dealers_by_external_id(app):
    make_dealer(external_id="D1")
    records = [{"external_id": "S1", "name": "Shop", "region_code": DONGCHENG, "dealer_external_ids": ["D1"]}]
    assert _upsert(bulk_upserts.bulk_upsert_stores, records) == [("S1", "created")]
    assert [d.external_id for d in db.session.scalar(sa.select(Store)).dealers] == ["D1"]
    assert _upsert(bulk_upserts.bulk_upsert_stores, records) == [("S1", "unchanged")]
    error = _rejected(bulk_upserts.bulk_upsert_stores, [{**records[0], "dealer_external_ids": ["D1", "NOPE"]}])
    assert error.errors["items"][0]["code"] == "dealer_unknown"


def test_external_ids_match_exactly_even_where_the_database_ignores_case(app):
    records = [{"external_id": "erp-1", "sku": "S1", "name": "lower"},
               {"external_id": "ERP-1", "sku": "S2", "name": "upper"}]
    assert _upsert(bulk_upserts.bulk_upsert_products, records) == [("erp-1", "created"), ("ERP-1", "created")]
    names = dict(db.session.execute(sa.select(Product.external_id, Product.name)).all())
    assert names == {"erp-1": "lower", "ERP-1": "upper"}
