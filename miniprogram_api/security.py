"""Who calls a mini-program view: a user of that mini-program, holding a token issued for it.

Authenticated by default, as in app.http: each audience blueprint installs `authenticate(app)`
as its before_request, and a view that declares neither `@audience(app)` nor `@public` is refused.
"""
from __future__ import annotations

import functools

from flask import g, request

from app import idempotency
from app.accounts import logins, tokens
from app.accounts.models import AppName, AppUser
from app.errors import Forbidden
from app.http import add_to_operation_doc, bearer_token, view_function


def _role(app: AppName) -> str:
    return f"miniprogram:{app.value}"


def audience(app: AppName):
    """Users of this mini-program may call the view (ownership is checked by the service)."""
    def decorate(fn):
        # The mini-program a user signed in to is their role, in app.http's sense.
        fn._allowed_roles = frozenset({_role(app)})
        add_to_operation_doc(fn, security=[{"bearerAuth": []}], **{"x-audience": app.value})
        return fn
    return decorate


def revocation_checked_by_view(fn):
    """The view checks its token's revocation in its own Redis call (``token_check()``), so the hook checks
    only the token's signature, expiry and audience: no database read. For one hot view (the consumer
    scan); its user is then a ``tokens.Holder`` (id, openid, app), not a row. A token of the older form
    is checked against the database as everywhere else."""
    fn._revocation_checked_by_view = True
    return fn


def authenticate(app: AppName):
    """A before_request hook: a valid token of this mini-program, on a view declared for it."""
    def hook():
        if request.endpoint is None or request.method == "OPTIONS":
            return None
        view = view_function()  # looked up once: what the decorators declared on it
        if getattr(view, "_public", False):
            return None
        token = bearer_token()
        claims = tokens.verify(token) if getattr(view, "_revocation_checked_by_view", False) else None
        if claims is not None:
            logins.check_claims(claims, app=app)
            g.app_user = tokens.Holder(claims.user_id, claims.openid, app)
            g.token_check = tokens.Check(claims.key, functools.partial(logins.confirm, token=token, app=app))
        else:
            g.app_user, g.token_check = logins.authenticate(token=token, app=app), None
        if _role(app) not in (getattr(view, "_allowed_roles", None) or ()):
            raise Forbidden("This view is not open to this mini-program.", code="audience_forbidden")
        return idempotency.begin(principal=f"app_user:{g.app_user.id}")
    return hook


def current_app_user() -> AppUser:
    return g.app_user


def token_check() -> tokens.Check | None:
    """The token's revocation, for the view to check (None: the hook checked it against the database)."""
    return g.get("token_check")
