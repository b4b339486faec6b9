"""Campaigns in the back office: create, change, list, and move through draft → active ↔ paused → ended.

Every change is audited with its before and after values (an active campaign's above all).
"""
from __future__ import annotations


import sqlalchemy as sa

from app.campaigns import claims, eligibility
from app.campaigns.errors import CampaignEnded, CampaignInvalid, CampaignNotFound, PrizesAwarded, TransitionRefused
from app.campaigns.models import PPM, Campaign, CampaignDay, CampaignStatus, Prize, PrizeKind
from app.db import certify_lock, utcnow
from app.extensions import db
from app.identity.service import Actor, apply_changes, audit, list_audit
from app.masterdata.models import Product, Region
from app.platform.filters import Filters
from app.production.models import ProductionLot

FIELDS = ("name", "starts_at", "ends_at", "total_budget_fen", "daily_budget_fen", "per_user_daily_limit",
          "per_user_total_limit", "hidden_code_required", "first_scan_only", "product_ids", "lot_ids",
          "region_codes", "blacklist")
PRIZE_FIELDS = ("kind", "name", "amount", "probability_ppm", "stock")
TRANSITIONS = {
    "activate": ({CampaignStatus.DRAFT, CampaignStatus.PAUSED}, CampaignStatus.ACTIVE),
    "pause": ({CampaignStatus.ACTIVE}, CampaignStatus.PAUSED),
    "end": ({CampaignStatus.DRAFT, CampaignStatus.ACTIVE, CampaignStatus.PAUSED}, CampaignStatus.ENDED),
}


def prizes_of(campaign_id: int) -> list[Prize]:
    query = sa.select(Prize).where(Prize.campaign_id == campaign_id).order_by(Prize.id)
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def create_campaign(*, actor: Actor, data: dict) -> Campaign:
    """A draft campaign with its prizes."""
    campaign = Campaign(status=CampaignStatus.DRAFT, spent_fen=0, per_user_daily_limit=1, per_user_total_limit=1,
                        hidden_code_required=False, first_scan_only=True, product_ids=[], lot_ids=[],
                        region_codes=[], blacklist=[], created_by=actor.name)
    apply_changes(campaign, _values(data))
    prizes = [_prize(values) for values in data.get("prizes", [])]
    _check(campaign, prizes)
    db.session.add(campaign)
    db.session.flush()
    for prize in prizes:
        prize.campaign_id = campaign.id
        db.session.add(prize)
    db.session.flush()
    eligibility.campaigns_changed(db.session())
    audit(actor, "campaign.create", campaign, {"status": [None, campaign.status.value],
                                               "total_budget_fen": [None, campaign.total_budget_fen],
                                               "prizes": [None, _prize_summary(prizes)]})
    return campaign


def get_campaign(campaign_id: int, *, lock: bool = False) -> Campaign:
    query = sa.select(Campaign).where(Campaign.id == campaign_id)
    if lock:  # a fresh, locked read: two writers of one campaign take turns
        query = query.with_for_update().execution_options(populate_existing=True)
    campaign = db.session.scalars(query).first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def update_campaign(*, actor: Actor, campaign_id: int, changes: dict) -> Campaign:
    """Change a campaign (not once ended); ``prizes`` replaces the prize list while none was awarded."""
    # Claims lock a campaign's day before the campaign: a change of the daily budget takes them in that order.
    db.session.execute(sa.select(CampaignDay.day).where(
        CampaignDay.campaign_id == campaign_id, CampaignDay.day >= claims.china_day(utcnow())).with_for_update())
    campaign = get_campaign(campaign_id, lock=True)
    if campaign.status == CampaignStatus.ENDED:
        raise CampaignEnded()
    with db.session.no_autoflush:  # the database's own checks would refuse a bad change with a 500
        changed = apply_changes(campaign, _values(changes))
        current = prizes_of(campaign.id)
        prizes = current
        if "prizes" in changes:
            if any(prize.awarded for prize in current):
                raise PrizesAwarded()
            prizes = [_prize(values) for values in changes["prizes"]]
            if _prize_summary(prizes) != _prize_summary(current):
                changed["prizes"] = [_prize_summary(current), _prize_summary(prizes)]
        _check(campaign, prizes)
    if "prizes" in changed:
        certify_lock(campaign)  # two prize sets written on two Galera nodes conflict, even with none before
        for prize in current:
            db.session.delete(prize)
        db.session.flush()
        for prize in prizes:
            prize.campaign_id = campaign.id
            db.session.add(prize)
    if "daily_budget_fen" in changed:
        _reset_daily_budgets(campaign)
    if changed:
        db.session.flush()
        eligibility.campaigns_changed(db.session())
        audit(actor, "campaign.update", campaign, {**changed, "status_at_change": [None, campaign.status.value]})
    return campaign


