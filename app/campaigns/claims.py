"""Claims: a consumer's scan enters a campaign's draw — one draw per unit, ever, whoever claims first.

Decisions (docs/api.md, "Claims"):

- The unit's one draw is the unique ``serial`` of ``campaign_draws``: two claims of one unit at once
  meet on that key; the second waits for the first and answers its draw (the same consumer) or 409
  ``unit_already_drawn`` (another consumer).
- Limits per user (daily, total) are counters in ``campaign_entries`` raised by a guarded UPDATE
  (``draws < limit``): a claim over a limit is refused whole and leaves the unit drawable.
- The prize is chosen by a uniform random number in 0..999,999 falling in a prize's band of the odds
  in force (prizes in id order); both are kept with the draw. A band whose prize cannot be given (out
  of stock, budget gone) is not drawn again: the draw says why it won nothing.
- Money and stock: Redis answers first (app/campaigns/budget.py); a "yes" is then taken in the
  database by guarded UPDATEs of the campaign day, the campaign and the prize (in that order, the
  order money returns in too), behind CHECKs that refuse overspending whatever Redis says.
- Cash → a payout queued in the same transaction (source "draw:<id>"), held for review when a velocity
  rule fires; points → the points ledger; a coupon or a gift → a redemption record.
- A payout that fails or is cancelled returns its money (and the prize) to the campaign
  (``return_prize``, called through the prize's settlement handler, app/campaigns/handlers.py, by the
  payout queue inside its transaction).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.campaigns import budget
from app.campaigns.eligibility import _active_campaigns, drawable, refusal
from app.campaigns.errors import (
    CampaignNotFound, ClaimWindowPassed, ConsumerBlocked, DrawNotFound, LimitReached, NoCampaign, ScanNotEligible,
    UnitAlreadyDrawn,
)
from app.campaigns.models import (
    PPM, Campaign, CampaignDay, ClaimVelocity, Draw, DrawOutcome, Entries, Prize, PrizeKind, Redemption,
    RedemptionStatus,
)
from app.consumers import blacklist, scan_writer
from app.consumers.counters import rate_limit
from app.consumers.models import ConsumerScan
from app.db import insert_once, upsert, utcnow
from app.extensions import db
from app.payouts import queue
from app.payouts.models import PayoutPurpose, PayoutRef
from app.platform.clock import china_day
from app.platform.settings import setting
from app.points import ledger
from app.reports import facts as report_facts, rollups


# --- the claim ------------------------------------------------------------------------------------

@dataclass
class ClaimResult:
    draw: Draw
    repeat: bool = False  # the same claim answered again
    payout_id: int | None = None
    redemption_id: int | None = None

    @property
    def prize(self) -> dict | None:
        """What the draw won ({kind, name, amount}), named as in the odds it was drawn with."""
        draw = self.draw
        if draw.outcome is not DrawOutcome.WON:
            return None
        band = next(band for band in draw.odds if band["prize_id"] == draw.prize_id)
        return {"kind": draw.prize_kind, "name": band.get("name", ""), "amount": draw.amount}

    @property
    def points(self) -> int | None:
        """Points added to the balance by this draw."""
        won = self.draw.outcome is DrawOutcome.WON and self.draw.prize_kind is PrizeKind.POINTS
        return self.draw.amount if won else None


def limit_rate(*, user: AppUser, ip: str | None) -> None:
    """Claims per minute per openid and per IP (429 rate_limited); counted once per request, before any retry."""
    rate_limit(f"consumer:claims:user:{user.openid}", setting("CLAIMS_PER_MINUTE_USER"))
    if ip:
        rate_limit(f"consumer:claims:ip:{ip}", setting("CLAIMS_PER_MINUTE_IP"))


def claim(*, user: AppUser, scan_id: int, campaign_id: int | None = None, now: datetime | None = None) -> ClaimResult:
    """Draw for the unit of the user's scan, once ever; take the prize's money and stock; queue what it wins."""
    now = now or utcnow()
    scan = scan_writer.own_scan(scan_id, user)
    if scan.serial is None or not drawable(scan):
        raise ScanNotEligible(errors={"reason": f"verdict_{scan.verdict.value}"})
    earlier = _draw_of(scan.serial)
    if earlier is not None:
        return _repeat(earlier, user)
    # One claim per consumer at a time (their velocity row, read later, then holds every earlier claim).
    db.session.execute(sa.select(AppUser.id).where(AppUser.id == user.id).with_for_update())
    if blacklist.is_blocked(user.openid):
        raise ConsumerBlocked()
    if now - scan.scanned_at > timedelta(hours=setting("CLAIM_WINDOW_HOURS")):
        raise ClaimWindowPassed()
    campaign = _chosen_campaign(scan, user, campaign_id, now)
    prizes = list(db.session.scalars(sa.select(Prize).where(Prize.campaign_id == campaign.id).order_by(Prize.id)))
    odds, start = [], 0
    for prize in prizes:
        odds.append({"prize_id": prize.id, "kind": prize.kind.value, "name": prize.name, "amount": prize.amount,
                     "probability_ppm": prize.probability_ppm, "from": start, "to": start + prize.probability_ppm})
        start += prize.probability_ppm
    number = secrets.randbelow(PPM)
    hit = next((band for band in odds if band["from"] <= number < band["to"]), None)
    day = china_day(now)
    draw = Draw(serial=scan.serial, scan_id=scan.id, campaign_id=campaign.id, app_user_id=user.id, random_ppm=number,
                odds=odds, outcome=DrawOutcome.LOST, prize_id=hit["prize_id"] if hit else None,
                prize_kind=PrizeKind(hit["kind"]) if hit else None, amount=0, day=day,
                region_code=scan.region_code, drawn_at=now)
    if not insert_once(draw):  # a concurrent claim of the same unit committed first: read it past our snapshot
        return _repeat(_draw_of(scan.serial, lock=True), user)
    entries = _count_entry(campaign, user, day)
    velocity = _velocity_of(user.id)
    _note_claim(velocity, draw, now)
    result = ClaimResult(draw=draw)
    if hit is not None:
        prize = next(p for p in prizes if p.id == hit["prize_id"])
        draw.outcome = _take(campaign, prize, day)
        if draw.outcome is DrawOutcome.WON:
            draw.amount = prize.amount
            _deliver(result, campaign, prize, user, velocity, now)
    rollups.add_all(report_facts.draw(draw, product_id=scan.product_id, first_in_campaign=entries["total"] == 1,
                                      first_of_day=entries["daily"] == 1))
    db.session.flush()
    return result


def _draw_of(serial: int, *, lock: bool = False) -> Draw | None:
    query = sa.select(Draw).where(Draw.serial == serial).execution_options(populate_existing=True)
    return db.session.scalar(query.with_for_update(read=True) if lock else query)


def _repeat(draw: Draw, user: AppUser) -> ClaimResult:
    if draw.app_user_id != user.id:
        raise UnitAlreadyDrawn()
    payout = queue.payout_by_source(PayoutRef(PayoutPurpose.PRIZE, draw.id))
    redemption = db.session.scalar(sa.select(Redemption.id).where(Redemption.draw_id == draw.id))
    return ClaimResult(draw=draw, repeat=True, payout_id=payout.id if payout else None, redemption_id=redemption)


def _chosen_campaign(scan: ConsumerScan, user: AppUser, campaign_id: int | None, now: datetime) -> Campaign:
    if campaign_id is not None:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None:
            raise CampaignNotFound()
        reason = refusal(campaign, scan, user, now)
        if reason:
            raise ScanNotEligible(errors={"reason": reason, "campaign_id": campaign.id})
        return campaign
    for campaign in _active_campaigns(now):
        if refusal(campaign, scan, user, now) is None:
            return campaign
    raise NoCampaign()


def _upsert(model, values: dict, keys: list[str], column: str, step) -> None:
    """INSERT the row, or add ``step`` to ``column`` of the existing one (0: only lock it)."""
    db.session.execute(upsert(model.__table__, keys, lambda table, _: {column: table.c[column] + step}), values)


def _count_entry(campaign: Campaign, user: AppUser, day: date) -> dict[str, int]:
    """One more draw for the user in the campaign, within the total and daily limits (refused whole):
    the user's draws in it so far, {"total": n, "daily": n}."""
    counted = {}
    for period, limit, which in (("total", campaign.per_user_total_limit, "total"),
                                 (day.isoformat(), campaign.per_user_daily_limit, "daily")):
        _upsert(Entries, {"campaign_id": campaign.id, "app_user_id": user.id, "period": period, "draws": 1},
                ["campaign_id", "app_user_id", "period"], "draws", 1)
        draws = db.session.scalar(sa.select(Entries.draws).where(
            Entries.campaign_id == campaign.id, Entries.app_user_id == user.id, Entries.period == period)
            .with_for_update())
        if draws > limit:  # the transaction rolls back, and the count with it
            raise LimitReached(f"You have had your {limit} draw(s) in this campaign{' today' if which == 'daily' else ''}.",
                               errors={"limit": which, "draws": limit})
        counted[which] = draws
    return counted


