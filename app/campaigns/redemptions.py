"""Prize redemptions (coupons and physical gifts) on their way to the winner.

States (app.campaigns.models.RedemptionStatus):

    coupon:  issued ──redeem──▶ redeemed
    gift:    awaiting_address ──address──▶ to_ship ──ship──▶ shipped ──redeem──▶ redeemed
    either:  issued | awaiting_address | to_ship ──cancel──▶ cancelled

The winner may give or change the address until the gift is shipped. A change in the wrong state
is refused with 409 and a code saying which; each change locks the row first (two staff shipping
at once: one ships, the other is told it is shipped). Back-office changes are audited. A cancelled
prize goes back to its stock (the draw stays won, its record unchanged).
"""
from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.campaigns import claims
from app.campaigns.errors import (
    AddressClosed, AddressInvalid, DrawNotFound, NotCancellable, NotRedeemable, NotShippable, RedemptionNotFound,
)
from app.campaigns.models import (
    Campaign,
    Draw,
    DrawOutcome,
    PrizeKind,
    Redemption,
    RedemptionStatus,
)
from app.db import utcnow
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope, OutsideDataScope, scope_of
from app.identity.service import Actor, audit
from app.masterdata.models import Region
from app.payouts.models import Payout, PayoutPurpose, PayoutRef
from app.platform.filters import Filters

PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number
ADDRESS_OPEN = (RedemptionStatus.AWAITING_ADDRESS, RedemptionStatus.TO_SHIP)
CANCELLABLE = (RedemptionStatus.ISSUED, RedemptionStatus.AWAITING_ADDRESS, RedemptionStatus.TO_SHIP)


def _draw_ids_in(scope: DataScope):
    """Draws made inside the data scope (a draw carries the region of the scan it came from)."""
    return sa.select(Draw.id).where(scope.filter(Draw.region_code))


def get_redemption(redemption_id: int, *, lock: bool = False, scope: DataScope = NATIONAL) -> Redemption:
    """A redemption (404, also when its draw lies outside the data scope)."""
    query = sa.select(Redemption).where(Redemption.id == redemption_id)
    if not scope.national:
        query = query.where(Redemption.draw_id.in_(_draw_ids_in(scope)))
    redemption = db.session.scalar(query.with_for_update() if lock else query)
    if redemption is None:
        raise RedemptionNotFound()
    return redemption


def _require_in_scope(actor: Actor, redemption: Redemption) -> None:
    """Handling a prize is for users whose data scope holds its draw's region (403)."""
    scope = scope_of(actor)
    if not scope.national and db.session.scalar(_draw_ids_in(scope).where(Draw.id == redemption.draw_id)) is None:
        raise OutsideDataScope()


def get_user_redemption(*, app_user: AppUser, redemption_id: int, lock: bool = False) -> Redemption:
    """The user's own redemption; another's answers 404."""
    redemption = get_redemption(redemption_id, lock=lock)
    if redemption.app_user_id != app_user.id:
        raise RedemptionNotFound()
    return redemption


_REDEMPTION_FILTERS = Filters(
    status=lambda value: Redemption.status == RedemptionStatus(value),
    kind=lambda value: Redemption.kind == PrizeKind(value),
    campaign_id=lambda value: Redemption.campaign_id == value,
    app_user_id=lambda value: Redemption.app_user_id == value,
    since=lambda value: Redemption.created_at >= value,
    until=lambda value: Redemption.created_at < value,
)


def list_redemptions(*, status: str | None = None, kind: str | None = None, campaign_id: int | None = None,
                     app_user_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
                     scope: DataScope = NATIONAL):
    query = sa.select(Redemption).order_by(Redemption.id.desc())
    if not scope.national:
        query = query.where(Redemption.draw_id.in_(_draw_ids_in(scope)))
    return _REDEMPTION_FILTERS.apply(query, status=status, kind=kind, campaign_id=campaign_id,
                                     app_user_id=app_user_id, since=since, until=until)


def _move(actor: Actor, redemption: Redemption, status: RedemptionStatus, action: str, *, noted: dict | None = None,
          **changes) -> Redemption:
    audited = {"status": [redemption.status.value, status.value], **(noted or {})}
    for name, value in changes.items():
        audited[name] = [getattr(redemption, name), value]
        setattr(redemption, name, value)
    redemption.status, redemption.updated_at = status, utcnow()
    audit(actor, action, redemption, audited)
    return redemption


def ship(*, actor: Actor, redemption_id: int, tracking_no: str) -> Redemption:
    """A gift with its address goes out with a tracking number."""
    redemption = get_redemption(redemption_id, lock=True)
    _require_in_scope(actor, redemption)
    if redemption.status is not RedemptionStatus.TO_SHIP:
        raise NotShippable(errors={"status": redemption.status.value})
    return _move(actor, redemption, RedemptionStatus.SHIPPED, "redemption.ship", tracking_no=tracking_no.strip())