def change_status(*, actor: Actor, campaign_id: int, action: str) -> Campaign:
    """activate (draft or paused), pause (active), end (any but ended; final)."""
    campaign = get_campaign(campaign_id, lock=True)
    target = check_transition(campaign, action)
    before = campaign.status
    campaign.status = target
    db.session.flush()
    eligibility.campaigns_changed(db.session())
    audit(actor, f"campaign.{action}", campaign, {"status": [before.value, target.value]})
    return campaign


def history_of(campaign_id: int):
    """The audit records of one campaign, newest first (its readers see its history, not the whole audit log)."""
    get_campaign(campaign_id)  # an unknown campaign is a 404, not an empty history
    return list_audit(entity_type=Campaign.__tablename__, entity_id=campaign_id)


def check_transition(campaign: Campaign, action: str) -> CampaignStatus:
    """The status the action leads to, if the campaign may take it now (else TransitionRefused, CampaignInvalid)."""
    sources, target = TRANSITIONS[action]
    if campaign.status not in sources:
        raise TransitionRefused(
            f"A {campaign.status.value} campaign cannot {action}.",
            errors={"status": [campaign.status.value], "allowed_from": sorted(s.value for s in sources)})
    if target is CampaignStatus.ACTIVE:
        _check_can_run(campaign)
    return target


def pays_cash(campaign: Campaign) -> bool:
    return any(prize.kind is PrizeKind.CASH for prize in prizes_of(campaign.id))


_CAMPAIGN_FILTERS = Filters(
    status=lambda value: Campaign.status == CampaignStatus(value),
    q=lambda value: Campaign.name.contains(value, autoescape=True),
)


def list_campaigns(*, status=None, q=None):
    return _CAMPAIGN_FILTERS.apply(sa.select(Campaign).order_by(Campaign.id.desc()), status=status, q=q)


def _reset_daily_budgets(campaign: Campaign) -> None:
    """A new daily budget holds from today (China time) on; a day never ends up under what it spent."""
    budget = campaign.daily_budget_fen
    db.session.execute(sa.update(CampaignDay).where(
        CampaignDay.campaign_id == campaign.id, CampaignDay.day >= claims.china_day(utcnow()))
        .values(budget_fen=None if budget is None else sa.case(
            (CampaignDay.spent_fen > budget, CampaignDay.spent_fen), else_=budget)))


def _check_can_run(campaign: Campaign) -> None:
    errors = {}
    if campaign.ends_at <= utcnow():
        errors["ends_at"] = ["The campaign's window is over; move ends_at to activate it."]
    prizes = prizes_of(campaign.id)
    if not prizes or not any(prize.probability_ppm for prize in prizes):
        errors["prizes"] = ["A campaign needs a prize with odds above zero to run."]
    if errors:
        raise CampaignInvalid(errors=errors)


# --- validation ---------------------------------------------------------------------------------

def _values(values: dict) -> dict:
    """A campaign's fields among ``values``; lists without their duplicates (they say nothing more)."""
    return {name: list(dict.fromkeys(values[name])) if isinstance(values[name], list) else values[name]
            for name in FIELDS if name in values}


