"""Dealer and store members: a dealer's staff and a store's clerks, managed by their owner (and a
dealer's members by the back office)."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.errors import MemberNotFound, NotBound, OwnerCannotBeRemoved, OwnerOnly, StoreNotFound
from app.accounts.invitations import create_invitation
from app.accounts.models import (
    AppUser, DealerMembership, Invitation, InvitationKind, MemberRole, MembershipStatus, StoreMembership,
)
from app.accounts.profiles import dealer_membership, store_membership
from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor, audit
from app.masterdata.models import store_dealers


def _require_dealer(user: AppUser, *, owner: bool = False) -> DealerMembership:
    membership = dealer_membership(user)
    if membership is None:
        raise NotBound()
    if owner and membership.role is not MemberRole.OWNER:
        raise OwnerOnly()
    return membership


def list_dealer_members(*, dealer_id: int):
    return (sa.select(DealerMembership)
            .where(DealerMembership.dealer_id == dealer_id, DealerMembership.status != MembershipStatus.REMOVED)
            .order_by(DealerMembership.id))


def list_my_dealer_staff(*, user: AppUser):
    """The members of the user's dealer."""
    return list_dealer_members(dealer_id=_require_dealer(user).dealer_id)


def _dealer_member(dealer_id: int, member_id: int) -> DealerMembership:
    membership = db.session.get(DealerMembership, member_id)
    if membership is None or membership.dealer_id != dealer_id or membership.status is MembershipStatus.REMOVED:
        raise MemberNotFound()
    return membership


def _remove(membership) -> None:
    membership.status = MembershipStatus.REMOVED
    membership.removed_at = utcnow()


def remove_dealer_staff(*, user: AppUser, member_id: int) -> DealerMembership:
    """The dealer owner unbinds one of its staff."""
    own = _require_dealer(user, owner=True)
    membership = _dealer_member(own.dealer_id, member_id)
    if membership.role is MemberRole.OWNER:
        raise OwnerCannotBeRemoved()
    _remove(membership)
    return membership


def admin_remove_dealer_member(*, actor: Actor, dealer_id: int, member_id: int) -> DealerMembership:
    """The back office unbinds a dealer's member (staff or owner)."""
    membership = _dealer_member(dealer_id, member_id)
    _remove(membership)
    audit(actor, "dealer_member.remove", membership,
          {"status": [MembershipStatus.APPROVED.value, MembershipStatus.REMOVED.value]})
    return membership


def create_store_owner_invitation(*, user: AppUser, store_id: int) -> Invitation:
    """A dealer owner invites the owner of a store the dealer serves."""
    own = _require_dealer(user, owner=True)
    served = db.session.scalar(sa.select(store_dealers.c.store_id).where(
        store_dealers.c.store_id == store_id, store_dealers.c.dealer_id == own.dealer_id))
    if served is None:
        raise StoreNotFound()
    return create_invitation(created_by=user, kind=InvitationKind.STORE_OWNER, store_id=store_id)


def _require_store_owner(user: AppUser) -> StoreMembership:
    membership = store_membership(user)
    if membership is None or membership.status is not MembershipStatus.APPROVED:
        raise NotBound("Bind this account to a store first.")
    if membership.role is not MemberRole.OWNER:
        raise OwnerOnly()
    return membership


def create_clerk_invitation(*, user: AppUser, max_uses: int = 1, expires_in_days: int = 7) -> Invitation:
    """A store owner invites clerks; they join pending the owner's approval."""
    own = _require_store_owner(user)
    return create_invitation(created_by=user, kind=InvitationKind.STORE_CLERK, store_id=own.store_id,
                             max_uses=max_uses, expires_in_days=expires_in_days)


def list_clerks(*, user: AppUser):
    own = _require_store_owner(user)
    return (sa.select(StoreMembership)
            .where(StoreMembership.store_id == own.store_id, StoreMembership.role == MemberRole.CLERK,
                   StoreMembership.status != MembershipStatus.REMOVED)
            .order_by(StoreMembership.id))


def _clerk(user: AppUser, member_id: int) -> StoreMembership:
    own = _require_store_owner(user)
    membership = db.session.get(StoreMembership, member_id)
    if (membership is None or membership.store_id != own.store_id or membership.role is not MemberRole.CLERK
            or membership.status is MembershipStatus.REMOVED):
        raise MemberNotFound()
    return membership


def approve_clerk(*, user: AppUser, member_id: int) -> StoreMembership:
    membership = _clerk(user, member_id)
    if membership.status is MembershipStatus.PENDING:
        membership.status = MembershipStatus.APPROVED
        membership.approved_at = utcnow()
    return membership


def remove_clerk(*, user: AppUser, member_id: int) -> StoreMembership:
    membership = _clerk(user, member_id)
    _remove(membership)
    return membership
