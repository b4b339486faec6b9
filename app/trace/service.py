"""Traceability use cases: a code's trace, a lot's units and where they are, recalls, corrections.

A code's TIMELINE is its own events plus the events of each case or pallet while the unit was
inside it. The packing intervals come from the unit's own events: a PACK opens an interval in
``parent_serial``, the next UNPACK or REMOVE closes it; the current parent's interval is open. A
parent's events inside that window join the timeline (marked ``via`` the parent's code), and so,
recursively, do the events of the parent's own parents while the parent was inside them. A label
replacement carries a unit on under a new code: the new code's timeline includes the old code's
events (``replaces_serial`` chain), and a child packed under a parent's old label stays in that
parent under its new one.

The recall view lists a lot's ITEMS (what stock, dealers, stores and consumers hold); a case or
pallet's lot is informative only (its first child's). A recall marks every active unit whose lot is
the lot — items and the cases and pallets whose lot it is — so a consumer scanning any of them is
told. Scrapped and voided units are not marked. Recalling a lot again marks only units not yet
recalled (those commissioned since); when there are none, it is refused (409 ``lot_already_recalled``).

A code's trace also lists its consumer scans (verdict, time, region, who) and the draws made on them
(campaign, outcome, prize), the first CONSUMER_CAP of each in time order, with how many there are.

A raw-material lot's recall is one recall of every production lot that consumed it, under the same
rules. A recall's reach, notices and ERP event are ``app.trace.recalls``'.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.campaigns.models import Campaign, Draw, Prize
from app.codes import service as codes
from app.codes.models import CodeBatch, Level
from app.consumers.models import ConsumerScan
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.identity.service import Actor, audit
from app.masterdata import region_cache
from app.masterdata import rules as masterdata_rules
from app.masterdata.models import Dealer, Product, ProductionLine, Store, Warehouse
from app.platform.filters import Filters
from app.production import rules as production_rules
from app.production import service as production
from app.production.models import LotConsumption, LotStatus, ProductionLot, RawMaterialLot
from app.units import code_status, store
from app.trace import recalls
from app.units.models import Event, EventKind, LocationKind, Recall, RecallLot, Unit, UnitStatus

TREE_CAP = 5000  # nodes of a code's children tree before it is cut (``truncated``)
CONSUMER_CAP = 200  # consumer scans (and draws) of a code listed in its trace
_ANCESTOR_DEPTH = 8  # item < case < pallet; the margin guards against a cycle in bad data
_EARLIEST = (datetime.min.replace(tzinfo=timezone.utc), -1)
_LATEST = (datetime.max.replace(tzinfo=timezone.utc), 2**63)


class UnitNotCommissioned(Conflict):
    code = "unit_not_commissioned"
    message = "The code was issued but never commissioned: there is no unit to change."


class RecallNotFound(NotFound):
    code = "recall_not_found"
    message = "No such recall."


class LotAlreadyRecalled(Conflict):
    code = "lot_already_recalled"
    message = "Every unit of the lot is already recalled."


class LotUnknown(ValidationFailed):
    code = "production_lot_unknown"
    message = "The referenced production lot does not exist."


class CorrectionItemsOnly(ValidationFailed):
    code = "correction_items_only"
    message = "Only an item's lot can be corrected (a case or pallet takes its lot from its first item)."


class CorrectionWrongProduct(ValidationFailed):
    code = "wrong_product"
    message = "The new lot is of another product than the unit."


class LotUnchanged(ValidationFailed):
    code = "lot_unchanged"
    message = "The unit is already in that lot."


class UnitVoided(Conflict):
    code = "unit_voided"
    message = "The code's label was replaced; correct the code that replaced it."


# --- views --------------------------------------------------------------------------------------

@dataclass
class Place:
    kind: LocationKind | None
    id: int | None
    name: str | None = None
    in_transit: bool = False


@dataclass
class UnitRef:
    code: str
    level: Level
    status: UnitStatus


@dataclass
class TreeNode:
    code: str
    level: Level
    status: UnitStatus
    children: list[TreeNode] = field(default_factory=list)


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


@dataclass
class ConsumerScanEntry:
    id: int
    code: str
    scanned_at: datetime
    verdict: str
    scan_number: int
    region_code: str | None
    region_name: str | None
    app_user_id: int
    openid: str


@dataclass
class DrawEntry:
    id: int
    scan_id: int
    drawn_at: datetime
    campaign_id: int
    campaign_name: str | None
    outcome: str
    prize_kind: str | None
    prize_name: str | None
    amount: int  # fen or points won
    app_user_id: int
    openid: str


@dataclass
class CodeTrace:
    code: str
    commissioned: bool
    level: Level
    batch: CodeBatch
    product: Product | None
    status: UnitStatus | None = None
    recall: Recall | None = None
    lot: ProductionLot | None = None
    raw_materials: list[LotConsumption] = field(default_factory=list)
    location: Place | None = None
    ancestors: list[UnitRef] = field(default_factory=list)
    children: list[TreeNode] = field(default_factory=list)
    tree_size: int = 0
    truncated: bool = False
    replaces: str | None = None
    replaced_by: str | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    consumer_scans: list[ConsumerScanEntry] = field(default_factory=list)
    consumer_scans_total: int = 0
    draws: list[DrawEntry] = field(default_factory=list)
    epcs: list = field(default_factory=list)  # the RFID tags bound to the code (units.models.EpcBinding)


@dataclass
class UnitRow:
    """One unit of a listing (the recall view)."""

    code: str
    level: Level
    status: UnitStatus
    product_id: int | None
    lot_id: int | None
    location: Place
    in_transit: bool
    parent_code: str | None
    recall_id: int | None
    commissioned_at: datetime


@dataclass
class PlaceCount:
    kind: LocationKind
    id: int | None
    name: str | None
    in_transit: bool
    units: int


@dataclass
class LotSummary:
    lot: ProductionLot
    units: int = 0  # items of the lot, whatever their state
    active: int = 0
    in_transit: int = 0
    scrapped: int = 0
    voided: int = 0
    recalled: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # active items per location kind
    by_location: list[PlaceCount] = field(default_factory=list)
    recalls: list[Recall] = field(default_factory=list)


@dataclass
class LotUsage:
    """A production lot that used a raw-material lot, with where its items are."""

    consumption: LotConsumption
    summary: LotSummary


@dataclass
class RawMaterialTrace:
    raw_material_lot: object
    lots: list[LotUsage]
    units: int = 0


@dataclass
class Correction:
    code: str
    event: TimelineEntry
    unit_lot_id: int


# --- codes and places ---------------------------------------------------------------------------

class _Codes:
    """Encodes serials as codes (key version from the unit row, else from the batch)."""

    def __init__(self, units: dict[int, store.UnitState] | None = None):
        self._ring = codes.keyring()
        self._versions = {s: u.key_version for s, u in (units or {}).items()}

    def learn(self, units) -> None:
        for unit in units:
            self._versions[unit.serial] = unit.key_version

    def __call__(self, serial: int | None) -> str | None:
        if serial is None:
            return None
        if serial not in self._versions:
            self._fill([serial])
        return self._ring.encode(serial, self._versions[serial])

    def _fill(self, serials: list[int]) -> None:
        missing = [s for s in serials if s not in self._versions]
        for serial, version in db.session.execute(
                sa.select(Unit.serial, Unit.key_version).where(Unit.serial.in_(missing))):
            self._versions[serial] = version
        for serial in missing:
            if serial not in self._versions:  # no unit row: its batch has the key version
                batch = db.session.scalar(sa.select(CodeBatch).where(CodeBatch.serial_start <= serial)
                                          .order_by(CodeBatch.serial_start.desc()).limit(1))
                self._versions[serial] = batch.key_version if batch is not None else self._ring.current

    def many(self, serials) -> None:
        """Learn the key versions of many serials in one query."""
        serials = [s for s in set(serials) if s is not None and s not in self._versions]
        for i in range(0, len(serials), store.CHUNK):
            self._fill(serials[i:i + store.CHUNK])


PLACE_MODELS = {LocationKind.LINE: ProductionLine, LocationKind.WAREHOUSE: Warehouse,
                 LocationKind.DEALER: Dealer, LocationKind.STORE: Store}


def place_rows(places, *columns: str) -> dict[tuple, sa.Row]:
    """Some columns of (kind, id) places (line, warehouse, dealer, store), one query per kind."""
    wanted: dict[LocationKind, set[int]] = {}
    for kind, place_id in places:
        if kind in PLACE_MODELS and place_id is not None:
            wanted.setdefault(kind, set()).add(place_id)
    rows = {}
    for kind, ids in wanted.items():
        model = PLACE_MODELS[kind]
        for row in db.session.execute(sa.select(model.id, *(getattr(model, c) for c in columns))
                                      .where(model.id.in_(ids))):
            rows[(kind, row.id)] = row
    return rows


def place_names(places) -> dict[tuple, str]:
    """Names of (kind, id) places, one query per kind."""
    return {key: row.name for key, row in place_rows(places, "name").items()}


def _resolve(code: str):
    """The code's decoded serial and batch (of an RFID tag's EPC or TID: its code's); CodeNotFound for a
    forged, malformed or never issued code, or a tag bound to none."""
    resolution = codes.resolve_code(code)
    if resolution.status in ("malformed", "forged"):
        bound = store.CodeReader().read(code)
        if isinstance(bound, store.Decoded):
            resolution = codes.resolve_code(bound.code)
    if resolution.batch is None:
        reasons = {"forged": "The code fails its check: it is forged or mistyped.",
                   "malformed": "This is not a code.",
                   "not_issued": "The code verifies but was never issued."}
        raise codes.CodeNotFound(reasons.get(resolution.status), errors={"code": [resolution.status]})
    return resolution


def issued_resolution(code: str):
    """The resolution of an issued code (its serial and batch); CodeNotFound otherwise."""
    return _resolve(code)


# --- a code's trace -----------------------------------------------------------------------------

def trace_code(code: str) -> CodeTrace:
    """Everything known about a code: unit, product, lot, materials, place, tree and timeline."""
    resolution = _resolve(code)
    batch = resolution.batch
    unit = store.load_units([resolution.serial], lock=False).get(resolution.serial)
    if unit is None:
        trace = CodeTrace(code=resolution.code, commissioned=False, level=batch.level, batch=batch,
                          product=batch.product)
        _consumers(trace, [resolution.serial], _Codes())
        return trace
    encode = _Codes({unit.serial: unit})
    lot = db.session.get(ProductionLot, unit.lot_id) if unit.lot_id is not None else None
    trace = CodeTrace(
        code=resolution.code, commissioned=True, level=unit.level, batch=batch,
        product=db.session.get(Product, unit.product_id) if unit.product_id is not None else batch.product,
        status=code_status.unit_status(batch.status, unit.status),
        recall=db.session.get(Recall, unit.recall_id) if unit.recall_id else None,
        lot=lot, raw_materials=production.consumptions_of_production_lot(lot.id) if lot is not None else [],
        replaces=encode(unit.replaces_serial), replaced_by=encode(unit.replaced_by_serial))
    name = place_names([(unit.location_kind, unit.location_id)]).get((unit.location_kind, unit.location_id))
    trace.location = Place(unit.location_kind, unit.location_id, name, unit.in_transit)
    trace.ancestors = _ancestors(unit, encode)
    trace.children, trace.tree_size, trace.truncated = _tree(unit.serial, encode)
    trace.timeline = _timeline(unit, encode)
    trace.epcs = store.epcs_of([unit.serial]).get(unit.serial, [])
    _consumers(trace, _label_chain(unit.serial, forward=False), encode)
    return trace


def _consumers(trace: CodeTrace, serials: list[int], encode: _Codes) -> None:
    """The code's consumer scans (and its replaced labels'), and the draws made on them."""
    mine = ConsumerScan.serial.in_(serials)
    trace.consumer_scans_total = db.session.scalar(sa.select(sa.func.count()).where(mine))
    regions = region_cache.table()
    for scan, openid in db.session.execute(
            sa.select(ConsumerScan, AppUser.openid).join(AppUser, AppUser.id == ConsumerScan.app_user_id)
            .where(mine).order_by(ConsumerScan.scanned_at, ConsumerScan.id).limit(CONSUMER_CAP)):
        region = regions.get(scan.region_code)
        trace.consumer_scans.append(ConsumerScanEntry(
            id=scan.id, code=encode(scan.serial), scanned_at=scan.scanned_at, verdict=scan.verdict.value,
            scan_number=scan.scan_number, region_code=scan.region_code, region_name=region.name if region else None,
            app_user_id=scan.app_user_id, openid=openid))
    for draw, openid, campaign_name, prize_name in db.session.execute(
            sa.select(Draw, AppUser.openid, Campaign.name, Prize.name)
            .join(AppUser, AppUser.id == Draw.app_user_id)
            .outerjoin(Campaign, Campaign.id == Draw.campaign_id).outerjoin(Prize, Prize.id == Draw.prize_id)
            .where(Draw.serial.in_(serials)).order_by(Draw.drawn_at, Draw.id).limit(CONSUMER_CAP)):
        trace.draws.append(DrawEntry(
            id=draw.id, scan_id=draw.scan_id, drawn_at=draw.drawn_at, campaign_id=draw.campaign_id,
            campaign_name=campaign_name, outcome=draw.outcome.value,
            prize_kind=draw.prize_kind.value if draw.prize_kind else None, prize_name=prize_name,
            amount=draw.amount, app_user_id=draw.app_user_id, openid=openid))


def _ancestors(unit: store.UnitState, encode: _Codes) -> list[UnitRef]:
    chain, seen, parent = [], {unit.serial}, unit.parent_serial
    while parent is not None and parent not in seen and len(chain) < _ANCESTOR_DEPTH:
        seen.add(parent)
        row = store.load_units([parent], lock=False).get(parent)
        if row is None:
            break
        encode.learn([row])
        chain.append(UnitRef(encode(row.serial), row.level, row.status))
        parent = row.parent_serial
    return chain


def _tree(root: int, encode: _Codes) -> tuple[list[TreeNode], int, bool]:
    """The children tree under a unit, level by level, cut at TREE_CAP nodes."""
    nodes: dict[int, TreeNode] = {}
    top: list[TreeNode] = []
    parents, truncated = [root], False
    while parents and not truncated:
        room = TREE_CAP - len(nodes)
        rows = []
        for i in range(0, len(parents), store.CHUNK):
            rows += db.session.execute(
                sa.select(Unit.serial, Unit.key_version, Unit.level, Unit.status, Unit.parent_serial)
                .where(Unit.parent_serial.in_(parents[i:i + store.CHUNK]))
                .order_by(Unit.parent_serial, Unit.serial).limit(room + 1)).all()
            if len(rows) > room:
                break
        if len(rows) > room:
            rows, truncated = rows[:room], True
        encode.learn(rows)
        next_parents = []
        for row in rows:
            if row.serial in nodes or row.serial == root:
                continue
            node = TreeNode(encode(row.serial), row.level, row.status)
            nodes[row.serial] = node
            (top if row.parent_serial == root else nodes[row.parent_serial].children).append(node)
            if row.level is not Level.ITEM:
                next_parents.append(row.serial)
        parents = next_parents
    return top, len(nodes), truncated


def _label_chain(serial: int, *, forward: bool) -> list[int]:
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
    if depth >= _ANCESTOR_DEPTH:
        return
    for parent, start, end in _packing_intervals(events):
        window_low, window_high = max(low, start), min(high, end)
        if window_low < window_high:
            _collect(_label_chain(parent, forward=True), window_low, window_high, own=False,
                     depth=depth + 1, out=out)


def timeline_events(serial: int) -> list[tuple[Event, bool]]:
    """A unit's history in time order: (event, is the unit's own) — its own, its old labels', its parents'."""
    collected: dict[int, tuple[Event, bool]] = {}
    _collect(_label_chain(serial, forward=False), _EARLIEST, _LATEST, own=True, depth=0, out=collected)
    events = sorted(collected.values(), key=lambda pair: _key(pair[0]))
    # A replacement is written on both codes; the unit's own history shows it once.
    return [(e, own) for e, own in events if not (own and e.kind is EventKind.REPLACE and e.data
                                                  and e.data.get("new_serial") not in (None, e.serial))]


def _timeline(unit: store.UnitState, encode: _Codes) -> list[TimelineEntry]:
    return entries_of(timeline_events(unit.serial), encode)


def entries_of(events: list[tuple[Event, bool]], encode: _Codes | None = None) -> list[TimelineEntry]:
    """Timeline entries of (event, is the unit's own) pairs, with codes and place names."""
    encode = encode or _Codes()
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


# --- a lot's units (the recall view) ------------------------------------------------------------

def _lot(lot_id: int) -> ProductionLot:
    return production.get_production_lot(lot_id)


def _units_query(lot_ids, *, level=None, location_kind=None, location_id=None, status=None,
                 in_transit=None, recalled=None):
    query = sa.select(Unit).where(Unit.lot_id.in_(lot_ids), Unit.level == Level(level or Level.ITEM))
    return recalls.UNIT_FILTERS.apply(query, location_kind=location_kind, location_id=location_id, status=status,
                                      in_transit=in_transit, recalled=recalled).order_by(Unit.serial)


def lot_units(*, lot_id: int, level=None, location_kind=None, location_id=None, status=None,
              in_transit=None, recalled=None):
    """The recall view: a select of the lot's units (items unless ``level`` says otherwise), in serial order.

    Page it, then turn the page into rows with ``unit_rows``.
    """
    _lot(lot_id)
    return _units_query([lot_id], level=level, location_kind=location_kind, location_id=location_id,
                        status=status, in_transit=in_transit, recalled=recalled)


def unit_rows(units) -> list[UnitRow]:
    """A page of units as rows with codes, parent codes and place names."""
    units = list(units)
    encode = _Codes()
    encode.learn(units)
    encode.many(u.parent_serial for u in units)
    names = place_names((u.location_kind, u.location_id) for u in units)
    return [UnitRow(
        code=encode(u.serial), level=u.level, status=u.status, product_id=u.product_id, lot_id=u.lot_id,
        location=Place(u.location_kind, u.location_id, names.get((u.location_kind, u.location_id)), u.in_transit),
        in_transit=u.in_transit, parent_code=encode(u.parent_serial), recall_id=u.recall_id,
        commissioned_at=u.commissioned_at) for u in units]


def _summaries(lots: list[ProductionLot]) -> dict[int, LotSummary]:
    """Counts of each lot's items by state and place: one GROUP BY query for all the lots."""
    summaries = {lot.id: LotSummary(lot=lot) for lot in lots}
    if not lots:
        return summaries
    recalled = sa.case((Unit.recall_id.is_(None), 0), else_=1)
    rows = db.session.execute(
        sa.select(Unit.lot_id, Unit.status, Unit.location_kind, Unit.location_id, Unit.in_transit,
                  sa.func.count(), sa.func.sum(recalled))
        .where(Unit.lot_id.in_(list(summaries)), Unit.level == Level.ITEM)
        .group_by(Unit.lot_id, Unit.status, Unit.location_kind, Unit.location_id, Unit.in_transit)).all()
    names = place_names((r[2], r[3]) for r in rows)
    for lot_id, status, kind, place_id, in_transit, count, recalled_count in rows:
        summary = summaries[lot_id]
        summary.units += count
        summary.recalled += int(recalled_count or 0)
        if status is UnitStatus.SCRAPPED:
            summary.scrapped += count
        elif status is UnitStatus.VOIDED:
            summary.voided += count
        else:
            summary.active += count
            summary.in_transit += count if in_transit else 0
            summary.by_kind[kind.value] = summary.by_kind.get(kind.value, 0) + count
            summary.by_location.append(PlaceCount(kind, place_id, names.get((kind, place_id)), in_transit, count))
    for lot_id, summary in summaries.items():
        summary.by_location.sort(key=lambda p: (p.kind.value, p.id or 0, p.in_transit))
    for lot_id, recall in db.session.execute(
            sa.select(RecallLot.lot_id, Recall).join(Recall, Recall.id == RecallLot.recall_id)
            .where(RecallLot.lot_id.in_(list(summaries))).order_by(Recall.id)):
        summaries[lot_id].recalls.append(recall)
    return summaries


def lot_summary(lot_id: int) -> LotSummary:
    """Where a lot's items are now: counts by place (active items), in transit, scrapped, recalled."""
    lot = _lot(lot_id)
    return _summaries([lot])[lot.id]


# --- recalls ------------------------------------------------------------------------------------

class RawMaterialLotAlreadyRecalled(Conflict):
    code = "raw_material_lot_already_recalled"
    message = "Every unit of every production lot that consumed this raw-material lot is already recalled."


class RawMaterialLotNotConsumed(Conflict):
    code = "raw_material_lot_not_consumed"
    message = "No production lot consumed this raw-material lot: there is nothing to recall."


def _recall(*, actor: Actor, lots: list[ProductionLot], reason: str, public_notice: str | None, already: Conflict,
            lot_id: int | None = None, raw_material_lot_id: int | None = None) -> Recall:
    """Mark the lots' active units not yet recalled, tell the dealers and stores reached and the ERP."""
    units = recalls.recallable([lot.id for lot in lots])
    if not units and db.session.scalar(sa.select(RecallLot.recall_id)
                                       .where(RecallLot.lot_id.in_([lot.id for lot in lots])).limit(1)):
        raise already
    recall = Recall(lot_id=lot_id, raw_material_lot_id=raw_material_lot_id, reason=reason,
                    public_notice=public_notice, units=len(units), created_by=actor.name, created_at=utcnow())
    db.session.add(recall)
    db.session.flush()
    recalls.mark(actor=actor, recall=recall, lots=lots, units=units)
    recalls.announce(recalls.reach(recall))
    audit(actor, "recall.create", recall, {"lot_id": [None, lot_id], "raw_material_lot_id": [None, raw_material_lot_id],
                                           "reason": [None, reason], "public_notice": [None, public_notice],
                                           "units": [None, len(units)]})
    return recall


def recall_lot(*, actor: Actor, lot_id: int, reason: str, public_notice: str | None = None) -> Recall:
    """Recall a lot: mark its active units (items, and parents whose lot it is) and write a RECALL each."""
    lot = db.session.scalar(sa.select(ProductionLot).where(ProductionLot.id == lot_id).with_for_update())
    if lot is None:
        raise masterdata_rules.not_found("production_lot")
    return _recall(actor=actor, lots=[lot], reason=reason, public_notice=public_notice, lot_id=lot.id,
                   already=LotAlreadyRecalled(f"Every unit of lot {lot.lot_no} is already recalled."))


def recall_raw_material_lot(*, actor: Actor, raw_lot_id: int, reason: str,
                            public_notice: str | None = None) -> Recall:
    """Recall every production lot that consumed a raw-material lot, as one recall."""
    raw = db.session.scalar(sa.select(RawMaterialLot).where(RawMaterialLot.id == raw_lot_id).with_for_update())
    if raw is None:
        raise masterdata_rules.not_found("raw_material_lot")
    lot_ids = production.production_lot_ids_using([raw.id])
    if not lot_ids:
        raise RawMaterialLotNotConsumed(f"No production lot consumed raw-material lot {raw.lot_no}.")
    # Locked in id order, as a recall of one lot locks it: two recalls of overlapping lots queue.
    lots = list(db.session.scalars(sa.select(ProductionLot).where(ProductionLot.id.in_(lot_ids))
                                   .order_by(ProductionLot.id).with_for_update()))
    return _recall(actor=actor, lots=lots, reason=reason, public_notice=public_notice, raw_material_lot_id=raw.id,
                   already=RawMaterialLotAlreadyRecalled(
                       f"Every unit of the lots that consumed raw-material lot {raw.lot_no} is already recalled."))


def preview_lot_recall(lot_id: int) -> recalls.Preview:
    """What recalling a lot would reach now: the step a person reads before confirming the recall."""
    lot = db.session.get(ProductionLot, lot_id)
    if lot is None:
        raise masterdata_rules.not_found("production_lot")
    return recalls.preview(lots=[lot], lot_id=lot.id)


def preview_raw_material_recall(raw_lot_id: int) -> recalls.Preview:
    """What recalling a raw-material lot would reach now (every production lot that consumed it)."""
    raw = db.session.get(RawMaterialLot, raw_lot_id)
    if raw is None:
        raise masterdata_rules.not_found("raw_material_lot")
    lot_ids = production.production_lot_ids_using([raw.id])
    if not lot_ids:
        raise RawMaterialLotNotConsumed(f"No production lot consumed raw-material lot {raw.lot_no}.")
    lots = list(db.session.scalars(sa.select(ProductionLot).where(ProductionLot.id.in_(lot_ids))))
    return recalls.preview(lots=lots, raw_material_lot_id=raw.id)


def get_recall(recall_id: int) -> Recall:
    recall = db.session.get(Recall, recall_id)
    if recall is None:
        raise RecallNotFound()
    return recall


def set_recall_public_notice(*, actor: Actor, recall_id: int, public_notice: str | None) -> Recall:
    """Change what a recalled unit's printed URL tells the public (None: the general steps only)."""
    recall = db.session.scalar(sa.select(Recall).where(Recall.id == recall_id).with_for_update())
    if recall is None:
        raise RecallNotFound()
    audit(actor, "recall.public_notice", recall, {"public_notice": [recall.public_notice, public_notice]})
    recall.public_notice = public_notice
    return recall


def recall_reach(recall_id: int) -> recalls.Reach:
    """A recall with its reach: items by place now, every dealer and store they passed through."""
    return recalls.reach(get_recall(recall_id))


def recalled_units(*, recall_id: int, **filters):
    """A select of the recall's units (page it, then ``unit_rows``)."""
    get_recall(recall_id)
    return recalls.recalled_units(recall_id=recall_id, **filters)


_RECALL_FILTERS = Filters(
    lot_id=lambda value: sa.exists().where(RecallLot.recall_id == Recall.id, RecallLot.lot_id == value),
    raw_material_lot_id=lambda value: Recall.raw_material_lot_id == value,
)


def list_recalls(*, lot_id: int | None = None, raw_material_lot_id: int | None = None):
    """Recalls, newest first; ``lot_id``: those covering the production lot (by lot or raw material)."""
    return _RECALL_FILTERS.apply(sa.select(Recall).order_by(Recall.id.desc()), lot_id=lot_id,
                                 raw_material_lot_id=raw_material_lot_id)


# --- raw-material trace -------------------------------------------------------------------------

def raw_material_trace(raw_lot_id: int) -> RawMaterialTrace:
    """Trace forward: the production lots that used a raw-material lot, each with where its items are."""
    raw = production.get_raw_material_lot(raw_lot_id)
    consumptions = production.consumptions_of_raw_material_lot(raw_lot_id)
    summaries = _summaries([c.production_lot for c in consumptions])
    usages = [LotUsage(c, summaries[c.production_lot_id]) for c in consumptions]
    return RawMaterialTrace(raw, usages, sum(u.summary.units for u in usages))


def units_using(*, raw_lot_id: int, level=None, location_kind=None, status=None, recalled=None):
    """A select of the units of every production lot that used a raw-material lot (page it, then ``unit_rows``)."""
    production.get_raw_material_lot(raw_lot_id)
    lot_ids = production.production_lot_ids_using([raw_lot_id])
    return _units_query(lot_ids, level=level, location_kind=location_kind, status=status, recalled=recalled)


# --- corrections --------------------------------------------------------------------------------

def correct_unit_lot(*, actor: Actor, code: str, lot_id: int, reason: str) -> Correction:
    """Move an item commissioned into the wrong lot: a CORRECT event pointing at its COMMISSION."""
    resolution = _resolve(code)
    unit = store.load_units([resolution.serial]).get(resolution.serial)
    if unit is None:
        raise UnitNotCommissioned()
    if unit.level is not Level.ITEM:
        raise CorrectionItemsOnly()
    if unit.status is UnitStatus.VOIDED:
        raise UnitVoided()
    lot = db.session.get(ProductionLot, lot_id)
    if lot is None:
        raise LotUnknown(errors={"lot_id": ["unknown"]})
    if lot.product_id != unit.product_id:
        raise CorrectionWrongProduct(errors={"lot_id": ["other product"]})
    if lot.id == unit.lot_id:
        raise LotUnchanged()
    if lot.status is LotStatus.CLOSED:
        raise production_rules.ProductionLotClosed(f"The production lot {lot.lot_no} is closed; reopen it first.")
    commissioned = db.session.scalar(
        sa.select(Event).where(Event.serial.in_(_label_chain(unit.serial, forward=False)),
                               Event.kind == EventKind.COMMISSION).order_by(Event.id.desc()).limit(1))
    before = {unit.serial: store.stock_key(unit)}
    old_lot = unit.lot_id
    unit.lot_id = lot.id
    store.save_units([unit], ["lot_id"])
    store.adjust_stock(store.stock_deltas(before, [unit]))
    now = utcnow()
    event = Event(**store.event_row(
        kind=EventKind.CORRECT, serial=unit.serial, lot_id=lot.id, occurred_at=now, recorded_at=now,
        source=store.source_of(actor), location_kind=unit.location_kind, location_id=unit.location_id,
        corrects_event_id=commissioned.id if commissioned is not None else None,
        data={"field": "lot_id", "from": old_lot, "to": lot.id, "reason": reason}))
    db.session.add(event)
    db.session.flush()
    audit(actor, "unit.correct_lot", None, {"lot_id": [old_lot, lot.id], "reason": [None, reason]},
          entity_type="unit", entity_id=resolution.code)
    entry = entries_of([(event, True)], _Codes({unit.serial: unit}))[0]
    return Correction(code=resolution.code, event=entry, unit_lot_id=lot.id)
