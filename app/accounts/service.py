"""Account use cases: mini-program login, tokens, phone and profile, invitations, dealer and store members.

WeChat's session_key stays on the server (Redis, per app and openid); clients get our own tokens:
a short-lived access token valid for one mini-program only, and a single-use refresh token.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.accounts import tokens
from app.accounts.models import (
    AccessToken, AppName, AppUser, AppUserStatus, DealerMembership, Invitation, InvitationKind,
    MemberRole, MembershipStatus, Person, RefreshToken, StoreMembership,
)
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from app.extensions import db, redis
from app.identity.service import Actor, audit
from app.masterdata.models import Dealer, Status, Store, store_dealers
from app.platform import ratelimit
from app.platform.filters import Filters
from app.platform.settings import setting
from app.wechat import miniprogram

INVITATION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
INVITATION_CODE_LENGTH = 20  # 100 random bits; fits a mini-program code's 32-character scene
INVITATION_MAX_DAYS = 90
INVITATION_MAX_USES = 1000
NICKNAME_MAX = 64
AVATAR_URL_MAX = 500

# Which mini-program may use which invitation.
INVITATION_APP = {
    InvitationKind.DEALER_MEMBER: AppName.DEALER,
    InvitationKind.STORE_OWNER: AppName.CLERK,
    InvitationKind.STORE_CLERK: AppName.CLERK,
}
ACTIVE_STATUSES = (MembershipStatus.PENDING, MembershipStatus.APPROVED)


# --- errors -----------------------------------------------------------------------------------

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


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _wechat(app: AppName) -> miniprogram.MiniProgramClient:
    return miniprogram.client(app.value)


# --- login ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str
    expires_in: int
    user: AppUser


def _hit(key: str, limit: int) -> None:
    """Count one login in its window (MP_LOGIN_WINDOW_SECONDS); over the limit is a 429."""
    ratelimit.enforce([(key, limit)], window=setting("MP_LOGIN_WINDOW_SECONDS"), refuse=TooManyLogins)


def _session_key_name(app: AppName, openid: str) -> str:
    return f"mp:session_key:{app.value}:{openid}"


def login(*, app: AppName | str, code: str, ip: str) -> TokenPair:
    """Exchange a wx.login code for our tokens; create the app user (and link its person) on first login."""
    app = AppName(app)
    _hit(f"mp:login:ip:{app.value}:{ip}", setting("MP_LOGIN_LIMIT_PER_IP"))
    session = _wechat(app).code_to_session(code)
    _hit(f"mp:login:openid:{app.value}:{session.openid}", setting("MP_LOGIN_LIMIT_PER_OPENID"))
    redis.set(_session_key_name(app, session.openid), session.session_key,
              ex=setting("MP_SESSION_KEY_TTL_SECONDS"))
    user = _app_user(app, session.openid, session.unionid)
    if user.status is not AppUserStatus.ACTIVE:
        raise AccountDisabled()
    user.last_login_at = utcnow()
    return _issue(user, family=secrets.token_hex(16))


def _app_user(app: AppName, openid: str, unionid: str | None) -> AppUser:
    user = db.session.scalar(sa.select(AppUser).where(AppUser.app == app, AppUser.openid == openid))
    if user is None:
        try:
            with db.session.begin_nested():  # a concurrent first login of the same user may win
                user = AppUser(app=app, openid=openid, unionid=unionid, person=_person(unionid))
                db.session.add(user)
        except IntegrityError:
            user = db.session.scalar(sa.select(AppUser).where(AppUser.app == app, AppUser.openid == openid))
    if unionid and user.unionid != unionid:
        # WeChat only gives a unionid once the mini-programs share an open-platform account.
        user.unionid = unionid
        if user.person.unionid is None and not _person_exists(unionid):
            user.person.unionid = unionid
        else:
            user.person = _person(unionid)
    return user


def _person_exists(unionid: str) -> bool:
    return db.session.scalar(sa.select(Person.id).where(Person.unionid == unionid)) is not None


def _person(unionid: str | None) -> Person:
    if unionid is None:
        person = Person()
        db.session.add(person)
        return person
    person = db.session.scalar(sa.select(Person).where(Person.unionid == unionid))
    if person is None:
        try:
            with db.session.begin_nested():  # the same person may log in to two apps at once
                person = Person(unionid=unionid)
                db.session.add(person)
        except IntegrityError:
            person = db.session.scalar(sa.select(Person).where(Person.unionid == unionid))
    return person


def _issue(user: AppUser, *, family: str) -> TokenPair:
    now = utcnow()
    ttl = setting("MP_ACCESS_TOKEN_TTL_SECONDS")
    expires_at = now + timedelta(seconds=ttl)
    if user.id is None:
        db.session.flush()  # the token names the user
    raw_access = tokens.sign(user_id=user.id, app=user.app.value, openid=user.openid, expires_at=expires_at)
    raw_refresh = secrets.token_urlsafe(32)
    db.session.add(AccessToken(token_hash=_sha256(raw_access), app_user=user, audience=user.app,
                               family=family, created_at=now, expires_at=expires_at))
    tokens.issued(_sha256(raw_access), ttl)
    db.session.add(RefreshToken(
        token_hash=_sha256(raw_refresh), app_user=user, audience=user.app, family=family, created_at=now,
        expires_at=now + timedelta(seconds=setting("MP_REFRESH_TOKEN_TTL_SECONDS")),
    ))
    return TokenPair(token=raw_access, refresh_token=raw_refresh, expires_in=ttl, user=user)


def refresh(*, app: AppName | str, refresh_token: str) -> TokenPair:
    """Trade a refresh token for a new pair; a second use of one revokes the whole login.

    Detecting reuse commits the revocation on its own (it must outlive the failed request),
    so callers run this outside any other unit of work.
    """
    app = AppName(app)
    token = db.session.scalar(sa.select(RefreshToken).where(RefreshToken.token_hash == _sha256(refresh_token)))
    if token is None:
        raise TokenInvalid()
    if token.audience is not app:
        raise TokenAudienceMismatch()
    now = utcnow()
    if token.expires_at <= now:
        raise TokenExpired()
    claimed = db.session.execute(
        sa.update(RefreshToken).where(RefreshToken.id == token.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        _revoke_family(token.family, now)
        db.session.commit()
        raise RefreshTokenReused()
    user = token.app_user
    if user.status is not AppUserStatus.ACTIVE:
        raise AccountDisabled()
    # The new pair replaces the old one: a stolen access token dies at the next refresh, not at its expiry.
    _revoke_access_tokens(token.family, now)
    return _issue(user, family=token.family)


def _revoke_access_tokens(family: str, now: datetime) -> None:
    live = sa.and_(AccessToken.family == family, AccessToken.revoked_at.is_(None), AccessToken.expires_at > now)
    tokens.revoke(list(db.session.scalars(sa.select(AccessToken.token_hash).where(live))),
                  setting("MP_ACCESS_TOKEN_TTL_SECONDS"))
    db.session.execute(sa.update(AccessToken).where(AccessToken.family == family, AccessToken.revoked_at.is_(None))
                       .values(revoked_at=now).execution_options(synchronize_session=False))


def _revoke_family(family: str, now: datetime) -> None:
    _revoke_access_tokens(family, now)
    for model in (RefreshToken,):
        db.session.execute(
            sa.update(model).where(model.family == family, model.revoked_at.is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False)
        )


def logout(*, token: str) -> None:
    """Revoke the access token and every token of its login (its refresh token too)."""
    access = db.session.scalar(sa.select(AccessToken).where(AccessToken.token_hash == _sha256(token)))
    if access is not None:
        _revoke_family(access.family, utcnow())


# The user and their token's state in one statement (the user is then in the session: no second read);
# built once, as every mini-program request runs it.
_TOKEN_WITH_USER = (sa.select(AppUser, AccessToken.revoked_at, AccessToken.expires_at, AccessToken.audience)
                    .join(AccessToken, AccessToken.app_user_id == AppUser.id)
                    .where(AccessToken.token_hash == sa.bindparam("token_hash")))


def check_claims(claims: tokens.Claims, *, app: AppName) -> None:
    """A verified signed token (tokens.verify), checked without the database: not expired, for this
    mini-program. Its revocation is the caller's to check in Redis (`tokens.Claims.key`)."""
    if tokens.expired(claims):
        raise TokenExpired()
    if claims.app != app.value:
        raise TokenAudienceMismatch()


