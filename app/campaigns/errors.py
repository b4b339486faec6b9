"""What campaigns refuse: campaigns themselves, claims and draws, redemptions."""
from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    message = "No such campaign."


class CampaignInvalid(ValidationFailed):
    code = "campaign_invalid"
    message = "The campaign is not valid; see errors."


class TransitionRefused(Conflict):
    code = "campaign_transition_refused"
    message = "The campaign cannot move to that status from its current one."


class CampaignEnded(Conflict):
    code = "campaign_ended"
    message = "An ended campaign cannot change."


class PrizesAwarded(Conflict):
    code = "campaign_prizes_awarded"
    message = "Prizes have been awarded: the prize list can no longer be replaced."


class DrawNotFound(NotFound):
    code = "draw_not_found"
    message = "No such draw."


class UnitAlreadyDrawn(Conflict):
    code = "unit_already_drawn"
    message = "This unit's draw has been claimed already (one draw per unit, ever)."


class ScanNotEligible(Conflict):
    code = "scan_not_eligible"
    message = "This scan cannot enter the campaign; see errors for why."


class NoCampaign(Conflict):
    code = "no_campaign"
    message = "No campaign is open to this scan."


class ClaimWindowPassed(Conflict):
    code = "claim_window_passed"
    message = "This scan is too old to claim; scan the code again."


class LimitReached(Conflict):
    code = "claim_limit_reached"
    message = "You have reached this campaign's limit of draws."


class ConsumerBlocked(Forbidden):
    code = "consumer_blocked"
    message = "This account cannot take part in campaigns."


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    message = "No such redemption."


class NotShippable(Conflict):
    code = "redemption_not_shippable"
    message = "Only a gift with an address that is not yet shipped (to_ship) can be shipped."


class NotRedeemable(Conflict):
    code = "redemption_not_redeemable"
    message = "Only an issued coupon or a shipped gift can be marked redeemed."


class NotCancellable(Conflict):
    code = "redemption_not_cancellable"
    message = "Only a redemption not yet shipped, redeemed or cancelled can be cancelled."


class AddressClosed(Conflict):
    code = "redemption_address_closed"
    message = "The address can be given only for a gift not yet shipped."


class AddressInvalid(ValidationFailed):
    code = "address_invalid"
    message = "The address is not valid; see errors."
