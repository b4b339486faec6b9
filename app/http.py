"""What every HTTP layer shares: JSON, who is calling, role and scope checks, paging over a select.

Authenticated by default: each audience blueprint installs an authenticating before_request
hook, and a view that declares neither its roles (``@roles``) nor its scopes (``@scopes``) nor
``@public`` is refused — forgetting a check fails closed.
"""
from __future__ import annotations

import functools
from copy import deepcopy
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask import Flask, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Page
from flask_smorest.utils import deepupdate
from webargs.flaskparser import abort as webargs_abort

from app import idempotency
from app.db import retrying
from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.identity import service as identity
from app.identity.models import Role
from app.identity.scope import DataScope, NationalScopeRequired, scope_of


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with every date and time in ISO 8601, as the schemas' Date and DateTime fields write them.

    Flask's own default writes a date it meets outside a schema field (in a dict a schema passes through)
    as an HTTP date, "Thu, 03 Dec 2026 00:00:00 GMT"; the API documents ISO dates only.
    """

    ensure_ascii = False  # Chinese names stay readable in responses

    @staticmethod
    def default(o):
        if isinstance(o, datetime):  # before date: a datetime is a date
            return (o if o.tzinfo is not None else o.replace(tzinfo=UTC)).isoformat()  # naive times are UTC here
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def add_to_operation_doc(fn, **doc) -> None:
    """Add to the view's OpenAPI operation, as flask-smorest's ``blp.doc`` does."""
    apidoc = deepcopy(getattr(fn, "_apidoc", {}))
    apidoc["manual_doc"] = deepupdate(apidoc.get("manual_doc", {}), doc)
    fn._apidoc = apidoc


def roles(*allowed: Role):
    """Back-office roles allowed to call this view."""
    def decorate(fn):
        fn._allowed_roles = frozenset(allowed)
        add_to_operation_doc(fn, security=[{"bearerAuth": []}], **{"x-roles": [r.value for r in allowed]})
        return fn
    return decorate


def scopes(*needed: str):
    """API-key scopes this machine-API view needs (any one of them)."""
    def decorate(fn):
        fn._needed_scopes = frozenset(str(getattr(s, "value", s)) for s in needed)
        add_to_operation_doc(fn, security=[{"apiKey": []}], **{"x-scopes": sorted(fn._needed_scopes)})
        return fn
    return decorate


def public(fn):
    """This view is public by design: no authentication."""
    fn._public = True
    add_to_operation_doc(fn, security=[])
    return fn


def own_credential(what: str):
    """This view checks a credential of its own (``what``), not a user's token or an API key."""
    def decorate(fn):
        fn._own_credential = what
        return fn
    return decorate


def _data_scope(stance: str, reason: str | None = None):
    def decorate(fn):
        fn._data_scope = stance
        add_to_operation_doc(fn, **{"x-data-scope": stance, **({"x-data-scope-reason": reason} if reason else {})})
        return fn
    return decorate


def regional(fn):
    """This view honours the caller's data scope itself (its service takes ``scope=current_scope()``)."""
    return _data_scope("regional")(fn)


def not_regional(reason: str):
    """This view's rows have no region (say why): every user sees them, whatever their data scope."""
    return _data_scope("not_regional", reason)


def national_only(reason: str):
    """Rows this view can't split by region (say why): a user limited to regions gets 403."""
    return _data_scope("national_only", reason)


ALL_ROLES = tuple(Role)
WRITERS_OF_MASTER_DATA = (Role.ADMIN, Role.OPS)


def view_function():
    """The function that answers this request (a MethodView's method), or None."""
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, request.method.lower(), None)
    return view