def confirm(*, token: str, app: AppName) -> None:
    """Redis had no word on this token: the database decides (raising as `authenticate`), and Redis is told."""
    _, expires_at = _access(token, app)
    tokens.seed(_sha256(token), expires_at)


def authenticate(*, token: str | None, app: AppName | str) -> AppUser:
    """The app user behind a bearer token, if it is valid for this mini-program."""
    return _access(token, app)[0]


def _access(token: str | None, app: AppName | str) -> tuple[AppUser, datetime]:
    if not token:
        raise TokenInvalid()
    access = db.session.execute(_TOKEN_WITH_USER, {"token_hash": _sha256(token)}).first()
    if access is None or access.revoked_at is not None:
        raise TokenInvalid()
    if access.expires_at <= utcnow():
        raise TokenExpired()
    if access.audience is not AppName(app):
        raise TokenAudienceMismatch()
    user = access.AppUser
    if user.status is not AppUserStatus.ACTIVE:
        raise AccountDisabled()
    return user, access.expires_at


# --- phone and profile ----------------------------------------------------------------------------

def bind_phone(*, user: AppUser, code: str | None = None, encrypted_data: str | None = None,
               iv: str | None = None) -> AppUser:
    """Set the user's phone from a getPhoneNumber code (new API) or encrypted data (legacy)."""
    client = _wechat(user.app)
    if code and not (encrypted_data or iv):
        phone = client.get_phone_number(code)
    elif encrypted_data and iv and not code:
        session_key = redis.get(_session_key_name(user.app, user.openid))
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


