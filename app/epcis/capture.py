"""Capture: a partner's EPCIS 2.0 document recorded through the line engine and the warehouse service.

Each event becomes the records the line and warehouse APIs take, applied by the same services in the
caller's transaction, in eventTime order:

- ObjectEvent ADD, bizStep commissioning: one commission record of all its EPCs into the lot named
  by ``ilmd`` ``cbvmda:lotNumber`` (of the EPCs' product), on the line its readPoint or bizLocation
  names (else the lot's line);
- AggregationEvent ADD: a pack record per child; AggregationEvent DELETE: a remove record per child
  (no children: the parent unpacked whole) — on the line of the readPoint, else of the first
  child's lot;
- ObjectEvent DELETE, bizStep destroying or decommissioning: a scrap record per EPC;
- ObjectEvent OBSERVE, bizStep shipping: an outbound warehouse scan per EPC, from the warehouse of
  the sourceList (else readPoint) to the dealer or warehouse of the destinationList, against the
  order of a ``po`` bizTransaction;
- ObjectEvent OBSERVE, bizStep receiving: an inbound scan per EPC into the warehouse of the
  bizLocation (else readPoint, else destinationList), from a line or, when the sourceList names a
  warehouse, a transfer.

RFID tags: an event may carry ``mt:rfidTags`` (``urn:matong:epcis:rfidTags``), a list of tag EPCs (SGTIN-96
hex or TIDs, as the line upload's ``epc``): on a commissioning of one EPC they are bound to it at
commissioning; on an AggregationEvent ADD, to its parent; on an ObjectEvent OBSERVE bizStep encoding
of one EPC, to a unit commissioned before and still at the line (a tag event). Each tag is one record
of the line engine (its ``epc`` / ``parent_epc``), refused alone (``epc_taken``, ``epc_mismatch``…).

Idempotent by eventID: an event's records carry ids derived from it (an event without eventID gets
its event hash), so a second capture of the event answers duplicate and applies nothing. The eventID
of an event applied is kept with the event's hash (``CapturedEvent``): the same eventID sent with
other content is refused (``event_id_reused``), never answered as a duplicate of what it isn't. An event
whose EPCs, places or lot can't be read is rejected whole before anything is applied; past that,
each EPC is one record of the service, so an event may be rejected for some EPCs (listed) while the
others are applied — a retry of the event applies only what is still missing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa

from app import rfid
from app.codes import service as codes
from app.codes.models import Level
from app.epcis import hashing, identifiers, rules, validation
from app.epcis.models import CapturedEvent
from app.errors import DomainError
from app.extensions import db
from app.identity.service import Actor
from app.masterdata.models import Product
from app.production.models import ProductionLot
from app.units import line_engine, line_records, line_sessions, unit_rows
from app.units import rules as unit_rules
from app.units.models import LineSession, LocationKind, SessionStatus, Unit
from app.warehouse import rules as warehouse_rules
from app.warehouse import service as warehouse

MAX_EVENTS = 1000
MAX_CONTEXT_ENTRIES = 16  # a context list is a few URIs and prefixes; the schema checks its items pairwise
_CBV = ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:")
_TAGS_KEYS = ("mt:rfidTags", "urn:matong:epcis:rfidTags")
MAX_TAGS = 8  # an item's SGTIN-96 and TID, a few spares: a list longer than this is a mistake
_LOT_KEYS = ("cbvmda:lotNumber", "urn:epcglobal:cbv:mda#lotNumber", "https://ref.gs1.org/cbv/mda#lotNumber")


@dataclass
class Outcome:
    """What became of one event of the document (``index``: its position in the eventList)."""

    index: int
    event_id: str
    status: str  # accepted | duplicate | rejected
    reason: str | None = None
    message: str | None = None
    applied: int = 0  # records applied by this capture
    rejected_epcs: list[dict] = field(default_factory=list)  # [{epc, reason}]


class _Refused(Exception):
    def __init__(self, reason: str, message: str | None = None):
        self.reason, self.message = reason, message


def capture(*, actor: Actor, document: dict) -> list[Outcome]:
    """Record a document's events (in eventTime order); one outcome per event, in the document's order."""
    body = document.get("epcisBody")
    if isinstance(body, dict) and isinstance(body.get("eventList"), list) and len(body["eventList"]) > MAX_EVENTS:
        raise rules.TooManyEvents()  # before the schema reads them all
    if _long_context(document, body):  # before the schema compares its items pairwise (its uniqueItems)
        raise rules.DocumentInvalid(errors={"document": [
            f"@context: at most {MAX_CONTEXT_ENTRIES} entries, in the document and in each event"]})
    problems = validation.errors(document)
    if document.get("type") != "EPCISDocument":
        problems.insert(0, "type: a capture is an EPCISDocument")
    unknown = hashing.remote_contexts(document.get("@context"))
    if unknown:
        problems.append(f"@context: {unknown[0]} is not a context we hold; inline it")
    if problems:
        raise rules.DocumentInvalid(errors={"document": problems})
    events = body.get("eventList") or []
    try:
        contents = hashing.event_ids(document["@context"], events)  # the events' hashes: their content
    except hashing.HashFailed as error:
        raise rules.DocumentInvalid(errors={"document": [str(error)]})
    outcomes: list[Outcome | None] = [None] * len(events)
    source = unit_rows.source_of(actor)
    for i in sorted(range(len(events)), key=lambda i: (_time_key(events[i]), i)):
        event, content = events[i], contents[i]
        event_id = event.get("eventID") or content
        try:
            outcomes[i] = _capture_once(actor, source, i, event, event_id, content)
        except _Refused as refusal:
            outcomes[i] = Outcome(i, event_id, "rejected", refusal.reason, refusal.message or REASONS.get(refusal.reason))
    return outcomes


def _long_context(document: dict, body) -> bool:
    events = body.get("eventList") if isinstance(body, dict) else None
    contexts = [document.get("@context"), *(e.get("@context") for e in events or () if isinstance(e, dict))]
    return any(isinstance(c, list) and len(c) > MAX_CONTEXT_ENTRIES for c in contexts)


def _time_key(event: dict) -> datetime:
    """The event's time in UTC (an unreadable one first: it is refused anyway)."""
    try:
        return _when(event).astimezone(timezone.utc)
    except _Refused:
        return datetime.min.replace(tzinfo=timezone.utc)


