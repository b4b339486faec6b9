"""Invitations to bind a mini-program user as a dealer's owner or staff, a store's owner or a store's
clerk: created, listed, revoked, shown as a mini-program code, and used atomically to bind."""
from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa

from app.accounts import logins
from app.accounts.errors import (
    AlreadyBound, InvitationExpired, InvitationInvalid, InvitationNotFound, InvitationRevoked,
    InvitationTargetInactive, InvitationUsedUp, InvitationWrongApp,
)
from app.accounts.models import (
    AppName, AppUser, DealerMembership, Invitation, InvitationKind, MemberRole, MembershipStatus, StoreMembership,
)
from app.accounts.profiles import dealer_membership, store_membership
from app.db import utcnow
from app.errors import NotFound
from app.extensions import db
from app.identity.service import Actor, audit
from app.masterdata.models import Dealer, Status, Store
from app.platform.filters import Filters

INVITATION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
INVITATION_CODE_LENGTH = 20  # 100 random bits; fits a mini-program code's 32-character scene
INVITATION_MAX_DAYS = 90
INVITATION_MAX_USES = 1000

# Which mini-program may use which invitation.
INVITATION_APP = {
    InvitationKind.DEALER_MEMBER: AppName.DEALER,
    InvitationKind.STORE_OWNER: AppName.CLERK,
    InvitationKind.STORE_CLERK: AppName.CLERK,
}


def _new_code() -> str:
    return "".join(secrets.choice(INVITATION_ALPHABET) for _ in range(INVITATION_CODE_LENGTH))


def create_invitation(*, created_by: Actor | AppUser, kind: InvitationKind | str, role=None,
                      dealer_id: int | None = None, store_id: int | None = None,
                      expires_in_days: int = 7, max_uses: int = 1) -> Invitation:
    """An invitation to bind as a dealer's owner or staff, a store's owner, or a store's clerk."""
    kind = InvitationKind(kind)
    errors = {}
    if kind is InvitationKind.DEALER_MEMBER:
        role = MemberRole(role or MemberRole.STAFF)
        if role not in (MemberRole.OWNER, MemberRole.STAFF):
            errors["role"] = ["owner or staff"]
        if dealer_id is None or store_id is not None:
            errors["dealer_id"] = ["a dealer invitation names a dealer (and no store)"]
        else:
            _check_active(db.session.get(Dealer, dealer_id), "dealer")
    else:
        expected = MemberRole.OWNER if kind is InvitationKind.STORE_OWNER else MemberRole.CLERK
        role = MemberRole(role or expected)
        if role is not expected:
            errors["role"] = [expected.value]
        if store_id is None or dealer_id is not None:
            errors["store_id"] = ["a store invitation names a store (and no dealer)"]
        else:
            _check_active(db.session.get(Store, store_id), "store")
    if not 1 <= expires_in_days <= INVITATION_MAX_DAYS:
        errors["expires_in_days"] = [f"1 to {INVITATION_MAX_DAYS}"]
    if not 1 <= max_uses <= INVITATION_MAX_USES:
        errors["max_uses"] = [f"1 to {INVITATION_MAX_USES}"]
    if errors:
        raise InvitationInvalid(errors=errors)
    invitation = Invitation(
        code=_new_code(), kind=kind, role=role, dealer_id=dealer_id, store_id=store_id,
        expires_at=utcnow() + timedelta(days=expires_in_days), max_uses=max_uses,
        created_by_admin_id=created_by.id if isinstance(created_by, Actor) and created_by.kind == "user" else None,
        created_by_app_user_id=created_by.id if isinstance(created_by, AppUser) else None,
    )
    db.session.add(invitation)
    db.session.flush()
    if isinstance(created_by, Actor):
        audit(created_by, "invitation.create", invitation, {
            "kind": [None, kind.value], "role": [None, role.value], "dealer_id": [None, dealer_id],
            "store_id": [None, store_id], "max_uses": [None, max_uses],
            "expires_at": [None, invitation.expires_at],
        })
    return invitation


def _check_active(target: Dealer | Store | None, entity: str) -> None:
    if target is None:
        raise NotFound(f"No such {entity}.", code=f"{entity}_not_found")
    if target.status is not Status.ACTIVE:
        raise InvitationTargetInactive(f"The {entity} is inactive.")


