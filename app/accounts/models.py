"""Mini-program accounts: people, app users, their tokens, dealer and store memberships, invitations."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import BigId, enum_type, utcnow
from app.extensions import db
from app.masterdata.models import Dealer, Store


class AppName(str, enum.Enum):
    """The three mini-programs; a token is valid for its own one only."""

    DEALER = "dealer"
    CLERK = "clerk"
    CONSUMER = "consumer"


class AppUserStatus(str, enum.Enum):
    ACTIVE = "active"
    DISABLED = "disabled"


class MemberRole(str, enum.Enum):
    OWNER = "owner"
    STAFF = "staff"  # dealer staff
    CLERK = "clerk"  # store clerk


class MembershipStatus(str, enum.Enum):
    PENDING = "pending"  # a clerk waiting for the store owner
    APPROVED = "approved"
    REMOVED = "removed"


class InvitationKind(str, enum.Enum):
    DEALER_MEMBER = "dealer_member"
    STORE_OWNER = "store_owner"
    STORE_CLERK = "store_clerk"


class Person(db.Model):
    """One human across the three mini-programs, linked by WeChat's unionid when there is one."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unionid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppUser(db.Model):
    """A WeChat user of one mini-program (openid is per mini-program)."""

    __tablename__ = "app_users"
    __table_args__ = (sa.UniqueConstraint("app", "openid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app: Mapped[AppName] = mapped_column(enum_type(AppName))
    openid: Mapped[str] = mapped_column(sa.String(64))
    unionid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    nickname: Mapped[str] = mapped_column(sa.String(64), default="")
    avatar_url: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[AppUserStatus] = mapped_column(enum_type(AppUserStatus), default=AppUserStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship()


class AccessToken(db.Model):
    """A mini-program bearer token; only its SHA-256 is stored."""

    __tablename__ = "app_access_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    audience: Mapped[AppName] = mapped_column(enum_type(AppName))
    family: Mapped[str] = mapped_column(sa.String(32), index=True)  # one login and its refreshes
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    app_user: Mapped[AppUser] = relationship()


class RefreshToken(db.Model):
    """A single-use refresh token; a used one is revoked, and using it again revokes its family."""

    __tablename__ = "app_refresh_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    audience: Mapped[AppName] = mapped_column(enum_type(AppName))
    family: Mapped[str] = mapped_column(sa.String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    app_user: Mapped[AppUser] = relationship()


class Invitation(db.Model):
    """A code (also the scene of a mini-program code image) that binds a user to a dealer or store."""

    __tablename__ = "invitations"
    __table_args__ = (
        sa.CheckConstraint("used_count <= max_uses", name="not_overused"),
        sa.CheckConstraint("max_uses >= 1", name="max_uses_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    kind: Mapped[InvitationKind] = mapped_column(enum_type(InvitationKind))
    role: Mapped[MemberRole] = mapped_column(enum_type(MemberRole))
    dealer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dealers.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id"), index=True)
    created_by_admin_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin_users.id"))
    created_by_app_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    max_uses: Mapped[int] = mapped_column(default=1)
    used_count: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None]


class DealerMembership(db.Model):
    """An app user of the dealer mini-program working for a dealer, as owner or staff."""

    __tablename__ = "dealer_members"
    __table_args__ = (sa.UniqueConstraint("dealer_id", "app_user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(sa.ForeignKey("dealers.id"), index=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(enum_type(MemberRole))
    status: Mapped[MembershipStatus] = mapped_column(enum_type(MembershipStatus),
                                                     default=MembershipStatus.APPROVED)
    invitation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invitations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]

    app_user: Mapped[AppUser] = relationship()
    dealer: Mapped[Dealer] = relationship()


class StoreMembership(db.Model):
    """An app user of the clerk mini-program in a store: the owner, or a clerk the owner approves."""

    __tablename__ = "store_members"
    __table_args__ = (sa.UniqueConstraint("store_id", "app_user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id"), index=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(enum_type(MemberRole))
    status: Mapped[MembershipStatus] = mapped_column(enum_type(MembershipStatus))
    invitation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invitations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]

    app_user: Mapped[AppUser] = relationship()
    store: Mapped[Store] = relationship()