def _capture_once(actor: Actor, source: str, index: int, event: dict, event_id: str, content: str) -> Outcome:
    """Capture an event unless its eventID was applied before with other content; keep the eventID once applied.

    The eventID's row is read with a locking read: two captures of one eventID at once wait for each
    other (or deadlock and are retried), so the second sees what the first kept.
    """
    if len(event_id) > 512:
        raise _Refused(rules.EVENT_ID_INVALID)
    key = hashlib.sha256(event_id.encode()).hexdigest()
    known = db.session.scalar(sa.select(CapturedEvent.content_hash).where(
        CapturedEvent.source == source, CapturedEvent.event_key == key).with_for_update())
    if known is not None and known != content:
        raise _Refused(rules.EVENT_ID_REUSED)
    outcome = _capture_event(actor, index, event, event_id)
    if known is None and (outcome.applied or outcome.status == "duplicate"):
        db.session.add(CapturedEvent(source=source, event_key=key, event_id=event_id, content_hash=content))
        db.session.flush()
    return outcome


def _record_ids(event_id: str, count: int) -> list[str]:
    key = hashlib.sha256(f"epcis:{event_id}".encode()).hexdigest()[:56]
    return [f"{key}.{n}" for n in range(count)]


def _when(event: dict) -> datetime:
    try:
        moment = datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        raise _Refused(rules.EVENT_TIME_INVALID)
    if moment.tzinfo is None:
        raise _Refused(rules.EVENT_TIME_INVALID)
    return moment


def _biz_step(event: dict) -> str | None:
    step = event.get("bizStep")
    if not isinstance(step, str):
        return None
    for prefix in _CBV:
        step = step.removeprefix(prefix)
    return step


def _code(uri: str) -> tuple[str, int]:
    """The canonical code and serial an EPC names; refused when it is none of ours or its GTIN is not its product's."""
    read = identifiers.read_epc(uri)
    if read.code is None:
        raise _Refused(rules.EPC_UNKNOWN, f"{rules.REASONS[rules.EPC_UNKNOWN]} ({uri[:200]})")
    resolution = codes.resolve_code(read.code)
    if resolution.batch is None:
        raise _Refused(rules.EPC_UNKNOWN, f"{rules.REASONS[rules.EPC_UNKNOWN]} ({uri[:200]})")
    if read.gtin is not None:
        product_id = db.session.scalar(sa.select(Unit.product_id).where(Unit.serial == resolution.serial)) \
            or resolution.batch.product_id
        gtin = db.session.scalar(sa.select(Product.gtin).where(Product.id == product_id)) if product_id else None
        if gtin is not None and gtin != read.gtin:
            raise _Refused(rules.EPC_GTIN_MISMATCH)
    return resolution.code, resolution.serial


