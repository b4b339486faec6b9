"""Stock moved by the writers of units: the positions of every holder, kept in the units' own transaction.

A writer gives each unit's stock key before and after (``stock_deltas``); ``adjust_stock`` adds the
differences to ``stock_positions`` and the day's ``stock_outflows``, in key order.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable, NamedTuple

import sqlalchemy as sa

from app.codes.models import Level
from app.db import upsert, utcnow
from app.extensions import db
from app.platform.clock import china_day
from app.stock.models import HolderKind, StockOutflow, StockPosition
from app.units.models import LocationKind, UnitStatus
from app.units.unit_rows import UnitState, save_units

_HOLDERS = {LocationKind.WAREHOUSE: HolderKind.WAREHOUSE, LocationKind.DEALER: HolderKind.DEALER,
            LocationKind.STORE: HolderKind.STORE}


class StockKey(NamedTuple):
    """The stock position an item counts in: who holds it, what it is, the day it arrived there."""

    holder_kind: HolderKind
    holder_id: int
    product_id: int
    lot_id: int
    received_on: date | None


def stock_key(unit: UnitState) -> StockKey | None:
    """The position an item counts in, or None (not an item, not at a holder, in transit, gone)."""
    holder = _HOLDERS.get(unit.location_kind)
    if (holder is None or unit.level is not Level.ITEM or unit.status is not UnitStatus.ACTIVE
            or unit.in_transit or unit.lot_id is None):
        return None
    return StockKey(holder, unit.location_id, unit.product_id, unit.lot_id, unit.received_on)


def today() -> date:
    """The China day stock moves are dated by (received, outflow)."""
    return china_day(utcnow())


class StockMoves:
    """What a move of units does to stock: positions and outflow to add to, items dated as received.

    ``stock_deltas`` makes it, ``adjust_stock`` writes it in the mover's transaction.
    """

    def __init__(self):
        self.positions: dict[StockKey, int] = {}
        self.outflow: dict[tuple, int] = {}  # (holder kind, holder id, product, lot, day) -> items
        self.arrived: list[UnitState] = []  # items whose received_on was set: written back

    def add(self, key: StockKey, delta: int) -> None:
        self.positions[key] = self.positions.get(key, 0) + delta


def stock_deltas(before: dict[int, StockKey | None], after: Iterable[UnitState], *,
                 on: date | None = None) -> StockMoves:
    """The stock changes between units' keys before (serial -> stock_key) and their states now.

    An item that arrives at a holder (it counted nowhere, or at another holder) is dated ``on``
    (today): the day it was received, for ageing. One that stays keeps its day (packed, unpacked, its
    lot corrected; a replacing label takes the replaced one's key in ``before``). An item that leaves
    a holder's stock in transit (shipped) or to a consumer (sold) counts in that holder's outflow; one
    scrapped or voided does not. Leaving, an item keeps its old day: nothing reads it until it arrives.
    """
    moves = StockMoves()
    for unit in after:
        old, new = before.get(unit.serial), stock_key(unit)
        if new is not None and (old is None or old[:2] != new[:2]):
            unit.received_on = on = on or today()
            moves.arrived.append(unit)
            new = stock_key(unit)
        if old == new:
            continue
        if old is not None:
            moves.add(old, -1)
            if new is None and unit.status is UnitStatus.ACTIVE and (
                    unit.in_transit or unit.location_kind is LocationKind.CONSUMER):
                on = on or today()
                day = (old.holder_kind, old.holder_id, old.product_id, old.lot_id, on)
                moves.outflow[day] = moves.outflow.get(day, 0) + 1
        if new is not None:
            moves.add(new, 1)
    return moves


def adjust_stock(moves: StockMoves) -> None:
    """Write a move's stock changes with atomic SQL, in key order (no deadlocks): the arrivals' day
    received, then the positions, then the outflow.

    The check constraints refuse a negative quantity, so a bug can't hide as negative stock.
    """
    if moves.arrived:
        save_units(moves.arrived, ["received_on"])
    for key, delta in sorted(moves.positions.items()):
        if delta:
            _add(StockPosition, dict(key._asdict()), delta)
    for (kind, holder_id, product_id, lot_id, day), delta in sorted(moves.outflow.items()):
        _add(StockOutflow, {"holder_kind": kind, "holder_id": holder_id, "product_id": product_id,
                            "lot_id": lot_id, "day": day}, delta)


def _add(model, key: dict, delta: int) -> None:
    table = model.__table__
    if delta < 0:
        # The row exists (the units were counted in it). An upsert would check the negative
        # insert value against the constraint before reaching its update, on both backends.
        result = db.session.execute(sa.update(table).where(*(table.c[k] == v for k, v in key.items()))
                                    .values(quantity=table.c.quantity + delta))
        if result.rowcount != 1:
            raise RuntimeError(f"{table.name} {tuple(key.values())} was never counted; can't take {-delta}")
        return
    statement = upsert(table, list(key), lambda t, proposed: {"quantity": t.c.quantity + proposed.quantity})
    db.session.execute(statement, {**key, "quantity": delta})
