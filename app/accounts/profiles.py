"""A mini-program user's phone and profile, the memberships that bind them to a dealer or a store, and
what the mini-program should ask them to do next."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts import logins
from app.accounts.errors import PhoneArgumentsInvalid, ProfileInvalid, SessionKeyMissing
from app.accounts.models import AppName, AppUser, DealerMembership, MembershipStatus, StoreMembership
from app.extensions import db, redis

NICKNAME_MAX = 64
AVATAR_URL_MAX = 500
ACTIVE_STATUSES = (MembershipStatus.PENDING, MembershipStatus.APPROVED)


def bind_phone(*, user: AppUser, code: str | None = None, encrypted_data: str | None = None,
               iv: str | None = None) -> AppUser:
    """Set the user's phone from a getPhoneNumber code (new API) or encrypted data (legacy)."""
    client = logins._wechat(user.app)
    if code and not (encrypted_data or iv):
        phone = client.get_phone_number(code)
    elif encrypted_data and iv and not code:
        session_key = redis.get(logins._session_key_name(user.app, user.openid))
        if session_key is None:
            raise SessionKeyMissing()
        if isinstance(session_key, bytes):
            session_key = session_key.decode()
        data = client.decrypt(session_key, encrypted_data, iv)
        phone = data.get("purePhoneNumber") or data.get("phoneNumber")
        if not phone:
            raise PhoneArgumentsInvalid("The encrypted data holds no phone number.", code="phone_missing")
    else:
        raise PhoneArgumentsInvalid()
    user.phone = str(phone)[:20]
    return user


def update_profile(*, user: AppUser, changes: dict) -> AppUser:
    """Set the nickname and avatar a user chose."""
    errors = {}
    if "nickname" in changes:
        nickname = (changes["nickname"] or "").strip()
        if len(nickname) > NICKNAME_MAX:
            errors["nickname"] = [f"at most {NICKNAME_MAX} characters"]
        else:
            user.nickname = nickname
    if "avatar_url" in changes:
        url = (changes["avatar_url"] or "").strip() or None
        if url and (len(url) > AVATAR_URL_MAX or not url.startswith("https://")):
            errors["avatar_url"] = [f"an https URL of at most {AVATAR_URL_MAX} characters"]
        else:
            user.avatar_url = url
    if errors:
        raise ProfileInvalid(errors=errors)
    return user


def dealer_membership(user: AppUser) -> DealerMembership | None:
    return db.session.scalar(sa.select(DealerMembership).where(
        DealerMembership.app_user_id == user.id, DealerMembership.status == MembershipStatus.APPROVED))


def store_membership(user: AppUser) -> StoreMembership | None:
    return db.session.scalar(sa.select(StoreMembership).where(
        StoreMembership.app_user_id == user.id, StoreMembership.status.in_(ACTIVE_STATUSES)))


def next_steps(user: AppUser) -> list[str]:
    """What the mini-program should ask the user to do next."""
    steps = []
    if user.app is AppName.DEALER and dealer_membership(user) is None:
        steps.append("bind_dealer")
    if user.app is AppName.CLERK:
        membership = store_membership(user)
        if membership is None:
            steps.append("bind_store")
        elif membership.status is MembershipStatus.PENDING:
            steps.append("await_approval")
    if not user.phone:
        steps.append("bind_phone")
    return steps
