from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import BigId, JSONType, TimestampMixin, enum_type, utcnow
from app.extensions import db


class Role(str, enum.Enum):
    ADMIN = "admin"
    MARKETER = "marketer"
    OPS = "ops"
    FINANCE = "finance"
    AUDITOR = "auditor"


class Scope(str, enum.Enum):
    """Which part of the machine API an API key may call."""

    MASTERDATA = "masterdata"  # ERP: products, dealers, stores, ...
    CODES = "codes"  # code batches and code packs
    PRODUCTION = "production"  # line controllers, PDAs on the line
    WAREHOUSE = "warehouse"  # warehouse PDAs
    ORDERS = "orders"  # ERP sales orders
    EPCIS = "epcis"  # EPCIS 2.0 events query (partners, auditors' systems)
    EPCIS_CAPTURE = "epcis_capture"  # EPCIS 2.0 capture (co-packers, 3PLs)


class AdminUser(TimestampMixin, db.Model):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(128), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]


# A back-office user's data scope: the regions whose rows they see (none: the whole country).
# See app/identity/scope.py.
admin_user_regions = sa.Table(
    "admin_user_regions",
    db.metadata,
    sa.Column("user_id", BigId, sa.ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("region_code", sa.String(12), sa.ForeignKey("regions.code"), primary_key=True),
)


class AdminToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[AdminUser] = relationship(lazy="joined")


class ApiKey(db.Model):
    """A machine client's key: shown once, stored as a SHA-256, found by its public prefix."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[list] = mapped_column(JSONType)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuditRecord(db.Model):
    """Who changed what, when, and which fields (old and new values)."""

    __tablename__ = "audit_records"
    __table_args__ = (sa.Index("ix_audit_records_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(sa.String(16))  # "user" | "api_key" | "system"
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    entity_type: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str | None] = mapped_column(sa.String(64))
    changes: Mapped[dict] = mapped_column(JSONType, default=dict)
