"""The reports: sums of the daily rollups over a period, by the dimensions a report asks for.

Every report reads ``report_daily`` (and ``report_consumer_days``), never the raw logs, and answers
with ``as_of``: the rollups are written with the facts they count, so they are current as of the
moment read, except consumer scans still in the scan log (``scans_pending`` says how many).
A regional user's reports count only rows whose region is in their scope (``regions``: adcode
prefixes; None: the whole country); facts without a region (a dealer's) are not theirs. Production
figures go by the region of the lot's factory (app.reports.production).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, NamedTuple

import sqlalchemy as sa

from app import faults
from app.consumers import scan_worker
from app.db import mysql_like, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.masterdata import region_cache
from app.payouts.models import Payout, PayoutStatus
from app.platform.clock import china_day
from app.reports import rollups
from app.reports.models import ConsumerDay, DailyFact

MAX_DAYS = 366
log = logging.getLogger(__name__)


class ReportParameterInvalid(ValidationFailed):
    code = "report_parameter_invalid"
    message = "A report parameter is not valid."


@dataclass(frozen=True)
class Period:
    """China days first..last, both included."""

    first: date
    last: date

    @classmethod
    def of(cls, first: date | None, last: date | None, *, default_days: int = 30) -> "Period":
        """A period from optional ends (default: the last ``default_days`` days to today), checked."""
        today = china_day(utcnow())
        last = last or today
        first = first or last - timedelta(days=default_days - 1)
        if first > last:
            raise ReportParameterInvalid("The period ends before it starts.", errors={"from": ["after 'to'"]})
        if (last - first).days + 1 > MAX_DAYS:
            raise ReportParameterInvalid(f"A period is at most {MAX_DAYS} days.",
                                         errors={"to": [f"more than {MAX_DAYS} days after 'from'"]})
        return cls(first, last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def each_day(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]


def as_of() -> datetime:
    return utcnow()


def scans_pending() -> int:
    """Consumer scans logged but not yet written (their figures come when the scan-log worker writes them)."""
    try:
        return scan_worker.pending()
    except Exception as error:  # noqa: BLE001 - told apart below: only an outage is answered
        if not faults.is_outage(error):
            raise
        log.warning("reports: Redis is away, scans pending unknown (%s)", error)
        return -1  # the reports still answer from the database


# --- reading the rollups ------------------------------------------------------------------------

REGION_LEVELS = {"province": 2, "city": 4, "district": 6}
GROUPS = ("day", "product_id", "lot_id", "place_kind", "place_id", "campaign_id", "variant", "fact")


def region_condition(column, regions: Iterable[str] | None):
    """Rows whose region is inside one of the prefixes (None: every row)."""
    if regions is None:
        return sa.true()
    prefixes = [p for p in regions if p]
    if not prefixes:
        return sa.false()
    return sa.or_(*(column.like(f"{prefix}%") for prefix in prefixes))


def group_column(name: str):
    """A rollup column to group by, labelled: a dimension, or a region's province / city / district prefix."""
    if name in REGION_LEVELS:
        return sa.func.substr(DailyFact.region_code, 1, REGION_LEVELS[name]).label(name)
    if name == "region":
        return DailyFact.region_code.label("region")
    return getattr(DailyFact, name).label(name)


COARSE_DIMENSIONS = {"day", "place_kind", "variant", "province"}
PRODUCT_DIMENSIONS = {"day", "product_id", "variant"}


def sums(facts: Iterable[str], period: Period, *, by: Iterable[str] = (), regions: Iterable[str] | None = None,
         **equal) -> list[sa.Row]:
    """SUM(n) AS n, SUM(amount) AS amount of the facts over the period, grouped by ``by`` (rollup
    dimensions, or province / city / district / region), for rows whose dimensions equal ``equal``.

    When nothing finer than day, place kind, variant and province is asked (nor a scope finer than a
    province), the facts' coarse rows answer (rollups.coarse_key): a few rows a day; by product (or for
    some products) and nothing else but day and variant, whole country, their product rows
    (rollups.product_key)."""
    by, facts = list(by), list(facts)
    asked = set(by) | set(equal)
    coarse = asked <= COARSE_DIMENSIONS and all(len(p) <= 2 for p in (regions or ()))
    by_product = not coarse and regions is None and asked <= PRODUCT_DIMENSIONS
    groups = [group_column(name) for name in by]
    fact = DailyFact.fact
    if coarse or by_product:
        facts = [name + (rollups.COARSE if coarse else rollups.BY_PRODUCT) for name in facts]
        fact = sa.func.substr(DailyFact.fact, 1, sa.func.length(DailyFact.fact) - 1)
    groups.insert(0, fact.label("fact"))
    query = (sa.select(*groups, sa.func.sum(DailyFact.n).label("n"), sa.func.sum(DailyFact.amount).label("amount"))
             .where(DailyFact.fact.in_(facts), DailyFact.day.between(period.first, period.last),
                    region_condition(DailyFact.region_code, regions))
             .group_by(*groups))
    for name, value in equal.items():
        column = getattr(DailyFact, name)
        query = query.where(column.in_(value) if isinstance(value, (list, tuple, set)) else column == value)
    if any(name in REGION_LEVELS or name == "region" for name in by):
        query = query.where(DailyFact.region_code != "")
    return db.session.execute(query).all()


