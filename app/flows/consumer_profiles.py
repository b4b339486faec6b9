"""Consumer profiles: what one consumer scanned, where and when, and what they won; segment counts.

A read across domains (consumers' scans, campaigns' draws, payouts, points), so it lives with the flows,
above all of them.

Every aggregate is one SQL query with GROUP BY (never a loop over rows), portable between SQLite
and MariaDB. A region is counted at province or city level by the adcode's prefix (2 or 4 digits).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.campaigns.models import (
    Campaign,
    Draw,
    DrawOutcome,
    Prize,
    PrizeKind,
    Redemption,
)
from app.consumers.models import BlockedConsumer, ConsumerScan
from app.errors import NotFound
from app.identity.scope import NATIONAL, DataScope
from app.extensions import db
from app.masterdata.models import Product, Region
from app.masterdata.rules import region_prefix
from app.payouts.models import Payout, PayoutPurpose, PayoutRef, PayoutStatus
from app.platform.filters import Filters
from app.points.models import PointsBalance

REGION_LEVELS = {"province": 2, "city": 4}
# Scans in the period: (bucket, lowest, highest); None: no upper end.
FREQUENCY_BUCKETS = (("1", 1, 1), ("2-5", 2, 5), ("6-20", 6, 20), ("21+", 21, None))
SEGMENT_GROUPS = ("region", "product", "frequency")
# City-level names that stand for "the province's own cities" (municipalities, county groups).
_PLACEHOLDER_CITY_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


class ConsumerNotFound(NotFound):
    code = "consumer_not_found"
    message = "No such consumer."


def _in_region(column, code: str):
    return column.like(region_prefix(code) + "%")


def _period(query, column, since: datetime | None, until: datetime | None):
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def _paid_fen():
    return sa.func.coalesce(sa.func.sum(sa.case((Payout.status == PayoutStatus.SUCCEEDED, Payout.amount_fen),
                                                else_=0)), 0)


def _count_where(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


# --- the list and one profile ------------------------------------------------------------------

def _nickname_or_openid_like(q: str):
    pattern = f"%{q.strip()}%"
    return sa.or_(AppUser.nickname.like(pattern), AppUser.openid.like(pattern))


_PROFILE_FILTERS = Filters(
    region_code=lambda value: sa.exists().where(ConsumerScan.app_user_id == AppUser.id,
                                                _in_region(ConsumerScan.region_code, value)),
    product_id=lambda value: sa.exists().where(ConsumerScan.app_user_id == AppUser.id,
                                               ConsumerScan.product_id == value),
    q=_nickname_or_openid_like,
)


def list_profiles(*, region_code: str | None = None, product_id: int | None = None, q: str | None = None,
                  scope: DataScope = NATIONAL):
    """Consumers with their scan count and first and last scan, last seen first (rows, for paging).

    A regional user sees the consumers with a scan inside their scope, counted by those scans only.
    """
    stats = (sa.select(ConsumerScan.app_user_id, sa.func.count().label("scans"),
                       sa.func.min(ConsumerScan.scanned_at).label("first_seen_at"),
                       sa.func.max(ConsumerScan.scanned_at).label("last_seen_at"))
             .where(scope.filter(ConsumerScan.region_code))
             .group_by(ConsumerScan.app_user_id).subquery())
    blocked = sa.exists().where(BlockedConsumer.openid == AppUser.openid)
    query = (sa.select(AppUser.id.label("app_user_id"), AppUser.openid, AppUser.nickname, AppUser.avatar_url,
                       AppUser.status, AppUser.created_at, sa.func.coalesce(stats.c.scans, 0).label("scans"),
                       stats.c.first_seen_at, stats.c.last_seen_at, blocked.label("blacklisted"))
             .outerjoin(stats, stats.c.app_user_id == AppUser.id)
             .where(AppUser.app == AppName.CONSUMER)
             .order_by(stats.c.last_seen_at.desc(), AppUser.id.desc()))
    if not scope.national:
        query = query.where(stats.c.app_user_id.is_not(None))
    return _PROFILE_FILTERS.apply(query, region_code=region_code, product_id=product_id, q=q)


def get_consumer(app_user_id: int) -> AppUser:
    user = db.session.get(AppUser, app_user_id)
    if user is None or user.app is not AppName.CONSUMER:
        raise ConsumerNotFound()
    return user


def points_balance(app_user_id: int) -> int:
    return db.session.scalar(sa.select(PointsBalance.balance).where(PointsBalance.app_user_id == app_user_id)) or 0


def _won(app_user_id: int) -> dict:
    rows = db.session.execute(
        sa.select(Draw.prize_kind, sa.func.count(), sa.func.coalesce(sa.func.sum(Draw.amount), 0))
        .where(Draw.app_user_id == app_user_id, Draw.outcome == DrawOutcome.WON)
        .group_by(Draw.prize_kind)).all()
    by_kind = {kind: (count, amount) for kind, count, amount in rows}
    return {"draws": sum(count for count, _ in by_kind.values()),
            "cash_fen": int(by_kind.get(PrizeKind.CASH, (0, 0))[1]),
            "cash_prizes": by_kind.get(PrizeKind.CASH, (0, 0))[0],
            "points": int(by_kind.get(PrizeKind.POINTS, (0, 0))[1]),
            "coupons": by_kind.get(PrizeKind.COUPON, (0, 0))[0],
            "gifts": by_kind.get(PrizeKind.GIFT, (0, 0))[0]}


def _payouts(app_user_id: int) -> dict:
    count, paid, waiting = db.session.execute(
        sa.select(sa.func.count(), _paid_fen(), _count_where(sa.or_(
        Payout.status == PayoutStatus.WAITING, Payout.doubt_from == PayoutStatus.WAITING)))
        .where(Payout.app_user_id == app_user_id)).one()
    return {"count": count, "paid_fen": int(paid), "waiting": int(waiting)}


def _scans(app_user_id: int, scope: DataScope) -> dict:
    rows = db.session.execute(
        sa.select(ConsumerScan.verdict, sa.func.count(), sa.func.min(ConsumerScan.scanned_at),
                  sa.func.max(ConsumerScan.scanned_at))
        .where(ConsumerScan.app_user_id == app_user_id, scope.filter(ConsumerScan.region_code))
        .group_by(ConsumerScan.verdict)).all()
    firsts = [first for _, _, first, _ in rows if first is not None]
    lasts = [last for _, _, _, last in rows if last is not None]
    return {"count": sum(count for _, count, _, _ in rows),
            "by_verdict": {verdict.value: count for verdict, count, _, _ in rows},
            "first_seen_at": min(firsts) if firsts else None,
            "last_seen_at": max(lasts) if lasts else None}


def _products(app_user_id: int, scope: DataScope) -> list[dict]:
    rows = db.session.execute(
        sa.select(ConsumerScan.product_id, Product.name, sa.func.count().label("scans"))
        .join(Product, Product.id == ConsumerScan.product_id)
        .where(ConsumerScan.app_user_id == app_user_id, scope.filter(ConsumerScan.region_code))
        .group_by(ConsumerScan.product_id, Product.name)
        .order_by(sa.desc("scans"), ConsumerScan.product_id)).all()
    return [{"id": product_id, "name": name, "scans": scans} for product_id, name, scans in rows]


def profile(*, app_user_id: int, scope: DataScope = NATIONAL) -> dict:
    """One consumer at a glance: scans, products, regions, first and last seen, winnings, payouts, points.

    A regional user sees only a consumer with a scan inside their scope (else 404), and the scans,
    products and regions of those scans; winnings, payouts and points are the person's totals.
    """
    user = get_consumer(app_user_id)
    scans = _scans(user.id, scope)
    if not scope.national and not scans["count"]:
        raise ConsumerNotFound()
    blocked = db.session.scalar(sa.select(BlockedConsumer).where(BlockedConsumer.openid == user.openid))
    return {
        "app_user_id": user.id, "openid": user.openid, "nickname": user.nickname, "avatar_url": user.avatar_url,
        "status": user.status, "created_at": user.created_at, "last_login_at": user.last_login_at,
        "scans": {"count": scans["count"], "by_verdict": scans["by_verdict"]},
        "first_seen_at": scans["first_seen_at"], "last_seen_at": scans["last_seen_at"],
        "products": _products(user.id, scope),
        "regions": _region_counts(level="city", app_user_id=user.id, distinct_users=False, scope=scope),
        "won": _won(user.id),
        "payouts": _payouts(user.id),
        "points_balance": points_balance(user.id),
        "blacklisted": blocked is not None,
        "blacklist_reason": blocked.reason if blocked is not None else None,
    }


# --- segments ----------------------------------------------------------------------------------

def _scans_in(since, until, *, app_user_id: int | None = None, scope: DataScope = NATIONAL):
    query = _period(sa.select(), ConsumerScan.scanned_at, since, until).where(scope.filter(ConsumerScan.region_code))
    if app_user_id is not None:
        query = query.where(ConsumerScan.app_user_id == app_user_id)
    return query


def _region_names(codes: list[str]) -> dict[str, str]:
    """Names of regions by code, a placeholder city ("市辖区") named by its province; one query."""
    if not codes:
        return {}
    parent = sa.orm.aliased(Region)
    rows = db.session.execute(
        sa.select(Region.code, Region.name, parent.name).outerjoin(parent, parent.code == Region.parent_code)
        .where(Region.code.in_(codes))).all()
    return {code: (parent_name if name in _PLACEHOLDER_CITY_NAMES and parent_name else name)
            for code, name, parent_name in rows}


def _region_counts(*, level: str, since=None, until=None, app_user_id: int | None = None,
                   distinct_users: bool = True, scope: DataScope = NATIONAL) -> list[dict]:
    digits = REGION_LEVELS[level]
    prefix = sa.func.substr(ConsumerScan.region_code, 1, digits)
    counted = sa.func.count(sa.distinct(ConsumerScan.app_user_id)) if distinct_users else sa.func.count()
    rows = db.session.execute(
        _scans_in(since, until, app_user_id=app_user_id, scope=scope)
        .add_columns(prefix.label("prefix"), counted.label("n"))
        .where(ConsumerScan.region_code.is_not(None))
        .group_by(prefix).order_by(sa.desc("n"), prefix)).all()
    codes = [prefix_ + "0" * (12 - digits) for prefix_, _ in rows]
    names = _region_names(codes)
    key = "consumers" if distinct_users else "scans"
    return [{"code": code, "name": names.get(code, code), key: n} for code, (_, n) in zip(codes, rows)]


def _product_counts(*, since=None, until=None, scope: DataScope = NATIONAL) -> list[dict]:
    rows = db.session.execute(
        _scans_in(since, until, scope=scope)
        .add_columns(ConsumerScan.product_id, Product.name,
                     sa.func.count(sa.distinct(ConsumerScan.app_user_id)).label("n"))
        .join(Product, Product.id == ConsumerScan.product_id)
        .group_by(ConsumerScan.product_id, Product.name).order_by(sa.desc("n"), ConsumerScan.product_id)).all()
    return [{"code": str(product_id), "name": name, "consumers": n} for product_id, name, n in rows]


def _frequency_counts(*, since=None, until=None, scope: DataScope = NATIONAL) -> list[dict]:
    per_user = (_scans_in(since, until, scope=scope)
                .add_columns(ConsumerScan.app_user_id, sa.func.count().label("scans"))
                .group_by(ConsumerScan.app_user_id).subquery())
    bucket = sa.case(*[(per_user.c.scans <= high, name) for name, _, high in FREQUENCY_BUCKETS if high],
                     else_=FREQUENCY_BUCKETS[-1][0])
    rows = dict(db.session.execute(
        sa.select(bucket.label("bucket"), sa.func.count()).group_by(bucket)).all())
    return [{"code": name, "name": f"{low}+ scans" if high is None else (
                f"{low} scan" if low == high else f"{low}-{high} scans"),
             "consumers": rows.get(name, 0)}
            for name, low, high in FREQUENCY_BUCKETS]


def segments(*, group: str, level: str = "province", since: datetime | None = None,
             until: datetime | None = None, scope: DataScope = NATIONAL) -> dict:
    """Distinct consumers per region (province or city), per product, or per scan-frequency bucket
    (counted from the scans inside the data scope)."""
    if group == "region":
        items = _region_counts(level=level, since=since, until=until, scope=scope)
    elif group == "product":
        items = _product_counts(since=since, until=until, scope=scope)
    else:
        items = _frequency_counts(since=since, until=until, scope=scope)
    consumers = db.session.scalar(
        _scans_in(since, until, scope=scope).add_columns(sa.func.count(sa.distinct(ConsumerScan.app_user_id))))
    return {"group": group, "level": level if group == "region" else None, "since": since, "until": until,
            "consumers": consumers or 0, "segments": items}


# --- the consumer's own view -------------------------------------------------------------------

def summary(*, app_user: AppUser) -> dict:
    """My scans, prizes, points and payouts at a glance."""
    scans = db.session.scalar(sa.select(sa.func.count()).where(ConsumerScan.app_user_id == app_user.id))
    won = _won(app_user.id)
    return {"scans": scans or 0,
            "prizes": {"count": won["draws"], "cash_fen": won["cash_fen"], "points": won["points"],
                       "coupons": won["coupons"], "gifts": won["gifts"]},
            "points_balance": points_balance(app_user.id),
            "payouts": _payouts(app_user.id)}


def _draw_source():
    return PayoutRef.sql_key(PayoutPurpose.PRIZE, Draw.id)


def my_prizes(*, app_user: AppUser):
    """My won draws, newest first, with the prize, its redemption and its payout (rows, for paging)."""
    return (sa.select(Draw.id.label("draw_id"), Draw.campaign_id, Campaign.name.label("campaign_name"),
                      Draw.prize_id, Prize.name.label("prize_name"), Draw.prize_kind, Draw.amount, Draw.drawn_at,
                      Redemption.id.label("redemption_id"), Redemption.status.label("redemption_status"),
                      Payout.id.label("payout_id"),
                      # the user sees the step a payout in doubt is on (Payout.user_status)
                      sa.case((Payout.status == PayoutStatus.IN_DOUBT, Payout.doubt_from),
                              else_=Payout.status).label("payout_status"))
            .join(Campaign, Campaign.id == Draw.campaign_id)
            .outerjoin(Prize, Prize.id == Draw.prize_id)
            .outerjoin(Redemption, Redemption.draw_id == Draw.id)
            .outerjoin(Payout, sa.and_(Payout.purpose == PayoutPurpose.PRIZE, Payout.source == _draw_source()))
            .where(Draw.app_user_id == app_user.id, Draw.outcome == DrawOutcome.WON)
            .order_by(Draw.drawn_at.desc(), Draw.id.desc()))


def my_payouts(*, app_user: AppUser):
    return sa.select(Payout).where(Payout.app_user_id == app_user.id).order_by(Payout.id.desc())

