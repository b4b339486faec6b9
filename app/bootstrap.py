"""Wiring at start-up: the domains that react to another's facts are registered with it here.

A domain that owns a fact (a payout ended, an openid blacklisted) calls what is registered for it and
imports none of the domains that react; this step, run by ``create_app``, names them. It refuses to
start when a payout purpose has no settlement handler, or two.
"""
from __future__ import annotations

from app.campaigns import handlers as campaign_handlers
from app.consumers import blacklist
from app.payouts import queue, settlement
from app.retail import handlers as retail_handlers

# Each domain that queues payouts registers the handler of its purpose.
SETTLEMENT_HANDLERS = (campaign_handlers.register, retail_handlers.register)


def settlement_registry(registrations) -> settlement.Registry:
    """A registry filled by each domain's registration, checked to have one handler per payout purpose."""
    registry = settlement.Registry()
    for register in registrations:
        register(registry)
    registry.check_complete()
    return registry


def wire() -> None:
    """Register every reaction: the payouts' settlement handlers and what listing an openid does."""
    settlement.install(settlement_registry(SETTLEMENT_HANDLERS))
    blacklist.react_to_blocks({"payouts_held": queue.hold_blacklisted})
