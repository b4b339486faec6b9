"""Who may enter what: why a scan cannot enter a campaign, the campaigns open to a scan (from a short
per-process list of the active campaigns), and what a claim would meet besides a campaign's own rules."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import AppUser
from app.campaigns.models import Campaign, CampaignStatus, Draw, Entries, Prize
from app.consumers.models import BlockedConsumer, ConsumerScan, HiddenCodeProof, Verdict
from app.db import utcnow
from app.extensions import db
from app.masterdata.rules import region_prefix
from app.platform import after_commit
from app.platform.clock import china_day
from app.platform.settings import setting
from app.units.models import UnitScanStats

DRAWABLE = (Verdict.GENUINE, Verdict.SCANNED_BEFORE)


def drawable(scan: ConsumerScan) -> bool:
    """A genuine scan, or one whose right hidden code proves the scanner holds the item.

    Strangers who scan a unit's QR (hoping to guess its hidden code) make it a suspected copy; the
    buyer who then types the scratched-off digits is no copier and keeps their draw.
    """
    return scan.verdict in DRAWABLE or (scan.verdict is Verdict.SUSPECTED_COPY and scan.hidden_code_ok is True)


def _active_campaigns(now: datetime) -> list[Campaign]:
    return list(db.session.scalars(sa.select(Campaign).where(
        Campaign.status == CampaignStatus.ACTIVE, Campaign.starts_at <= now, Campaign.ends_at > now)
        .order_by(Campaign.ends_at, Campaign.id)))


def _in_region(region_code: str | None, wanted: list[str]) -> bool:
    return region_code is not None and any(region_code.startswith(region_prefix(code)) for code in wanted)


class Firsts:
    """The unit's first consumer scanner and the first consumer who proved its hidden code, each read
    from the database once, if a campaign asks."""

    def __init__(self, serial: int, *, scanner: int | None = None):
        self.serial = serial
        if scanner is not None:  # as the scan's own count answered it
            self.__dict__["scanner"] = scanner

    @functools.cached_property
    def scanner(self) -> int | None:
        return db.session.scalar(sa.select(UnitScanStats.first_app_user_id)
                                 .where(UnitScanStats.serial == self.serial))

    @functools.cached_property
    def prover(self) -> int | None:
        return db.session.scalar(sa.select(HiddenCodeProof.app_user_id).where(HiddenCodeProof.serial == self.serial))


def refusal(campaign: Campaign | _Listed, scan: ConsumerScan, user: AppUser, now: datetime,
            firsts: Firsts | None = None) -> str | None:
    """Why this scan cannot enter the campaign (None: it can), before limits and the unit's one draw."""
    if campaign.status is not CampaignStatus.ACTIVE:
        return f"campaign_{campaign.status.value}"
    if not campaign.starts_at <= now < campaign.ends_at:
        return "outside_campaign_window"
    if not drawable(scan):
        return f"verdict_{scan.verdict.value}"
    if campaign.product_ids and scan.product_id not in campaign.product_ids:
        return "product_not_in_campaign"
    if campaign.lot_ids and scan.lot_id not in campaign.lot_ids:
        return "lot_not_in_campaign"
    if campaign.region_codes and not _in_region(scan.region_code, campaign.region_codes):
        return "region_not_in_campaign" if scan.region_code else "location_needed"
    if scan.hidden_code_ok is not True and (campaign.hidden_code_required or _guarded_by_hidden_code(scan, now)):
        return "hidden_code_needed"
    if campaign.first_scan_only:
        firsts = firsts or Firsts(scan.serial)
        if campaign.hidden_code_required:
            # The draw goes to whoever proved the hidden code first: they hold the item. A stranger who
            # scanned the visible QR earlier, without the digits, takes nothing from the buyer. (No proof on
            # record: a scan proved before proofs were kept.)
            if firsts.prover not in (None, user.id):
                return "not_first_proof"
        elif scan.scan_number != 1 and firsts.scanner != user.id:
            return "not_first_scan"  # the unit's first scanner may scan it again (a claim window passed)
    if user.openid in (campaign.blacklist or []):
        return "blacklisted"
    return None


