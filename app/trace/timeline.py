"""A code's TIMELINE: its own events plus the events of each case or pallet while the unit was inside it.

The packing intervals come from the unit's own events: a PACK opens an interval in ``parent_serial``,
the next UNPACK or REMOVE closes it; the current parent's interval is open. A parent's events inside
that window join the timeline (marked ``via`` the parent's code), and so, recursively, do the events
of the parent's own parents while the parent was inside them. A label replacement carries a unit on
under a new code: the new code's timeline includes the old code's events (``replaces_serial`` chain),
and a child packed under a parent's old label stays in that parent under its new one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa

from app.extensions import db
from app.trace.resolution import Place, SerialCodes, place_names
from app.units.models import Event, EventKind, Unit

ANCESTOR_DEPTH = 8  # item < case < pallet; the margin guards against a cycle in bad data
_EARLIEST = (datetime.min.replace(tzinfo=timezone.utc), -1)
_LATEST = (datetime.max.replace(tzinfo=timezone.utc), 2**63)


@dataclass
class TimelineEntry:
    id: int
    kind: EventKind
    code: str  # the code the event was written on
    via: str | None  # the case or pallet code, when the event is an ancestor's
    parent_code: str | None
    occurred_at: datetime
    recorded_at: datetime
    location: Place | None
    lot_id: int | None
    corrects_event_id: int | None
    data: dict | None
    corrected_by: list[int] = field(default_factory=list)



def label_chain(serial: int, *, forward: bool) -> list[int]:
    """A unit's serial with the serials its label replaced (and, forward, the ones that replaced it)."""
    chain, todo = [], [serial]
    while todo and len(chain) < 64:
        current = todo.pop()
        if current in chain:
            continue
        chain.append(current)
        row = db.session.execute(sa.select(Unit.replaces_serial, Unit.replaced_by_serial)
                                 .where(Unit.serial == current)).first()
        if row is None:
            continue
        if row.replaces_serial is not None:
            todo.append(row.replaces_serial)
        if forward and row.replaced_by_serial is not None:
            todo.append(row.replaced_by_serial)
    return chain


def _events_of(serials: list[int]) -> list[Event]:
    return list(db.session.scalars(sa.select(Event).where(Event.serial.in_(serials))
                                   .order_by(Event.occurred_at, Event.id)))


def _key(event: Event) -> tuple:
    return (event.occurred_at, event.id)


def _packing_intervals(events: list[Event]) -> list[tuple[int, tuple, tuple]]:
    """(parent serial, from, to) for each stay inside a parent, from a unit's own ordered events."""
    intervals, open_ = [], None
    for event in events:
        if event.kind is EventKind.PACK and event.parent_serial is not None:
            if open_ is not None:
                intervals.append((open_[0], open_[1], _key(event)))
            open_ = (event.parent_serial, _key(event))
        elif event.kind in (EventKind.UNPACK, EventKind.REMOVE) and open_ is not None:
            intervals.append((open_[0], open_[1], _key(event)))
            open_ = None
    if open_ is not None:
        intervals.append((open_[0], open_[1], _LATEST))
    return intervals


def _collect(serials: list[int], low: tuple, high: tuple, *, own: bool, depth: int,
             out: dict[int, tuple[Event, bool]]) -> None:
    events = _events_of(serials)
    for event in events:
        if (own or low < _key(event) < high) and event.id not in out:
            out[event.id] = (event, own)
    if depth >= ANCESTOR_DEPTH:
        return
    for parent, start, end in _packing_intervals(events):
        window_low, window_high = max(low, start), min(high, end)
        if window_low < window_high:
            _collect(label_chain(parent, forward=True), window_low, window_high, own=False,
                     depth=depth + 1, out=out)


def timeline_events(serial: int) -> list[tuple[Event, bool]]:
    """A unit's history in time order: (event, is the unit's own) — its own, its old labels', its parents'."""
    collected: dict[int, tuple[Event, bool]] = {}
    _collect(label_chain(serial, forward=False), _EARLIEST, _LATEST, own=True, depth=0, out=collected)
    events = sorted(collected.values(), key=lambda pair: _key(pair[0]))
    # A replacement is written on both codes; the unit's own history shows it once.
    return [(e, own) for e, own in events if not (own and e.kind is EventKind.REPLACE and e.data
                                                  and e.data.get("new_serial") not in (None, e.serial))]



def entries_of(events: list[tuple[Event, bool]], encode: SerialCodes | None = None) -> list[TimelineEntry]:
    """Timeline entries of (event, is the unit's own) pairs, with codes and place names."""
    encode = encode or SerialCodes()
    encode.many([e.serial for e, _ in events] + [e.parent_serial for e, _ in events])
    names = place_names((e.location_kind, e.location_id) for e, _ in events)
    entries = []
    for event, own in events:
        location = None
        if event.location_kind is not None:
            location = Place(event.location_kind, event.location_id,
                             names.get((event.location_kind, event.location_id)))
        code = encode(event.serial)
        entries.append(TimelineEntry(
            id=event.id, kind=event.kind, code=code, via=None if own else code,
            parent_code=encode(event.parent_serial), occurred_at=event.occurred_at,
            recorded_at=event.recorded_at, location=location, lot_id=event.lot_id,
            corrects_event_id=event.corrects_event_id, data=event.data))
    by_id = {entry.id: entry for entry in entries}
    for entry in entries:
        if entry.corrects_event_id in by_id:
            by_id[entry.corrects_event_id].corrected_by.append(entry.id)
    return entries

