"""What mini-program accounts refuse: tokens, logins, phone and profile, invitations, members."""
from __future__ import annotations

from app.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationFailed


class TokenInvalid(Unauthorized):
    code = "token_invalid"
    message = "The token is missing, unknown or revoked; log in again."


class TokenExpired(Unauthorized):
    code = "token_expired"
    message = "The token has expired; refresh it or log in again."


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"
    message = "This refresh token was already used; every token of this login is revoked. Log in again."


class TokenAudienceMismatch(Forbidden):
    code = "token_audience_mismatch"
    message = "This token belongs to another mini-program."


class AccountDisabled(Forbidden):
    code = "account_disabled"
    message = "This account is disabled."


class TooManyLogins(TooManyRequests):
    code = "too_many_logins"
    message = "Too many logins; try again shortly."


class SessionKeyMissing(Conflict):
    code = "session_key_missing"
    message = "The WeChat session has expired; call wx.login and log in again, then retry."


class PhoneArgumentsInvalid(ValidationFailed):
    code = "phone_arguments_invalid"
    message = "Send either code, or encrypted_data and iv."


class ProfileInvalid(ValidationFailed):
    code = "profile_invalid"
    message = "The profile is not valid."


class InvitationNotFound(NotFound):
    code = "invitation_not_found"
    message = "No such invitation."


class InvitationExpired(ValidationFailed):
    code = "invitation_expired"
    message = "This invitation has expired; ask for a new one."


class InvitationRevoked(ValidationFailed):
    code = "invitation_revoked"
    message = "This invitation was revoked; ask for a new one."


class InvitationUsedUp(Conflict):
    code = "invitation_used_up"
    message = "This invitation has been used up; ask for a new one."


class InvitationWrongApp(ValidationFailed):
    code = "invitation_wrong_app"
    message = "This invitation is for another mini-program."


class InvitationInvalid(ValidationFailed):
    code = "invitation_invalid"
    message = "The invitation is not valid."


class InvitationTargetInactive(ValidationFailed):
    code = "invitation_target_inactive"
    message = "The dealer or store of this invitation is inactive."


class AlreadyBound(Conflict):
    code = "already_bound"
    message = "This account is already bound."


class NotBound(Forbidden):
    code = "not_bound"
    message = "Bind this account with an invitation first."


class OwnerOnly(Forbidden):
    code = "owner_only"
    message = "Only the owner may do this."


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "No such member."


class StoreNotFound(NotFound):
    code = "store_not_found"
    message = "No such store among the stores this dealer serves."


class OwnerCannotBeRemoved(Forbidden):
    code = "owner_cannot_be_removed"
    message = "An owner is removed by the brand's back office only."
