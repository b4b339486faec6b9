"""Campaign reports: how each campaign converts and spends, over a period, by day and by region.

From the rollups: draws (claims, wins), prizes (cash and points awarded), participants (a consumer's
first draw of a day in the campaign: new the first time ever, else returning) and payouts (cash paid
and failed, cancelled included) carry the campaign; scans do not, so a campaign's scans are the
consumer scans of its products and lots in its regions on its days (a campaign with no product, lot
or region list takes them all), and its first scans the genuine first scans among them. Budget and
spend are the campaign's state now (``campaigns``, ``campaign_days``): the whole campaign's, so a
regional user is not shown them.

Costs are whole fen, rounded down: net cash (awarded less failed payouts, whose money went back to
the budget) per participant (consumer-days with a draw) and per genuine first scan; None when there
is nothing to divide by.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable

import sqlalchemy as sa

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign, CampaignDay
from app.extensions import db
from app.masterdata.rules import region_prefix
from app.platform.clock import china_day, day_start
from app.reports import service
from app.reports.service import Period, ReportParameterInvalid

REGION_LEVELS = ("province", "city")
DRAW_FACTS = ("draw", "prize", "participant", "payout.paid", "payout.failed")
SCAN_FACTS = ("scan", "scan.first")


def figures(found: Counter) -> dict:
    """A row's figures from its counted facts (keys as ``_count`` makes them)."""
    claims, wins = found["claims"], found["wins"]
    participants = found["new_participants"] + found["returning_participants"]
    net_cash = found["cash_awarded_fen"] - found["failed_fen"]
    return {
        "scans": found["scans"], "genuine_first_scans": found["genuine_first_scans"],
        "participants": participants, "new_participants": found["new_participants"],
        "returning_participants": found["returning_participants"],
        "claims": claims, "wins": wins, "win_rate": round(wins / claims, 4) if claims else None,
        "cash_awarded_fen": found["cash_awarded_fen"], "points_awarded": found["points_awarded"],
        "paid_fen": found["paid_fen"], "failed_fen": found["failed_fen"],
        "cost_per_participant_fen": net_cash // participants if participants else None,
        "cost_per_first_scan_fen": net_cash // found["genuine_first_scans"] if found["genuine_first_scans"] else None,
    }


def _count(found: Counter, row) -> None:
    """Add a rollup row (fact, variant, n, amount) to a row's counters."""
    n, amount = int(row.n or 0), int(row.amount or 0)
    if row.fact == "scan":
        found["scans"] += n
    elif row.fact == "scan.first" and row.variant == "genuine":
        found["genuine_first_scans"] += n
    elif row.fact == "draw":
        found["claims"] += n
        found["wins"] += n if row.variant == "won" else 0
    elif row.fact == "prize" and row.variant in ("cash", "points"):
        found["cash_awarded_fen" if row.variant == "cash" else "points_awarded"] += amount
    elif row.fact == "participant":
        found["new_participants" if row.variant == "new" else "returning_participants"] += n
    elif row.fact == "payout.paid":
        found["paid_fen"] += amount
    elif row.fact == "payout.failed":
        found["failed_fen"] += amount


# --- which scans are a campaign's ---------------------------------------------------------------

def _days(campaign: Campaign, period: Period) -> Period | None:
    """The days of the period the campaign ran on (None: none)."""
    first = max(period.first, china_day(campaign.starts_at))
    last = min(period.last, china_day(campaign.ends_at - timedelta(microseconds=1)))
    return Period(first, last) if first <= last else None


def _within(wanted: list[str] | None, scope: list[str] | None) -> list[str] | None:
    """The region prefixes inside both (None: everywhere)."""
    if wanted is None or scope is None:
        return scope if wanted is None else wanted
    return sorted({a if a.startswith(b) else b for a in wanted for b in scope if a.startswith(b) or b.startswith(a)})


def _scan_filter(campaign: Campaign, scope: list[str] | None) -> tuple[dict, list[str] | None]:
    equal = {}
    if campaign.product_ids:
        equal["product_id"] = list(campaign.product_ids)
    if campaign.lot_ids:
        equal["lot_id"] = list(campaign.lot_ids)
    wanted = [region_prefix(code) for code in campaign.region_codes] if campaign.region_codes else None
    return equal, _within(wanted, scope)


def _scan_rows(campaign: Campaign, period: Period, scope, by: tuple[str, ...]) -> list:
    days = _days(campaign, period)
    if days is None:
        return []
    equal, regions = _scan_filter(campaign, scope)
    return service.sums(SCAN_FACTS, days, by=("variant", *by), regions=regions, **equal)


# --- every campaign of a period -----------------------------------------------------------------

def _campaigns_of(period: Period, scope: list[str] | None) -> list[Campaign]:
    """Campaigns whose window meets the period (a regional user's: those that may run in their regions)."""
    found = db.session.scalars(sa.select(Campaign).where(
        Campaign.starts_at < day_start(period.last + timedelta(days=1)),
        Campaign.ends_at > day_start(period.first)).order_by(Campaign.starts_at, Campaign.id)).all()
    if scope is None:
        return list(found)
    return [c for c in found if not c.region_codes or _within([region_prefix(r) for r in c.region_codes], scope)]


