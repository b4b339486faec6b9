"""Consumers' scans of printed codes: every scan with its verdict, per-unit scan statistics, leak alerts."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, enum_type, utcnow
from app.extensions import db


class Verdict(str, enum.Enum):
    GENUINE = "genuine"  # a commissioned unit, first consumer scan
    SCANNED_BEFORE = "scanned_before"  # genuine, scanned before (how often, first when and where)
    SUSPECTED_COPY = "suspected_copy"  # scanned by many people or places in a short time
    NOT_COMMISSIONED = "not_commissioned"  # issued, never commissioned: a code-pack leak signal
    FORGED = "forged"  # not a code we issued
    VOIDED = "voided"
    SCRAPPED = "scrapped"
    RECALLED = "recalled"


class ConsumerScan(db.Model):
    """One scan by a consumer (signed in to the consumer mini-program), kept with its verdict."""

    __tablename__ = "consumer_scans"
    __table_args__ = (
        sa.Index("ix_consumer_scans_serial_time", "serial", "scanned_at"),
        sa.Index("ix_consumer_scans_user_time", "app_user_id", "scanned_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[int | None] = mapped_column(sa.BigInteger)  # None: not a code of ours
    code: Mapped[str] = mapped_column(sa.String(64))  # as scanned (canonical when valid)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"))
    verdict: Mapped[Verdict] = mapped_column(enum_type(Verdict))
    scan_number: Mapped[int] = mapped_column(default=1)  # the unit's nth consumer scan
    hidden_code_ok: Mapped[bool | None]  # None: no hidden code given
    product_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    lot_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    region_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)


class HiddenCodeProof(db.Model):
    """The first consumer who proved a unit's hidden code (the scratched-off digits): they hold the item.

    One row per unit, the first proof wins (its primary key): a campaign that needs the hidden code and
    is first-scan-only gives the unit's draw to this consumer, whoever scanned the visible QR first.
    """

    __tablename__ = "hidden_code_proofs"

    serial: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"))
    scan_id: Mapped[int] = mapped_column(sa.BigInteger)  # the scan it was proved on (maybe not yet written)
    proved_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeakAlertStatus(str, enum.Enum):
    OPEN = "open"
    RESOLVED = "resolved"


class CodeLeakAlert(db.Model):
    """An issued code scanned by a consumer before it was ever commissioned: a code pack leaked."""

    __tablename__ = "code_leak_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    code: Mapped[str] = mapped_column(sa.String(18))
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("code_batches.id"), index=True)
    scans: Mapped[int] = mapped_column(sa.BigInteger, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[LeakAlertStatus] = mapped_column(enum_type(LeakAlertStatus), default=LeakAlertStatus.OPEN,
                                                    index=True)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(128))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str] = mapped_column(sa.String(500), default="")


class BlockedConsumer(db.Model):
    """A consumer on the blacklist: no draw, no payout (every campaign; a campaign has its own list too)."""

    __tablename__ = "consumer_blacklist"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    openid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
