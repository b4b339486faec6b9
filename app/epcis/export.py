"""Our unit events as EPCIS 2.0 events: a unit's history as a document, and the events query.

Each ``unit_events`` row is one EPCIS event (CBV 2.0 business steps and dispositions):

| our event | EPCIS event | bizStep | disposition |
| --- | --- | --- | --- |
| commission | ObjectEvent ADD (ilmd: cbvmda:lotNumber) | commissioning | active |
| pack | AggregationEvent ADD | packing | — |
| unpack, remove | AggregationEvent DELETE | unpacking | — |
| replace | ObjectEvent OBSERVE [old label, new label] | replacing | active |
| scrap | ObjectEvent DELETE | destroying | destroyed |
| receive | ObjectEvent OBSERVE, sourceList/destinationList | receiving | sellable_(not_)accessible |
| ship | ObjectEvent OBSERVE, sourceList/destinationList, po | shipping | in_transit |
| sell | ObjectEvent OBSERVE | retail_selling | retail_sold |
| recall | ObjectEvent OBSERVE | holding | recalled |
| correct | ObjectEvent OBSERVE (mt:lotNumber: the right lot) | inspecting | — |
| tag | ObjectEvent OBSERVE (an RFID tag written for a unit made before) | encoding | — |

A unit's RFID tag travels as ``mt:rfidTags`` (its hex EPC or TID): on the commission event of a tagged
item, on the pack event of a tagged parent (the parentID's tag) and on a tag event; capture binds it back.

A unit's history is its trace timeline (``app.trace.timeline.timeline_events``): its own events and
those of the case and pallet it was in while it was inside (a pallet shipped is one event on the
pallet's SSCC). eventIDs are the event hashes (``app.epcis.hashing``).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app

from app.codes import service as codes
from app.codes.format import InvalidCode
from app.codes.models import CodeBatch
from app.db import utcnow
from app.epcis import hashing, identifiers, rules
from app.extensions import db
from app.platform.clock import BUSINESS_TZ
from app.production.models import ProductionLot
from app.trace.resolution import issued_resolution
from app.trace.timeline import timeline_events
from app.units.models import Event, EventKind, LocationKind, Unit

CONTEXT = [hashing.EPCIS_CONTEXT, {"mt": "urn:matong:epcis:"}]


def _offset_text(zone) -> str:
    """A fixed time zone's offset as EPCIS writes it ("+08:00")."""
    minutes = int(zone.utcoffset(None).total_seconds()) // 60
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


TIME_ZONE_OFFSET = _offset_text(BUSINESS_TZ)  # every event is written in the business time zone
PER_PAGE, MAX_PER_PAGE = 30, 100

BIZ_STEPS = {
    EventKind.COMMISSION: "commissioning", EventKind.PACK: "packing", EventKind.UNPACK: "unpacking",
    EventKind.REMOVE: "unpacking", EventKind.REPLACE: "replacing", EventKind.SCRAP: "destroying",
    EventKind.RECEIVE: "receiving", EventKind.SHIP: "shipping", EventKind.SELL: "retail_selling",
    EventKind.RECALL: "holding", EventKind.CORRECT: "inspecting", EventKind.TAG: "encoding",
}
_CBV_BIZSTEP = "https://ref.gs1.org/cbv/BizStep-"
_AGGREGATION = (EventKind.PACK, EventKind.UNPACK, EventKind.REMOVE)


def _time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Context:
    """What turning a set of events into EPCIS needs, read in a few queries: EPCs, lot numbers, place URIs."""

    def __init__(self, events: list[Event]):
        serials = set()
        for event in events:
            serials.add(event.serial)
            if event.parent_serial is not None:
                serials.add(event.parent_serial)
            for name in ("old_serial", "new_serial"):
                if event.data and isinstance(event.data.get(name), int):
                    serials.add(event.data[name])
        rows = {}
        ordered = sorted(serials)
        for i in range(0, len(ordered), 1000):
            for row in db.session.execute(sa.select(Unit.serial, Unit.key_version, Unit.batch_id)
                                          .where(Unit.serial.in_(ordered[i:i + 1000]))):
                rows[row.serial] = row
        batch_ids = {row.batch_id for row in rows.values()}
        self.batches = {b.id: b for b in db.session.scalars(sa.select(CodeBatch).where(CodeBatch.id.in_(batch_ids)))}
        self.rows = rows
        lot_ids = {e.lot_id for e in events if e.lot_id is not None}
        lot_ids.update(e.data["to"] for e in events
                       if e.kind is EventKind.CORRECT and e.data and isinstance(e.data.get("to"), int))
        self.lots = dict(db.session.execute(sa.select(ProductionLot.id, ProductionLot.lot_no)
                                            .where(ProductionLot.id.in_(lot_ids))).all()) if lot_ids else {}
        places = {(e.location_kind, e.location_id) for e in events}
        for event in events:
            for end in ("from", "to"):
                place = _data_place(event, end)
                if place is not None:
                    places.add(place)
        self.places = identifiers.place_uris(places)
        self._epcs: dict[int, str] = {}

    def epc(self, serial: int) -> str:
        found = self._epcs.get(serial)
        if found is None:
            row = self.rows.get(serial)
            if row is not None:
                batch = self.batches[row.batch_id]
            else:  # no unit row (not expected for an event's serial): the batch holding the serial
                batch = db.session.scalar(sa.select(CodeBatch).where(CodeBatch.serial_start <= serial)
                                          .order_by(CodeBatch.serial_start.desc()).limit(1))
            found = identifiers.epc(batch, codes.keyring().encode(serial, batch.key_version), serial)
            self._epcs[serial] = found
        return found

    def place(self, kind, place_id) -> str | None:
        return self.places.get((kind, place_id))


