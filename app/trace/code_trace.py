"""A code's trace: its unit, product, lot, materials, place, tree and timeline, and its consumers.

A code's trace also lists its consumer scans (verdict, time, region, who) and the draws made on them
(campaign, outcome, prize), the first CONSUMER_CAP of each in time order, with how many there are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.campaigns.models import Campaign, Draw, Prize
from app.codes.models import CodeBatch, Level
from app.consumers.models import ConsumerScan
from app.extensions import db
from app.masterdata import region_cache
from app.masterdata.models import Product
from app.production import service as production
from app.production.models import LotConsumption, ProductionLot
from app.trace.resolution import Place, SerialCodes, issued_resolution, place_names
from app.trace.timeline import ANCESTOR_DEPTH, TimelineEntry, entries_of, label_chain, timeline_events
from app.units import code_status, unit_rows
from app.units.models import Recall, Unit, UnitStatus

TREE_CAP = 5000  # nodes of a code's children tree before it is cut (``truncated``)
CONSUMER_CAP = 200  # consumer scans (and draws) of a code listed in its trace


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


def trace_code(code: str) -> CodeTrace:
    """Everything known about a code: unit, product, lot, materials, place, tree and timeline."""
    resolution = issued_resolution(code)
    batch = resolution.batch
    unit = unit_rows.load_units([resolution.serial], lock=False).get(resolution.serial)
    if unit is None:
        trace = CodeTrace(code=resolution.code, commissioned=False, level=batch.level, batch=batch,
                          product=batch.product)
        _consumers(trace, [resolution.serial], SerialCodes())
        return trace
    encode = SerialCodes({unit.serial: unit})
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
    trace.epcs = unit_rows.epcs_of([unit.serial]).get(unit.serial, [])
    _consumers(trace, label_chain(unit.serial, forward=False), encode)
    return trace


def _consumers(trace: CodeTrace, serials: list[int], encode: SerialCodes) -> None:
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


def _ancestors(unit: unit_rows.UnitState, encode: SerialCodes) -> list[UnitRef]:
    chain, seen, parent = [], {unit.serial}, unit.parent_serial
    while parent is not None and parent not in seen and len(chain) < ANCESTOR_DEPTH:
        seen.add(parent)
        row = unit_rows.load_units([parent], lock=False).get(parent)
        if row is None:
            break
        encode.learn([row])
        chain.append(UnitRef(encode(row.serial), row.level, row.status))
        parent = row.parent_serial
    return chain


def _tree(root: int, encode: SerialCodes) -> tuple[list[TreeNode], int, bool]:
    """The children tree under a unit, level by level, cut at TREE_CAP nodes."""
    nodes: dict[int, TreeNode] = {}
    top: list[TreeNode] = []
    parents, truncated = [root], False
    while parents and not truncated:
        room = TREE_CAP - len(nodes)
        rows = []
        for i in range(0, len(parents), unit_rows.CHUNK):
            rows += db.session.execute(
                sa.select(Unit.serial, Unit.key_version, Unit.level, Unit.status, Unit.parent_serial)
                .where(Unit.parent_serial.in_(parents[i:i + unit_rows.CHUNK]))
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


def _timeline(unit: unit_rows.UnitState, encode: SerialCodes) -> list[TimelineEntry]:
    return entries_of(timeline_events(unit.serial), encode)
