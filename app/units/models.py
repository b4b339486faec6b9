"""Units (a commissioned code and what it is now), the immutable events behind them, line sessions.

A unit row exists only once its code is commissioned (items) or first used as a parent (cases,
pallets); until then a code is just a serial inside an issued batch, decoded offline. The unit's
columns are its current state, kept in step with its events in the same transaction; the events
are the history and are never updated or deleted. A correction is a new event that points at the
event it corrects.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from app.codes.models import Level
from app.db import BigId, JSONType, enum_type, utcnow
from app.extensions import db

# Client record ids are compared exactly, like external ids.
RecordId = sa.String(64).with_variant(mysql.VARCHAR(64, collation="utf8mb4_bin"), "mysql", "mariadb")


class UnitStatus(str, enum.Enum):
    ACTIVE = "active"
    SCRAPPED = "scrapped"  # decommissioned: destroyed, with everything that was inside it
    VOIDED = "voided"  # its label was replaced; the replacing code carries on the unit


class LocationKind(str, enum.Enum):
    LINE = "line"  # commissioned, not yet received into a warehouse (location_id: the line)
    WAREHOUSE = "warehouse"
    DEALER = "dealer"
    STORE = "store"
    CONSUMER = "consumer"  # sold or scanned by a consumer


class EventKind(str, enum.Enum):
    """What happened (EPCIS: ObjectEvent ADD / AggregationEvent ADD and DELETE / ObjectEvent OBSERVE)."""

    COMMISSION = "commission"
    PACK = "pack"  # serial packed into parent_serial
    UNPACK = "unpack"  # serial taken out of parent_serial (a whole parent unpacked: one event per child)
    REMOVE = "remove"  # one child taken out of parent_serial
    REPLACE = "replace"  # serial's label replaced by data.new_serial (written on both serials)
    SCRAP = "scrap"
    RECEIVE = "receive"  # into a warehouse (from a line or a transfer)
    SHIP = "ship"  # out of a warehouse to a dealer or another warehouse
    SELL = "sell"  # sale-scanned at a store (location: the store)
    RECALL = "recall"
    CORRECT = "correct"  # corrects_event_id says which event; data says what was wrong
    TAG = "tag"  # an RFID tag (data.epc) bound to a unit after its commission or pack, still at the line


class Unit(db.Model):
    """A commissioned code: what it is (product, lot, level) and where it is now."""

    __tablename__ = "units"
    __table_args__ = (
        sa.CheckConstraint("child_count >= 0", name="child_count_not_negative"),
        sa.Index("ix_units_location", "location_kind", "location_id"),
        # InnoDB's REDUNDANT rows keep a NULL number's 8 bytes: packing an item (parent_serial NULL
        # -> a serial), a recall or a shipment then rewrite a row in place instead of growing it,
        # which split the freshly filled pages and doubled the time of a line upload's UPDATE.
        {"mysql_row_format": "REDUNDANT"},
    )

    serial: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    key_version: Mapped[int] = mapped_column(sa.SmallInteger)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("code_batches.id"), index=True)
    level: Mapped[Level] = mapped_column(enum_type(Level))
    # Items take product and lot when commissioned; a case or pallet takes them from its first child
    # (lot_id stays that first child's lot: a parent's lot is informative, stock counts items).
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("production_lots.id"), index=True)
    status: Mapped[UnitStatus] = mapped_column(enum_type(UnitStatus), default=UnitStatus.ACTIVE)
    parent_serial: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    child_count: Mapped[int] = mapped_column(default=0)
    # A parent marked partial is a non-standard pack: not held to the hierarchy's count.
    partial: Mapped[bool] = mapped_column(default=False)
    location_kind: Mapped[LocationKind] = mapped_column(enum_type(LocationKind))
    location_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # On the way to location_kind/location_id (shipped, not yet received there).
    in_transit: Mapped[bool] = mapped_column(default=False)
    replaces_serial: Mapped[int | None] = mapped_column(sa.BigInteger)
    replaced_by_serial: Mapped[int | None] = mapped_column(sa.BigInteger)
    recall_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recalls.id"), index=True)
    # The dealer the unit was last shipped to: whose territory a diversion check compares against.
    last_dealer_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The China day the item arrived at the warehouse, dealer or store holding it (stock ageing);
    # left as it was when the item leaves, set again where it is next received.
    received_on: Mapped[date | None] = mapped_column(sa.Date)
    commissioned_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(db.Model):
    """One immutable fact about a unit: what (kind, serial), when, where, why, and who sent it."""

    __tablename__ = "unit_events"
    __table_args__ = (
        # A client's record is applied once, ever: the retry of an upload finds it here.
        sa.UniqueConstraint("source", "record_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind))
    # Indexed by serial only (a unit's timeline) and by the idempotency key: every index costs each
    # of the hundred thousand rows a line upload writes.
    serial: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    parent_serial: Mapped[int | None] = mapped_column(sa.BigInteger)
    lot_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    occurred_at: Mapped[datetime]  # the scan time the client reported
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    location_kind: Mapped[LocationKind | None] = mapped_column(enum_type(LocationKind))
    location_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    session_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Who sent it ("api_key:7", "user:3"); with record_id, the client's idempotency key. Only the
    # first event a record writes carries its record_id.
    source: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[str | None] = mapped_column(RecordId)
    # No foreign key: events are never deleted, and a self-reference would make bulk deletes order-bound.
    corrects_event_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    data: Mapped[dict | None] = mapped_column(JSONType)


class SessionStatus(str, enum.Enum):
    OPEN = "open"
    STOPPED = "stopped"


class LineSession(db.Model):
    """A run of a line on one production lot: what it scanned and how much of it passed."""

    __tablename__ = "line_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(sa.ForeignKey("production_lines.id"), index=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("production_lots.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    operator: Mapped[str] = mapped_column(sa.String(64), default="")
    status: Mapped[SessionStatus] = mapped_column(enum_type(SessionStatus), default=SessionStatus.OPEN)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]
    # Each distinct record id counts once, under its latest outcome (a rejected record that a retry
    # accepts moves from rejected to accepted). Updated with atomic SQL, never read-modify-write.
    total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    accepted: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    duplicate: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class RejectedRecord(db.Model):
    """A record a line or a warehouse sent that was rejected, kept for its reason (and so a retry counts once)."""

    __tablename__ = "rejected_records"
    __table_args__ = (sa.UniqueConstraint("source", "record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_sessions.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    record_id: Mapped[str] = mapped_column(RecordId)
    kind: Mapped[str] = mapped_column(sa.String(16))
    code: Mapped[str | None] = mapped_column(sa.String(64))
    reason: Mapped[str] = mapped_column(sa.String(32))
    scanned_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Recall(db.Model):
    """A recall of one production lot, or of every production lot that consumed one raw-material lot.

    Its units are marked (``units.recall_id``) and consumer scans say so; ``recall_lots`` lists the
    production lots it covers, with the units it marked in each.
    """

    __tablename__ = "recalls"
    __table_args__ = (
        # Exactly one origin: the production lot recalled, or the raw-material lot traced forward.
        sa.CheckConstraint("(lot_id IS NULL) <> (raw_material_lot_id IS NULL)", name="one_origin"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("production_lots.id"), index=True)
    raw_material_lot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("raw_material_lots.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    # What the brand tells whoever opens a recalled unit's printed URL (the reason stays internal).
    public_notice: Mapped[str | None] = mapped_column(sa.String(500))
    units: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecallLot(db.Model):
    """A production lot a recall covers, with the units the recall marked in it."""

    __tablename__ = "recall_lots"

    recall_id: Mapped[int] = mapped_column(sa.ForeignKey("recalls.id"), primary_key=True)
    # Indexed on its own: a lot's recalls, and whether a lot was ever recalled.
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("production_lots.id"), primary_key=True, index=True)
    units: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class EpcBinding(db.Model):
    """An RFID identifier (an SGTIN-96 EPC or a tag's TID, as upper-case hex) bound to a unit's code.

    The EPC is the key: one EPC binds to one code, ever. A read of it resolves like its code.
    """

    __tablename__ = "unit_epcs"

    epc: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # app.rfid.SGTIN96 | app.rfid.TID
    serial: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnitScanStats(db.Model):
    """A unit's consumer scans at a glance (changed by atomic SQL with each scan); beside its facts in
    app.units.scan_facts, whose counter it backs."""

    __tablename__ = "unit_scan_stats"

    serial: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    scans: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    first_scanned_at: Mapped[datetime]
    first_app_user_id: Mapped[int] = mapped_column(sa.BigInteger)
    first_region_code: Mapped[str | None] = mapped_column(sa.String(12))
    last_scanned_at: Mapped[datetime]
