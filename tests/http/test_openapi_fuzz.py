"""Fuzz every documented operation from the OpenAPI document: bad input is a 4xx, never a 500.

schemathesis generates requests (valid and invalid) from /openapi.json for each operation and
sends them through the WSGI app: as an admin with an API key of every scope, and as a user of each
mini-program on that mini-program's endpoints. Endpoints that
end the caller's own session (logout, user and key changes) are left out so the run keeps its
credentials; they have tests of their own.
"""
import json
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from app.identity.models import Scope
from tests import channel_factories as cf
from tests.factories import AuthActions
from tests.masterdata_factories import make_dealer
from tests.mp_factories import MiniProgramActions, make_invitation

EXAMPLES_PER_OPERATION = 12


MINIPROGRAMS = ("dealer", "clerk", "consumer")


def _operations(app, path_regex):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    schema = schema.include(path_regex=path_regex).exclude(path_regex=r"/users|logout|revoke")
    return [result.ok() for result in schema.get_all_operations()]


def _credentials(app, audience):
    client = app.test_client()
    if audience in MINIPROGRAMS:
        headers, _ = MiniProgramActions(client).sign_in(audience)
        return headers
    actions = AuthActions(client)
    return {**actions.as_admin(), **actions.key_headers(*(s.value for s in Scope))}


@pytest.mark.parametrize("audience", ["back office and machines", *MINIPROGRAMS])
def test_no_operation_answers_500(app, audience):
    path_regex = rf"^/api/{audience}/" if audience in MINIPROGRAMS else r"^/(?!api/(dealer|clerk|consumer)/)"
    headers = _credentials(app, audience)
    operations = _operations(app, path_regex)
    assert len(operations) >= 5
    failures = []

    for operation in operations:
        strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | \
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

        # Derandomized, so CI's gate is the same every run; FUZZ_RANDOM=1 explores new inputs.
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  derandomize=not os.environ.get("FUZZ_RANDOM"), suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def fuzz(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                f"{response.text[:300]}")

        fuzz()
    assert failures == []


# --- hostile inputs, every operation ------------------------------------------------------------

HOSTILE_STRING = "\ud800"  # sent as the JSON escape "\ud800": legal JSON, not text
DEEP_JSON = "[" * 100_000 + "]" * 100_000


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _sample(spec, schema, *, text, number, depth=0):
    """A value of the schema's shape whose strings are `text` (codes: "!") and whose numbers are `number`."""
    schema = _resolve(spec, schema)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if depth > 6:
        return None
    if kind == "object":
        return {name: ("!" if "code" in name and text != HOSTILE_STRING else
                       _sample(spec, field, text=text, number=number, depth=depth + 1))
                for name, field in schema.get("properties", {}).items()}
    if kind == "array":
        return [_sample(spec, schema.get("items", {}), text=text, number=number, depth=depth + 1)]
    if kind in ("integer", "number"):
        return number
    if kind == "boolean":
        return True
    return text


def _hostile_requests(spec, path, method, operation):
    """(what, query, body) of each hostile request for one operation."""
    query_names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    yield "fractional and '!' query", {n: ("!" if "code" in n else "1.5") for n in query_names}, None
    if schema is None:
        return
    for what, text, number in (("lone surrogate", HOSTILE_STRING, 1), ("fractional number, '!' codes", "!", 100.5)):
        yield what, {}, json.dumps(_sample(spec, schema, text=text, number=number))
    yield "deep JSON", {}, DEEP_JSON


def test_hostile_inputs_on_every_operation_are_4xx(app, auth):
    """Every operation of /openapi.json, each with the inputs that once crashed some: no 500 anywhere.

    A body with a lone surrogate is invalid_text and a deep one json_too_deep wherever a JSON body is
    taken; the line upload, which decodes its body itself, answers 422 invalid_records to both.
    """
    client = app.test_client()
    spec = client.get("/openapi.json").get_json()
    mp = MiniProgramActions(client)
    store = cf.make_store_of(make_dealer().id)
    headers = {
        "dealer": cf.dealer_owner(mp)[1],
        "clerk": mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code),
        "consumer": mp.sign_in("consumer")[0],
        None: {**auth.as_admin(), **auth.key_headers(*(s.value for s in Scope))},
    }
    failures, sent = [], 0
    for path, operations in spec["paths"].items():
        if re.search(r"/users|logout|revoke", path):
            continue  # they end the run's own credentials; they have tests of their own
        audience = next((a for a in MINIPROGRAMS if path.startswith(f"/api/{a}/")), None)
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for what, query, body in _hostile_requests(spec, path, method, operation):
                response = client.open(url, method=method.upper(), query_string=query, data=body,
                                       headers={**headers[audience], "Content-Type": "application/json"})
                sent += 1
                code = (response.get_json(silent=True) or {}).get("code")
                if response.status_code >= 500:
                    failures.append(f"{method.upper()} {path} ({what}): {response.status_code} {code}")
                elif what == "deep JSON" or what == "lone surrogate" and "\\ud800" in body:
                    expected = ("invalid_records",) if path.endswith("/records") else ("invalid_text", "json_too_deep")
                    if code not in expected and response.status_code != 413:
                        failures.append(f"{method.upper()} {path} ({what}): {response.status_code} {code}")
    assert sent > 400
    assert failures == [], "\n".join(failures)
