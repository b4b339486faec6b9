"""Property: any sequence of channel moves keeps every stock position equal to a recount of the units.

A hypothesis state machine plays random moves over a small world — a warehouse, a dealer, two of
its stores, cases of three items of one product in two lots — on days that pass: shipments from
the warehouse to the dealer and from the dealer to a store, their receipts, sale scans (of items in
a store and of items still on their way to it), lot corrections and scraps. A plain model of where
each item is, since which day, predicts the positions (holder, product, lot, day received) and the
outflow (items shipped out or sold, by holder and day); after each step both tables equal the
model and the positions equal a recount of the units. Then moves of different units into one
holder at the same instant (threads at a barrier, MariaDB) keep it so.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from app.channel import receipts
from app.db import retried_transaction, transaction, utcnow
from app.extensions import db
from app.retail import sales
from app.stock import service as stock
from app.stock.models import HolderKind, StockOutflow
from app.trace import corrections
from app.units import line_engine, line_sessions, stock_moves
from tests import channel_factories as cf
from tests.concurrency import at_once
from tests.conftest import wipe_rows
from tests.masterdata_factories import ACTOR, make_dealer
from tests.retail_factories import items_of, make_clerk, sell

D0 = date(2026, 1, 1)
PER_CASE, CASES = 3, 4
_clock = {"day": D0}
_records = iter(range(10**9))
# Shrinking a failure replays database-heavy steps for many minutes: the failing steps are printed as found.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)


@dataclass
class Item:
    lot_id: int
    case: str | None
    holder: tuple[HolderKind, int] | None  # held (received) by
    to: tuple[HolderKind, int] | None = None  # on its way to
    received_on: date | None = None
    gone: bool = False  # sold or scrapped


class ChannelMoves(RuleBasedStateMachine):
    @initialize()
    def build_world(self):
        _clock["day"] = D0
        self.brand = cf.make_brand()
        self.dealer = make_dealer().id
        self.stores = [cf.make_store_of(self.dealer).id for _ in range(2)]
        self.clerks = {s: make_clerk(s) for s in self.stores}
        self.warehouse = (HolderKind.WAREHOUSE, self.brand.warehouse_id)
        self.cases = cf.cases(self.brand.lot, CASES, per_case=PER_CASE, warehouse_id=self.brand.warehouse_id)
        self.items = {code: Item(self.brand.lot.id, case, self.warehouse, received_on=D0)
                      for case in self.cases for code in items_of(case)}
        self.shipments: list[tuple[int, tuple[HolderKind, int], str]] = []  # (id, receiver, case) not yet received
        self.outflow: Counter = Counter()

    def teardown(self):
        wipe_rows()

    # --- the model --------------------------------------------------------------------------

    def _in_case(self, case: str) -> list[Item]:
        return [i for i in self.items.values() if i.case == case and not i.gone]

    def _case_held_by(self, index: int, holder: tuple[HolderKind, int]) -> str | None:
        held = [c for c in self.cases if self._in_case(c) and all(i.holder == holder for i in self._in_case(c))]
        return held[index % len(held)] if held else None

    def _leave(self, item: Item) -> None:
        """The item leaves its holder's stock by a shipment or a sale: the holder's outflow today."""
        if item.holder is not None:
            self.outflow[(*item.holder, self.brand.product.id, item.lot_id, _clock["day"])] += 1
        item.holder, item.received_on = None, None

    def _ship(self, case: str, shipper: tuple[HolderKind, int], receiver: tuple[HolderKind, int]) -> None:
        shipment = cf.ship_to([case], shipper=(shipper[0].value, shipper[1]), receiver=(receiver[0].value, receiver[1]))
        for item in self._in_case(case):
            self._leave(item)
            item.to = receiver
        self.shipments.append((shipment.id, receiver, case))

    # --- the rules ----------------------------------------------------------------------------

    @rule(days=st.integers(1, 40))
    def a_day_passes(self, days):
        _clock["day"] += timedelta(days=days)

    @rule(index=st.integers(0, 99))
    def warehouse_ships_to_the_dealer(self, index):
        case = self._case_held_by(index, self.warehouse)
        if case is not None:
            self._ship(case, self.warehouse, (HolderKind.DEALER, self.dealer))

    @rule(index=st.integers(0, 99), which=st.integers(0, 1))
    def dealer_ships_to_a_store(self, index, which):
        case = self._case_held_by(index, (HolderKind.DEALER, self.dealer))
        if case is not None:
            self._ship(case, (HolderKind.DEALER, self.dealer), (HolderKind.STORE, self.stores[which]))

    @rule(index=st.integers(0, 99))
    def a_receiver_confirms(self, index):
        if not self.shipments:
            return
        shipment_id, receiver, case = self.shipments.pop(index % len(self.shipments))
        cf.receive(shipment_id, receiver=(receiver[0].value, receiver[1]))
        for item in self._in_case(case):
            if item.to == receiver:
                item.holder, item.to, item.received_on = receiver, None, _clock["day"]

    @rule(index=st.integers(0, 999))
    def a_store_sells(self, index):
        sellable = [(code, i) for code, i in sorted(self.items.items()) if not i.gone and (
            (i.holder or (None,))[0] is HolderKind.STORE or (i.to or (None,))[0] is HolderKind.STORE)]
        if not sellable:
            return
        code, item = sellable[index % len(sellable)]
        store_id = (item.holder or item.to)[1]
        sell(self.clerks[store_id], store_id, code)
        self._leave(item)  # an item still on its way to the store was in no one's stock
        item.gone, item.case, item.to = True, None, None

    @rule(index=st.integers(0, 999))
    def a_lot_is_corrected(self, index):
        live = [(code, i) for code, i in sorted(self.items.items()) if not i.gone]
        if not live:
            return
        code, item = live[index % len(live)]
        other = self.brand.other_lot.id if item.lot_id == self.brand.lot.id else self.brand.lot.id
        with transaction():
            corrections.correct_unit_lot(actor=ACTOR, code=code, lot_id=other, reason="wrong lot")
        item.lot_id = other  # same holder, same day received

    @rule(index=st.integers(0, 99))
    def the_warehouse_scraps_a_case(self, index):
        case = self._case_held_by(index, self.warehouse)
        if case is None:
            return
        with transaction():
            session = line_sessions.start_session(actor=ACTOR, line_id=self.brand.line_id, lot_id=self.brand.lot.id)
        with transaction():
            [result] = line_engine.apply_records(actor=ACTOR, session_id=session.id, records=[
                {"type": "scrap", "record_id": f"scrap-{next(_records)}", "scanned_at": utcnow(), "code": case}])
        assert result.status == "accepted", result
        for item in self._in_case(case):
            item.gone, item.holder, item.received_on = True, None, None  # no outflow

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def positions_equal_the_units_and_the_model(self):
        if not hasattr(self, "brand"):
            return
        db.session.expire_all()
        assert stock.check() == []
        expected = Counter((*i.holder, self.brand.product.id, i.lot_id, i.received_on)
                           for i in self.items.values() if i.holder is not None and not i.gone)
        assert stock.kept() == dict(expected)

    @invariant()
    def outflow_equals_the_model(self):
        if not hasattr(self, "brand"):
            return
        kept = {(HolderKind(k), h, p, lot, d): q for k, h, p, lot, d, q in db.session.execute(
            sa.select(StockOutflow.holder_kind, StockOutflow.holder_id, StockOutflow.product_id,
                      StockOutflow.lot_id, StockOutflow.day, StockOutflow.quantity)) if q}
        assert kept == dict(self.outflow)


def test_random_channel_moves_keep_the_positions_equal_to_the_units(app, monkeypatch):
    monkeypatch.setattr(stock_moves, "today", lambda: _clock["day"])
    run_state_machine_as_test(ChannelMoves, settings=settings(
        max_examples=15, stateful_step_count=20, deadline=None, database=None, phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))


def test_different_units_moved_into_one_holder_at_once_all_count(app, mariadb):
    """Receipts into one store, then sales at it, each at the same instant: one position row, one outflow row."""
    brand, dealer = cf.make_brand(), make_dealer()
    shop = cf.make_store_of(dealer.id)
    cases = cf.dealer_stock(brand, dealer.id, cases_=4)
    shipments = [cf.ship_to([case], shipper=("dealer", dealer.id), receiver=("store", shop.id)) for case in cases]

    def confirm(shipment_id):
        return lambda: retried_transaction(lambda: receipts.confirm_receipt(
            actor_label="tests", receiver_kind="store", receiver_id=shop.id, shipment_id=shipment_id))
    outcomes = at_once(app, *(confirm(s.id) for s in shipments))
    assert [getattr(o, "received", o) for o in outcomes] == [24] * 4

    clerks = [make_clerk(shop.id) for _ in range(4)]
    items = [items_of(case)[0] for case in cases]

    def sale(clerk, code):
        return lambda: retried_transaction(lambda: sales.sale_scan(user=clerk, store_id=shop.id, code=code))
    outcomes = at_once(app, *(sale(c, code) for c, code in zip(clerks, items)))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes

    db.session.rollback()  # a fresh snapshot: what the threads committed
    assert stock.check() == []
    today = stock_moves.today()
    assert stock.kept()[(HolderKind.STORE, shop.id, brand.product.id, brand.lot.id, today)] == 96 - 4
    assert db.session.scalar(sa.select(StockOutflow.quantity).where(
        StockOutflow.holder_kind == HolderKind.STORE, StockOutflow.holder_id == shop.id)) == 4
