"""Start-up wiring: every payout purpose has exactly one settlement handler, or the app does not start."""
import pytest

from app import bootstrap, create_app
from app.campaigns import handlers as campaign_handlers
from app.payouts import settlement
from app.payouts.models import PayoutPurpose
from app.retail import handlers as retail_handlers


def test_every_payout_purpose_has_its_handler_once_the_app_is_built(app):
    handlers = {purpose: settlement.handler(purpose) for purpose in PayoutPurpose}
    assert handlers[PayoutPurpose.PRIZE].returned is campaign_handlers.prize_returned
    assert handlers[PayoutPurpose.WITHDRAWAL].returned is retail_handlers.withdrawal_returned


def test_the_app_refuses_to_start_when_a_payout_purpose_has_no_handler(app, monkeypatch):
    monkeypatch.setattr(bootstrap, "SETTLEMENT_HANDLERS", (campaign_handlers.register,))
    with pytest.raises(settlement.HandlersIncomplete, match="without a settlement handler: withdrawal"):
        create_app("testing")


def test_a_purpose_with_two_handlers_is_refused():
    twice = (campaign_handlers.register, retail_handlers.register, campaign_handlers.register)
    with pytest.raises(settlement.HandlersIncomplete, match="'prize' has two settlement handlers"):
        bootstrap.settlement_registry(twice)
