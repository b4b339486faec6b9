"""Rankings of stores and clerks by sale scans in a period and a region, with the asker's own rank."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts.models import AppUser, MembershipStatus, StoreMembership
from app.extensions import db
from app.masterdata.models import Region, RegionLevel, Store
from app.retail.errors import PeriodInvalid, RegionUnknown
from app.retail.models import RewardKind, SaleScan

RANKING_MAX = 100
# Region levels to the length of the adcode prefix their descendants share.
PREFIX_LENGTH = {RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.DISTRICT: 6}


@dataclass(slots=True)
class RankRow:
    rank: int
    id: int
    name: str
    sales: int
    points: int
    cash: int
    store_id: int | None = None


@dataclass(slots=True)
class Ranking:
    top: list[RankRow]
    me: RankRow | None


def region_prefix(region_code: str | None) -> str | None:
    """The adcode prefix every store inside this region shares (None: everywhere)."""
    if not region_code:
        return None
    region = db.session.get(Region, region_code)
    if region is None:
        raise RegionUnknown()
    return region.code[:PREFIX_LENGTH[region.level]]


def _scans_in(since, until, prefix):
    conditions = []
    if since is not None:
        conditions.append(SaleScan.scanned_at >= since)
    if until is not None:
        conditions.append(SaleScan.scanned_at < until)
    if prefix:
        conditions.append(SaleScan.region_code.startswith(prefix, autoescape=True))
    return conditions


def _reward_sum(kind: RewardKind):
    return sa.func.coalesce(sa.func.sum(sa.case(
        (sa.and_(SaleScan.reward_kind == kind, SaleScan.withheld.is_(False)), SaleScan.reward_amount),
        else_=0)), 0)


def _ranking(key, *, since, until, region_code, top, mine, names) -> Ranking:
    if since is not None and until is not None and until <= since:
        raise PeriodInvalid()
    conditions = _scans_in(since, until, region_prefix(region_code))
    sales = sa.func.count(SaleScan.id)
    grouped = (sa.select(key.label("k"), sales.label("sales"), _reward_sum(RewardKind.POINTS).label("points"),
                         _reward_sum(RewardKind.CASH).label("cash"))
               .where(*conditions).group_by(key))
    rows = db.session.execute(grouped.order_by(sales.desc(), key).limit(min(max(top, 1), RANKING_MAX))).all()
    counts = grouped.subquery()

    def rank_of(count: int) -> int:
        return 1 + db.session.scalar(sa.select(sa.func.count()).select_from(counts).where(counts.c.sales > count))

    label = names([r.k for r in rows] + ([mine] if mine is not None else []))
    ranked, previous, rank = [], None, 0
    for position, row in enumerate(rows, start=1):
        if row.sales != previous:
            rank, previous = position, row.sales
        ranked.append(_row(rank, row, label))
    me = None
    if mine is not None:
        own = db.session.execute(grouped.where(key == mine)).first()
        if own is not None:
            me = _row(rank_of(own.sales), own, label)
        else:
            me = _row(rank_of(0), None, label, key_value=mine)
    return Ranking(ranked, me)


def _row(rank, row, label, key_value=None) -> RankRow:
    k = row.k if row is not None else key_value
    name, store_id = label.get(k, ("", None))
    return RankRow(rank=rank, id=k, name=name, sales=row.sales if row else 0, points=row.points if row else 0,
                   cash=row.cash if row else 0, store_id=store_id)


def store_ranking(*, since=None, until=None, region_code=None, top: int = 10, my_store_id=None) -> Ranking:
    """Stores by sale scans in the period and region (most first), with my store's rank."""
    def names(ids):
        return {i: (n, i) for i, n in db.session.execute(sa.select(Store.id, Store.name).where(Store.id.in_(ids)))}
    return _ranking(SaleScan.store_id, since=since, until=until, region_code=region_code, top=top,
                    mine=my_store_id, names=names)


def clerk_ranking(*, since=None, until=None, region_code=None, top: int = 10, my_user_id=None) -> Ranking:
    """Clerks by sale scans in the period and region (most first), with my rank."""
    def names(ids):
        found = {i: (n, None) for i, n in db.session.execute(
            sa.select(AppUser.id, AppUser.nickname).where(AppUser.id.in_(ids)))}
        for user_id, store_id in db.session.execute(sa.select(StoreMembership.app_user_id, StoreMembership.store_id)
                                                    .where(StoreMembership.app_user_id.in_(ids),
                                                           StoreMembership.status == MembershipStatus.APPROVED)):
            found[user_id] = (found.get(user_id, ("", None))[0], store_id)
        return found
    return _ranking(SaleScan.app_user_id, since=since, until=until, region_code=region_code, top=top,
                    mine=my_user_id, names=names)
