"""Every date the API documents or sends is ISO 8601: the OpenAPI document, and a sample answer of every
consumer operation walked against it (no HTTP date such as "Thu, 03 Dec 2026 00:00:00 GMT" anywhere).

The consumer operations are sampled from one table, SAMPLES: a new consumer operation fails
`test_every_consumer_operation_has_a_sample` until it adds its entry (one function under `@sample`).
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from app.campaigns import service as campaigns
from app.db import transaction, utcnow
from app.points import ledger, mall
from app.units.models import LocationKind, Unit
from tests.masterdata_factories import (
    ACTOR,
    DONGCHENG,
    HANGZHOU,
    XIHU,
    make_dealer,
    make_factory,
    make_product,
    make_store,
)
from tests.mp_factories import MiniProgramActions
from tests.production_factories import make_production_lot
from tests.unit_factories import commission, serial, set_units

METHODS = ("get", "put", "post", "patch", "delete")
HTTP_DATE = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\b")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# A property (or query parameter) whose name says it holds a moment or a day: a time stamp (`*_at`),
# a day (`date`, `*_date`, `day`, `*_on`), or an end of a range (`from`, `to`, `since`, `until` and their
# `*_from`... forms), or an expiry (`expires*`, `expiry*`).
DATE_NAME = re.compile(r"^(date|day|from|to|since|until)$|_(at|date|on|from|to|since|until)$|^(expires|expiry)")
# Names the rule above takes for a date that are not one, each with why.
NOT_DATES = {
    "expires_in": "seconds a token lives (OAuth's expires_in), a number",
    "expires_in_days": "the days an invitation lives, a number",
    "in_transit_to": "the id of the place goods in transit are going to",
    "doubt_from": "the payout status a payout in doubt came from",
}
# Objects with no declared properties that may reach a consumer, each with why. None so far: every
# consumer answer declares its shape.
FREE_FORM_FOR_CONSUMERS: dict[str, str] = {}


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _branches(spec: dict, schema: dict) -> list[dict]:
    """The schema and, for allOf/anyOf/oneOf, each of its alternatives, resolved."""
    schema = _resolve(spec, schema)
    found = [schema]
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            found += _branches(spec, part)
    return found


def _date_format(spec: dict, schema: dict) -> str | None:
    for branch in _branches(spec, schema):
        if branch.get("format") in ("date", "date-time"):
            return branch["format"]
    return None


def _undated(spec: dict, name: str, schema: dict, where: str) -> list[str]:
    """Complaints when a date-named property or parameter is not a string with a date format."""
    if not DATE_NAME.search(name) or name in NOT_DATES:
        return []
    branches = _branches(spec, schema)
    if any(b.get("type") == "string" and b.get("format") in ("date", "date-time") for b in branches):
        return []
    shown = {k: v for k, v in _resolve(spec, schema).items() if k in ("type", "format", "$ref")}
    return [f"{where}: {shown or 'no type'}"]


def _walk_schema(spec: dict, schema: dict, where: str, seen: set, on_object) -> list[str]:
    """Walk a schema (every property, item and alternative, through $refs once each) for undated dates."""
    problems = []
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen = seen | {schema["$ref"]}
    for branch in _branches(spec, schema):
        on_object(branch, where)
        for name, prop in (branch.get("properties") or {}).items():
            problems += _undated(spec, name, prop, f"{where}.{name}")
            problems += _walk_schema(spec, prop, f"{where}.{name}", seen, on_object)
        for key in ("items", "additionalProperties"):
            if isinstance(branch.get(key), dict):
                problems += _walk_schema(spec, branch[key], f"{where}[]", seen, on_object)
    return problems


def _operations(spec: dict, prefix: str = "/"):
    for path, item in spec["paths"].items():
        if path.startswith(prefix):
            for method in METHODS:
                if method in item:
                    yield method.upper(), path, item[method]


def _response_schemas(operation: dict):
    for status, response in operation.get("responses", {}).items():
        for media in (response.get("content") or {}).values():
            if "schema" in media:
                yield status, media["schema"]


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def test_every_date_in_the_openapi_document_is_an_iso_string(spec):
    problems = []
    for name, schema in spec["components"]["schemas"].items():
        problems += _walk_schema(spec, schema, name, set(), lambda *_: None)
    for method, path, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            where = f"{method} {path} ?{parameter['name']}"
            problems += _undated(spec, parameter["name"], parameter.get("schema", {}), where)
        body = operation.get("requestBody", {}).get("content", {})
        for media in body.values():
            problems += _walk_schema(spec, media.get("schema", {}), f"{method} {path} body", set(), lambda *_: None)
        for status, schema in _response_schemas(operation):
            problems += _walk_schema(spec, schema, f"{method} {path} {status}", set(), lambda *_: None)
    assert sorted(set(problems)) == []


def test_consumer_answers_declare_their_shape(spec):
    """A free object hides what it holds from the docs (a production date in one went out as an HTTP date)."""
    free = []

    def note_free(schema, where):
        if set(schema) == {"type", "nullable"}:
            return  # apispec's "or null" beside the $ref of a nullable nested schema
        if schema.get("type") == "object" and not schema.get("properties") and \
                schema.get("additionalProperties", {}) in ({}, True):
            free.append(where)

    for method, path, operation in _operations(spec, "/api/consumer/"):
        for status, schema in _response_schemas(operation):
            if not status.startswith("2"):
                continue  # error bodies: app/errors.py's {code, status, message, errors}
            _walk_schema(spec, schema, f"{method} {path} {status}", set(), note_free)
    assert sorted(set(free) - set(FREE_FORM_FOR_CONSUMERS)) == []


def test_the_date_name_rule_reads_names_as_meant():
    dates = ["created_at", "date", "day", "production_date", "starts_on", "from", "to", "since", "until",
             "locked_until", "produced_from", "period_to", "expires_at", "expiry_date"]
    others = ["to_dealer_id", "items_shipped_to_stores", "total", "dated", "status", "from_city", "by_day"]
    assert [n for n in dates if not DATE_NAME.search(n)] == []
    assert [n for n in others if DATE_NAME.search(n)] == []


# --- a sample answer of every consumer operation -----------------------------------------------

@dataclass
class World:
    """A consumer with a scan, a cash draw, a gift to ship, points and a mall order; and the ids to call."""

    client: object
    mp: MiniProgramActions
    headers: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)

    def call(self, method: str, url: str, **kwargs):
        kwargs.setdefault("headers", self.headers)
        return self.client.open(url, method=method, **kwargs)


SAMPLES: dict[tuple[str, str], object] = {}


def sample(method: str, path: str):
    """Register the call that gives a successful answer of `method path` in the world."""
    def register(fn):
        SAMPLES[method, path] = fn
        return fn
    return register


CONSUMER = "/api/consumer"
ADDRESS = {"name": "林", "phone": "13800138000", "region_code": DONGCHENG, "detail": "王府井大街 1 号"}


@sample("POST", f"{CONSUMER}/auth/login")
def _login(w):
    return w.mp.login("consumer")


@sample("POST", f"{CONSUMER}/auth/refresh")
def _refresh(w):
    _, body = w.mp.sign_in("consumer")
    return w.call("POST", f"{CONSUMER}/auth/refresh", json={"refresh_token": body["refresh_token"]}, headers={})


@sample("POST", f"{CONSUMER}/auth/logout")
def _logout(w):
    headers, _ = w.mp.sign_in("consumer")
    return w.call("POST", f"{CONSUMER}/auth/logout", headers=headers)


@sample("POST", f"{CONSUMER}/auth/phone")
def _phone(w):
    headers, _ = w.mp.sign_in("consumer")
    phone = f"139{secrets.randbelow(10**8):08d}"  # the sandbox takes each phone code once per process
    return w.call("POST", f"{CONSUMER}/auth/phone", json={"code": f"sandbox-phone:{phone}"}, headers=headers)


@sample("GET", f"{CONSUMER}/me")
def _me(w):
    return w.call("GET", f"{CONSUMER}/me")


@sample("PATCH", f"{CONSUMER}/me")
def _update_me(w):
    return w.call("PATCH", f"{CONSUMER}/me", json={"nickname": "林"})


@sample("POST", f"{CONSUMER}/scans")
def _scan(w):
    return w.call("POST", f"{CONSUMER}/scans", json={"code": w.ids["rescanned_code"]})


@sample("POST", f"{CONSUMER}/scans/{{scan_id}}/hidden-code")
def _hidden_code(w):
    return w.call("POST", f"{CONSUMER}/scans/{w.ids['hidden_scan']}/hidden-code",
                  json={"hidden_code": w.ids["hidden_right"]})


@sample("GET", f"{CONSUMER}/scans")
def _my_scans(w):
    return w.call("GET", f"{CONSUMER}/scans")


@sample("POST", f"{CONSUMER}/scans/{{scan_id}}/claim")
def _claim(w):
    return w.call("POST", f"{CONSUMER}/scans/{w.ids['cash_scan']}/claim", json={})  # again: 200, the same draw


@sample("GET", f"{CONSUMER}/draws")
def _draws(w):
    return w.call("GET", f"{CONSUMER}/draws")


@sample("GET", f"{CONSUMER}/draws/{{draw_id}}")
def _draw(w):
    return w.call("GET", f"{CONSUMER}/draws/{w.ids['cash_draw']}")


@sample("GET", f"{CONSUMER}/points")
def _points(w):
    return w.call("GET", f"{CONSUMER}/points")


@sample("GET", f"{CONSUMER}/points/ledger")
def _ledger(w):
    return w.call("GET", f"{CONSUMER}/points/ledger")


@sample("GET", f"{CONSUMER}/points/mall/items")
def _mall_items(w):
    return w.call("GET", f"{CONSUMER}/points/mall/items")


@sample("POST", f"{CONSUMER}/points/mall/orders")
def _order(w):
    return w.call("POST", f"{CONSUMER}/points/mall/orders",
                  json={"item_id": w.ids["mall_item"], "request_id": "order-1", "address": ADDRESS})


@sample("GET", f"{CONSUMER}/points/mall/orders")
def _orders(w):
    return w.call("GET", f"{CONSUMER}/points/mall/orders")


@sample("GET", f"{CONSUMER}/points/mall/orders/{{order_id}}")
def _one_order(w):
    return w.call("GET", f"{CONSUMER}/points/mall/orders/{w.ids['mall_order']}")


@sample("GET", f"{CONSUMER}/me/summary")
def _summary(w):
    return w.call("GET", f"{CONSUMER}/me/summary")


@sample("GET", f"{CONSUMER}/me/prizes")
def _prizes(w):
    return w.call("GET", f"{CONSUMER}/me/prizes")


@sample("GET", f"{CONSUMER}/me/payouts")
def _payouts(w):
    return w.call("GET", f"{CONSUMER}/me/payouts")


@sample("GET", f"{CONSUMER}/me/redemptions")
def _redemptions(w):
    return w.call("GET", f"{CONSUMER}/me/redemptions")


@sample("GET", f"{CONSUMER}/me/redemptions/{{redemption_id}}")
def _redemption(w):
    return w.call("GET", f"{CONSUMER}/me/redemptions/{w.ids['gift']}")


@sample("PUT", f"{CONSUMER}/me/redemptions/{{redemption_id}}/address")
def _address(w):
    return w.call("PUT", f"{CONSUMER}/me/redemptions/{w.ids['gift']}/address", json=ADDRESS)


@sample("GET", f"{CONSUMER}/payouts/{{payout_id}}")
def _payout(w):
    return w.call("GET", f"{CONSUMER}/payouts/{w.ids['payout']}")


def _campaign(name: str, prize: dict) -> int:
    now = datetime.now(UTC)
    with transaction():
        created = campaigns.create_campaign(actor=ACTOR, data={
            "name": name, "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=1),
            "total_budget_fen": 10_000, "first_scan_only": True,
            "prizes": [{"probability_ppm": 1_000_000, **prize}]})
    with transaction():
        return campaigns.change_status(actor=ACTOR, campaign_id=created.id, action="activate").id


@pytest.fixture
def world(client, hidden):
    """A bottle made in Hangzhou and sold at a store there, scanned twice; a cash draw and a gift won;
    points earned and spent in the mall."""
    product = make_product(name="Jasmine Tea", specification="250 g")
    lot = make_production_lot(product_id=product.id, factory_id=make_factory(region_code=XIHU).id,
                              production_date=date(2026, 12, 3), expiry_date=date(2027, 12, 3))
    codes = commission(lot, 3)
    dealer, shop = make_dealer(territory=[HANGZHOU]), make_store(name="West Lake Mart", region_code=XIHU)
    with transaction():
        set_units(Unit.serial == serial(codes[0]), last_dealer_id=dealer.id, location_kind=LocationKind.CONSUMER,
                  location_id=shop.id)
    w = World(client=client, mp=MiniProgramActions(client))
    w.headers, login = w.mp.sign_in("consumer")
    w.ids["rescanned_code"] = codes[0]
    w.ids["hidden_scan"] = w.call("POST", f"{CONSUMER}/scans", json={"code": hidden["code"]}).json["scan_id"]
    w.ids["hidden_right"] = hidden["right"]
    cash, gift = _campaign("Spring", {"kind": "cash", "name": "Red packet", "amount": 88}), \
        _campaign("Gifts", {"kind": "gift", "name": "Tea set", "amount": 0, "stock": 5})
    for code, campaign, name in ((codes[0], cash, "cash"), (codes[1], gift, "gift")):
        scan_id = w.call("POST", f"{CONSUMER}/scans", json={"code": code}).json["scan_id"]
        claimed = w.call("POST", f"{CONSUMER}/scans/{scan_id}/claim", json={"campaign_id": campaign})
        assert claimed.status_code == 201 and claimed.json["outcome"] == "won", claimed.json
        w.ids[f"{name}_scan"], w.ids[f"{name}_draw"] = scan_id, claimed.json["draw_id"]
    w.ids["payout"] = w.call("GET", f"{CONSUMER}/draws/{w.ids['cash_draw']}").json["payout_id"]
    w.ids["gift"] = w.call("GET", f"{CONSUMER}/me/prizes").json[0]["redemption_id"]
    with transaction():
        ledger.earn(app_user_id=login["user"]["id"], points=500, source="tests:welcome",
                    now=utcnow() - timedelta(days=340))
        w.ids["mall_item"] = mall.create_item(actor=ACTOR, data={
            "name": "Tea cup", "kind": "physical", "points_price": 100, "stock": 5}).id
    w.ids["mall_order"] = w.call("POST", f"{CONSUMER}/points/mall/orders", json={
        "item_id": w.ids["mall_item"], "request_id": "order-0", "address": ADDRESS}).json["id"]
    return w


def test_every_consumer_operation_has_a_sample(spec):
    documented = {(method, path) for method, path, _ in _operations(spec, f"{CONSUMER}/")}
    assert {"missing samples": sorted(documented - set(SAMPLES)), "stale samples": sorted(set(SAMPLES) - documented)
            } == {"missing samples": [], "stale samples": []}


def _check_answer(spec: dict, body, schema: dict, where: str, dates: list) -> list[str]:
    """Walk an answer beside its documented schema: documented dates parse as ISO, no HTTP date anywhere."""
    problems = []
    if isinstance(body, str):
        if HTTP_DATE.search(body):
            problems.append(f"{where}: HTTP date {body!r}")
        kind = _date_format(spec, schema) if schema else None
        if kind == "date":
            if not ISO_DATE.match(body):
                problems.append(f"{where}: not an ISO date {body!r}")
            else:
                date.fromisoformat(body)
                dates.append(where)
        elif kind == "date-time":
            try:
                moment = datetime.fromisoformat(body)
            except ValueError:
                problems.append(f"{where}: not an ISO date-time {body!r}")
            else:
                if moment.utcoffset() is None:
                    problems.append(f"{where}: a date-time without its offset {body!r}")
                dates.append(where)
    elif isinstance(body, dict):
        branches = _branches(spec, schema) if schema else []
        properties = {k: v for b in branches for k, v in (b.get("properties") or {}).items()}
        for key, value in body.items():
            problems += _check_answer(spec, value, properties.get(key), f"{where}.{key}", dates)
    elif isinstance(body, list):
        items = next((b["items"] for b in _branches(spec, schema) if "items" in b), None) if schema else None
        for i, value in enumerate(body):
            problems += _check_answer(spec, value, items, f"{where}[{i}]", dates)
    return problems


def test_a_sample_answer_of_every_consumer_operation_has_iso_dates_only(spec, world):
    operations = {(method, path): operation for method, path, operation in _operations(spec, f"{CONSUMER}/")}
    problems, dates = [], []
    for (method, path), call in SAMPLES.items():
        response = call(world)
        where = f"{method} {path}"
        assert response.status_code < 400, (where, response.status_code, response.get_json())
        if HTTP_DATE.search(response.get_data(as_text=True)):
            problems.append(f"{where}: an HTTP date in {response.get_data(as_text=True)[:300]}")
        if not response.get_data():
            continue  # 204: nothing to walk
        documented = operations.get((method, path), {}).get("responses", {}).get(str(response.status_code), {})
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        assert schema is not None, f"{where}: answered {response.status_code}, which the document does not describe"
        problems += _check_answer(spec, response.get_json(), schema, where, dates)
    assert problems == []
    # The walk saw the dates it is about: the story's production date above all (it went out as an HTTP date).
    assert f"POST {CONSUMER}/scans.story.made.date" in dates
    assert {f"POST {CONSUMER}/scans.lot.production_date", f"POST {CONSUMER}/scans.scans.first_at",
            f"GET {CONSUMER}/points.expiring_first_at"} <= set(dates)


def test_the_scan_story_dates_the_bottle_by_its_iso_production_day(world):
    story = world.call("POST", f"{CONSUMER}/scans", json={"code": world.ids["rescanned_code"]}).json["story"]
    assert story["made"] == {"city": "杭州市", "date": "2026-12-03"}
    assert story["store"] == {"name": "West Lake Mart", "city": "杭州市", "sold": True}


def test_the_apps_json_writes_dates_as_the_schemas_do_never_as_http_dates(app):
    """A date outside a schema field (in a dict a schema passes through) is ISO too, like a Date/DateTime field's."""
    import marshmallow as ma

    day, moment = date(2026, 12, 3), datetime(2026, 12, 3, 8, 30, 15, 250_000, tzinfo=UTC)
    fields = {"day": ma.fields.Date(), "moment": ma.fields.DateTime()}
    by_schema = ma.Schema.from_dict(fields)().dump({"day": day, "moment": moment})
    assert app.json.loads(app.json.dumps({"day": day, "moment": moment})) == by_schema == {
        "day": "2026-12-03", "moment": "2026-12-03T08:30:15.250000+00:00"}
    assert app.json.dumps(datetime(2026, 12, 3, 8, 30)) == '"2026-12-03T08:30:00+00:00"'  # naive: UTC, as stored
    assert app.json.dumps({"name": "杭州市"}) == '{"name": "杭州市"}'  # Chinese stays readable
    with pytest.raises(TypeError):
        app.json.dumps({"not json": object()})  # everything else as Flask has it
