"""Campaigns in the back office: validation, status transitions, audit, and the database's own limits."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.campaigns import service
from app.campaigns.models import Campaign, CampaignStatus, Prize
from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from tests.masterdata_factories import ACTOR, HANGZHOU, make_product
from tests.production_factories import make_production_lot

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)  # running now: it can be activated
END = START + timedelta(days=120)
CASH = {"kind": "cash", "name": "Red packet", "amount": 888, "probability_ppm": 100_000, "stock": 300}
# SQLite says IntegrityError; MariaDB reports a failed CHECK as error 4025, an OperationalError.
CHECK_FAILED = (sa.exc.IntegrityError, sa.exc.OperationalError)
POINTS = {"kind": "points", "name": "Points", "amount": 50, "probability_ppm": 400_000}


def campaign(**data) -> Campaign:
    values = {"name": "Spring", "starts_at": START, "ends_at": END, "total_budget_fen": 100_000,
              "prizes": [CASH, POINTS], **data}
    with transaction():
        return service.create_campaign(actor=ACTOR, data=values)


def refused(fn, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught, transaction():
        fn(**kwargs)
    return caught.value


def invalid(**data) -> dict:
    error = refused(campaign, **data)
    assert (error.status, error.code) == (422, "campaign_invalid")
    return error.errors


def change(campaign_id: int, **changes) -> Campaign:
    with transaction():
        return service.update_campaign(actor=ACTOR, campaign_id=campaign_id, changes=changes)


def move(campaign_id: int, action: str) -> Campaign:
    with transaction():
        return service.change_status(actor=ACTOR, campaign_id=campaign_id, action=action)


def test_a_new_campaign_is_a_draft_with_its_prizes_and_is_audited():
    created = campaign(region_codes=[HANGZHOU], blacklist=["o-bad"])
    assert (created.status, created.spent_fen, created.created_by) == (CampaignStatus.DRAFT, 0, ACTOR.name)
    assert [p.probability_ppm for p in service.prizes_of(created.id)] == [100_000, 400_000]
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "campaign.create")).one()
    assert record.entity_id == str(created.id)


def test_probabilities_sum_to_at_most_one_million_parts():
    assert campaign(prizes=[{**CASH, "probability_ppm": 600_000}, {**POINTS, "probability_ppm": 400_000}])
    assert "probability_ppm" in invalid(prizes=[{**CASH, "probability_ppm": 600_000},
                                                {**POINTS, "probability_ppm": 400_001}])


def test_a_campaign_ends_after_it_starts():
    assert "ends_at" in invalid(ends_at=START)


def test_the_budget_pays_at_least_the_largest_cash_prize():
    assert "total_budget_fen" in invalid(total_budget_fen=887)
    assert "daily_budget_fen" in invalid(daily_budget_fen=500)
    assert campaign(total_budget_fen=888, daily_budget_fen=888)


def test_the_daily_budget_is_at_most_the_total():
    assert "daily_budget_fen" in invalid(total_budget_fen=1000, daily_budget_fen=1001)


def test_limits_are_at_least_one():
    errors = invalid(per_user_daily_limit=0, per_user_total_limit=0)
    assert {"per_user_daily_limit", "per_user_total_limit"} <= set(errors)
    assert "per_user_daily_limit" in invalid(per_user_daily_limit=3, per_user_total_limit=2)


def test_products_lots_and_regions_must_exist():
    product, lot = make_product().id, make_production_lot().id
    assert campaign(product_ids=[product], lot_ids=[lot], region_codes=[HANGZHOU])
    errors = invalid(product_ids=[product, product + 999], lot_ids=[lot + 999], region_codes=["999999000000"])
    assert set(errors) == {"product_ids", "lot_ids", "region_codes"}


def test_a_cash_prize_has_a_positive_amount():
    assert "prizes" in invalid(prizes=[{**CASH, "amount": 0}])


def test_status_moves_draft_active_paused_active_ended_and_ended_is_final():
    created = campaign()
    assert refused(move, campaign_id=created.id, action="pause").code == "campaign_transition_refused"
    assert move(created.id, "activate").status == CampaignStatus.ACTIVE
    assert refused(move, campaign_id=created.id, action="activate").status == 409
    assert move(created.id, "pause").status == CampaignStatus.PAUSED
    assert move(created.id, "activate").status == CampaignStatus.ACTIVE
    assert move(created.id, "end").status == CampaignStatus.ENDED
    for action in ("activate", "pause", "end"):
        assert refused(move, campaign_id=created.id, action=action).status == 409
    assert refused(change, campaign_id=created.id, name="Again").code == "campaign_ended"


def test_a_draft_can_end_without_running():
    assert move(campaign().id, "end").status == CampaignStatus.ENDED


def test_a_change_to_an_active_campaign_is_audited_with_before_and_after():
    created = campaign()
    move(created.id, "activate")
    change(created.id, total_budget_fen=200_000, prizes=[{**CASH, "probability_ppm": 200_000}])
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "campaign.update")).one()
    assert record.changes["total_budget_fen"] == [100_000, 200_000]
    assert record.changes["status_at_change"] == [None, "active"]
    assert [p["probability_ppm"] for p in record.changes["prizes"][1]] == [200_000]
    assert [p.probability_ppm for p in service.prizes_of(created.id)] == [200_000]
    actions = db.session.scalars(sa.select(AuditRecord.action).where(
        AuditRecord.entity_type == "campaigns").order_by(AuditRecord.id)).all()
    assert actions == ["campaign.create", "campaign.activate", "campaign.update"]


def test_a_change_that_changes_nothing_is_not_audited_and_a_bad_change_leaves_the_campaign_alone():
    created = campaign()
    change(created.id, name="Spring")
    assert refused(change, campaign_id=created.id, total_budget_fen=10).code == "campaign_invalid"
    db.session.expire_all()
    assert db.session.get(Campaign, created.id).total_budget_fen == 100_000
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "campaign.update")) == 0


def test_an_unknown_campaign_is_not_found():
    assert refused(change, campaign_id=999_999, name="x").status == 404
    assert refused(move, campaign_id=999_999, action="end").code == "campaign_not_found"


def test_the_database_refuses_to_spend_beyond_the_budget():
    created = campaign(total_budget_fen=1000, prizes=[])
    table = Campaign.__table__
    with transaction():
        db.session.execute(table.update().where(table.c.id == created.id).values(spent_fen=table.c.spent_fen + 1000))
    with pytest.raises(CHECK_FAILED), transaction():
        db.session.execute(table.update().where(table.c.id == created.id)
                           .values(spent_fen=table.c.spent_fen + 1))
    db.session.rollback()
    assert db.session.scalar(sa.select(table.c.spent_fen).where(table.c.id == created.id)) == 1000


def test_the_database_refuses_to_award_beyond_a_prizes_stock():
    created = campaign(prizes=[{**CASH, "stock": 2}, POINTS])
    cash, points = service.prizes_of(created.id)
    table = Prize.__table__
    with transaction():
        db.session.execute(table.update().where(table.c.id == cash.id).values(awarded=table.c.awarded + 2))
        db.session.execute(table.update().where(table.c.id == points.id).values(awarded=table.c.awarded + 10**6))
    with pytest.raises(CHECK_FAILED), transaction():
        db.session.execute(table.update().where(table.c.id == cash.id).values(awarded=table.c.awarded + 1))
    db.session.rollback()


def test_prizes_once_awarded_cannot_be_replaced():
    created = campaign()
    cash = service.prizes_of(created.id)[0]
    with transaction():
        db.session.execute(Prize.__table__.update().where(Prize.__table__.c.id == cash.id).values(awarded=1))
    assert refused(change, campaign_id=created.id, prizes=[POINTS]).code == "campaign_prizes_awarded"


def test_a_campaign_whose_window_is_over_or_without_odds_cannot_be_activated():
    over = campaign(starts_at=START - timedelta(days=90), ends_at=START - timedelta(days=1))
    error = refused(move, campaign_id=over.id, action="activate")
    assert error.code == "campaign_invalid" and "ends_at" in error.errors
    no_odds = campaign(prizes=[{**CASH, "probability_ppm": 0}])
    assert "prizes" in refused(move, campaign_id=no_odds.id, action="activate").errors


def test_a_new_daily_budget_holds_from_today_and_never_below_what_a_day_spent():
    from app.campaigns.claims import china_day
    from app.campaigns.models import CampaignDay

    created = campaign(daily_budget_fen=5_000)
    today = china_day(datetime.now(UTC))
    with transaction():
        db.session.add_all([CampaignDay(campaign_id=created.id, day=today, budget_fen=5_000, spent_fen=3_000),
                            CampaignDay(campaign_id=created.id, day=today - timedelta(days=1), budget_fen=5_000,
                                        spent_fen=5_000)])
    change(created.id, daily_budget_fen=2_000)
    budgets = dict(db.session.execute(sa.select(CampaignDay.day, CampaignDay.budget_fen)).all())
    assert budgets == {today: 3_000, today - timedelta(days=1): 5_000}
    change(created.id, daily_budget_fen=8_000)
    assert db.session.get(CampaignDay, (created.id, today), populate_existing=True).budget_fen == 8_000