def redeem(*, actor: Actor, redemption_id: int) -> Redemption:
    """A coupon was used, or a shipped gift was delivered."""
    redemption = get_redemption(redemption_id, lock=True)
    _require_in_scope(actor, redemption)
    if redemption.status not in (RedemptionStatus.ISSUED, RedemptionStatus.SHIPPED):
        raise NotRedeemable(errors={"status": redemption.status.value})
    return _move(actor, redemption, RedemptionStatus.REDEEMED, "redemption.redeem")


def cancel(*, actor: Actor, redemption_id: int, reason: str = "") -> Redemption:
    """Withdraw a prize not yet shipped or redeemed (a fraud found, the winner gave up)."""
    redemption = get_redemption(redemption_id, lock=True)
    _require_in_scope(actor, redemption)
    if redemption.status not in CANCELLABLE:
        raise NotCancellable(errors={"status": redemption.status.value})
    _move(actor, redemption, RedemptionStatus.CANCELLED, "redemption.cancel",
          noted={"reason": [None, reason]} if reason else None)
    claims.return_prize(draw_id=redemption.draw_id, amount_fen=0)  # the prize goes back to its stock
    return redemption


def _check_address(address: dict) -> dict:
    errors: dict[str, list[str]] = {}
    name, phone = address["name"].strip(), address["phone"].strip()
    region_code, detail = address["region_code"].strip(), address["detail"].strip()
    if not name:
        errors["name"] = ["The recipient's name is empty."]
    if not PHONE.match(phone):
        errors["phone"] = ["Not a mainland mobile number (11 digits starting with 1)."]
    region = db.session.get(Region, region_code) if region_code else None
    if region is None:
        errors["region_code"] = ["Not a known region code."]
    if not detail:
        errors["detail"] = ["The street address is empty."]
    if errors:
        raise AddressInvalid(errors=errors)
    return {"name": name, "phone": phone, "region_code": region_code, "region_name": region.name, "detail": detail}


def set_address(*, app_user: AppUser, redemption_id: int, address: dict) -> Redemption:
    """The winner gives (or changes) a gift's shipping address: awaiting_address | to_ship → to_ship."""
    redemption = get_user_redemption(app_user=app_user, redemption_id=redemption_id, lock=True)
    if redemption.kind is not PrizeKind.GIFT or redemption.status not in ADDRESS_OPEN:
        raise AddressClosed(errors={"status": redemption.status.value})
    redemption.address = _check_address(address)
    redemption.status, redemption.updated_at = RedemptionStatus.TO_SHIP, utcnow()
    return redemption


def my_redemptions(*, app_user: AppUser, status: str | None = None):
    return list_redemptions(status=status, app_user_id=app_user.id)


# --- draws, read in the back office (app.campaigns.claims makes them) --------------------------

def _draw_rows():
    source = PayoutRef.sql_key(PayoutPurpose.PRIZE, Draw.id)
    return (sa.select(Draw, Campaign.name.label("campaign_name"), Redemption.id.label("redemption_id"),
                      Redemption.status.label("redemption_status"), Payout.id.label("payout_id"),
                      Payout.status.label("payout_status"))
            .join(Campaign, Campaign.id == Draw.campaign_id)
            .outerjoin(Redemption, Redemption.draw_id == Draw.id)
            .outerjoin(Payout, sa.and_(Payout.purpose == PayoutPurpose.PRIZE, Payout.source == source)))


_DRAW_FILTERS = Filters(
    campaign_id=lambda value: Draw.campaign_id == value,
    outcome=lambda value: Draw.outcome == DrawOutcome(value),
    app_user_id=lambda value: Draw.app_user_id == value,
    prize_kind=lambda value: Draw.prize_kind == PrizeKind(value),
    since=lambda value: Draw.drawn_at >= value,
    until=lambda value: Draw.drawn_at < value,
)


def list_draws(*, campaign_id: int | None = None, outcome: str | None = None, app_user_id: int | None = None,
               prize_kind: str | None = None, since: datetime | None = None, until: datetime | None = None,
               scope: DataScope = NATIONAL):
    """Draws, newest first (entities: their redemption and payout are on the draw's own page)."""
    query = sa.select(Draw).where(scope.filter(Draw.region_code)).order_by(Draw.id.desc())
    return _DRAW_FILTERS.apply(query, campaign_id=campaign_id, outcome=outcome, app_user_id=app_user_id,
                               prize_kind=prize_kind, since=since, until=until)


def get_draw(draw_id: int, *, scope: DataScope = NATIONAL) -> dict:
    """A draw with its random number, the odds in force, and its redemption and payout."""
    row = db.session.execute(_draw_rows().where(Draw.id == draw_id, scope.filter(Draw.region_code))).first()
    if row is None:
        raise DrawNotFound()
    draw = row[0]
    values = {column.key: getattr(draw, column.key) for column in sa.inspect(Draw).column_attrs}
    values.update(campaign_name=row.campaign_name, redemption_id=row.redemption_id,
                  redemption_status=row.redemption_status, payout_id=row.payout_id, payout_status=row.payout_status)
    return values