def _money_request(campaign: Campaign, prize: Prize, day: date) -> budget.Request:
    return budget.Request(campaign_id=campaign.id, prize_id=prize.id, day=day,
                          amount_fen=prize.amount if prize.kind is PrizeKind.CASH else 0,
                          total_budget_fen=campaign.total_budget_fen, day_budget_fen=campaign.daily_budget_fen,
                          stock=prize.stock)


def _take(campaign: Campaign, prize: Prize, day: date) -> DrawOutcome:
    """Take the prize's stock (and money, for cash): Redis first, then the database, which decides."""
    request = _money_request(campaign, prize, day)
    answer = budget.take(request, seed=lambda: _spent(campaign.id, prize.id, day))
    if answer is budget.Answer.STOCK:
        return DrawOutcome.OUT_OF_STOCK
    if answer in (budget.Answer.BUDGET, budget.Answer.DAY_BUDGET):
        return DrawOutcome.BUDGET_EXHAUSTED
    if answer is budget.Answer.TAKEN:
        budget.hold_until_commit(db.session(), request)  # a rollback, whatever its cause, hands it back
    outcome = _take_in_database(campaign, prize, day, request.amount_fen)
    if outcome is not DrawOutcome.WON and answer is budget.Answer.TAKEN:
        budget.hand_back(db.session(), request)  # Redis said yes, the database no: the mirror is put right
    return outcome


