"""Consumers' points ledger: earn, spend, expire, adjust; idempotent by source, never negative."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.identity.models import AuditRecord
from app.points import ledger
from app.points.models import PointsEntry, PointsKind
from tests.points_factories import ACTOR, NOW, check_invariants, earn, entries, error_of, make_consumer, spend


@pytest.fixture
def user(app):
    return make_consumer()


def test_earn_credits_the_balance_with_an_expiry(user):
    entry = earn(user, 100, "draw:1")
    assert (entry.kind, entry.points, entry.remaining, entry.balance_after) == (PointsKind.EARN, 100, 100, 100)
    assert entry.expires_at == NOW + timedelta(days=365)
    assert ledger.balance_of(user) == 100
    assert earn(user, 50, "draw:2").balance_after == 150
    check_invariants(user)


def test_earn_is_idempotent_by_source(user):
    first = earn(user, 100, "draw:1")
    again = earn(user, 100, "draw:1")
    assert again.id == first.id
    assert ledger.balance_of(user) == 100
    assert len(entries(user)) == 1


def test_a_source_reused_for_another_user_or_amount_is_a_conflict(user):
    other = make_consumer()
    earn(user, 100, "draw:1")
    assert error_of(lambda: earn(user, 99, "draw:1")).code == "points_source_reused"
    assert error_of(lambda: earn(other, 100, "draw:1")).code == "points_source_reused"
    assert error_of(lambda: spend(user, 100, "draw:1")).code == "points_source_reused"
    assert ledger.balance_of(user) == 100 and ledger.balance_of(other) == 0


def test_earn_refuses_nothing_or_less(user):
    with pytest.raises(ValueError):
        earn(user, 0, "draw:1")


def test_balance_of_a_newcomer_is_zero(user):
    assert ledger.balance_of(user) == 0


def test_earn_does_not_commit(user):
    ledger.earn(app_user_id=user, points=10, source="draw:1", now=NOW)
    db.session.rollback()
    assert ledger.balance_of(user) == 0 and entries(user) == []


def test_spend_takes_from_the_earliest_expiring_earnings_first(user):
    late = earn(user, 100, "draw:late", now=NOW + timedelta(days=10))
    early = earn(user, 50, "draw:early", now=NOW)
    entry = spend(user, 70, "mall-order:1", now=NOW + timedelta(days=11))
    assert (entry.kind, entry.points, entry.remaining, entry.balance_after) == (PointsKind.SPEND, -70, 0, 80)
    db.session.expire_all()
    assert db.session.get(PointsEntry, early.id).remaining == 0
    assert db.session.get(PointsEntry, late.id).remaining == 80
    check_invariants(user)


def test_spend_beyond_the_balance_is_refused(user):
    earn(user, 50, "draw:1")
    error = error_of(lambda: spend(user, 51, "mall-order:1"))
    assert (error.status, error.code) == (409, "points_insufficient")
    assert error_of(lambda: spend(make_consumer(), 1, "mall-order:2")).code == "points_insufficient"
    assert ledger.balance_of(user) == 50
    spend(user, 50, "mall-order:3")
    assert ledger.balance_of(user) == 0
    check_invariants(user)


def test_spend_is_idempotent_by_source(user):
    earn(user, 50, "draw:1")
    first = spend(user, 20, "mall-order:1")
    assert spend(user, 20, "mall-order:1").id == first.id
    assert ledger.balance_of(user) == 30


def test_expired_points_cannot_be_spent(user):
    earn(user, 50, "draw:1", now=NOW)
    later = NOW + timedelta(days=366)
    assert error_of(lambda: spend(user, 10, "mall-order:1", now=later)).code == "points_insufficient"
    earn(user, 30, "draw:2", now=later)
    spend(user, 10, "mall-order:2", now=later)
    kinds = [e.kind for e in entries(user)]
    assert kinds == [PointsKind.EARN, PointsKind.EARN, PointsKind.EXPIRE, PointsKind.SPEND]
    assert ledger.balance_of(user) == 20
    check_invariants(user)


def test_expire_sweeps_what_is_left_once(user):
    other = make_consumer()
    first = earn(user, 100, "draw:1", now=NOW)
    earn(user, 40, "draw:2", now=NOW + timedelta(days=100))
    earn(other, 10, "draw:3", now=NOW)
    spend(user, 30, "mall-order:1", now=NOW)
    later = NOW + timedelta(days=366)
    assert ledger.expire(later) == {"consumers": 2, "points": 80}
    assert ledger.expire(later) == {"consumers": 0, "points": 0}
    assert ledger.balance_of(user) == 40 and ledger.balance_of(other) == 0
    expired = [e for e in entries(user) if e.kind is PointsKind.EXPIRE]
    assert [(e.points, e.source) for e in expired] == [(-70, f"expire:{first.id}")]
    check_invariants(user)
    check_invariants(other)


def test_expiring_soon(user):
    earn(user, 100, "draw:1", now=NOW)
    earn(user, 40, "draw:2", now=NOW + timedelta(days=100))
    soon = ledger.expiring(user, now=NOW + timedelta(days=340))
    assert soon == {"points": 100, "first_at": NOW + timedelta(days=365)}
    assert ledger.expiring(user, now=NOW)["points"] == 0


def test_adjust_both_ways_audited_and_idempotent(user):
    with transaction():
        up = ledger.adjust(actor=ACTOR, app_user_id=user, points=100, reason="goodwill", key="k1", now=NOW)
    assert (up.kind, up.points, up.remaining) == (PointsKind.ADJUST, 100, 100)
    with transaction():
        down = ledger.adjust(actor=ACTOR, app_user_id=user, points=-30, reason="fraud", key="k2", now=NOW)
    with transaction():
        assert ledger.adjust(actor=ACTOR, app_user_id=user, points=-30, reason="fraud", key="k2").id == down.id
    assert ledger.balance_of(user) == 70
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)
                             .where(AuditRecord.action == "points.adjust")) == 2
    error = error_of(lambda: ledger.adjust(actor=ACTOR, app_user_id=user, points=-71, reason="x", key="k3"))
    assert error.code == "points_insufficient"
    db.session.rollback()
    assert error_of(lambda: ledger.adjust(actor=ACTOR, app_user_id=user, points=5, reason="x",
                                          key="k2")).code == "points_source_reused"
    db.session.rollback()
    assert error_of(lambda: ledger.adjust(actor=ACTOR, app_user_id=user, points=0, reason="x",
                                          key="k4")).status == 422
    check_invariants(user)


def test_the_expire_command(app, user):
    earn(user, 100, "draw:1", now=NOW)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["points", "expire", "--at", "2027-06-01T00:00:00"])
    assert result.exit_code == 0, result.output
    assert "expired 100 points of 1 consumers" in result.output
    assert runner.invoke(args=["points", "expire", "--at", "2027-06-01"]).output.startswith("expired 0 points")
    assert runner.invoke(args=["points", "expire", "--at", "soon"]).exit_code != 0
    assert ledger.balance_of(user) == 0
