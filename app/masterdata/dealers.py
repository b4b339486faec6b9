"""Dealers: create, update, (de)activate, list.

Dealer tiers are derived, never free: a dealer without a parent is tier 1, a dealer under a
parent is the parent's tier + 1. A tier given by the caller must agree (else
``dealer_tier_mismatch``); moving a dealer re-tiers its whole subtree.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.errors import ValidationFailed
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope, OutsideDataScope, scope_of
from app.identity.service import Actor, apply_changes, audit
from app.masterdata import errors, rules
from app.masterdata.models import Dealer, Region, Status
from app.masterdata.records import _create, _get, _replace, _set_status, _update, common_values
from app.masterdata.scope_ids import dealer_ids_in, dealer_in
from app.platform.filters import Filters, containing


def _dealer_values(data: dict, dealer: Dealer | None) -> tuple[dict, dict]:
    """(column values, collection changes to apply) for a dealer."""
    values = common_values(Dealer, data, dealer, plain=("name",), required=("name",))
    if "parent_id" in data:
        parent = None
        if data["parent_id"] is not None:
            parent = db.session.get(Dealer, data["parent_id"])
            if parent is None:
                raise errors.DealerParentUnknown(errors={"parent_id": ["unknown dealer"]})
            if parent.status is not Status.ACTIVE and (dealer is None or dealer.parent_id != parent.id):
                raise errors.DealerInactive(errors={"parent_id": ["inactive dealer"]})
            if dealer is not None:
                _refuse_cycle(dealer, parent)
        values["parent_id"] = parent.id if parent else None
    else:
        parent = db.session.get(Dealer, dealer.parent_id) if dealer and dealer.parent_id else None
    tier = parent.tier + 1 if parent else 1
    if data.get("tier") is not None and data["tier"] != tier:
        raise errors.DealerTierMismatch(
            f"The tier must be {tier}" + (f" (under the tier-{parent.tier} dealer {parent.name})."
                                          if parent else " for a dealer without a parent."),
            errors={"tier": [f"must be {tier}"]})
    values["tier"] = tier
    if "contacts" in data:
        values["contacts"] = _contacts(data["contacts"])
    elif dealer is None:
        values["contacts"] = []
    territory = None
    if "territory" in data:
        codes = sorted({str(code).strip() for code in data["territory"] or []})
        territory = db.session.scalars(sa.select(Region).where(Region.code.in_(codes))).all() if codes else []
        unknown = sorted(set(codes) - {region.code for region in territory})
        if unknown:
            raise errors.RegionUnknown(f"Unknown region code(s): {', '.join(unknown)}.",
                                      errors={"territory": unknown})
    return values, {"territory": territory}


def _contacts(contacts) -> list[dict]:
    if not isinstance(contacts, list) or not all(isinstance(c, dict) for c in contacts):
        raise ValidationFailed(code="contacts_invalid", errors={"contacts": ["a list of {name, phone, title}"]})
    return [{key: str(contact.get(key) or "").strip() for key in ("name", "phone", "title")}
            for contact in contacts]


def _refuse_cycle(dealer: Dealer, parent: Dealer) -> None:
    """Walk up from the new parent; meeting the dealer itself would close a loop."""
    node, seen = parent, set()
    while node is not None and node.id not in seen:
        if node.id == dealer.id:
            raise errors.DealerParentCycle(
                f"{parent.name} is {dealer.name} itself or one of its sub-dealers.",
                errors={"parent_id": ["would create a cycle"]})
        seen.add(node.id)
        node = db.session.get(Dealer, node.parent_id) if node.parent_id else None


def _retier_subtree(actor: Actor, dealer: Dealer) -> None:
    """After a move, every sub-dealer's tier follows its new depth."""
    queue, seen = [dealer], {dealer.id}
    while queue:
        node = queue.pop()
        for child in db.session.scalars(sa.select(Dealer).where(Dealer.parent_id == node.id)):
            if child.id in seen:
                continue
            seen.add(child.id)
            changes = apply_changes(child, {"tier": node.tier + 1})
            if changes:
                audit(actor, "dealer.update", child, changes)
                queue.append(child)


def _dealer_collections(dealer: Dealer, collections: dict) -> dict:
    if collections["territory"] is None:
        return {}
    return _replace(dealer, "territory", collections["territory"], key=lambda region: region.code)


def _dealer_write(actor: Actor, dealer: Dealer, collections: dict) -> None:
    """A write to a dealer is for users whose scope holds its whole territory, old and new (a dealer
    without a territory, or one reaching beyond the scope, is for national users)."""
    scope = scope_of(actor)
    if scope.national:
        return
    codes = [region.code for region in dealer.territory] if dealer.id is not None else []
    codes += [region.code for region in collections["territory"] or []]
    if not codes:
        raise OutsideDataScope("A dealer without a territory in your regions is for national users.")
    scope.require(*codes)


def create_dealer(*, actor: Actor, data: dict) -> Dealer:
    """Create a dealer; territory is a list of region codes of any level."""
    values, collections = _dealer_values(data, None)
    dealer = Dealer()
    _dealer_write(actor, dealer, collections)
    return _create(actor, dealer, values, _dealer_collections(dealer, collections))


def get_dealer(dealer_id: int, *, scope: DataScope = NATIONAL) -> Dealer:
    dealer = _get(Dealer, dealer_id)
    if not dealer_in(scope, dealer_id):
        raise rules.not_found("dealer")
    return dealer


def update_dealer(*, actor: Actor, dealer_id: int, changes: dict) -> Dealer:
    dealer = get_dealer(dealer_id)
    _save_dealer(actor, dealer, changes)
    return dealer


def _save_dealer(actor: Actor, dealer: Dealer, changes: dict) -> bool:
    values, collections = _dealer_values(changes, dealer)
    _dealer_write(actor, dealer, collections)
    old_tier = dealer.tier
    changed = _update(actor, dealer, values, _dealer_collections(dealer, collections))
    if "parent_id" in values:
        db.session.expire(dealer, ["parent"])
    if dealer.tier != old_tier:
        _retier_subtree(actor, dealer)
    return changed


def deactivate_dealer(*, actor: Actor, dealer_id: int) -> Dealer:
    dealer = get_dealer(dealer_id)
    _dealer_write(actor, dealer, {"territory": None})
    return _set_status(actor, dealer, Status.INACTIVE)


def reactivate_dealer(*, actor: Actor, dealer_id: int) -> Dealer:
    dealer = get_dealer(dealer_id)
    _dealer_write(actor, dealer, {"territory": None})
    return _set_status(actor, dealer, Status.ACTIVE)


_DEALER_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Dealer.status == Status(value),
    q=lambda value: containing(value, Dealer.name),
    tier=lambda value: Dealer.tier == value,
    parent_id=lambda value: Dealer.parent_id == value,
    region_code=lambda value: Dealer.territory.any(Region.code.in_(rules.region_ancestors(value))),
    external_id=lambda value: Dealer.external_id == value,
)


def list_dealers(*, status=None, q=None, tier=None, parent_id=None, region_code=None, external_id=None,
                 scope: DataScope = NATIONAL):
    """Dealers; region_code finds those whose territory covers the region (it or an ancestor)."""
    query = sa.select(Dealer).options(selectinload(Dealer.territory)).order_by(Dealer.id)
    if not scope.national:
        query = query.where(Dealer.id.in_(dealer_ids_in(scope)))
    return _DEALER_FILTERS.apply(query, status=status, q=q, tier=tier, parent_id=parent_id, region_code=region_code,
                                 external_id=external_id)