def _place(event: dict, *names: str, kinds: tuple[LocationKind, ...]) -> tuple[LocationKind, int] | None:
    """The first of the event's readPoint / bizLocation / sourceList / destinationList that is a place of ``kinds``."""
    for name in names:
        if name in ("readPoint", "bizLocation"):
            uris = [(event.get(name) or {}).get("id")]
        else:
            key = "source" if name == "sourceList" else "destination"
            uris = [entry.get(key) for entry in event.get(name) or [] if entry.get("type") in (
                "location", "https://ref.gs1.org/cbv/SDT-location", "urn:epcglobal:cbv:sdt:location")]
        for uri in uris:
            if isinstance(uri, str):
                place = identifiers.read_place(uri)
                if place is not None and place[0] in kinds:
                    return place
    return None


def _capture_event(actor: Actor, index: int, event: dict, event_id: str) -> Outcome:
    kind, action, step = event.get("type"), event.get("action"), _biz_step(event)
    at = _when(event)
    tags = _tags(event, kind, action, step)
    if kind == "ObjectEvent" and action == "ADD" and step == "commissioning":
        return _line(actor, index, event_id, *_commission(event, event_id, at, tags))
    if kind == "AggregationEvent" and action in ("ADD", "DELETE"):
        return _line(actor, index, event_id, *_aggregation(event, event_id, at, tags))
    if kind == "ObjectEvent" and action == "OBSERVE" and step == "encoding":
        return _line(actor, index, event_id, *_encoding(event, event_id, at, tags))
    if kind == "ObjectEvent" and action == "DELETE" and step in ("destroying", "decommissioning"):
        epcs = event.get("epcList") or []
        found = [_code(uri) for uri in epcs]
        records = [line_records.Scrap(record_id=rid, scanned_at=at, code=code)
                   for rid, (code, _) in zip(_record_ids(event_id, len(found)), found)]
        return _line(actor, index, event_id, records, [{"epc": uri} for uri in epcs], _session_place(event, found))
    if kind == "ObjectEvent" and action == "OBSERVE" and step in ("shipping", "receiving"):
        return _warehouse(actor, index, event, event_id, at, step)
    raise _Refused(rules.UNSUPPORTED_EVENT)


def _tags(event: dict, kind, action, step) -> list[rfid.Epc]:
    """The event's ``mt:rfidTags``, read; refused when malformed or on an event that binds no tag."""
    values = next((event[k] for k in _TAGS_KEYS if k in event), None)
    if values is None:
        return []
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_TAGS or not all(isinstance(v, str) for v in values):
        raise _Refused(rules.RFID_TAGS_INVALID, f"mt:rfidTags is a list of 1 to {MAX_TAGS} tag EPCs (hex).")
    single = len(event.get("epcList") or []) == 1
    if not ((kind == "ObjectEvent" and action == "ADD" and step == "commissioning" and single)
            or (kind == "AggregationEvent" and action == "ADD")
            or (kind == "ObjectEvent" and action == "OBSERVE" and step == "encoding" and single)):
        raise _Refused(rules.RFID_TAGS_INVALID)
    try:
        return list({epc.hex: epc for epc in map(rfid.parse_epc, values)}.values())
    except rfid.EpcInvalid as error:
        raise _Refused(rules.RFID_TAGS_INVALID, f"mt:rfidTags: {error}.")


# --- the line engine ----------------------------------------------------------------------------

def _commission(event: dict, event_id: str, at: datetime, tags: list[rfid.Epc]):
    epcs = event.get("epcList") or []
    if not epcs:
        raise _Refused(rules.UNSUPPORTED_EVENT, "A commissioning event lists its EPCs (epcList).")
    found = [_code(uri) for uri in epcs]
    ilmd = event.get("ilmd") or {}
    lot_no = next((ilmd[k] for k in _LOT_KEYS if isinstance(ilmd.get(k), str)), None)
    if lot_no is None:
        raise _Refused(rules.LOT_UNKNOWN)
    products = set()
    for uri, (code, _) in zip(epcs, found):
        read = identifiers.read_epc(uri)
        if read.gtin:
            products.update(db.session.scalars(sa.select(Product.id).where(Product.gtin == read.gtin)))
        batch = codes.resolve_code(code).batch
        if batch.product_id is not None:
            products.add(batch.product_id)
    query = sa.select(ProductionLot).where(ProductionLot.lot_no == lot_no)
    if products:
        query = query.where(ProductionLot.product_id.in_(products))
    lots = list(db.session.scalars(query.limit(2)))
    if not lots:
        raise _Refused(rules.LOT_UNKNOWN)
    if len(lots) > 1:
        raise _Refused(rules.LOT_AMBIGUOUS)
    lot = lots[0]
    line = _place(event, "readPoint", "bizLocation", kinds=(LocationKind.LINE,))
    line_id = line[1] if line else lot.line_id
    if line_id is None:
        raise _Refused(rules.LOCATION_UNKNOWN)
    if not tags:
        [record_id] = _record_ids(event_id, 1)
        record = line_records.Commission(record_id=record_id, scanned_at=at, codes=[code for code, _ in found], lot_id=lot.id)
        return [record], [{"epc": epcs[0]}], (line_id, lot.id)
    # One EPC, tagged: a record a tag (the first commissions it, the others tag it at once after).
    [(code, _)] = found
    records = [line_records.Commission(record_id=rid, scanned_at=at, code=code, lot_id=lot.id, epc=tag.hex)
               for rid, tag in zip(_record_ids(event_id, len(tags)), tags)]
    return records, [{"epc": epcs[0], "tag": tag.hex} for tag in tags], (line_id, lot.id)


