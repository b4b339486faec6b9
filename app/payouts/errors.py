"""What the payout queue refuses: each a machine ``code`` with a sentence for people."""
from __future__ import annotations

from app.errors import Conflict, NotFound


class PayoutNotFound(NotFound):
    code = "payout_not_found"
    message = "No such payout."


class PayoutNotCancellable(Conflict):
    code = "payout_not_cancellable"
    message = "Only a pending or held payout can be cancelled; this one may already be with WeChat Pay."


class PayoutNotHeld(Conflict):
    code = "payout_not_held"
    message = "Only a held payout can be released."


class PayoutSourceReused(Conflict):
    code = "payout_source_reused"
    message = "This source was queued before with another user or amount."


class IncidentNotFound(NotFound):
    code = "payout_incident_not_found"
    message = "No such payout incident."
