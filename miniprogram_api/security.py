"""Who calls a mini-program view: a user of that mini-program, holding a token issued for it.

Authenticated by default, as in app.http: each audience blueprint installs `authenticate(app)`
as its before_request, and a view that declares neither `@audience(app)` nor `@public` is refused.
"""
from __future__ import annotations

from flask import g, request

from app import idempotency
from app.accounts import service as accounts
from app.accounts.models import AppName, AppUser
from app.errors import Forbidden
from app.http import add_to_operation_doc, bearer_token, declared_on_view


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


def authenticate(app: AppName):
    """A before_request hook: a valid token of this mini-program, on a view declared for it."""
    def hook():
        if request.endpoint is None or request.method == "OPTIONS" or declared_on_view("_public"):
            return None
        g.app_user = accounts.authenticate(token=bearer_token(), app=app)
        if _role(app) not in (declared_on_view("_allowed_roles") or ()):
            raise Forbidden("This view is not open to this mini-program.", code="audience_forbidden")
        return idempotency.begin(principal=f"app_user:{g.app_user.id}")
    return hook


def current_app_user() -> AppUser:
    return g.app_user
