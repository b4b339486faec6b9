"""Property: any sequence of warehouse moves keeps every stock row equal to the count of its units.

A hypothesis state machine plays random scans — inbound from the line, outbound to a dealer,
transfer out, transfer in; of items, cases and pallets; alone or several in one upload sent out of
order; retried; and many that must be refused (a code inside a parent, a unit not where the move
takes it from, a forged code) — over a small world: two warehouses, two lots, two pallets (one
mixing the lots), loose cases and loose items. A plain model of where each unit is predicts every
answer; after each step the stock table matches the units (``check_stock()`` is empty), the
units are where the model says, and stock equals the model's count per warehouse and lot.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from app.codes.models import Level
from app.extensions import db
from app.units.models import LocationKind, Unit
from app.stock import service as stock
from app.warehouse import service
from app.stock.models import HolderKind, StockPosition
from app.warehouse.service import Place
from tests import unit_factories as uf
from tests.conftest import wipe_rows
from tests.warehouse_factories import LATER, apply, inbound, make_world, outbound

MOVES = ("in_line", "in_transfer", "out_dealer", "out_transfer")
# The world's shape (fixed, so rules can draw unit indexes before it exists).
SHAPE = (
    # (lot, items per case, cases) per pallet; then loose cases; then loose items
    [("lot", 3, 2), ("mixed", 2, 2)],
    [("lot", 2), ("other", 2)],
    [("lot", 2), ("other", 1)],
)


@dataclass
class Node:
    code: str
    level: Level
    lot_id: int
    product_id: int
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    place: Place | None = None


class WarehouseMoves(RuleBasedStateMachine):
    @initialize()
    def build_world(self):
        self.world = w = make_world()
        self.warehouses = (w.a, w.b)
        self.nodes: dict[str, Node] = {}
        self.clock = LATER
        self.last_records: list[dict] = []
        self.applied: set[str] = set()
        self.last_root: str | None = None
        lots = {"lot": w.lot, "other": w.other_lot}
        line = Place(LocationKind.LINE, w.line_id, False)

        def case_of(lot, n):
            items = uf.commission(lot, n)
            code = uf.pack(items)
            self.nodes[code] = Node(code, Level.CASE, lot.id, lot.product_id, children=items, place=line)
            for item in items:
                self.nodes[item] = Node(item, Level.ITEM, lot.id, lot.product_id, parent=code, place=line)
            return code

        pallets, cases, items = SHAPE
        for lot_name, per_case, count in pallets:
            if lot_name == "mixed":
                kids = [case_of(w.lot, per_case), case_of(w.other_lot, per_case)]
            else:
                kids = [case_of(lots[lot_name], per_case) for _ in range(count)]
            code = uf.pack(kids, level="pallet")
            first = self.nodes[kids[0]]
            self.nodes[code] = Node(code, Level.PALLET, first.lot_id, first.product_id, children=kids, place=line)
            for kid in kids:
                self.nodes[kid].parent = code
        for lot_name, per_case in cases:
            case_of(lots[lot_name], per_case)
        for lot_name, count in items:
            lot = lots[lot_name]
            for code in uf.commission(lot, count):
                self.nodes[code] = Node(code, Level.ITEM, lot.id, lot.product_id, place=line)
        self.codes = sorted(self.nodes)

    def teardown(self):
        wipe_rows()  # each example starts clean

    # --- the model --------------------------------------------------------------------------

    def _record(self, index: int, move: str, w: int, *, code: str | None = None) -> dict:
        code = code or self.codes[index % len(self.codes)]
        here, there = self.warehouses[w], self.warehouses[1 - w]
        self.clock += timedelta(seconds=1)
        if move == "in_line":
            return inbound(code, here, at=self.clock)
        if move == "in_transfer":
            return inbound(code, here, source="transfer", at=self.clock)
        if move == "out_dealer":
            return outbound(code, here, to_dealer_id=self.world.dealer, at=self.clock)
        return outbound(code, here, to_warehouse_id=there, at=self.clock)

    def _expect(self, record: dict) -> str:
        """What the scan should answer, and the model moved when it is accepted."""
        node = self.nodes[record["code"]]
        if node.parent is not None:
            return "packed_elsewhere"
        target = service._target(record)
        if node.place == target:
            return "duplicate"
        if not service._may_leave(record, node.place):
            return "wrong_location"
        stack = [node]
        while stack:
            each = stack.pop()
            each.place = target
            stack.extend(self.nodes[c] for c in each.children)
        return "accepted"

    def _check(self, records: list[dict], results: list[service.Result]) -> None:
        expected = {r["record_id"]: "duplicate" if r["record_id"] in self.applied else self._expect(r)
                    for r in sorted(records, key=lambda r: r["scanned_at"])}
        got = {r.record_id: r.reason or r.status for r in results}
        assert got == expected
        self.applied.update(rid for rid, answer in expected.items() if answer == "accepted")

    # --- rules ------------------------------------------------------------------------------

    @rule(index=st.integers(0, 63), move=st.sampled_from(MOVES), w=st.integers(0, 1))
    def scan_one(self, index, move, w):
        record = self._record(index, move, w)
        self.last_records = [record]
        self._check([record], apply(record))

    @rule(moves=st.lists(st.tuples(st.integers(0, 63), st.sampled_from(MOVES), st.integers(0, 1)),
                         min_size=2, max_size=5),
          reverse=st.booleans())
    def scan_an_upload(self, moves, reverse):
        records = [self._record(*move) for move in moves]
        sent = records[::-1] if reverse else records  # the answer follows scan time, not position
        self.last_records = sent
        self._check(sent, apply(*sent))

    @rule(index=st.integers(0, 63), w=st.integers(0, 1), to_dealer=st.integers(0, 3), again=st.booleans())
    def move_a_root_onwards(self, index, w, to_dealer, again):
        """What a sensible PDA does: scan a code nobody packed (often the last one moved), with the move
        that fits where it is (to a dealer one time in four, otherwise between the warehouses)."""
        roots = [code for code in self.codes if self.nodes[code].parent is None]
        code = self.last_root if again and self.last_root else roots[index % len(roots)]
        place = self.nodes[code].place
        if place.kind is LocationKind.LINE:
            move = "in_line"
        elif place.kind is LocationKind.WAREHOUSE and place.in_transit:
            move, w = "in_transfer", self.warehouses.index(place.id)
        elif place.kind is LocationKind.WAREHOUSE:
            move, w = ("out_dealer" if to_dealer == 0 else "out_transfer"), self.warehouses.index(place.id)
        else:
            move = "out_dealer"  # at the dealer already: a duplicate
        record = self._record(0, move, w, code=code)
        self.last_records, self.last_root = [record], code
        self._check([record], apply(record))

    @rule()
    def retry_the_last_upload(self):
        if not self.last_records:
            return
        # Applied records answer duplicate; rejected ones are tried again against today's state.
        self._check(self.last_records, apply(*self.last_records))

    @rule(w=st.integers(0, 1))
    def scan_a_forged_code(self, w):
        record = inbound("0" * 18, self.warehouses[w], at=self.clock)
        assert apply(record)[0].reason == "forged"

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def stock_equals_the_units(self):
        if not hasattr(self, "world"):
            return
        assert stock.check() == []
        counted = Counter((n.place.id, n.product_id, n.lot_id) for n in self.nodes.values()
                          if n.level is Level.ITEM and n.place.kind is LocationKind.WAREHOUSE
                          and not n.place.in_transit)
        kept = {(w, p, lot): int(q) for w, p, lot, q in db.session.execute(
            sa.select(StockPosition.holder_id, StockPosition.product_id, StockPosition.lot_id,
                      sa.func.sum(StockPosition.quantity))
            .where(StockPosition.holder_kind == HolderKind.WAREHOUSE)
            .group_by(StockPosition.holder_id, StockPosition.product_id, StockPosition.lot_id)) if q}
        assert kept == dict(counted)

    @invariant()
    def units_are_where_the_model_says(self):
        if not hasattr(self, "world"):
            return
        db.session.expire_all()
        places = {serial: Place(kind, location, transit) for serial, kind, location, transit in db.session.execute(
            sa.select(Unit.serial, Unit.location_kind, Unit.location_id, Unit.in_transit))}
        assert places == {uf.serial(code): node.place for code, node in self.nodes.items()}


def test_random_moves_keep_stock_equal_to_the_units(app):
    run_state_machine_as_test(WarehouseMoves, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))