def _spent(campaign_id: int, prize_id: int, day: date) -> tuple[int, int, int]:
    spent = db.session.scalar(sa.select(Campaign.spent_fen).where(Campaign.id == campaign_id)
                              .execution_options(populate_existing=True))
    day_spent = db.session.scalar(sa.select(CampaignDay.spent_fen).where(
        CampaignDay.campaign_id == campaign_id, CampaignDay.day == day)) or 0
    awarded = db.session.scalar(sa.select(Prize.awarded).where(Prize.id == prize_id)
                                .execution_options(populate_existing=True))
    return spent, day_spent, awarded


def _take_in_database(campaign: Campaign, prize: Prize, day: date, amount: int) -> DrawOutcome:
    """Guarded UPDATEs in lock order (day, campaign, prize); a refusal undoes what this draw took before it."""
    undo = []
    if amount:
        _upsert(CampaignDay, {"campaign_id": campaign.id, "day": day, "budget_fen": campaign.daily_budget_fen,
                              "spent_fen": 0}, ["campaign_id", "day"], "spent_fen", 0)
        taken = db.session.execute(sa.update(CampaignDay).where(
            CampaignDay.campaign_id == campaign.id, CampaignDay.day == day,
            sa.or_(CampaignDay.budget_fen.is_(None), CampaignDay.spent_fen + amount <= CampaignDay.budget_fen))
            .values(spent_fen=CampaignDay.spent_fen + amount)).rowcount
        if taken != 1:
            return DrawOutcome.BUDGET_EXHAUSTED
        undo.append(sa.update(CampaignDay).where(CampaignDay.campaign_id == campaign.id, CampaignDay.day == day)
                    .values(spent_fen=CampaignDay.spent_fen - amount))
        taken = db.session.execute(sa.update(Campaign).where(
            Campaign.id == campaign.id, Campaign.spent_fen + amount <= Campaign.total_budget_fen)
            .values(spent_fen=Campaign.spent_fen + amount)).rowcount
        if taken != 1:
            _undo(undo)
            return DrawOutcome.BUDGET_EXHAUSTED
        undo.append(sa.update(Campaign).where(Campaign.id == campaign.id)
                    .values(spent_fen=Campaign.spent_fen - amount))
    taken = db.session.execute(sa.update(Prize).where(
        Prize.id == prize.id, sa.or_(Prize.stock.is_(None), Prize.awarded + 1 <= Prize.stock))
        .values(awarded=Prize.awarded + 1)).rowcount
    if taken != 1:
        _undo(undo)
        return DrawOutcome.OUT_OF_STOCK
    return DrawOutcome.WON


