"""Traceability: a code's trace and timeline, the recall view and action, raw-material trace, corrections.

The line and warehouse engines are not used: units are built with tests.unit_factories, and the
events those factories don't write (remove, replace, scrap, ship) are written here exactly as the
event semantics say, straight through the store.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.codes.models import Level
from app.db import transaction, utcnow
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.masterdata import places
from app.production import service as production
from app.trace import code_trace, corrections, lots, recalls
from app.units import stock_moves, unit_rows
from app.units.models import Event, EventKind, LocationKind, Unit, UnitStatus
from app.stock.models import HolderKind, StockPosition
from tests import unit_factories as uf
from tests.concurrency import at_once
from tests.masterdata_factories import ACTOR, make_dealer, make_factory, make_product
from tests.production_factories import make_line, make_production_lot, make_raw_lot

T0 = uf.SCANNED


def minutes(n: int):
    return T0 + timedelta(minutes=n)


@dataclass
class World:
    """One lot of 4 items: two cases of two, both on a pallet, received into a warehouse."""

    product: object
    factory: object
    line: object
    warehouse: object
    dealer: object
    raw: object
    lot: object
    items: list[str]
    cases: list[str]
    pallet: str


def make_warehouse(factory_id: int, name: str = "Main"):
    with transaction():
        return places.create_warehouse(actor=ACTOR, data={"name": name, "factory_id": factory_id})


def build_world() -> World:
    factory, product = make_factory(), make_product()
    line = make_line(factory.id)
    warehouse, dealer, raw = make_warehouse(factory.id), make_dealer(), make_raw_lot()
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    with transaction():
        production.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=raw.id, quantity="12.5")
    items = uf.commission(lot, 4)
    cases = [uf.pack(items[:2], at=minutes(1)), uf.pack(items[2:], at=minutes(1))]
    pallet = uf.pack(cases, level="pallet", at=minutes(2))
    uf.receive([pallet], warehouse_id=warehouse.id, at=minutes(3))
    return World(product, factory, line, warehouse, dealer, raw, lot, items, cases, pallet)


# --- events the factories don't write -----------------------------------------------------------

def _unit(code: str, *, lock: bool = True) -> unit_rows.UnitState:
    serial = uf.serial(code)
    return unit_rows.load_units([serial], lock=lock)[serial]


def remove(child: str, *, at) -> None:
    """Take one child out of its parent (REMOVE)."""
    kid = _unit(child, lock=False)
    with transaction():
        units = unit_rows.load_units([kid.serial, kid.parent_serial])
        kid, parent = units[kid.serial], units[kid.parent_serial]
        kid.parent_serial, parent.child_count = None, parent.child_count - 1
        unit_rows.save_units([kid, parent], ["parent_serial", "child_count"])
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.REMOVE, serial=kid.serial, parent_serial=parent.serial, occurred_at=at,
            recorded_at=utcnow(), location_kind=kid.location_kind, location_id=kid.location_id,
            source=uf.SOURCE)])


def ship(code: str, *, dealer_id: int, at) -> None:
    """Ship a code and everything inside it to a dealer: one SHIP event on the scanned code."""
    root = uf.serial(code)
    with transaction():
        units = unit_rows.load_units([root])
        units.update(unit_rows.subtree([root]))
        before = {s: stock_moves.stock_key(u) for s, u in units.items()}
        origin = units[root].location_id
        for unit in units.values():
            unit.location_kind, unit.location_id, unit.in_transit = LocationKind.DEALER, dealer_id, True
        unit_rows.save_units(units.values(), ["location_kind", "location_id", "in_transit"])
        stock_moves.adjust_stock(stock_moves.stock_deltas(before, units.values()))
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.SHIP, serial=root, occurred_at=at, recorded_at=utcnow(),
            location_kind=LocationKind.WAREHOUSE, location_id=origin, source=uf.SOURCE,
            data={"to": {"kind": "dealer", "id": dealer_id}})])


def replace(old_code: str, *, at) -> str:
    """Replace a damaged label: a new code takes the unit on, the old one is voided."""
    fresh = uf.issue(1, level=_unit(old_code, lock=False).level.value)[0]
    new_serial = uf.serial(fresh)
    with transaction():
        old = _unit(old_code)
        children = unit_rows.children_of([old.serial])
        before = {old.serial: stock_moves.stock_key(old)}
        new = unit_rows.UnitState(**{**old.as_row(), "serial": new_serial, "batch_id": _batch_id(fresh),
                                 "replaces_serial": old.serial})
        old.status, old.replaced_by_serial = UnitStatus.VOIDED, new_serial
        unit_rows.insert_units([new])
        unit_rows.save_units([old], ["status", "replaced_by_serial"])
        for child in children.values():
            child.parent_serial = new_serial
        unit_rows.save_units(children.values(), ["parent_serial"])
        stock_moves.adjust_stock(stock_moves.stock_deltas(before, [old, new]))
        data = {"old_serial": old.serial, "new_serial": new_serial}
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.REPLACE, serial=s, occurred_at=at, recorded_at=utcnow(), source=uf.SOURCE,
            location_kind=old.location_kind, location_id=old.location_id, data=data)
            for s in (old.serial, new_serial)])
    return fresh


def _batch_id(code: str) -> int:
    from app.codes import service as codes
    return codes.resolve_code(code).batch.id


def scrap(code: str, *, at) -> None:
    """Scrap a unit and everything inside it (one SCRAP event per unit)."""
    root = uf.serial(code)
    with transaction():
        units = unit_rows.load_units([root])
        units.update(unit_rows.subtree([root]))
        before = {s: stock_moves.stock_key(u) for s, u in units.items()}
        for unit in units.values():
            unit.status = UnitStatus.SCRAPPED
        unit_rows.save_units(units.values(), ["status"])
        stock_moves.adjust_stock(stock_moves.stock_deltas(before, units.values()))
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.SCRAP, serial=s, occurred_at=at, recorded_at=utcnow(), source=uf.SOURCE,
            location_kind=u.location_kind, location_id=u.location_id) for s, u in units.items()])


def kinds(timeline, *, via=None) -> list[str]:
    return [e.kind.value for e in timeline if e.via == via]


def stock_of(lot_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StockPosition.quantity), 0))
                             .where(StockPosition.holder_kind == HolderKind.WAREHOUSE, StockPosition.lot_id == lot_id))


# --- a code's trace -----------------------------------------------------------------------------

def test_a_code_trace_shows_product_lot_materials_place_tree_and_ancestors(app):
    world = build_world()
    item = code_trace.trace_code(world.items[0].lower())  # codes are read case-insensitively
    assert (item.code, item.commissioned, item.level, item.status) == \
        (world.items[0], True, Level.ITEM, UnitStatus.ACTIVE)
    assert (item.product.id, item.lot.id, item.lot.line_id) == (world.product.id, world.lot.id, world.line.id)
    assert [(c.raw_material_lot.id, str(c.quantity)) for c in item.raw_materials] == [(world.raw.id, "12.500")]
    assert (item.location.kind, item.location.id, item.location.name, item.location.in_transit) == \
        (LocationKind.WAREHOUSE, world.warehouse.id, "Main", False)
    assert [(a.code, a.level) for a in item.ancestors] == [(world.cases[0], Level.CASE),
                                                           (world.pallet, Level.PALLET)]
    pallet = code_trace.trace_code(world.pallet)
    assert pallet.ancestors == [] and (pallet.tree_size, pallet.truncated) == (6, False)
    assert [(c.code, [g.code for g in c.children]) for c in pallet.children] == \
        [(world.cases[0], world.items[:2]), (world.cases[1], world.items[2:])]


def test_a_large_tree_is_cut_and_says_so(app, monkeypatch):
    world = build_world()
    monkeypatch.setattr(code_trace, "TREE_CAP", 3)
    pallet = code_trace.trace_code(world.pallet)
    assert (pallet.tree_size, pallet.truncated) == (3, True)


def test_the_timeline_has_the_pallets_events_while_the_item_was_inside_and_not_after(app):
    world = build_world()
    remove(world.items[1], at=minutes(10))
    ship(world.pallet, dealer_id=world.dealer.id, at=minutes(20))
    stayed = code_trace.trace_code(world.items[0]).timeline
    assert kinds(stayed) == ["commission", "pack"]
    assert kinds(stayed, via=world.cases[0]) == ["pack"]  # the case onto the pallet
    assert kinds(stayed, via=world.pallet) == ["receive", "ship"]
    assert [e.occurred_at for e in stayed] == sorted(e.occurred_at for e in stayed)
    pack = stayed[1]
    assert (pack.code, pack.parent_code, pack.location.kind) == (world.items[0], world.cases[0], LocationKind.LINE)
    left = code_trace.trace_code(world.items[1])
    assert kinds(left.timeline) == ["commission", "pack", "remove"]
    assert kinds(left.timeline, via=world.pallet) == ["receive"]  # not the ship after it was removed
    assert left.ancestors == [] and left.location.kind is LocationKind.WAREHOUSE
    assert code_trace.trace_code(world.items[0]).location.kind is LocationKind.DEALER


def test_a_replaced_label_carries_the_old_codes_history(app):
    world = build_world()
    fresh = replace(world.items[0], at=minutes(10))
    ship(world.pallet, dealer_id=world.dealer.id, at=minutes(20))
    new = code_trace.trace_code(fresh)
    assert (new.replaces, new.replaced_by, new.status) == (world.items[0], None, UnitStatus.ACTIVE)
    own = [(e.kind.value, e.code) for e in new.timeline if e.via is None]
    assert own == [("commission", world.items[0]), ("pack", world.items[0]), ("replace", fresh)]
    assert kinds(new.timeline, via=world.pallet) == ["receive", "ship"]
    assert [a.code for a in new.ancestors] == [world.cases[0], world.pallet]
    old = code_trace.trace_code(world.items[0])
    assert (old.status, old.replaced_by) == (UnitStatus.VOIDED, fresh)
    assert stock_of(world.lot.id) == 0  # shipped


def test_an_item_keeps_its_cases_history_when_the_case_label_is_replaced(app):
    world = build_world()
    new_case = replace(world.cases[0], at=minutes(10))
    ship(world.pallet, dealer_id=world.dealer.id, at=minutes(20))
    item = code_trace.trace_code(world.items[0])
    assert [a.code for a in item.ancestors] == [new_case, world.pallet]
    assert [(e.kind.value, e.via) for e in item.timeline if e.via] == [
        ("pack", world.cases[0]), ("receive", world.pallet), ("replace", world.cases[0]),
        ("replace", new_case), ("ship", world.pallet)]


def test_a_code_issued_but_never_commissioned_has_a_bare_trace(app):
    product = make_product()
    code = uf.issue(1, product_id=product.id)[0]
    result = code_trace.trace_code(code)
    assert (result.commissioned, result.level, result.product.id, result.timeline) == \
        (False, Level.ITEM, product.id, [])


@pytest.mark.parametrize("text, reason", [("not a code", "malformed"), ("0" * 18, "forged")])
def test_forged_and_malformed_codes_are_not_found(app, text, reason):
    with pytest.raises(DomainError) as caught:
        code_trace.trace_code(text)
    assert (caught.value.status, caught.value.code, caught.value.errors) == (404, "code_not_found", {"code": [reason]})


def test_an_item_scrapped_with_its_case_shows_the_scrap(app):
    world = build_world()
    scrap(world.cases[1], at=minutes(5))
    item = code_trace.trace_code(world.items[2])
    assert item.status is UnitStatus.SCRAPPED and kinds(item.timeline)[-1] == "scrap"
    assert stock_of(world.lot.id) == 2


# --- the recall view ----------------------------------------------------------------------------

def test_the_recall_view_counts_items_by_place(app):
    world = build_world()
    on_line = uf.commission(world.lot, 3)
    remove(world.items[1], at=minutes(10))
    ship(world.pallet, dealer_id=world.dealer.id, at=minutes(20))
    scrap(on_line[2], at=minutes(30))
    summary = lots.lot_summary(world.lot.id)
    assert (summary.units, summary.active, summary.in_transit, summary.scrapped, summary.recalled) == (7, 6, 3, 1, 0)
    assert summary.by_kind == {"dealer": 3, "line": 2, "warehouse": 1}
    assert [(p.kind.value, p.id, p.name, p.in_transit, p.units) for p in summary.by_location] == [
        ("dealer", world.dealer.id, world.dealer.name, True, 3),
        ("line", world.line.id, world.line.name, False, 2),
        ("warehouse", world.warehouse.id, "Main", False, 1)]
    rows = lots.unit_rows(db.session.scalars(lots.lot_units(lot_id=world.lot.id, location_kind="dealer")))
    assert sorted(r.code for r in rows) == sorted([world.items[0], *world.items[2:]])
    assert {(r.location.name, r.in_transit) for r in rows} == {(world.dealer.name, True)}
    assert {r.parent_code for r in rows} == set(world.cases)
    cases = db.session.scalars(lots.lot_units(lot_id=world.lot.id, level="case")).all()
    assert len(cases) == 2


def test_a_recall_marks_the_lots_active_units_and_writes_an_event_each(app):
    world = build_world()
    scrap(world.cases[1], at=minutes(5))
    other = uf.commission(make_production_lot(product_id=world.product.id), 1)
    with transaction():
        recall = recalls.recall_lot(actor=ACTOR, lot_id=world.lot.id, reason="sorghum moisture")
    # two items + their case + the pallet (whose lot is its first child's); the scrapped case is left
    marked = db.session.scalars(sa.select(Unit.serial).where(Unit.recall_id == recall.id)).all()
    assert sorted(marked) == sorted(uf.serial(c) for c in (*world.items[:2], world.cases[0], world.pallet))
    assert recall.units == 4 and _unit(other[0], lock=False).recall_id is None
    events = db.session.scalars(sa.select(Event).where(Event.kind == EventKind.RECALL)).all()
    assert sorted(e.serial for e in events) == sorted(marked)
    assert events[0].data == {"recall_id": recall.id, "reason": "sorghum moisture"}
    item = code_trace.trace_code(world.items[0])
    assert item.recall.id == recall.id
    assert kinds(item.timeline)[-1] == "recall" and kinds(item.timeline, via=world.pallet)[-1] == "recall"
    assert lots.lot_summary(world.lot.id).recalled == 2
    assert db.session.scalar(sa.select(AuditRecord.action).where(AuditRecord.entity_type == "recalls")) == \
        "recall.create"


def test_recalling_again_marks_only_units_not_yet_recalled_and_refuses_when_there_are_none(app):
    world = build_world()
    with transaction():
        first = recalls.recall_lot(actor=ACTOR, lot_id=world.lot.id, reason="first")
    with pytest.raises(DomainError) as caught, transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=world.lot.id, reason="again")
    assert (caught.value.status, caught.value.code) == (409, "lot_already_recalled")
    late = uf.commission(world.lot, 2)
    with transaction():
        second = recalls.recall_lot(actor=ACTOR, lot_id=world.lot.id, reason="late units")
    assert (first.units, second.units) == (7, 2)
    assert {_unit(c, lock=False).recall_id for c in late} == {second.id}
    assert _unit(world.items[0], lock=False).recall_id == first.id
    assert [r.id for r in lots.lot_summary(world.lot.id).recalls] == [first.id, second.id]


def test_a_recall_of_an_unknown_lot_is_not_found(app):
    with pytest.raises(DomainError) as caught, transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=987654, reason="x")
    assert (caught.value.status, caught.value.code) == (404, "production_lot_not_found")


# --- raw-material trace -------------------------------------------------------------------------

def test_a_raw_material_lot_leads_to_every_lot_and_unit_that_used_it(app):
    world = build_world()
    second = make_production_lot(product_id=world.product.id, factory_id=world.factory.id)
    with transaction():
        production.add_consumption(actor=ACTOR, lot_id=second.id, raw_lot_id=world.raw.id)
    uf.commission(second, 3)
    uf.commission(make_production_lot(product_id=world.product.id), 5)  # did not use it
    result = lots.raw_material_trace(world.raw.id)
    assert [(u.consumption.production_lot_id, u.summary.units, u.summary.by_kind) for u in result.lots] == [
        (world.lot.id, 4, {"warehouse": 4}), (second.id, 3, {"line": 3})]
    assert result.units == 7
    units = db.session.scalars(lots.units_using(raw_lot_id=world.raw.id)).all()
    assert len(units) == 7 and {u.lot_id for u in units} == {world.lot.id, second.id}
    assert len(db.session.scalars(lots.units_using(raw_lot_id=world.raw.id, location_kind="line")).all()) == 3


# --- corrections --------------------------------------------------------------------------------

def test_a_lot_correction_moves_stock_and_points_at_the_commission(app):
    world = build_world()
    right = make_production_lot(product_id=world.product.id, factory_id=world.factory.id)
    with transaction():
        correction = corrections.correct_unit_lot(actor=ACTOR, code=world.items[0], lot_id=right.id,
                                            reason="operator picked the wrong lot")
    commission = db.session.scalar(sa.select(Event).where(
        Event.serial == uf.serial(world.items[0]), Event.kind == EventKind.COMMISSION))
    event = correction.event
    assert (event.kind, event.corrects_event_id, event.lot_id) == (EventKind.CORRECT, commission.id, right.id)
    assert event.data == {"field": "lot_id", "from": world.lot.id, "to": right.id,
                          "reason": "operator picked the wrong lot"}
    assert (stock_of(world.lot.id), stock_of(right.id)) == (3, 1)
    item = code_trace.trace_code(world.items[0])
    assert item.lot.id == right.id
    entries = {e.id: e for e in item.timeline}
    assert entries[commission.id].corrected_by == [event.id]
    assert db.session.scalar(sa.select(AuditRecord.entity_id).where(AuditRecord.action == "unit.correct_lot")) == \
        world.items[0]


def test_a_correction_of_a_replaced_label_points_at_the_old_codes_commission(app):
    world = build_world()
    fresh = replace(world.items[0], at=minutes(10))
    right = make_production_lot(product_id=world.product.id, factory_id=world.factory.id)
    with transaction():
        correction = corrections.correct_unit_lot(actor=ACTOR, code=fresh, lot_id=right.id, reason="x")
    commission = db.session.scalar(sa.select(Event.id).where(
        Event.serial == uf.serial(world.items[0]), Event.kind == EventKind.COMMISSION))
    assert correction.event.corrects_event_id == commission


def test_a_correction_is_refused_for_another_product_a_case_the_same_lot_or_an_unknown_lot(app):
    world = build_world()
    foreign = make_production_lot()
    never = uf.issue(1, product_id=world.product.id)[0]
    cases = [(world.items[0], foreign.id, 422, "wrong_product"),
             (world.cases[0], world.lot.id, 422, "correction_items_only"),
             (world.items[0], world.lot.id, 422, "lot_unchanged"),
             (world.items[0], 987654, 422, "production_lot_unknown"),
             (never, world.lot.id, 409, "unit_not_commissioned"),
             ("0" * 18, world.lot.id, 404, "code_not_found")]
    for code, lot_id, status, error in cases:
        with pytest.raises(DomainError) as caught, transaction():
            corrections.correct_unit_lot(actor=ACTOR, code=code, lot_id=lot_id, reason="x")
        assert (caught.value.status, caught.value.code) == (status, error)
    assert stock_of(world.lot.id) == 4
    assert db.session.scalar(sa.select(sa.func.count()).where(Event.kind == EventKind.CORRECT)) == 0


def test_two_recalls_of_one_lot_at_once_mark_each_unit_once(app, mariadb):
    world = build_world()

    def recall(reason):
        return lambda: recalls.recall_lot(actor=ACTOR, lot_id=world.lot.id, reason=reason).units

    outcomes = at_once(app, recall("a"), recall("b"), each_in_transaction=True)
    assert sorted((o.code if isinstance(o, DomainError) else o for o in outcomes), key=str) == \
        [7, "lot_already_recalled"]
    assert db.session.scalar(sa.select(sa.func.count()).where(Event.kind == EventKind.RECALL)) == 7