def _encoding(event: dict, event_id: str, at: datetime, tags: list[rfid.Epc]):
    """Tags written for a unit commissioned or packed before (ObjectEvent OBSERVE encoding, mt:rfidTags):
    an item's through commission records, a case's or pallet's through pack records of one of its children."""
    if not tags:
        raise _Refused(rules.RFID_TAGS_INVALID, "An encoding event lists the tags it wrote (mt:rfidTags).")
    [uri] = event["epcList"]
    code, serial = _code(uri)
    line_id, lot_id = _session_place(event, [(code, serial)])
    ids = _record_ids(event_id, len(tags))
    if db.session.scalar(sa.select(Unit.level).where(Unit.serial == serial)) is Level.ITEM:
        records = [line_records.Commission(record_id=rid, scanned_at=at, code=code, lot_id=lot_id, epc=tag.hex)
                   for rid, tag in zip(ids, tags)]
    else:
        child = db.session.execute(sa.select(Unit.serial, Unit.key_version).where(Unit.parent_serial == serial)
                                   .order_by(Unit.serial).limit(1)).first()
        if child is None:
            raise _Refused(unit_rules.NOT_PACKED)
        child_code = codes.keyring().encode(child.serial, child.key_version)
        records = [line_records.Pack(record_id=rid, scanned_at=at, code=child_code, parent=code, parent_epc=tag.hex)
                   for rid, tag in zip(ids, tags)]
    return records, [{"epc": uri, "tag": tag.hex} for tag in tags], (line_id, lot_id)


def _aggregation(event: dict, event_id: str, at: datetime, tags: list[rfid.Epc]):
    parent_uri = event.get("parentID")
    if not parent_uri:
        raise _Refused(rules.UNSUPPORTED_EVENT, "An aggregation names its parent (parentID).")
    parent, _ = _code(parent_uri)
    children_uris = event.get("childEPCs") or []
    children = [_code(uri) for uri in children_uris]
    labels = [{"epc": uri} for uri in children_uris]
    if event["action"] == "ADD":
        if not children:
            raise _Refused(rules.UNSUPPORTED_EVENT, "Packing lists its children (childEPCs).")
        # The parent's tags ride on packs of the first child: the first binds one, the others tag it after.
        hexes = [tag.hex for tag in tags]
        packs = [(code, hexes[0] if n == 0 and hexes else None) for n, (code, _) in enumerate(children)]
        packs += [(children[0][0], tag) for tag in hexes[1:]]
        labels = [{"epc": children_uris[n] if n < len(children) else parent_uri, **({"tag": tag} if tag else {})}
                  for n, (_, tag) in enumerate(packs)]
        records = [line_records.Pack(record_id=rid, scanned_at=at, code=code, parent=parent, parent_epc=tag)
                   for rid, (code, tag) in zip(_record_ids(event_id, len(packs)), packs)]
    elif children:
        records = [line_records.Remove(record_id=rid, scanned_at=at, code=code, parent=parent)
                   for rid, (code, _) in zip(_record_ids(event_id, len(children)), children)]
    else:
        records = [line_records.Unpack(record_id=_record_ids(event_id, 1)[0], scanned_at=at, code=parent)]
        labels = [{"epc": parent_uri}]
    return records, labels, _session_place(event, children or [_code_and_serial(parent)])


def _code_and_serial(code: str) -> tuple[str, int]:
    return code, codes.keyring().decode(code).serial


