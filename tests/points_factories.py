"""Points for tests: consumers, earning and spending, the ledger's invariants, mall items and redeeming."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser, Person
from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.service import Actor
from app.points import ledger, mall
from app.points.models import MallItem, PointsEntry
from tests.masterdata_factories import DONGCHENG

NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
ACTOR = Actor(kind="user", id=1, name="admin")
ADDRESS = {"name": "Li Lei", "phone": "13800138000", "region_code": DONGCHENG, "detail": "1 Wangfujing St"}


def make_consumer() -> int:
    """A new consumer (an app user of the consumer mini-program); its id."""
    with transaction():
        person = Person()
        db.session.add(person)
        db.session.flush()
        user = AppUser(app=AppName.CONSUMER, openid=f"o-{uuid.uuid4().hex[:20]}", person_id=person.id)
        db.session.add(user)
        db.session.flush()
        return user.id


def earn(user_id, points, source, now=NOW):
    with transaction():
        return ledger.earn(app_user_id=user_id, points=points, source=source, now=now)


def spend(user_id, points, source, now=NOW):
    with transaction():
        return ledger.spend(app_user_id=user_id, points=points, source=source, now=now)


def error_of(fn) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn()
    return caught.value


def entries(user_id) -> list[PointsEntry]:
    return list(db.session.scalars(sa.select(PointsEntry).where(PointsEntry.app_user_id == user_id)
                                   .order_by(PointsEntry.id)))


def check_invariants(user_id) -> None:
    """The ledger adds up: the balance is never negative and equals the entries' points and what remains of them."""
    rows = entries(user_id)
    balance = ledger.balance_of(user_id)
    assert balance >= 0
    assert balance == sum(e.points for e in rows)
    assert balance == sum(e.remaining for e in rows)
    if rows:
        assert rows[-1].balance_after == balance





def make_item(**data) -> MallItem:
    values = {"name": "Tea cup", "kind": "physical", "points_price": 100, "stock": 5, **data}
    with transaction():
        return mall.create_item(actor=ACTOR, data=values)


def user_of(user_id: int) -> AppUser:
    return db.session.get(AppUser, user_id)


def redeem(user_id, item_id, request_id="r1", quantity=1, address=ADDRESS):
    with transaction():
        return mall.redeem(app_user=user_of(user_id), item_id=item_id, quantity=quantity,
                           request_id=request_id, address=address)