def distinct_consumers(period: Period, *, regions: Iterable[str] | None = None, by_day: bool = False):
    """Consumers who scanned in the period (a consumer counts once), or per day.

    For the whole country, from the consumer-day facts: a consumer-day is its consumer's first in the
    period when its gap goes back before the period's first day. A regional user's count reads the
    consumer-days of their regions (a consumer counts where they scanned first each day)."""
    if regions is None:
        rows = sums([rollups.CONSUMER_DAY], period, by=("day", "variant"))
        if by_day:
            daily: dict[date, int] = defaultdict(int)
            for row in rows:
                daily[row.day] += int(row.n)
            return dict(daily)
        return sum(int(row.n) for row in rows
                   if row.variant == "new" or int(row.variant) > (row.day - period.first).days)
    where = (ConsumerDay.day.between(period.first, period.last), region_condition(ConsumerDay.region_code, regions))
    if by_day:
        return dict(db.session.execute(sa.select(ConsumerDay.day, sa.func.count()).where(*where)
                                       .group_by(ConsumerDay.day)).all())
    return db.session.scalar(sa.select(sa.func.count(sa.distinct(ConsumerDay.app_user_id))).where(*where))


def consumers_by_province(period: Period, *, regions: Iterable[str] | None = None) -> dict[str, int]:
    """{province prefix: consumers} of the period, each consumer in the province of their first day in
    it, summed in SQL from the provinces' consumer-day facts: a consumer-day is its consumer's first in
    the period when its gap ("001".."366", "new") reaches back before the period's first day; as text of
    three digits the comparison is the same, and "new" is after every number."""
    fine = rollups.key(rollups.CONSUMER_PROVINCE_DAY, period.first)
    first_day = (sa.func.lpad(sa.func.datediff(DailyFact.day, period.first), 3, "0") if mysql_like() else
                 sa.func.printf("%03d", sa.func.julianday(DailyFact.day) - sa.func.julianday(period.first)))
    province = sa.func.substr(DailyFact.region_code, 1, 2)
    query = (sa.select(province, sa.func.sum(sa.case((DailyFact.variant > first_day, DailyFact.n), else_=0)))
             .where(DailyFact.fact == fine.fact, DailyFact.day.between(period.first, period.last),
                    DailyFact.region_code != "", region_condition(DailyFact.region_code, regions))
             .group_by(province))
    return {code: int(count or 0) for code, count in db.session.execute(query)}


# --- overview -----------------------------------------------------------------------------------

class Kpi(NamedTuple):
    """A figure of the overview: a fact's n or amount, of some variants and place kinds."""

    fact: str
    measure: str = "n"  # or "amount"
    variants: tuple[str, ...] = ()
    place_kinds: tuple[str, ...] = ()


