"""Campaigns for tests: a running campaign, and claims' rows (consumers, scans, draws, prizes) made directly."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser, Person
from app.campaigns import service as campaigns
from app.campaigns.models import (
    Campaign,
    Draw,
    DrawOutcome,
    PrizeKind,
    Redemption,
    RedemptionStatus,
)
from app.consumers.models import ConsumerScan, Verdict
from app.db import transaction
from app.extensions import db
from app.masterdata.models import Product
from app.payouts.models import Payout, PayoutPurpose, PayoutStatus
from app.points.models import PointsBalance
from tests.masterdata_factories import ACTOR

NOW = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)  # a campaign must be running to start
CASH = {"kind": "cash", "name": "Red packet", "amount": 100, "probability_ppm": 1_000_000}
_seq = itertools.count(1)
T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)

DONGCHENG, XICHENG = "110101000000", "110102000000"  # Beijing (a municipality)
TIANHE = "440106000000"  # Guangzhou, Guangdong
# Where a gift prize is sent.
ADDRESS = {"name": "林小姐", "phone": "13800138000", "region_code": "110101000000", "detail": "东直门大街 1 号"}


def open_campaign(**data) -> Campaign:
    """An active campaign running since yesterday whose one prize (CASH) always wins, unless told otherwise."""
    values = {"name": "Spring", "starts_at": NOW - timedelta(days=1), "ends_at": NOW + timedelta(days=30),
              "total_budget_fen": 100_000, "per_user_daily_limit": 50, "per_user_total_limit": 50,
              "first_scan_only": False, "prizes": [CASH], **data}
    with transaction():
        created = campaigns.create_campaign(actor=ACTOR, data=values)
    with transaction():
        return campaigns.change_status(actor=ACTOR, campaign_id=created.id, action="activate")


class Claims:
    """Consumers, scans, draws, redemptions, payouts and points, added as rows (until the claim exists)."""

    def consumer(self, nickname: str = "", app: AppName = AppName.CONSUMER, openid: str | None = None) -> AppUser:
        with transaction():
            person = Person()
            db.session.add(person)
            db.session.flush()
            user = AppUser(app=app, openid=openid or f"o-prof-{next(_seq)}-{person.id}", person_id=person.id,
                           nickname=nickname)
            db.session.add(user)
        return user

    def product(self, name: str) -> Product:
        with transaction():
            product = Product(sku=f"SKU-{next(_seq)}", name=name)
            db.session.add(product)
        return product

    def campaign(self, name: str = "Spring") -> Campaign:
        with transaction():
            campaign = Campaign(name=name, starts_at=T0 - timedelta(days=30), ends_at=T0 + timedelta(days=60),
                                total_budget_fen=1_000_000)
            db.session.add(campaign)
        return campaign

    def scan(self, user: AppUser, *, product: Product | None = None, region_code: str | None = None,
             verdict: Verdict = Verdict.GENUINE, at: datetime | None = None) -> ConsumerScan:
        n = next(_seq)
        with transaction():
            scan = ConsumerScan(serial=10_000 + n, code=f"C{n:08d}", app_user_id=user.id, verdict=verdict,
                                product_id=product.id if product else None, region_code=region_code,
                                scanned_at=at or T0)
            db.session.add(scan)
        return scan

    def draw(self, user: AppUser, campaign: Campaign, *, kind: PrizeKind | None = None, amount: int = 0,
             outcome: DrawOutcome = DrawOutcome.WON, at: datetime | None = None, held_reason: str | None = None,
             product: Product | None = None) -> Draw:
        scan = self.scan(user, at=at, product=product)
        with transaction():
            draw = Draw(serial=scan.serial, scan_id=scan.id, campaign_id=campaign.id, app_user_id=user.id,
                        random_ppm=123_456, outcome=outcome, prize_kind=kind, amount=amount,
                        prize_id=None, odds=[{"prize_id": 1, "kind": "cash", "amount": 88,
                                              "probability_ppm": 200_000, "from": 0, "to": 200_000}],
                        day=(at or T0).date(), drawn_at=at or T0, held_reason=held_reason)
            db.session.add(draw)
        return draw

    def redemption(self, draw: Draw, status: RedemptionStatus | None = None) -> Redemption:
        kind = draw.prize_kind
        status = status or (RedemptionStatus.ISSUED if kind is PrizeKind.COUPON else RedemptionStatus.AWAITING_ADDRESS)
        with transaction():
            redemption = Redemption(draw_id=draw.id, app_user_id=draw.app_user_id, campaign_id=draw.campaign_id,
                                    prize_id=draw.prize_id or 0, kind=kind, name=f"{kind.value} prize",
                                    status=status,
                                    coupon_code=f"CPN{draw.id:08d}" if kind is PrizeKind.COUPON else None)
            db.session.add(redemption)
        return redemption

    def payout(self, draw: Draw, status: PayoutStatus = PayoutStatus.PENDING) -> Payout:
        user = db.session.get(AppUser, draw.app_user_id)
        with transaction():
            payout = Payout(purpose=PayoutPurpose.PRIZE, source=f"draw:{draw.id}", app_user_id=user.id,
                            app=user.app, openid=user.openid, amount_fen=draw.amount, status=status,
                            campaign_id=draw.campaign_id)
            db.session.add(payout)
        return payout

    def points(self, user: AppUser, balance: int) -> None:
        with transaction():
            db.session.add(PointsBalance(app_user_id=user.id, balance=balance))

    def won(self, user, campaign, kind: PrizeKind, amount: int = 0, **kwargs):
        """A won draw with what follows it: a payout (cash) or a redemption (coupon, gift)."""
        draw = self.draw(user, campaign, kind=kind, amount=amount, **kwargs)
        if kind is PrizeKind.CASH:
            return draw, self.payout(draw, kwargs.get("payout_status", PayoutStatus.PENDING))
        if kind in (PrizeKind.COUPON, PrizeKind.GIFT):
            return draw, self.redemption(draw)
        return draw, None


@pytest.fixture
def claims(app):
    """Claims' rows made directly (see Claims)."""
    return Claims()


