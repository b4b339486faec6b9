from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.production import service
from app.production.models import InspectionResult, LotStatus
from tests.concurrency import at_once, meeting_in, results_and_errors
from tests.masterdata_factories import ACTOR, make_factory, make_product
from tests.production_factories import (
    make_line, make_material, make_production_lot, make_raw_lot, make_supplier,
)


def _code(fn, **kwargs) -> str:
    with pytest.raises(DomainError) as info, transaction():
        fn(actor=ACTOR, **kwargs)
    return info.value.code


def _actions(entity_type: str) -> list[str]:
    return list(db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.entity_type == entity_type)
                                   .order_by(AuditRecord.id)))


def test_expiry_defaults_to_production_date_plus_shelf_life():
    lot = make_production_lot(product_id=make_product(shelf_life_days=365).id, production_date=date(2026, 3, 2))
    assert lot.expiry_date == date(2027, 3, 2)


def test_a_product_without_shelf_life_gives_no_expiry_unless_one_is_given():
    assert make_production_lot(product_id=make_product().id).expiry_date is None
    assert make_production_lot(expiry_date=date(2026, 9, 1)).expiry_date == date(2026, 9, 1)


def test_expiry_must_be_after_production():
    data = {"product_id": make_product().id, "factory_id": make_factory().id, "lot_no": "A1",
            "production_date": date(2026, 3, 2), "expiry_date": date(2026, 3, 2)}
    assert _code(service.create_production_lot, data=data) == "expiry_before_production"


def test_unknown_product_and_factory_are_refused():
    factory = make_factory()
    base = {"lot_no": "A1", "production_date": date(2026, 3, 2)}
    assert _code(service.create_production_lot, data={**base, "product_id": 999_999, "factory_id": factory.id}) \
        == "product_unknown"
    assert _code(service.create_production_lot, data={**base, "product_id": make_product().id,
                                                       "factory_id": 999_999}) == "factory_unknown"


def test_the_line_must_belong_to_the_lot_factory():
    factory, other = make_factory(), make_factory()
    line = make_line(other.id)
    data = {"product_id": make_product().id, "factory_id": factory.id, "line_id": line.id,
            "lot_no": "A1", "production_date": date(2026, 3, 2)}
    assert _code(service.create_production_lot, data=data) == "line_not_in_factory"
    lot = make_production_lot(factory_id=other.id, line_id=line.id, shift="night")
    assert (lot.line_id, lot.shift) == (line.id, "night")
    assert _code(service.update_production_lot, lot_id=lot.id, changes={"factory_id": factory.id}) \
        == "line_not_in_factory"


def test_a_lot_number_is_unique_per_product_only():
    product = make_product()
    make_production_lot(product_id=product.id, lot_no="B-7")
    data = {"product_id": product.id, "factory_id": make_factory().id, "lot_no": "B-7",
            "production_date": date(2026, 3, 2)}
    assert _code(service.create_production_lot, data=data) == "lot_no_taken"
    assert make_production_lot(lot_no="B-7").lot_no == "B-7"  # another product
    assert make_production_lot(product_id=product.id, lot_no="b-7").lot_no == "b-7"  # exact match


def test_a_closed_lot_refuses_changes_and_consumption_until_reopened():
    lot, raw = make_production_lot(), make_raw_lot()
    with transaction():
        service.close_production_lot(actor=ACTOR, lot_id=lot.id)
    assert lot.status is LotStatus.CLOSED and lot.closed_at is not None
    assert _code(service.update_production_lot, lot_id=lot.id, changes={"shift": "B"}) == "production_lot_closed"
    assert _code(service.add_consumption, lot_id=lot.id, raw_lot_id=raw.id) == "production_lot_closed"
    with transaction():
        service.reopen_production_lot(actor=ACTOR, lot_id=lot.id)
        service.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=raw.id)
    assert lot.status is LotStatus.OPEN and lot.closed_at is None
    assert _actions("production_lots") == ["production_lot.create", "production_lot.close",
                                           "production_lot.reopen", "production_lot.consume"]


def test_a_failed_raw_material_lot_cannot_be_consumed():
    lot, raw = make_production_lot(), make_raw_lot("failed")
    assert _code(service.add_consumption, lot_id=lot.id, raw_lot_id=raw.id) == "raw_material_lot_failed_inspection"


def test_a_pending_lot_waits_for_inspection_and_a_conditional_one_may_be_used():
    lot, pending, conditional = make_production_lot(), make_raw_lot("pending"), make_raw_lot("conditional")
    assert pending.inspected_at is None
    assert _code(service.add_consumption, lot_id=lot.id, raw_lot_id=pending.id) == "raw_material_lot_not_inspected"
    with transaction():
        service.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=conditional.id)
        service.record_inspection(actor=ACTOR, raw_lot_id=pending.id, result="passed", note="ok")
        service.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=pending.id, quantity="12.5")
    assert pending.inspection_result is InspectionResult.PASSED and pending.inspected_at is not None
    assert [c.raw_material_lot_id for c in service.consumptions_of_production_lot(lot.id)] \
        == [conditional.id, pending.id]
    assert "raw_material_lot.inspect" in _actions("raw_material_lots")