# --- invitations --------------------------------------------------------------------------------

def _new_code() -> str:
    return "".join(secrets.choice(INVITATION_ALPHABET) for _ in range(INVITATION_CODE_LENGTH))


def create_invitation(*, created_by: Actor | AppUser, kind: InvitationKind | str, role=None,
                      dealer_id: int | None = None, store_id: int | None = None,
                      expires_in_days: int = 7, max_uses: int = 1) -> Invitation:
    """An invitation to bind as a dealer's owner or staff, a store's owner, or a store's clerk."""
    kind = InvitationKind(kind)
    errors = {}
    if kind is InvitationKind.DEALER_MEMBER:
        role = MemberRole(role or MemberRole.STAFF)
        if role not in (MemberRole.OWNER, MemberRole.STAFF):
            errors["role"] = ["owner or staff"]
        if dealer_id is None or store_id is not None:
            errors["dealer_id"] = ["a dealer invitation names a dealer (and no store)"]
        else:
            _check_active(db.session.get(Dealer, dealer_id), "dealer")
    else:
        expected = MemberRole.OWNER if kind is InvitationKind.STORE_OWNER else MemberRole.CLERK
        role = MemberRole(role or expected)
        if role is not expected:
            errors["role"] = [expected.value]
        if store_id is None or dealer_id is not None:
            errors["store_id"] = ["a store invitation names a store (and no dealer)"]
        else:
            _check_active(db.session.get(Store, store_id), "store")
    if not 1 <= expires_in_days <= INVITATION_MAX_DAYS:
        errors["expires_in_days"] = [f"1 to {INVITATION_MAX_DAYS}"]
    if not 1 <= max_uses <= INVITATION_MAX_USES:
        errors["max_uses"] = [f"1 to {INVITATION_MAX_USES}"]
    if errors:
        raise InvitationInvalid(errors=errors)
    invitation = Invitation(
        code=_new_code(), kind=kind, role=role, dealer_id=dealer_id, store_id=store_id,
        expires_at=utcnow() + timedelta(days=expires_in_days), max_uses=max_uses,
        created_by_admin_id=created_by.id if isinstance(created_by, Actor) and created_by.kind == "user" else None,
        created_by_app_user_id=created_by.id if isinstance(created_by, AppUser) else None,
    )
    db.session.add(invitation)
    db.session.flush()
    if isinstance(created_by, Actor):
        audit(created_by, "invitation.create", invitation, {
            "kind": [None, kind.value], "role": [None, role.value], "dealer_id": [None, dealer_id],
            "store_id": [None, store_id], "max_uses": [None, max_uses],
            "expires_at": [None, invitation.expires_at],
        })
    return invitation


def _check_active(target: Dealer | Store | None, entity: str) -> None:
    if target is None:
        raise NotFound(f"No such {entity}.", code=f"{entity}_not_found")
    if target.status is not Status.ACTIVE:
        raise InvitationTargetInactive(f"The {entity} is inactive.")