def a_rich_consumer(claims: Claims):
    """A consumer with scans of two products in two cities, prizes of every kind, payouts and points."""
    user = claims.consumer("Lin")
    tea, wine = claims.product("Tea"), claims.product("Wine")
    claims.scan(user, product=tea, region_code=DONGCHENG, at=T0 + timedelta(hours=1))
    claims.scan(user, product=tea, region_code=XICHENG, at=T0 + timedelta(hours=2))
    claims.scan(user, product=wine, region_code=TIANHE, verdict=Verdict.SCANNED_BEFORE, at=T0 + timedelta(days=3))
    claims.scan(user, region_code=None, verdict=Verdict.FORGED, at=T0 - timedelta(days=1))
    campaign = claims.campaign()
    cash, _ = claims.won(user, campaign, PrizeKind.CASH, 88, at=T0 + timedelta(days=1))
    with transaction():
        db.session.get(Payout, db.session.scalar(sa.select(Payout.id).where(Payout.source == f"draw:{cash.id}"))
                       ).status = PayoutStatus.SUCCEEDED
    _, waiting = claims.won(user, campaign, PrizeKind.CASH, 12, at=T0 + timedelta(days=2))
    with transaction():
        db.session.get(Payout, waiting.id).status = PayoutStatus.WAITING
    claims.won(user, campaign, PrizeKind.POINTS, 50, at=T0 + timedelta(days=2))
    claims.won(user, campaign, PrizeKind.COUPON, at=T0 + timedelta(days=2))
    gift, gift_redemption = claims.won(user, campaign, PrizeKind.GIFT, at=T0 + timedelta(days=4))
    claims.draw(user, campaign, outcome=DrawOutcome.LOST, at=T0 + timedelta(days=4))
    claims.points(user, 300)
    return user, {"tea": tea, "wine": wine, "campaign": campaign, "gift": gift, "gift_redemption": gift_redemption,
                  "cash": cash, "waiting": waiting}


@pytest.fixture
def campaign(app):
    """An active campaign of one cash prize that always wins, first scans only, running now."""
    now = datetime.now(UTC)
    with transaction():
        created = campaigns.create_campaign(actor=ACTOR, data={
            "name": "Spring", "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=1),
            "total_budget_fen": 10_000, "first_scan_only": True,
            "prizes": [{"kind": "cash", "name": "Red packet", "amount": 88, "probability_ppm": 1_000_000}]})
    with transaction():
        return campaigns.change_status(actor=ACTOR, campaign_id=created.id, action="activate")