def _guarded_by_hidden_code(scan: ConsumerScan, now: datetime) -> bool:
    """Whether an active campaign needing the hidden code covers this scan's unit: then the unit's one draw
    (one per unit across campaigns) waits for whoever proves the code, and a scan without it uses up nothing,
    in any campaign."""
    return any(c.hidden_code_required and c.starts_at <= now < c.ends_at
               and (not c.product_ids or scan.product_id in c.product_ids)
               and (not c.lot_ids or scan.lot_id in c.lot_ids)
               and (not c.region_codes or _in_region(scan.region_code, c.region_codes))
               for c in _listed_campaigns())


@dataclass(frozen=True)
class _Listed:
    """An active campaign as the scans' answers list it: what ``refusal`` reads, and its prizes."""

    id: int
    name: str
    status: CampaignStatus
    starts_at: datetime
    ends_at: datetime
    first_scan_only: bool
    hidden_code_required: bool
    product_ids: list
    lot_ids: list
    region_codes: list
    blacklist: list
    per_user_daily_limit: int
    per_user_total_limit: int
    prizes: list


def forget_listed_campaigns() -> None:
    """Drop this process's list of campaigns (the next scan reads them again)."""
    current_app.extensions.pop("listed_campaigns", None)


def campaigns_changed(session) -> None:
    """Campaigns changed in this transaction: once it commits, this process lists them afresh (other
    processes within CAMPAIGN_CACHE_SECONDS). Not before the commit: a scan in between would read and
    keep the old rows."""
    after_commit.on_commit(forget_listed_campaigns, key="campaigns_changed", session=session)


def _listed_campaigns() -> list[_Listed]:
    """The active campaigns, read at most every CAMPAIGN_CACHE_SECONDS per process (scans are many)."""
    cached = current_app.extensions.get("listed_campaigns")
    if cached is not None and time.monotonic() - cached[0] < setting("CAMPAIGN_CACHE_SECONDS"):
        return cached[1]
    campaigns = list(db.session.scalars(sa.select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE)
                                        .order_by(Campaign.ends_at, Campaign.id)))
    prizes: dict[int, list[dict]] = {}
    if campaigns:
        for prize in db.session.scalars(sa.select(Prize).where(Prize.campaign_id.in_([c.id for c in campaigns]))
                                        .order_by(Prize.id)):
            prizes.setdefault(prize.campaign_id, []).append(
                {"kind": prize.kind.value, "name": prize.name, "amount": prize.amount})
    listed = [_Listed(id=c.id, name=c.name, status=c.status, starts_at=c.starts_at, ends_at=c.ends_at,
                      first_scan_only=c.first_scan_only, hidden_code_required=c.hidden_code_required,
                      product_ids=list(c.product_ids or []), lot_ids=list(c.lot_ids or []),
                      region_codes=list(c.region_codes or []), blacklist=list(c.blacklist or []),
                      per_user_daily_limit=c.per_user_daily_limit, per_user_total_limit=c.per_user_total_limit,
                      prizes=prizes.get(c.id, [])) for c in campaigns]
    current_app.extensions["listed_campaigns"] = (time.monotonic(), listed)
    return listed


# Why a listed campaign is closed to a scan, told to the consumer where it helps them (they can act on it,
# or it explains a campaign they expected): {reason: message}. Other reasons (another product, region
# or lot, the campaign's own blacklist) are not the consumer's business: those campaigns are not listed.
CLOSED_MESSAGES = {
    "hidden_code_needed": "刮开涂层输入暗码即可参加。Enter the hidden code to take part.",
    "location_needed": "允许获取位置后即可参加。Share your location to take part.",
    "not_first_scan": "仅限首次扫码者参加，此码已被他人扫过。Only the first scanner of this code may take part.",
    "not_first_proof": "暗码已被他人先验证。Someone else proved this hidden code first.",
    "daily_limit_reached": "今日参与次数已用完，明天再来。You have had today's draws: come back tomorrow.",
    "total_limit_reached": "参与次数已用完。You have had all your draws in this campaign.",
}


