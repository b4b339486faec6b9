"""Retail refusals: what a sale scan, a reward rule, the ledger, a withdrawal, a ranking, a course or a
points conversion refuses."""
from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, ValidationFailed


class SaleRefused(Conflict):
    """A code that can't be sold (the code is the reason)."""

    code = "sale_refused"
    message = "This unit cannot be sold."


class SaleCodeInvalid(ValidationFailed):
    code = "sale_code_invalid"
    message = "This code cannot be sold."


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
