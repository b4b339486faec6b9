import pytest
import sqlalchemy as sa

from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.masterdata import products as masterdata_products, records
from app.masterdata.models import Product, Status
from tests.masterdata_factories import ACTOR, gtin13, make_product


def _refused(fn, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        with transaction():
            fn(actor=ACTOR, **kwargs)
    return caught.value


def test_a_gtin_13_is_stored_as_gtin_14(app):
    product = make_product(gtin="6901234567892")
    assert product.gtin == "06901234567892"


@pytest.mark.parametrize("gtin", ["6901234567891", "12345", "69012345678a2"])
def test_a_bad_gtin_is_refused(app, gtin):
    error = _refused(masterdata_products.create_product, data={"sku": "A", "name": "A", "gtin": gtin})
    assert (error.status, error.code) == (422, "gtin_invalid")
    assert db.session.scalar(sa.select(Product)) is None


def test_gtin_sku_and_external_id_are_unique(app):
    make_product(sku="ABC-1", gtin=gtin13(1), external_id="ERP-1")
    assert _refused(masterdata_products.create_product, data={"sku": "abc-1", "name": "x"}).code == "sku_taken"
    assert _refused(masterdata_products.create_product,
                    data={"sku": "B", "name": "x", "gtin": "0" + gtin13(1)}).code == "gtin_taken"
    assert _refused(masterdata_products.create_product,
                    data={"sku": "B", "name": "x", "external_id": "ERP-1"}).code == "external_id_taken"


@pytest.mark.parametrize("field, value, code", [
    ("units_per_case", 0, "packaging_invalid"),
    ("cases_per_pallet", -3, "packaging_invalid"),
    ("shelf_life_days", 0, "shelf_life_invalid"),
    ("image_url", "javascript:alert(1)", "image_url_invalid"),
    ("image_url", "ftp://cdn.example.com/a.png", "image_url_invalid"),
    ("name", "  ", "field_required"),
])
def test_product_rules(app, field, value, code):
    data = {"sku": "S", "name": "N", field: value}
    error = _refused(masterdata_products.create_product, data=data)
    assert (error.status, error.code) == (422, code)
    assert field in error.errors


def test_an_update_audits_only_the_fields_that_changed(app):
    product = make_product(units_per_case=12, cases_per_pallet=40)
    with transaction():
        masterdata_products.update_product(actor=ACTOR, product_id=product.id,
                                           changes={"units_per_case": 24, "cases_per_pallet": 40, "name": product.name})
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "product.update")).one()
    assert record.changes == {"units_per_case": [12, 24]}
    assert record.entity_type == "products" and record.entity_id == str(product.id)
    assert record.actor_name == "tests"


def test_an_update_that_changes_nothing_writes_no_audit_record(app):
    product = make_product(specification="500ml")
    with transaction():
        masterdata_products.update_product(actor=ACTOR, product_id=product.id, changes={"specification": "500ml"})
    actions = db.session.scalars(sa.select(AuditRecord.action)).all()
    assert actions == ["product.create"]


def test_a_product_is_deactivated_once_and_can_come_back(app):
    product = make_product()
    for _ in range(2):
        with transaction():
            masterdata_products.deactivate_product(actor=ACTOR, product_id=product.id)
    assert product.status is Status.INACTIVE
    with transaction():
        masterdata_products.reactivate_product(actor=ACTOR, product_id=product.id)
    actions = db.session.scalars(sa.select(AuditRecord.action).order_by(AuditRecord.id)).all()
    assert actions == ["product.create", "product.deactivate", "product.reactivate"]


def test_an_unknown_product_is_404(app):
    with pytest.raises(DomainError) as caught:
        masterdata_products.get_product(999)
    assert (caught.value.status, caught.value.code) == (404, "product_not_found")


def test_a_key_taken_by_a_concurrent_request_is_a_409_not_a_500(app, monkeypatch):
    make_product(external_id="ERP-1")
    # As if the other request committed after our check ran.
    monkeypatch.setattr(records, "_external_id", lambda model, value, current: value)
    error = _refused(masterdata_products.create_product, data={"sku": "OTHER", "name": "x", "external_id": "ERP-1"})
    assert (error.status, error.code) == (409, "concurrent_change")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Product)) == 1