def _data_place(event: Event, end: str) -> tuple[LocationKind, int] | None:
    value = (event.data or {}).get(end)
    if isinstance(value, dict) and value.get("kind") and value.get("id") is not None:
        try:
            return LocationKind(value["kind"]), value["id"]
        except ValueError:
            return None
    return None


def _epcis_event(event: Event, ctx: _Context) -> dict:
    kind = event.kind
    out: dict = {"type": "AggregationEvent" if kind in _AGGREGATION else "ObjectEvent",
                 "eventTime": _time(event.occurred_at), "recordTime": _time(event.recorded_at),
                 "eventTimeZoneOffset": TIME_ZONE_OFFSET}
    here = ctx.place(event.location_kind, event.location_id)
    if kind in _AGGREGATION:
        out["parentID"] = ctx.epc(event.parent_serial)
        out["childEPCs"] = [ctx.epc(event.serial)]
        out["action"] = "ADD" if kind is EventKind.PACK else "DELETE"
    elif kind is EventKind.REPLACE:
        data = event.data or {}
        out["epcList"] = [ctx.epc(data.get("old_serial", event.serial)), ctx.epc(data.get("new_serial", event.serial))]
        out["action"] = "OBSERVE"
    else:
        out["epcList"] = [ctx.epc(event.serial)]
        out["action"] = {EventKind.COMMISSION: "ADD", EventKind.SCRAP: "DELETE"}.get(kind, "OBSERVE")
    out["bizStep"] = BIZ_STEPS[kind]
    disposition = {EventKind.COMMISSION: "active", EventKind.REPLACE: "active", EventKind.SCRAP: "destroyed",
                   EventKind.SHIP: "in_transit", EventKind.SELL: "retail_sold", EventKind.RECALL: "recalled",
                   EventKind.RECEIVE: "sellable_accessible" if event.location_kind is LocationKind.STORE
                   else "sellable_not_accessible"}.get(kind)
    if disposition:
        out["disposition"] = disposition
    if here:
        out["readPoint"] = {"id": here}
        if kind is not EventKind.SHIP:  # shipped goods are no longer at the place that shipped them
            out["bizLocation"] = {"id": here}
    data = event.data or {}
    if kind is EventKind.SHIP and data.get("order_no"):
        out["bizTransactionList"] = [{"type": "po", "bizTransaction": identifiers.order_uri(data["order_no"])}]
    if kind in (EventKind.SHIP, EventKind.RECEIVE):
        origin = _data_place(event, "from") or (
            (event.location_kind, event.location_id) if kind is EventKind.SHIP else None)
        target = _data_place(event, "to") or (
            (event.location_kind, event.location_id) if kind is EventKind.RECEIVE else None)
        source, destination = origin and ctx.place(*origin), target and ctx.place(*target)
        if source:
            out["sourceList"] = [{"type": "location", "source": source}]
        if destination:
            out["destinationList"] = [{"type": "location", "destination": destination}]
    if kind is EventKind.COMMISSION and event.lot_id in ctx.lots:
        out["ilmd"] = {"cbvmda:lotNumber": ctx.lots[event.lot_id]}
    if kind is EventKind.CORRECT and data.get("to") in ctx.lots:
        out["mt:lotNumber"] = ctx.lots[data["to"]]
    tag = data.get("parent_epc") if kind is EventKind.PACK else data.get("epc")
    if isinstance(tag, str) and kind in (EventKind.COMMISSION, EventKind.PACK, EventKind.TAG):
        out["mt:rfidTags"] = [tag]
    return out