def test_consumption_traces_back_and_forward():
    flour = make_raw_lot(quantity="1000")
    lot_a, lot_b, lot_c = make_production_lot(), make_production_lot(), make_production_lot()
    with transaction():
        service.add_consumption(actor=ACTOR, lot_id=lot_a.id, raw_lot_id=flour.id, quantity=Decimal("400"))
        service.add_consumption(actor=ACTOR, lot_id=lot_b.id, raw_lot_id=flour.id, quantity=Decimal("250.125"))
    back = service.consumptions_of_production_lot(lot_a.id)
    assert [(c.raw_material_lot.id, c.raw_material_lot.material.code, c.quantity) for c in back] \
        == [(flour.id, flour.material.code, Decimal("400.000"))]
    forward = service.consumptions_of_raw_material_lot(flour.id)
    assert [(c.production_lot.id, c.quantity) for c in forward] == [(lot_a.id, Decimal("400.000")),
                                                                     (lot_b.id, Decimal("250.125"))]
    assert sorted(service.production_lot_ids_using([flour.id])) == [lot_a.id, lot_b.id]
    assert service.consumptions_of_production_lot(lot_c.id) == []


def test_recording_the_same_consumption_again_changes_nothing_and_removal_is_audited():
    lot, raw = make_production_lot(), make_raw_lot()
    with transaction():
        _, first = service.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=raw.id, quantity="3")
    with transaction():
        _, again = service.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=raw.id, quantity="3.000")
    assert (first, again) == ("created", "unchanged")
    with transaction():
        service.remove_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=raw.id)
    assert service.consumptions_of_production_lot(lot.id) == []
    assert _code(service.remove_consumption, lot_id=lot.id, raw_lot_id=raw.id) == "consumption_unknown"
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "production_lot.unconsume")).one()
    assert record.changes == {"raw_material_lot_id": [raw.id, None], "quantity": ["3.000", None]}


def test_quantities_are_non_negative_with_at_most_three_decimals():
    lot, raw = make_production_lot(), make_raw_lot()
    for bad in ("-1", "0.0001", "1e20", "NaN"):
        assert _code(service.add_consumption, lot_id=lot.id, raw_lot_id=raw.id, quantity=bad) == "quantity_invalid"


def test_raw_material_lot_numbers_are_unique_per_material_and_supplier():
    material, supplier = make_material(), make_supplier()
    make_raw_lot(material_id=material.id, supplier_id=supplier.id, lot_no="S-1")
    assert make_raw_lot(material_id=material.id, lot_no="S-1").lot_no == "S-1"  # another supplier
    from tests.production_factories import RECEIVED
    data = {"material_id": material.id, "supplier_id": supplier.id, "lot_no": "S-1", "received_at": RECEIVED}
    assert _code(service.create_raw_material_lot, data=data) == "lot_no_taken"
    assert _code(service.create_raw_material_lot, data={**data, "lot_no": "S-2", "material_id": 999_999}) \
        == "material_unknown"
    assert _code(service.create_raw_material_lot, data={**data, "lot_no": "S-2", "supplier_id": 999_999}) \
        == "supplier_unknown"


def test_material_codes_are_unique_ignoring_case_and_unit_defaults_to_kg():
    material = make_material(code="FLOUR")
    assert material.unit == "kg"
    assert _code(service.create_material, data={"code": "flour", "name": "x"}) == "material_code_taken"


def test_every_change_is_audited_with_its_fields():
    lot = make_production_lot(shift="A")
    with transaction():
        service.update_production_lot(actor=ACTOR, lot_id=lot.id, changes={"shift": "B"})
    with transaction():
        service.update_production_lot(actor=ACTOR, lot_id=lot.id, changes={"shift": "B"})  # no change
    records = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.entity_type == "production_lots",
                                                              AuditRecord.action == "production_lot.update")).all()
    assert [r.changes for r in records] == [{"shift": ["A", "B"]}]


def test_consumptions_cannot_use_more_of_a_raw_lot_than_it_holds():
    sugar = make_raw_lot(quantity="100")
    lot_a, lot_b = make_production_lot(), make_production_lot()
    with transaction():
        service.add_consumption(actor=ACTOR, lot_id=lot_a.id, raw_lot_id=sugar.id, quantity=Decimal("70"))
    assert _code(service.add_consumption, lot_id=lot_b.id, raw_lot_id=sugar.id,
                 quantity=Decimal("30.001")) == "quantity_exceeds_lot"
    with transaction():
        service.add_consumption(actor=ACTOR, lot_id=lot_b.id, raw_lot_id=sugar.id, quantity=Decimal("30"))
        # Restating lot A's own quantity is measured against what the others used, not against itself.
        service.add_consumption(actor=ACTOR, lot_id=lot_a.id, raw_lot_id=sugar.id, quantity=Decimal("70"))
    assert sum(c.quantity for c in service.consumptions_of_raw_material_lot(sugar.id)) == Decimal("100")


def test_two_lots_consuming_the_last_of_a_raw_lot_at_once_never_use_more_than_it_holds(app, mariadb):
    sugar = make_raw_lot(quantity="100")
    lot_a, lot_b = make_production_lot(), make_production_lot()

    def consume(lot):
        return lambda: service.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=sugar.id, quantity=Decimal("60"))

    with meeting_in(service, "_check_remaining"):
        _, errors = results_and_errors(at_once(app, consume(lot_a), consume(lot_b), each_in_transaction=True))
    assert sorted(getattr(error, "code", repr(error)) for error in errors if error) == ["quantity_exceeds_lot"]
    assert sum(c.quantity for c in service.consumptions_of_raw_material_lot(sugar.id)) == Decimal("60")
