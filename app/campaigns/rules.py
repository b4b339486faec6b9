"""The campaigns' domain errors."""
from __future__ import annotations

from app.errors import Conflict, NotFound, ValidationFailed


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