def get_invitation(invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise InvitationNotFound()
    return invitation


_INVITATION_FILTERS = Filters(
    falsy_is_any=True,
    kind=lambda value: Invitation.kind == InvitationKind(value),
    dealer_id=lambda value: Invitation.dealer_id == value,
    store_id=lambda value: Invitation.store_id == value,
)


def list_invitations(*, kind=None, dealer_id=None, store_id=None):
    return _INVITATION_FILTERS.apply(sa.select(Invitation).order_by(Invitation.id.desc()), kind=kind,
                                     dealer_id=dealer_id, store_id=store_id)


def revoke_invitation(*, actor: Actor, invitation_id: int) -> Invitation:
    invitation = get_invitation(invitation_id)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        audit(actor, "invitation.revoke", invitation, {"revoked_at": [None, invitation.revoked_at]})
    return invitation


def invitation_wxacode(*, invitation_id: int) -> bytes:
    """The mini-program code image that opens the right mini-program with the invitation as scene."""
    invitation = get_invitation(invitation_id)
    return _wechat(INVITATION_APP[invitation.kind]).get_wxacode_unlimit(invitation.code)


def my_invitation_wxacode(*, user: AppUser, invitation_id: int) -> bytes:
    """The mini-program code of an invitation this user created (a dealer's or a store owner's)."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.created_by_app_user_id != user.id:
        raise InvitationNotFound()
    return invitation_wxacode(invitation_id=invitation.id)


def _usable_invitation(app: AppName, code: str) -> Invitation:
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.code == (code or "").strip().upper()))
    if invitation is None:
        raise InvitationNotFound()
    if INVITATION_APP[invitation.kind] is not app:
        raise InvitationWrongApp()
    if invitation.revoked_at is not None:
        raise InvitationRevoked()
    if invitation.expires_at <= utcnow():
        raise InvitationExpired()
    if invitation.used_count >= invitation.max_uses:
        raise InvitationUsedUp()
    if invitation.dealer_id is not None:
        _check_active(db.session.get(Dealer, invitation.dealer_id), "dealer")
    if invitation.store_id is not None:
        _check_active(db.session.get(Store, invitation.store_id), "store")
    return invitation


def _use(invitation: Invitation) -> None:
    """Take one use of the invitation; of concurrent takers of the last use exactly one wins."""
    taken = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_count < Invitation.max_uses,
               Invitation.revoked_at.is_(None))
        .values(used_count=Invitation.used_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise InvitationUsedUp()


def bind_dealer(*, user: AppUser, code: str) -> DealerMembership:
    """Bind a dealer-app user to the dealer of an invitation, as the invitation's role."""
    invitation = _usable_invitation(AppName(user.app), code)
    current = dealer_membership(user)
    if current is not None:
        raise AlreadyBound("This account is already bound to a dealer.")
    _use(invitation)
    membership = db.session.scalar(sa.select(DealerMembership).where(
        DealerMembership.dealer_id == invitation.dealer_id, DealerMembership.app_user_id == user.id))
    if membership is None:
        membership = DealerMembership(dealer_id=invitation.dealer_id, app_user_id=user.id)
        db.session.add(membership)
    membership.role = invitation.role
    membership.status = MembershipStatus.APPROVED
    membership.invitation_id = invitation.id
    membership.removed_at = None
    db.session.flush()
    return membership


def bind_store(*, user: AppUser, code: str) -> StoreMembership:
    """Bind a clerk-app user to a store: an owner at once, a clerk pending the owner's approval."""
    invitation = _usable_invitation(AppName(user.app), code)
    if store_membership(user) is not None:
        raise AlreadyBound("This account is already bound to a store.")
    _use(invitation)
    membership = db.session.scalar(sa.select(StoreMembership).where(
        StoreMembership.store_id == invitation.store_id, StoreMembership.app_user_id == user.id))
    if membership is None:
        membership = StoreMembership(store_id=invitation.store_id, app_user_id=user.id)
        db.session.add(membership)
    owner = invitation.role is MemberRole.OWNER
    membership.role = invitation.role
    membership.status = MembershipStatus.APPROVED if owner else MembershipStatus.PENDING
    membership.approved_at = utcnow() if owner else None
    membership.invitation_id = invitation.id
    membership.removed_at = None
    db.session.flush()
    return membership


# --- dealer members ---------------------------------------------------------------------------------

def _require_dealer(user: AppUser, *, owner: bool = False) -> DealerMembership:
    membership = dealer_membership(user)
    if membership is None:
        raise NotBound()
    if owner and membership.role is not MemberRole.OWNER:
        raise OwnerOnly()
    return membership


def list_dealer_members(*, dealer_id: int):
    return (sa.select(DealerMembership)
            .where(DealerMembership.dealer_id == dealer_id, DealerMembership.status != MembershipStatus.REMOVED)
            .order_by(DealerMembership.id))


def list_my_dealer_staff(*, user: AppUser):
    """The members of the user's dealer."""
    return list_dealer_members(dealer_id=_require_dealer(user).dealer_id)


def _dealer_member(dealer_id: int, member_id: int) -> DealerMembership:
    membership = db.session.get(DealerMembership, member_id)
    if membership is None or membership.dealer_id != dealer_id or membership.status is MembershipStatus.REMOVED:
        raise MemberNotFound()
    return membership


def _remove(membership) -> None:
    membership.status = MembershipStatus.REMOVED
    membership.removed_at = utcnow()


def remove_dealer_staff(*, user: AppUser, member_id: int) -> DealerMembership:
    """The dealer owner unbinds one of its staff."""
    own = _require_dealer(user, owner=True)
    membership = _dealer_member(own.dealer_id, member_id)
    if membership.role is MemberRole.OWNER:
        raise OwnerCannotBeRemoved()
    _remove(membership)
    return membership


def admin_remove_dealer_member(*, actor: Actor, dealer_id: int, member_id: int) -> DealerMembership:
    """The back office unbinds a dealer's member (staff or owner)."""
    membership = _dealer_member(dealer_id, member_id)
    _remove(membership)
    audit(actor, "dealer_member.remove", membership,
          {"status": [MembershipStatus.APPROVED.value, MembershipStatus.REMOVED.value]})
    return membership


def create_store_owner_invitation(*, user: AppUser, store_id: int) -> Invitation:
    """A dealer owner invites the owner of a store the dealer serves."""
    own = _require_dealer(user, owner=True)
    served = db.session.scalar(sa.select(store_dealers.c.store_id).where(
        store_dealers.c.store_id == store_id, store_dealers.c.dealer_id == own.dealer_id))
    if served is None:
        raise StoreNotFound()
    return create_invitation(created_by=user, kind=InvitationKind.STORE_OWNER, store_id=store_id)


# --- store members ---------------------------------------------------------------------------------

def _require_store_owner(user: AppUser) -> StoreMembership:
    membership = store_membership(user)
    if membership is None or membership.status is not MembershipStatus.APPROVED:
        raise NotBound("Bind this account to a store first.")
    if membership.role is not MemberRole.OWNER:
        raise OwnerOnly()
    return membership


def create_clerk_invitation(*, user: AppUser, max_uses: int = 1, expires_in_days: int = 7) -> Invitation:
    """A store owner invites clerks; they join pending the owner's approval."""
    own = _require_store_owner(user)
    return create_invitation(created_by=user, kind=InvitationKind.STORE_CLERK, store_id=own.store_id,
                             max_uses=max_uses, expires_in_days=expires_in_days)


def list_clerks(*, user: AppUser):
    own = _require_store_owner(user)
    return (sa.select(StoreMembership)
            .where(StoreMembership.store_id == own.store_id, StoreMembership.role == MemberRole.CLERK,
                   StoreMembership.status != MembershipStatus.REMOVED)
            .order_by(StoreMembership.id))


def _clerk(user: AppUser, member_id: int) -> StoreMembership:
    own = _require_store_owner(user)
    membership = db.session.get(StoreMembership, member_id)
    if (membership is None or membership.store_id != own.store_id or membership.role is not MemberRole.CLERK
            or membership.status is MembershipStatus.REMOVED):
        raise MemberNotFound()
    return membership


def approve_clerk(*, user: AppUser, member_id: int) -> StoreMembership:
    membership = _clerk(user, member_id)
    if membership.status is MembershipStatus.PENDING:
        membership.status = MembershipStatus.APPROVED
        membership.approved_at = utcnow()
    return membership


def remove_clerk(*, user: AppUser, member_id: int) -> StoreMembership:
    membership = _clerk(user, member_id)
    _remove(membership)
    return membership