def _undo(statements: list) -> None:
    for statement in reversed(statements):
        db.session.execute(statement)


def _deliver(result: ClaimResult, campaign: Campaign, prize: Prize, user: AppUser, velocity: ClaimVelocity,
             now: datetime) -> None:
    draw = result.draw
    if prize.kind is PrizeKind.CASH:
        draw.held_reason = _velocity_hold(velocity, draw)
        payout = queue.enqueue(source=PayoutRef(PayoutPurpose.PRIZE, draw.id), app_user=user,
                               amount_fen=prize.amount, campaign_id=campaign.id, hold_reason=draw.held_reason)
        result.payout_id = payout.id
    elif prize.kind is PrizeKind.POINTS:
        ledger.earn(app_user_id=user.id, points=prize.amount, source=f"draw:{draw.id}",
                    note=f"{campaign.name}: {prize.name}"[:200], now=now)
    else:
        redemption = Redemption(
            draw_id=draw.id, app_user_id=user.id, campaign_id=campaign.id, prize_id=prize.id, kind=prize.kind,
            name=prize.name,
            status=RedemptionStatus.ISSUED if prize.kind is PrizeKind.COUPON else RedemptionStatus.AWAITING_ADDRESS,
            coupon_code=_coupon_code() if prize.kind is PrizeKind.COUPON else None, created_at=now, updated_at=now)
        db.session.add(redemption)
        db.session.flush()
        result.redemption_id = redemption.id


def _coupon_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a till
    return "".join(secrets.choice(alphabet) for _ in range(12))


def _velocity_of(user_id: int) -> ClaimVelocity:
    """The consumer's velocity row, locked (a locking read by primary key sees every earlier claim's commit)."""
    _upsert(ClaimVelocity, {"app_user_id": user_id, "cities": {}, "day": None, "cash_won_fen": 0},
            ["app_user_id"], "cash_won_fen", 0)
    return db.session.scalar(sa.select(ClaimVelocity).where(ClaimVelocity.app_user_id == user_id)
                             .with_for_update().execution_options(populate_existing=True))


def _note_claim(velocity: ClaimVelocity, draw: Draw, now: datetime) -> None:
    """Remember where this claim came from (cities older than the velocity window are forgotten)."""
    since = now - timedelta(hours=setting("CLAIM_VELOCITY_HOURS"))
    cities = {city: at for city, at in (velocity.cities or {}).items() if datetime.fromisoformat(at) >= since}
    if draw.region_code:
        cities[draw.region_code[:4]] = now.isoformat()
    velocity.cities = cities


def _velocity_hold(velocity: ClaimVelocity, draw: Draw) -> str | None:
    """Why this cash prize waits for a person (None: it does not) — the velocity rules, all configurable.

    Counts this prize in: the claims from many cities within CLAIM_VELOCITY_HOURS, the cash won today.
    """
    won_today = (velocity.cash_won_fen if velocity.day == draw.day else 0) + draw.amount
    velocity.day, velocity.cash_won_fen = draw.day, won_today
    cities = len(velocity.cities or {})
    if cities >= setting("CLAIM_VELOCITY_CITIES"):
        return f"claims from {cities} cities within {setting('CLAIM_VELOCITY_HOURS')} h"
    if won_today > setting("CLAIM_HOLD_DAILY_FEN"):
        return f"{won_today} fen won today, above {setting('CLAIM_HOLD_DAILY_FEN')}"
    return None