def _prize(values: dict) -> Prize:
    return Prize(kind=PrizeKind(values["kind"]), name=values["name"], amount=values.get("amount", 0),
                 probability_ppm=values["probability_ppm"], stock=values.get("stock"), awarded=0)


def _prize_summary(prizes: list[Prize]) -> list[dict]:
    return [{"kind": prize.kind.value, "name": prize.name, "amount": prize.amount,
             "probability_ppm": prize.probability_ppm, "stock": prize.stock} for prize in prizes]


def _check(campaign: Campaign, prizes: list[Prize]) -> None:
    errors: dict[str, list[str]] = {}
    if not campaign.name:
        errors["name"] = ["A campaign has a name."]
    if campaign.starts_at is None or campaign.ends_at is None or campaign.ends_at <= campaign.starts_at:
        errors["ends_at"] = ["A campaign ends after it starts."]
    total, daily = campaign.total_budget_fen, campaign.daily_budget_fen
    if total is None or total < 0:
        errors["total_budget_fen"] = ["A budget is a whole number of fen, zero or more."]
    elif total < (campaign.spent_fen or 0):
        errors["total_budget_fen"] = [f"The campaign has spent {campaign.spent_fen} fen already."]
    if daily is not None and (daily < 0 or (total is not None and daily > total)):
        errors["daily_budget_fen"] = ["A daily budget is at most the total budget."]
    for name in ("per_user_daily_limit", "per_user_total_limit"):
        if getattr(campaign, name) is None or getattr(campaign, name) < 1:
            errors[name] = ["A limit is at least 1."]
    if "per_user_daily_limit" not in errors and "per_user_total_limit" not in errors \
            and campaign.per_user_daily_limit > campaign.per_user_total_limit:
        errors["per_user_daily_limit"] = ["A daily limit is at most the total limit."]
    _check_prizes(campaign, prizes, errors)
    _check_references(campaign, errors)
    if errors:
        raise CampaignInvalid(errors=errors)


def _check_prizes(campaign: Campaign, prizes: list[Prize], errors: dict) -> None:
    problems = []
    for index, prize in enumerate(prizes):
        if not 0 <= prize.probability_ppm <= PPM:
            problems.append(f"Prize {index}: a probability is 0 to {PPM} parts per million.")
        if prize.amount < 0 or (prize.kind in (PrizeKind.CASH, PrizeKind.POINTS) and prize.amount < 1):
            problems.append(f"Prize {index}: a cash or points prize has a positive amount.")
        if prize.stock is not None and prize.stock < 0:
            problems.append(f"Prize {index}: stock is zero or more (none: unlimited).")
    if problems:
        errors["prizes"] = problems
    odds = sum(prize.probability_ppm for prize in prizes)
    if odds > PPM:
        errors["probability_ppm"] = [f"The prizes' probabilities sum to {odds} ppm; at most {PPM}."]
    largest = max((prize.amount for prize in prizes if prize.kind == PrizeKind.CASH), default=0)
    if largest and campaign.total_budget_fen is not None and campaign.total_budget_fen < largest:
        errors.setdefault("total_budget_fen", []).append(
            f"The budget cannot pay the largest cash prize ({largest} fen).")
    if largest and campaign.daily_budget_fen is not None and campaign.daily_budget_fen < largest:
        errors.setdefault("daily_budget_fen", []).append(
            f"The daily budget cannot pay the largest cash prize ({largest} fen).")


def _check_references(campaign: Campaign, errors: dict) -> None:
    for name, column in (("product_ids", Product.id), ("lot_ids", ProductionLot.id),
                         ("region_codes", Region.code)):
        wanted = set(getattr(campaign, name) or [])
        if wanted:
            found = set(db.session.scalars(sa.select(column).where(column.in_(wanted))))
            missing = sorted(wanted - found)
            if missing:
                errors[name] = [f"Unknown: {', '.join(map(str, missing))}."]