def open_campaigns(*, scan: ConsumerScan, user: AppUser, now: datetime | None = None,
                   first_scanner: int | None = None) -> tuple[list[dict], list[dict]]:
    """(the campaigns this scan can claim now, those closed to it with why where that helps), for the scan's
    answer; nothing once the unit was drawn or the consumer is blocked.

    Read from a short per-process cache: a listing may lag a change by CAMPAIGN_CACHE_SECONDS; the
    claim itself always reads the database. `first_scanner`: the unit's first scanner as the scan
    counted it (else read from unit_scan_stats, if a campaign needs it). The consumer's draws so far,
    the unit's draw and the blacklist are one read, and only when a campaign is still open to the scan.
    """
    now = now or utcnow()
    if scan.serial is None or not drawable(scan):
        return [], []
    firsts = Firsts(scan.serial, scanner=first_scanner)
    candidates, closed = [], []
    for campaign in _listed_campaigns():
        reason = refusal(campaign, scan, user, now, firsts)
        if reason is None:
            candidates.append(campaign)
        elif reason in CLOSED_MESSAGES:
            closed.append((campaign, reason))
    if not candidates:
        return [], [_closed(campaign, reason) for campaign, reason in closed]
    state = _claim_state(scan.serial, user, [c.id for c in candidates], china_day(now))
    if state.drawn or state.blocked:
        return [], []
    open_ = []
    for campaign in candidates:
        reason = state.limit_reached(campaign)
        if reason:
            closed.append((campaign, reason))
        else:
            open_.append({"id": campaign.id, "name": campaign.name, "ends_at": campaign.ends_at,
                          "hidden_code_required": campaign.hidden_code_required, "prizes": campaign.prizes})
    return open_, [_closed(campaign, reason) for campaign, reason in closed]


def _closed(campaign: _Listed, reason: str) -> dict:
    return {"id": campaign.id, "name": campaign.name, "reason": reason, "message": CLOSED_MESSAGES[reason]}


@dataclass(frozen=True)
class _ClaimState:
    drawn: bool  # the unit's one draw is taken
    blocked: bool  # the consumer is on the blacklist
    entries: dict  # (campaign id, period) -> the consumer's draws
    day: date

    def limit_reached(self, campaign: _Listed) -> str | None:
        if self.entries.get((campaign.id, "total"), 0) >= campaign.per_user_total_limit:
            return "total_limit_reached"
        if self.entries.get((campaign.id, self.day.isoformat()), 0) >= campaign.per_user_daily_limit:
            return "daily_limit_reached"
        return None


# Built once: a scan with a campaign open to it runs it.
_CLAIM_STATE = sa.union_all(
    sa.select(sa.literal_column("'drawn'"), sa.cast(sa.null(), sa.BigInteger), sa.cast(sa.null(), sa.String),
              sa.literal(1)).where(Draw.serial == sa.bindparam("serial")),
    sa.select(sa.literal_column("'blocked'"), sa.null(), sa.null(), sa.literal(1))
    .where(BlockedConsumer.openid == sa.bindparam("openid")),
    sa.select(sa.literal_column("'entry'"), Entries.campaign_id, Entries.period, Entries.draws).where(
        Entries.app_user_id == sa.bindparam("user_id"),
        Entries.campaign_id.in_(sa.bindparam("campaign_ids", expanding=True)),
        Entries.period.in_(sa.bindparam("periods", expanding=True))))


def _claim_state(serial: int, user: AppUser, campaign_ids: list[int], day: date) -> _ClaimState:
    """What a claim would meet besides the campaign's own rules, in one statement: the unit's draw, the
    blacklist, and the consumer's draws in these campaigns (in total and today)."""
    rows = db.session.execute(_CLAIM_STATE, {"serial": serial, "openid": user.openid, "user_id": user.id,
                                             "campaign_ids": campaign_ids,
                                             "periods": ["total", day.isoformat()]}).all()
    return _ClaimState(drawn=any(row[0] == "drawn" for row in rows), blocked=any(row[0] == "blocked" for row in rows),
                       entries={(row[1], row[2]): row[3] for row in rows if row[0] == "entry"}, day=day)
