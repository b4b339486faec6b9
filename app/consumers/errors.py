"""What the consumers domain refuses: texts that are not ours, too many scans or wrong hidden codes, scans and
leak alerts not found or closed, blacklist entries."""
from __future__ import annotations

from app.errors import Conflict, NotFound, TooManyRequests, ValidationFailed


class ScanTextInvalid(ValidationFailed):
    code = "scan_text_invalid"
    message = "This is not one of our label URLs or codes."


class RateLimited(TooManyRequests):
    code = "rate_limited"
    message = "Too many scans; try again shortly."


class TooManyAttempts(TooManyRequests):
    code = "too_many_attempts"
    message = "Too many wrong hidden codes; try again later."


class NoHiddenCode(Conflict):
    code = "no_hidden_code"
    message = "This scan's code has no hidden code to check."


class LeakAlertNotFound(NotFound):
    code = "code_leak_alert_not_found"
    message = "No such code-leak alert."


class LeakAlertClosed(Conflict):
    code = "code_leak_alert_closed"
    message = "The alert is already resolved."


class ScanNotFound(NotFound):
    code = "scan_not_found"
    message = "No such scan."


class AlreadyBlacklisted(Conflict):
    code = "consumer_already_blacklisted"
    message = "This openid is on the blacklist already."


class BlacklistEntryNotFound(NotFound):
    code = "blacklist_entry_not_found"
    message = "No such blacklist entry."