def epcis_events(events: list[Event]) -> list[dict]:
    """EPCIS events of our events, in the same order, each with its event hash as eventID."""
    ctx = _Context(events)
    converted = [_epcis_event(event, ctx) for event in events]
    return [{"type": event["type"], "eventID": event_id, **event}
            for event, event_id in zip(converted, hashing.event_ids(CONTEXT, converted))]


def _document(events: list[dict]) -> dict:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": _time(utcnow()),
            "epcisBody": {"eventList": events}}


def unit_document(code: str) -> dict:
    """A unit's history as an EPCIS document (no events for a code never commissioned)."""
    resolution = issued_resolution(code)
    exists = db.session.scalar(sa.select(Unit.serial).where(Unit.serial == resolution.serial))
    events = [event for event, _ in timeline_events(resolution.serial)] if exists is not None else []
    return _document(epcis_events(events))


# --- the events query ---------------------------------------------------------------------------

def _kinds_of(biz_steps: list[str]) -> set[EventKind]:
    kinds = set()
    for step in biz_steps:
        step = step.removeprefix(_CBV_BIZSTEP)
        kinds.update(kind for kind, name in BIZ_STEPS.items() if name == step)
    return kinds


def _serials_of(epcs: list[str]) -> set[int]:
    serials = set()
    for uri in epcs:
        read = identifiers.read_epc(uri)
        if read.code is not None:
            try:
                serials.add(codes.keyring().decode(read.code).serial)
            except InvalidCode:  # a malformed or forged code names no event
                continue
    return serials


def _fingerprint(query: dict) -> str:
    parts = [f"{name}={query[name]!r}" for name in sorted(query) if name not in ("nextPageToken", "perPage")]
    return "&".join(parts)


def _sign(after: int, fingerprint: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"epcis:{after}:{fingerprint}".encode(), hashlib.sha256).hexdigest()[:24]


def _page_token(after: int, fingerprint: str) -> str:
    return f"{after}.{_sign(after, fingerprint)}"


def _read_token(token: str, fingerprint: str) -> int:
    after, _, mac = token.partition(".")
    # ASCII only: int() refuses some digits str.isdigit() admits ("²"), compare_digest refuses non-ASCII text
    if (not token.isascii() or not after.isdigit() or len(after) > 19
            or not hmac.compare_digest(mac, _sign(int(after), fingerprint))):
        raise rules.PageTokenInvalid()
    return int(after)


def query_events(*, query: dict) -> tuple[dict, str | None]:
    """An EPCISQueryDocument of the events matching a SimpleEventQuery's parameters, and the next page's token.

    ``query`` (lists are "|"-separated values): EQ_bizStep, MATCH_epc (epcList or childEPCs),
    MATCH_parentID, MATCH_anyEPC (either), GE_eventTime / LT_eventTime, GE_recordTime / LT_recordTime,
    perPage, nextPageToken. Events come in the order they were recorded.
    """
    fingerprint = _fingerprint(query)
    select = sa.select(Event)
    if query.get("EQ_bizStep"):
        select = select.where(Event.kind.in_(_kinds_of(query["EQ_bizStep"])))
    if query.get("MATCH_epc"):
        select = select.where(Event.serial.in_(_serials_of(query["MATCH_epc"])))
    if query.get("MATCH_parentID"):
        select = select.where(Event.parent_serial.in_(_serials_of(query["MATCH_parentID"])),
                              Event.kind.in_(_AGGREGATION))
    if query.get("MATCH_anyEPC"):
        serials = _serials_of(query["MATCH_anyEPC"])
        select = select.where(sa.or_(Event.serial.in_(serials),
                                     sa.and_(Event.parent_serial.in_(serials), Event.kind.in_(_AGGREGATION))))
    for name, column, compare in (("GE_eventTime", Event.occurred_at, "ge"), ("LT_eventTime", Event.occurred_at, "lt"),
                                  ("GE_recordTime", Event.recorded_at, "ge"), ("LT_recordTime", Event.recorded_at, "lt")):
        if query.get(name) is not None:
            select = select.where(column >= query[name] if compare == "ge" else column < query[name])
    if query.get("nextPageToken"):
        select = select.where(Event.id > _read_token(query["nextPageToken"], fingerprint))
    per_page = query.get("perPage") or PER_PAGE
    events = list(db.session.scalars(select.order_by(Event.id).limit(per_page + 1)))
    token = None
    if len(events) > per_page:
        events = events[:per_page]
        token = _page_token(events[-1].id, fingerprint)
    document = {"@context": CONTEXT, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
                "creationDate": _time(utcnow()),
                "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                               "resultsBody": {"eventList": epcis_events(events)}}}}
    return document, token
