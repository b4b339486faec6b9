"""Mini-program logins and their tokens: login, refresh, logout, and the checks of a bearer token.

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
from app.accounts.errors import (
    AccountDisabled, RefreshTokenReused, TokenAudienceMismatch, TokenExpired, TokenInvalid, TooManyLogins,
)
from app.accounts.models import AccessToken, AppName, AppUser, AppUserStatus, Person, RefreshToken
from app.db import utcnow
from app.extensions import db, redis
from app.platform import ratelimit
from app.platform.settings import setting
from app.wechat import miniprogram


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _wechat(app: AppName) -> miniprogram.MiniProgramClient:
    return miniprogram.client(app.value)


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