def declared_on_view(name: str, default=None):
    """An attribute the decorators above set on the view of this request (roles, scopes, public)."""
    fn = view_function()
    return getattr(fn, name, default) if fn is not None else default


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate_back_office():
    """before_request of back-office blueprints: a valid bearer token and an allowed role."""
    if request.endpoint is None or request.method == "OPTIONS" or declared_on_view("_public"):
        return None
    actor = identity.authenticate_token(bearer_token())
    g.actor = actor
    allowed = declared_on_view("_allowed_roles")
    if not allowed or actor.role not in allowed:
        raise Forbidden(f"The role {actor.role.value!r} may not do this.", code="role_forbidden")
    # Fail closed: a view that does not say how it honours data scopes is for national users only.
    if actor.regions and declared_on_view("_data_scope") not in ("regional", "not_regional"):
        raise NationalScopeRequired()
    return idempotency.begin(principal=f"user:{actor.id}")


def authenticate_machine():
    """before_request of machine-API blueprints: a valid API key holding the view's scope."""
    if request.endpoint is None or request.method == "OPTIONS" or declared_on_view("_public"):
        return None
    actor = identity.authenticate_api_key(request.headers.get("X-Api-Key"))
    g.actor = actor
    needed = declared_on_view("_needed_scopes")
    if not needed or not (needed & actor.scopes):
        raise Forbidden(
            f"This API key lacks the scope {', '.join(sorted(needed or {'?'}))}.",
            code="scope_forbidden",
        )
    return idempotency.begin(principal=f"api_key:{actor.id}")


def forbid_storing(response):
    """after_request of the app: no cache keeps an API answer.

    Every operation answers one caller, and many answer with a credential (a token, an API key, a
    webhook secret, an invitation code, a WeChat Pay package); one rule for all of them cannot be
    forgotten on the next. Pages outside the API (the docs) are left alone.
    """
    view = view_function()
    if view is not None and hasattr(view, "_apidoc") and not getattr(view, "_cacheable", False):
        response.headers["Cache-Control"] = "no-store"
    return response


def cacheable(fn):
    """This public view's answer may be cached as it says (static files: the console's build)."""
    fn._cacheable = True
    return fn


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def body_documented(blp, schema, **kwargs):
    """Document a JSON body as ``blp.arguments(schema)`` would, for a view that decodes its body itself
    (one hot view, with a precompiled decoder): nothing is parsed here. The view must refuse what the
    schema refuses, with the same errors (``parse_body`` is the schema's own parse for that)."""
    def decorate(fn):
        documented = blp.arguments(schema, **kwargs)(lambda *a, **k: None)
        fn._apidoc = {**getattr(fn, "_apidoc", {}), "arguments": documented._apidoc["arguments"]}
        return fn
    return decorate


def parse_body(blp, schema) -> dict:
    """The JSON body parsed by the schema exactly as ``blp.arguments`` parses it (its 422 on bad input)."""
    try:
        return blp.ARGUMENTS_PARSER.parse(schema, location="json")
    except ValueError:  # not a JSONDecodeError (webargs' 400): an integer past Python's 4,300 digits
        webargs_abort(400, messages={"json": ["Invalid JSON body."]})


def retry_writes(app: Flask) -> None:
    """Every write endpoint runs its use case again when the database rolled it back (app.db.retrying).

    One mechanism for all, at the route: the whole view (arguments, use case, response) reruns in a
    fresh transaction, so a deadlock or a restart of the database is a short delay, not a 500. Nothing
    has been sent yet when it reruns (the response goes out once the view returns), and a view whose
    commit had begun is not run again. Views have no retry loops of their own.
    """
    for rule in app.url_map.iter_rules():
        if rule.methods & WRITE_METHODS and not getattr(app.view_functions[rule.endpoint], "_retried", False):
            app.view_functions[rule.endpoint] = _retried(app.view_functions[rule.endpoint])


def _retried(view):
    @functools.wraps(view)  # keeps what the decorators above set on it (roles, scopes, view_class)
    def run(*args, **kwargs):
        if request.method not in WRITE_METHODS:
            return view(*args, **kwargs)
        return retrying(lambda: view(*args, **kwargs))
    run._retried = True
    return run


def current_actor() -> identity.Actor:
    return g.actor


def current_scope() -> DataScope:
    """The data scope of this request's user (app.identity.scope)."""
    return scope_of(g.actor)