def _budget(campaign: Campaign, period: Period, scope) -> dict:
    """The campaign's budget and spend now, and its spend on the period's days (whole country only)."""
    if scope is not None:
        return {"total_budget_fen": None, "daily_budget_fen": None, "spent_fen": None, "remaining_fen": None,
                "spent_in_period_fen": None}
    in_period = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CampaignDay.spent_fen), 0)).where(
        CampaignDay.campaign_id == campaign.id, CampaignDay.day.between(period.first, period.last)))
    return {"total_budget_fen": campaign.total_budget_fen, "daily_budget_fen": campaign.daily_budget_fen,
            "spent_fen": campaign.spent_fen, "remaining_fen": campaign.total_budget_fen - campaign.spent_fen,
            "spent_in_period_fen": int(in_period)}


def _brief(campaign: Campaign) -> dict:
    return {"campaign_id": campaign.id, "name": campaign.name, "status": campaign.status.value,
            "starts_at": campaign.starts_at, "ends_at": campaign.ends_at}


def campaign_rows(*, period: Period, regions: Iterable[str] | None = None) -> list[dict]:
    """One row per campaign whose window meets the period: its figures over the period, budget and spend."""
    scope = list(regions) if regions is not None else None
    chosen = _campaigns_of(period, scope)
    if not chosen:
        return []
    found: dict[int, Counter] = {c.id: Counter() for c in chosen}
    for row in service.sums(DRAW_FACTS, period, by=("campaign_id", "variant"), regions=scope,
                            campaign_id=list(found)):
        _count(found[row.campaign_id], row)
    scans: dict[tuple, Counter] = {}  # campaigns that take the same scans share one read
    for campaign in chosen:
        days = _days(campaign, period)
        equal, wanted = _scan_filter(campaign, scope)
        same = (days, tuple(sorted((k, tuple(v)) for k, v in equal.items())), tuple(wanted) if wanted else wanted)
        if same not in scans:
            scans[same] = Counter()
            for row in _scan_rows(campaign, period, scope, ()):
                _count(scans[same], row)
        found[campaign.id].update(scans[same])
    return [{**_brief(c), **figures(found[c.id]), **_budget(c, period, scope)} for c in chosen]


# --- one campaign by day and by region ----------------------------------------------------------

@dataclass
class CampaignReport:
    campaign: dict
    totals: dict
    by_day: list[dict] = field(default_factory=list)
    by_region: list[dict] = field(default_factory=list)
    level: str = "province"


def campaign_report(*, campaign_id: int, period: Period, by: str = "province",
                    regions: Iterable[str] | None = None) -> CampaignReport:
    """A campaign's figures over the period, in total, per day (with that day's budget and spend) and per
    province or city (with names and centroids for a map)."""
    if by not in REGION_LEVELS:
        raise ReportParameterInvalid(f"by is one of {', '.join(REGION_LEVELS)}.",
                                     errors={"by": [f"one of {', '.join(REGION_LEVELS)}"]})
    campaign = campaigns_service.get_campaign(campaign_id)
    scope = list(regions) if regions is not None else None
    draws = service.sums(DRAW_FACTS, period, by=("variant", "day"), regions=scope, campaign_id=campaign.id)
    scans = _scan_rows(campaign, period, scope, ("day",))
    total, days = Counter(), {day: Counter() for day in period.each_day()}
    for row in [*draws, *scans]:
        _count(total, row)
        _count(days[row.day], row)
    budgets = _daily_budgets(campaign, period) if scope is None else {}
    by_day = [{"day": day, **figures(found), **budgets.get(day, {"budget_fen": None, "spent_fen": None})}
              for day, found in days.items()]
    places: dict[str, Counter] = {}
    for row in [*service.sums(DRAW_FACTS, period, by=("variant", by), regions=scope, campaign_id=campaign.id),
                *_scan_rows(campaign, period, scope, (by,))]:
        _count(places.setdefault(getattr(row, by), Counter()), row)
    by_region = sorted(({**service.region_info(code), **figures(found)} for code, found in places.items()),
                       key=lambda row: (-row["participants"], -row["scans"], row["region_code"]))
    return CampaignReport(campaign={**_brief(campaign), **_budget(campaign, period, scope)},
                          totals=figures(total), by_day=by_day, by_region=by_region, level=by)


def _daily_budgets(campaign: Campaign, period: Period) -> dict[date, dict]:
    """Each day's budget in force and spend (campaign_days); a day without a row spent nothing."""
    rows = db.session.execute(sa.select(CampaignDay.day, CampaignDay.budget_fen, CampaignDay.spent_fen).where(
        CampaignDay.campaign_id == campaign.id, CampaignDay.day.between(period.first, period.last))).all()
    found = {day: {"budget_fen": budget, "spent_fen": spent} for day, budget, spent in rows}
    ran = _days(campaign, period)
    for day in period.each_day():
        if day not in found and ran is not None and ran.first <= day <= ran.last:
            found[day] = {"budget_fen": campaign.daily_budget_fen, "spent_fen": 0}
    return found
