"""What campaigns do when a cash prize's payout ends (the prize's settlement handler).

Registered for ``PayoutPurpose.PRIZE`` by ``app.bootstrap``; the payout queue calls it inside its
transaction with the locked payout, whose ``ref`` names the draw it pays.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.campaigns import claims
from app.campaigns.models import Draw
from app.extensions import db
from app.payouts import settlement
from app.payouts.models import Payout, PayoutPurpose


def register(registry: settlement.Registry) -> None:
    """Name the prize's handler in the payouts' registry."""
    registry.register(PayoutPurpose.PRIZE, settlement.Handler(paid=prize_paid, returned=prize_returned,
                                                              reclaimed=prize_reclaimed, region=prize_region))


def prize_paid(payout: Payout) -> None:
    """A paid prize needs nothing more: its money left the budget when it was drawn."""


def prize_returned(payout: Payout) -> None:
    """The prize's payout failed or was cancelled: its money and the prize go back to the campaign."""
    claims.return_prize(draw_id=payout.ref.id, amount_fen=payout.amount_fen)


def prize_reclaimed(payout: Payout) -> bool:
    """The prize was paid after its money went back: charge the campaign again (False: no room left)."""
    return claims.reclaim_prize(draw_id=payout.ref.id, amount_fen=payout.amount_fen)


def prize_region(payout: Payout) -> str | None:
    """The region of the prize's draw (where the scan that won it was made)."""
    return db.session.scalar(sa.select(Draw.region_code).where(Draw.id == payout.ref.id))