# Where a request asked for a file keeps its exporter: the environ lives as long as the request (g lives
# as long as an app context, which tests share between requests).
LIST_EXPORTER = "matong.list_exporter"


SORT = "sort"  # every paginated list's sort parameter: ?sort=name or ?sort=-name (descending)


class SortInvalid(ValidationFailed):
    code = "sort_invalid"


def sortable_columns(select: sa.Select) -> dict:
    """The columns a list may be sorted by: of a select of rows, every column it selects; of a select of
    entities, the entity's columns that lead an index (its key, a unique or plain index), so a sort
    never scans and sorts a large table."""
    described = select.column_descriptions
    entity = described[0].get("entity") if len(described) == 1 else None
    if entity is None or described[0].get("expr") is not entity:
        return {column.key: column for column in select.selected_columns if column.key}
    table = sa.inspect(entity).local_table
    leading = {index.columns[0].key for index in (*table.indexes, *(
        c for c in table.constraints if isinstance(c, (sa.PrimaryKeyConstraint, sa.UniqueConstraint)))) if index.columns}
    leading |= {column.key for column in table.columns if column.index or column.unique}
    mapper = sa.inspect(entity)
    return {prop.key: getattr(entity, prop.key) for prop in mapper.column_attrs
            if len(prop.columns) == 1 and prop.columns[0].table is table and prop.columns[0].key in leading}


def sorted_by_request(select: sa.Select) -> sa.Select:
    """The list's select ordered by ``?sort=`` first, its own order after (ties, and stable pages)."""
    asked = request.args.get(SORT)
    if not asked:
        return select
    name = asked.removeprefix("-")
    columns = sortable_columns(select)
    if name not in columns:
        raise SortInvalid(f"This list cannot be sorted by {name!r}; it sorts by {', '.join(sorted(columns)) or 'nothing'} "
                          f"(prefix '-' for descending).", errors={SORT: [f"one of {', '.join(sorted(columns))}"]})
    column = columns[name]
    return select.order_by(None).order_by(column.desc() if asked.startswith("-") else column.asc(),
                                          *select._order_by_clauses)


class SelectPage(Page):
    """flask-smorest pagination over a SQLAlchemy select (count + offset/limit), sorted by ``?sort=``.

    A back-office list asked for as a file (``?format=xlsx|csv``) finds an exporter in the request's
    environ under LIST_EXPORTER (app.exports.web): the pager hands itself to it, the whole select rather
    than a page, and answers with what it returns.
    """

    def __init__(self, collection, page_params):
        super().__init__(sorted_by_request(collection), page_params)

    # Past this offset there is nothing to page (and the number would overflow the database's).
    MAX_OFFSET = 2**62
    # What the select yields: ORM entities (SelectPage) or rows of labelled columns (RowPage).
    entities = True

    @property
    def items(self):
        exporter = request.environ.get(LIST_EXPORTER)
        if exporter is not None:
            return exporter.answer(self)
        params = self.page_params
        if params.first_item >= self.MAX_OFFSET:
            return []
        page = self.collection.offset(params.first_item).limit(params.page_size)
        return self.present(db.session.scalars(page).all() if self.entities else db.session.execute(page).all())

    def present(self, items: list) -> list:
        """What the response schema dumps, made of items of the select (a subclass may turn them into rows)."""
        return items

    @property
    def item_count(self):
        subquery = self.collection.order_by(None).subquery()
        return db.session.scalar(sa.select(sa.func.count()).select_from(subquery))


class RowPage(SelectPage):
    """Paging over a select of labelled columns (rows, not entities)."""

    entities = False


class ListingPage(RowPage):
    """Paging over a listing: ``select`` (rows to page) and ``finish`` (a page of rows -> the answers),
    so what a row needs beside its figures (names, other tables' sums) is looked up for one page only
    (an export finishes each chunk it reads the same way)."""

    def __init__(self, collection, page_params):
        self.listing = collection
        super().__init__(collection.select, page_params)

    def present(self, items: list) -> list:
        return self.listing.finish(items)