# --- money back -----------------------------------------------------------------------------------

def return_prize(*, draw_id: int, amount_fen: int) -> None:
    """A cash prize's payout failed or was cancelled: its money and its prize go back to the campaign.

    Called through the prize's settlement handler by the payout queue inside its transaction, once per
    payout (it only reaches a final state once).
    """
    draw = db.session.get(Draw, draw_id)
    if draw is None or draw.prize_id is None:
        return
    db.session.execute(sa.update(CampaignDay).where(CampaignDay.campaign_id == draw.campaign_id,
                                                    CampaignDay.day == draw.day)
                       .values(spent_fen=CampaignDay.spent_fen - amount_fen))
    db.session.execute(sa.update(Campaign).where(Campaign.id == draw.campaign_id)
                       .values(spent_fen=Campaign.spent_fen - amount_fen))
    db.session.execute(sa.update(Prize).where(Prize.id == draw.prize_id).values(awarded=Prize.awarded - 1))
    campaign = db.session.get(Campaign, draw.campaign_id)
    prize = db.session.get(Prize, draw.prize_id)
    budget.release(budget.Request(campaign_id=campaign.id, prize_id=prize.id, day=draw.day, amount_fen=amount_fen,
                                  total_budget_fen=campaign.total_budget_fen,
                                  day_budget_fen=campaign.daily_budget_fen, stock=prize.stock))


def reclaim_prize(*, draw_id: int, amount_fen: int) -> bool:
    """A cash prize returned to the campaign was paid after all (a late SUCCESS): charge it again to the
    budget, its day and the prize's stock, all or nothing. False when one of them no longer has room
    (the money was given to someone else meanwhile): nothing changes and the payout queue raises an
    incident with the amount."""
    draw = db.session.get(Draw, draw_id)
    if draw is None or draw.prize_id is None:
        return False
    # The claims' lock order: the day, then the campaign, then the prize.
    day = db.session.scalar(sa.select(CampaignDay).where(CampaignDay.campaign_id == draw.campaign_id,
                                                         CampaignDay.day == draw.day).with_for_update())
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.id == draw.campaign_id).with_for_update())
    prize = db.session.scalar(sa.select(Prize).where(Prize.id == draw.prize_id).with_for_update())
    if (campaign is None or prize is None
            or campaign.spent_fen + amount_fen > campaign.total_budget_fen
            or (day is not None and day.budget_fen is not None and day.spent_fen + amount_fen > day.budget_fen)
            or (prize.stock is not None and prize.awarded + 1 > prize.stock)):
        return False
    if day is not None:
        db.session.execute(sa.update(CampaignDay).where(CampaignDay.campaign_id == draw.campaign_id,
                                                        CampaignDay.day == draw.day)
                           .values(spent_fen=CampaignDay.spent_fen + amount_fen))
    db.session.execute(sa.update(Campaign).where(Campaign.id == campaign.id)
                       .values(spent_fen=Campaign.spent_fen + amount_fen))
    db.session.execute(sa.update(Prize).where(Prize.id == prize.id).values(awarded=Prize.awarded + 1))
    # The Redis mirror is not charged: it under-counts for at most its expiry, and the database,
    # asked on every "yes", refuses what has no room.
    return True


# --- reading ----------------------------------------------------------------------------------------

def my_draws(*, user: AppUser):
    """A select of the user's draws, newest first."""
    return sa.select(Draw).where(Draw.app_user_id == user.id).order_by(Draw.id.desc())


def get_my_draw(*, user: AppUser, draw_id: int) -> ClaimResult:
    draw = db.session.get(Draw, draw_id)
    if draw is None or draw.app_user_id != user.id:
        raise DrawNotFound()
    return _repeat(draw, user)