def get_invitation(invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise InvitationNotFound()
    return invitation


_INVITATION_FILTERS = Filters(
    falsy_is_any=True,
    kind=lambda value: Invitation.kind == InvitationKind(value),
    dealer_id=lambda value: Invitation.dealer_id == value,
    store_id=lambda value: Invitation.store_id == value,
)


def list_invitations(*, kind=None, dealer_id=None, store_id=None):
    return _INVITATION_FILTERS.apply(sa.select(Invitation).order_by(Invitation.id.desc()), kind=kind,
                                     dealer_id=dealer_id, store_id=store_id)


def revoke_invitation(*, actor: Actor, invitation_id: int) -> Invitation:
    invitation = get_invitation(invitation_id)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        audit(actor, "invitation.revoke", invitation, {"revoked_at": [None, invitation.revoked_at]})
    return invitation


def invitation_wxacode(*, invitation_id: int) -> bytes:
    """The mini-program code image that opens the right mini-program with the invitation as scene."""
    invitation = get_invitation(invitation_id)
    return logins._wechat(INVITATION_APP[invitation.kind]).get_wxacode_unlimit(invitation.code)


def my_invitation_wxacode(*, user: AppUser, invitation_id: int) -> bytes:
    """The mini-program code of an invitation this user created (a dealer's or a store owner's)."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.created_by_app_user_id != user.id:
        raise InvitationNotFound()
    return invitation_wxacode(invitation_id=invitation.id)


def _usable_invitation(app: AppName, code: str) -> Invitation:
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.code == (code or "").strip().upper()))
    if invitation is None:
        raise InvitationNotFound()
    if INVITATION_APP[invitation.kind] is not app:
        raise InvitationWrongApp()
    if invitation.revoked_at is not None:
        raise InvitationRevoked()
    if invitation.expires_at <= utcnow():
        raise InvitationExpired()
    if invitation.used_count >= invitation.max_uses:
        raise InvitationUsedUp()
    if invitation.dealer_id is not None:
        _check_active(db.session.get(Dealer, invitation.dealer_id), "dealer")
    if invitation.store_id is not None:
        _check_active(db.session.get(Store, invitation.store_id), "store")
    return invitation


def _use(invitation: Invitation) -> None:
    """Take one use of the invitation; of concurrent takers of the last use exactly one wins."""
    taken = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_count < Invitation.max_uses,
               Invitation.revoked_at.is_(None))
        .values(used_count=Invitation.used_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise InvitationUsedUp()


def bind_dealer(*, user: AppUser, code: str) -> DealerMembership:
    """Bind a dealer-app user to the dealer of an invitation, as the invitation's role."""
    invitation = _usable_invitation(AppName(user.app), code)
    current = dealer_membership(user)
    if current is not None:
        raise AlreadyBound("This account is already bound to a dealer.")
    _use(invitation)
    membership = db.session.scalar(sa.select(DealerMembership).where(
        DealerMembership.dealer_id == invitation.dealer_id, DealerMembership.app_user_id == user.id))
    if membership is None:
        membership = DealerMembership(dealer_id=invitation.dealer_id, app_user_id=user.id)
        db.session.add(membership)
    membership.role = invitation.role
    membership.status = MembershipStatus.APPROVED
    membership.invitation_id = invitation.id
    membership.removed_at = None
    db.session.flush()
    return membership


def bind_store(*, user: AppUser, code: str) -> StoreMembership:
    """Bind a clerk-app user to a store: an owner at once, a clerk pending the owner's approval."""
    invitation = _usable_invitation(AppName(user.app), code)
    if store_membership(user) is not None:
        raise AlreadyBound("This account is already bound to a store.")
    _use(invitation)
    membership = db.session.scalar(sa.select(StoreMembership).where(
        StoreMembership.store_id == invitation.store_id, StoreMembership.app_user_id == user.id))
    if membership is None:
        membership = StoreMembership(store_id=invitation.store_id, app_user_id=user.id)
        db.session.add(membership)
    owner = invitation.role is MemberRole.OWNER
    membership.role = invitation.role
    membership.status = MembershipStatus.APPROVED if owner else MembershipStatus.PENDING
    membership.approved_at = utcnow() if owner else None
    membership.invitation_id = invitation.id
    membership.removed_at = None
    db.session.flush()
    return membership
