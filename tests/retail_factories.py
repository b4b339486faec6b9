"""Retail for tests: a shop (brand, dealer, store, clerk), clerks, items received by the store, reward rules, sales."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from app.accounts.models import AppName, AppUser, MemberRole, MembershipStatus, Person, StoreMembership
from app.db import transaction, utcnow
from app.extensions import db
from app.identity.models import Role
from app.retail import ledger, reward_rules, sales
from app.units.models import Unit
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer
from tests.mp_factories import make_invitation

_names = itertools.count(1)
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
END = datetime(2030, 1, 1, tzinfo=timezone.utc)


def make_clerk(store_id: int, *, role: MemberRole = MemberRole.CLERK,
               status: MembershipStatus = MembershipStatus.APPROVED) -> AppUser:
    """A clerk-app user with a membership of the store (approved unless told)."""
    with transaction():
        person = Person()
        db.session.add(person)
        db.session.flush()
        n = next(_names)
        user = AppUser(app=AppName.CLERK, openid=f"clerk-{n}-{person.id}", person_id=person.id, nickname=f"Clerk {n}")
        db.session.add(user)
        db.session.flush()
        db.session.add(StoreMembership(store_id=store_id, app_user_id=user.id, role=role, status=status,
                                       approved_at=utcnow() if status is MembershipStatus.APPROVED else None))
    return user


@dataclass
class Shop:
    """A dealer's store with an approved clerk, and the brand that supplies it."""
    brand: cf.Brand
    dealer_id: int
    store_id: int
    clerk: AppUser


def make_shop(**store_data) -> Shop:
    """A new brand, dealer, store (of the dealer) and clerk."""
    brand = cf.make_brand()
    dealer = make_dealer()
    shop = cf.make_store_of(dealer.id, **store_data)
    return Shop(brand, dealer.id, shop.id, make_clerk(shop.id))


def store_items(shop: Shop, count: int = 2) -> list[str]:
    """Items received by the shop: a case from the brand to the dealer, the dealer to the store."""
    case = cf.dealer_stock(shop.brand, shop.dealer_id, cases_=1)
    shipment = cf.ship_to(case, shipper=("dealer", shop.dealer_id), receiver=("store", shop.store_id))
    cf.receive(shipment.id, receiver=("store", shop.store_id))
    items = items_of(case[0])
    return items[:count]


def items_of(case_code: str) -> list[str]:
    """The codes of the items packed in the case, in serial order."""
    parent = uf.serial(case_code)
    units = db.session.scalars(sa.select(Unit).where(Unit.parent_serial == parent).order_by(Unit.serial)).all()
    ring = uf.codes.keyring()
    return [ring.encode(u.serial, u.key_version) for u in units]


def warehouse_items(shop: Shop, count: int = 2) -> list[str]:
    """Items still in the brand's warehouse (never received by any store)."""
    return uf.commission(shop.brand.lot, count, warehouse_id=shop.brand.warehouse_id)


def rule(**data):
    """A points reward rule, valid 2026-2030, paying 10 a sale unless told otherwise."""
    values = {"name": "Rule", "starts_at": START, "ends_at": END, "kind": "points", "amount": 10, **data}
    with transaction():
        return reward_rules.create_reward_rule(actor=ACTOR, data=values)


def sell(user: AppUser, store_id: int, code: str, **kwargs) -> sales.SaleResult:
    """A clerk's sale scan, committed."""
    with transaction():
        return sales.sale_scan(user=user, store_id=store_id, code=code, **kwargs)


# --- points to cash (the clerk app and the back office) ---------------------------------------------

RATE = "/api/admin/retail/points-cash-rate"
CONVERT = "/api/clerk/rewards/conversions"


def clerk_with_points(client, mp, points: int):
    """Headers of a store owner in the clerk app holding `points` points (earned as a course would), and their id."""
    store = cf.make_store_of(make_dealer().id)
    headers = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    me = client.get("/api/clerk/me", headers=headers).get_json()["user"]["id"]
    if points:
        with transaction():
            ledger.credit(app_user_id=me, kind="points", amount=points, source=f"course:1:{me}")
    return headers, me


def set_rate(client, auth, **rate):
    response = client.put(RATE, json={"points": 100, "cash_fen": 50, **rate}, headers=auth.headers_for(Role.FINANCE))
    assert response.status_code == 200, response.get_json()
    return response.get_json()
