"""Retail refusals: why a sale scan, a ledger movement, a withdrawal or a quiz is refused."""
from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.units.unit_rows import EPC_UNKNOWN, EPC_UNKNOWN_MESSAGE

# Sale-scan refusals by reason: (HTTP error class, sentence).
FORGED = "forged"
UNKNOWN = "unknown"
NOT_COMMISSIONED = "not_commissioned"
WRONG_LEVEL = "wrong_level"
SCRAPPED = "scrapped"
VOIDED = "voided"
RECALLED = "recalled"
ALREADY_SOLD = "already_sold"
SCAN_TIME_INVALID = "scan_time_invalid"


class SaleRefused(Conflict):
    """A code that can't be sold (the code is the reason)."""

    code = "sale_refused"
    message = "This unit cannot be sold."


class SaleCodeInvalid(ValidationFailed):
    code = "sale_code_invalid"
    message = "This code cannot be sold."


SALE_REFUSALS = {
    FORGED: (SaleCodeInvalid, "The code is not one of ours: malformed, or its check fails."),
    UNKNOWN: (SaleCodeInvalid, "The code verifies but was never issued."),
    NOT_COMMISSIONED: (SaleCodeInvalid, "The code was never commissioned: it is on no product."),
    WRONG_LEVEL: (SaleCodeInvalid, "Cases and pallets aren't sold: scan the item's own code."),
    SCAN_TIME_INVALID: (SaleCodeInvalid, "The scan time is in the future or more than 3 days ago."),
    SCRAPPED: (SaleRefused, "The unit was scrapped."),
    VOIDED: (SaleRefused, "The code is voided (its batch was voided, or its label was replaced)."),
    RECALLED: (SaleRefused, "The unit is recalled: it must not be sold. Take it off the shelf."),
    ALREADY_SOLD: (SaleRefused, "The unit was already sale-scanned; a unit is sold and rewarded once."),
    EPC_UNKNOWN: (SaleCodeInvalid, EPC_UNKNOWN_MESSAGE),
}


def refuse_sale(reason: str):
    """The error for a sale-scan refusal reason (its ``code`` is the reason)."""
    cls, message = SALE_REFUSALS[reason]
    return cls(message, code=reason)


class NoStore(Forbidden):
    code = "no_store"
    message = "Bind this account to a store (and wait for the owner's approval) first."


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    message = "The balance is lower than the amount."


class WithdrawalBelowMinimum(ValidationFailed):
    code = "withdrawal_below_minimum"
    message = "The amount is below the minimum withdrawal."


class WithdrawalRequestReused(Conflict):
    code = "withdrawal_request_reused"
    message = "This request_id was used for a withdrawal of another amount."


class WithdrawalNotFound(NotFound):
    code = "withdrawal_not_found"
    message = "No such withdrawal."


class WithdrawalNotCancellable(Conflict):
    code = "withdrawal_not_cancellable"
    message = "Only a requested withdrawal (not yet paid) can be cancelled."


class RewardRuleNotFound(NotFound):
    code = "reward_rule_not_found"
    message = "No such reward rule."


class RewardRuleInvalid(ValidationFailed):
    code = "reward_rule_invalid"
    message = "The reward rule is not valid; see errors."


class RegionUnknown(ValidationFailed):
    code = "region_unknown"
    message = "No such region (a 12-digit adcode of a province, city or district)."


class CourseNotFound(NotFound):
    code = "course_not_found"
    message = "No such course."


class CourseInvalid(ValidationFailed):
    code = "course_invalid"
    message = "The course is not valid; see errors."


class AnswersInvalid(ValidationFailed):
    code = "answers_invalid"
    message = "Give one answer (an option index) per question, in order."


class PeriodInvalid(ValidationFailed):
    code = "period_invalid"
    message = "The period ends before it starts."


class ConversionClosed(Conflict):
    code = "points_conversion_closed"
    message = "The brand does not convert points to cash now."


class ConversionInvalid(ValidationFailed):
    code = "points_conversion_invalid"
    message = "The points asked for are below the minimum or not a whole number of the rate's steps."


class ConversionRequestReused(Conflict):
    code = "points_conversion_request_reused"
    message = "This request_id was used for a conversion of another number of points."


class RateInvalid(ValidationFailed):
    code = "points_cash_rate_invalid"
    message = "A rate is a positive number of points for a positive number of fen, and a minimum of zero or more."


class RateNotSet(NotFound):
    code = "points_cash_rate_not_set"
    message = "No rate for turning points into cash was set."