def _session_place(event: dict, found: list[tuple[str, int]]) -> tuple[int, int]:
    """(line, lot) of the session the records go through: the readPoint's line, else the first unit's lot's."""
    lot_id = None
    for _, serial in found:
        lot_id = db.session.scalar(sa.select(Unit.lot_id).where(Unit.serial == serial))
        if lot_id is not None:
            break
    if lot_id is None:
        raise _Refused(unit_rules.NOT_COMMISSIONED)
    line = _place(event, "readPoint", "bizLocation", kinds=(LocationKind.LINE,))
    line_id = line[1] if line else db.session.scalar(sa.select(ProductionLot.line_id).where(ProductionLot.id == lot_id))
    if line_id is None:
        raise _Refused(rules.LOCATION_UNKNOWN)
    return line_id, lot_id


def _session(actor: Actor, line_id: int, lot_id: int) -> int:
    """The open capture session of this key on (line, lot), started when there is none."""
    source = unit_rows.source_of(actor)
    found = db.session.scalar(sa.select(LineSession.id).where(
        LineSession.source == source, LineSession.line_id == line_id, LineSession.lot_id == lot_id,
        LineSession.status == SessionStatus.OPEN, LineSession.operator == "epcis").order_by(LineSession.id).limit(1))
    if found is not None:
        return found
    try:
        return line_sessions.start_session(actor=actor, line_id=line_id, lot_id=lot_id, operator="epcis").id
    except DomainError as error:
        raise _Refused(error.code, error.message)


def _line(actor: Actor, index: int, event_id: str, records: list, labels: list[dict],
          place: tuple[int, int]) -> Outcome:
    session_id = _session(actor, *place)
    results = line_engine.apply_records(actor=actor, session_id=session_id, records=records)
    return _outcome(index, event_id, [(r.status, r.reason, r.message) for r in results], labels)


# --- the warehouse ------------------------------------------------------------------------------

def _warehouse(actor: Actor, index: int, event: dict, event_id: str, at: datetime, step: str) -> Outcome:
    epcs = event.get("epcList") or []
    if not epcs:
        raise _Refused(rules.UNSUPPORTED_EVENT, "A shipping or receiving event lists its EPCs (epcList).")
    found = [_code(uri) for uri in epcs]
    if step == "shipping":
        origin = _place(event, "sourceList", "readPoint", kinds=(LocationKind.WAREHOUSE,))
        target = _place(event, "destinationList", kinds=(LocationKind.DEALER, LocationKind.WAREHOUSE))
        if origin is None or target is None:
            raise _Refused(rules.LOCATION_UNKNOWN)
        order_no = next((identifiers.read_order(t.get("bizTransaction", "")) for t in event.get("bizTransactionList") or []
                         if identifiers.read_order(t.get("bizTransaction", ""))), None)
        fields = {"action": warehouse.OUTBOUND, "warehouse_id": origin[1],
                  "to_dealer_id" if target[0] is LocationKind.DEALER else "to_warehouse_id": target[1]}
        if order_no:
            fields["order_no"] = order_no
    else:
        here = _place(event, "bizLocation", "readPoint", "destinationList", kinds=(LocationKind.WAREHOUSE,))
        if here is None:
            raise _Refused(rules.LOCATION_UNKNOWN)
        came = _place(event, "sourceList", kinds=(LocationKind.WAREHOUSE, LocationKind.LINE))
        fields = {"action": warehouse.INBOUND, "warehouse_id": here[1],
                  "source": warehouse.FROM_TRANSFER if came and came[0] is LocationKind.WAREHOUSE
                  else warehouse.FROM_LINE}
    records = [{"record_id": rid, "scanned_at": at, "code": code, **fields}
               for rid, (code, _) in zip(_record_ids(event_id, len(found)), found)]
    results = warehouse.apply_scans(actor=actor, records=records)
    return _outcome(index, event_id, [(r.status, r.reason, r.message) for r in results], [{"epc": uri} for uri in epcs])


def _outcome(index: int, event_id: str, results: list[tuple], labels: list[dict]) -> Outcome:
    """One event's outcome from its records' (``labels``: what each record names, its EPC and tag):
    rejected if any was, duplicate if all were, else accepted."""
    outcome = Outcome(index, event_id, "accepted")
    statuses = [status for status, *_ in results]
    outcome.applied = statuses.count("accepted")
    for (status, reason, message), label in zip(results, labels):
        if status == "rejected":
            outcome.rejected_epcs.append({**label, "reason": reason})
            if outcome.status != "rejected":
                outcome.status, outcome.reason, outcome.message = "rejected", reason, message
    if outcome.status != "rejected" and all(status == "duplicate" for status in statuses):
        outcome.status = "duplicate"
    return outcome


REASONS = {**rules.REASONS,
           **{k: v for k, v in unit_rules.REASONS.items() if k not in rules.REASONS},
           **{k: v for k, v in warehouse_rules.REASONS.items() if k not in rules.REASONS}}