KPIS: dict[str, Kpi] = {
    "codes_issued": Kpi("codes.issued", "amount"),
    "items_commissioned": Kpi("unit.commissioned", variants=("item",)),
    "items_packed": Kpi("unit.packed", variants=("item",)),
    "items_scrapped": Kpi("unit.scrapped", variants=("item",)),
    "warehouse_in_items": Kpi("stock.in", "amount", place_kinds=("warehouse",)),
    "shipped_by_brand_items": Kpi("stock.out", "amount", place_kinds=("warehouse",)),
    "shipped_by_dealers_items": Kpi("stock.out", "amount", place_kinds=("dealer",)),
    "received_by_stores_items": Kpi("stock.in", "amount", place_kinds=("store",)),
    "receipt_discrepancy_items": Kpi("receipt.missing", "amount"),
    "sold_items": Kpi("unit.sold"),
    "consumer_scans": Kpi("scan"),
    "first_scans": Kpi("scan.first"),
    "genuine_first_scans": Kpi("scan.first", variants=("genuine",)),
    "suspected_scans": Kpi("scan", variants=("suspected_copy", "forged", "not_commissioned")),
    "claims": Kpi("draw"),
    "wins": Kpi("draw", variants=("won",)),
    "cash_won_fen": Kpi("prize", "amount", variants=("cash",)),
    "points_won": Kpi("prize", "amount", variants=("points",)),
    "participants": Kpi("participant"),
    "new_participants": Kpi("participant", variants=("new",)),
    "payouts_paid_fen": Kpi("payout.paid", "amount"),
    "payouts_failed_fen": Kpi("payout.failed", "amount"),
    "points_earned": Kpi("points.earned", "amount"),
    "points_spent": Kpi("points.spent", "amount"),
    "diversion_alerts": Kpi("alert.diversion"),
    "code_leak_alerts": Kpi("alert.leak"),
}


def _kpi_values(rows: Iterable, kpis: dict[str, Kpi]) -> dict[str, dict[date, int]]:
    """{kpi: {day: value}} from rows of (fact, variant, place_kind, day, n, amount)."""
    values: dict[str, dict[date, int]] = {name: defaultdict(int) for name in kpis}
    for row in rows:
        for name, kpi in kpis.items():
            if row.fact == kpi.fact and (not kpi.variants or row.variant in kpi.variants) \
                    and (not kpi.place_kinds or row.place_kind in kpi.place_kinds):
                values[name][row.day] += int(getattr(row, kpi.measure) or 0)
    return values


@dataclass
class Window:
    days: int
    period: Period
    values: dict[str, int]
    previous: dict[str, int]


@dataclass
class Overview:
    as_of: datetime
    scans_pending: int
    windows: list[Window]
    trend: list[dict]  # one per day of the longest window: {day, kpi: value, ...}
    payouts_in_doubt: dict = field(default_factory=dict)


def overview(*, regions: Iterable[str] | None = None, today: date | None = None) -> Overview:
    """Every KPI for today, 7 and 30 days, each beside the period before it; daily trends over 30 days."""
    regions = list(regions) if regions is not None else None
    today = today or china_day(utcnow())
    longest = Period(today - timedelta(days=29), today)
    span = Period(longest.previous().first, today)
    rows = sums({kpi.fact for kpi in KPIS.values()}, span, by=("variant", "place_kind", "day"), regions=regions)
    values = _kpi_values(rows, KPIS)
    daily_consumers = distinct_consumers(span, regions=regions, by_day=True)
    windows = []
    for days in (1, 7, 30):
        period = Period(today - timedelta(days=days - 1), today)
        before = period.previous()
        def total(p: Period) -> dict[str, int]:
            found = {name: sum(v for d, v in by_day.items() if p.first <= d <= p.last) for name, by_day in values.items()}
            found["consumers"] = distinct_consumers(p, regions=regions)
            return found
        windows.append(Window(days=days, period=period, values=total(period), previous=total(before)))
    trend = [{"day": day, **{name: values[name].get(day, 0) for name in KPIS},
              "consumers": daily_consumers.get(day, 0)} for day in longest.each_day()]
    return Overview(as_of=as_of(), scans_pending=scans_pending(), windows=windows, trend=trend,
                    payouts_in_doubt=_payouts_in_doubt(regions))


def _payouts_in_doubt(regions) -> dict:
    """Payouts in doubt now (a state, not a daily fact): how many and how much."""
    if regions is not None:
        return {}  # a payout has no region of its own: the whole-country figure is not a regional user's
    count, fen = db.session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Payout.amount_fen), 0))
                                    .where(Payout.status == PayoutStatus.IN_DOUBT)).one()
    return {"count": count, "amount_fen": int(fen)}


# --- regions for maps ---------------------------------------------------------------------------

def region_info(prefix: str) -> dict:
    """Name and centroid of a province / city / district given by its adcode prefix."""
    code = prefix.ljust(12, "0")
    row = region_cache.table().get(code)
    return {"region_code": code, "region_name": row.name if row else None,
            "longitude": row.longitude if row else None, "latitude": row.latitude if row else None}
